// SPDX-License-Identifier: MIT
/*
 * A hostile party scribbles random bytes over a ring's indices, descriptors,
 * wake flag and slots while an honest producer and consumer use it. Under
 * ASan/UBSan nothing may fault; every frame handed out must lie inside the
 * ring's slot area with valid metadata; neither side may write outside its
 * ring; errors are counted; and once the scribbling stops, a resync brings
 * clean traffic back.
 *
 * usage: test_fuzz [iterations] [seed]
 */
#include "testlib.h"

#define SIZE (1ULL << 22)

struct fuzz {
	struct ivnet_layout l;
	uint8_t *base;
	uint8_t *ring; /* start of ring 0 -> 1 */
	uint8_t *ring_end;
	struct ivnet_ring tx, rx;
	uint64_t seed;
	uint64_t frames_out;
};

static void random_meta(struct fuzz *z, struct ivnet_meta *m, uint32_t len)
{
	memset(m, 0, sizeof(*m));
	if (t_rand(&z->seed) & 1) {
		m->flags = IVNET_DESC_F_CSUM_PARTIAL;
		m->csum_start = (uint16_t)(len > 60 ? 34 : 0);
		m->csum_offset = 6;
	}
	if (len > 1000 && (t_rand(&z->seed) & 1)) {
		m->gso_type = IVNET_GSO_TCPV4;
		m->gso_size = 1448;
		m->hdr_len = 54;
	}
}

static void honest_send(struct fuzz *z)
{
	uint32_t n = t_rand_range(&z->seed, 1, 16), i;

	for (i = 0; i < n; i++) {
		uint32_t len = t_rand_range(&z->seed, 14, i & 3 ? 2000 : z->l.max_frame);
		struct ivnet_meta m;
		uint8_t *d;

		random_meta(z, &m, len);
		d = ivnet_tx_reserve(&z->tx, len, &m);
		if (!d)
			break;
		CHECK(d >= z->tx.slots);
		CHECK(d + len <= z->tx.slots + (size_t)z->l.slot_count * z->l.slot_size);
		memset(d, (int)len, len);
	}
	ivnet_tx_publish(&z->tx);
	(void)ivnet_tx_need_notify(&z->tx);
}

static void honest_receive(struct fuzz *z)
{
	uint32_t n = t_rand_range(&z->seed, 1, 32), i;
	const uint8_t *lo = z->rx.slots;
	const uint8_t *hi = lo + (size_t)z->l.slot_count * z->l.slot_size;
	struct ivnet_rx_frame f;

	for (i = 0; i < n && ivnet_rx_peek(&z->rx, &f); i++) {
		struct ivnet_desc d = {.len = f.len,
				       .flags = f.meta.flags,
				       .gso_type = f.meta.gso_type,
				       .gso_size = f.meta.gso_size,
				       .hdr_len = f.meta.hdr_len,
				       .csum_start = f.meta.csum_start,
				       .csum_offset = f.meta.csum_offset};
		volatile uint8_t sink;

		CHECK(f.data >= lo && f.data + f.len <= hi);
		CHECK(f.len >= IVNET_FRAME_MIN && f.len <= z->l.max_frame);
		CHECK(ivnet_meta_valid(&d));
		/* touch the first and last byte, as a real receiver would */
		sink = f.data[0];
		sink = f.data[f.len - 1];
		(void)sink;
		ivnet_rx_consume(&z->rx);
		z->frames_out++;
	}
	ivnet_rx_release(&z->rx);
	if (t_rand(&z->seed) % 8 == 0)
		(void)ivnet_rx_arm(&z->rx);
}

static void scribble(struct fuzz *z)
{
	struct ivnet_ring_ctrl *c = z->rx.ctrl;
	uint64_t r = t_rand(&z->seed);
	uint32_t v = (uint32_t)t_rand(&z->seed);

	switch (r % 8) {
	case 0: /* head somewhere random, or just past a valid value */
		c->prod.head = (r & 256) ? v : c->prod.head + (v % (2 * z->l.slot_count));
		break;
	case 1:
		c->cons.tail = (r & 256) ? v : c->cons.tail - (v % (2 * z->l.slot_count));
		break;
	case 2:
		c->wake.armed = v;
		break;
	case 3: { /* one descriptor field */
		struct ivnet_desc *d = &z->rx.desc[v & z->rx.mask];

		switch ((r >> 8) % 5) {
		case 0:
			d->len = (r & 512) ? (uint32_t)t_rand(&z->seed) : d->len ^ (1u << (v % 20));
			break;
		case 1:
			d->flags = (uint16_t)t_rand(&z->seed);
			break;
		case 2:
			d->gso_type = (uint8_t)t_rand(&z->seed);
			break;
		case 3:
			d->csum_start = (uint16_t)t_rand(&z->seed);
			break;
		default:
			d->hdr_len = (uint16_t)t_rand(&z->seed);
			break;
		}
		break;
	}
	case 4: { /* a run of random bytes over the descriptor array */
		uint8_t *p = (uint8_t *)z->rx.desc;
		size_t span = z->l.slot_count * sizeof(struct ivnet_desc);
		size_t off = v % span, n = t_rand_range(&z->seed, 1, 64), i;

		for (i = 0; i < n && off + i < span; i++)
			p[off + i] = (uint8_t)t_rand(&z->seed);
		break;
	}
	case 5: /* bytes in slots: harmless to bounds, must not matter */
		z->rx.slots[v % ((size_t)z->l.slot_count * z->l.slot_size)] = (uint8_t)r;
		break;
	default: /* quiet: let honest traffic flow for a while */
		break;
	}
}

static uint64_t hash_outside_ring(const struct fuzz *z)
{
	uint64_t h = 1469598103934665603ULL;
	const uint8_t *p;

	for (p = z->base; p < z->base + SIZE; p++) {
		if (p == z->ring)
			p = z->ring_end;
		if (p >= z->base + SIZE)
			break;
		h = (h ^ *p) * 1099511628211ULL;
	}
	return h;
}

static void recover(struct fuzz *z)
{
	uint64_t seq;
	struct ivnet_rx_frame f;

	CHECK_EQ(ivnet_ring_attach_tx(&z->tx, z->base, &z->l, 0, 1), 0);
	CHECK_EQ(ivnet_ring_attach_rx(&z->rx, z->base, &z->l, 0, 1), 0);
	for (seq = 0; seq < 1000; seq++) {
		uint32_t len = 14 + (uint32_t)(seq * 97 % 5000);
		uint8_t *d = ivnet_tx_reserve(&z->tx, len, NULL);

		CHECK(d);
		t_fill(d, len, seq);
		ivnet_tx_publish(&z->tx);
		CHECK(ivnet_rx_peek(&z->rx, &f));
		CHECK_EQ(f.len, len);
		CHECK_EQ(t_verify(f.data, f.len, seq), -1);
		ivnet_rx_consume(&z->rx);
		ivnet_rx_release(&z->rx);
	}
	CHECK_EQ(z->rx.stats.bad_desc + z->rx.stats.bad_index + z->rx.stats.resync, 0);
}

int main(int argc, char **argv)
{
	uint64_t iters = argc > 1 ? strtoull(argv[1], NULL, 0) : 400000, i;
	struct fuzz z = {.seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x1badcafe};
	struct ivnet_layout_params p = {.region_size = SIZE, .max_peers = 3, .max_slots = 128};
	struct ivnet_ring_stats rs, ts;
	uint64_t before;

	CHECK_EQ(ivnet_layout_compute(&p, &z.l), 0);
	z.base = aligned_alloc(IVNET_PAGE, SIZE);
	CHECK(z.base);
	memset(z.base, 0, SIZE);
	ivnet_layout_format(z.base, &z.l, "fuzz", 3);
	z.ring = z.base + ivnet_ring_offset(&z.l, 0, 1);
	z.ring_end = z.ring + z.l.ring_stride;
	CHECK_EQ(ivnet_ring_attach_tx(&z.tx, z.base, &z.l, 0, 1), 0);
	CHECK_EQ(ivnet_ring_attach_rx(&z.rx, z.base, &z.l, 0, 1), 0);
	before = hash_outside_ring(&z);

	for (i = 0; i < iters; i++) {
		switch (t_rand(&z.seed) % 3) {
		case 0:
			honest_send(&z);
			break;
		case 1:
			honest_receive(&z);
			break;
		default:
			scribble(&z);
			break;
		}
	}
	rs = z.rx.stats;
	ts = z.tx.stats;
	printf("test_fuzz: %" PRIu64 " iterations, %" PRIu64 " frames out; consumer: %" PRIu64
	       " bad index, %" PRIu64 " bad desc, %" PRIu64 " resync; producer: %" PRIu64
	       " bad index, %" PRIu64 " full\n",
	       iters, z.frames_out, rs.bad_index, rs.bad_desc, rs.resync, ts.bad_index, ts.full);
	CHECK_EQ(hash_outside_ring(&z), before);
	CHECK(z.frames_out > iters / 10);
	CHECK(rs.bad_index > 0 && rs.bad_desc > 0 && rs.resync > 0);
	CHECK(ts.bad_index > 0);

	recover(&z);
	CHECK_EQ(hash_outside_ring(&z), before);
	free(z.base);
	printf("test_fuzz: ok\n");
	return 0;
}

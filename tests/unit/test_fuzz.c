// SPDX-License-Identifier: MIT
/*
 * A hostile party scribbles random bytes over a ring's indices, descriptors,
 * wake flag and slots while an honest producer and consumer use it. Under
 * ASan/UBSan nothing may fault; every frame handed out must lie inside the
 * ring's slot area with valid metadata; neither side may write outside its
 * ring; errors are counted; and once the scribbling stops, clean traffic
 * comes back by itself, without either side re-attaching. Indices start
 * just below 2^32, so they wrap during the run. A second phase does the
 * same with producer, consumer and scribbler on three threads, so that
 * values change between reads.
 *
 * usage: test_fuzz [iterations] [seed]
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

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
		/* TSO as Linux sends it: checksum partial in the TCP header */
		m->flags = IVNET_DESC_F_CSUM_PARTIAL;
		m->csum_start = 34;
		m->csum_offset = 16;
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
		CHECK(__ivnet_ring_meta_valid(&d));
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

/*
 * Scribbling has stopped: without re-attaching, frames must flow again and
 * end with an unbroken run of sequence numbers, every byte checked.
 */
static void heal(struct fuzz *z)
{
	uint64_t seq = 1000000, expect = 0, run = 0, round;
	struct ivnet_rx_frame f;

	for (round = 0; round < 20000 && run < 2000; round++) {
		uint32_t len = 14 + (uint32_t)(seq * 97 % 3000);
		uint8_t *d = ivnet_tx_reserve(&z->tx, len, NULL);

		if (d) {
			t_fill(d, len, seq++);
			ivnet_tx_publish(&z->tx);
		}
		while (ivnet_rx_peek(&z->rx, &f)) {
			uint64_t got;

			CHECK(f.len >= 8);
			memcpy(&got, f.data, 8);
			/* stale frames from before may still pass by; ours must be
			 * intact and in order once they start */
			if (got >= 1000000 && got < seq) {
				CHECK_EQ(t_verify(f.data, f.len, got), -1);
				run = got == expect ? run + 1 : 1;
				expect = got + 1;
			}
			ivnet_rx_consume(&z->rx);
		}
		ivnet_rx_release(&z->rx);
		if (!d)
			(void)ivnet_rx_arm(&z->rx); /* the idle consumer re-publishes */
	}
	if (run < 2000) {
		fprintf(stderr, "ring did not heal: run of %" PRIu64 " after %" PRIu64 " rounds\n",
			run, round);
		exit(1);
	}
}

struct threaded {
	struct fuzz *z;
	volatile int stop_scribble;
	volatile int stop;
	uint64_t received;
};

static void *t_producer(void *arg)
{
	struct threaded *t = arg;
	uint64_t seq = 0;

	while (!t->stop) {
		uint32_t len = 14 + (uint32_t)(seq * 131 % 4000);
		uint8_t *d = ivnet_tx_reserve(&t->z->tx, len, NULL);

		if (d) {
			t_fill(d, len, seq++);
			ivnet_tx_publish(&t->z->tx);
		}
	}
	return NULL;
}

static void *t_scribbler(void *arg)
{
	struct threaded *t = arg;
	uint64_t seed = 99;

	while (!t->stop_scribble) {
		uint32_t i;

		for (i = 0; i < 64; i++) {
			uint64_t r = t_rand(&seed);
			struct ivnet_desc *d = &t->z->rx.desc[r & t->z->rx.mask];

			switch ((r >> 32) % 4) {
			case 0:
				__atomic_store_n(&d->len, (uint32_t)(r >> 8), __ATOMIC_RELAXED);
				break;
			case 1:
				__atomic_store_n(&d->flags, (uint16_t)(r >> 40), __ATOMIC_RELAXED);
				break;
			case 2:
				__atomic_store_n(&t->z->rx.ctrl->prod.head, (uint32_t)(r >> 16),
						 __ATOMIC_RELAXED);
				break;
			default:
				__atomic_store_n(&t->z->rx.ctrl->cons.tail, (uint32_t)(r >> 16),
						 __ATOMIC_RELAXED);
				break;
			}
		}
		usleep(50);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Three threads: values change between reads. */
static void threaded_phase(struct fuzz *z)
{
	const uint8_t *lo = z->rx.slots;
	const uint8_t *hi = lo + (size_t)z->l.slot_count * z->l.slot_size;
	struct threaded t = {.z = z};
	pthread_t prod, scrib;
	struct ivnet_rx_frame f;
	uint64_t i, expect = 0, run = 0;

	CHECK_EQ(pthread_create(&prod, NULL, t_producer, &t), 0);
	CHECK_EQ(pthread_create(&scrib, NULL, t_scribbler, &t), 0);
	double t0 = now_s();
	int healing = 0;

	for (i = 0; now_s() - t0 < 5.0; i++) {
		if (!healing && now_s() - t0 > 0.3) {
			t.stop_scribble = 1;
			CHECK_EQ(pthread_join(scrib, NULL), 0);
			healing = 1;
		}
		while (ivnet_rx_peek(&z->rx, &f)) {
			CHECK(f.data >= lo && f.data + f.len <= hi);
			CHECK(f.len >= IVNET_FRAME_MIN && f.len <= z->l.max_frame);
			if (healing) {
				uint64_t got;

				memcpy(&got, f.data, 8);
				if (t_verify(f.data, f.len, got) == -1) {
					run = got == expect ? run + 1 : 1;
					expect = got + 1;
				}
			}
			ivnet_rx_consume(&z->rx);
			t.received++;
		}
		ivnet_rx_release(&z->rx);
		if (i % 64 == 0)
			(void)ivnet_rx_arm(&z->rx);
		if (run > 5000)
			break;
	}
	t.stop = 1;
	CHECK_EQ(pthread_join(prod, NULL), 0);
	if (!t.stop_scribble) {
		t.stop_scribble = 1;
		CHECK_EQ(pthread_join(scrib, NULL), 0);
	}
	printf("test_fuzz: threaded: %" PRIu64 " frames received, final clean run %" PRIu64 "\n",
	       t.received, run);
	CHECK(run > 5000);
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
	/* start just below the 32-bit wrap */
	((struct ivnet_ring_ctrl *)z.ring)->prod.head = 0xffffff00u;
	((struct ivnet_ring_ctrl *)z.ring)->cons.tail = 0xffffff00u;
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

	heal(&z);
	CHECK_EQ(hash_outside_ring(&z), before);
	threaded_phase(&z);
	CHECK_EQ(hash_outside_ring(&z), before);
	recover(&z);
	CHECK_EQ(hash_outside_ring(&z), before);
	free(z.base);
	printf("test_fuzz: ok\n");
	return 0;
}

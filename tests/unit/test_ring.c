// SPDX-License-Identifier: MIT
/*
 * Ring semantics, single-threaded: empty and full rings, wrap-around with
 * every frame checked, bursts of 1..N, largest frames with their offload
 * metadata and the rules for it, copy-free receive, attach/resync rules,
 * notification suppression, and receive work bounded under a flood of
 * invalid frames.
 */
#include "testlib.h"

#define SIZE (1ULL << 22)

struct pair {
	struct ivnet_layout l;
	void *base;
	struct ivnet_ring tx, rx;
};

static void pair_open(struct pair *p, uint32_t max_slots)
{
	struct ivnet_layout_params prm = {
		.region_size = SIZE, .max_peers = 2, .max_slots = max_slots};

	CHECK_EQ(ivnet_layout_compute(&prm, &p->l), 0);
	p->base = aligned_alloc(IVNET_PAGE, SIZE);
	CHECK(p->base);
	memset(p->base, 0x5a, SIZE);
	ivnet_layout_format(p->base, &p->l, "ring", 7);
	CHECK_EQ(ivnet_ring_attach_tx(&p->tx, p->base, &p->l, 0, 1), 0);
	CHECK_EQ(ivnet_ring_attach_rx(&p->rx, p->base, &p->l, 0, 1), 0);
}

static void pair_close(struct pair *p)
{
	free(p->base);
}

static int send_seq(struct ivnet_ring *r, uint32_t len, uint64_t seq)
{
	struct ivnet_meta m = {0};
	uint8_t *d = ivnet_tx_reserve(r, len, &m);

	if (!d)
		return 0;
	t_fill(d, len, seq);
	return 1;
}

static void expect_seq(struct ivnet_ring *r, uint32_t len, uint64_t seq)
{
	struct ivnet_rx_frame f;
	long bad;

	CHECK(ivnet_rx_peek(r, &f));
	CHECK_EQ(f.len, len);
	bad = t_verify(f.data, f.len, seq);
	if (bad >= 0) {
		fprintf(stderr, "frame %" PRIu64 " len %u: byte %ld differs\n", seq, len, bad);
		exit(1);
	}
	ivnet_rx_consume(r);
}

static void test_empty(void)
{
	struct pair p;
	struct ivnet_rx_frame f;

	pair_open(&p, 0);
	CHECK_EQ(ivnet_rx_avail(&p.rx), 0);
	CHECK(!ivnet_rx_peek(&p.rx, &f));
	/* reserved but unpublished frames are invisible */
	CHECK(send_seq(&p.tx, 100, 1));
	CHECK(!ivnet_rx_peek(&p.rx, &f));
	ivnet_tx_publish(&p.tx);
	expect_seq(&p.rx, 100, 1);
	CHECK(!ivnet_rx_peek(&p.rx, &f));
	ivnet_rx_release(&p.rx);
	CHECK_EQ(p.rx.stats.bad_desc + p.rx.stats.bad_index, 0);
	pair_close(&p);
}

/*
 * ivnet_rx_pending(), the busy-poll hint: says whether a frame is there
 * without changing the consumer's view (the spin that calls it stores
 * nothing), and an empty ivnet_rx_peek() or ivnet_rx_avail() leaves the
 * view as it was. A scribbled head makes it say yes; what it then hands
 * to ivnet_rx_avail() is judged there, as any head is.
 */
static void test_pending(void)
{
	struct pair p;
	struct ivnet_ring before;
	struct ivnet_rx_frame f;

	pair_open(&p, 0);
	before = p.rx;
	CHECK(!ivnet_rx_pending(&p.rx));
	CHECK(!ivnet_rx_peek(&p.rx, &f));
	CHECK_EQ(ivnet_rx_avail(&p.rx), 0);
	CHECK(memcmp(&before, &p.rx, sizeof(before)) == 0);
	/* reserved, not published: nothing yet */
	CHECK(send_seq(&p.tx, 64, 1));
	CHECK(send_seq(&p.tx, 64, 2));
	CHECK(!ivnet_rx_pending(&p.rx));
	ivnet_tx_publish(&p.tx);
	before = p.rx;
	CHECK(ivnet_rx_pending(&p.rx));
	CHECK(memcmp(&before, &p.rx, sizeof(before)) == 0);
	/* one of two taken: the second is still pending, from the view alone */
	expect_seq(&p.rx, 64, 1);
	CHECK(ivnet_rx_pending(&p.rx));
	expect_seq(&p.rx, 64, 2);
	ivnet_rx_release(&p.rx);
	CHECK(!ivnet_rx_pending(&p.rx));
	before = p.rx;
	CHECK(!ivnet_rx_peek(&p.rx, &f));
	CHECK(memcmp(&before, &p.rx, sizeof(before)) == 0);
	/* a scribbled head: a yes from the hint, a no (counted) from avail */
	p.rx.ctrl->prod.head = p.rx.tail + p.l.slot_count + 9;
	CHECK(ivnet_rx_pending(&p.rx));
	CHECK_EQ(ivnet_rx_avail(&p.rx), 0);
	CHECK_EQ(p.rx.stats.bad_index, 1);
	/* the producer publishes again: healed */
	CHECK(send_seq(&p.tx, 64, 3));
	ivnet_tx_publish(&p.tx);
	CHECK(ivnet_rx_pending(&p.rx));
	expect_seq(&p.rx, 64, 3);
	pair_close(&p);
}

static void test_bad_lengths(void)
{
	struct pair p;

	pair_open(&p, 0);
	CHECK(ivnet_tx_reserve(&p.tx, 0, NULL) == NULL);
	CHECK(ivnet_tx_reserve(&p.tx, IVNET_FRAME_MIN - 1, NULL) == NULL);
	CHECK(ivnet_tx_reserve(&p.tx, p.l.max_frame + 1, NULL) == NULL);
	CHECK(ivnet_tx_reserve(&p.tx, p.l.max_frame, NULL) != NULL);
	pair_close(&p);
}

/* Fill to the brim: exactly as many frames as slots allow, then refusal. */
static void test_full(void)
{
	struct pair p;
	uint32_t len, n, i, per;

	for (len = 64; len <= 8192; len *= 4) {
		pair_open(&p, 256);
		per = ivnet_frame_slots(len, p.l.slot_size);
		for (n = 0; send_seq(&p.tx, len, n); n++)
			;
		CHECK_EQ(n, p.l.slot_count / per);
		CHECK_EQ(p.tx.stats.full, 1);
		ivnet_tx_publish(&p.tx);
		/* consuming without release frees nothing */
		expect_seq(&p.rx, len, 0);
		CHECK(!send_seq(&p.tx, len, n));
		ivnet_rx_release(&p.rx);
		CHECK(send_seq(&p.tx, len, n));
		ivnet_tx_publish(&p.tx);
		for (i = 1; i <= n; i++)
			expect_seq(&p.rx, len, i);
		ivnet_rx_release(&p.rx);
		CHECK_EQ(ivnet_rx_avail(&p.rx), 0);
		pair_close(&p);
	}
}

/*
 * ivnet_tx_has_room: true while the producer's own view has the room, then
 * only once the consumer has released enough; a tail that goes back gives
 * no room (and is counted).
 */
static void test_has_room(void)
{
	struct pair p;
	uint32_t n, need;

	pair_open(&p, 256);
	need = 2 * ivnet_frame_slots(p.l.max_frame, p.l.slot_size) - 1;
	CHECK(ivnet_tx_has_room(&p.tx, p.l.slot_count));
	CHECK(!ivnet_tx_has_room(&p.tx, p.l.slot_count + 1));
	for (n = 0; ivnet_tx_has_room(&p.tx, need); n++)
		CHECK(send_seq(&p.tx, 64, n));
	CHECK_EQ(n, p.l.slot_count - need + 1);
	CHECK_EQ(p.tx.stats.full, 0);
	ivnet_tx_publish(&p.tx);
	expect_seq(&p.rx, 64, 0);
	ivnet_rx_release(&p.rx);
	CHECK(ivnet_tx_has_room(&p.tx, need));
	/* the consumer's tail goes back by one: refused, no room */
	p.rx.ctrl->cons.tail--;
	CHECK(!ivnet_tx_has_room(&p.tx, need + 1));
	CHECK_EQ(p.tx.stats.bad_index, 1);
	pair_close(&p);
}

/*
 * Many times round a small ring with sizes that rarely divide its length,
 * so frames often need padding to the wrap; every byte is checked.
 */
static void test_wrap(void)
{
	struct pair p;
	uint64_t seed = 42, sent = 0, got = 0;
	uint32_t lens[4096];
	uint32_t laps_before;

	pair_open(&p, 128);
	laps_before = p.tx.head;
	while (got < 20000) {
		uint32_t burst = t_rand_range(&seed, 1, 40), i;

		for (i = 0; i < burst; i++) {
			uint32_t len = t_rand_range(&seed, 14, i % 7 ? 3000 : p.l.max_frame);

			if (!send_seq(&p.tx, len, sent))
				break;
			lens[sent % 4096] = len;
			sent++;
		}
		ivnet_tx_publish(&p.tx);
		burst = t_rand_range(&seed, 1, 40);
		for (i = 0; i < burst && got < sent; i++, got++)
			expect_seq(&p.rx, lens[got % 4096], got);
		ivnet_rx_release(&p.rx);
	}
	/* went round many times, and never saw a bad descriptor */
	CHECK((p.tx.head - laps_before) / p.l.slot_count > 100);
	CHECK_EQ(p.rx.stats.bad_desc + p.rx.stats.bad_index + p.rx.stats.resync, 0);
	CHECK_EQ(p.tx.stats.bad_index, 0);
	pair_close(&p);
}

/* ivnet_tx_burst / ivnet_rx_burst for every burst size 1..N. */
static void test_bursts(void)
{
	enum { N = 64, LEN = 1500 };
	static uint8_t in[N][LEN], out[N][LEN];
	struct ivnet_frame f[N];
	struct ivnet_rx_buf b[N];
	struct pair p;
	uint64_t seq = 0, rseq = 0;
	uint32_t n, i;

	pair_open(&p, 0);
	for (n = 1; n <= N; n++) {
		for (i = 0; i < n; i++) {
			uint32_t len = 14 + (uint32_t)((seq * 37) % (LEN - 14));

			t_fill(in[i], len, seq++);
			f[i] = (struct ivnet_frame){.data = in[i], .len = len};
			b[i] = (struct ivnet_rx_buf){.data = out[i], .cap = LEN};
		}
		CHECK_EQ(ivnet_tx_burst(&p.tx, f, n), n);
		CHECK_EQ(p.tx.pub, p.tx.head); /* one publish for the burst */
		CHECK_EQ(ivnet_rx_burst(&p.rx, b, n), n);
		for (i = 0; i < n; i++, rseq++) {
			CHECK_EQ(b[i].len, f[i].len);
			CHECK_EQ(t_verify(out[i], b[i].len, rseq), -1);
		}
		/* nothing more */
		CHECK_EQ(ivnet_rx_burst(&p.rx, b, n), 0);
	}
	/* a receive buffer too small for the frame: dropped and counted, the
	 * next frame takes its buffer (the dropped one still costs one of the
	 * burst's n descriptors, see ivnet_rx_peek_budget()) */
	t_fill(in[0], LEN, 1);
	f[0] = (struct ivnet_frame){.data = in[0], .len = LEN};
	t_fill(in[1], 100, 2);
	f[1] = (struct ivnet_frame){.data = in[1], .len = 100};
	CHECK_EQ(ivnet_tx_burst(&p.tx, f, 2), 2);
	b[0] = (struct ivnet_rx_buf){.data = out[0], .cap = LEN - 1};
	b[1] = (struct ivnet_rx_buf){.data = out[1], .cap = LEN};
	CHECK_EQ(ivnet_rx_burst(&p.rx, b, 2), 1);
	CHECK_EQ(b[0].len, 100);
	CHECK_EQ(p.rx.stats.too_big, 1);
	pair_close(&p);
}

/* A 64 KiB TCP super-packet crosses whole, with its offload metadata. */
static void test_gso_frame(void)
{
	struct ivnet_meta m = {
		.flags = IVNET_DESC_F_CSUM_PARTIAL,
		.gso_type = IVNET_GSO_TCPV6 | IVNET_GSO_ECN,
		.gso_size = 1440,
		.hdr_len = 14 + 40 + 32,
		.csum_start = 14 + 40,
		.csum_offset = 16,
	};
	struct ivnet_rx_frame f;
	struct pair p;
	uint8_t *d;

	pair_open(&p, 0);
	d = ivnet_tx_reserve(&p.tx, p.l.max_frame, &m);
	CHECK(d);
	t_fill(d, p.l.max_frame, 9);
	ivnet_tx_publish(&p.tx);
	CHECK(ivnet_rx_peek(&p.rx, &f));
	CHECK_EQ(f.len, IVNET_FRAME_MAX);
	CHECK_EQ(t_verify(f.data, f.len, 9), -1);
	CHECK_EQ(f.meta.flags, m.flags);
	CHECK_EQ(f.meta.gso_type, m.gso_type);
	CHECK_EQ(f.meta.gso_size, m.gso_size);
	CHECK_EQ(f.meta.hdr_len, m.hdr_len);
	CHECK_EQ(f.meta.csum_start, m.csum_start);
	CHECK_EQ(f.meta.csum_offset, m.csum_offset);
	/* the frame is one contiguous run inside the ring's slot area */
	CHECK(f.data >= p.rx.slots);
	CHECK(f.data + f.len <= p.rx.slots + (size_t)p.l.slot_count * p.l.slot_size);
	ivnet_rx_consume(&p.rx);
	ivnet_rx_release(&p.rx);
	pair_close(&p);
}

/* Metadata a receiver cannot honour is dropped; the next frame arrives. */
static void test_bad_meta(void)
{
	static const struct ivnet_meta bad[] = {
		{.flags = IVNET_DESC_F_CSUM_PARTIAL, .csum_start = 90, .csum_offset = 9},
		{.flags = 1u << 9},
		{.gso_type = IVNET_GSO_TCPV4}, /* no gso_size */
		{.gso_type = 2, .gso_size = 100},
		{.gso_type = IVNET_GSO_ECN},
		{.hdr_len = 101},
	};
	struct pair p;
	size_t i;

	pair_open(&p, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *d = ivnet_tx_reserve(&p.tx, 100, &bad[i]);

		CHECK(d);
		t_fill(d, 100, 1000 + i);
		CHECK(send_seq(&p.tx, 60, i));
		ivnet_tx_publish(&p.tx);
		expect_seq(&p.rx, 60, i);
		CHECK_EQ(p.rx.stats.bad_desc, i + 1);
	}
	ivnet_rx_release(&p.rx);
	pair_close(&p);
}

/*
 * A producer that keeps the ring full of invalid 1-slot frames (refilled as
 * soon as the consumer frees slots): a bounded receive call looks at no more
 * descriptors than its budget, valid or not, and delivers nothing.
 */
static void test_invalid_flood(void)
{
	enum { N = 8, ROUNDS = 200 };
	static uint8_t out[N][IVNET_FRAME_MIN + 64];
	const struct ivnet_meta poison = {.flags = 1u << 9};
	struct ivnet_rx_buf b[N];
	struct pair p;
	uint32_t i, round;

	pair_open(&p, 128);
	for (i = 0; i < N; i++)
		b[i] = (struct ivnet_rx_buf){.data = out[i], .cap = sizeof(out[i])};
	for (round = 0; round < ROUNDS; round++) {
		uint64_t before = p.rx.stats.bad_desc;
		uint8_t *d;

		while ((d = ivnet_tx_reserve(&p.tx, IVNET_FRAME_MIN + 32, &poison)))
			memset(d, 0xee, IVNET_FRAME_MIN + 32);
		ivnet_tx_publish(&p.tx);
		CHECK_EQ(ivnet_rx_burst(&p.rx, b, N), 0);
		CHECK(p.rx.stats.bad_desc - before >= 1);
		if (p.rx.stats.bad_desc - before > N) {
			fprintf(stderr,
				"round %u: a burst of %u looked at %" PRIu64
				" invalid descriptors\n",
				round, N, p.rx.stats.bad_desc - before);
			exit(1);
		}
	}
	pair_close(&p);
}

/*
 * ivnet_rx_peek_budget() charges every descriptor it looks at: invalid
 * ones, a PAD, and the frame it returns; an empty ring costs nothing.
 */
static void test_peek_budget(void)
{
	enum { INVALID = 40, BUDGET = 16 };
	const struct ivnet_meta poison = {.flags = 1u << 9};
	struct ivnet_rx_frame f;
	struct pair p;
	uint32_t budget = BUDGET, i, calls = 0;

	pair_open(&p, 128);
	CHECK(!ivnet_rx_peek_budget(&p.rx, &f, &budget));
	CHECK_EQ(budget, BUDGET);
	for (i = 0; i < INVALID; i++)
		CHECK(ivnet_tx_reserve(&p.tx, IVNET_FRAME_MIN, &poison));
	CHECK(send_seq(&p.tx, 100, 7));
	ivnet_tx_publish(&p.tx);
	/* 40 invalid, then the frame: two spent budgets, then 8 + 1 of 16 */
	for (;;) {
		budget = BUDGET;
		calls++;
		if (ivnet_rx_peek_budget(&p.rx, &f, &budget))
			break;
		CHECK_EQ(budget, 0);
		CHECK(calls < 3);
	}
	CHECK_EQ(calls, 3);
	CHECK_EQ(budget, BUDGET - (INVALID - 2 * BUDGET) - 1);
	CHECK_EQ(f.len, 100);
	CHECK_EQ(t_verify(f.data, f.len, 7), -1);
	ivnet_rx_consume(&p.rx);
	ivnet_rx_release(&p.rx);
	CHECK_EQ(p.rx.stats.bad_desc, INVALID);
	/* a frame that does not fit before the end goes after a PAD: two */
	while (p.tx.head % p.l.slot_count != p.l.slot_count - 1)
		CHECK(send_seq(&p.tx, IVNET_FRAME_MIN, 0));
	ivnet_tx_publish(&p.tx);
	while (ivnet_rx_peek(&p.rx, &f))
		ivnet_rx_consume(&p.rx);
	ivnet_rx_release(&p.rx);
	CHECK(send_seq(&p.tx, p.l.slot_size + 1, 8));
	ivnet_tx_publish(&p.tx);
	budget = 1;
	CHECK(!ivnet_rx_peek_budget(&p.rx, &f, &budget)); /* the PAD */
	CHECK_EQ(budget, 0);
	budget = BUDGET;
	CHECK(ivnet_rx_peek_budget(&p.rx, &f, &budget));
	CHECK_EQ(budget, BUDGET - 1);
	CHECK_EQ(f.len, p.l.slot_size + 1);
	ivnet_rx_consume(&p.rx);
	ivnet_rx_release(&p.rx);
	pair_close(&p);
}

/* One table row: a frame of len bytes with meta m, valid or not. */
struct meta_case {
	uint32_t len;
	struct ivnet_meta m;
	int valid;
	const char *what;
};

#define TCP_CSUM .flags = IVNET_DESC_F_CSUM_PARTIAL, .csum_start = 34, .csum_offset = 16
#define UDP_CSUM .flags = IVNET_DESC_F_CSUM_PARTIAL, .csum_start = 34, .csum_offset = 6

static const struct meta_case meta_cases[] = {
	/* what ivnet's transmit produces (virtio_net_hdr_from_skb) */
	{1514, {0}, 1, "no offloads"},
	{1514, {TCP_CSUM}, 1, "checksum partial"},
	{1514, {.flags = IVNET_DESC_F_CSUM_VALID}, 1, "checksum valid"},
	{65000, {TCP_CSUM, .gso_type = IVNET_GSO_TCPV4, .gso_size = 1448}, 1, "TSO"},
	{65000,
	 {TCP_CSUM, .gso_type = IVNET_GSO_TCPV6 | IVNET_GSO_ECN, .gso_size = 1428},
	 1,
	 "TSO6 with ECN"},
	{65000,
	 {TCP_CSUM, .gso_type = IVNET_GSO_TCPV4, .gso_size = IVNET_GSO_MIN_SIZE},
	 1,
	 "TSO at the smallest segment size"},
	{60000, {UDP_CSUM, .gso_type = IVNET_GSO_UDP_L4, .gso_size = 1400}, 1, "UDP GSO"},
	/* what it does not, and virtio_net refuses or should */
	{1514,
	 {.flags = IVNET_DESC_F_CSUM_PARTIAL | IVNET_DESC_F_CSUM_VALID,
	  .csum_start = 34,
	  .csum_offset = 16},
	 0,
	 "checksum partial and valid"},
	{65000, {.gso_type = IVNET_GSO_TCPV4, .gso_size = 1448}, 0, "GSO without checksum partial"},
	{65000,
	 {.flags = IVNET_DESC_F_CSUM_VALID, .gso_type = IVNET_GSO_TCPV4, .gso_size = 1448},
	 0,
	 "GSO with checksum valid"},
	{65000, {TCP_CSUM, .gso_type = IVNET_GSO_TCPV4, .gso_size = 1}, 0, "gso_size 1"},
	{65000,
	 {TCP_CSUM, .gso_type = IVNET_GSO_TCPV6, .gso_size = IVNET_GSO_MIN_SIZE - 1},
	 0,
	 "gso_size below the minimum"},
	{65000,
	 {UDP_CSUM, .gso_type = IVNET_GSO_UDP_L4 | IVNET_GSO_ECN, .gso_size = 1400},
	 0,
	 "ECN on UDP"},
	{65000,
	 {UDP_CSUM, .gso_type = IVNET_GSO_TCPV4, .gso_size = 1448},
	 0,
	 "TSO with a checksum offset not TCP's"},
	{60000,
	 {TCP_CSUM, .gso_type = IVNET_GSO_UDP_L4, .gso_size = 1400},
	 0,
	 "UDP GSO with a checksum offset not UDP's"},
	{60000,
	 {UDP_CSUM, .gso_type = IVNET_GSO_UDP_L4, .gso_size = 100},
	 0,
	 "UDP GSO of more segments than Linux sends"},
	{1514, {TCP_CSUM, .gso_type = 2, .gso_size = 1448}, 0, "an unknown GSO type"},
};

/* Each metadata rule, on the ring's check and through a ring. */
static void test_meta_rules(void)
{
	struct pair p;
	size_t i;
	int wrong = 0;

	pair_open(&p, 0);
	for (i = 0; i < sizeof(meta_cases) / sizeof(meta_cases[0]); i++) {
		const struct meta_case *c = &meta_cases[i];
		struct ivnet_rx_frame f;
		uint8_t *d = ivnet_tx_reserve(&p.tx, c->len, &c->m);
		int got;

		CHECK(d);
		t_fill(d, c->len, i);
		ivnet_tx_publish(&p.tx);
		got = ivnet_rx_peek(&p.rx, &f);
		if (got)
			ivnet_rx_consume(&p.rx);
		ivnet_rx_release(&p.rx);
		if (got != c->valid) {
			fprintf(stderr, "meta rule: %s (len %u): %s, expected %s\n", c->what,
				c->len, got ? "accepted" : "refused",
				c->valid ? "accepted" : "refused");
			wrong++;
		}
	}
	CHECK_EQ(wrong, 0);
	pair_close(&p);
}

/* Copy-free receive: slots stay ours until release, then are reused. */
static void test_zero_copy(void)
{
	struct ivnet_rx_frame f[8];
	struct pair p;
	uint32_t n, i;

	pair_open(&p, 128);
	for (n = 0; send_seq(&p.tx, 2048, n); n++)
		;
	ivnet_tx_publish(&p.tx);
	CHECK_EQ(n, 128);
	for (i = 0; i < 8; i++) {
		CHECK(ivnet_rx_peek(&p.rx, &f[i]));
		ivnet_rx_consume(&p.rx);
	}
	/* producer is still full: nothing released */
	CHECK(!send_seq(&p.tx, 2048, 100));
	for (i = 0; i < 8; i++)
		CHECK_EQ(t_verify(f[i].data, f[i].len, i), -1);
	ivnet_rx_release(&p.rx);
	for (i = 0; i < 8; i++)
		CHECK(send_seq(&p.tx, 2048, 100 + i));
	CHECK(!send_seq(&p.tx, 2048, 200));
	pair_close(&p);
}

/* Notification suppression: one doorbell per sleep, however many batches. */
static void test_notify_suppression(void)
{
	struct pair p;
	int i;

	pair_open(&p, 0);
	/* consumer awake: no doorbells at all */
	for (i = 0; i < 10; i++) {
		CHECK(send_seq(&p.tx, 64, (uint64_t)i));
		ivnet_tx_publish(&p.tx);
		CHECK(!ivnet_tx_need_notify(&p.tx));
	}
	/* frames pending: arming refuses to sleep and leaves no flag */
	CHECK(!ivnet_rx_arm(&p.rx));
	CHECK_EQ(p.rx.ctrl->wake.armed, 0);
	for (i = 0; i < 10; i++)
		expect_seq(&p.rx, 64, (uint64_t)i);
	ivnet_rx_release(&p.rx);
	/* empty: arm, sleep; the first batch rings, later ones do not */
	CHECK(ivnet_rx_arm(&p.rx));
	CHECK(send_seq(&p.tx, 64, 10));
	ivnet_tx_publish(&p.tx);
	CHECK(ivnet_tx_need_notify(&p.tx));
	for (i = 11; i < 20; i++) {
		CHECK(send_seq(&p.tx, 64, (uint64_t)i));
		ivnet_tx_publish(&p.tx);
		CHECK(!ivnet_tx_need_notify(&p.tx));
	}
	CHECK_EQ(p.tx.stats.notify, 1);
	for (i = 10; i < 20; i++)
		expect_seq(&p.rx, 64, (uint64_t)i);
	ivnet_rx_release(&p.rx);
	/* sleep again: another doorbell */
	CHECK(ivnet_rx_arm(&p.rx));
	CHECK(send_seq(&p.tx, 64, 20));
	ivnet_tx_publish(&p.tx);
	CHECK(ivnet_tx_need_notify(&p.tx));
	CHECK_EQ(p.tx.stats.notify, 2);
	pair_close(&p);
}

/* Attach rules: a new consumer never sees stale frames; a producer resumes. */
static void test_attach(void)
{
	struct ivnet_rx_frame f;
	struct ivnet_ring tx2;
	struct pair p;

	pair_open(&p, 0);
	CHECK(send_seq(&p.tx, 500, 1));
	CHECK(send_seq(&p.tx, 500, 2));
	ivnet_tx_publish(&p.tx);
	/* the consumer restarts: frames from before are gone */
	CHECK_EQ(ivnet_ring_attach_rx(&p.rx, p.base, &p.l, 0, 1), 0);
	CHECK(!ivnet_rx_peek(&p.rx, &f));
	/* the producer restarts: it resumes from the published head */
	CHECK_EQ(ivnet_ring_attach_tx(&tx2, p.base, &p.l, 0, 1), 0);
	CHECK_EQ(tx2.head, p.tx.head);
	CHECK(send_seq(&tx2, 500, 3));
	ivnet_tx_publish(&tx2);
	expect_seq(&p.rx, 500, 3);
	ivnet_rx_release(&p.rx);
	/* a garbage head in shared memory: the producer restarts at the tail */
	p.rx.ctrl->prod.head += 12345;
	CHECK(!ivnet_rx_peek(&p.rx, &f));
	CHECK_EQ(p.rx.stats.bad_index, 1);
	CHECK_EQ(ivnet_ring_attach_tx(&tx2, p.base, &p.l, 0, 1), 0);
	CHECK_EQ(tx2.stats.bad_index, 1);
	CHECK_EQ(tx2.head, p.rx.tail);
	CHECK(send_seq(&tx2, 500, 4));
	ivnet_tx_publish(&tx2);
	/* ... and the consumer, who saw the garbage head first, resyncs */
	ivnet_rx_resync(&p.rx);
	CHECK(send_seq(&tx2, 500, 5));
	ivnet_tx_publish(&tx2);
	expect_seq(&p.rx, 500, 5);
	/* bad ids */
	CHECK_EQ(ivnet_ring_attach_tx(&tx2, p.base, &p.l, 1, 1), -EINVAL);
	CHECK_EQ(ivnet_ring_attach_rx(&tx2, p.base, &p.l, 0, 2), -EINVAL);
	pair_close(&p);
}

/*
 * Drain what the consumer delivers now: each frame's slots inside the window
 * [t0, h) of ring indices, and its sequence number (its first 8 bytes), with
 * every byte checked against it; where the frame boundaries were scribbled
 * (tolerate), a frame made of other frames' bytes is UINT64_MAX instead.
 */
static uint32_t drain(struct ivnet_ring *r, uint32_t t0, uint32_t h, uint64_t *got, uint32_t max,
		      int tolerate)
{
	struct ivnet_rx_frame f;
	uint32_t n = 0;

	while (ivnet_rx_peek(r, &f)) {
		uint32_t pos = (uint32_t)((f.data - r->slots) >> r->slot_shift);
		uint32_t k = ivnet_frame_slots(f.len, r->slot_size);
		uint64_t seq = 0;

		CHECK(n < max);
		/* inside the ring, and inside the window of unread slots */
		CHECK(pos + k <= r->slot_count);
		if (((pos - t0) & r->mask) + k > h - t0) {
			fprintf(stderr, "a frame (len %u) in slot %u, outside the window %u..%u\n",
				f.len, pos, t0 & r->mask, h & r->mask);
			exit(1);
		}
		memcpy(&seq, f.data, f.len < 8 ? f.len : 8);
		if (t_verify(f.data, f.len, seq) >= 0 && tolerate) {
			seq = UINT64_MAX;
		} else if (t_verify(f.data, f.len, seq) >= 0) {
			fprintf(stderr, "frame at slot %u (len %u) is no frame that was sent\n",
				pos, f.len);
			exit(1);
		}
		got[n++] = seq;
		ivnet_rx_consume(r);
	}
	ivnet_rx_release(r);
	return n;
}

/*
 * A producer restarts (attaches again) while frames of its old incarnation
 * are queued, and sends new ones before the consumer notices:
 * ivnet_rx_restart() drops exactly the old ones and delivers exactly the new
 * ones, wherever the indices are round the ring, and whether or not the
 * consumer had read some of the new ones already.
 */
static void test_rx_restart(void)
{
	uint64_t seed = 99, seq = 1, got[64], fresh_seq[16];
	struct ivnet_ring tx2;
	uint32_t start_laps;
	struct pair p;
	int round;

	pair_open(&p, 128);
	start_laps = p.tx.head;
	for (round = 0; round < 2000; round++) {
		uint32_t len = t_rand_range(&seed, 14, 5000);
		uint32_t old = t_rand_range(&seed, 0, 8), early = t_rand_range(&seed, 0, old);
		uint32_t fresh = t_rand_range(&seed, 0, 8), ahead = 0, i, n;
		uint64_t old_first = seq;

		/* the old incarnation queues; the consumer reads some */
		for (i = 0; i < old; i++)
			CHECK(send_seq(&p.tx, len, seq + i));
		ivnet_tx_publish(&p.tx);
		for (i = 0; i < early; i++)
			expect_seq(&p.rx, len, seq + i);
		ivnet_rx_release(&p.rx);
		seq += old;
		/* the new one attaches where the old one left off */
		CHECK_EQ(ivnet_ring_attach_tx(&tx2, p.base, &p.l, 0, 1), 0);
		CHECK_EQ(tx2.head, p.tx.head);
		CHECK_EQ(p.rx.ctrl->prod.start, p.tx.head);
		for (i = 0; i < fresh; i++) {
			fresh_seq[i] = seq + i;
			CHECK(send_seq(&tx2, len, seq + i));
		}
		ivnet_tx_publish(&tx2);
		seq += fresh;
		/* sometimes the consumer reads on (old frames, then some new
		 * ones) before it notices the restart */
		if (t_rand_range(&seed, 0, 2) == 0) {
			ahead = t_rand_range(&seed, 0, fresh);
			for (i = early; i < old; i++)
				expect_seq(&p.rx, len, old_first + i);
			for (i = 0; i < ahead; i++)
				expect_seq(&p.rx, len, fresh_seq[i]);
			ivnet_rx_release(&p.rx);
		}
		ivnet_rx_restart(&p.rx);
		n = drain(&p.rx, p.rx.tail, tx2.head, got, 64, 0);
		CHECK_EQ(n, fresh - ahead);
		for (i = 0; i < n; i++)
			CHECK_EQ(got[i], fresh_seq[ahead + i]);
		/* everything is handed back: the new producer has the whole ring */
		CHECK_EQ(p.rx.ctrl->cons.tail, tx2.head);
		CHECK_EQ(ivnet_tx_space(&tx2), p.l.slot_count);
		p.tx = tx2;
	}
	CHECK((p.tx.head - start_laps) / p.l.slot_count > 50);
	CHECK_EQ(p.rx.stats.bad_desc + p.rx.stats.bad_index + p.rx.stats.resync, 0);
	CHECK_EQ(p.tx.stats.bad_index, 0);
	pair_close(&p);
}

enum scribble { START_BEHIND, START_MID_FRAME, START_BEYOND, START_FAR, HEAD_AHEAD, HEAD_BEHIND };

/*
 * The same, with prod.start or prod.head scribbled before the consumer
 * notices the restart: no crash, no frame from outside the unread window
 * (none it had read, none past the head), a bad head counted, and the ring
 * carries the producer's next frames again after a few rounds.
 */
static void test_rx_restart_hostile(void)
{
	static const uint64_t window[] = {3, 4, 10, 11};
	enum scribble how;

	for (how = START_BEHIND; how <= HEAD_BEHIND; how++) {
		uint64_t got[64], seq;
		struct ivnet_ring tx2;
		uint32_t t0, h, n, i, rounds;
		struct pair p;

		pair_open(&p, 128);
		/* move off index 0 first, so that "behind" means something */
		for (i = 0; i < 50; i++) {
			CHECK(send_seq(&p.tx, 100, 1000 + i));
			ivnet_tx_publish(&p.tx);
			expect_seq(&p.rx, 100, 1000 + i);
			ivnet_rx_release(&p.rx);
		}
		for (seq = 1; seq <= 4; seq++)
			CHECK(send_seq(&p.tx, 3000, seq)); /* two slots each */
		ivnet_tx_publish(&p.tx);
		expect_seq(&p.rx, 3000, 1);
		expect_seq(&p.rx, 3000, 2);
		ivnet_rx_release(&p.rx);
		CHECK_EQ(ivnet_ring_attach_tx(&tx2, p.base, &p.l, 0, 1), 0);
		CHECK(send_seq(&tx2, 3000, 10));
		CHECK(send_seq(&tx2, 3000, 11));
		ivnet_tx_publish(&tx2);
		t0 = p.rx.tail;
		h = tx2.head;
		switch (how) {
		case START_BEHIND:
			p.rx.ctrl->prod.start = t0 - 3;
			break;
		case START_MID_FRAME:
			p.rx.ctrl->prod.start = t0 + 1;
			break;
		case START_BEYOND:
			p.rx.ctrl->prod.start = h + 5;
			break;
		case START_FAR:
			p.rx.ctrl->prod.start = h + 0x80000000u;
			break;
		case HEAD_AHEAD:
			p.rx.ctrl->prod.head = t0 + p.l.slot_count + 7;
			break;
		case HEAD_BEHIND:
			p.rx.ctrl->prod.head = t0 - 4; /* the slots of frames 1 and 2 */
			break;
		}
		ivnet_rx_restart(&p.rx);
		n = drain(&p.rx, t0, h, got, 64, how == START_MID_FRAME);
		if (how == HEAD_AHEAD || how == HEAD_BEHIND) {
			CHECK_EQ(n, 0);
			CHECK(p.rx.stats.bad_index >= 1);
		} else if (how != START_MID_FRAME) {
			/* whatever start says, what is delivered is what was sent
			 * and not yet read, in order: the window, or its tail */
			CHECK(n <= 4);
			for (i = 0; i < n; i++)
				CHECK_EQ(got[i], window[4 - n + i]);
		}
		/*
		 * The producer goes on; the consumer must get its frames again,
		 * never one it had read, never one from before the window. A
		 * bad head is adopted once it stays put: at the latest when the
		 * producer, refused by the bad tail, stops with a full ring.
		 */
		seq = 100;
		for (rounds = 0; rounds < p.l.slot_count + 10; rounds++) {
			uint32_t k;

			if (send_seq(&tx2, 3000, seq))
				seq++;
			ivnet_tx_publish(&tx2);
			k = drain(&p.rx, t0, tx2.head, got, 64, how == START_MID_FRAME);
			for (i = 0; i < k; i++) {
				if (got[i] == UINT64_MAX)
					continue;
				CHECK(got[i] != 1 && got[i] != 2 && got[i] < 1000);
				if (got[i] >= 100)
					break;
			}
			if (i < k)
				break;
		}
		if (rounds == p.l.slot_count + 10) {
			fprintf(stderr, "scribble %d: the ring did not heal\n", how);
			exit(1);
		}
		pair_close(&p);
	}
}

/* All rings of a 4-peer region are independent. */
static void test_many_pairs(void)
{
	struct ivnet_layout l;
	void *base = t_region_mem(&l, SIZE * 4, 4);
	struct ivnet_ring tx[4][4], rx[4][4];
	uint32_t a, b;

	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++)
			if (a != b) {
				CHECK_EQ(ivnet_ring_attach_tx(&tx[a][b], base, &l, a, b), 0);
				CHECK_EQ(ivnet_ring_attach_rx(&rx[a][b], base, &l, a, b), 0);
			}
	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++)
			if (a != b) {
				CHECK(send_seq(&tx[a][b], 200 + a * 4 + b, a * 4 + b));
				ivnet_tx_publish(&tx[a][b]);
			}
	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++)
			if (a != b) {
				expect_seq(&rx[a][b], 200 + a * 4 + b, a * 4 + b);
				CHECK_EQ(ivnet_rx_avail(&rx[a][b]), 0);
			}
	free(base);
}

int main(void)
{
	test_empty();
	test_pending();
	test_bad_lengths();
	test_full();
	test_has_room();
	test_wrap();
	test_bursts();
	test_gso_frame();
	test_bad_meta();
	test_meta_rules();
	test_invalid_flood();
	test_peek_budget();
	test_zero_copy();
	test_notify_suppression();
	test_attach();
	test_rx_restart();
	test_rx_restart_hostile();
	test_many_pairs();
	printf("test_ring: ok\n");
	return 0;
}

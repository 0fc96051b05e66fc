// SPDX-License-Identifier: MIT
/*
 * Layout computation for 2..64 peers over power-of-two region sizes, the
 * minimum-size search, parameter checks, and header validation.
 */
#include "testlib.h"

static void check_invariants(const struct ivnet_layout *l)
{
	uint32_t from, to, seen_max = 0;
	uint8_t *seen = calloc(l->ring_count, 1);

	CHECK(seen);
	CHECK(ivnet_is_pow2_u64(l->slot_count));
	CHECK(l->slot_count >= ivnet_layout_min_slots(l->slot_size, l->max_frame));
	/* a largest frame fits in an empty ring at any wrap position */
	CHECK(l->slot_count >= 2 * ivnet_frame_slots(l->max_frame, l->slot_size));
	CHECK_EQ(l->ring_count, l->max_peers * (l->max_peers - 1));
	CHECK_EQ(l->peer_table_off % IVNET_PAGE, 0);
	CHECK(l->peer_table_off >= sizeof(struct ivnet_region_hdr));
	CHECK(l->rings_off >= l->peer_table_off + l->max_peers * sizeof(struct ivnet_peer));
	CHECK_EQ(l->rings_off % IVNET_PAGE, 0);
	CHECK_EQ(l->ring_stride % IVNET_PAGE, 0);
	CHECK_EQ(l->ring_desc_off % IVNET_CACHELINE, 0);
	CHECK_EQ(l->ring_slots_off % IVNET_CACHELINE, 0);
	CHECK(l->ring_desc_off >= sizeof(struct ivnet_ring_ctrl));
	CHECK(l->ring_slots_off >= l->ring_desc_off + l->slot_count * sizeof(struct ivnet_desc));
	CHECK(l->ring_stride >= l->ring_slots_off + (uint64_t)l->slot_count * l->slot_size);
	CHECK_EQ(l->used_size, l->rings_off + (uint64_t)l->ring_count * l->ring_stride);
	CHECK(l->used_size <= l->region_size);

	/* ring_index is a bijection from ordered pairs onto 0..ring_count-1 */
	for (from = 0; from < l->max_peers; from++) {
		for (to = 0; to < l->max_peers; to++) {
			uint32_t i;

			if (from == to)
				continue;
			i = ivnet_ring_index(from, to, l->max_peers);
			CHECK(i < l->ring_count);
			CHECK(!seen[i]);
			seen[i] = 1;
			if (i > seen_max)
				seen_max = i;
			CHECK(ivnet_ring_offset(l, from, to) + l->ring_stride <= l->used_size);
		}
	}
	CHECK_EQ(seen_max, l->ring_count - 1);
	free(seen);
}

static void test_peers_and_sizes(void)
{
	uint32_t peers;
	uint64_t size;
	int ok = 0, nospc = 0;

	for (peers = IVNET_PEERS_MIN; peers <= IVNET_PEERS_MAX; peers++) {
		struct ivnet_layout_params p = {.max_peers = peers};
		uint64_t min = ivnet_layout_min_region(&p);

		CHECK(min != 0);
		CHECK(ivnet_is_pow2_u64(min));
		for (size = 1ULL << 20; size <= 1ULL << 34; size <<= 1) {
			struct ivnet_layout l;
			int err;

			p.region_size = size;
			err = ivnet_layout_compute(&p, &l);
			if (size < min) {
				CHECK_EQ(err, IVNET_LAYOUT_ENOSPC);
				nospc++;
				continue;
			}
			CHECK_EQ(err, 0);
			check_invariants(&l);
			/* more room never means fewer slots */
			if (size > min) {
				struct ivnet_layout smaller;
				struct ivnet_layout_params q = p;

				q.region_size = size / 2;
				CHECK_EQ(ivnet_layout_compute(&q, &smaller), 0);
				CHECK(l.slot_count >= smaller.slot_count);
			}
			ok++;
		}
	}
	CHECK(ok > 0 && nospc > 0);
	printf("layout: %d layouts checked, %d too small as predicted\n", ok, nospc);
}

static void test_min_region_is_tight(void)
{
	uint32_t peers;

	for (peers = IVNET_PEERS_MIN; peers <= IVNET_PEERS_MAX; peers += 7) {
		struct ivnet_layout_params p = {.max_peers = peers};
		struct ivnet_layout l;

		p.region_size = ivnet_layout_min_region(&p);
		CHECK_EQ(ivnet_layout_compute(&p, &l), 0);
		CHECK_EQ(l.slot_count, ivnet_layout_min_slots(l.slot_size, l.max_frame));
		p.region_size /= 2;
		CHECK_EQ(ivnet_layout_compute(&p, &l), IVNET_LAYOUT_ENOSPC);
	}
}

static void test_geometry_options(void)
{
	struct ivnet_layout_params p = {.region_size = 1ULL << 24, .max_peers = 4};
	struct ivnet_layout l;

	/* small slots and small frames, as for a 64-peer segment in little memory */
	p.slot_size = 256;
	p.max_frame = 1518;
	p.max_slots = 4096;
	CHECK_EQ(ivnet_layout_compute(&p, &l), 0);
	check_invariants(&l);
	CHECK_EQ(l.slot_size, 256);
	CHECK_EQ(l.max_frame, 1518);
	CHECK_EQ(l.slot_count, 4096);

	/* the cap bounds slots even with plenty of room */
	p = (struct ivnet_layout_params){
		.region_size = 1ULL << 30, .max_peers = 2, .max_slots = 128};
	CHECK_EQ(ivnet_layout_compute(&p, &l), 0);
	CHECK_EQ(l.slot_count, 128);

	/* a cap below the minimum a largest frame needs is refused */
	p.max_slots = 32;
	CHECK_EQ(ivnet_layout_compute(&p, &l), IVNET_LAYOUT_EINVAL);
}

static void test_bad_params(void)
{
	static const struct ivnet_layout_params bad[] = {
		{.region_size = 0, .max_peers = 2},
		{.region_size = (1ULL << 24) + 4096, .max_peers = 2}, /* not a power of two */
		{.region_size = 3ULL << 20, .max_peers = 2},
		{.region_size = 1ULL << 41, .max_peers = 2},
		{.region_size = 1ULL << 24, .max_peers = 1},
		{.region_size = 1ULL << 24, .max_peers = IVNET_PEERS_MAX + 1},
		{.region_size = 1ULL << 24, .max_peers = 2, .vectors = 1},
		{.region_size = 1ULL << 24, .max_peers = 2, .vectors = IVNET_VECTORS_MAX + 1},
		{.region_size = 1ULL << 24, .max_peers = 2, .slot_size = 1000},
		{.region_size = 1ULL << 24, .max_peers = 2, .slot_size = 32},
		{.region_size = 1ULL << 24, .max_peers = 2, .slot_size = 1u << 17},
		{.region_size = 1ULL << 24, .max_peers = 2, .max_frame = 10},
		{.region_size = 1ULL << 24, .max_peers = 2, .max_frame = IVNET_FRAME_MAX + 1},
		{.region_size = 1ULL << 24, .max_peers = 2, .max_slots = 1000},
		{.region_size = 1ULL << 24, .max_peers = 2, .max_slots = IVNET_SLOTS_MAX * 2},
	};
	struct ivnet_layout l;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ivnet_layout_compute(&bad[i], &l) != IVNET_LAYOUT_EINVAL) {
			fprintf(stderr, "bad params #%zu accepted\n", i);
			exit(1);
		}
	}
	CHECK_EQ(ivnet_layout_min_region(&bad[4]), 0);
}

/* Each header field in turn is corrupted; every change must be refused. */
static void test_header_validation(void)
{
	struct ivnet_layout l, got;
	uint64_t size = 1ULL << 22;
	uint8_t *base = t_region_mem(&l, size, 3);
	struct ivnet_region_hdr *h = (struct ivnet_region_hdr *)base;
	struct ivnet_region_hdr saved = *h;
	const char *why;
	size_t off;

	CHECK_EQ(ivnet_layout_from_header(h, size, 0, &got, &why), 0);
	CHECK(memcmp(&got, &l, sizeof(l)) == 0);

	/* claiming more than is mapped */
	CHECK(ivnet_layout_from_header(h, size / 2, 0, &got, &why) != 0);
	CHECK(strcmp(why, "region_size") == 0);

	for (off = 0; off < offsetof(struct ivnet_region_hdr, segment_id); off++) {
		base[off] ^= 0x40;
		if (ivnet_layout_from_header(h, size, 0, &got, &why) == 0) {
			fprintf(stderr, "flipped header byte %zu accepted\n", off);
			exit(1);
		}
		CHECK(why != NULL);
		*h = saved;
	}
	/* not yet formatted */
	h->state = IVNET_REGION_FORMATTING;
	CHECK(ivnet_layout_from_header(h, size, 0, &got, &why) != 0);
	CHECK(strcmp(why, "state") == 0);
	*h = saved;
	/* a consistent header for a different slot count than the size allows */
	h->slot_count *= 2;
	CHECK(ivnet_layout_from_header(h, size, 0, &got, &why) != 0);
	*h = saved;
	/* the name and id are free-form */
	memset(h->name, 'x', sizeof(h->name));
	h->segment_id = ~0ULL;
	CHECK_EQ(ivnet_layout_from_header(h, size, 0, &got, &why), 0);
	free(base);
}

/*
 * Issue 14, finding 4: a peer rewrote the header between the broker's format
 * and a newcomer's map. What the reader learnt from a trusted source (the
 * size it mapped, the vectors it has) must match, and max_frame must leave
 * the smallest MTU after the link headers.
 */
static void test_header_trusted(void)
{
	struct ivnet_layout l, got, half;
	uint64_t size = 1ULL << 22;
	uint8_t *base = t_region_mem(&l, size, 3);
	struct ivnet_region_hdr *h = (struct ivnet_region_hdr *)base;
	struct ivnet_region_hdr saved = *h;
	struct ivnet_layout_params p = {.region_size = size / 2, .max_peers = 3};
	const char *why = NULL;
	uint32_t frame;

	CHECK_EQ(ivnet_layout_from_header(h, size, l.vectors, &got, &why), 0);

	/* a smaller geometry, consistent in itself, over the mapped size */
	CHECK_EQ(ivnet_layout_compute(&p, &half), 0);
	ivnet_layout_format(base, &half, "test", 1);
	CHECK(ivnet_layout_from_header(h, size, l.vectors, &got, &why) != 0);
	CHECK(why && strcmp(why, "region_size") == 0);
	*h = saved;

	/* a vector count the reader does not have */
	h->vectors = l.vectors + 1;
	CHECK(ivnet_layout_from_header(h, size, l.vectors, &got, &why) != 0);
	CHECK(why && strcmp(why, "vectors") == 0);
	*h = saved;

	/* max_frame that would leave a reader less than the smallest MTU */
	for (frame = IVNET_FRAME_MIN; frame < IVNET_REGION_FRAME_MIN; frame++) {
		h->max_frame = frame;
		if (ivnet_layout_from_header(h, size, l.vectors, &got, &why) == 0) {
			fprintf(stderr, "max_frame %u accepted (mtu below %u)\n", frame,
				IVNET_MTU_MIN);
			exit(1);
		}
		*h = saved;
	}
	p.region_size = size;
	p.max_frame = IVNET_REGION_FRAME_MIN - 1;
	CHECK_EQ(ivnet_layout_compute(&p, &half), IVNET_LAYOUT_EINVAL);
	free(base);
}

int main(void)
{
	test_peers_and_sizes();
	test_min_region_is_tight();
	test_geometry_options();
	test_bad_params();
	test_header_validation();
	test_header_trusted();
	printf("test_layout: ok\n");
	return 0;
}

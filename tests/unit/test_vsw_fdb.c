// SPDX-License-Identifier: MIT
/*
 * test_vsw_fdb - ivnet-vswitch's MAC table: learning, moves, aging,
 * flushing, eviction when both buckets are full, and several learners and
 * readers at once (each MAC must always map to a port it was learned on).
 */
#include <pthread.h>

#include "testlib.h"
#include "vswitch/fdb.h"

static void mac_of(uint32_t i, uint8_t m[6])
{
	m[0] = 0x02;
	m[1] = 0x10;
	m[2] = (uint8_t)(i >> 24);
	m[3] = (uint8_t)(i >> 16);
	m[4] = (uint8_t)(i >> 8);
	m[5] = (uint8_t)i;
}

static void test_learn_move_age(void)
{
	struct vsw_fdb f;
	uint8_t a[6], b[6];

	CHECK_EQ(vsw_fdb_init(&f, 64, 42), 0);
	CHECK(vsw_fdb_capacity(&f) >= 64);
	mac_of(1, a);
	mac_of(2, b);
	CHECK_EQ(vsw_fdb_lookup(&f, a), -1);
	vsw_fdb_learn(&f, a, 3, 10);
	CHECK_EQ(vsw_fdb_lookup(&f, a), 3);
	CHECK_EQ(vsw_fdb_lookup(&f, b), -1);
	CHECK_EQ(f.n.learned, 1);
	/* the same port again: a refresh, not a new entry */
	vsw_fdb_learn(&f, a, 3, 20);
	CHECK_EQ(f.n.learned, 1);
	CHECK_EQ(vsw_fdb_walk(&f, NULL, NULL), 1);
	/* seen on another port: moves */
	vsw_fdb_learn(&f, a, 5, 21);
	CHECK_EQ(vsw_fdb_lookup(&f, a), 5);
	CHECK_EQ(f.n.moved, 1);
	CHECK_EQ(vsw_fdb_walk(&f, NULL, NULL), 1);
	vsw_fdb_learn(&f, b, 0, 30);
	/* a last seen at 21, b at 30: aging 10 s at 32 removes a only */
	CHECK_EQ(vsw_fdb_age(&f, 32, 10), 1);
	CHECK_EQ(vsw_fdb_lookup(&f, a), -1);
	CHECK_EQ(vsw_fdb_lookup(&f, b), 0);
	CHECK_EQ(vsw_fdb_age(&f, 40, 10), 0);
	CHECK_EQ(vsw_fdb_age(&f, 41, 10), 1);
	CHECK_EQ(f.n.aged, 2);
	CHECK_EQ(vsw_fdb_walk(&f, NULL, NULL), 0);
	vsw_fdb_free(&f);
}

static void test_flush(void)
{
	struct vsw_fdb f;
	uint8_t m[6];
	uint32_t i;

	CHECK_EQ(vsw_fdb_init(&f, 256, 7), 0);
	for (i = 0; i < 60; i++) {
		mac_of(i, m);
		vsw_fdb_learn(&f, m, (uint16_t)(i % 3), 1);
	}
	CHECK_EQ(vsw_fdb_walk(&f, NULL, NULL), 60);
	CHECK_EQ(vsw_fdb_flush(&f, 1), 20);
	for (i = 0; i < 60; i++) {
		mac_of(i, m);
		CHECK_EQ(vsw_fdb_lookup(&f, m), i % 3 == 1 ? -1 : (int)(i % 3));
	}
	CHECK_EQ(vsw_fdb_flush(&f, -1), 40);
	CHECK_EQ(vsw_fdb_walk(&f, NULL, NULL), 0);
	vsw_fdb_free(&f);
}

/* More MACs than ways: the oldest make room, the newest are always found. */
static void test_full(void)
{
	struct vsw_fdb f;
	uint32_t i, cap, found = 0;
	uint8_t m[6];

	CHECK_EQ(vsw_fdb_init(&f, 16, 99), 0);
	cap = vsw_fdb_capacity(&f);
	for (i = 0; i < cap * 4; i++) {
		mac_of(i, m);
		vsw_fdb_learn(&f, m, 1, i);
		CHECK_EQ(vsw_fdb_lookup(&f, m), 1);
	}
	CHECK(f.n.evicted > 0);
	CHECK(vsw_fdb_walk(&f, NULL, NULL) <= cap);
	for (i = 0; i < cap * 4; i++) {
		mac_of(i, m);
		found += vsw_fdb_lookup(&f, m) == 1;
	}
	CHECK_EQ(found, vsw_fdb_walk(&f, NULL, NULL));
	vsw_fdb_free(&f);
}

#define THREADS 4
#define MACS 512
#define ROUNDS 200

static struct vsw_fdb shared;

/* Thread t learns MAC i on port (i + round) % 4 + 4 * (t & 1): any port a
 * lookup sees must be one of those 8; and MACs it alone learns must be
 * found where it last put them. */
static void *learner(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	uint8_t m[6];
	uint32_t r, i;

	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < MACS; i++) {
			int got;

			mac_of(i, m);
			vsw_fdb_learn(&shared, m, (uint16_t)((i + r) % 4 + 4 * (t & 1)), r);
			got = vsw_fdb_lookup(&shared, m);
			CHECK(got >= 0 && got < 8);
			mac_of(100000 + (uint32_t)t * MACS + i, m);
			vsw_fdb_learn(&shared, m, (uint16_t)(r % 8), r);
			CHECK_EQ(vsw_fdb_lookup(&shared, m), (int)(r % 8));
		}
	}
	return NULL;
}

static void *ager(void *arg)
{
	uint32_t r;

	(void)arg;
	for (r = 0; r < ROUNDS * 4; r++)
		vsw_fdb_age(&shared, r / 4, 1000);
	return NULL;
}

static uint8_t seen_mac[100000 + (THREADS + 1) * MACS];

static void no_twice(void *arg, const uint8_t m[6], uint16_t slot, uint32_t seen)
{
	uint32_t i = (uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5];

	(void)arg;
	(void)seen;
	CHECK(slot < 8);
	CHECK(i < sizeof(seen_mac));
	CHECK(!seen_mac[i]++);
}

static void test_concurrent(void)
{
	pthread_t th[THREADS + 1];
	unsigned int n;
	uintptr_t t;

	CHECK_EQ(vsw_fdb_init(&shared, 8192, 3), 0);
	for (t = 0; t < THREADS; t++)
		CHECK_EQ(pthread_create(&th[t], NULL, learner, (void *)t), 0);
	CHECK_EQ(pthread_create(&th[THREADS], NULL, ager, NULL), 0);
	for (t = 0; t <= THREADS; t++)
		pthread_join(th[t], NULL);
	/* shared MACs: each in the table once, never duplicated by a race */
	n = vsw_fdb_walk(&shared, no_twice, NULL);
	CHECK(n <= MACS + THREADS * MACS);
	CHECK_EQ(vsw_fdb_age(&shared, 1u << 30, 1), n);
	vsw_fdb_free(&shared);
}

int main(void)
{
	test_learn_move_age();
	test_flush();
	test_full();
	test_concurrent();
	printf("test_vsw_fdb: ok\n");
	return 0;
}

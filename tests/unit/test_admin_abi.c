// SPDX-License-Identifier: MIT
/*
 * test_admin_abi - the rules of the admin region (abi/ivnet_admin.h): which
 * regions ivnet_admin_check() takes, that a snapshot is never torn (a
 * writer thread keeps rewriting while a reader copies; every copy it gets
 * must be whole, and one taken while the writer is mid-write is refused),
 * ivnet_admin_mismatch() and ivnet_admin_find_slot().
 */
#include <pthread.h>
#include <stdalign.h>

#include "testlib.h"

#include "ivnet_admin.h"

static alignas(4096) uint8_t region[IVNET_ADMIN_SIZE];

static struct ivnet_admin_hdr *hdr(void)
{
	return (struct ivnet_admin_hdr *)region;
}

/* A region as the broker leaves it after the first copy. */
static void format(void)
{
	struct ivnet_admin_hdr *a = hdr();

	memset(region, 0, sizeof(region));
	a->magic = IVNET_ADMIN_MAGIC;
	a->version = IVNET_LAYOUT_VERSION;
	a->hdr_size = sizeof(*a);
	a->region_size = IVNET_ADMIN_SIZE;
	a->peers_off = IVNET_ADMIN_PEERS_OFF;
	a->state = IVNET_REGION_READY;
	a->self_ivpos = IVNET_ADMIN_NO_IVPOS;
}

static void test_check(void)
{
	const char *why;

	format();
	CHECK_EQ(ivnet_admin_check(region, IVNET_ADMIN_SIZE, &why), 0);
	CHECK_EQ(ivnet_admin_check(region, IVNET_ADMIN_SIZE / 2, &why), -EINVAL);
	CHECK(strstr(why, "smaller"));
	hdr()->magic++;
	CHECK_EQ(ivnet_admin_check(region, IVNET_ADMIN_SIZE, &why), -EINVAL);
	CHECK(!strcmp(why, "magic"));
	format();
	hdr()->version++;
	CHECK_EQ(ivnet_admin_check(region, IVNET_ADMIN_SIZE, &why), -EINVAL);
	CHECK(!strcmp(why, "version"));
	format();
	hdr()->hdr_size = 256;
	CHECK_EQ(ivnet_admin_check(region, IVNET_ADMIN_SIZE, &why), -EINVAL);
	CHECK(!strcmp(why, "hdr_size"));
	format();
	hdr()->region_size = 2 * IVNET_ADMIN_SIZE;
	CHECK_EQ(ivnet_admin_check(region, IVNET_ADMIN_SIZE, &why), -EINVAL);
	CHECK(strstr(why, "region_size"));
	format();
	hdr()->peers_off = 0;
	CHECK_EQ(ivnet_admin_check(region, IVNET_ADMIN_SIZE, &why), -EINVAL);
	CHECK(!strcmp(why, "peers_off"));
	format();
	hdr()->state = IVNET_REGION_FORMATTING;
	CHECK_EQ(ivnet_admin_check(region, IVNET_ADMIN_SIZE, &why), -EAGAIN);
}

/* Round k of the writer: every entry, and the header copy, say k. */
static void write_round(uint32_t k)
{
	struct ivnet_admin_hdr *a = hdr();
	uint32_t i;

	ivnet_admin_write_begin(a);
	ivnet_store_relaxed(&a->segment.table_gen, k);
	ivnet_store_relaxed(&a->segment.max_peers, k);
	for (i = 0; i < IVNET_PEERS_MAX; i++) {
		struct ivnet_peer_admin *e = ivnet_admin_entry(region, i);

		ivnet_store_relaxed(&e->epoch, k);
		ivnet_store_relaxed(&e->ivpos, k);
	}
	ivnet_admin_write_end(a);
}

static volatile int writer_stop;

static void *writer(void *arg)
{
	uint32_t k = 1;

	(void)arg;
	while (!writer_stop) {
		uint32_t i;

		write_round(k++);
		/* a pause between rounds, as the broker's are far apart: a
		 * reader also gets whole copies, not only refusals */
		for (i = 0; i < 2000 && !writer_stop; i++)
			(void)ivnet_load_relaxed(&hdr()->seq);
	}
	return NULL;
}

/* Whole: one round's values everywhere. */
static int whole(const struct ivnet_region_hdr *seg, const struct ivnet_peer_admin *p)
{
	uint32_t i, k = seg->table_gen;

	if (seg->max_peers != k)
		return 0;
	for (i = 0; i < IVNET_PEERS_MAX; i++)
		if (p[i].epoch != k || p[i].ivpos != k)
			return 0;
	return 1;
}

static void test_snapshot_torn(void)
{
	static struct ivnet_peer_admin peers[IVNET_PEERS_MAX];
	struct ivnet_region_hdr seg;
	uint32_t got = 0, busy = 0, distinct = 0, last = 0, n;
	pthread_t t;

	format();
	write_round(7);
	CHECK_EQ(ivnet_admin_snapshot(region, &seg, peers, IVNET_PEERS_MAX), 0);
	CHECK(whole(&seg, peers) && seg.table_gen == 7);
	CHECK_EQ(ivnet_admin_snapshot(region, NULL, NULL, IVNET_PEERS_MAX + 1), -EINVAL);

	/* mid-write (seq odd): no copy is handed out */
	ivnet_admin_write_begin(hdr());
	CHECK_EQ(ivnet_admin_snapshot(region, &seg, peers, IVNET_PEERS_MAX), -EBUSY);
	ivnet_admin_write_end(hdr());
	CHECK_EQ(hdr()->seq % 2, 0);

	writer_stop = 0;
	CHECK_EQ(pthread_create(&t, NULL, writer, NULL), 0);
	for (n = 0; n < 20000000 && (distinct < 100 || n < 20000); n++) {
		int ret = ivnet_admin_snapshot(region, &seg, peers, IVNET_PEERS_MAX);

		if (ret == -EBUSY) {
			busy++;
			continue;
		}
		CHECK_EQ(ret, 0);
		CHECK(whole(&seg, peers));
		got++;
		distinct += seg.table_gen != last;
		last = seg.table_gen;
	}
	writer_stop = 1;
	pthread_join(t, NULL);
	printf("snapshots: %u whole (%u distinct rounds), %u refused as torn\n", got, distinct,
	       busy);
	CHECK(got > 0);
	CHECK(distinct > 1); /* the writer did run meanwhile */
}

static void test_mismatch(void)
{
	struct ivnet_region_hdr t, s;

	memset(&t, 0, sizeof(t));
	t.magic = IVNET_MAGIC;
	t.max_peers = 8;
	t.ring_stride = 4096;
	t.segment_id = 42;
	s = t;
	CHECK(ivnet_admin_mismatch(&t, &s) == NULL);
	s.table_gen = 9; /* not geometry: anyone's to bump */
	s.state = 0;
	memcpy(s.name, "other", 5);
	CHECK(ivnet_admin_mismatch(&t, &s) == NULL);
	s.max_peers = 4;
	CHECK(!strcmp(ivnet_admin_mismatch(&t, &s), "max_peers"));
	s = t;
	s.ring_stride = 8192;
	CHECK(!strcmp(ivnet_admin_mismatch(&t, &s), "ring_stride"));
	s = t;
	s.segment_id = 43;
	CHECK(!strcmp(ivnet_admin_mismatch(&t, &s), "segment_id"));
	s = t;
	s.magic = 0;
	CHECK(!strcmp(ivnet_admin_mismatch(&t, &s), "magic"));
}

static void test_find_slot(void)
{
	struct ivnet_peer_admin p[4];

	memset(p, 0, sizeof(p));
	p[0].ivpos = 5; /* absent: not a match */
	p[1].state = IVNET_PEER_JOINED;
	p[1].ivpos = 3;
	p[2].state = IVNET_PEER_JOINED;
	p[2].ivpos = 5;
	p[3].state = IVNET_PEER_JOINED;
	p[3].ivpos = 5;
	CHECK_EQ(ivnet_admin_find_slot(p, 4, 5), 2);
	CHECK_EQ(ivnet_admin_find_slot(p, 4, 3), 1);
	CHECK_EQ(ivnet_admin_find_slot(p, 4, 9), -ENOENT);
	CHECK_EQ(ivnet_admin_find_slot(p, 2, 5), -ENOENT); /* only the first n */
}

int main(void)
{
	test_check();
	test_snapshot_torn();
	test_mismatch();
	test_find_slot();
	printf("admin_abi: ok\n");
	return 0;
}

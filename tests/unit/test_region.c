// SPDX-License-Identifier: MIT
/*
 * Region life cycle in userspace: create over POSIX shm, memfd and a file,
 * map it a second time as a peer would, validate, describe; refuse bad sizes,
 * missing objects and garbage; bind to a NUMA node when there is one.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <numa.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"

static struct ivnet_region_opts opts(enum ivnet_backing b, const char *path, uint64_t size,
				     uint32_t peers)
{
	struct ivnet_region_opts o = {
		.backing = b,
		.path = path,
		.numa_node = -1,
		.name = "unit",
		.params = {.region_size = size, .max_peers = peers},
	};
	return o;
}

/* Both mappings see each other's writes, through a ring. */
static void check_two_views(struct ivnet_region *a, struct ivnet_region *b)
{
	struct ivnet_ring tx, rx;
	struct ivnet_rx_frame f;
	uint8_t *d;

	CHECK(a->base != b->base);
	CHECK(memcmp(&a->layout, &b->layout, sizeof(a->layout)) == 0);
	CHECK_EQ(ivnet_ring_attach_tx(&tx, a->base, &a->layout, 1, 0), 0);
	CHECK_EQ(ivnet_ring_attach_rx(&rx, b->base, &b->layout, 1, 0), 0);
	d = ivnet_tx_reserve(&tx, 1000, NULL);
	CHECK(d);
	t_fill(d, 1000, 77);
	ivnet_tx_publish(&tx);
	CHECK(ivnet_rx_peek(&rx, &f));
	CHECK_EQ(t_verify(f.data, f.len, 77), -1);
}

static void test_shm(void)
{
	char name[64], err[IVNET_ERRLEN];
	struct ivnet_region a, b;
	struct ivnet_region_opts o;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	snprintf(name, sizeof(name), "/ivnet-test-%d", getpid());
	o = opts(IVNET_BACKING_SHM, name, 1ULL << 22, 4);
	CHECK_EQ(ivnet_region_create(&o, &a, err), 0);
	CHECK_EQ(ivnet_region_open(IVNET_BACKING_SHM, name, &b, err), 0);
	check_two_views(&a, &b);

	/* peers are absent after a format; the description says what is there */
	ivnet_region_peer(&a, 2)->admin.mac[5] = 0x42;
	ivnet_store_release(&ivnet_region_peer(&a, 2)->admin.state, IVNET_PEER_JOINED);
	out = open_memstream(&text, &len);
	CHECK(out);
	ivnet_region_describe(&b, out);
	fclose(out);
	CHECK(strstr(text, "segment \"unit\""));
	CHECK(strstr(text, "peers 4 vectors 2 rings 12"));
	CHECK(strstr(text, "peer 2 joined epoch 0 mac 00:00:00:00:00:42"));
	CHECK(!strstr(text, "peer 1 "));
	free(text);

	ivnet_region_close(&b);
	ivnet_region_close(&a);
	CHECK_EQ(shm_unlink(name), 0);
	CHECK_EQ(ivnet_region_open(IVNET_BACKING_SHM, name, &b, err), -ENOENT);
	CHECK(strstr(err, name));
}

static void test_memfd_and_file(void)
{
	char path[] = "/tmp/ivnet-region-XXXXXX", err[IVNET_ERRLEN];
	struct ivnet_region a, b;
	struct ivnet_region_opts o;
	int fd;

	o = opts(IVNET_BACKING_MEMFD, "ivnet-unit", 1ULL << 21, 2);
	CHECK_EQ(ivnet_region_create(&o, &a, err), 0);
	/* a peer gets the fd over a socket; here, a duplicate */
	fd = dup(a.fd);
	CHECK(fd >= 0);
	CHECK_EQ(ivnet_region_attach_fd(fd, &b, err), 0);
	check_two_views(&a, &b);
	ivnet_region_close(&b);
	ivnet_region_close(&a);

	fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	o = opts(IVNET_BACKING_FILE, path, 1ULL << 21, 2);
	CHECK_EQ(ivnet_region_create(&o, &a, err), 0);
	CHECK_EQ(ivnet_region_open(IVNET_BACKING_FILE, path, &b, err), 0);
	check_two_views(&a, &b);
	ivnet_region_close(&b);
	ivnet_region_close(&a);
	unlink(path);
}

static void test_refusals(void)
{
	char err[IVNET_ERRLEN], path[] = "/tmp/ivnet-garbage-XXXXXX";
	struct ivnet_region r;
	struct ivnet_region_opts o;
	uint8_t junk[8192];
	int fd;

	o = opts(IVNET_BACKING_MEMFD, "x", 3ULL << 20, 2);
	CHECK_EQ(ivnet_region_create(&o, &r, err), -EINVAL);
	CHECK(strstr(err, "power of two"));

	o = opts(IVNET_BACKING_MEMFD, "x", 1ULL << 20, 64);
	CHECK_EQ(ivnet_region_create(&o, &r, err), -ENOSPC);
	CHECK(strstr(err, "too small for 64 peers (needs"));

	/* defaults (0) are reported as the values used, and a slot cap below
	 * what a ring needs for its largest frames is named as the cause */
	o = opts(IVNET_BACKING_MEMFD, "x", 1ULL << 30, 64);
	o.params.max_slots = 64;
	CHECK_EQ(ivnet_region_create(&o, &r, err), -EINVAL);
	CHECK(strstr(err, "64 slots per ring are too few"));
	CHECK(strstr(err, "slots of 2048 bytes"));
	o = opts(IVNET_BACKING_MEMFD, "x", 1ULL << 20, 2);
	o.params.vectors = 1;
	CHECK_EQ(ivnet_region_create(&o, &r, err), -EINVAL);
	CHECK(strstr(err, "1 vectors"));
	CHECK(strstr(err, "slot size 2048"));

	/* a file of the right size full of garbage */
	fd = mkstemp(path);
	CHECK(fd >= 0);
	memset(junk, 0x3c, sizeof(junk));
	CHECK_EQ(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	CHECK_EQ(ivnet_region_attach_fd(fd, &r, err), -EPROTO);
	CHECK(strstr(err, "header rejected"));
	/* a size that is not a power of two */
	CHECK_EQ(write(fd, junk, 100), 100);
	CHECK_EQ(ivnet_region_attach_fd(fd, &r, err), -EPROTO);
	CHECK(strstr(err, "power of two"));
	close(fd);
	unlink(path);

	o = opts(IVNET_BACKING_MEMFD, "x", 1ULL << 21, 2);
	o.numa_node = 4096;
	CHECK(ivnet_region_create(&o, &r, err) < 0);
	CHECK(strstr(err, "NUMA"));
}

static void test_numa(void)
{
	char err[IVNET_ERRLEN];
	struct ivnet_region r;
	struct ivnet_region_opts o;

	if (numa_available() < 0) {
		printf("test_region: no NUMA, binding not exercised\n");
		return;
	}
	o = opts(IVNET_BACKING_MEMFD, "numa", 1ULL << 21, 2);
	o.numa_node = 0;
	CHECK_EQ(ivnet_region_create(&o, &r, err), 0);
	ivnet_region_close(&r);
}

int main(void)
{
	test_shm();
	test_memfd_and_file();
	test_refusals();
	test_numa();
	printf("test_region: ok\n");
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * Two processes, one POSIX shared-memory object. The parent (peer 0) creates
 * and formats the region, then execs a child (peer 1) that opens it by name,
 * so each maps it at its own address. The parent streams frames of every
 * size up to the largest; the child checks every byte and echoes each frame
 * back; the parent checks every byte of the echoes. Doorbells are eventfds
 * inherited across exec, used only when the receiver armed its ring.
 *
 * usage: test_two_process [frames]
 *        test_two_process --child SHM-NAME RX-EVENTFD PEER-EVENTFD FRAMES
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

struct end {
	struct ivnet_region region;
	struct ivnet_ring tx, rx;
	int rx_efd;   /* our doorbell */
	int peer_efd; /* the other side's */
	uint64_t doorbells;
};

static uint32_t frame_len(uint64_t seq, uint32_t max)
{
	uint64_t h = (seq + 1) * 0x9e3779b97f4a7c15ULL;

	if (seq % 8 == 0)
		return 14 + (uint32_t)((h >> 24) % (max - 13));
	return 14 + (uint32_t)((h >> 24) % 1500);
}

static void attach(struct end *e, uint32_t self, uint32_t peer)
{
	CHECK_EQ(ivnet_ring_attach_tx(&e->tx, e->region.base, &e->region.layout, self, peer), 0);
	CHECK_EQ(ivnet_ring_attach_rx(&e->rx, e->region.base, &e->region.layout, peer, self), 0);
}

static void flush(struct end *e)
{
	ivnet_tx_publish(&e->tx);
	if (ivnet_tx_need_notify(&e->tx)) {
		uint64_t one = 1;

		CHECK_EQ(write(e->peer_efd, &one, sizeof(one)), sizeof(one));
		e->doorbells++;
	}
}

/* Nothing to do: sleep on our doorbell if the ring is empty, else back off
 * briefly (our tx ring is full; space frees without a doorbell). */
static void idle(struct end *e)
{
	struct pollfd pfd = {.fd = e->rx_efd, .events = POLLIN};
	uint64_t v;

	if (!ivnet_rx_arm(&e->rx)) {
		usleep(20);
		return;
	}
	if (poll(&pfd, 1, 2) == 1)
		CHECK_EQ(read(e->rx_efd, &v, sizeof(v)), sizeof(v));
}

static void check_frame(const struct ivnet_rx_frame *f, uint64_t seq, uint32_t max, const char *who)
{
	long bad = t_verify(f->data, f->len, seq);

	if (f->len != frame_len(seq, max) || bad >= 0) {
		fprintf(stderr, "%s: frame %" PRIu64 " len %u (want %u) bad byte %ld\n", who, seq,
			f->len, frame_len(seq, max), bad);
		exit(1);
	}
}

static int run_child(char **argv)
{
	struct end e = {.rx_efd = atoi(argv[3]), .peer_efd = atoi(argv[4])};
	uint64_t frames = strtoull(argv[5], NULL, 0), got = 0;
	char err[IVNET_ERRLEN];
	struct ivnet_rx_frame f;

	if (ivnet_region_open(IVNET_BACKING_SHM, argv[2], &e.region, err)) {
		fprintf(stderr, "child: %s\n", err);
		return 1;
	}
	attach(&e, 1, 0);
	/* tell the parent we are attached */
	{
		uint64_t one = 1;

		CHECK_EQ(write(e.peer_efd, &one, sizeof(one)), sizeof(one));
	}
	while (got < frames) {
		uint64_t start = got;

		while (ivnet_rx_peek(&e.rx, &f)) {
			uint8_t *d;

			check_frame(&f, got, e.region.layout.max_frame, "child");
			d = ivnet_tx_reserve(&e.tx, f.len, &f.meta);
			if (!d)
				break; /* echo ring full: keep this frame for later */
			memcpy(d, f.data, f.len);
			ivnet_rx_consume(&e.rx);
			got++;
		}
		ivnet_rx_release(&e.rx);
		flush(&e);
		if (got == start)
			idle(&e);
	}
	printf("child: %" PRIu64 " frames checked and echoed, %" PRIu64 " doorbells\n", got,
	       e.doorbells);
	ivnet_region_close(&e.region);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t frames, sent = 0, got = 0;
	int efd_parent, efd_child, status;
	char name[64], err[IVNET_ERRLEN], a1[16], a2[16], a3[32];
	struct ivnet_region_opts o = {.backing = IVNET_BACKING_SHM,
				      .numa_node = -1,
				      .name = "two-process",
				      .params = {.region_size = 1ULL << 23, .max_peers = 2}};
	struct end e = {0};
	struct ivnet_rx_frame f;
	uint32_t max;
	pid_t pid;
	uint64_t v;

	if (argc == 6 && strcmp(argv[1], "--child") == 0)
		return run_child(argv);
	frames = argc > 1 ? strtoull(argv[1], NULL, 0) : 60000;
	alarm(300);

	snprintf(name, sizeof(name), "/ivnet-2p-%d", getpid());
	o.path = name;
	if (ivnet_region_create(&o, &e.region, err)) {
		fprintf(stderr, "create: %s\n", err);
		return 1;
	}
	max = e.region.layout.max_frame;
	efd_parent = eventfd(0, 0);
	efd_child = eventfd(0, 0);
	CHECK(efd_parent >= 0 && efd_child >= 0);
	e.rx_efd = efd_parent;
	e.peer_efd = efd_child;
	attach(&e, 0, 1);

	snprintf(a1, sizeof(a1), "%d", efd_child);
	snprintf(a2, sizeof(a2), "%d", efd_parent);
	snprintf(a3, sizeof(a3), "%" PRIu64, frames);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "--child", name, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	/* the child has attached (its consumer starts at the current head) */
	CHECK_EQ(read(efd_parent, &v, sizeof(v)), sizeof(v));
	/* both have it mapped: the name is no longer needed, and a failed run
	 * leaves nothing behind in /dev/shm */
	CHECK_EQ(shm_unlink(name), 0);

	while (got < frames) {
		uint64_t start = sent + got;

		while (sent < frames) {
			uint32_t len = frame_len(sent, max);
			uint8_t *d = ivnet_tx_reserve(&e.tx, len, NULL);

			if (!d)
				break;
			t_fill(d, len, sent++);
		}
		flush(&e);
		while (ivnet_rx_peek(&e.rx, &f)) {
			check_frame(&f, got, max, "parent");
			ivnet_rx_consume(&e.rx);
			got++;
		}
		ivnet_rx_release(&e.rx);
		if (sent + got == start)
			idle(&e);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	printf("parent: %" PRIu64 " frames sent, %" PRIu64 " echoes checked, %" PRIu64
	       " doorbells; errors rx %" PRIu64 " tx %" PRIu64 "\n",
	       sent, got, e.doorbells, e.rx.stats.bad_desc + e.rx.stats.bad_index,
	       e.tx.stats.bad_index);
	CHECK_EQ(e.rx.stats.bad_desc + e.rx.stats.bad_index + e.rx.stats.resync, 0);
	ivnet_region_close(&e.region);
	printf("test_two_process: ok\n");
	return 0;
}

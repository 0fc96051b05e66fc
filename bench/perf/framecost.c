// SPDX-License-Identifier: MIT
/*
 * ivnet-framecost - the instructions libivnet spends per frame, for
 * callgrind to count (bench/perf/callgrind.sh). One thread, two endpoints on
 * one segment: N times, endpoint A sends a burst of B frames of S bytes to
 * endpoint B, which receives them (copied out, or in place with -z). No
 * timing, no other thread: the count is the same on every run.
 *
 * usage: ivnet-framecost SOCKET [-n ITERATIONS] [-b BURST] [-s SIZE] [-z]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ivnet/ivnet.h>

#define BURST_MAX 64

static struct ivnet_ep *join(const char *sock)
{
	char err[IVNET_ERRLEN];
	struct ivnet_ep *ep;

	if (ivnet_ep_open(sock, &ep, err)) {
		fprintf(stderr, "ivnet-framecost: %s\n", err);
		exit(1);
	}
	ivnet_ep_set_wait(ep, IVNET_WAIT_BUSY, 0);
	return ep;
}

int main(int argc, char **argv)
{
	unsigned long n = 100000, i, got = 0;
	unsigned int burst = 32, size = 64, k;
	int zc = 0, c;
	struct ivnet_frame f[BURST_MAX];
	struct ivnet_rx_buf b[BURST_MAX];
	struct ivnet_rx_frame zf[BURST_MAX];
	struct ivnet_ep *a, *z;
	uint8_t *tx, *rx;

	while ((c = getopt(argc, argv, "n:b:s:z")) != -1) {
		switch (c) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			burst = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 's':
			size = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'z':
			zc = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || !n || !burst || burst > BURST_MAX || size < IVNET_FRAME_MIN ||
	    size > 65536)
		goto usage;
	a = join(argv[optind]);
	z = join(argv[optind]);
	if (ivnet_ep_wait_peer(a, ivnet_ep_id(z), 5000) ||
	    ivnet_ep_wait_peer(z, ivnet_ep_id(a), 5000)) {
		fprintf(stderr, "ivnet-framecost: the endpoints never saw each other\n");
		return 1;
	}
	tx = calloc(burst, size);
	rx = calloc(burst, size);
	if (!tx || !rx)
		return 1;
	for (k = 0; k < burst; k++) {
		memcpy(tx + (size_t)k * size, ivnet_ep_mac(z), 6);
		memcpy(tx + (size_t)k * size + 6, ivnet_ep_mac(a), 6);
		f[k] = (struct ivnet_frame){.data = tx + (size_t)k * size, .len = size};
		b[k] = (struct ivnet_rx_buf){.data = rx + (size_t)k * size, .cap = size};
	}
	for (i = 0; i < n; i++) {
		unsigned int sent = ivnet_ep_send_burst(a, f, burst);
		int r = zc ? ivnet_ep_recv_zc(z, zf, NULL, burst, 0)
			   : ivnet_ep_recv_burst(z, b, NULL, burst, 0);

		if (sent != burst || r != (int)burst) {
			fprintf(stderr, "ivnet-framecost: sent %u, received %d of %u\n", sent, r,
				burst);
			return 1;
		}
		got += (unsigned long)r;
	}
	if (zc)
		ivnet_ep_recv_done(z);
	printf("frames %lu burst %u size %u %s\n", got, burst, size, zc ? "zerocopy" : "copy");
	ivnet_ep_close(a);
	ivnet_ep_close(z);
	free(tx);
	free(rx);
	return 0;
usage:
	fprintf(stderr, "usage: ivnet-framecost SOCKET [-n ITERATIONS] [-b BURST 1..64] "
			"[-s SIZE] [-z]\n");
	return 2;
}

// SPDX-License-Identifier: MIT
/*
 * ping.c - libivnet's example, built against the installed library only:
 *
 *   cc ping.c -o ivnet-ping $(pkg-config --cflags --libs libivnet)
 *   ivnet-ping /run/ivnet/seg0.sock echo &     # sends every frame back
 *   ivnet-ping /run/ivnet/seg0.sock ping 100   # 100 frames, each checked
 *
 * "ping" waits for another peer, sends it COUNT frames of growing sizes
 * with a numbered pattern and checks each answer byte for byte (the MACs
 * swapped, the rest unchanged). "echo" answers COUNT frames, then waits
 * for the pinger to leave (0: answers until the broker goes away). Exit
 * status 0 means every frame came back intact.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ivnet/ivnet.h>

#define TIMEOUT_MS 5000
#define ETH_ALEN 6

static uint8_t frame[IVNET_FRAME_MAX], answer[IVNET_FRAME_MAX];

/* Is another peer's link up? If so, and out is not NULL, which one. */
static int peer_up(struct ivnet_ep *ep, struct ivnet_ep_peer *out)
{
	struct ivnet_ep_peer p[64];
	unsigned int n = ivnet_ep_peers(ep, p, 64), i;

	for (i = 0; i < n; i++) {
		if (p[i].up) {
			if (out)
				*out = p[i];
			return 1;
		}
	}
	return 0;
}

/* Wait up to TIMEOUT_MS until some peer is up (want 1) or none is (0). */
static int wait_peers(struct ivnet_ep *ep, int want, struct ivnet_ep_peer *out)
{
	int tries;

	for (tries = 0; tries < TIMEOUT_MS / 10; tries++) {
		if (peer_up(ep, out) == want)
			return 0;
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	return -ETIMEDOUT;
}

/* Answer frames with the MACs swapped; 0 once `count` are answered and
 * their receiver has left. */
static int echo(struct ivnet_ep *ep, unsigned long count)
{
	struct ivnet_rx_buf b = {.data = frame, .cap = sizeof(frame)};
	unsigned long done = 0;

	while (!count || done < count) {
		struct ivnet_frame f = {.data = frame};
		int n = ivnet_ep_recv_burst(ep, &b, NULL, 1, count ? TIMEOUT_MS : -1);

		if (n <= 0) {
			fprintf(stderr, "echo: %s after %lu frames\n", n ? strerror(-n) : "timeout",
				done);
			return 1;
		}
		f.len = b.len;
		f.meta = b.meta;
		memcpy(frame, frame + ETH_ALEN, ETH_ALEN);
		memcpy(frame + ETH_ALEN, ivnet_ep_mac(ep), ETH_ALEN);
		while (ivnet_ep_send_burst(ep, &f, 1) == 0)
			; /* the ring back is full: the other side is draining it */
		done++;
	}
	/* A peer that leaves takes what it queued with it: stay until the
	 * other side has read its last answer and gone. */
	return count && wait_peers(ep, 0, NULL) ? 1 : 0;
}

/* Frame k: to the peer, from us, then bytes that say k and where they are. */
static uint32_t make_frame(struct ivnet_ep *ep, const uint8_t *dst, unsigned long k)
{
	uint32_t len = IVNET_FRAME_MIN + (uint32_t)(k * 37 % 1500), i;

	memcpy(frame, dst, ETH_ALEN);
	memcpy(frame + ETH_ALEN, ivnet_ep_mac(ep), ETH_ALEN);
	frame[12] = 0x88; /* a local experimental EtherType, 0x88b5 */
	frame[13] = 0xb5;
	for (i = IVNET_FRAME_MIN; i < len; i++)
		frame[i] = (uint8_t)(k * 131 + i);
	return len;
}

/* Send `count` frames one at a time; check each answer byte for byte. */
static int ping(struct ivnet_ep *ep, unsigned long count)
{
	struct ivnet_rx_buf b = {.data = answer, .cap = sizeof(answer)};
	struct ivnet_ep_peer peer;
	unsigned long k;

	if (wait_peers(ep, 1, &peer)) {
		fprintf(stderr, "ping: no peer came up\n");
		return 1;
	}
	for (k = 0; k < count; k++) {
		struct ivnet_frame f = {.data = frame, .len = make_frame(ep, peer.mac, k)};
		int n;

		if (ivnet_ep_send_burst(ep, &f, 1) != 1)
			return fprintf(stderr, "ping: frame %lu not taken\n", k), 1;
		n = ivnet_ep_recv_burst(ep, &b, NULL, 1, TIMEOUT_MS);
		if (n != 1)
			return fprintf(stderr, "ping: no answer to frame %lu\n", k), 1;
		if (b.len != f.len || memcmp(answer, frame + ETH_ALEN, ETH_ALEN) ||
		    memcmp(answer + ETH_ALEN, peer.mac, ETH_ALEN) ||
		    memcmp(answer + 2 * ETH_ALEN, frame + 2 * ETH_ALEN, f.len - 2 * ETH_ALEN))
			return fprintf(stderr, "ping: answer %lu differs\n", k), 1;
	}
	printf("ping: %lu frames to peer %u, every byte back\n", count, peer.id);
	return 0;
}

int main(int argc, char **argv)
{
	char err[IVNET_ERRLEN];
	struct ivnet_ep *ep;
	unsigned long count;
	int ret;

	if (argc < 3 || (strcmp(argv[2], "echo") && strcmp(argv[2], "ping"))) {
		fprintf(stderr, "usage: %s SOCKET echo|ping [COUNT]\n", argv[0]);
		return 2;
	}
	count = argc > 3 ? strtoul(argv[3], NULL, 0) : strcmp(argv[2], "ping") ? 0 : 10;
	ret = ivnet_ep_open(argv[1], &ep, err);
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], err);
		return 1;
	}
	ret = strcmp(argv[2], "echo") ? ping(ep, count) : echo(ep, count);
	ivnet_ep_close(ep);
	return ret;
}

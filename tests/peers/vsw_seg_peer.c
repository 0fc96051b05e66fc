// SPDX-License-Identifier: MIT
/*
 * vsw_seg_peer - a libivnet endpoint on a segment that ivnet-vswitch has
 * joined as its uplink, talking to a MAC outside the segment (a virtio-user
 * port of the switch whose testpmd echoes frames with their MACs swapped):
 *
 *  1. waits for a peer that the broker made the uplink, and checks that it
 *     advertises no offloads;
 *  2. sends a frame with GSO metadata to the outside MAC: libivnet must
 *     refuse it (tx_offload), since the uplink does not take super-packets;
 *  3. sends N numbered frames to the outside MAC (unknown in the segment,
 *     so libivnet hands them to the uplink), each until its echo comes back
 *     from that MAC with the payload intact (a lost frame is sent again).
 *
 * Prints one JSON line: {"uplink":ID,"uplink_features":F,"tx_offload":K,
 * "sent":S,"echoed":E,"resent":R}; exits 1 with {"error":..} on a failure.
 *
 * usage: vsw_seg_peer SOCKET OUTSIDE-MAC [N]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ivnet/ivnet.h>

#define LEN 200
#define TRIES 50
#define ECHO_WAIT_MS 200

static void die(const char *what)
{
	printf("{\"error\":\"%s\"}\n", what);
	fflush(stdout);
	exit(1);
}

static int parse_mac(const char *s, uint8_t m[6])
{
	unsigned int b[6], i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		m[i] = (uint8_t)b[i];
	return 0;
}

static void build(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t seq)
{
	uint32_t i;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, &seq, 4);
	for (i = 18; i < LEN; i++)
		f[i] = (uint8_t)(seq * 31 + i);
}

/* The echo of seq: from the outside MAC to us, the payload intact. */
static int is_echo(const uint8_t *f, uint32_t len, const uint8_t *us, const uint8_t *out,
		   uint32_t seq)
{
	uint32_t got, i;

	if (len != LEN || memcmp(f, us, 6) || memcmp(f + 6, out, 6))
		return 0;
	memcpy(&got, f + 14, 4);
	if (got != seq)
		return 0;
	for (i = 18; i < LEN; i++)
		if (f[i] != (uint8_t)(seq * 31 + i))
			die("echo payload corrupted");
	return 1;
}

static int find_uplink(struct ivnet_ep *ep, struct ivnet_ep_peer *up)
{
	struct ivnet_ep_peer peers[IVNET_PEERS_MAX];
	unsigned int n = ivnet_ep_peers(ep, peers, IVNET_PEERS_MAX), i;

	for (i = 0; i < n; i++) {
		if (peers[i].up && peers[i].uplink) {
			*up = peers[i];
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t tx[LEN], rxb[8][IVNET_FRAME_MAX];
	struct ivnet_rx_buf b[8];
	struct ivnet_ep_peer up;
	struct ivnet_ep_stats st;
	struct ivnet_frame fr;
	struct ivnet_ep *ep;
	char err[IVNET_ERRLEN];
	uint8_t out[6];
	uint32_t n = argc > 3 ? (uint32_t)atoi(argv[3]) : 64, seq, echoed = 0, resent = 0;
	int i, tries;

	if (argc < 3 || parse_mac(argv[2], out) || !n) {
		fprintf(stderr, "usage: vsw_seg_peer SOCKET OUTSIDE-MAC [N]\n");
		return 2;
	}
	if (ivnet_ep_open(argv[1], &ep, err)) {
		fprintf(stderr, "vsw_seg_peer: %s\n", err);
		die("join");
	}
	ivnet_ep_set_wait(ep, IVNET_WAIT_BLOCK, 0);
	for (i = 0; i < 8; i++) {
		b[i].data = rxb[i];
		b[i].cap = sizeof(rxb[i]);
	}
	for (tries = 0; !find_uplink(ep, &up); tries++) {
		if (tries > 1000)
			die("no uplink peer in the segment");
		ivnet_ep_recv_burst(ep, b, NULL, 0, 10);
	}
	if (up.features != 0)
		die("the uplink advertises offloads");

	memset(&fr, 0, sizeof(fr));
	build(tx, out, ivnet_ep_mac(ep), 0);
	fr.data = tx;
	fr.len = LEN;
	fr.meta.gso_type = IVNET_GSO_TCPV4;
	fr.meta.gso_size = 100;
	ivnet_ep_send_burst(ep, &fr, 1);
	ivnet_ep_stats(ep, &st);
	if (st.tx_offload != 1 || st.tx_frames != 0)
		die("a GSO frame was not refused for the uplink");
	memset(&fr.meta, 0, sizeof(fr.meta));

	for (seq = 1; seq <= n; seq++) {
		int done = 0;

		build(tx, out, ivnet_ep_mac(ep), seq);
		for (tries = 0; !done && tries < TRIES; tries++) {
			struct timespec t0, t1;

			resent += tries > 0;
			if (ivnet_ep_send_burst(ep, &fr, 1) != 1)
				continue;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			do {
				int got = ivnet_ep_recv_burst(ep, b, NULL, 8, 20), k;

				if (got < 0)
					die("the broker went away");
				for (k = 0; k < got; k++)
					done |= is_echo(b[k].data, b[k].len, ivnet_ep_mac(ep), out,
							seq);
				clock_gettime(CLOCK_MONOTONIC, &t1);
			} while (!done && (t1.tv_sec - t0.tv_sec) * 1000 +
							  (t1.tv_nsec - t0.tv_nsec) / 1000000 <
						  ECHO_WAIT_MS);
		}
		if (!done)
			die("a frame was never echoed");
		echoed++;
	}
	ivnet_ep_stats(ep, &st);
	printf("{\"uplink\":%u,\"uplink_features\":%u,\"tx_offload\":%llu,\"sent\":%llu,"
	       "\"echoed\":%u,\"resent\":%u}\n",
	       up.id, up.features, (unsigned long long)st.tx_offload,
	       (unsigned long long)st.tx_frames, echoed, resent);
	ivnet_ep_close(ep);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * ep_tool - a libivnet endpoint for the integration tests: joins a segment,
 * streams frames to every peer that is up (unicast by MAC, and now and then
 * a broadcast), checks every frame it receives, and prints JSON lines:
 *
 *   {"event":"joined","id":N,"mac":"..","pid":P}
 *   {"event":"report","id":N,"up":[..],"rx":{"ID":frames,..},"bcast":{..},
 *    "unknown":{"ID":frames,..},"macs":{"ID":"mac",..},"uplinks":[..],
 *    "tx":F,"tx_full":F,"resets":R,"rx_errors":E,"bad":B}
 *   {"event":"error","what":".."}          (then exit 1)
 *   {"event":"broker-gone"}                (then exit 3)
 *
 * Frame: Ethernet header (ethertype 0x88b5), then src id, src link epoch,
 * sequence number and length (u32, u32, u64, u32), then bytes that are a
 * function of (seq, offset). Per (source, its link epoch, unicast or
 * broadcast) the sequence must run without gaps after its first frame.
 *
 * With --unknown it also sends, now and then, a frame to UNKNOWN_MAC, a MAC
 * no peer has: libivnet sends it to the uplink, which counts it under
 * "unknown" (any ep_tool takes frames to that MAC). macs and uplinks are
 * the peer list as libivnet reports it. With --uplink (for a peer the
 * broker made the uplink) a unicast frame to another MAC is counted under
 * "unknown" too: libivnet sends the uplink what it has no peer for, such as
 * frames to a peer that just left.
 *
 * usage: ep_tool SOCKET [--mode busy|block|adaptive] [--max-size N]
 *                [--report-ms MS] [--seconds S] [--unknown] [--uplink]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ivnet/ivnet.h>

#include "peer_clock.h"

#include "ivnet_region.h"

#define HDR 14
#define META 20
#define BURST 8

struct stream {
	uint32_t epoch;
	uint64_t next;
	int started;
};

static uint8_t txbuf[BURST][IVNET_FRAME_MAX], rxbuf[32][IVNET_FRAME_MAX];
/* unknown unicast, as tests/peers/ivnet-hostile's --forge-table counts it */
static const uint8_t UNKNOWN_MAC[6] = {0x0a, 0, 0, 0, 0, 0x01};
static uint64_t rxu[IVNET_PEERS_MAX];
static int is_uplink;

static uint8_t pattern(uint64_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131 + i * 7);
}

static void die(const char *what, uint32_t id)
{
	printf("{\"event\":\"error\",\"what\":\"%s\",\"peer\":%u}\n", what, id);
	fflush(stdout);
	exit(1);
}

static uint32_t build(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t id,
		      uint32_t epoch, uint64_t seq, uint32_t len)
{
	uint32_t i;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + HDR, &id, 4);
	memcpy(f + HDR + 4, &epoch, 4);
	memcpy(f + HDR + 8, &seq, 8);
	memcpy(f + HDR + 16, &len, 4);
	for (i = HDR + META; i < len; i++)
		f[i] = pattern(seq, i);
	return len;
}

/* Check one frame; returns the source's slot in the stream tables. */
static void check(struct ivnet_ep *ep, const struct ivnet_rx_buf *b, uint32_t src,
		  struct stream *uni, struct stream *bc, uint64_t *rx, uint64_t *rxb)
{
	const uint8_t *f = b->data;
	uint32_t id, epoch, len, i;
	struct stream *st;
	uint64_t seq;
	int bcast;

	if (b->len < HDR + META)
		die("short frame", src);
	memcpy(&id, f + HDR, 4);
	memcpy(&epoch, f + HDR + 4, 4);
	memcpy(&seq, f + HDR + 8, 8);
	memcpy(&len, f + HDR + 16, 4);
	bcast = f[0] == 0xff;
	if (id != src || len != b->len)
		die("wrong source or length", src);
	for (i = HDR + META; i < len; i++)
		if (f[i] != pattern(seq, i))
			die("payload", src);
	if (!bcast &&
	    (!memcmp(f, UNKNOWN_MAC, 6) || (is_uplink && memcmp(f, ivnet_ep_mac(ep), 6)))) {
		rxu[src]++; /* its own stream: counted, not sequenced */
		return;
	}
	if (!bcast && memcmp(f, ivnet_ep_mac(ep), 6))
		die("not our MAC", src);
	st = bcast ? &bc[src] : &uni[src];
	/* unicast: no gap; broadcast is best effort: no reordering */
	if (st->started && st->epoch == epoch && (bcast ? seq < st->next : seq != st->next))
		die(bcast ? "broadcast out of order" : "sequence gap", src);
	st->started = 1;
	st->epoch = epoch;
	st->next = seq + 1;
	if (bcast)
		rxb[src]++;
	else
		rx[src]++;
}

static void report(struct ivnet_ep *ep, const uint64_t *rx, const uint64_t *rxb)
{
	struct ivnet_ep_peer peers[IVNET_PEERS_MAX];
	struct ivnet_ep_stats st;
	unsigned int n = ivnet_ep_peers(ep, peers, IVNET_PEERS_MAX), i, k = 0;
	uint32_t id;

	ivnet_ep_stats(ep, &st);
	printf("{\"event\":\"report\",\"id\":%u,\"up\":[", ivnet_ep_id(ep));
	for (i = 0; i < n; i++)
		if (peers[i].up)
			printf("%s%u", k++ ? "," : "", peers[i].id);
	printf("],\"rx\":{");
	for (id = 0, k = 0; id < IVNET_PEERS_MAX; id++)
		if (rx[id])
			printf("%s\"%u\":%llu", k++ ? "," : "", id, (unsigned long long)rx[id]);
	printf("},\"bcast\":{");
	for (id = 0, k = 0; id < IVNET_PEERS_MAX; id++)
		if (rxb[id])
			printf("%s\"%u\":%llu", k++ ? "," : "", id, (unsigned long long)rxb[id]);
	printf("},\"unknown\":{");
	for (id = 0, k = 0; id < IVNET_PEERS_MAX; id++)
		if (rxu[id])
			printf("%s\"%u\":%llu", k++ ? "," : "", id, (unsigned long long)rxu[id]);
	printf("},\"macs\":{");
	for (i = 0; i < n; i++) {
		const uint8_t *m = peers[i].mac;

		printf("%s\"%u\":\"%02x:%02x:%02x:%02x:%02x:%02x\"", i ? "," : "", peers[i].id,
		       m[0], m[1], m[2], m[3], m[4], m[5]);
	}
	printf("},\"uplinks\":[");
	for (i = 0, k = 0; i < n; i++)
		if (peers[i].uplink)
			printf("%s%u", k++ ? "," : "", peers[i].id);
	printf("],\"tx\":%llu,\"tx_full\":%llu,\"resets\":%llu,\"rx_errors\":%llu,"
	       "\"doorbells\":%llu,\"wakeups\":%llu}\n",
	       (unsigned long long)st.tx_frames, (unsigned long long)st.tx_full,
	       (unsigned long long)st.peer_resets, (unsigned long long)st.rx_errors,
	       (unsigned long long)st.doorbells, (unsigned long long)st.wakeups);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static struct stream uni[IVNET_PEERS_MAX], bc[IVNET_PEERS_MAX];
	static uint64_t rx[IVNET_PEERS_MAX], rxb[IVNET_PEERS_MAX], seq[IVNET_PEERS_MAX];
	static const struct option opts[] = {
		{"mode", required_argument, NULL, 'm'},
		{"max-size", required_argument, NULL, 's'},
		{"report-ms", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 't'},
		{"unknown", no_argument, NULL, 'u'},
		{"uplink", no_argument, NULL, 'l'},
		{NULL, 0, NULL, 0},
	};
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint32_t max_size = 9000, report_ms = 200, my_epoch;
	double seconds = 0, start, last_report = 0;
	enum ivnet_ep_wait mode = IVNET_WAIT_ADAPTIVE;
	char err[IVNET_ERRLEN];
	struct ivnet_ep *ep;
	uint64_t bseq = 0, useq = 0, round = 0;
	int unknown = 0;
	const uint8_t *mac;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mode = !strcmp(optarg, "busy")	  ? IVNET_WAIT_BUSY
			       : !strcmp(optarg, "block") ? IVNET_WAIT_BLOCK
							  : IVNET_WAIT_ADAPTIVE;
			break;
		case 's':
			max_size = (uint32_t)atoi(optarg);
			break;
		case 'r':
			report_ms = (uint32_t)atoi(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'u':
			unknown = 1;
			break;
		case 'l':
			is_uplink = 1;
			break;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc || max_size < HDR + META || max_size > IVNET_FRAME_MAX) {
		fprintf(stderr, "usage: ep_tool SOCKET [--mode M] [--max-size N] [--report-ms MS] "
				"[--seconds S] [--unknown] [--uplink]\n");
		return 2;
	}
	peer_stop_on_signals();
	if (ivnet_ep_open(argv[optind], &ep, err)) {
		printf("{\"event\":\"error\",\"what\":\"open: %s\"}\n", err);
		return 1;
	}
	ivnet_ep_set_wait(ep, mode, 50);
	mac = ivnet_ep_mac(ep);
	my_epoch = ivnet_region_peer(ivnet_ep_region(ep), ivnet_ep_id(ep))->link.epoch;
	printf("{\"event\":\"joined\",\"id\":%u,\"mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\","
	       "\"pid\":%d,\"epoch\":%u}\n",
	       ivnet_ep_id(ep), mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], (int)getpid(),
	       my_epoch);
	fflush(stdout);

	start = now();
	while (!stop && (seconds <= 0 || now() - start < seconds)) {
		struct ivnet_ep_peer peers[IVNET_PEERS_MAX];
		struct ivnet_rx_buf b[32];
		uint32_t src[32];
		unsigned int np = ivnet_ep_peers(ep, peers, IVNET_PEERS_MAX), i, k;
		int got;

		for (i = 0; i < np; i++) {
			struct ivnet_frame f[BURST];
			uint32_t id = peers[i].id;
			unsigned int sent;

			if (!peers[i].up)
				continue;
			for (k = 0; k < BURST; k++) {
				uint64_t s = seq[id] + k;
				uint32_t len =
					HDR + META +
					(uint32_t)(s * 2654435761u % (max_size - HDR - META + 1));

				f[k].data = txbuf[k];
				f[k].len = build(txbuf[k], peers[i].mac, mac, ivnet_ep_id(ep),
						 my_epoch, s, len);
				memset(&f[k].meta, 0, sizeof(f[k].meta));
			}
			/* frames queue in order; those that did not fit are resent */
			sent = ivnet_ep_send_burst(ep, f, BURST);
			seq[id] += sent;
		}
		if (round++ % 64 == 0) {
			struct ivnet_frame f = {.data = txbuf[0]};

			f.len = build(txbuf[0], bcast, mac, ivnet_ep_id(ep), my_epoch, bseq, 200);
			/* a broadcast counts as sent if any peer took it: only then
			 * does its sequence number advance */
			if (ivnet_ep_send_burst(ep, &f, 1))
				bseq++;
		}
		if (unknown && round % 16 == 0) {
			struct ivnet_frame f = {.data = txbuf[0]};

			f.len = build(txbuf[0], UNKNOWN_MAC, mac, ivnet_ep_id(ep), my_epoch, useq,
				      200);
			useq += ivnet_ep_send_burst(ep, &f, 1);
		}
		for (k = 0; k < 32; k++)
			b[k] = (struct ivnet_rx_buf){.data = rxbuf[k], .cap = IVNET_FRAME_MAX};
		got = ivnet_ep_recv_burst(ep, b, src, 32, 1);
		if (got < 0) {
			printf("{\"event\":\"broker-gone\"}\n");
			fflush(stdout);
			ivnet_ep_close(ep);
			return 3;
		}
		for (k = 0; k < (unsigned int)got; k++)
			check(ep, &b[k], src[k], uni, bc, rx, rxb);
		if ((now() - last_report) * 1000 >= report_ms) {
			report(ep, rx, rxb);
			last_report = now();
		}
	}
	report(ep, rx, rxb);
	ivnet_ep_close(ep);
	return 0;
}

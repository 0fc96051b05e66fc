// SPDX-License-Identifier: MIT
/*
 * icmp_probe - a libivnet endpoint that pings a guest's ivnet0 with IPv4
 * echo requests of a chosen size, written whole into one frame (no
 * fragmentation, no offload metadata), answering the guest's ARP for its own
 * address. For the receive checks of the guest driver (e2e guest_net `mtu`):
 * a frame above the receiver's MTU must be dropped and counted, not handed
 * to its stack.
 *
 * At the end, one JSON line on stdout: {"id":N,"sent":S,"replies":R}.
 * Exit status 0, 1 if it could not join or the peer never came up, 2 for a
 * usage error.
 *
 * usage: icmp_probe SOCKET --peer ID --to IP --from IP --size BYTES
 *                   [--count N] [--wait S]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ivnet/ivnet.h>

#include "peer_clock.h"

#define ETH_HDR 14
#define IP_HDR 20
#define ICMP_HDR 8
#define ETHERTYPE_IP 0x0800
#define ETHERTYPE_ARP 0x0806
#define ECHO_ID 0x1c3b

struct probe {
	struct ivnet_ep *ep;
	uint32_t peer;
	uint8_t peer_mac[6];
	uint32_t to, from; /* network order */
	unsigned int size, count, replies;
	double wait;
};

static uint8_t frame[IVNET_FRAME_MAX], rx[16][IVNET_FRAME_MAX];

static void usage(void)
{
	fprintf(stderr, "usage: icmp_probe SOCKET --peer ID --to IP --from IP --size BYTES "
			"[--count N] [--wait S]\n");
	exit(2);
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void eth_header(struct probe *pr, uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, ivnet_ep_mac(pr->ep), 6);
	put16(f + 12, htons(type));
}

static void send_frame(struct probe *pr, const uint8_t *f, uint32_t len)
{
	struct ivnet_frame out = {.data = f, .len = len};

	while (ivnet_ep_send_burst(pr->ep, &out, 1) == 0)
		;
}

/* An echo request whose IPv4 packet is size bytes, DF set. */
static void send_echo(struct probe *pr, uint16_t seq)
{
	uint8_t *ip = frame + ETH_HDR, *icmp = ip + IP_HDR;
	unsigned int i;

	eth_header(pr, frame, pr->peer_mac, ETHERTYPE_IP);
	memset(ip, 0, IP_HDR);
	ip[0] = 0x45;
	put16(ip + 2, htons((uint16_t)pr->size));
	put16(ip + 4, htons(seq));
	put16(ip + 6, htons(0x4000));
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, &pr->from, 4);
	memcpy(ip + 16, &pr->to, 4);
	put16(ip + 10, csum(ip, IP_HDR));
	memset(icmp, 0, ICMP_HDR);
	icmp[0] = 8;
	put16(icmp + 4, htons(ECHO_ID));
	put16(icmp + 6, htons(seq));
	for (i = IP_HDR + ICMP_HDR; i < pr->size; i++)
		ip[i] = (uint8_t)(i * 7 + seq);
	put16(icmp + 2, csum(icmp, pr->size - IP_HDR));
	send_frame(pr, frame, ETH_HDR + pr->size);
}

/* The guest asks who has our address: we do. */
static void answer_arp(struct probe *pr, const uint8_t *f, uint32_t len)
{
	uint8_t out[ETH_HDR + 28];
	const uint8_t *a = f + ETH_HDR;

	if (len < sizeof(out) || ntohs(*(const uint16_t *)(a + 6)) != 1 ||
	    memcmp(a + 24, &pr->from, 4))
		return;
	eth_header(pr, out, a + 8, ETHERTYPE_ARP);
	memcpy(out + ETH_HDR, a, 6); /* htype, ptype, hlen, plen */
	put16(out + ETH_HDR + 6, htons(2));
	memcpy(out + ETH_HDR + 8, ivnet_ep_mac(pr->ep), 6);
	memcpy(out + ETH_HDR + 14, &pr->from, 4);
	memcpy(out + ETH_HDR + 18, a + 8, 10); /* the asker's MAC and address */
	send_frame(pr, out, sizeof(out));
}

/* An echo reply to us, or its first fragment. */
static int is_reply(const struct probe *pr, const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + ETH_HDR;

	if (len < ETH_HDR + IP_HDR + ICMP_HDR || ip[9] != 1 || memcmp(ip + 16, &pr->from, 4) ||
	    (ntohs(*(const uint16_t *)(ip + 6)) & 0x1fff))
		return 0;
	return ip[IP_HDR] == 0 && ntohs(*(const uint16_t *)(ip + IP_HDR + 4)) == ECHO_ID;
}

static void receive_for(struct probe *pr, double seconds)
{
	struct ivnet_rx_buf b[16];
	double end = now() + seconds;
	int i, n;

	for (i = 0; i < 16; i++) {
		b[i].data = rx[i];
		b[i].cap = sizeof(rx[i]);
	}
	while (now() < end) {
		n = ivnet_ep_recv_burst(pr->ep, b, NULL, 16, 50);
		for (i = 0; i < n; i++) {
			uint16_t type = ntohs(*(const uint16_t *)(rx[i] + 12));

			if (type == ETHERTYPE_ARP)
				answer_arp(pr, rx[i], b[i].len);
			else if (type == ETHERTYPE_IP && is_reply(pr, rx[i], b[i].len))
				pr->replies++;
		}
	}
}

static int peer_mac(struct probe *pr)
{
	struct ivnet_ep_peer peers[IVNET_PEERS_MAX];
	unsigned int i, n = ivnet_ep_peers(pr->ep, peers, IVNET_PEERS_MAX);

	for (i = 0; i < n; i++)
		if (peers[i].id == pr->peer) {
			memcpy(pr->peer_mac, peers[i].mac, 6);
			return 0;
		}
	return -1;
}

static void parse(int argc, char **argv, struct probe *pr)
{
	static const struct option opts[] = {
		{"peer", required_argument, NULL, 'p'},
		{"to", required_argument, NULL, 't'},
		{"from", required_argument, NULL, 'f'},
		{"size", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'c'},
		{"wait", required_argument, NULL, 'w'},
		{NULL, 0, NULL, 0},
	};
	int c, have = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		have |= c == 'p' ? 1 : c == 't' ? 2 : c == 'f' ? 4 : c == 's' ? 8 : 0;
		if (c == 'p')
			pr->peer = (uint32_t)strtoul(optarg, NULL, 0);
		else if ((c == 't' && inet_pton(AF_INET, optarg, &pr->to) != 1) ||
			 (c == 'f' && inet_pton(AF_INET, optarg, &pr->from) != 1))
			usage();
		else if (c == 's')
			pr->size = (unsigned int)strtoul(optarg, NULL, 0);
		else if (c == 'c')
			pr->count = (unsigned int)strtoul(optarg, NULL, 0);
		else if (c == 'w')
			pr->wait = strtod(optarg, NULL);
		else if (c == '?')
			usage();
	}
	if (have != 15 || optind != argc - 1 || pr->size < IP_HDR + ICMP_HDR ||
	    pr->size > IVNET_FRAME_MAX - ETH_HDR || pr->count == 0 || pr->wait <= 0)
		usage();
}

int main(int argc, char **argv)
{
	struct probe pr = {.count = 3, .wait = 2};
	char err[IVNET_ERRLEN];
	unsigned int i;

	parse(argc, argv, &pr);
	if (ivnet_ep_open(argv[optind], &pr.ep, err) < 0) {
		fprintf(stderr, "icmp_probe: %s\n", err);
		return 1;
	}
	if (ivnet_ep_wait_peer(pr.ep, pr.peer, 30000) || peer_mac(&pr)) {
		fprintf(stderr, "icmp_probe: peer %u never came up\n", pr.peer);
		ivnet_ep_close(pr.ep);
		return 1;
	}
	ivnet_ep_set_wait(pr.ep, IVNET_WAIT_BLOCK, 0);
	for (i = 0; i < pr.count; i++) {
		send_echo(&pr, (uint16_t)(i + 1));
		receive_for(&pr, pr.wait);
	}
	printf("{\"id\":%u,\"sent\":%u,\"replies\":%u}\n", ivnet_ep_id(pr.ep), pr.count,
	       pr.replies);
	ivnet_ep_close(pr.ep);
	return 0;
}

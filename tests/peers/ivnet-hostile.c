// SPDX-License-Identifier: MIT
/*
 * ivnet-hostile - a hostile peer, for testing that a peer survives one.
 *
 * It joins the segment with libivnet (so it is a real peer: an id, a MAC,
 * its link up), then, for --seconds, attacks ONE target peer through the
 * only shared memory a peer legitimately writes that the target reads:
 *
 *   the ring hostile -> target   prod.head (random, and just out of range),
 *                                descriptors (random bytes, and crafted
 *                                ones: each validation rule broken in turn,
 *                                exposed at the target's tail), slot bytes
 *                                (also under frames already published), the
 *                                consumer's cons.tail and wake.armed lines;
 *   the ring target -> hostile   its consumer side: cons.tail, wake.armed;
 *
 * and sends well-formed-but-nonsense frames: valid descriptors with random
 * lengths and offload fields (checksum, GSO), random bytes or Ethernet/ARP/
 * IPv4/IPv6/TCP/UDP headers with garbage in them, some through libivnet to
 * the target's MAC (which rings the target's rx doorbell: armed is set first,
 * so every burst rings), some written straight into the ring with any
 * destination MAC (broadcast, multicast, unknown): they reach the target
 * only. Each 2 s cycle ends with 0.8 s of frames through libivnet alone (see
 * CYCLE_MS). With --target-ip, IPv4 and ARP nonsense is often addressed to
 * the target's address. No other ring and no peer-table entry is ever written: every store
 * goes through zone_check(), which aborts on anything outside those.
 *
 * --invalid-only: every descriptor it writes (after clearing the ring's) is
 * a PAD or carries an unknown flag, so that no descriptor the target reads,
 * even one mixed from two writes, passes validation: nothing it does may
 * deliver a frame. For a target that checks every frame it receives
 * (tests/peers/ep_tool), where any delivered frame would be a bug.
 *
 * --flood-invalid: instead of the above, keep the ring towards the target
 * full of invalid 1-slot frames (an unknown flag), refilled as fast as the
 * target frees slots, and ring its rx doorbell whenever it armed: a
 * receiver that does not count what it drops against its budget never
 * leaves its receive loop (interrupt handler or poll).
 *
 * --slow-consumer: instead of the above, be a consumer that crawls: free
 * SLOW_SLOTS slots of the ring from the target every SLOW_MS, never arm it,
 * take nothing else. --slow-consumer=rewind: each period, move the tail
 * twice that far ahead, then half a period later back by SLOW_SLOTS. A
 * sender that waits for this peer's room must not stop its traffic to the
 * others.
 *
 * At the end, one JSON line on stdout:
 *   {"self":H,"target":T,"seed":X,"seconds":S,"scribbles":N,"frames":M,...}
 * Exit status 0, 1 if it could not join or the target was not up, 2 for a
 * usage error, 3 if the broker went away during the attack.
 *
 * usage: ivnet-hostile SOCKET --target ID [--seconds S] [--rate N] [--seed X]
 *                      [--wait S] [--target-ip IP] [--invalid-only]
 *                      [--flood-invalid] [--forge-table]
 *                      [--slow-consumer[=rewind]]
 *
 * --forge-table: no ring attack; see forge_table() below.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ivnet/ivnet.h>

#include "peer_clock.h"

#include "ep_internal.h" /* ep_ring(): a doorbell whether the target armed or not */
#include "ivnet_region.h"
#include "ivnet_ring.h"

#define BURST 4

enum kind {
	K_HEAD_RANDOM,	 /* prod.head = random */
	K_HEAD_NEAR,	 /* prod.head = tail + [-2n, 2n] */
	K_DESC_RANDOM,	 /* 16 random bytes over a random descriptor */
	K_DESC_AT_TAIL,	 /* random or crafted descriptor at the target's tail, exposed */
	K_SLOT_RANDOM,	 /* random bytes over random slots */
	K_SLOT_AT_TAIL,	 /* random bytes over what the target is about to read */
	K_CONS_LINES,	 /* ring hostile->target: cons.tail, wake.armed */
	K_RX_TAIL,	 /* ring target->hostile: cons.tail */
	K_RX_ARMED,	 /* ring target->hostile: wake.armed */
	K_FRAMES_EP,	 /* nonsense frames through libivnet, doorbell forced */
	K_FRAMES_DIRECT, /* nonsense frames written into the ring directly */
	K_COUNT
};

static const char *const kind_name[K_COUNT] = {
	"head_random", "head_near", "desc_random", "desc_at_tail", "slot_random",   "slot_at_tail",
	"cons_lines",  "rx_tail",   "rx_armed",	   "frames_ep",	   "frames_direct",
};

/*
 * Scribbles soon leave libivnet's view of our ring out of step with the
 * target's (it then sees the ring as full and sends nothing, so rings no
 * doorbell), until the target, having read the head libivnet re-publishes
 * a few times, adopts it. So each cycle ends with a quiet spell of frames
 * through libivnet only, which lets the ring heal and doorbells flow.
 */
#define CYCLE_MS 2000u
#define QUIET_MS 800u

/* Relative frequency of each kind (outside the quiet spells). */
static const unsigned int kind_weight[K_COUNT] = {
	3, 4, 6, 10, 4, 4, 2, 3, 2, 14, 8,
};

struct hostile {
	struct ivnet_ep *ep;
	const struct ivnet_layout *l;
	uint8_t *base;
	uint32_t self, target;
	uint8_t *tx;	  /* ring hostile -> target */
	uint8_t *rx;	  /* ring target -> hostile */
	uint8_t tmac[6];  /* the target's MAC */
	uint32_t tip;	  /* the target's IPv4 address (host order), 0: unknown */
	int invalid_only; /* never write a descriptor that validates */
	int flood;	  /* --flood-invalid */
	int slow;	  /* --slow-consumer: 1, =rewind: 2 */
	uint64_t rng;
	uint64_t count[K_COUNT];
	uint64_t scribbles;	/* stores of garbage into shared memory */
	uint64_t frames;	/* nonsense frames queued, either way: */
	uint64_t frames_ep;	/* ... through libivnet */
	uint64_t frames_direct; /* ... straight into the ring */
	uint64_t rx_drained;
	uint64_t slow_freed;   /* slots freed in the ring from the target */
	uint64_t slow_rewinds; /* times its tail went back */
};

static uint8_t frame_buf[BURST][IVNET_FRAME_MAX];
static uint8_t rx_buf[32][IVNET_FRAME_MAX];

/* ---------------------------------------------------------------- random */

static uint64_t rnd64(struct hostile *h)
{
	/* xorshift64* */
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545f4914f6cdd1dULL;
}

static uint32_t rnd32(struct hostile *h)
{
	return (uint32_t)(rnd64(h) >> 32);
}

/* Uniform in [0, n), n > 0. */
static uint32_t below(struct hostile *h, uint32_t n)
{
	return (uint32_t)(((rnd64(h) >> 32) * n) >> 32);
}

static void rnd_bytes(struct hostile *h, uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t v = rnd64(h);

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	while (n--)
		*p++ = (uint8_t)rnd64(h);
}

/* ------------------------------------------------------ where we may write */

static uint64_t ring_bytes(const struct hostile *h)
{
	return h->l->ring_slots_off + (uint64_t)h->l->slot_count * h->l->slot_size;
}

/*
 * Every store into shared memory is checked here first: inside the ring
 * hostile -> target, or on the consumer lines (cons, wake) of the ring
 * target -> hostile. Anything else is a bug in this tool: abort.
 */
static void zone_check(const struct hostile *h, const void *p, size_t n)
{
	const uint8_t *b = p;
	const uint8_t *rx_lines = h->rx + offsetof(struct ivnet_ring_ctrl, cons);
	const uint8_t *rx_end = h->rx + offsetof(struct ivnet_ring_ctrl, reserved);

	if (b >= h->tx && b + n <= h->tx + ring_bytes(h) && b + n >= b)
		return;
	if (b >= rx_lines && b + n <= rx_end && b + n >= b)
		return;
	fprintf(stderr, "ivnet-hostile: refusing a store at region offset %#llx (+%zu)\n",
		(unsigned long long)(b - h->base), n);
	abort();
}

static void put32(struct hostile *h, uint32_t *p, uint32_t v)
{
	zone_check(h, p, sizeof(*p));
	/* release: whatever we wrote before is visible with it, as a real
	 * producer's head would be */
	ivnet_store_release(p, v);
	h->scribbles++;
}

static void put_bytes(struct hostile *h, void *dst, const void *src, size_t n)
{
	zone_check(h, dst, n);
	memcpy(dst, src, n);
	h->scribbles++;
}

static struct ivnet_ring_ctrl *tx_ctrl(const struct hostile *h)
{
	return (struct ivnet_ring_ctrl *)h->tx;
}

static struct ivnet_ring_ctrl *rx_ctrl(const struct hostile *h)
{
	return (struct ivnet_ring_ctrl *)h->rx;
}

static struct ivnet_desc *tx_desc(const struct hostile *h, uint32_t pos)
{
	return (struct ivnet_desc *)(h->tx + h->l->ring_desc_off) + (pos & (h->l->slot_count - 1));
}

static uint8_t *tx_slot(const struct hostile *h, uint32_t pos)
{
	return h->tx + h->l->ring_slots_off +
	       (size_t)(pos & (h->l->slot_count - 1)) * h->l->slot_size;
}

/* The target's (published) consumer index on our ring. */
static uint32_t target_tail(const struct hostile *h)
{
	return ivnet_load_acquire(&tx_ctrl(h)->cons.tail);
}

/* ------------------------------------------------------- descriptors */

/*
 * --invalid-only: every descriptor we write is a PAD or carries this unknown
 * flag. The target reads a descriptor field by field, so it may combine the
 * fields of two of our writes; since flags is one field, no combination can
 * pass validation either.
 */
#define POISON_FLAG 0x8000u

static void put_desc(struct hostile *h, uint32_t pos, struct ivnet_desc d)
{
	struct ivnet_desc *s = tx_desc(h, pos);

	if (h->invalid_only && !(d.flags & IVNET_DESC_F_PAD))
		d.flags |= POISON_FLAG;
	zone_check(h, s, sizeof(*s));
	/* field by field, as a producer writes them: no field is torn */
	ivnet_store_relaxed(&s->len, d.len);
	ivnet_store_relaxed(&s->flags, d.flags);
	ivnet_store_relaxed(&s->gso_type, d.gso_type);
	ivnet_store_relaxed(&s->reserved, d.reserved);
	ivnet_store_relaxed(&s->gso_size, d.gso_size);
	ivnet_store_relaxed(&s->hdr_len, d.hdr_len);
	ivnet_store_relaxed(&s->csum_start, d.csum_start);
	ivnet_store_relaxed(&s->csum_offset, d.csum_offset);
	h->scribbles++;
}

/* ---------------------------------------------------------- nonsense */

static const uint8_t gso_types[] = {
	IVNET_GSO_NONE,
	IVNET_GSO_TCPV4,
	IVNET_GSO_UDP,
	IVNET_GSO_TCPV6,
	IVNET_GSO_UDP_L4,
	IVNET_GSO_TCPV4 | IVNET_GSO_ECN,
	IVNET_GSO_TCPV6 | IVNET_GSO_ECN,
};

/*
 * GSO that passes validation (abi/ivnet_ring_pvt.h): checksum partial with
 * the field where the transport has it, anywhere in the frame, any segment
 * size from the smallest allowed (UDP: big enough for its segment limit).
 */
static void nonsense_gso(struct hostile *h, struct ivnet_meta *m, uint32_t len)
{
	uint8_t t = gso_types[1 + below(h, sizeof(gso_types) - 1)];
	uint32_t base = t & ~IVNET_GSO_ECN,
		 off = base == IVNET_GSO_TCPV4 || base == IVNET_GSO_TCPV6 ? 16 : 6;
	uint32_t room = len - off - 2; /* the last csum_start that fits */

	if (len < off + 2)
		return;
	m->gso_type = t;
	m->gso_size = (uint16_t)(IVNET_GSO_MIN_SIZE +
				 below(h, below(h, 2) ? 64 : 0xffff - IVNET_GSO_MIN_SIZE));
	if (base == IVNET_GSO_UDP_L4 && m->gso_size < len / 128 + 1)
		m->gso_size = (uint16_t)(len / 128 + 1);
	m->hdr_len = (uint16_t)below(h, (len < 0xffff ? len : 0xffff) + 1);
	m->flags = IVNET_DESC_F_CSUM_PARTIAL;
	m->csum_start = (uint16_t)below(h, (room < 0xffff ? room : 0xfffe) + 1);
	m->csum_offset = (uint16_t)off;
}

/* Offload fields that pass validation for a frame of len bytes, but mean
 * nothing (or lie) about what the frame holds. */
static void nonsense_meta(struct hostile *h, struct ivnet_meta *m, uint32_t len)
{
	memset(m, 0, sizeof(*m));
	switch (below(h, 4)) {
	case 0: /* none */
		break;
	case 1: /* checksum: anywhere it fits */
		m->flags = IVNET_DESC_F_CSUM_PARTIAL;
		m->csum_start = (uint16_t)below(h, len - 1 < 0xffff ? len - 1 : 0xffff);
		m->csum_offset = (uint16_t)below(h, len - 1 - m->csum_start);
		break;
	case 2: /* "already checked" */
		m->flags = IVNET_DESC_F_CSUM_VALID;
		break;
	default: /* GSO of any kind, any segment size, on any bytes */
		nonsense_gso(h, m, len);
		break;
	}
}

/* Offload fields that fail validation, one rule broken (for any len). They
 * are written by ivnet_tx_reserve(), not put_desc(): poisoned here. */
static void invalid_meta(struct hostile *h, struct ivnet_meta *m, uint32_t len)
{
	memset(m, 0, sizeof(*m));
	switch (below(h, 5)) {
	case 0:
		m->flags = (uint16_t)(0x8 << below(h, 12)); /* an unknown flag */
		break;
	case 1: /* checksum field outside the frame */
		m->flags = IVNET_DESC_F_CSUM_PARTIAL;
		if (len > 0xffff) {
			m->csum_start = 0xffff;
			m->csum_offset = 0xffff;
		} else {
			m->csum_start = (uint16_t)(len - 1);
			m->csum_offset = (uint16_t)(1 + below(h, 0xfffe));
		}
		break;
	case 2:
		m->hdr_len =
			(uint16_t)(len >= 0xffff ? 0xffff : len + 1); /* headers past the end */
		if (len >= 0xffff)
			m->flags = 0x40;
		break;
	case 3:
		m->gso_type = (uint8_t)(0x06 + below(h, 0x7a)); /* an unknown GSO type */
		m->gso_size = (uint16_t)rnd32(h);
		break;
	default:
		m->gso_type = gso_types[1 + below(h, sizeof(gso_types) - 1)]; /* GSO, size 0 */
		break;
	}
	if (h->invalid_only)
		m->flags |= POISON_FLAG; /* see put_desc() */
}

static uint32_t ipv4_ll(struct hostile *h)
{
	/* 169.254.99.X: the e2e guests' link-local subnet */
	return (169u << 24) | (254u << 16) | (99u << 8) | below(h, 256);
}

/* An IPv4 destination: the target's address (when known) half the time. */
static uint32_t ipv4_dst(struct hostile *h)
{
	return h->tip && below(h, 2) ? h->tip : ipv4_ll(h);
}

/* The IPv4 header checksum of n bytes (n even). */
static uint16_t ipv4_csum(const uint8_t *p, uint32_t n)
{
	uint32_t sum = 0, i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v);
}

/*
 * A frame of len bytes (>= 14): random bytes, or headers a stack will parse
 * (ARP, IPv4, IPv6 with TCP, UDP or ICMP) with garbage in some fields.
 * dst: the destination MAC.
 */
static void nonsense_frame(struct hostile *h, uint8_t *f, uint32_t len, const uint8_t *dst)
{
	uint32_t l3 = len - 14, t = below(h, 6);

	rnd_bytes(h, f, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, ivnet_ep_mac(h->ep), 6);
	if (t == 0 || l3 < 28) {
		return; /* random ethertype and bytes */
	} else if (t == 1) {
		/* ARP about the link-local subnet, from random MACs */
		put_be16(f + 12, 0x0806);
		put_be16(f + 14, below(h, 4) ? 1 : rnd32(h)); /* htype */
		put_be16(f + 16, 0x0800);
		f[18] = below(h, 4) ? 6 : (uint8_t)rnd32(h);
		f[19] = below(h, 4) ? 4 : (uint8_t)rnd32(h);
		put_be16(f + 20, 1 + below(h, 2)); /* request or reply */
		put_be32(f + 28, ipv4_ll(h));
		put_be32(f + 38, ipv4_dst(h));
	} else if (t <= 3) {
		/* IPv4: sometimes sane lengths, sometimes lies */
		uint32_t ihl = below(h, 4) ? 5 : below(h, 16);
		uint8_t protos[] = {6, 17, 1, (uint8_t)rnd32(h)};

		put_be16(f + 12, 0x0800);
		f[14] = (uint8_t)(0x40 | ihl);
		put_be16(f + 16, below(h, 2) ? l3 : rnd32(h));
		f[20] = below(h, 2) ? 0x40 : f[20]; /* DF, or random fragment bits */
		f[22] = (uint8_t)(1 + below(h, 64));
		f[23] = protos[below(h, 4)];
		put_be32(f + 26, ipv4_ll(h));
		put_be32(f + 30, below(h, 4) ? ipv4_dst(h) : 0xa9fe63ffu);
		if (l3 >= 40 && f[23] == 6)
			f[14 + 20 + 12] = (uint8_t)((5 + below(h, 11)) << 4); /* TCP doff */
		/* a right header checksum mostly: then the nonsense goes deeper */
		if (ihl >= 5 && ihl * 4 <= l3 && below(h, 4)) {
			f[24] = f[25] = 0;
			put_be16(f + 24, ipv4_csum(f + 14, ihl * 4));
		}
	} else {
		/* IPv6 */
		uint8_t nh[] = {6, 17, 58, 0, 44, (uint8_t)rnd32(h)};

		put_be16(f + 12, 0x86dd);
		f[14] = 0x60;
		if (l3 >= 40) {
			put_be16(f + 18, below(h, 2) ? l3 - 40 : rnd32(h));
			f[20] = nh[below(h, sizeof(nh))];
			f[21] = 64;
			/* fe80::/64 link-local addresses; to the target's
			 * (from its MAC, EUI-64) half the time */
			memset(f + 22, 0, 32);
			f[22] = 0xfe;
			f[23] = 0x80;
			f[38] = 0xfe;
			f[39] = 0x80;
			rnd_bytes(h, f + 30, 8);
			if (below(h, 2)) {
				f[46] = h->tmac[0] ^ 2;
				f[47] = h->tmac[1];
				f[48] = h->tmac[2];
				f[49] = 0xff;
				f[50] = 0xfe;
				memcpy(f + 51, h->tmac + 3, 3);
			} else {
				rnd_bytes(h, f + 46, 8);
			}
		}
	}
}

/* A length that spans 1 slot, a few, or up to the largest frame. */
static uint32_t nonsense_len(struct hostile *h)
{
	uint32_t max = h->l->max_frame;

	switch (below(h, 4)) {
	case 0:
		return IVNET_FRAME_MIN + below(h, 64);
	case 1:
		return IVNET_FRAME_MIN + below(h, 1500);
	case 2:
		return IVNET_FRAME_MIN + below(h, 9000 < max ? 9000 : max - IVNET_FRAME_MIN);
	default:
		return IVNET_FRAME_MIN + below(h, max - IVNET_FRAME_MIN + 1);
	}
}

/* --------------------------------------------------------------- attacks */

static void head_random(struct hostile *h)
{
	put32(h, &tx_ctrl(h)->prod.head, rnd32(h));
}

static void head_near(struct hostile *h)
{
	uint32_t n = h->l->slot_count;

	put32(h, &tx_ctrl(h)->prod.head, target_tail(h) + below(h, 4 * n + 1) - 2 * n);
}

static void desc_random(struct hostile *h)
{
	uint32_t pos = below(h, h->l->slot_count);
	struct ivnet_desc d;

	rnd_bytes(h, (uint8_t *)&d, sizeof(d));
	put_desc(h, pos, d);
}

/*
 * A descriptor at the target's tail that breaks one rule (or, unless
 * --invalid-only, one that passes with nonsense in it), then a head that
 * exposes it.
 */
static void desc_at_tail(struct hostile *h)
{
	uint32_t n = h->l->slot_count, t = target_tail(h), pos = t & (n - 1), k, head;
	uint32_t room = n - pos, max = h->l->max_frame, ss = h->l->slot_size;
	struct ivnet_desc d;
	struct ivnet_meta m;
	int with_meta = 0;

	memset(&d, 0, sizeof(d));
	d.len = IVNET_FRAME_MIN + below(h, max - IVNET_FRAME_MIN + 1);
	k = ivnet_frame_slots(d.len, ss);
	head = t + k;
	switch (below(h, 10)) {
	case 0: /* too short, or empty */
		d.len = below(h, IVNET_FRAME_MIN);
		head = t + 1 + below(h, 4);
		break;
	case 1: /* too long */
		d.len = max + 1 + (below(h, 2) ? rnd32(h) % (UINT32_MAX - max) : 0);
		head = t + 1 + below(h, n);
		break;
	case 2: /* more slots than were published */
		if (k == 1) {
			d.len = ss + 1 <= max ? ss + 1 : 0;
			k = 2;
		}
		head = t + k - 1;
		break;
	case 3: /* a frame that would wrap around the end */
		if (room < n && room * ss + 1 <= max) {
			d.len = room * ss + 1 + below(h, ss);
			if (d.len > max)
				d.len = max;
			head = t + ivnet_frame_slots(d.len, ss);
		} else {
			d.len = 0;
		}
		break;
	case 4: /* PAD with other flags, or PAD beyond what was published */
		d.flags = IVNET_DESC_F_PAD;
		if (below(h, 2) || room == 1)
			d.flags |= (uint16_t)(IVNET_DESC_F_CSUM_PARTIAL << below(h, 15));
		d.len = rnd32(h);
		head = t + (room > 1 ? below(h, room - 1) + 1 : 1);
		break;
	case 5: /* a valid PAD: the target skips to slot 0 */
		d.flags = IVNET_DESC_F_PAD;
		head = t + room + below(h, 3);
		break;
	case 6:
	case 7: /* one offload field out of range */
		invalid_meta(h, &m, d.len);
		with_meta = 1;
		break;
	default: /* valid, and nonsense (never with --invalid-only) */
		with_meta = 1;
		if (h->invalid_only) {
			invalid_meta(h, &m, d.len);
			break;
		}
		d.len = nonsense_len(h);
		nonsense_meta(h, &m, d.len);
		k = ivnet_frame_slots(d.len, ss);
		head = t + k;
		if (pos + k <= n) {
			uint8_t buf[2048];
			uint32_t len = d.len < sizeof(buf) ? d.len : (uint32_t)sizeof(buf);

			nonsense_frame(h, buf, len, h->tmac);
			put_bytes(h, tx_slot(h, pos), buf, len);
		}
		break;
	}
	if (with_meta) {
		d.flags = m.flags;
		d.gso_type = m.gso_type;
		d.gso_size = m.gso_size;
		d.hdr_len = m.hdr_len;
		d.csum_start = m.csum_start;
		d.csum_offset = m.csum_offset;
	}
	put_desc(h, pos, d);
	if (head - t > n)
		head = t + n;
	put32(h, &tx_ctrl(h)->prod.head, head);
}

static void slot_random(struct hostile *h)
{
	uint64_t total = (uint64_t)h->l->slot_count * h->l->slot_size, off;
	uint32_t n = 1 + below(h, 4096);
	uint8_t buf[4096];

	if (n > total)
		n = (uint32_t)total;
	off = rnd64(h) % (total - n + 1);
	rnd_bytes(h, buf, n);
	put_bytes(h, h->tx + h->l->ring_slots_off + off, buf, n);
}

/* Change the bytes of what the target may be reading right now. */
static void slot_at_tail(struct hostile *h)
{
	uint32_t t = target_tail(h), pos = t & (h->l->slot_count - 1);
	uint32_t room = (h->l->slot_count - pos) * h->l->slot_size;
	uint32_t n = 1 + below(h, room < 4096 ? room : 4096);
	uint8_t buf[4096];

	rnd_bytes(h, buf, n);
	put_bytes(h, tx_slot(h, pos), buf, n);
}

static void cons_lines(struct hostile *h)
{
	if (below(h, 2))
		put32(h, &tx_ctrl(h)->cons.tail, below(h, 2) ? rnd32(h) : target_tail(h) + 1);
	else
		put32(h, &tx_ctrl(h)->wake.armed, below(h, 2) ? 0 : rnd32(h));
}

static void rx_tail(struct hostile *h)
{
	/* the target's producer must not believe it: random, ahead of its
	 * head, behind what we published */
	uint32_t head = ivnet_load_acquire(&rx_ctrl(h)->prod.head), v;

	switch (below(h, 4)) {
	case 0:
		v = rnd32(h);
		break;
	case 1:
		v = head + 1 + below(h, h->l->slot_count);
		break;
	case 2:
		v = ivnet_load_relaxed(&rx_ctrl(h)->cons.tail) - 1 - below(h, 64);
		break;
	default:
		v = head; /* valid: frees all, frames to us are lost (ours to lose) */
		break;
	}
	put32(h, &rx_ctrl(h)->cons.tail, v);
}

static void rx_armed(struct hostile *h)
{
	/* armed on: the target rings us after every batch it sends us */
	put32(h, &rx_ctrl(h)->wake.armed, below(h, 4) ? 1 : rnd32(h));
}

/* Nonsense frames to the target's MAC through libivnet, which rings the
 * target's rx doorbell: we set armed first, so it does every time. */
static void frames_ep(struct hostile *h)
{
	struct ivnet_frame f[BURST];
	unsigned int n = 1 + below(h, BURST), i, sent;

	for (i = 0; i < n; i++) {
		uint32_t len = nonsense_len(h);

		nonsense_frame(h, frame_buf[i], len, h->tmac);
		f[i].data = frame_buf[i];
		f[i].len = len;
		if (h->invalid_only)
			invalid_meta(h, &f[i].meta, len);
		else if (below(h, 8))
			nonsense_meta(h, &f[i].meta, len);
		else
			invalid_meta(h, &f[i].meta, len);
	}
	put32(h, &tx_ctrl(h)->wake.armed, 1);
	sent = ivnet_ep_send_burst(h->ep, f, n);
	h->frames += sent;
	h->frames_ep += sent;
}

/* Nonsense frames with any destination MAC, straight into the ring (our own
 * view of it, attached afresh: libivnet's view of the same ring is out of
 * step with it, which is more nonsense for the target to sort out). */
static void frames_direct(struct hostile *h)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	unsigned int n = 1 + below(h, BURST), i;
	struct ivnet_ring r;

	if (ivnet_ring_attach_tx(&r, h->base, h->l, h->self, h->target))
		return;
	for (i = 0; i < n; i++) {
		uint32_t len = nonsense_len(h);
		uint8_t dst[6];
		struct ivnet_meta m;
		void *p;

		switch (below(h, 4)) {
		case 0:
			memcpy(dst, bcast, 6);
			break;
		case 1:
			rnd_bytes(h, dst, 6);
			dst[0] |= 1; /* multicast */
			break;
		case 2:
			rnd_bytes(h, dst, 6);
			dst[0] &= (uint8_t)~1u; /* someone else's, or no one's */
			break;
		default:
			memcpy(dst, h->tmac, 6);
			break;
		}
		if (h->invalid_only)
			invalid_meta(h, &m, len);
		else
			nonsense_meta(h, &m, len);
		p = ivnet_tx_reserve(&r, len, &m);
		if (!p)
			break;
		/* reserve wrote the descriptor (and maybe a PAD) in the ring
		 * we attack, nowhere else */
		zone_check(h, p, len);
		nonsense_frame(h, p, len, dst);
		h->frames++;
		h->frames_direct++;
	}
	if (i)
		h->scribbles++;
	ivnet_tx_publish(&r);
}

static void attack(struct hostile *h, enum kind k)
{
	h->count[k]++;
	switch (k) {
	case K_HEAD_RANDOM:
		head_random(h);
		break;
	case K_HEAD_NEAR:
		head_near(h);
		break;
	case K_DESC_RANDOM:
		desc_random(h);
		break;
	case K_DESC_AT_TAIL:
		desc_at_tail(h);
		break;
	case K_SLOT_RANDOM:
		slot_random(h);
		break;
	case K_SLOT_AT_TAIL:
		slot_at_tail(h);
		break;
	case K_CONS_LINES:
		cons_lines(h);
		break;
	case K_RX_TAIL:
		rx_tail(h);
		break;
	case K_RX_ARMED:
		rx_armed(h);
		break;
	case K_FRAMES_EP:
		frames_ep(h);
		break;
	default:
		frames_direct(h);
		break;
	}
}

static enum kind pick(struct hostile *h)
{
	unsigned int total = 0, i, r;

	for (i = 0; i < K_COUNT; i++)
		total += kind_weight[i];
	r = below(h, total);
	for (i = 0; i < K_COUNT; i++) {
		if (r < kind_weight[i])
			return (enum kind)i;
		r -= kind_weight[i];
	}
	return K_FRAMES_EP;
}

/* Take what the target (and others) send us, and drop it. Returns -EPIPE
 * once the broker has gone. */
static int drain(struct hostile *h)
{
	struct ivnet_rx_buf b[32];
	unsigned int i;
	int got;

	for (i = 0; i < 32; i++)
		b[i] = (struct ivnet_rx_buf){.data = rx_buf[i], .cap = IVNET_FRAME_MAX};
	got = ivnet_ep_recv_burst(h->ep, b, NULL, 32, 0);
	if (got > 0)
		h->rx_drained += (uint64_t)got;
	/* recv_burst only notices a broker gone when the peer table moves:
	 * ask the socket itself */
	return got < 0 ? got : ivnet_ep_update(h->ep);
}

/*
 * --flood-invalid publishes every FLOOD_BATCH frames, so that whenever the
 * target looks again after freeing slots there is something new: a receive
 * loop that only stops on an empty ring does not stop.
 */
#define FLOOD_BATCH 4
/* Drain what the target sends us every this many refills. */
#define FLOOD_DRAIN_EVERY 64

/* One refill of the ring: as many invalid frames as fit; how many. */
static unsigned int flood_refill(struct hostile *h, struct ivnet_ring *r)
{
	const struct ivnet_meta poison = {.flags = POISON_FLAG};
	unsigned int n = 0;
	void *p;

	while ((p = ivnet_tx_reserve(r, IVNET_FRAME_MIN, &poison))) {
		zone_check(h, p, IVNET_FRAME_MIN);
		memset(p, 0, IVNET_FRAME_MIN);
		if (++n % FLOOD_BATCH == 0)
			ivnet_tx_publish(r);
	}
	ivnet_tx_publish(r);
	return n;
}

/*
 * --flood-invalid rings the target's doorbell when it armed (it waits), and
 * at least this often while it does not: a doorbell per small refill would
 * make the system call the flood's bottleneck.
 */
#define FLOOD_RING_S 0.001

/* --flood-invalid for `seconds`. Returns -EPIPE once the broker has gone. */
static int flood_invalid(struct hostile *h, double seconds)
{
	double start = now(), rung = 0, t;
	struct ivnet_ring r;
	uint64_t rounds = 0;

	/* our own view of the ring: libivnet's is not used meanwhile */
	if (ivnet_ring_attach_tx(&r, h->base, h->l, h->self, h->target))
		return 0;
	while (!stop && (t = now()) - start < seconds) {
		unsigned int n = flood_refill(h, &r);

		if (ivnet_tx_need_notify(&r) || (n && t - rung > FLOOD_RING_S)) {
			ep_ring(h->ep, h->target, IVNET_VEC_RX);
			rung = t;
		}
		if (n) {
			h->frames += n;
			h->frames_direct += n;
			h->scribbles++;
		}
		if (++rounds % FLOOD_DRAIN_EVERY == 0 && drain(h))
			return -EPIPE;
	}
	return 0;
}

/* ------------------------------------------------------------ --forge-table */

/*
 * --forge-table (issue 14, findings 3 and 4): instead of the ring attacks,
 * rewrite, every FORGE_PERIOD_S, what only the broker should write and
 * every peer maps writable: the broker's half of the shared peer table and
 * the header. These functions are the only ones that store there (the
 * others go through zone_check(), which keeps them out):
 *   (a) uplink hijack: IVNET_PEER_F_UPLINK set on our entry, cleared on
 *       every other, so that unknown unicast comes to us;
 *   (b) MAC impersonation: the target's MAC in our entry, our link epoch
 *       bumped each time the broker had put our own back;
 *   (c) slot hijack: the lowest other slot says JOINED under the ivshmem id
 *       the broker hands out next (ids go in turn), so that the next peer
 *       to join takes that slot, and its MAC, for its own;
 *   (d) the header: a smaller geometry, consistent in itself.
 * It receives meanwhile and counts what comes to the target's MAC, to
 * FORGE_UNKNOWN_MAC (tests/peers/ep_tool's --unknown) and to its own.
 */
#define FORGE_PERIOD_S 0.001
/* The unknown unicast MAC, as tests/peers/ep_tool sends it. */
static const uint8_t forge_unknown_mac[6] = {0x0a, 0, 0, 0, 0, 0x01};

struct forge {
	uint8_t own_mac[6];
	uint32_t next_ivpos, hijack; /* (c): the id and the slot */
	struct ivnet_layout half;    /* (d), if one could be computed */
	int have_half;
	uint64_t rounds, remacs, rx, rx_target, rx_unknown, rx_own;
};

/* The next ivshmem id the broker hands out: one past the highest in use,
 * read before we rewrite anything (the broker gave ours last). */
static void forge_setup(struct hostile *h, struct forge *f)
{
	struct ivnet_layout_params p = {.region_size = h->l->region_size / 2,
					.max_peers = h->l->max_peers,
					.vectors = h->l->vectors,
					.slot_size = h->l->slot_size,
					.max_frame = h->l->max_frame,
					.max_slots = h->l->slot_count};
	uint32_t i, top = h->ep->ivpos;

	memcpy(f->own_mac, ivnet_ep_mac(h->ep), 6);
	for (i = 0; i < h->l->max_peers; i++) {
		const struct ivnet_peer *e = ivnet_peer_entry(h->base, h->l, i);

		if (ivnet_load_relaxed(&e->admin.state) == IVNET_PEER_JOINED &&
		    ivnet_load_relaxed(&e->admin.ivpos) > top)
			top = ivnet_load_relaxed(&e->admin.ivpos);
	}
	f->next_ivpos = top + 1;
	f->hijack = h->self == 0 ? 1 : 0;
	/* the largest frames may not fit in half: smaller ones, then */
	for (; p.max_frame >= IVNET_REGION_FRAME_MIN && !f->have_half; p.max_frame /= 2)
		for (p.max_slots = h->l->slot_count; p.max_slots >= 2 && !f->have_half;
		     p.max_slots /= 2)
			f->have_half = ivnet_layout_compute(&p, &f->half) == 0;
}

/* (a), (b) and (c) on the table. */
static void forge_table_once(struct hostile *h, struct forge *f)
{
	uint32_t i, j;

	for (i = 0; i < h->l->max_peers; i++) {
		struct ivnet_peer *e = ivnet_peer_entry(h->base, h->l, i);
		uint16_t fl = ivnet_load_relaxed(&e->admin.flags);

		ivnet_store_relaxed(&e->admin.flags,
				    (uint16_t)(i == h->self ? fl | IVNET_PEER_F_UPLINK
							    : fl & ~IVNET_PEER_F_UPLINK));
	}
	{
		struct ivnet_peer *own = ivnet_peer_entry(h->base, h->l, h->self);
		int same = 1;

		for (j = 0; j < 6; j++)
			same &= ivnet_load_relaxed(&own->admin.mac[j]) == h->tmac[j];
		if (!same) {
			for (j = 0; j < 6; j++)
				ivnet_store_relaxed(&own->admin.mac[j], h->tmac[j]);
			ivnet_store_relaxed(&own->link.epoch,
					    ivnet_load_relaxed(&own->link.epoch) + 1);
			f->remacs++;
		}
	}
	{
		struct ivnet_peer *e = ivnet_peer_entry(h->base, h->l, f->hijack);

		ivnet_store_relaxed(&e->admin.ivpos, f->next_ivpos);
		ivnet_store_release(&e->admin.state, IVNET_PEER_JOINED);
	}
}

/* (d): the smaller geometry over the header's. */
static void forge_header_once(struct hostile *h, struct forge *f)
{
	struct ivnet_region_hdr *hd = (struct ivnet_region_hdr *)h->base;

	if (!f->have_half)
		return;
	ivnet_store_relaxed(&hd->region_size, f->half.region_size);
	ivnet_store_relaxed(&hd->slot_count, f->half.slot_count);
	ivnet_store_relaxed(&hd->max_frame, f->half.max_frame);
	ivnet_store_relaxed(&hd->peer_table_off, f->half.peer_table_off);
	ivnet_store_relaxed(&hd->rings_off, f->half.rings_off);
	ivnet_store_relaxed(&hd->ring_stride, f->half.ring_stride);
	ivnet_store_relaxed(&hd->ring_count, f->half.ring_count);
	ivnet_store_relaxed(&hd->ring_desc_off, f->half.ring_desc_off);
	ivnet_store_relaxed(&hd->ring_slots_off, f->half.ring_slots_off);
}

/* What came to us, by destination. Returns -EPIPE once the broker has gone. */
static int forge_receive(struct hostile *h, struct forge *f)
{
	struct ivnet_rx_buf b[32];
	int got, i;

	for (i = 0; i < 32; i++)
		b[i] = (struct ivnet_rx_buf){.data = rx_buf[i], .cap = IVNET_FRAME_MAX};
	got = ivnet_ep_recv_burst(h->ep, b, NULL, 32, 0);
	for (i = 0; i < got; i++) {
		f->rx++;
		if (b[i].len < 6)
			continue;
		f->rx_target += !memcmp(b[i].data, h->tmac, 6);
		f->rx_unknown += !memcmp(b[i].data, forge_unknown_mac, 6);
		f->rx_own += !memcmp(b[i].data, f->own_mac, 6);
	}
	return got < 0 ? got : ivnet_ep_update(h->ep);
}

/* --forge-table for `seconds`; one JSON line of its own. -EPIPE once the
 * broker has gone. */
static int forge_table(struct hostile *h, double seconds)
{
	const struct timespec ts = {.tv_nsec = (long)(FORGE_PERIOD_S * 1e9)};
	double start = now();
	struct forge f;
	int ret = 0;

	memset(&f, 0, sizeof(f));
	forge_setup(h, &f);
	fprintf(stderr, "ivnet-hostile: forging the table: slot %u as ivshmem id %u\n", f.hijack,
		f.next_ivpos);
	while (!stop && !ret && now() - start < seconds) {
		forge_table_once(h, &f);
		forge_header_once(h, &f);
		f.rounds++;
		ret = forge_receive(h, &f);
		nanosleep(&ts, NULL);
	}
	printf("{\"forge\":{\"rounds\":%llu,\"remacs\":%llu,\"hijack\":%u,\"next_ivpos\":%u,"
	       "\"half\":%s,\"rx\":%llu,\"rx_target\":%llu,\"rx_unknown\":%llu,\"rx_own\":%llu}}\n",
	       (unsigned long long)f.rounds, (unsigned long long)f.remacs, f.hijack, f.next_ivpos,
	       f.have_half ? "true" : "false", (unsigned long long)f.rx,
	       (unsigned long long)f.rx_target, (unsigned long long)f.rx_unknown,
	       (unsigned long long)f.rx_own);
	fflush(stdout);
	return ret;
}

#define SLOW_MS 90
#define SLOW_SLOTS 2u

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* One step of --slow-consumer: free up to n slots (what the target has
 * published), from our own tail; returns how many. */
static uint32_t slow_free(struct hostile *h, uint32_t *tail, uint32_t n)
{
	/* acquire: as a consumer's, though we read none of the slots */
	uint32_t head = ivnet_load_acquire(&rx_ctrl(h)->prod.head);
	uint32_t ahead = head - *tail;

	if (ahead > h->l->slot_count) /* not a head we can trust: free nothing */
		ahead = 0;
	if (n > ahead)
		n = ahead;
	*tail += n;
	put32(h, &rx_ctrl(h)->cons.tail, *tail);
	return n;
}

/* --slow-consumer for `seconds`. Returns -EPIPE once the broker has gone. */
static int slow_consume(struct hostile *h, double seconds)
{
	uint32_t tail = ivnet_load_relaxed(&rx_ctrl(h)->cons.tail), n;
	double start = now();

	put32(h, &rx_ctrl(h)->wake.armed, 0);
	while (!stop && now() - start < seconds) {
		if (h->slow == 2) {
			n = slow_free(h, &tail, 2 * SLOW_SLOTS);
			sleep_ms(SLOW_MS / 2);
			if (n > SLOW_SLOTS) {
				tail -= n - SLOW_SLOTS;
				put32(h, &rx_ctrl(h)->cons.tail, tail);
				h->slow_rewinds++;
				n = SLOW_SLOTS;
			}
			h->slow_freed += n;
			sleep_ms(SLOW_MS - SLOW_MS / 2);
		} else {
			h->slow_freed += slow_free(h, &tail, SLOW_SLOTS);
			sleep_ms(SLOW_MS);
		}
		if (ivnet_ep_update(h->ep) < 0)
			return -EPIPE;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ivnet-hostile SOCKET --target ID [--seconds S] [--rate N] "
		"[--seed X] [--wait S] [--target-ip IP] [--invalid-only] [--flood-invalid]\n"
		"       [--forge-table]\n"
		"  --seconds S     how long to attack (default 10)\n"
		"  --rate N        attacks per second (default 2000)\n"
		"  --seed X        random seed (default: from the time and pid)\n"
		"  --wait S        wait up to S s for the target to be up (default 30)\n"
		"  --target-ip IP  the target's IPv4 address: nonsense goes there too\n"
		"  --invalid-only  write no descriptor that passes validation\n"
		"  --flood-invalid keep the ring full of invalid frames, ring the doorbell\n"
		"  --forge-table   rewrite the broker's half of the peer table and the header\n"
		"  --slow-consumer[=rewind]  free 2 slots of the ring from the target every\n"
		"                  90 ms (rewind: 4 ahead, then 2 back), take nothing else\n");
	exit(2);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	*v = strtoull(s, &end, 0);
	return *s == '\0' || *end != '\0' || *s == '-';
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"target", required_argument, NULL, 't'},
		{"seconds", required_argument, NULL, 's'},
		{"rate", required_argument, NULL, 'r'},
		{"seed", required_argument, NULL, 'x'},
		{"wait", required_argument, NULL, 'w'},
		{"invalid-only", no_argument, NULL, 'i'},
		{"flood-invalid", no_argument, NULL, 'f'},
		{"forge-table", no_argument, NULL, 'g'},
		{"target-ip", required_argument, NULL, 'a'},
		{"slow-consumer", optional_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct hostile h;
	struct ivnet_ep_peer peers[IVNET_PEERS_MAX];
	struct ivnet_ep_stats st;
	char err[IVNET_ERRLEN];
	uint64_t target = UINT64_MAX, rate = 2000, seed = 0, v;
	double seconds = 10, wait_s = 30, start, elapsed, t_next;
	int c, have_seed = 0, gone = 0, forging = 0;
	unsigned int np, i;

	memset(&h, 0, sizeof(h));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_u64(optarg, &target))
				usage();
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'r':
			if (parse_u64(optarg, &rate) || rate == 0 || rate > 10000000)
				usage();
			break;
		case 'x':
			if (parse_u64(optarg, &seed))
				usage();
			have_seed = 1;
			break;
		case 'w':
			wait_s = atof(optarg);
			break;
		case 'i':
			h.invalid_only = 1;
			break;
		case 'f':
			h.flood = 1;
			break;
		case 'g':
			forging = 1;
			break;
		case 'c':
			if (optarg && strcmp(optarg, "rewind"))
				usage();
			h.slow = optarg ? 2 : 1;
			break;
		case 'a': {
			struct in_addr a;

			if (inet_pton(AF_INET, optarg, &a) != 1)
				usage();
			h.tip = ntohl(a.s_addr);
			break;
		}
		default:
			usage();
		}
	}
	if (optind + 1 != argc || target == UINT64_MAX || !(seconds >= 0))
		usage();
	if (!have_seed)
		seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	h.rng = seed ? seed : 0x9e3779b97f4a7c15ULL;

	peer_stop_on_signals();
	if (ivnet_ep_open(argv[optind], &h.ep, err)) {
		fprintf(stderr, "ivnet-hostile: %s\n", err);
		return 1;
	}
	h.self = ivnet_ep_id(h.ep);
	h.base = ivnet_ep_region(h.ep)->base;
	h.l = &ivnet_ep_region(h.ep)->layout;
	if (target >= h.l->max_peers || target == h.self) {
		fprintf(stderr, "ivnet-hostile: bad target %llu (we are peer %u of %u)\n",
			(unsigned long long)target, h.self, h.l->max_peers);
		ivnet_ep_close(h.ep);
		return 2;
	}
	h.target = (uint32_t)target;
	h.tx = h.base + ivnet_ring_offset(h.l, h.self, h.target);
	h.rx = h.base + ivnet_ring_offset(h.l, h.target, h.self);
	if (ivnet_ep_wait_peer(h.ep, h.target, (int)(wait_s * 1000))) {
		fprintf(stderr, "ivnet-hostile: peer %u is not up after %g s\n", h.target, wait_s);
		ivnet_ep_close(h.ep);
		return 1;
	}
	np = ivnet_ep_peers(h.ep, peers, IVNET_PEERS_MAX);
	for (i = 0; i < np; i++)
		if (peers[i].id == h.target)
			memcpy(h.tmac, peers[i].mac, 6);
	fprintf(stderr,
		"ivnet-hostile: peer %u attacking peer %u (%02x:%02x:%02x:%02x:%02x:%02x) "
		"for %g s at %llu/s, seed %llu%s%s%s\n",
		h.self, h.target, h.tmac[0], h.tmac[1], h.tmac[2], h.tmac[3], h.tmac[4], h.tmac[5],
		seconds, (unsigned long long)rate, (unsigned long long)seed,
		h.invalid_only ? ", invalid descriptors only" : "",
		h.flood ? ", flooding with invalid frames" : "",
		h.slow ? (h.slow == 2 ? ", consuming slowly, tail rewound" : ", consuming slowly")
		       : "");
	if (h.invalid_only) {
		/* what an earlier holder of our id left there might be valid */
		uint32_t pos;
		struct ivnet_desc zero;

		memset(&zero, 0, sizeof(zero));
		for (pos = 0; pos < h.l->slot_count; pos++)
			put_desc(&h, pos, zero);
	}

	start = now();
	t_next = start;
	if (h.flood && flood_invalid(&h, seconds)) {
		fprintf(stderr, "ivnet-hostile: the broker has gone\n");
		gone = 1;
	}
	if (forging && forge_table(&h, seconds)) {
		fprintf(stderr, "ivnet-hostile: the broker has gone\n");
		gone = 1;
	}
	if (h.slow && slow_consume(&h, seconds)) {
		fprintf(stderr, "ivnet-hostile: the broker has gone\n");
		gone = 1;
	}
	while (!h.flood && !forging && !h.slow && !gone && !stop &&
	       (elapsed = now() - start) < seconds) {
		/* 1 ms worth of attacks, then catch up or sleep */
		uint64_t n = rate / 1000 ? rate / 1000 : 1;

		int quiet = (uint64_t)(elapsed * 1000) % CYCLE_MS >= CYCLE_MS - QUIET_MS;

		for (v = 0; v < n; v++)
			attack(&h, quiet ? K_FRAMES_EP : pick(&h));
		if (drain(&h)) {
			fprintf(stderr, "ivnet-hostile: the broker has gone\n");
			gone = 1;
			break;
		}
		t_next += (double)n / (double)rate;
		if (t_next > now()) {
			double d = t_next - now();
			struct timespec ts = {.tv_sec = (time_t)d,
					      .tv_nsec = (long)((d - (double)(time_t)d) * 1e9)};

			nanosleep(&ts, NULL);
		} else if (now() - t_next > 0.5) {
			t_next = now(); /* we cannot keep up: do not burst later */
		}
	}
	elapsed = now() - start;
	ivnet_ep_stats(h.ep, &st);
	printf("{\"self\":%u,\"target\":%u,\"seed\":%llu,\"seconds\":%.2f,", h.self, h.target,
	       (unsigned long long)seed, elapsed);
	printf("\"scribbles\":%llu,\"frames\":%llu,\"frames_ep\":%llu,\"frames_direct\":%llu,",
	       (unsigned long long)h.scribbles, (unsigned long long)h.frames,
	       (unsigned long long)h.frames_ep, (unsigned long long)h.frames_direct);
	printf("\"doorbells\":%llu,\"tx_full\":%llu,\"tx_unknown\":%llu,\"rx_drained\":%llu,",
	       (unsigned long long)st.doorbells, (unsigned long long)st.tx_full,
	       (unsigned long long)st.tx_unknown, (unsigned long long)h.rx_drained);
	printf("\"rx_errors\":%llu,\"tx_errors\":%llu,\"invalid_only\":%s,\"flood\":%s,"
	       "\"slow\":%d,\"slow_freed\":%llu,\"slow_rewinds\":%llu,\"attacks\":{",
	       (unsigned long long)st.rx_errors, (unsigned long long)st.tx_errors,
	       h.invalid_only ? "true" : "false", h.flood ? "true" : "false", h.slow,
	       (unsigned long long)h.slow_freed, (unsigned long long)h.slow_rewinds);
	for (i = 0; i < K_COUNT; i++)
		printf("%s\"%s\":%llu", i ? "," : "", kind_name[i], (unsigned long long)h.count[i]);
	printf("}}\n");
	fflush(stdout);
	ivnet_ep_close(h.ep);
	return gone ? 3 : 0;
}

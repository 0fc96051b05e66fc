// SPDX-License-Identifier: MIT
/*
 * ep_send.c - sending: each frame to the peer its destination MAC names (or
 * every peer, or the uplink), one publish per touched ring per burst.
 */
#include "ep_internal.h"

static int mac_is(const struct ivnet_ep *ep, uint32_t id, const uint8_t *mac)
{
	return memcmp(ep_admin(ep, id)->mac, mac, 6) == 0;
}

/*
 * The peer with that MAC, else the first uplink that is up, else -1. The
 * last peer found by MAC is tried first, and re-checked against the table
 * like any other.
 */
static int lookup(struct ivnet_ep *ep, const uint8_t *mac)
{
	int uplink = -1;
	uint64_t m;
	uint32_t id;

	if (ep->last_dst >= 0 && memcmp(ep->last_mac, mac, 6) == 0 &&
	    mac_is(ep, (uint32_t)ep->last_dst, mac) && ep_peer_up(ep, (uint32_t)ep->last_dst))
		return ep->last_dst;
	for_each_joined(ep, id, m) {
		if (!ep_peer_up(ep, id))
			continue;
		if (mac_is(ep, id, mac)) {
			ep->last_dst = (int)id;
			memcpy(ep->last_mac, mac, 6);
			return (int)id;
		}
		if (uplink < 0 && (ep_admin(ep, id)->flags & IVNET_PEER_F_UPLINK))
			uplink = (int)id;
	}
	return uplink;
}

/* Does peer id take the offloads this frame's metadata asks for? */
static int accepts(struct ivnet_ep *ep, uint32_t id, const struct ivnet_meta *m)
{
	uint32_t need = (m->gso_type != IVNET_GSO_NONE ? IVNET_F_GSO : 0) |
			(m->flags & IVNET_DESC_F_CSUM_PARTIAL ? IVNET_F_CSUM : 0);

	return (ivnet_load_relaxed(&ep_entry(ep, id)->link.features) & need) == need;
}

/* 1 queued, 0 full, -1 dropped (the peer does not take its offloads). */
static int queue_to(struct ivnet_ep *ep, uint32_t id, const struct ivnet_frame *f)
{
	struct ep_peer *p = &ep->peer[id];
	void *d;

	if (!accepts(ep, id, &f->meta)) {
		ep->st.tx_offload++;
		return -1;
	}
	d = ivnet_tx_reserve(&p->tx, f->len, &f->meta);
	if (!d) {
		ep->st.tx_full++;
		return 0;
	}
	memcpy(d, f->data, f->len);
	ep->tx_dirty |= 1ull << id;
	return 1;
}

static void flush(struct ivnet_ep *ep)
{
	uint64_t m = ep->tx_dirty;

	ep->tx_dirty = 0;
	for (; m; m &= m - 1) {
		uint32_t id = (uint32_t)__builtin_ctzll(m);
		struct ep_peer *p = &ep->peer[id];

		ivnet_tx_publish(&p->tx);
		if (ivnet_tx_need_notify(&p->tx))
			ep_ring(ep, id, IVNET_VEC_RX);
	}
}

unsigned int ivnet_ep_send_burst(struct ivnet_ep *ep, const struct ivnet_frame *f, unsigned int n)
{
	const uint8_t *prev_mac = NULL;
	unsigned int i, sent;
	int prev = -1;

	ep_maybe_update(ep);
	for (i = 0; i < n; i++) {
		const uint8_t *dst = f[i].data;
		int ok = 0;

		if (f[i].len < IVNET_FRAME_MIN || f[i].len > ep->region.layout.max_frame) {
			ep->st.tx_invalid++;
			continue;
		}
		if (dst[0] & 1) {
			uint64_t m;
			uint32_t id;

			/* best effort, as on any Ethernet: a full ring misses it */
			for_each_joined(ep, id, m)
				if (ep_peer_up(ep, id))
					ok |= queue_to(ep, id, &f[i]) > 0;
		} else {
			/* a burst to one peer looks it up once: the table is
			 * checked once per burst, as for a burst of one */
			int id =
				prev >= 0 && memcmp(dst, prev_mac, 6) == 0 ? prev : lookup(ep, dst);

			prev = id;
			prev_mac = dst;
			if (id < 0) {
				ep->st.tx_unknown++;
				continue;
			}
			ok = queue_to(ep, (uint32_t)id, &f[i]);
			if (!ok)
				break; /* full: this frame and the rest are the caller's */
			ok = ok > 0;
		}
		if (ok) {
			ep->st.tx_frames++;
			ep->st.tx_bytes += f[i].len;
		}
	}
	sent = i;
	flush(ep);
	return sent;
}

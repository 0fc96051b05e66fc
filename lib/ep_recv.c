// SPDX-License-Identifier: MIT
/*
 * ep_recv.c - receiving: round robin over the joined peers' rings, and the
 * wait for the first frame (busy poll, block on the rx doorbell, or both).
 */
#define _GNU_SOURCE
#include "ep_internal.h"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* The next joined slot at or after `from` (wrapping), or -1. */
static int next_joined(const struct ivnet_ep *ep, uint32_t from)
{
	uint64_t m = ep->joined;

	if (!m)
		return -1;
	if (from < 64 && (m >> from))
		return (int)(from + (uint32_t)__builtin_ctzll(m >> from));
	return __builtin_ctzll(m);
}

/* Is ring id -> us worth reading? Resync it if the peer restarted. */
static int rx_ready(struct ivnet_ep *ep, uint32_t id)
{
	struct ep_peer *p = &ep->peer[id];
	uint32_t le;

	if (!ep_peer_up(ep, id))
		return 0;
	le = ivnet_load_relaxed(&ep_entry(ep, id)->link.epoch);
	if (!p->rx_synced || le != p->rx_link_epoch) {
		/* a new incarnation: what the old one queued is not ours */
		if (p->rx_synced)
			ep->st.peer_resets++;
		ivnet_rx_restart(&p->rx);
		p->rx_link_epoch = le;
		p->rx_synced = 1;
	}
	return 1;
}

/* Frames of one ring: copied into b[], or handed out in place in f[]. */
static unsigned int take_ring(struct ivnet_ep *ep, uint32_t id, struct ivnet_rx_buf *b,
			      struct ivnet_rx_frame *f, unsigned int n)
{
	struct ivnet_ring *rx = &ep->peer[id].rx;
	uint32_t budget = n; /* descriptors looked at, frames or not */
	unsigned int i = 0;

	if (b) {
		i = ivnet_rx_burst(rx, b, n);
		for (n = 0; n < i; n++)
			ep->st.rx_bytes += b[n].len;
		return i;
	}
	while (ivnet_rx_peek_budget(rx, &f[i], &budget)) {
		ivnet_rx_consume(rx);
		ep->st.rx_bytes += f[i].len;
		i++;
	}
	if (i)
		ep->rx_held |= 1ull << id;
	return i;
}

static unsigned int poll_rings(struct ivnet_ep *ep, struct ivnet_rx_buf *b,
			       struct ivnet_rx_frame *f, uint32_t *src, unsigned int n)
{
	unsigned int got = 0, k;
	int first = next_joined(ep, ep->last_rx), id = first;

	/* round robin over the joined slots, from the one after last time's */
	while (id >= 0 && got < n) {
		unsigned int m, i;

		if (rx_ready(ep, (uint32_t)id)) {
			m = take_ring(ep, (uint32_t)id, b ? b + got : NULL, b ? NULL : f + got,
				      n - got);
			for (i = 0; src && i < m; i++)
				src[got + i] = (uint32_t)id;
			got += m;
		}
		id = next_joined(ep, (uint32_t)id + 1);
		if (id == first)
			break;
	}
	/* Nothing came: store nothing either (busy polling spins here, and
	 * stores in that spin slow down its wake-up, see ivnet_rx_avail()). */
	if (!got)
		return 0;
	k = first < 0 ? 0 : (uint32_t)first + 1;
	ep->last_rx = k >= ep->region.layout.max_peers ? 0 : k;
	ep->st.rx_frames += got;
	return got;
}

/* Arm every ring we read; 1 if all are still empty (safe to sleep). */
static int arm_all(struct ivnet_ep *ep)
{
	uint64_t m;
	uint32_t id;
	int empty = 1;

	for_each_joined(ep, id, m)
		if (rx_ready(ep, id))
			ivnet_rx_set_armed(&ep->peer[id].rx, 1);
	/* Full barrier: the armed flags before the head loads; pairs with
	 * the producers' barrier in ivnet_tx_need_notify(). */
	ivnet_mb();
	for_each_joined(ep, id, m)
		if (rx_ready(ep, id) && ivnet_rx_avail(&ep->peer[id].rx))
			empty = 0;
	return empty;
}

static void disarm_all(struct ivnet_ep *ep)
{
	uint64_t m;
	uint32_t id;

	for_each_joined(ep, id, m)
		ivnet_rx_set_armed(&ep->peer[id].rx, 0);
}

static void sleep_on_doorbells(struct ivnet_ep *ep, int timeout_ms)
{
	struct epoll_event ev[4];
	int n, i;

	n = epoll_wait(ep->epfd, ev, 4, timeout_ms);
	for (i = 0; i < n; i++) {
		uint64_t v;

		if (ev[i].data.u32 == UINT32_MAX)
			continue; /* the socket: ivnet_ep_update() reads it */
		if (read(ep_vectors_of(ep, ep->ivpos)->fd[ev[i].data.u32], &v, sizeof(v)) ==
		    sizeof(v))
			ep->st.wakeups++;
	}
}

/*
 * Busy-wait, at most `rounds` rounds, until a joined peer's ring has frames
 * or the peer table moved. Loads only, and no calls: a store or a call (it
 * pushes registers) in this spin delays every wake-up, and the wake-up is
 * most of a busy-polled round trip.
 */
#define SPIN_ROUNDS 512

static void spin_for_work(const struct ivnet_ep *ep, unsigned int rounds)
{
	const struct ivnet_region_hdr *h = ivnet_region_hdr(&ep->region);
	uint64_t m;
	uint32_t id;

	while (rounds--) {
		for_each_joined(ep, id, m)
			if (ivnet_rx_pending(&ep->peer[id].rx))
				return;
		if (ivnet_load_relaxed(&h->table_gen) != ep->seen_gen)
			return;
	}
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void ivnet_ep_recv_done(struct ivnet_ep *ep)
{
	uint64_t m = ep->rx_held;

	if (!m)
		return;
	ep->rx_held = 0;
	for (; m; m &= m - 1)
		ivnet_rx_release(&ep->peer[__builtin_ctzll(m)].rx);
}

/*
 * The receive loop of both APIs. The clock is read only when a timeout or
 * the adaptive spin needs it: busy polling makes no system call while
 * nothing changes (ep_maybe_update() reads one shared word).
 */
static int recv_common(struct ivnet_ep *ep, struct ivnet_rx_buf *b, struct ivnet_rx_frame *f,
		       uint32_t *src, unsigned int n, int timeout_ms)
{
	uint64_t start = 0, spin_end = 0;
	unsigned int got;

	ivnet_ep_recv_done(ep);
	for (;;) {
		int64_t left = -1;

		if (ep_maybe_update(ep))
			return -EPIPE;
		got = poll_rings(ep, b, f, src, n);
		if (got || timeout_ms == 0)
			return (int)got;
		if (timeout_ms > 0) {
			/* the timeout runs from the first empty poll: a call
			 * that finds frames at once reads no clock */
			if (!start)
				start = now_us();
			left = timeout_ms - (int64_t)(now_us() - start) / 1000;
			if (left <= 0)
				return 0;
		}
		if (ep->mode == IVNET_WAIT_BUSY) {
			spin_for_work(ep, SPIN_ROUNDS);
			continue;
		}
		if (ep->mode == IVNET_WAIT_ADAPTIVE) {
			uint64_t t = now_us();

			if (!spin_end)
				spin_end = t + ep->spin_us;
			if (t < spin_end) {
				spin_for_work(ep, SPIN_ROUNDS);
				continue;
			}
		}
		if (arm_all(ep))
			sleep_on_doorbells(ep, (int)left);
		disarm_all(ep);
		ep->update_pending = 1; /* woken: perhaps by the broker */
	}
}

int ivnet_ep_recv_burst(struct ivnet_ep *ep, struct ivnet_rx_buf *b, uint32_t *src, unsigned int n,
			int timeout_ms)
{
	return recv_common(ep, b, NULL, src, n, timeout_ms);
}

int ivnet_ep_recv_zc(struct ivnet_ep *ep, struct ivnet_rx_frame *f, uint32_t *src, unsigned int n,
		     int timeout_ms)
{
	return recv_common(ep, NULL, f, src, n, timeout_ms);
}

void ivnet_ep_stats(struct ivnet_ep *ep, struct ivnet_ep_stats *out)
{
	uint32_t id;

	*out = ep->st;
	for (id = 0; id < ep->region.layout.max_peers; id++) {
		const struct ivnet_ring_stats *r = &ep->peer[id].rx.stats;
		const struct ivnet_ring_stats *t = &ep->peer[id].tx.stats;

		if (id == ep->id)
			continue;
		out->rx_errors += r->bad_index + r->bad_desc + r->resync;
		out->tx_errors += t->bad_index;
	}
}

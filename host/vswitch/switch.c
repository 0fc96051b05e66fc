// SPDX-License-Identifier: MIT
/*
 * switch.c - the forwarding workers: poll the ports a worker owns, learn
 * source MACs, send each frame to its learned port or flood it, in bursts.
 *
 * A received burst is sorted into per-destination batches (a flooded frame
 * joins every other port's batch, shared by reference count, never copied),
 * then each batch goes out in one call: straight to the port when this
 * worker owns it, else into the port's tx ring for its owner to send.
 */
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ether.h>

#include "vswitch.h"

#define IDLE_LOOPS 1024 /* empty loops before a worker starts to sleep */

static struct vsw_port *port_at(struct vsw *s, uint16_t slot)
{
	/* acquire: pairs with the release that published the port */
	return __atomic_load_n(&s->port[slot], __ATOMIC_ACQUIRE);
}

static void stage(struct vsw_worker *w, uint64_t *dirty, uint16_t slot, struct rte_mbuf *m)
{
	w->out[slot][w->out_n[slot]++] = m;
	*dirty |= 1ULL << slot;
}

/* One more reference per extra destination, on every segment: freeing a
 * chain drops one reference of each. */
static void share(struct rte_mbuf *m, int16_t extra)
{
	for (; m; m = m->next)
		rte_mbuf_refcnt_update(m, extra);
}

static void flood(struct vsw *s, struct vsw_worker *w, uint64_t *dirty, uint16_t from,
		  struct rte_mbuf *m)
{
	uint16_t dst[VSW_PORTS_MAX];
	unsigned int n = 0, i;

	for (i = 0; i < VSW_PORTS_MAX; i++)
		if (i != from && port_at(s, (uint16_t)i))
			dst[n++] = (uint16_t)i;
	if (!n) {
		rte_pktmbuf_free(m);
		return;
	}
	if (n > 1)
		share(m, (int16_t)(n - 1));
	for (i = 0; i < n; i++)
		stage(w, dirty, dst[i], m);
	VSW_ADD(w->n.flooded, 1);
	VSW_ADD(s->cnt[w->idx][from].flooded, 1);
}

static void free_from(struct rte_mbuf **m, uint16_t from, uint16_t n)
{
	for (; from < n; from++)
		rte_pktmbuf_free(m[from]);
}

/* Send to a port this worker owns; counts what went and what did not. */
static void send_owned(struct vsw *s, struct vsw_worker *w, struct vsw_port *q, struct rte_mbuf **m,
		       uint16_t n)
{
	struct vsw_port_counters *c = &s->cnt[w->idx][q->slot];
	uint64_t bytes = 0, unsent_bytes = 0;
	uint16_t sent, i;

	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(m[i]);
	sent = q->ops->tx(q, m, n);
	for (i = sent; i < n; i++)
		unsent_bytes += rte_pktmbuf_pkt_len(m[i]);
	free_from(m, sent, n);
	VSW_ADD(c->tx_packets, sent);
	VSW_ADD(c->tx_bytes, bytes - unsent_bytes);
	if (sent < n)
		VSW_ADD(c->tx_dropped, n - sent);
}

static void flush(struct vsw *s, struct vsw_worker *w, uint64_t dirty)
{
	while (dirty) {
		uint16_t slot = (uint16_t)__builtin_ctzll(dirty);
		uint16_t n = w->out_n[slot], k;
		struct rte_mbuf **m = w->out[slot];
		struct vsw_port *q = port_at(s, slot);

		dirty &= dirty - 1;
		w->out_n[slot] = 0;
		if (!q) {
			/* removed since the batch was made */
			free_from(m, 0, n);
			VSW_ADD(w->n.dropped, n);
		} else if (q->worker == w->idx) {
			send_owned(s, w, q, m, n);
		} else {
			k = (uint16_t)rte_ring_mp_enqueue_burst(q->txq, (void **)m, n, NULL);
			free_from(m, k, n);
			if (k < n)
				VSW_ADD(s->cnt[w->idx][slot].tx_dropped, n - k);
		}
	}
}

static int invalid_source(const struct rte_ether_addr *a)
{
	return rte_is_multicast_ether_addr(a) || rte_is_zero_ether_addr(a);
}

/* Receive one burst from p and forward it; returns how many came. */
static uint16_t poll_port(struct vsw *s, struct vsw_worker *w, struct vsw_port *p, uint32_t now)
{
	struct vsw_port_counters *c = &s->cnt[w->idx][p->slot];
	struct rte_mbuf *m[VSW_BURST];
	uint64_t dirty = 0, bytes = 0;
	uint16_t n = p->ops->rx(p, m, VSW_BURST), i;

	for (i = 0; i < n; i++) {
		struct rte_ether_hdr *eth;
		int dst;

		bytes += rte_pktmbuf_pkt_len(m[i]);
		if (rte_pktmbuf_data_len(m[i]) < RTE_ETHER_HDR_LEN) {
			VSW_ADD(c->rx_dropped, 1);
			rte_pktmbuf_free(m[i]);
			continue;
		}
		eth = rte_pktmbuf_mtod(m[i], struct rte_ether_hdr *);
		if (invalid_source(&eth->src_addr)) {
			VSW_ADD(c->rx_dropped, 1);
			rte_pktmbuf_free(m[i]);
			continue;
		}
		vsw_fdb_learn(&s->fdb, eth->src_addr.addr_bytes, p->slot, now);
		/* nothing asks the next port for offloads on our behalf */
		m[i]->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;
		if (rte_is_multicast_ether_addr(&eth->dst_addr)) {
			flood(s, w, &dirty, p->slot, m[i]);
			continue;
		}
		dst = vsw_fdb_lookup(&s->fdb, eth->dst_addr.addr_bytes);
		if (dst < 0 || !port_at(s, (uint16_t)dst)) {
			flood(s, w, &dirty, p->slot, m[i]);
		} else if (dst == p->slot) {
			/* the destination is behind the port it came from */
			VSW_ADD(c->filtered, 1);
			rte_pktmbuf_free(m[i]);
		} else {
			stage(w, &dirty, (uint16_t)dst, m[i]);
			VSW_ADD(w->n.forwarded, 1);
		}
	}
	if (n) {
		VSW_ADD(c->rx_packets, n);
		VSW_ADD(c->rx_bytes, bytes);
	}
	flush(s, w, dirty);
	return n;
}

/* Send what other workers queued for p. */
static unsigned int drain_port(struct vsw *s, struct vsw_worker *w, struct vsw_port *p)
{
	struct rte_mbuf *m[VSW_BURST];
	unsigned int n = rte_ring_sc_dequeue_burst(p->txq, (void **)m, VSW_BURST, NULL);

	if (n)
		send_owned(s, w, p, m, (uint16_t)n);
	return n;
}

int vsw_worker_main(void *arg)
{
	struct vsw_worker *w = arg;
	struct vsw *s = w->sw;
	unsigned int idle = 0;

	rte_rcu_qsbr_thread_register(s->qsbr, w->idx);
	rte_rcu_qsbr_thread_online(s->qsbr, w->idx);
	while (!__atomic_load_n(&s->quit, __ATOMIC_RELAXED)) {
		/* acquire: pairs with plist_replace()'s release */
		struct vsw_plist *pl = __atomic_load_n(&w->ports, __ATOMIC_ACQUIRE);
		uint32_t now = __atomic_load_n(&s->now_s, __ATOMIC_RELAXED);
		unsigned int i, busy = 0;

		for (i = 0; i < pl->n; i++) {
			struct vsw_port *p = port_at(s, pl->slot[i]);

			if (!p)
				continue;
			busy += poll_port(s, w, p, now);
			busy += drain_port(s, w, p);
		}
		VSW_ADD(w->n.loops, 1);
		if (busy) {
			idle = 0;
		} else {
			for (i = 0; i < pl->n; i++) {
				struct vsw_port *p = port_at(s, pl->slot[i]);

				if (p && p->ops->idle)
					p->ops->idle(p);
			}
			/* a shared machine gets the core back while nothing
			 * moves; a loaded switch never sleeps */
			if (s->cfg.idle_us && ++idle > IDLE_LOOPS)
				rte_delay_us_sleep(s->cfg.idle_us);
		}
		/* no port pointer is held past this point */
		rte_rcu_qsbr_quiescent(s->qsbr, w->idx);
	}
	rte_rcu_qsbr_thread_offline(s->qsbr, w->idx);
	rte_rcu_qsbr_thread_unregister(s->qsbr, w->idx);
	return 0;
}

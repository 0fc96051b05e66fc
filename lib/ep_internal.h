/* SPDX-License-Identifier: MIT */
/*
 * ep_internal.h - the endpoint's state, shared by its files: ep_open.c
 * (set-up and the handshake with the broker), ep_peers.c (who is there and
 * reachable, doorbells, our link line), ep_send.c and ep_recv.c.
 *
 * Peer state lives in three places: the broker's messages on our socket
 * (who is connected, and the eventfds to ring them), the broker's half of
 * the peer table (joined, epoch, MAC) and each peer's own half (link up,
 * the join epoch it attached under, its attach epoch). A peer is up when
 * all three agree; its shared-memory fields are re-read, never trusted.
 *
 * What the send and receive paths call per frame or per poll is inline
 * here, so that the split into files costs them no calls.
 */
#ifndef IVNET_EP_INTERNAL_H
#define IVNET_EP_INTERNAL_H

#include "ivnet_region.h"
#include "ivnet_ring.h"

/* A connected peer's doorbells, by ivshmem id (the broker's messages). */
struct ep_vectors {
	int used;
	uint32_t ivpos;
	int fd[IVNET_VECTORS_MAX];
	uint32_t n;
};

/* A slot of the peer table: the rings with whoever is there. */
struct ep_peer {
	uint32_t rx_link_epoch; /* its attach epoch when we last resynced */
	int rx_synced;
	struct ivnet_ring tx; /* us -> it */
	struct ivnet_ring rx; /* it -> us */
};

struct ivnet_ep {
	int sock;
	int epfd;	/* our own doorbells and the socket */
	uint32_t id;	/* our slot */
	uint32_t ivpos; /* our ivshmem id */
	uint32_t vectors;
	struct ep_vectors vec[IVNET_PEERS_MAX];
	/* slot -> its doorbells: a cache, checked against the table on use */
	struct ep_vectors *door[IVNET_PEERS_MAX];
	uint32_t tick; /* read the socket now and then even if nothing moved */
	struct ivnet_region region;
	struct ep_peer peer[IVNET_PEERS_MAX];
	uint32_t last_rx; /* round-robin start */
	/*
	 * Slots the broker's table says are joined (not us), recomputed
	 * whenever table_gen moves: the receive and send paths look at these
	 * only, however large the table. Each is still checked in full on use.
	 */
	uint64_t joined;
	int last_dst;	     /* the slot the last unicast went to (-1: none), ... */
	uint8_t last_mac[6]; /* ... for this MAC */
	uint64_t rx_held;    /* rings with frames handed out in place (recv_zc) */
	uint64_t tx_dirty;   /* rings with frames reserved since the last publish */
	enum ivnet_ep_wait mode;
	unsigned int spin_us;
	struct ivnet_ep_opts opts; /* what our link line advertises */
	int broker_gone;
	uint32_t seen_gen;  /* table_gen when we last took the broker's messages */
	int update_pending; /* a join or leave not yet fully seen on the socket */
	struct ivnet_ep_stats st;
};

#define for_each_joined(ep, id, m) \
	for ((m) = (ep)->joined; (m) && ((id) = (uint32_t)__builtin_ctzll(m), 1); (m) &= (m)-1)

/* ep_peers.c */
struct ep_vectors *ep_vectors_of(struct ivnet_ep *ep, uint32_t ivpos);
void ep_close_vectors(struct ep_vectors *v);
int ep_take_message(struct ivnet_ep *ep, int64_t ivpos, int fd);
void ep_ring(struct ivnet_ep *ep, uint32_t id, uint32_t vector);
void ep_link_set(struct ivnet_ep *ep, bool up);
int ep_update_joined(struct ivnet_ep *ep, uint32_t gen);

static inline struct ivnet_peer *ep_entry(const struct ivnet_ep *ep, uint32_t id)
{
	return ivnet_region_peer(&ep->region, id);
}

/*
 * The doorbells of whoever is in slot id, if we have them all. The cached
 * entry stands while it is in use for the ivshmem id the table names
 * (ep_close_vectors() clears it); else one search.
 */
static inline struct ep_vectors *ep_doorbells(struct ivnet_ep *ep, uint32_t id)
{
	uint32_t ivpos = ivnet_load_relaxed(&ep_entry(ep, id)->admin.ivpos);
	struct ep_vectors *v = ep->door[id];

	if (!v || !v->used || v->ivpos != ivpos)
		v = ep->door[id] = ep_vectors_of(ep, ivpos);
	return v && v->n == ep->vectors ? v : NULL;
}

/* Reachable (abi/ivnet_peer.h), not us, and we can ring its doorbells. */
static inline int ep_peer_up(struct ivnet_ep *ep, uint32_t id)
{
	const struct ivnet_peer *e = ep_entry(ep, id);
	uint32_t epoch;

	return id != ep->id && ivnet_peer_joined(e, &epoch) && ep_doorbells(ep, id) &&
	       ivnet_peer_link_ok(e, epoch);
}

/*
 * Take in the broker's messages when the table generation moved, while a
 * change it announced is incomplete on our side, and now and then
 * regardless (a broker that died says so only on the socket): no syscall
 * on the fast path while nothing changes. Returns 0 or -EPIPE.
 */
static inline int ep_maybe_update(struct ivnet_ep *ep)
{
	const struct ivnet_region_hdr *h = ivnet_region_hdr(&ep->region);
	/* acquire: pairs with the broker's release of table_gen. */
	uint32_t gen = ivnet_load_acquire(&h->table_gen);

	if (gen == ep->seen_gen && !ep->update_pending && (++ep->tick & 4095))
		return 0;
	return ep_update_joined(ep, gen);
}

#endif /* IVNET_EP_INTERNAL_H */

/* SPDX-License-Identifier: MIT */
/*
 * ep_internal.h - the endpoint's state, shared by its files: ep_open.c
 * (set-up and the handshake with the broker), ep_peers.c (who is there and
 * reachable, doorbells, our link line), ep_send.c and ep_recv.c.
 *
 * Peer state lives in three places: the broker's messages on our socket
 * (who is connected, and the eventfds to ring them), the broker's half of
 * the peer table (joined, epoch, MAC, flags, ivshmem id) and each peer's own
 * half in the shared table (link up, the join epoch it attached under, its
 * attach epoch). A peer is up when all three agree. The broker's half is
 * taken from our admin region (ep_admin.c), never from the shared table,
 * which every peer can rewrite: a snapshot of it, refreshed when its
 * sequence number moves. The link half is re-read, never trusted.
 *
 * What the send and receive paths call per frame or per poll is inline
 * here, so that the split into files costs them no calls.
 */
#ifndef IVNET_EP_INTERNAL_H
#define IVNET_EP_INTERNAL_H

#include "ivnet_admin.h"
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

/* The broker's word (ep_admin.c): our admin region and a snapshot of it. */
struct ep_admin {
	int sock;
	struct ivnet_admin_hdr *base; /* IVNET_ADMIN_SIZE bytes mapped */
	uint32_t seq;		      /* seq before the snapshot was taken */
	struct ivnet_region_hdr seg;  /* the segment's header as formatted */
	struct ivnet_peer_admin peer[IVNET_PEERS_MAX];
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
	uint32_t tick;		    /* read the socket now and then even if nothing moved */
	struct ivnet_region region; /* its layout from adm.seg, never the shared header */
	struct ep_admin adm;
	struct ep_peer peer[IVNET_PEERS_MAX];
	uint32_t last_rx; /* round-robin start */
	/*
	 * Slots the broker's table says are joined (not us), recomputed
	 * whenever the admin region's seq moves: the receive and send paths look at these
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
	uint32_t seen_gen;  /* adm.seq when we last took the broker's messages */
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
int ep_update_joined(struct ivnet_ep *ep);

/* ep_admin.c */
int ep_admin_open(struct ivnet_ep *ep, const char *socket_path, char *err);
int ep_admin_refresh(struct ivnet_ep *ep);
void ep_admin_close(struct ivnet_ep *ep);

/* The admin region's seq, relaxed: only a trigger, ep_admin_refresh()
 * takes the snapshot under the sequence lock. */
static inline uint32_t ep_admin_seq(const struct ivnet_ep *ep)
{
	return ivnet_load_relaxed(&ep->adm.base->seq);
}

/* The broker's half of slot id, as of the latest snapshot. */
static inline const struct ivnet_peer_admin *ep_admin(const struct ivnet_ep *ep, uint32_t id)
{
	return &ep->adm.peer[id];
}

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
	uint32_t ivpos = ep_admin(ep, id)->ivpos;
	struct ep_vectors *v = ep->door[id];

	if (!v || !v->used || v->ivpos != ivpos)
		v = ep->door[id] = ep_vectors_of(ep, ivpos);
	return v && v->n == ep->vectors ? v : NULL;
}

/* Reachable (abi/ivnet_peer.h: joined and its epoch in the broker's word,
 * the link line in its own), not us, and we can ring its doorbells. */
static inline int ep_peer_up(struct ivnet_ep *ep, uint32_t id)
{
	const struct ivnet_peer_admin *a = ep_admin(ep, id);

	return id != ep->id && a->state == IVNET_PEER_JOINED && ep_doorbells(ep, id) &&
	       ivnet_peer_link_ok(ep_entry(ep, id), a->epoch);
}

/*
 * Take in the broker's word and messages when the admin region's seq moved
 * (the broker rewrites it on every table change, before it rings us), while
 * a change it announced is incomplete on our side, and now and then
 * regardless (a broker that died says so only on the socket): one relaxed
 * load and no syscall on the fast path while nothing changes. Returns 0 or
 * -EPIPE.
 */
static inline int ep_maybe_update(struct ivnet_ep *ep)
{
	if (ep_admin_seq(ep) == ep->seen_gen && !ep->update_pending && (++ep->tick & 4095))
		return 0;
	return ep_update_joined(ep);
}

#endif /* IVNET_EP_INTERNAL_H */

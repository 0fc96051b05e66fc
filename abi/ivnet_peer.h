/* SPDX-License-Identifier: MIT */
/*
 * ivnet_peer.h - the rules of the peer table (struct ivnet_peer in
 * ivnet_shm.h), written once for every reader and every peer: where an
 * entry is, how a peer raises and drops its own link line, and when another
 * peer counts as reachable. The guest driver and libivnet both follow them
 * through these functions; kernel and userspace compile this file unchanged.
 *
 * Memory ordering. Each entry has two writers, each with one release store
 * that publishes its half and one acquire load on the reader's side:
 *  - admin (the broker, ivnetd_peer_publish() in host/): the fields first,
 *    then admin.state = JOINED with release; ivnet_peer_joined() loads
 *    admin.state with acquire before it reads admin.epoch.
 *  - link (the peer itself, ivnet_peer_link_set()): the fields first, then
 *    link.state with release; ivnet_peer_link_ok() loads link.state with
 *    acquire before it reads link.join_epoch.
 * Values read here are hints from shared memory: compare and copy them,
 * never use them as an index or a length unchecked.
 */
#ifndef IVNET_PEER_H
#define IVNET_PEER_H

#include "ivnet_layout.h"

/* Entry `id` of the table of a region mapped at base (id < l->max_peers). */
static inline struct ivnet_peer *ivnet_peer_entry(const void *base, const struct ivnet_layout *l,
						  uint32_t id)
{
	return (struct ivnet_peer *)((uintptr_t)base + ivnet_peer_offset(l, id));
}

/*
 * The slot of the joined peer whose ivshmem id is ivpos, or -ENOENT. The
 * answer is a hint to be checked, never trusted further than "a slot below
 * max_peers".
 */
static inline int ivnet_find_slot(const void *base, const struct ivnet_layout *l, uint32_t ivpos)
{
	uint32_t i;

	for (i = 0; i < l->max_peers; i++) {
		const struct ivnet_peer *e = ivnet_peer_entry(base, l, i);

		/* acquire: pairs with the broker's release of admin.state */
		if (ivnet_load_acquire(&e->admin.state) == IVNET_PEER_JOINED &&
		    ivnet_load_relaxed(&e->admin.ivpos) == ivpos)
			return (int)i;
	}
	return -ENOENT;
}

/*
 * Raise (up) or drop our own link line in our entry e. Raising it is a new
 * attach: a new link epoch, so that peers drop whatever an earlier
 * incarnation of us left queued to them, and the join epoch we attached
 * under (join_epoch: our admin epoch, from the admin region when we have
 * one), so that a line left over from an earlier join of this slot never
 * counts. mtu and features are what we accept on receive. The caller then
 * rings every peer's control vector.
 */
static inline void ivnet_peer_link_set_under(struct ivnet_peer *e, bool up, uint32_t mtu,
					     uint32_t features, uint32_t join_epoch)
{
	if (up) {
		ivnet_store_relaxed(&e->link.state, IVNET_LINK_DOWN);
		ivnet_store_relaxed(&e->link.epoch, ivnet_load_relaxed(&e->link.epoch) + 1);
		ivnet_store_relaxed(&e->link.join_epoch, join_epoch);
		ivnet_store_relaxed(&e->link.mtu, mtu);
		ivnet_store_relaxed(&e->link.features, features);
	}
	/* release: a peer that sees the state (the acquire in
	 * ivnet_peer_link_ok()) sees the fields above. */
	ivnet_store_release(&e->link.state, up ? IVNET_LINK_UP : IVNET_LINK_DOWN);
}

/* The same, under the admin epoch the segment's own table shows. */
static inline void ivnet_peer_link_set(struct ivnet_peer *e, bool up, uint32_t mtu,
				       uint32_t features)
{
	ivnet_peer_link_set_under(e, up, mtu, features, ivnet_load_relaxed(&e->admin.epoch));
}

/*
 * The broker's half: is the slot joined? If so, *epoch is the join epoch,
 * to be handed to ivnet_peer_link_ok(). The other admin fields may be read
 * after a true answer.
 */
static inline bool ivnet_peer_joined(const struct ivnet_peer *e, uint32_t *epoch)
{
	/* acquire: pairs with the broker's release of admin.state; the epoch
	 * read after it belongs to this join (or a later one, which the link's
	 * join_epoch then fails to match). */
	if (ivnet_load_acquire(&e->admin.state) != IVNET_PEER_JOINED)
		return false;
	*epoch = ivnet_load_relaxed(&e->admin.epoch);
	return true;
}

/*
 * The peer's own half: is its link up, and raised under join `epoch`? The
 * other link fields (epoch, mtu, features) may be read after a true answer.
 */
static inline bool ivnet_peer_link_ok(const struct ivnet_peer *e, uint32_t epoch)
{
	/* acquire: pairs with the release in ivnet_peer_link_set(). */
	return ivnet_load_acquire(&e->link.state) == IVNET_LINK_UP &&
	       ivnet_load_relaxed(&e->link.join_epoch) == epoch;
}

/* Reachable: joined, link up, and the line belongs to the current join. */
static inline bool ivnet_peer_up(const struct ivnet_peer *e)
{
	uint32_t epoch;

	return ivnet_peer_joined(e, &epoch) && ivnet_peer_link_ok(e, epoch);
}

#endif /* IVNET_PEER_H */

// SPDX-License-Identifier: MIT
/*
 * tx.c - transmit: the destination MAC picks the peer's ring; broadcast and
 * multicast go to every peer that is up; unknown unicast goes to the
 * uplink, or is dropped and counted. The skb is copied into the ring with
 * its offload metadata; rings are published, and doorbells rung, once per
 * batch from the stack (xmit_more), and only for peers that asked for a
 * doorbell.
 *
 * One transmit queue per peer slot (ivnet_txq_of()), picked by destination
 * in ivnet_select_queue(), and queue 0 for the rest: a peer whose ring stays
 * full stops its own queue, never the others'. Each ring has one producer at
 * a time: the peer's tx_lock, taken by its queue's xmit (uncontended) and,
 * one peer at a time, by the broadcast path. A queue is stopped as soon as
 * its ring has less room than the largest frame may need, so a running
 * queue always has room and the stack never sees NETDEV_TX_BUSY; a timer
 * wakes it when a quarter of the ring is free again, or gives up on the
 * peer after IVNET_TX_STALL_NS (its frames are then dropped until it has
 * that room again).
 */
#include <linux/virtio_net.h>

#include "ivnet.h"

/* Under p->tx_lock. */
static void flush_peer(struct ivnet_priv *priv, struct ivnet_dev_peer *p)
{
	if (!p->tx_dirty)
		return;
	p->tx_dirty = false;
	ivnet_tx_publish(&p->tx);
	/* With suppress=0, a doorbell for every frame: the unbatched
	 * baseline of the seeds' experiments. */
	if (ivnet_tx_need_notify(&p->tx) || !ivnet_suppress) {
		ivnet_doorbell(priv, READ_ONCE(p->ivpos), IVNET_VEC_RX);
		WRITE_ONCE(p->st.doorbells, p->st.doorbells + 1);
	}
}

/* The end of a batch on queue 0: publish what broadcasts left queued. */
static void flush_bcast(struct ivnet_priv *priv)
{
	u64 dirty = priv->tx_bcast_dirty;

	priv->tx_bcast_dirty = 0;
	while (dirty) {
		struct ivnet_dev_peer *p = &priv->peer[__ffs64(dirty)];

		dirty &= dirty - 1;
		spin_lock(&p->tx_lock);
		flush_peer(priv, p);
		spin_unlock(&p->tx_lock);
	}
}

static void meta_from_hdr(struct ivnet_meta *m, const struct virtio_net_hdr *h)
{
	m->flags = 0;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		m->flags |= IVNET_DESC_F_CSUM_PARTIAL;
	if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID)
		m->flags |= IVNET_DESC_F_CSUM_VALID;
	m->gso_type = h->gso_type;
	m->gso_size = __virtio16_to_cpu(true, h->gso_size);
	m->hdr_len = __virtio16_to_cpu(true, h->hdr_len);
	m->csum_start = __virtio16_to_cpu(true, h->csum_start);
	m->csum_offset = __virtio16_to_cpu(true, h->csum_offset);
}

/* What became of a frame offered to one peer's ring. */
enum ivnet_put {
	IVNET_PUT_QUEUED,  /* reserved in the ring, published at the next flush */
	IVNET_PUT_DROPPED, /* not sendable (metadata, size): counted in tx_errors */
	IVNET_PUT_FULL,	   /* the ring has no room: nothing was written (counted) */
};

/* One skb into one peer's ring, as is (offloads the peer accepts). */
static enum ivnet_put put(struct ivnet_priv *priv, struct ivnet_dev_peer *p, struct sk_buff *skb)
{
	struct virtio_net_hdr h;
	struct ivnet_meta m;
	void *d;

	if (virtio_net_hdr_from_skb(skb, &h, true, false, 0) || skb->len > priv->layout.max_frame) {
		WRITE_ONCE(p->st.tx_errors, p->st.tx_errors + 1);
		return IVNET_PUT_DROPPED;
	}
	/* hdr_len from skb_headlen() is only a hint, and may exceed what a
	 * receiver checks it against: keep it within the frame */
	h.hdr_len = 0;
	meta_from_hdr(&m, &h);
	d = ivnet_tx_reserve(&p->tx, skb->len, &m);
	if (!d) {
		WRITE_ONCE(p->st.tx_ring_full, p->st.tx_ring_full + 1);
		return IVNET_PUT_FULL;
	}
	if (skb_copy_bits(skb, 0, d, skb->len)) {
		/* cannot happen for a well-formed skb; the frame still goes
		 * out (it is reserved), as zeroes rather than stale bytes */
		memset(d, 0, skb->len);
		WRITE_ONCE(p->st.tx_errors, p->st.tx_errors + 1);
	}
	p->tx_dirty = true;
	WRITE_ONCE(p->st.tx_packets, p->st.tx_packets + 1);
	WRITE_ONCE(p->st.tx_bytes, p->st.tx_bytes + skb->len);
	if (!ivnet_xmit_batch || !ivnet_suppress)
		flush_peer(priv, p);
	return IVNET_PUT_QUEUED;
}

/*
 * A peer that does not take checksum-partial or GSO frames (a userspace
 * endpoint, say) gets them finished here: segmented and checksummed by the
 * kernel's own helpers.
 */
static enum ivnet_put put_compat(struct ivnet_priv *priv, struct ivnet_dev_peer *p,
				 struct sk_buff *skb);

/* A super-packet for a peer without GSO, one segment at a time. Segments
 * that do not fit are dropped: there is no partial requeue. */
static enum ivnet_put put_segments(struct ivnet_priv *priv, struct ivnet_dev_peer *p,
				   struct sk_buff *skb)
{
	enum ivnet_put ret = IVNET_PUT_DROPPED;
	struct sk_buff *segs, *seg, *next;

	segs = skb_gso_segment(skb, priv->dev->features & ~NETIF_F_GSO_MASK);
	if (IS_ERR_OR_NULL(segs)) {
		WRITE_ONCE(p->st.tx_errors, p->st.tx_errors + 1);
		return IVNET_PUT_DROPPED;
	}
	skb_list_walk_safe(segs, seg, next) {
		skb_mark_not_on_list(seg);
		if (put_compat(priv, p, seg) == IVNET_PUT_QUEUED)
			ret = IVNET_PUT_QUEUED;
		consume_skb(seg);
	}
	return ret;
}

/* A checksum-partial frame for a peer without checksum offload. */
static enum ivnet_put put_checksummed(struct ivnet_priv *priv, struct ivnet_dev_peer *p,
				      struct sk_buff *skb)
{
	struct sk_buff *copy = skb_copy(skb, GFP_ATOMIC);
	enum ivnet_put ret;

	if (!copy || skb_checksum_help(copy)) {
		WRITE_ONCE(p->st.tx_errors, p->st.tx_errors + 1);
		kfree_skb(copy);
		return IVNET_PUT_DROPPED;
	}
	ret = put(priv, p, copy);
	consume_skb(copy);
	return ret;
}

/*
 * A peer that does not take checksum-partial or GSO frames (a userspace
 * endpoint, say) gets them finished here: segmented and checksummed by the
 * kernel's own helpers.
 */
static enum ivnet_put put_compat(struct ivnet_priv *priv, struct ivnet_dev_peer *p,
				 struct sk_buff *skb)
{
	u32 features = READ_ONCE(p->features);

	if (skb_is_gso(skb) && !(features & IVNET_F_GSO))
		return put_segments(priv, p, skb);
	if (skb->ip_summed == CHECKSUM_PARTIAL && !(features & IVNET_F_CSUM))
		return put_checksummed(priv, p, skb);
	return put(priv, p, skb);
}

/* Give up on p: its queue runs again, its frames are dropped (under
 * tx_wait_lock). */
static void give_up(struct ivnet_priv *priv, struct ivnet_dev_peer *p)
{
	WRITE_ONCE(p->tx_stalled, true);
	WRITE_ONCE(p->st.tx_stalls, p->st.tx_stalls + 1);
	net_warn_ratelimited("%s: peer %u does not consume: dropping its frames\n", priv->dev->name,
			     p->id);
}

/*
 * Stopped queues: wake each one whose ring has tx_wake slots free again or
 * whose peer went away, give up on a peer stopped for longer than
 * IVNET_TX_STALL_NS; look again while any is stopped. A soft timer: it
 * shares tx_wait_lock with the xmit path, which runs with bottom halves off.
 */
enum hrtimer_restart ivnet_tx_wait(struct hrtimer *t)
{
	struct ivnet_priv *priv = container_of(t, struct ivnet_priv, tx_wait);
	ktime_t now = ktime_get();
	bool again;
	u64 left;

	spin_lock(&priv->tx_wait_lock);
	for (left = priv->tx_stopped; left; left &= left - 1) {
		struct ivnet_dev_peer *p = &priv->peer[__ffs64(left)];

		if (READ_ONCE(p->up) && ivnet_tx_space(&p->tx) < priv->tx_wake) {
			if (ktime_to_ns(ktime_sub(now, p->tx_stop_t)) <= IVNET_TX_STALL_NS)
				continue;
			give_up(priv, p);
		}
		priv->tx_stopped &= ~BIT_ULL(p->id);
		netif_tx_wake_queue(netdev_get_tx_queue(priv->dev, ivnet_txq_of(p)));
	}
	again = priv->tx_stopped != 0;
	priv->tx_wait_armed = again;
	if (again)
		hrtimer_forward_now(t, ns_to_ktime(IVNET_TX_WAIT_NS));
	spin_unlock(&priv->tx_wait_lock);
	return again ? HRTIMER_RESTART : HRTIMER_NORESTART;
}

/*
 * After a frame into p's ring from p's own queue: stop the queue if the next
 * frame might not fit, and have the timer watch it. Costs nothing while
 * our own view of the ring has room.
 */
static void stop_if_short(struct ivnet_priv *priv, struct ivnet_dev_peer *p,
			  struct netdev_queue *txq)
{
	if (likely(ivnet_tx_has_room(&p->tx, priv->tx_room)))
		return;
	netif_tx_stop_queue(txq);
	WRITE_ONCE(p->st.tx_queue_stops, p->st.tx_queue_stops + 1);
	spin_lock(&priv->tx_wait_lock);
	/* the stall clock runs from the first stop, not from each one */
	if (!(priv->tx_stopped & BIT_ULL(p->id))) {
		priv->tx_stopped |= BIT_ULL(p->id);
		p->tx_stop_t = ktime_get();
	}
	if (!priv->tx_wait_armed) {
		priv->tx_wait_armed = true;
		hrtimer_start(&priv->tx_wait, ns_to_ktime(IVNET_TX_WAIT_NS), HRTIMER_MODE_REL_SOFT);
	}
	spin_unlock(&priv->tx_wait_lock);
}

/* Given up on p: has it made the room that wakes a queue since? */
static bool still_stalled(struct ivnet_priv *priv, struct ivnet_dev_peer *p)
{
	if (likely(!READ_ONCE(p->tx_stalled)))
		return false;
	if (!ivnet_tx_has_room(&p->tx, priv->tx_wake)) {
		WRITE_ONCE(p->st.tx_stall_drops, p->st.tx_stall_drops + 1);
		return true;
	}
	WRITE_ONCE(p->tx_stalled, false);
	return false;
}

/*
 * A broadcast or multicast frame to every peer that is up, each under its
 * own lock. A peer given up on, or whose ring lacks room for this frame on
 * top of what its own queue keeps for its next one, misses it (counted).
 * On queue 0 the rings are published at the end of the batch, elsewhere
 * (a queue_mapping set by someone else) at once.
 */
static void xmit_all(struct ivnet_priv *priv, struct sk_buff *skb, u16 q)
{
	/* (an empty ring takes any frame: the layout sees to that) */
	u32 need = min(priv->tx_room + 2 * ivnet_frame_slots(skb->len, priv->layout.slot_size),
		       priv->layout.slot_count);
	u32 id;

	for (id = 0; id < priv->layout.max_peers; id++) {
		struct ivnet_dev_peer *p = &priv->peer[id];
		bool sent = false;

		if (!READ_ONCE(p->up))
			continue;
		spin_lock(&p->tx_lock);
		if (still_stalled(priv, p))
			; /* counted there */
		else if (!ivnet_tx_has_room(&p->tx, need))
			WRITE_ONCE(p->st.tx_ring_full, p->st.tx_ring_full + 1);
		else
			sent = put_compat(priv, p, skb) == IVNET_PUT_QUEUED;
		if (sent && q == IVNET_TXQ_SHARED)
			priv->tx_bcast_dirty |= BIT_ULL(id);
		else if (sent)
			flush_peer(priv, p);
		spin_unlock(&p->tx_lock);
	}
}

/*
 * A unicast frame into p's ring, under p->tx_lock. txq is p's own queue, or
 * NULL when the frame came on another one (its peer changed since the queue
 * was picked): then it is published at once and never stops a queue that
 * is not ours to stop; a full ring drops it.
 */
static void xmit_one(struct ivnet_priv *priv, struct ivnet_dev_peer *p, struct sk_buff *skb,
		     struct netdev_queue *txq)
{
	if (!still_stalled(priv, p)) {
		put_compat(priv, p, skb);
		if (txq)
			stop_if_short(priv, p, txq);
	}
	if (!txq || !netdev_xmit_more() || netif_xmit_stopped(txq))
		flush_peer(priv, p);
}

/* Does the frame for dst still belong to p, the peer its queue is for? */
static bool queue_fits(const struct ivnet_dev_peer *p, const u8 *dst)
{
	return READ_ONCE(p->up) && (ether_addr_equal(p->mac, dst) || READ_ONCE(p->uplink));
}

u16 ivnet_select_queue(struct net_device *dev, struct sk_buff *skb, struct net_device *sb_dev)
{
	struct ivnet_priv *priv = netdev_priv(dev);
	const struct ethhdr *eth = (const struct ethhdr *)skb->data;
	struct ivnet_dev_peer *p;

	if (skb_headlen(skb) < ETH_HLEN || is_multicast_ether_addr(eth->h_dest))
		return IVNET_TXQ_SHARED;
	p = ivnet_peer_for_dst(priv, eth->h_dest);
	return p ? ivnet_txq_of(p) : IVNET_TXQ_SHARED;
}

netdev_tx_t ivnet_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct ivnet_priv *priv = netdev_priv(dev);
	u16 q = skb_get_queue_mapping(skb);
	struct netdev_queue *txq = netdev_get_tx_queue(dev, q);
	struct ivnet_dev_peer *p = NULL;
	const struct ethhdr *eth;

	if (unlikely(skb->len < ETH_HLEN)) {
		atomic64_inc(&priv->tx_errors);
		goto out;
	}
	eth = (const struct ethhdr *)skb->data;
	if (is_multicast_ether_addr(eth->h_dest)) {
		xmit_all(priv, skb, q);
		goto out;
	}
	if (q != IVNET_TXQ_SHARED)
		p = &priv->peer[q - 1];
	if (unlikely(!p || !queue_fits(p, eth->h_dest))) {
		p = ivnet_peer_for_dst(priv, eth->h_dest);
		txq = NULL;
	}
	if (!p) {
		atomic64_inc(&priv->tx_unknown);
		goto out;
	}
	spin_lock(&p->tx_lock);
	xmit_one(priv, p, skb, txq);
	spin_unlock(&p->tx_lock);
out:
	if (q == IVNET_TXQ_SHARED && !netdev_xmit_more())
		flush_bcast(priv);
	consume_skb(skb);
	return NETDEV_TX_OK;
}

/* Before register_netdev: one queue per peer slot besides queue 0. */
void ivnet_tx_setup(struct ivnet_priv *priv)
{
	u32 id;

	for (id = 0; id < priv->layout.max_peers; id++)
		spin_lock_init(&priv->peer[id].tx_lock);
	/* the layout keeps max_peers within the queues allocated */
	WARN_ON(netif_set_real_num_tx_queues(priv->dev, priv->layout.max_peers + 1));
}

/* ndo_open, rings attached: nothing stopped, nothing given up on. */
void ivnet_tx_start(struct ivnet_priv *priv)
{
	u32 id;

	/* room for the largest frame wherever the ring wraps; the layout
	 * gives every ring at least twice the slots of that frame */
	priv->tx_room = 2 * ivnet_frame_slots(priv->layout.max_frame, priv->layout.slot_size) - 1;
	/* Wake with a quarter of the ring free, not at the stop line: a
	 * consumer that frees a slot at a time would otherwise keep its
	 * queue waking and stopping, never stalled however slow it is. */
	priv->tx_wake = max(priv->tx_room, priv->layout.slot_count / 4);
	for (id = 0; id < priv->layout.max_peers; id++) {
		priv->peer[id].tx_dirty = false;
		priv->peer[id].tx_stalled = false;
	}
	priv->tx_bcast_dirty = 0;
	priv->tx_stopped = 0;
	priv->tx_wait_armed = false;
	netif_tx_start_all_queues(priv->dev);
}

/* ndo_stop: the stack sends no more; the timer must not wake a queue. */
void ivnet_tx_stop(struct ivnet_priv *priv)
{
	netif_tx_stop_all_queues(priv->dev);
	hrtimer_cancel(&priv->tx_wait);
	spin_lock_bh(&priv->tx_wait_lock);
	priv->tx_stopped = 0;
	priv->tx_wait_armed = false;
	spin_unlock_bh(&priv->tx_wait_lock);
}

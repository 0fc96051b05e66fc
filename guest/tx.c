// SPDX-License-Identifier: MIT
/*
 * tx.c - transmit: the destination MAC picks the peer's ring; broadcast and
 * multicast go to every peer that is up; unknown unicast is dropped and
 * counted. The skb is copied into the ring with its offload metadata; rings
 * are published, and doorbells rung, once per batch from the stack
 * (xmit_more), and only for peers that asked for a doorbell.
 *
 * The xmit path is the only producer of our rings: the core holds the tx
 * queue lock around it.
 */
#include <linux/virtio_net.h>

#include "ivnet.h"

static void flush_peer(struct ivnet_priv *priv, struct ivnet_dev_peer *p)
{
	ivnet_tx_publish(&p->tx);
	/* With suppress=0, a doorbell for every frame: the unbatched
	 * baseline of the seeds' experiments. */
	if (ivnet_tx_need_notify(&p->tx) || !ivnet_suppress) {
		ivnet_doorbell(priv, READ_ONCE(p->ivpos), IVNET_VEC_RX);
		WRITE_ONCE(p->st.doorbells, p->st.doorbells + 1);
	}
}

static void flush(struct ivnet_priv *priv)
{
	u64 dirty = priv->tx_dirty;

	priv->tx_dirty = 0;
	while (dirty) {
		u32 id = __ffs64(dirty);

		dirty &= dirty - 1;
		flush_peer(priv, &priv->peer[id]);
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
	IVNET_PUT_FULL,	   /* the ring has no room: nothing was written */
};

/* One skb into one peer's ring, as is (offloads the peer accepts). */
static enum ivnet_put put(struct ivnet_priv *priv, struct ivnet_dev_peer *p, struct sk_buff *skb)
{
	struct virtio_net_hdr h;
	struct ivnet_meta m;
	void *d;

	if (virtio_net_hdr_from_skb(skb, &h, true, false, 0) || skb->len > priv->layout.max_frame) {
		WRITE_ONCE(priv->tx_errors, priv->tx_errors + 1);
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
		WRITE_ONCE(priv->tx_errors, priv->tx_errors + 1);
	}
	priv->tx_dirty |= BIT_ULL(p->id);
	WRITE_ONCE(p->st.tx_packets, p->st.tx_packets + 1);
	WRITE_ONCE(p->st.tx_bytes, p->st.tx_bytes + skb->len);
	if (!ivnet_xmit_batch || !ivnet_suppress) {
		priv->tx_dirty &= ~BIT_ULL(p->id);
		flush_peer(priv, p);
	}
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
		WRITE_ONCE(priv->tx_errors, priv->tx_errors + 1);
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
		WRITE_ONCE(priv->tx_errors, priv->tx_errors + 1);
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

/*
 * The queue is stopped on a full ring: wake it when the consumer has freed
 * room for the waiting frame, or give up on that peer after a while.
 */
enum hrtimer_restart ivnet_tx_wait(struct hrtimer *t)
{
	struct ivnet_priv *priv = container_of(t, struct ivnet_priv, tx_wait);
	struct ivnet_dev_peer *p = &priv->peer[priv->tx_blocked];

	if (!READ_ONCE(p->up) || ivnet_tx_space(&p->tx) >= priv->tx_blocked_need) {
		netif_wake_queue(priv->dev);
		return HRTIMER_NORESTART;
	}
	if (ktime_to_ns(ktime_sub(ktime_get(), priv->tx_blocked_since)) > IVNET_TX_STALL_NS) {
		WRITE_ONCE(priv->tx_stalled, priv->tx_stalled | BIT_ULL(p->id));
		netdev_warn(priv->dev, "peer %u does not consume: dropping its frames\n", p->id);
		netif_wake_queue(priv->dev);
		return HRTIMER_NORESTART;
	}
	hrtimer_forward_now(t, ns_to_ktime(IVNET_TX_WAIT_NS));
	return HRTIMER_RESTART;
}

/* Full ring towards p: publish what is queued, stop, let the timer wait. */
static netdev_tx_t wait_for_room(struct ivnet_priv *priv, struct ivnet_dev_peer *p, u32 len)
{
	flush(priv);
	netif_stop_queue(priv->dev);
	priv->tx_blocked = p->id;
	/* room for the frame wherever the ring wraps */
	priv->tx_blocked_need = DIV_ROUND_UP(len, priv->layout.slot_size) * 2;
	priv->tx_blocked_since = ktime_get();
	/* The consumer may have caught up before we stopped. */
	if (ivnet_tx_space(&p->tx) >= priv->tx_blocked_need) {
		netif_wake_queue(priv->dev);
		return NETDEV_TX_BUSY;
	}
	hrtimer_start(&priv->tx_wait, ns_to_ktime(IVNET_TX_WAIT_NS), HRTIMER_MODE_REL);
	return NETDEV_TX_BUSY;
}

netdev_tx_t ivnet_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct ivnet_priv *priv = netdev_priv(dev);
	const struct ethhdr *eth;

	if (unlikely(skb->len < ETH_HLEN)) {
		WRITE_ONCE(priv->tx_errors, priv->tx_errors + 1);
		goto out;
	}
	eth = (const struct ethhdr *)skb->data;
	if (is_multicast_ether_addr(eth->h_dest)) {
		u32 id;

		for (id = 0; id < priv->layout.max_peers; id++)
			if (READ_ONCE(priv->peer[id].up))
				put_compat(priv, &priv->peer[id], skb);
	} else {
		struct ivnet_dev_peer *p = ivnet_peer_for_dst(priv, eth->h_dest);

		enum ivnet_put res;

		if (!p) {
			WRITE_ONCE(priv->tx_unknown, priv->tx_unknown + 1);
			goto out;
		}
		res = put_compat(priv, p, skb);
		if (res == IVNET_PUT_FULL) {
			/* full: requeue the frame and wait, unless the peer has
			 * already shown that it does not consume (then drop) */
			if (!(READ_ONCE(priv->tx_stalled) & BIT_ULL(p->id)))
				return wait_for_room(priv, p, skb->len);
		} else if (res == IVNET_PUT_QUEUED &&
			   (READ_ONCE(priv->tx_stalled) & BIT_ULL(p->id))) {
			/* it consumes again */
			WRITE_ONCE(priv->tx_stalled, priv->tx_stalled & ~BIT_ULL(p->id));
		}
	}
out:
	if (!netdev_xmit_more())
		flush(priv);
	consume_skb(skb);
	return NETDEV_TX_OK;
}

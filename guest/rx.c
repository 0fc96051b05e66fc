// SPDX-License-Identifier: MIT
/*
 * rx.c - receive: the rx doorbell's interrupt schedules NAPI, which drains
 * the rings from every peer that is up (round robin, within the budget),
 * builds skbs with the frames' offload metadata, and before completing arms
 * every ring (need-wakeup), issues a full barrier and re-checks, so that no
 * frame waits without a doorbell. With napi=0 the interrupt handler itself
 * receives (netif_rx), as drivers did before NAPI.
 *
 * Every frame is validated by the ring (bounds, metadata) and again by
 * virtio_net_hdr_to_skb() (offloads against the headers), must fit our MTU
 * unless it is a GSO super-packet, and must carry its sender's MAC as source:
 * a peer can send garbage, not someone else's frames.
 *
 * The unit of receive work is a descriptor looked at, delivered or dropped:
 * NAPI's budget and the napi=0 bound per interrupt count both, so a peer
 * that keeps its ring full of garbage gets a budget's worth of our time per
 * poll, like any other.
 */
#include <linux/if_vlan.h>
#include <linux/virtio_net.h>

#include "ivnet.h"

#define IVNET_IRQ_RX_MAX 256 /* napi=0: descriptors per interrupt before retrying */

static struct sk_buff *alloc_skb_rx(struct ivnet_priv *priv, u32 len)
{
	if (ivnet_napi)
		return napi_alloc_skb(&priv->napi, len);
	return netdev_alloc_skb_ip_align(priv->dev, len);
}

/* Copy a frame out of its slots: headers linear, the rest in pages. */
static struct sk_buff *copy_frame(struct ivnet_priv *priv, const struct ivnet_rx_frame *f)
{
	u32 head = f->len <= IVNET_RX_COPYBREAK ? f->len : IVNET_RX_HDR, off;
	struct sk_buff *skb = alloc_skb_rx(priv, head);
	int i = 0;

	if (!skb)
		return NULL;
	skb_put_data(skb, f->data, head);
	for (off = head; off < f->len; off += PAGE_SIZE, i++) {
		u32 n = min_t(u32, f->len - off, PAGE_SIZE);
		struct page *page;

		if (i == MAX_SKB_FRAGS)
			goto drop; /* max_frame keeps us below this */
		page = alloc_page(GFP_ATOMIC | __GFP_NOWARN);
		if (!page)
			goto drop;
		memcpy(page_address(page), f->data + off, n);
		skb_add_rx_frag(skb, i, page, 0, n, PAGE_SIZE);
	}
	return skb;
drop:
	kfree_skb(skb);
	return NULL;
}

static void hdr_from_meta(struct virtio_net_hdr *h, const struct ivnet_meta *m)
{
	memset(h, 0, sizeof(*h));
	if (m->flags & IVNET_DESC_F_CSUM_PARTIAL)
		h->flags |= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (m->flags & IVNET_DESC_F_CSUM_VALID)
		h->flags |= VIRTIO_NET_HDR_F_DATA_VALID;
	h->gso_type = m->gso_type;
	h->gso_size = __cpu_to_virtio16(true, m->gso_size);
	h->hdr_len = __cpu_to_virtio16(true, m->hdr_len);
	h->csum_start = __cpu_to_virtio16(true, m->csum_start);
	h->csum_offset = __cpu_to_virtio16(true, m->csum_offset);
}

/* Longer than our MTU lets in? GSO super-packets are segmented to it later;
 * a VLAN tag rides on top of the MTU, as on any Ethernet device. */
static bool too_long(const struct ivnet_priv *priv, const struct ivnet_rx_frame *f)
{
	return f->meta.gso_type == IVNET_GSO_NONE &&
	       f->len > READ_ONCE(priv->dev->mtu) + ETH_HLEN + VLAN_HLEN;
}

/* One frame from peer p: an skb for the stack, or NULL (counted). */
static struct sk_buff *build_skb_rx(struct ivnet_priv *priv, struct ivnet_dev_peer *p,
				    const struct ivnet_rx_frame *f)
{
	struct virtio_net_hdr h;
	struct sk_buff *skb;

	if (too_long(priv, f)) {
		WRITE_ONCE(p->st.rx_invalid, p->st.rx_invalid + 1);
		return NULL;
	}
	skb = copy_frame(priv, f);
	if (!skb) {
		WRITE_ONCE(p->st.rx_dropped, p->st.rx_dropped + 1);
		return NULL;
	}
	/* a peer sends as itself; an uplink forwards for whole networks */
	if (!READ_ONCE(p->uplink) &&
	    !ether_addr_equal(((struct ethhdr *)skb->data)->h_source, p->mac))
		goto invalid;
	hdr_from_meta(&h, &f->meta);
	if (virtio_net_hdr_to_skb(skb, &h, true))
		goto invalid;
	/* the ring refuses both flags at once; should they come anyway, a
	 * sum still to be done is not one already checked */
	if ((h.flags & VIRTIO_NET_HDR_F_DATA_VALID) && skb->ip_summed != CHECKSUM_PARTIAL)
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->protocol = eth_type_trans(skb, priv->dev);
	WRITE_ONCE(p->st.rx_packets, p->st.rx_packets + 1);
	WRITE_ONCE(p->st.rx_bytes, p->st.rx_bytes + f->len);
	return skb;
invalid:
	WRITE_ONCE(p->st.rx_invalid, p->st.rx_invalid + 1);
	kfree_skb(skb);
	return NULL;
}

/* Resync the rings of peers that came up or restarted (peers.c asks). */
static void resync_requested(struct ivnet_priv *priv)
{
	u32 id;

	for_each_set_bit(id, priv->rx_resync, priv->layout.max_peers)
		if (test_and_clear_bit(id, priv->rx_resync))
			ivnet_rx_restart(&priv->peer[id].rx);
}

/*
 * Receive from all peers, looking at no more than budget descriptors in all
 * (see above); returns how many it looked at.
 */
static int receive(struct ivnet_priv *priv, int budget)
{
	u32 peers = priv->layout.max_peers, left = budget, k;

	resync_requested(priv);
	for (k = 0; k < peers && left; k++) {
		u32 id = (priv->rx_next + k) % peers;
		struct ivnet_dev_peer *p = &priv->peer[id];
		struct ivnet_rx_frame f;

		if (id == priv->self || !READ_ONCE(p->up))
			continue;
		while (ivnet_rx_peek_budget(&p->rx, &f, &left)) {
			struct sk_buff *skb = build_skb_rx(priv, p, &f);

			ivnet_rx_consume(&p->rx);
			if (!skb)
				continue;
			if (ivnet_napi)
				napi_gro_receive(&priv->napi, skb);
			else
				netif_rx(skb);
		}
		ivnet_rx_release(&p->rx);
	}
	priv->rx_next = (priv->rx_next + 1) % peers;
	return budget - left;
}

/*
 * About to wait for a doorbell: ask every up peer for one, then look again.
 * Returns true if something arrived meanwhile (keep receiving).
 */
static bool arm_and_recheck(struct ivnet_priv *priv)
{
	bool pending = false;
	u32 id;

	for (id = 0; id < priv->layout.max_peers; id++)
		if (id != priv->self && READ_ONCE(priv->peer[id].up))
			ivnet_rx_set_armed(&priv->peer[id].rx, 1);
	/* Full barrier: armed before the head loads; pairs with the
	 * producers' barrier in ivnet_tx_need_notify(). */
	ivnet_mb();
	for (id = 0; id < priv->layout.max_peers; id++)
		if (id != priv->self && READ_ONCE(priv->peer[id].up) &&
		    ivnet_rx_avail(&priv->peer[id].rx))
			pending = true;
	return pending || !bitmap_empty(priv->rx_resync, IVNET_PEERS_MAX);
}

int ivnet_poll(struct napi_struct *napi, int budget)
{
	struct ivnet_priv *priv = container_of(napi, struct ivnet_priv, napi);
	int done;

	WRITE_ONCE(priv->napi_polls, priv->napi_polls + 1);
	done = receive(priv, budget);
	if (done < budget && napi_complete_done(napi, done) && arm_and_recheck(priv))
		napi_schedule(napi);
	return done;
}

/* napi=0: receive here, bounded; if more keeps coming, finish from a work. */
static void receive_irq(struct ivnet_priv *priv)
{
	unsigned long flags;
	int total = 0;

	spin_lock_irqsave(&priv->rx_lock, flags);
	do {
		/* a round that found nothing to look at (a peer restarted)
		 * still counts: the bound holds whatever arm_and_recheck() says */
		total += max(receive(priv, IVNET_IRQ_RX_MAX - total), 1);
		if (total >= IVNET_IRQ_RX_MAX) {
			spin_unlock_irqrestore(&priv->rx_lock, flags);
			schedule_delayed_work(&priv->rx_retry, 0);
			return;
		}
	} while (arm_and_recheck(priv));
	spin_unlock_irqrestore(&priv->rx_lock, flags);
}

void ivnet_rx_retry(struct work_struct *work)
{
	struct ivnet_priv *priv = container_of(to_delayed_work(work), struct ivnet_priv, rx_retry);

	if (!READ_ONCE(priv->running))
		return;
	local_bh_disable();
	if (ivnet_napi)
		napi_schedule(&priv->napi);
	else
		receive_irq(priv);
	local_bh_enable();
}

irqreturn_t ivnet_irq_rx(int irq, void *data)
{
	struct ivnet_priv *priv = data;

	WRITE_ONCE(priv->interrupts, priv->interrupts + 1);
	if (!READ_ONCE(priv->running))
		return IRQ_HANDLED;
	if (ivnet_napi)
		napi_schedule(&priv->napi);
	else
		receive_irq(priv);
	return IRQ_HANDLED;
}

irqreturn_t ivnet_irq_ctrl(int irq, void *data)
{
	struct ivnet_priv *priv = data;

	WRITE_ONCE(priv->interrupts_ctrl, priv->interrupts_ctrl + 1);
	schedule_work(&priv->peer_work);
	return IRQ_HANDLED;
}

/* SPDX-License-Identifier: MIT */
/*
 * ivnet_ring_pvt.h - the ring's own helpers, internal to ivnet_ring.h and
 * ivnet_ring.c (and to tests that check them): the __ivnet_ring_* names
 * are no API. Include ivnet_ring.h, never this file.
 */
#ifndef IVNET_RING_PVT_H
#define IVNET_RING_PVT_H

#ifndef IVNET_RING_H
#error "include ivnet_ring.h, not ivnet_ring_pvt.h"
#endif

/*
 * Re-read the consumer's tail. A valid tail lies between the last one seen
 * and the head we published (a consumer can neither go back nor free what
 * it was not given).
 */
static inline int __ivnet_ring_tx_refresh(struct ivnet_ring *r, uint32_t need)
{
	/* acquire: pairs with the consumer's release in ivnet_rx_release(), so
	 * its reads of the slots it freed happen before we overwrite them. */
	uint32_t t = ivnet_load_acquire(&r->ctrl->cons.tail);

	if (ivnet_unlikely((uint32_t)(t - r->tail) > (uint32_t)(r->pub - r->tail))) {
		r->stats.bad_index++;
		return 0;
	}
	r->tail = t;
	return r->slot_count - (r->head - t) >= need;
}

/*
 * Stalled (full): if our published head was overwritten, publish it again,
 * so that a scribble over shared memory heals instead of stalling the ring.
 */
static inline void __ivnet_ring_tx_reassert(struct ivnet_ring *r)
{
	if (ivnet_load_relaxed(&r->ctrl->prod.head) != r->pub)
		/* release: as in ivnet_tx_publish(). */
		ivnet_store_release(&r->ctrl->prod.head, r->pub);
}

static inline void __ivnet_ring_desc_write(struct ivnet_desc *d, uint32_t len,
					   const struct ivnet_meta *m)
{
	/* Plain stores: the release store of head publishes them. */
	d->len = len;
	d->flags = m ? m->flags : 0;
	d->gso_type = m ? m->gso_type : 0;
	d->reserved = 0;
	d->gso_size = m ? m->gso_size : 0;
	d->hdr_len = m ? m->hdr_len : 0;
	d->csum_start = m ? m->csum_start : 0;
	d->csum_offset = m ? m->csum_offset : 0;
}

/*
 * An invalid head. A scribbled value changes or is overwritten by the
 * producer's next publish; a head that stays the same is the producer's
 * own (it re-publishes it while idle, see __ivnet_ring_tx_reassert()) and we are
 * the ones out of step, having followed an earlier scribble: adopt it, so
 * that the ring heals instead of wedging.
 */
#define __IVNET_RING_BAD_HEAD_ADOPT 3

static inline void __ivnet_ring_rx_bad_head(struct ivnet_ring *r, uint32_t h)
{
	if (r->bad_head_seen && h == r->bad_head) {
		if (++r->bad_head_seen >= __IVNET_RING_BAD_HEAD_ADOPT) {
			r->stats.resync++;
			ivnet_rx_resync(r);
		}
		return;
	}
	r->bad_head = h;
	r->bad_head_seen = 1;
}

/* Read a descriptor once, field by field, into private memory. */
static inline void __ivnet_ring_desc_read(const struct ivnet_desc *s, struct ivnet_desc *d)
{
	d->len = ivnet_load_relaxed(&s->len);
	d->flags = ivnet_load_relaxed(&s->flags);
	d->gso_type = ivnet_load_relaxed(&s->gso_type);
	d->gso_size = ivnet_load_relaxed(&s->gso_size);
	d->hdr_len = ivnet_load_relaxed(&s->hdr_len);
	d->csum_start = ivnet_load_relaxed(&s->csum_start);
	d->csum_offset = ivnet_load_relaxed(&s->csum_offset);
}

/* No frame boundary can be trusted: drop all that is queued. */
static inline void __ivnet_ring_rx_drop_pending(struct ivnet_ring *r)
{
	r->stats.resync++;
	r->tail = r->head;
}

/* Where the checksum field lies in the transport header (virtio_net checks). */
#define __IVNET_RING_CSUM_OFF_TCP 16u /* offsetof(struct tcphdr, check) */
#define __IVNET_RING_CSUM_OFF_UDP 6u  /* offsetof(struct udphdr, check) */
#define __IVNET_RING_UDP_HLEN 8u
/* UDP GSO: at most the segments a Linux sender makes (UDP_MAX_SEGMENTS),
 * which virtio_net enforces too. */
#define __IVNET_RING_UDP_MAX_SEGS 128u

/*
 * GSO metadata: a known type (ECN only with TCP), checksum partial with the
 * field where that transport has it (segmentation finishes it per segment),
 * segments no smaller than IVNET_GSO_MIN_SIZE and, for UDP, no more than
 * Linux sends. What virtio_net_hdr_from_skb() makes of a Linux GSO skb, and
 * nothing virtio_net_hdr_to_skb() would refuse.
 */
static inline int __ivnet_ring_gso_valid(const struct ivnet_desc *d)
{
	uint32_t gso = d->gso_type & ~IVNET_GSO_ECN;
	int tcp = gso == IVNET_GSO_TCPV4 || gso == IVNET_GSO_TCPV6;

	if (!tcp && gso != IVNET_GSO_UDP && gso != IVNET_GSO_UDP_L4)
		return 0;
	if (!tcp && (d->gso_type & IVNET_GSO_ECN))
		return 0;
	if (!(d->flags & IVNET_DESC_F_CSUM_PARTIAL) ||
	    d->csum_offset != (tcp ? __IVNET_RING_CSUM_OFF_TCP : __IVNET_RING_CSUM_OFF_UDP))
		return 0;
	if (d->gso_size < IVNET_GSO_MIN_SIZE)
		return 0;
	/* csum_start is where the UDP header starts; the caller checked that
	 * the checksum field lies within len */
	return gso != IVNET_GSO_UDP_L4 || d->len - d->csum_start - __IVNET_RING_UDP_HLEN <=
						  (uint32_t)d->gso_size * __IVNET_RING_UDP_MAX_SEGS;
}

/* Does the metadata of descriptor d (a private copy) make sense for its length? */
static inline int __ivnet_ring_meta_valid(const struct ivnet_desc *d)
{
	const uint32_t both = IVNET_DESC_F_CSUM_PARTIAL | IVNET_DESC_F_CSUM_VALID;

	if (d->flags & ~both)
		return 0;
	/* partial: the sender left the sum to be done; valid: it vouches for
	 * a sum already done. Never both. */
	if ((d->flags & both) == both)
		return 0;
	if ((d->flags & IVNET_DESC_F_CSUM_PARTIAL) &&
	    (uint32_t)d->csum_start + d->csum_offset + 2 > d->len)
		return 0;
	if (d->hdr_len > d->len)
		return 0;
	return d->gso_type == IVNET_GSO_NONE || __ivnet_ring_gso_valid(d);
}

/*
 * One descriptor at the consumer's tail, avail slots published: 1 with *f
 * if it starts a valid frame (the tail stays, peek_slots says how far it
 * goes); else 0, the tail past what was stepped over (a PAD) or dropped
 * (counted; everything pending if no frame boundary can be trusted).
 */
static inline int __ivnet_ring_rx_step(struct ivnet_ring *r, uint32_t avail,
				       struct ivnet_rx_frame *f)
{
	uint32_t pos = r->tail & r->mask, k;
	struct ivnet_desc d;

	__ivnet_ring_desc_read(&r->desc[pos], &d);
	if (d.flags & IVNET_DESC_F_PAD) {
		k = r->slot_count - pos;
		if (ivnet_unlikely(d.flags != IVNET_DESC_F_PAD || k > avail))
			goto drop_pending;
		r->tail += k;
		return 0;
	}
	if (ivnet_unlikely(d.len < IVNET_FRAME_MIN || d.len > r->max_frame))
		goto drop_pending;
	k = (d.len + r->slot_size - 1) >> r->slot_shift;
	if (ivnet_unlikely(k > avail || pos + k > r->slot_count))
		goto drop_pending;
	if (ivnet_unlikely(!__ivnet_ring_meta_valid(&d))) {
		r->stats.bad_desc++;
		r->tail += k;
		return 0;
	}
	f->data = r->slots + ((size_t)pos << r->slot_shift);
	f->len = d.len;
	f->meta.flags = d.flags;
	f->meta.gso_type = d.gso_type;
	f->meta.gso_size = d.gso_size;
	f->meta.hdr_len = d.hdr_len;
	f->meta.csum_start = d.csum_start;
	f->meta.csum_offset = d.csum_offset;
	r->peek_slots = k;
	return 1;
drop_pending:
	r->stats.bad_desc++;
	__ivnet_ring_rx_drop_pending(r);
	return 0;
}

#endif /* IVNET_RING_PVT_H */

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

/* Does the metadata of descriptor d (a private copy) make sense for its length? */
static inline int __ivnet_ring_meta_valid(const struct ivnet_desc *d)
{
	uint32_t gso = d->gso_type & ~IVNET_GSO_ECN;

	if (d->flags & ~(uint32_t)(IVNET_DESC_F_CSUM_PARTIAL | IVNET_DESC_F_CSUM_VALID))
		return 0;
	if ((d->flags & IVNET_DESC_F_CSUM_PARTIAL) &&
	    (uint32_t)d->csum_start + d->csum_offset + 2 > d->len)
		return 0;
	if (d->hdr_len > d->len)
		return 0;
	switch (gso) {
	case IVNET_GSO_NONE:
		return d->gso_type == IVNET_GSO_NONE;
	case IVNET_GSO_TCPV4:
	case IVNET_GSO_UDP:
	case IVNET_GSO_TCPV6:
	case IVNET_GSO_UDP_L4:
		return d->gso_size != 0;
	default:
		return 0;
	}
}

/* No frame boundary can be trusted: drop all that is queued. */
static inline void __ivnet_ring_rx_drop_pending(struct ivnet_ring *r)
{
	r->stats.resync++;
	r->tail = r->head;
}

#endif /* IVNET_RING_PVT_H */

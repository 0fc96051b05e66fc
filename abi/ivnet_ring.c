// SPDX-License-Identifier: MIT
/*
 * ivnet_ring.c - attaching a ring view to shared memory; the fast path is
 * inline in ivnet_ring.h. Built into the guest driver and userspace alike.
 */
#include "ivnet_ring.h"

static int ring_view(struct ivnet_ring *r, void *base, const struct ivnet_layout *l, uint32_t from,
		     uint32_t to)
{
	uint8_t *ring;

	if (from >= l->max_peers || to >= l->max_peers || from == to)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	ring = (uint8_t *)base + ivnet_ring_offset(l, from, to);
	r->ctrl = (struct ivnet_ring_ctrl *)ring;
	r->desc = (struct ivnet_desc *)(ring + l->ring_desc_off);
	r->slots = ring + l->ring_slots_off;
	r->slot_count = l->slot_count;
	r->mask = l->slot_count - 1;
	r->slot_size = l->slot_size;
	while ((1u << r->slot_shift) < l->slot_size)
		r->slot_shift++;
	r->max_frame = l->max_frame;
	return 0;
}

int ivnet_ring_attach_tx(struct ivnet_ring *r, void *base, const struct ivnet_layout *l,
			 uint32_t from, uint32_t to)
{
	uint32_t h, t;
	int err = ring_view(r, base, l, from, to);

	if (err)
		return err;
	h = ivnet_load_relaxed(&r->ctrl->prod.head);
	/* acquire: as in __ivnet_ring_tx_refresh(). */
	t = ivnet_load_acquire(&r->ctrl->cons.tail);
	if ((uint32_t)(h - t) > r->slot_count) {
		/* Our previous incarnation's head is not consistent with the
		 * consumer's tail: start over where the consumer is. */
		r->stats.bad_index++;
		h = t;
		ivnet_store_release(&r->ctrl->prod.head, h);
	}
	/* Plain store: the link-up store (release) that follows attach
	 * publishes it; see ivnet_ring_prod.start. */
	ivnet_store_relaxed(&r->ctrl->prod.start, h);
	r->head = h;
	r->pub = h;
	r->tail = t;
	return 0;
}

/* Consumer: continue at index t, everything before it handed back. */
static void rx_restart_at(struct ivnet_ring *r, uint32_t t)
{
	r->head = t;
	r->tail = t;
	r->peek_slots = 0;
	r->bad_head_seen = 0;
	/* release: as in ivnet_rx_release(). */
	ivnet_store_release(&r->ctrl->cons.tail, t);
	r->pub = t;
}

void ivnet_rx_resync(struct ivnet_ring *r)
{
	/* acquire: as in ivnet_rx_avail(); the new tail frees every slot. */
	rx_restart_at(r, ivnet_load_acquire(&r->ctrl->prod.head));
}

void ivnet_rx_restart(struct ivnet_ring *r)
{
	/* acquire: as in ivnet_rx_avail(). The caller read the producer's new
	 * link state with acquire, so start is this incarnation's. */
	uint32_t h = ivnet_load_acquire(&r->ctrl->prod.head);
	uint32_t s = ivnet_load_relaxed(&r->ctrl->prod.start);
	uint32_t t = r->tail;

	if ((uint32_t)(h - t) > r->slot_count) {
		/* nothing to trust: keep our place; ivnet_rx_avail() judges
		 * the head from now on as it judges any other */
		r->stats.bad_index++;
	} else if ((uint32_t)(s - t) <= (uint32_t)(h - t)) {
		t = s; /* drop the old incarnation's, keep the new one's */
	}	       /* else start is behind us: all we have not read is the new one's */
	rx_restart_at(r, t);
}

int ivnet_ring_attach_rx(struct ivnet_ring *r, void *base, const struct ivnet_layout *l,
			 uint32_t from, uint32_t to)
{
	int err = ring_view(r, base, l, from, to);

	if (err)
		return err;
	ivnet_rx_set_armed(r, 0);
	ivnet_rx_resync(r);
	return 0;
}

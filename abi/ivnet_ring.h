/* SPDX-License-Identifier: MIT */
/*
 * ivnet_ring.h - single-producer/single-consumer frame rings in shared memory.
 *
 * A struct ivnet_ring is one side's private view of one ring of a region
 * (see ivnet_shm.h for the shared part). The view holds the pointers and
 * geometry computed locally from a validated layout, its own index (the only
 * authoritative copy) and the last validated value of the other side's index.
 * Shared memory is never trusted: every index and descriptor read from it is
 * validated before use, and a failed check costs a counted error and dropped
 * frames, never an out-of-bounds access or an unbounded loop.
 *
 * Producer:                         Consumer:
 *   p = ivnet_tx_reserve(r, len, m)   while (ivnet_rx_peek_budget(r, &f, &budget)) {
 *   copy len bytes to p                       use f.data[0 .. f.len)
 *   ... more frames ...                       ivnet_rx_consume(r);
 *   ivnet_tx_publish(r);              }
 *   if (ivnet_tx_need_notify(r))      ivnet_rx_release(r);
 *           ring the doorbell         if (ivnet_rx_arm(r)) sleep;
 *
 * Memory ordering (each pair is commented where it happens):
 *  - head: the producer stores it with release after writing descriptors and
 *    slots; the consumer loads it with acquire before reading them.
 *  - tail: the consumer stores it with release after its last read of the
 *    slots it frees; the producer loads it with acquire before reusing them.
 *  - armed: store->load ordering on both sides needs a full barrier
 *    (ivnet_mb), which acquire/release do not give.
 *
 * The same code runs in the guest kernel and in userspace. Helpers that only
 * the ring itself calls are in ivnet_ring_pvt.h (__ivnet_ring_*): no API.
 */
#ifndef IVNET_RING_H
#define IVNET_RING_H

#include "ivnet_frame.h"
#include "ivnet_layout.h"

struct ivnet_ring_stats {
	uint64_t bad_index; /* the other side's index was out of range */
	uint64_t bad_desc;  /* a descriptor failed validation: its frame dropped */
	uint64_t resync;    /* no frame boundary could be trusted: all pending dropped */
	uint64_t full;	    /* producer: no room for a frame */
	uint64_t notify;    /* producer: doorbells asked for */
	uint64_t too_big;   /* consumer: a frame larger than the caller's buffer */
};

struct ivnet_ring {
	struct ivnet_ring_ctrl *ctrl; /* shared */
	struct ivnet_desc *desc;      /* shared, slot_count entries */
	uint8_t *slots;		      /* shared, slot_count * slot_size bytes */
	uint32_t slot_count;
	uint32_t mask;
	uint32_t slot_size;
	uint32_t slot_shift;
	uint32_t max_frame;
	/*
	 * Producer: head is its own (private) index, tail the last validated
	 * consumer index. Consumer: tail is its own, head the last validated
	 * producer index. pub is the last value of its own index it published.
	 */
	uint32_t head;
	uint32_t tail;
	uint32_t pub;
	uint32_t peek_slots;	/* consumer: slots of the frame peek() returned */
	uint32_t published;	/* producer: head moved since the last need_notify */
	uint32_t bad_head;	/* consumer: the last invalid head seen ... */
	uint32_t bad_head_seen; /* ... and how many times in a row */
	struct ivnet_ring_stats stats;
};

/*
 * Attach to the ring that carries frames from `from` to `to` in a region
 * mapped at base, with a layout validated by the caller (ids < max_peers and
 * distinct). The producer continues from the published head when it is
 * consistent with the consumer's tail, else restarts at that tail. The
 * consumer starts at the current head: nothing queued before it attached is
 * ever consumed.
 */
int ivnet_ring_attach_tx(struct ivnet_ring *r, void *base, const struct ivnet_layout *l,
			 uint32_t from, uint32_t to);
int ivnet_ring_attach_rx(struct ivnet_ring *r, void *base, const struct ivnet_layout *l,
			 uint32_t from, uint32_t to);

/* Consumer: drop everything queued (we attach anew). */
void ivnet_rx_resync(struct ivnet_ring *r);

/*
 * Consumer: the producer attached anew (its link epoch moved). Drop what
 * its previous incarnation queued, keep what the new one sent before we
 * noticed (ivnet_ring_prod.start); the frames a peer sends right after it
 * sees us up are not lost.
 */
void ivnet_rx_restart(struct ivnet_ring *r);

/* The ring's own helpers (__ivnet_ring_*): not for callers. */
#include "ivnet_ring_pvt.h"

/* ------------------------------------------------------------- producer */

/*
 * Reserve room for one frame of len bytes and write its descriptor. Returns
 * where to copy the len bytes (contiguous), or NULL when the ring is full
 * (counted) or len is out of range. Nothing is visible to the consumer until
 * ivnet_tx_publish().
 */
static inline void *ivnet_tx_reserve(struct ivnet_ring *r, uint32_t len, const struct ivnet_meta *m)
{
	uint32_t k, pos, pad;

	if (ivnet_unlikely(len < IVNET_FRAME_MIN || len > r->max_frame))
		return NULL;
	k = (len + r->slot_size - 1) >> r->slot_shift;
	pos = r->head & r->mask;
	pad = pos + k > r->slot_count ? r->slot_count - pos : 0;
	if (r->slot_count - (r->head - r->tail) < pad + k && !__ivnet_ring_tx_refresh(r, pad + k)) {
		r->stats.full++;
		__ivnet_ring_tx_reassert(r);
		return NULL;
	}
	if (pad) {
		__ivnet_ring_desc_write(&r->desc[pos], 0, NULL);
		r->desc[pos].flags = IVNET_DESC_F_PAD;
		r->head += pad;
		pos = 0;
	}
	__ivnet_ring_desc_write(&r->desc[pos], len, m);
	r->head += k;
	return r->slots + ((size_t)pos << r->slot_shift);
}

/*
 * Free slots as the consumer's published tail says, without touching the
 * producer's state (a watcher in another context may call it while the
 * producer is idle). 0 if the tail is invalid.
 */
static inline uint32_t ivnet_tx_space(const struct ivnet_ring *r)
{
	/* acquire: as in __ivnet_ring_tx_refresh(). */
	uint32_t t = ivnet_load_acquire(&r->ctrl->cons.tail);
	uint32_t head = ivnet_load_relaxed(&r->head), pub = ivnet_load_relaxed(&r->pub);

	if ((uint32_t)(pub - t) > r->slot_count)
		return 0;
	return r->slot_count - (head - t);
}

/*
 * Producer: are at least need slots free? Our own view answers without
 * touching shared memory while it can; only when it says no is the
 * consumer's tail re-read (and checked). For a producer that stops before
 * its ring can no longer take its largest frame.
 */
static inline int ivnet_tx_has_room(struct ivnet_ring *r, uint32_t need)
{
	if (r->slot_count - (r->head - r->tail) >= need)
		return 1;
	return __ivnet_ring_tx_refresh(r, need);
}

/* Make every reserved frame visible to the consumer. */
static inline void ivnet_tx_publish(struct ivnet_ring *r)
{
	if (r->head == r->pub)
		return;
	/* release: the descriptors and slot bytes written since the last
	 * publish are visible before the new head; pairs with the acquire in
	 * ivnet_rx_avail(). */
	ivnet_store_release(&r->ctrl->prod.head, r->head);
	r->pub = r->head;
	r->published = 1;
}

/*
 * After a publish: does the consumer want a doorbell? At most one per time
 * the consumer armed, however many batches follow.
 */
static inline int ivnet_tx_need_notify(struct ivnet_ring *r)
{
	/* Nothing new since the last call: no doorbell, and no barrier. */
	if (!r->published)
		return 0;
	r->published = 0;
	/* Full barrier: our head store must be visible before we read armed
	 * (store->load). Pairs with the barrier in ivnet_rx_arm(): either the
	 * consumer sees our head or we see its armed flag. */
	ivnet_mb();
	if (!ivnet_load_relaxed(&r->ctrl->wake.armed))
		return 0;
	/* Clear it so that the next batches do not ring again; the consumer
	 * re-arms (and re-checks) before it next sleeps. */
	ivnet_store_relaxed(&r->ctrl->wake.armed, 0);
	r->stats.notify++;
	return 1;
}

/* Copy up to n frames in, publish once. Returns how many were queued. */
static inline unsigned int ivnet_tx_burst(struct ivnet_ring *r, const struct ivnet_frame *f,
					  unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		void *p = ivnet_tx_reserve(r, f[i].len, &f[i].meta);

		if (!p)
			break;
		memcpy(p, f[i].data, f[i].len);
	}
	ivnet_tx_publish(r);
	return i;
}

/* ------------------------------------------------------------- consumer */

/*
 * Slots the consumer may read now; re-reads head only when it has used up
 * what it saw. A valid head lies within slot_count of the tail we published
 * and not before our own tail.
 */
static inline uint32_t ivnet_rx_avail(struct ivnet_ring *r)
{
	uint32_t h, pos;

	if (r->head != r->tail)
		return r->head - r->tail;
	/* acquire: pairs with the producer's release in ivnet_tx_publish();
	 * descriptors and slots before head are visible once we see it. */
	h = ivnet_load_acquire(&r->ctrl->prod.head);
	/*
	 * Nothing new: return without a single store. This is the busy-poll
	 * spin; a store in it, even to our private view, delays each wake-up
	 * by the time the store takes to drain (see the README's figures).
	 */
	if (h == r->head) {
		if (ivnet_unlikely(r->bad_head_seen))
			r->bad_head_seen = 0;
		return 0;
	}
	if (ivnet_unlikely((uint32_t)(h - r->pub) > r->slot_count ||
			   (uint32_t)(h - r->pub) < (uint32_t)(r->tail - r->pub))) {
		r->stats.bad_index++;
		__ivnet_ring_rx_bad_head(r, h);
		return 0;
	}
	r->bad_head_seen = 0;
	/* New frames: start fetching the first one's descriptor and bytes
	 * together, instead of one cache miss after the other (the bytes'
	 * address does not depend on the descriptor). */
	pos = r->tail & r->mask;
	ivnet_prefetch(&r->desc[pos]);
	ivnet_prefetch(r->slots + ((size_t)pos << r->slot_shift));
	r->head = h;
	return h - r->tail;
}

/*
 * Would ivnet_rx_avail() find something? For busy-poll spins: loads only,
 * since a store in the spin slows its wake-up (see ivnet_rx_avail()). A
 * hint, hence relaxed: the caller then calls ivnet_rx_avail(), whose
 * acquire load is the one that orders the frame's bytes.
 *
 * It also reads the next frame's descriptor and first slot line and throws
 * the values away: each spin re-fetches them after the producer's writes
 * take them away, so they are on their way while the head is, instead of
 * two cache misses in series once the head has moved. Both addresses come
 * from our own geometry, not from shared memory.
 */
static inline int ivnet_rx_pending(const struct ivnet_ring *r)
{
	uint32_t pos = r->tail & r->mask;

	(void)ivnet_load_relaxed(&r->desc[pos].len);
	(void)ivnet_load_relaxed((const uint32_t *)(r->slots + ((size_t)pos << r->slot_shift)));
	return r->head != r->tail || ivnet_load_relaxed(&r->ctrl->prod.head) != r->head;
}

/*
 * The next valid frame, in place, looking at no more than *budget
 * descriptors: each one looked at costs one, whether it is the frame
 * returned, a PAD stepped over or an invalid one dropped (and counted).
 * Returns 0 when the ring is empty or the budget is spent. A consumer that
 * charges its receive loop this way does bounded work per call however fast
 * a producer refills its ring with garbage.
 */
static inline int ivnet_rx_peek_budget(struct ivnet_ring *r, struct ivnet_rx_frame *f,
				       uint32_t *budget)
{
	/* A consume() after a failed peek moves nothing. Stored only when
	 * set: an empty peek is the busy-poll spin, which stays store-free
	 * (see ivnet_rx_avail()). */
	if (r->peek_slots)
		r->peek_slots = 0;

	while (*budget) {
		uint32_t avail = ivnet_rx_avail(r);

		if (!avail)
			return 0;
		--*budget;
		if (__ivnet_ring_rx_step(r, avail, f))
			return 1;
	}
	return 0;
}

/*
 * The next valid frame, in place, or 0 when there is none; looks at most at
 * slot_count descriptors (see ivnet_rx_peek_budget()).
 */
static inline int ivnet_rx_peek(struct ivnet_ring *r, struct ivnet_rx_frame *f)
{
	uint32_t budget = r->slot_count;

	return ivnet_rx_peek_budget(r, f, &budget);
}

/* Step past the frame peek() returned (still readable until release). */
static inline void ivnet_rx_consume(struct ivnet_ring *r)
{
	r->tail += r->peek_slots;
	r->peek_slots = 0;
}

/* Hand every consumed slot back to the producer. */
static inline void ivnet_rx_release(struct ivnet_ring *r)
{
	if (r->tail == r->pub)
		return;
	/* release: our reads of the consumed slots complete before the
	 * producer can see them free; pairs with the acquire in
	 * __ivnet_ring_tx_refresh(). */
	ivnet_store_release(&r->ctrl->cons.tail, r->tail);
	r->pub = r->tail;
}

/*
 * Copy up to n frames out into the caller's buffers, release once. A frame
 * larger than its buffer is dropped and counted (too_big). Looks at no more
 * than n descriptors (see ivnet_rx_peek_budget()): fewer frames than n may
 * come back while more are queued.
 */
static inline unsigned int ivnet_rx_burst(struct ivnet_ring *r, struct ivnet_rx_buf *b,
					  unsigned int n)
{
	struct ivnet_rx_frame f;
	uint32_t budget = n;
	unsigned int i = 0;

	while (ivnet_rx_peek_budget(r, &f, &budget)) {
		if (f.len > b[i].cap) {
			r->stats.too_big++;
		} else {
			memcpy(b[i].data, f.data, f.len);
			b[i].len = f.len;
			b[i].meta = f.meta;
			i++;
		}
		ivnet_rx_consume(r);
	}
	ivnet_rx_release(r);
	return i;
}

/*
 * Notification suppression, consumer side. A consumer with several rings on
 * one doorbell sets armed on each, issues one ivnet_mb(), then checks each
 * with ivnet_rx_avail(); ivnet_rx_arm() does that for one ring.
 */
static inline void ivnet_rx_set_armed(struct ivnet_ring *r, uint32_t on)
{
	ivnet_store_relaxed(&r->ctrl->wake.armed, on);
}

/* Returns 1 if the ring is still empty (sleep now), 0 if frames arrived. */
static inline int ivnet_rx_arm(struct ivnet_ring *r)
{
	/* About to idle: if our published tail was overwritten, publish it
	 * again (as __ivnet_ring_tx_reassert() does for head). */
	if (ivnet_load_relaxed(&r->ctrl->cons.tail) != r->pub)
		/* release: as in ivnet_rx_release(). */
		ivnet_store_release(&r->ctrl->cons.tail, r->pub);
	ivnet_rx_set_armed(r, 1);
	/* Full barrier: armed must be visible before we read head (store->
	 * load). Pairs with the barrier in ivnet_tx_need_notify(). */
	ivnet_mb();
	if (ivnet_rx_avail(r) == 0)
		return 1;
	/* Work arrived: no doorbell needed, spare the producer a VM exit. */
	ivnet_rx_set_armed(r, 0);
	return 0;
}

#endif /* IVNET_RING_H */

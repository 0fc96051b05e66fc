/* SPDX-License-Identifier: MIT */
/*
 * ivnet_layout.h - where everything sits in a region of a given size.
 *
 * The layout is a pure function of a few parameters (region size, peers,
 * vectors, slot size, largest frame, slot cap). The broker computes it and
 * writes it into the region header; every reader recomputes it from the
 * header's parameters and accepts the header only if every derived field
 * matches. Offsets used afterwards come from the reader's own copy, never
 * from shared memory again. Kernel and userspace use this file unchanged.
 */
#ifndef IVNET_LAYOUT_H
#define IVNET_LAYOUT_H

#include "ivnet_shm.h"

struct ivnet_layout_params {
	uint64_t region_size; /* a power of two */
	uint32_t max_peers;   /* IVNET_PEERS_MIN .. IVNET_PEERS_MAX */
	uint32_t vectors;     /* 0: IVNET_VECTORS_MIN */
	uint32_t slot_size;   /* 0: IVNET_SLOT_SIZE_DEFAULT */
	uint32_t max_frame;   /* 0: IVNET_FRAME_MAX */
	uint32_t max_slots;   /* cap on slots per ring; 0: IVNET_SLOTS_DEFAULT_CAP */
};

struct ivnet_layout {
	uint64_t region_size;
	uint32_t max_peers;
	uint32_t vectors;
	uint32_t slot_count;
	uint32_t slot_size;
	uint32_t max_frame;
	uint32_t ring_count;
	uint64_t peer_table_off;
	uint64_t rings_off;
	uint64_t ring_stride;
	uint32_t ring_desc_off;
	uint32_t ring_slots_off;
	uint64_t used_size; /* rings_off + ring_count * ring_stride */
};

/* Errors, as negative return values. */
#define IVNET_LAYOUT_OK 0
#define IVNET_LAYOUT_EINVAL (-EINVAL) /* a parameter out of range */
#define IVNET_LAYOUT_ENOSPC (-ENOSPC) /* the region is too small */

static inline int ivnet_is_pow2_u64(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static inline uint64_t ivnet_align_u64(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* Slots needed by a frame of len bytes (slot_size a power of two). */
static inline uint32_t ivnet_frame_slots(uint32_t len, uint32_t slot_size)
{
	return len / slot_size + (len % slot_size != 0);
}

/*
 * Number of the ring that carries frames from peer `from` to peer `to`.
 * Pairs are packed without the from == to diagonal. Callers check the ids
 * (< max_peers, distinct) first.
 */
static inline uint32_t ivnet_ring_index(uint32_t from, uint32_t to, uint32_t max_peers)
{
	return from * (max_peers - 1) + (to < from ? to : to - 1);
}

static inline uint64_t ivnet_ring_offset(const struct ivnet_layout *l, uint32_t from, uint32_t to)
{
	return l->rings_off + (uint64_t)ivnet_ring_index(from, to, l->max_peers) * l->ring_stride;
}

static inline uint64_t ivnet_peer_offset(const struct ivnet_layout *l, uint32_t id)
{
	return l->peer_table_off + (uint64_t)id * sizeof(struct ivnet_peer);
}

/*
 * Compute the layout: the largest power-of-two slot count (up to the cap)
 * for which every ring fits in the region. Fails with IVNET_LAYOUT_ENOSPC if
 * not even the minimum fits: rings must hold two largest frames, so that a
 * largest frame always fits in an empty ring whatever the wrap position.
 */
int ivnet_layout_compute(const struct ivnet_layout_params *p, struct ivnet_layout *out);

/* Smallest power-of-two region that fits these parameters, or 0 if none. */
uint64_t ivnet_layout_min_region(const struct ivnet_layout_params *p);

/* Smallest slot count a ring may have for this slot size and frame size. */
uint32_t ivnet_layout_min_slots(uint32_t slot_size, uint32_t max_frame);

/*
 * Format a region mapped at base: header, empty peer table, every ring's
 * control block (descriptors and slots need no initialisation). The header's
 * state goes READY last, with release. Only the broker (and tests) format.
 */
void ivnet_layout_format(void *base, const struct ivnet_layout *l, const char *name,
			 uint64_t segment_id);

/*
 * Accept a region header read from shared memory: each field is read once,
 * the layout recomputed from its parameters and compared. Any peer can
 * rewrite the header, so the fields a reader can learn from a source it
 * trusts must agree with it: mapped_size is the size of what it mapped (the
 * BAR, the fd the broker sent) and must be the header's region_size
 * exactly; vectors is the doorbell vector count it has (the device's MSI-X
 * table, the eventfds the broker sent for it), 0 if it cannot know it yet.
 * On failure *why names the first bad field.
 */
int ivnet_layout_from_header(const struct ivnet_region_hdr *h, uint64_t mapped_size,
			     uint32_t vectors, struct ivnet_layout *out, const char **why);

#endif /* IVNET_LAYOUT_H */

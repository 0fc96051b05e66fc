// SPDX-License-Identifier: MIT
/*
 * ivnet_layout.c - layout computation and header validation; built into the
 * guest driver and into userspace alike (see ivnet_layout.h).
 */
#include "ivnet_layout.h"

#define IVNET_REGION_SIZE_MAX (1ULL << 40)
#define IVNET_REGION_SIZE_PROBE_MIN (64ULL * 1024)

static uint32_t round_up_pow2_u32(uint32_t x)
{
	uint32_t p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

uint32_t ivnet_layout_min_slots(uint32_t slot_size, uint32_t max_frame)
{
	uint32_t n = round_up_pow2_u32(2 * ivnet_frame_slots(max_frame, slot_size));

	return n < 8 ? 8 : n;
}

static void ring_geometry(struct ivnet_layout *l, uint32_t slot_count)
{
	uint64_t desc_end =
		sizeof(struct ivnet_ring_ctrl) + (uint64_t)slot_count * sizeof(struct ivnet_desc);

	l->slot_count = slot_count;
	l->ring_desc_off = sizeof(struct ivnet_ring_ctrl);
	l->ring_slots_off = (uint32_t)ivnet_align_u64(desc_end, IVNET_CACHELINE);
	l->ring_stride = ivnet_align_u64(l->ring_slots_off + (uint64_t)slot_count * l->slot_size,
					 IVNET_PAGE);
	l->used_size = l->rings_off + (uint64_t)l->ring_count * l->ring_stride;
}

static int check_params(const struct ivnet_layout_params *p, struct ivnet_layout *l,
			uint32_t *max_slots)
{
	memset(l, 0, sizeof(*l));
	l->region_size = p->region_size;
	l->max_peers = p->max_peers;
	l->vectors = p->vectors ? p->vectors : IVNET_VECTORS_MIN;
	l->slot_size = p->slot_size ? p->slot_size : IVNET_SLOT_SIZE_DEFAULT;
	l->max_frame = p->max_frame ? p->max_frame : IVNET_FRAME_MAX;
	*max_slots = p->max_slots ? p->max_slots : IVNET_SLOTS_DEFAULT_CAP;

	if (!ivnet_is_pow2_u64(l->region_size) || l->region_size > IVNET_REGION_SIZE_MAX)
		return IVNET_LAYOUT_EINVAL;
	if (l->max_peers < IVNET_PEERS_MIN || l->max_peers > IVNET_PEERS_MAX)
		return IVNET_LAYOUT_EINVAL;
	if (l->vectors < IVNET_VECTORS_MIN || l->vectors > IVNET_VECTORS_MAX)
		return IVNET_LAYOUT_EINVAL;
	if (!ivnet_is_pow2_u64(l->slot_size) || l->slot_size < IVNET_SLOT_SIZE_MIN ||
	    l->slot_size > IVNET_SLOT_SIZE_MAX)
		return IVNET_LAYOUT_EINVAL;
	if (l->max_frame < IVNET_REGION_FRAME_MIN || l->max_frame > IVNET_FRAME_MAX)
		return IVNET_LAYOUT_EINVAL;
	if (!ivnet_is_pow2_u64(*max_slots) || *max_slots > IVNET_SLOTS_MAX)
		return IVNET_LAYOUT_EINVAL;

	l->ring_count = l->max_peers * (l->max_peers - 1);
	l->peer_table_off = IVNET_PAGE;
	l->rings_off =
		l->peer_table_off +
		ivnet_align_u64((uint64_t)l->max_peers * sizeof(struct ivnet_peer), IVNET_PAGE);
	return IVNET_LAYOUT_OK;
}

int ivnet_layout_compute(const struct ivnet_layout_params *p, struct ivnet_layout *out)
{
	uint32_t cap, min, n;
	int err;

	err = check_params(p, out, &cap);
	if (err)
		return err;
	min = ivnet_layout_min_slots(out->slot_size, out->max_frame);
	if (cap < min)
		return IVNET_LAYOUT_EINVAL;
	for (n = cap; n >= min; n >>= 1) {
		ring_geometry(out, n);
		if (out->used_size <= out->region_size)
			return IVNET_LAYOUT_OK;
	}
	return IVNET_LAYOUT_ENOSPC;
}

uint64_t ivnet_layout_min_region(const struct ivnet_layout_params *p)
{
	struct ivnet_layout_params q = *p;
	struct ivnet_layout l;
	uint64_t size;

	for (size = IVNET_REGION_SIZE_PROBE_MIN; size <= IVNET_REGION_SIZE_MAX; size <<= 1) {
		q.region_size = size;
		switch (ivnet_layout_compute(&q, &l)) {
		case IVNET_LAYOUT_OK:
			return size;
		case IVNET_LAYOUT_ENOSPC:
			continue;
		default:
			return 0;
		}
	}
	return 0;
}

/*
 * The header's copy of the geometry (what a reader recomputes the layout
 * from) and the offsets that follow from it (what a reader then checks
 * against its own computation), each field named once for the writer and
 * the reader.
 */
#define IVNET_HDR_GEOMETRY(X) \
	X(region_size)        \
	X(max_peers)          \
	X(vectors)            \
	X(slot_count)         \
	X(slot_size)          \
	X(max_frame)
#define IVNET_HDR_DERIVED(X) \
	X(peer_table_off)    \
	X(rings_off)         \
	X(ring_stride)       \
	X(ring_count)        \
	X(ring_desc_off)     \
	X(ring_slots_off)

static void write_header(struct ivnet_region_hdr *h, const struct ivnet_layout *l, const char *name,
			 uint64_t segment_id)
{
	uint32_t i;

	memset(h, 0, sizeof(*h));
	h->magic = IVNET_MAGIC;
	h->version = IVNET_LAYOUT_VERSION;
	h->hdr_size = sizeof(*h);
	h->peer_entry_size = sizeof(struct ivnet_peer);
#define IVNET_HDR_SET(field) h->field = l->field;
	IVNET_HDR_GEOMETRY(IVNET_HDR_SET)
	IVNET_HDR_DERIVED(IVNET_HDR_SET)
#undef IVNET_HDR_SET
	h->state = IVNET_REGION_FORMATTING;
	h->segment_id = segment_id;
	for (i = 0; name && name[i] && i < IVNET_NAME_LEN - 1; i++)
		h->name[i] = name[i];
}

void ivnet_layout_format(void *base, const struct ivnet_layout *l, const char *name,
			 uint64_t segment_id)
{
	struct ivnet_region_hdr *h = base;
	uint32_t i;

	ivnet_store_relaxed(&h->state, IVNET_REGION_FORMATTING);
	write_header(h, l, name, segment_id);
	memset((uint8_t *)base + l->peer_table_off, 0,
	       (size_t)l->max_peers * sizeof(struct ivnet_peer));
	for (i = 0; i < l->ring_count; i++)
		memset((uint8_t *)base + l->rings_off + (uint64_t)i * l->ring_stride, 0,
		       sizeof(struct ivnet_ring_ctrl));
	/* release: pairs with the acquire in ivnet_layout_from_header(); a
	 * reader that sees READY sees the whole formatted region. */
	ivnet_store_release(&h->state, IVNET_REGION_READY);
}

#define EXPECT(cond, field)             \
	do {                            \
		if (!(cond)) {          \
			*why = (field); \
			return -EPROTO; \
		}                       \
	} while (0)

int ivnet_layout_from_header(const struct ivnet_region_hdr *h, uint64_t mapped_size,
			     uint32_t vectors, struct ivnet_layout *out, const char **why)
{
	struct ivnet_layout_params p;
	const char *unused;
	int err;

	if (!why)
		why = &unused;
	*why = NULL;
	/* state first, with acquire: pairs with the broker's release store, so
	 * that everything it formatted before is visible below. */
	EXPECT(ivnet_load_acquire(&h->state) == IVNET_REGION_READY, "state");
	EXPECT(ivnet_load_relaxed(&h->magic) == IVNET_MAGIC, "magic");
	EXPECT(ivnet_load_relaxed(&h->version) == IVNET_LAYOUT_VERSION, "version");
	EXPECT(ivnet_load_relaxed(&h->hdr_size) == sizeof(*h), "hdr_size");
	EXPECT(ivnet_load_relaxed(&h->peer_entry_size) == sizeof(struct ivnet_peer),
	       "peer_entry_size");

	p.region_size = ivnet_load_relaxed(&h->region_size);
	p.max_peers = ivnet_load_relaxed(&h->max_peers);
	p.vectors = ivnet_load_relaxed(&h->vectors);
	p.slot_size = ivnet_load_relaxed(&h->slot_size);
	p.max_frame = ivnet_load_relaxed(&h->max_frame);
	p.max_slots = ivnet_load_relaxed(&h->slot_count);
	/* The broker sizes the backing to the region: a smaller geometry that
	 * is consistent in itself still lays rings over other pairs' rings. */
	EXPECT(p.region_size == mapped_size, "region_size");
	EXPECT(!vectors || p.vectors == vectors, "vectors");
	/* A zero would select a default: the header must state every value. */
	EXPECT(p.vectors && p.slot_size && p.max_frame && p.max_slots, "geometry");

	err = ivnet_layout_compute(&p, out);
	EXPECT(err == IVNET_LAYOUT_OK, "geometry");
	/* compute() may pick fewer slots than the cap: the header's must be it. */
	EXPECT(out->slot_count == p.max_slots, "slot_count");
#define IVNET_HDR_CHECK(field) EXPECT(ivnet_load_relaxed(&h->field) == out->field, #field);
	IVNET_HDR_DERIVED(IVNET_HDR_CHECK)
#undef IVNET_HDR_CHECK
	return 0;
}

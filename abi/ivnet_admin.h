/* SPDX-License-Identifier: MIT */
/*
 * ivnet_admin.h - the rules of the admin region (struct ivnet_admin_hdr in
 * ivnet_shm.h): the broker's private, per-peer copy of the segment's header
 * and of its half of the peer table. The broker writes it (the writer
 * functions), the guest driver and libivnet read it (the reader functions);
 * kernel and userspace compile this file unchanged.
 *
 * Memory ordering: a sequence lock, described in ivnet_shm.h. The writer's
 * odd store is followed by a release fence so that no copy store is seen
 * before it; its even store is a release so that every copy store is seen
 * before it. The reader's first load of seq is an acquire so that its copy
 * loads come after it; its acquire fence keeps the copy loads before the
 * second load of seq.
 */
#ifndef IVNET_ADMIN_H
#define IVNET_ADMIN_H

#include "ivnet_shm.h"

/* A torn copy is retried this many times before the reader gives up. */
#define IVNET_ADMIN_RETRIES 64u

static inline struct ivnet_peer_admin *ivnet_admin_entry(const void *base, uint32_t id)
{
	return (struct ivnet_peer_admin *)((uintptr_t)base + IVNET_ADMIN_PEERS_OFF +
					   (uintptr_t)id * sizeof(struct ivnet_peer_admin));
}

/* ------------------------------------------------------------ the writer */

static inline void ivnet_admin_write_begin(struct ivnet_admin_hdr *a)
{
	ivnet_store_relaxed(&a->seq, ivnet_load_relaxed(&a->seq) | 1u);
	/* release fence: the odd seq is seen before any copy store below */
	ivnet_fence_release();
}

static inline void ivnet_admin_write_end(struct ivnet_admin_hdr *a)
{
	/* release: a reader that sees the even seq sees every copy store */
	ivnet_store_release(&a->seq, (ivnet_load_relaxed(&a->seq) | 1u) + 1u);
}

/* ------------------------------------------------------------ the readers */

/* Word-wise relaxed copy out of shared memory (n a multiple of 8). */
static inline void ivnet_admin_copy(void *dst, const void *src, size_t n)
{
	const uint64_t *s = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;
	size_t i;

	for (i = 0; i < n / sizeof(uint64_t); i++)
		d[i] = ivnet_load_relaxed(&s[i]);
}

/*
 * Is the region at base (mapped_size bytes) an admin region this code
 * understands? 0, or -EINVAL with *why saying which field is wrong, or
 * -EAGAIN while the broker has not completed the first copy.
 */
static inline int ivnet_admin_check(const void *base, uint64_t mapped_size, const char **why)
{
	const struct ivnet_admin_hdr *a = (const struct ivnet_admin_hdr *)base;

	*why = NULL;
	if (mapped_size < IVNET_ADMIN_SIZE)
		*why = "smaller than an admin region";
	else if (ivnet_load_relaxed(&a->magic) != IVNET_ADMIN_MAGIC)
		*why = "magic";
	else if (ivnet_load_relaxed(&a->version) != IVNET_LAYOUT_VERSION)
		*why = "version";
	else if (ivnet_load_relaxed(&a->hdr_size) != sizeof(struct ivnet_admin_hdr))
		*why = "hdr_size";
	else if (ivnet_load_relaxed(&a->region_size) != mapped_size)
		*why = "region_size differs from the mapped size";
	else if (ivnet_load_relaxed(&a->peers_off) != IVNET_ADMIN_PEERS_OFF)
		*why = "peers_off";
	if (*why)
		return -EINVAL;
	/* acquire: pairs with the broker's release of state after the first
	 * complete copy */
	if (ivnet_load_acquire(&a->state) != IVNET_REGION_READY) {
		*why = "not ready";
		return -EAGAIN;
	}
	return 0;
}

/*
 * A consistent copy of the segment's header (seg, may be NULL) and of the
 * first n entries (peers, may be NULL when n is 0). 0, or -EBUSY when every
 * one of IVNET_ADMIN_RETRIES tries was torn. n must not exceed
 * IVNET_PEERS_MAX; the copy is the broker's word, but its values are still
 * to be range-checked before use as indices.
 */
static inline int ivnet_admin_snapshot(const void *base, struct ivnet_region_hdr *seg,
				       struct ivnet_peer_admin *peers, uint32_t n)
{
	const struct ivnet_admin_hdr *a = (const struct ivnet_admin_hdr *)base;
	uint32_t try, s1;

	if (n > IVNET_PEERS_MAX)
		return -EINVAL;
	for (try = 0; try < IVNET_ADMIN_RETRIES; try++) {
		/* acquire: the copy loads below come after this load */
		s1 = ivnet_load_acquire(&a->seq);
		if (s1 & 1u)
			continue;
		if (seg)
			ivnet_admin_copy(seg, &a->segment, sizeof(*seg));
		if (n)
			ivnet_admin_copy(peers, ivnet_admin_entry(base, 0), n * sizeof(*peers));
		/* acquire fence: the copy loads above come before the reload */
		ivnet_fence_acquire();
		if (ivnet_load_relaxed(&a->seq) == s1)
			return 0;
	}
	return -EBUSY;
}

/*
 * Does the segment's (shared, untrusted) header say what the broker
 * formatted (trusted, from a snapshot)? NULL if so, else the first field
 * that differs. Every field a reader derives its layout from is compared.
 */
static inline const char *ivnet_admin_mismatch(const struct ivnet_region_hdr *trusted,
					       const struct ivnet_region_hdr *shared)
{
#define IVNET_ADMIN_SAME(f)                               \
	if (ivnet_load_relaxed(&shared->f) != trusted->f) \
		return #f;
	IVNET_ADMIN_SAME(magic)
	IVNET_ADMIN_SAME(version)
	IVNET_ADMIN_SAME(hdr_size)
	IVNET_ADMIN_SAME(region_size)
	IVNET_ADMIN_SAME(max_peers)
	IVNET_ADMIN_SAME(vectors)
	IVNET_ADMIN_SAME(slot_count)
	IVNET_ADMIN_SAME(slot_size)
	IVNET_ADMIN_SAME(max_frame)
	IVNET_ADMIN_SAME(peer_entry_size)
	IVNET_ADMIN_SAME(peer_table_off)
	IVNET_ADMIN_SAME(rings_off)
	IVNET_ADMIN_SAME(ring_stride)
	IVNET_ADMIN_SAME(ring_count)
	IVNET_ADMIN_SAME(ring_desc_off)
	IVNET_ADMIN_SAME(ring_slots_off)
	IVNET_ADMIN_SAME(segment_id)
#undef IVNET_ADMIN_SAME
	return NULL;
}

/*
 * The slot of the joined peer whose ivshmem id is ivpos in a snapshot of n
 * entries, or -ENOENT. Two joined entries never share an ivpos in the
 * broker's word; the first is taken.
 */
static inline int ivnet_admin_find_slot(const struct ivnet_peer_admin *peers, uint32_t n,
					uint32_t ivpos)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (peers[i].state == IVNET_PEER_JOINED && peers[i].ivpos == ivpos)
			return (int)i;
	return -ENOENT;
}

#endif /* IVNET_ADMIN_H */

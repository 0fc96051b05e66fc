/* SPDX-License-Identifier: MIT */
/*
 * testlib.h - what every ivnet userspace test shares: checks that stop the
 * test with file:line, a seeded PRNG, payload patterns that make every byte
 * of a frame checkable, and an in-memory region.
 *
 * Tests are plain programs: exit 0 passes, 77 skips (meson's convention),
 * anything else fails.
 */
#ifndef IVNET_TESTLIB_H
#define IVNET_TESTLIB_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivnet_region.h"
#include "ivnet_ring.h"

#define TEST_SKIP 77

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                      \
	do {                                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);                         \
		if (a_ != b_) {                                                             \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
				__LINE__, #a, #b, a_, b_);                                  \
			exit(1);                                                            \
		}                                                                           \
	} while (0)

/* xorshift64*: fast, seedable, good enough to pick sizes and bytes. */
static inline uint64_t t_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static inline uint32_t t_rand_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(t_rand(s) % ((uint64_t)hi - lo + 1));
}

/*
 * A frame's bytes are a function of its sequence number: the first 8 bytes
 * carry seq, the length is in bytes 8..11 (if the frame is long enough), and
 * byte i is (seq * 131 + i * 7) & 0xff. A receiver can check every byte.
 */
static inline void t_fill(uint8_t *p, uint32_t len, uint64_t seq)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 131 + i * 7);
	memcpy(p, &seq, len < 8 ? len : 8);
	if (len >= 12)
		memcpy(p + 8, &len, 4);
}

/* Returns -1 if every byte matches, else the first bad offset. */
static inline long t_verify(const uint8_t *p, uint32_t len, uint64_t seq)
{
	uint8_t want[12];
	uint32_t i;

	memset(want, 0, sizeof(want));
	for (i = 0; i < 12 && i < len; i++)
		want[i] = (uint8_t)(seq * 131 + i * 7);
	memcpy(want, &seq, len < 8 ? len : 8);
	if (len >= 12)
		memcpy(want + 8, &len, 4);
	for (i = 0; i < len; i++) {
		uint8_t w = i < 12 ? want[i] : (uint8_t)(seq * 131 + i * 7);

		if (p[i] != w)
			return i;
	}
	return -1;
}

/* A formatted region in plain process memory (for single-process tests). */
static inline void *t_region_mem(struct ivnet_layout *l, uint64_t size, uint32_t peers)
{
	struct ivnet_layout_params p = {.region_size = size, .max_peers = peers};
	const char *why = NULL;
	void *base;

	CHECK_EQ(ivnet_layout_compute(&p, l), 0);
	base = aligned_alloc(IVNET_PAGE, size);
	CHECK(base);
	memset(base, 0xa5, size); /* formatting must not rely on zeroed memory */
	ivnet_layout_format(base, l, "test", 1);
	CHECK_EQ(ivnet_layout_from_header(base, size, 0, l, &why), 0);
	return base;
}

#endif /* IVNET_TESTLIB_H */

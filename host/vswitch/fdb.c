// SPDX-License-Identifier: MIT
/*
 * fdb.c - the MAC table (see fdb.h for the concurrency rules).
 */
#include "fdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAC_MASK ((1ULL << 48) - 1)

static uint64_t mac_key(const uint8_t m[6])
{
	return (uint64_t)m[0] | (uint64_t)m[1] << 8 | (uint64_t)m[2] << 16 | (uint64_t)m[3] << 24 |
	       (uint64_t)m[4] << 32 | (uint64_t)m[5] << 40;
}

static void key_mac(uint64_t k, uint8_t m[6])
{
	int i;

	for (i = 0; i < 6; i++)
		m[i] = (uint8_t)(k >> (8 * i));
}

static uint64_t hash(const struct vsw_fdb *f, uint64_t key)
{
	/* splitmix64's finaliser over the seeded key */
	uint64_t h = key ^ f->seed;

	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static void buckets(const struct vsw_fdb *f, uint64_t key, uint32_t *b1, uint32_t *b2)
{
	uint64_t h = hash(f, key);

	*b1 = (uint32_t)h & f->mask;
	*b2 = (uint32_t)(h >> 32) & f->mask;
	if (*b2 == *b1)
		*b2 = (*b1 + 1) & f->mask;
}

static uint64_t load(const uint64_t *p)
{
	/* acquire: pairs with the release CAS that published the entry (and
	 * the seen stored before it) */
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static int cas(uint64_t *p, uint64_t old, uint64_t new)
{
	return __atomic_compare_exchange_n(p, &old, new, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* The port slot an entry's key word names. */
static int kp_slot(uint64_t kp)
{
	return (int)(kp >> 48) - 1;
}

static uint32_t seen(const struct vsw_fdb_bucket *b, int w)
{
	return __atomic_load_n(&b->seen[w], __ATOMIC_RELAXED);
}

/* Every entry in use, b its bucket, w its way, kp its key word as loaded
 * (a learner may change it after: CAS against kp to change it). Two loops:
 * the body must not break. */
#define fdb_for_each(f, b, w, kp)                            \
	for ((b) = (f)->b; (b) <= (f)->b + (f)->mask; (b)++) \
		for ((w) = 0; (w) < VSW_FDB_WAYS; (w)++)     \
			if (!((kp) = load(&(b)->kp[w])))     \
				continue;                    \
			else

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

int vsw_fdb_init(struct vsw_fdb *f, uint32_t entries, uint64_t seed)
{
	uint32_t n = 1;

	memset(f, 0, sizeof(*f));
	while (n * VSW_FDB_WAYS < entries && n < (1u << 24))
		n <<= 1;
	if (n < 2)
		n = 2;
	f->b = aligned_alloc(64, (size_t)n * sizeof(*f->b));
	if (!f->b)
		return -ENOMEM;
	memset(f->b, 0, (size_t)n * sizeof(*f->b));
	f->mask = n - 1;
	f->seed = seed;
	return 0;
}

void vsw_fdb_free(struct vsw_fdb *f)
{
	free(f->b);
	f->b = NULL;
}

uint32_t vsw_fdb_capacity(const struct vsw_fdb *f)
{
	return (f->mask + 1) * VSW_FDB_WAYS;
}

/* The way holding key in bucket b, or -1. */
static int find(const struct vsw_fdb_bucket *b, uint64_t key, uint64_t *kp)
{
	int w;

	for (w = 0; w < VSW_FDB_WAYS; w++) {
		uint64_t v = load(&b->kp[w]);

		if (v && (v & MAC_MASK) == key) {
			*kp = v;
			return w;
		}
	}
	return -1;
}

int vsw_fdb_lookup(const struct vsw_fdb *f, const uint8_t mac[6])
{
	uint64_t key = mac_key(mac), kp;
	uint32_t b1, b2;

	buckets(f, key, &b1, &b2);
	if (find(&f->b[b1], key, &kp) >= 0 || find(&f->b[b2], key, &kp) >= 0)
		return kp_slot(kp);
	return -1;
}

static void lock(struct vsw_fdb_bucket *b)
{
	while (__atomic_exchange_n(&b->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&b->lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static void unlock(struct vsw_fdb_bucket *b)
{
	__atomic_store_n(&b->lock, 0, __ATOMIC_RELEASE);
}

static void set_seen(struct vsw_fdb_bucket *b, int w, uint32_t now)
{
	if (seen(b, w) != now)
		__atomic_store_n(&b->seen[w], now, __ATOMIC_RELAXED);
}

/* Claim an empty way of b for kp; 1 on success. */
static int claim(struct vsw_fdb_bucket *b, uint64_t kp, uint32_t now)
{
	int w;

	for (w = 0; w < VSW_FDB_WAYS; w++) {
		if (load(&b->kp[w]))
			continue;
		/* seen first: aging never judges the new entry by the old one */
		__atomic_store_n(&b->seen[w], now, __ATOMIC_RELAXED);
		if (cas(&b->kp[w], 0, kp))
			return 1;
	}
	return 0;
}

/* Replace the oldest entry of b; 1 on success (0: raced, try again). */
static int evict(struct vsw_fdb_bucket *b, uint64_t kp, uint32_t now)
{
	uint32_t oldest = 0;
	uint64_t old;
	int w, victim = 0;

	for (w = 0; w < VSW_FDB_WAYS; w++) {
		uint32_t age = now - seen(b, w);

		if (age >= oldest) {
			oldest = age;
			victim = w;
		}
	}
	old = load(&b->kp[victim]);
	__atomic_store_n(&b->seen[victim], now, __ATOMIC_RELAXED);
	return old && cas(&b->kp[victim], old, kp);
}

void vsw_fdb_learn(struct vsw_fdb *f, const uint8_t mac[6], uint16_t slot, uint32_t now)
{
	uint64_t key = mac_key(mac), want = key | (uint64_t)(slot + 1) << 48, kp;
	struct vsw_fdb_bucket *b1, *b2, *b;
	uint32_t i1, i2;
	int w, tries;

	buckets(f, key, &i1, &i2);
	b1 = &f->b[i1];
	b2 = &f->b[i2];
	/* fast path: known, same port */
	b = b1;
	w = find(b1, key, &kp);
	if (w < 0) {
		b = b2;
		w = find(b2, key, &kp);
	}
	if (w >= 0 && kp == want) {
		set_seen(b, w, now);
		return;
	}
	lock(b1);
	for (tries = 0; tries < 8; tries++) {
		b = b1;
		w = find(b1, key, &kp);
		if (w < 0) {
			b = b2;
			w = find(b2, key, &kp);
		}
		if (w >= 0) {
			if (kp == want)
				break; /* another lcore got there first */
			__atomic_store_n(&b->seen[w], now, __ATOMIC_RELAXED);
			if (cas(&b->kp[w], kp, want)) {
				count(&f->n.moved);
				break;
			}
			continue;
		}
		if (claim(b1, want, now) || claim(b2, want, now)) {
			count(&f->n.learned);
			break;
		}
		if (evict(b1, want, now)) {
			count(&f->n.learned);
			count(&f->n.evicted);
			break;
		}
	}
	unlock(b1);
}

unsigned int vsw_fdb_age(struct vsw_fdb *f, uint32_t now, uint32_t aging_s)
{
	struct vsw_fdb_bucket *b;
	unsigned int n = 0;
	uint64_t kp;
	int w;

	fdb_for_each(f, b, w, kp) {
		/* signed: an entry stamped by a worker whose clock ran ahead of
		 * ours is fresh, not ancient */
		if ((int32_t)(now - seen(b, w)) <= (int32_t)aging_s)
			continue;
		/* a learner that refreshed it just now loses it: it is learned
		 * again from its next frame */
		if (cas(&b->kp[w], kp, 0)) {
			count(&f->n.aged);
			n++;
		}
	}
	return n;
}

unsigned int vsw_fdb_flush(struct vsw_fdb *f, int slot)
{
	struct vsw_fdb_bucket *b;
	unsigned int n = 0;
	uint64_t kp;
	int w;

	fdb_for_each(f, b, w, kp)
		if ((slot < 0 || kp_slot(kp) == slot) && cas(&b->kp[w], kp, 0))
			n++;
	return n;
}

unsigned int vsw_fdb_walk(const struct vsw_fdb *f, vsw_fdb_fn fn, void *arg)
{
	const struct vsw_fdb_bucket *b;
	unsigned int n = 0;
	uint64_t kp;
	int w;

	fdb_for_each(f, b, w, kp) {
		uint8_t mac[6];

		key_mac(kp, mac);
		if (fn)
			fn(arg, mac, (uint16_t)kp_slot(kp), seen(b, w));
		n++;
	}
	return n;
}

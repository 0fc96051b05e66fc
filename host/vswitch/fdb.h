/* SPDX-License-Identifier: MIT */
/*
 * fdb.h - the MAC table of ivnet-vswitch: MAC -> port slot, learned from
 * source addresses, aged out when a MAC stays silent.
 *
 * Several forwarding lcores learn and look up at once, the control thread
 * ages, flushes and lists. An entry is one 64-bit word (the MAC in the low
 * 48 bits, slot + 1 above: 0 is an empty way), so a reader always sees a MAC
 * together with its own port, never a torn pair. Lookups take no lock;
 * learning a new MAC or a move takes a per-bucket spin lock (the MAC's first
 * bucket: two lcores that learn the same MAC do not insert it twice) and
 * claims or changes ways with compare-and-swap, as aging does. Refreshing a
 * known MAC is one relaxed store, at most once per second.
 *
 * Each MAC has two candidate buckets of four ways; when both are full the
 * oldest entry of the first is evicted: the table is a cache, and a miss
 * only means flooding. The hash is seeded at random so that chosen MACs
 * cannot pile into one bucket.
 *
 * Pure C without DPDK, so that it is unit-tested alone.
 */
#ifndef VSW_FDB_H
#define VSW_FDB_H

#include <stdint.h>

#define VSW_FDB_WAYS 4

struct vsw_fdb_bucket {
	uint64_t kp[VSW_FDB_WAYS];   /* mac | (slot + 1) << 48; 0: empty */
	uint32_t seen[VSW_FDB_WAYS]; /* the switch clock, seconds */
	uint32_t lock;
	uint32_t pad[3];
} __attribute__((aligned(64)));

struct vsw_fdb_counters {
	uint64_t learned; /* new entries */
	uint64_t moved;	  /* a MAC seen on another port */
	uint64_t evicted; /* dropped to make room */
	uint64_t aged;	  /* removed after aging_s of silence */
};

struct vsw_fdb {
	struct vsw_fdb_bucket *b;
	uint32_t mask; /* buckets - 1 */
	uint64_t seed;
	struct vsw_fdb_counters n; /* updated atomically, off the fast path */
};

/* Room for about `entries` MACs (rounded up); 0 or -ENOMEM. */
int vsw_fdb_init(struct vsw_fdb *f, uint32_t entries, uint64_t seed);
void vsw_fdb_free(struct vsw_fdb *f);
uint32_t vsw_fdb_capacity(const struct vsw_fdb *f);

/* The slot that MAC was learned on, or -1. */
int vsw_fdb_lookup(const struct vsw_fdb *f, const uint8_t mac[6]);

/* MAC was seen as a source on slot at time now (seconds). */
void vsw_fdb_learn(struct vsw_fdb *f, const uint8_t mac[6], uint16_t slot, uint32_t now);

/* Remove entries silent for more than aging_s; returns how many. */
unsigned int vsw_fdb_age(struct vsw_fdb *f, uint32_t now, uint32_t aging_s);

/* Remove every entry of slot (slot < 0: all); returns how many. */
unsigned int vsw_fdb_flush(struct vsw_fdb *f, int slot);

/* Call fn for every entry (a snapshot per way, not of the whole table). */
typedef void (*vsw_fdb_fn)(void *arg, const uint8_t mac[6], uint16_t slot, uint32_t seen);
unsigned int vsw_fdb_walk(const struct vsw_fdb *f, vsw_fdb_fn fn, void *arg);

#endif /* VSW_FDB_H */

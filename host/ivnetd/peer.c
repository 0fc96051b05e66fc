// SPDX-License-Identifier: MIT
/*
 * peer.c - the peer table in the region: ids, MACs, epochs, and the control
 * vector that tells every peer the table changed.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ivnetd.h"

int ivnetd_peer_alloc_id(struct ivnetd_segment *s, uint32_t *id)
{
	uint32_t i;

	/* The lowest free id: a peer that restarts alone gets its id, and so
	 * its MAC, back. */
	for (i = 0; i < s->region.layout.max_peers; i++) {
		if (!s->peer[i]) {
			*id = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * Like ivshmem-server: the next ivshmem id not in use, in turn, so that an id
 * comes back only after 65536 others. QEMU 7.2 keeps per-id state after a
 * peer leaves that a quick reuse of the id corrupts (use after free).
 */
uint32_t ivnetd_peer_alloc_ivpos(struct ivnetd_segment *s)
{
	for (;;) {
		uint32_t v = s->next_ivpos, i;
		int used = 0;

		s->next_ivpos = (s->next_ivpos + 1) & 0xffff;
		for (i = 0; i < s->region.layout.max_peers; i++)
			if (s->peer[i] && s->peer[i]->ivpos == v)
				used = 1;
		if (!used)
			return v;
	}
}

/*
 * A stable, locally administered unicast MAC: from --mac-base if given, else
 * 02:xx:xx:xx (a hash of the segment name) followed by the id.
 */
void ivnetd_peer_mac(const struct ivnetd_segment *s, uint32_t id, uint8_t mac[6])
{
	uint32_t h = 2166136261u, v;
	const char *c;

	if (s->cfg.mac_base_set) {
		memcpy(mac, s->cfg.mac_base, 6);
		v = ((uint32_t)mac[4] << 8 | mac[5]) + id;
		mac[4] = (uint8_t)(v >> 8);
		mac[5] = (uint8_t)v;
		return;
	}
	for (c = s->cfg.name; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	mac[0] = 0x02;
	mac[1] = (uint8_t)(h >> 24);
	mac[2] = (uint8_t)(h >> 16);
	mac[3] = (uint8_t)(h >> 8);
	mac[4] = (uint8_t)(id >> 8);
	mac[5] = (uint8_t)id;
}

static void table_changed(struct ivnetd_segment *s)
{
	struct ivnet_region_hdr *h = ivnet_region_hdr(&s->region);

	/* release: whoever sees the new generation sees the entry changes
	 * made before it. */
	ivnet_store_release(&h->table_gen, ivnet_load_relaxed(&h->table_gen) + 1);
}

void ivnetd_peer_admin_of(const struct ivnetd_segment *s, uint32_t id, const struct ivnetd_peer *p,
			  struct ivnet_peer_admin *out)
{
	memset(out, 0, sizeof(*out));
	out->state = p ? IVNET_PEER_JOINED : IVNET_PEER_ABSENT;
	out->epoch = s->epoch[id];
	ivnetd_peer_mac(s, id, out->mac);
	out->flags = p ? p->flags : 0;
	out->ivpos = p ? p->ivpos : IVNET_ADMIN_NO_IVPOS;
}

/* The broker's half of a joined peer's entry, from the broker's own state. */
static void write_entry(struct ivnetd_segment *s, const struct ivnetd_peer *p)
{
	struct ivnet_peer *e = ivnet_region_peer(&s->region, p->id);
	struct ivnet_peer_admin a;
	int i;

	ivnetd_peer_admin_of(s, p->id, p, &a);
	/* The entry is written while state says ABSENT, then state goes
	 * JOINED with release: a reader that loads state with acquire sees
	 * the MAC and epoch that go with it. */
	ivnet_store_relaxed(&e->admin.state, IVNET_PEER_ABSENT);
	for (i = 0; i < 6; i++)
		ivnet_store_relaxed(&e->admin.mac[i], a.mac[i]);
	ivnet_store_relaxed(&e->admin.flags, a.flags);
	ivnet_store_relaxed(&e->admin.ivpos, a.ivpos);
	ivnet_store_relaxed(&e->admin.epoch, a.epoch);
	ivnet_store_release(&e->admin.state, IVNET_PEER_JOINED);
}

/* Does the shared entry say what the broker wrote? An empty slot only has
 * to say ABSENT: the rest is the last occupant's and means nothing. */
static int entry_whole(const struct ivnet_peer_admin *e, const struct ivnet_peer_admin *want)
{
	uint8_t mac[6];
	int i;

	if (ivnet_load_relaxed(&e->state) != want->state)
		return 0;
	if (want->state != IVNET_PEER_JOINED)
		return 1;
	for (i = 0; i < 6; i++)
		mac[i] = ivnet_load_relaxed(&e->mac[i]);
	return ivnet_load_relaxed(&e->epoch) == want->epoch &&
	       ivnet_load_relaxed(&e->flags) == want->flags &&
	       ivnet_load_relaxed(&e->ivpos) == want->ivpos && !memcmp(mac, want->mac, 6);
}

/*
 * Readers that still take the broker's half from the shared table (the admin
 * region is the word to trust) get it back within IVNETD_RESTORE_MS. One log
 * line per slot and episode: a peer that keeps rewriting is told once.
 */
void ivnetd_peer_restore_table(struct ivnetd_segment *s)
{
	struct ivnet_peer_admin want;
	uint32_t i;

	for (i = 0; i < s->region.layout.max_peers; i++) {
		struct ivnet_peer *e = ivnet_region_peer(&s->region, i);
		uint64_t bit = 1ull << i;

		ivnetd_peer_admin_of(s, i, s->peer[i], &want);
		if (entry_whole(&e->admin, &want)) {
			s->entry_tampered &= ~bit;
			continue;
		}
		if (!(s->entry_tampered & bit))
			ivnetd_log(s->d,
				   "tamper segment=%s peer=%u table entry rewritten: restored",
				   s->cfg.name, i);
		s->entry_tampered |= bit;
		if (s->peer[i])
			write_entry(s, s->peer[i]);
		else
			ivnet_store_release(&e->admin.state, IVNET_PEER_ABSENT);
	}
}

void ivnetd_peer_publish(struct ivnetd_segment *s, struct ivnetd_peer *p)
{
	if (++s->epoch[p->id] == 0)
		s->epoch[p->id] = 1;
	p->flags = 0;
	write_entry(s, p);
	table_changed(s);
}

/*
 * After the region lost pages (a truncated unsealed backing): every entry
 * as the broker knows it, under the same epochs (a peer whose half survived
 * stays up), and the peers told to look.
 */
void ivnetd_peer_rewrite_all(struct ivnetd_segment *s)
{
	uint32_t i;

	for (i = 0; i < s->region.layout.max_peers; i++) {
		if (s->peer[i])
			write_entry(s, s->peer[i]);
		else
			ivnet_store_release(&ivnet_region_peer(&s->region, i)->admin.state,
					    IVNET_PEER_ABSENT);
	}
	table_changed(s);
	ivnetd_peer_signal_all(s, NULL);
}

void ivnetd_peer_unpublish(struct ivnetd_segment *s, uint32_t id)
{
	struct ivnet_peer *e = ivnet_region_peer(&s->region, id);

	ivnet_store_release(&e->admin.state, IVNET_PEER_ABSENT);
	table_changed(s);
}

/* Change a joined peer's flags (IVNET_PEER_F_*) and tell everyone. */
void ivnetd_peer_set_flags(struct ivnetd_segment *s, uint32_t id, uint16_t flags)
{
	struct ivnet_peer *e = ivnet_region_peer(&s->region, id);

	if (s->peer[id])
		s->peer[id]->flags = flags; /* for ivnetd_peer_rewrite_all() */
	ivnet_store_relaxed(&e->admin.flags, flags);
	table_changed(s);
	ivnetd_peer_signal_all(s, NULL);
}

/* Ring every joined peer's control vector (but one's). */
void ivnetd_peer_signal_all(struct ivnetd_segment *s, const struct ivnetd_peer *except)
{
	uint64_t one = 1;
	uint32_t i;

	/* The admin regions first: a peer woken below reads the new word. */
	ivnetd_admin_sync(s);
	for (i = 0; i < s->region.layout.max_peers; i++) {
		struct ivnetd_peer *p = s->peer[i];

		if (!p || p == except || p->doomed)
			continue;
		/* An eventfd write fails only if the counter would overflow,
		 * which means the peer is not reading it: it is signalled. */
		if (write(p->vec[IVNET_VEC_CONTROL], &one, sizeof(one)) == sizeof(one))
			s->n.control_signals++;
	}
}

int ivnetd_peer_allowed(const struct ivnetd_segment_config *c, uid_t uid, gid_t gid)
{
	int i;

	if (!c->n_allow_uid && !c->n_allow_gid)
		return 1;
	for (i = 0; i < c->n_allow_uid; i++)
		if (c->allow_uid[i] == uid)
			return 1;
	for (i = 0; i < c->n_allow_gid; i++)
		if (c->allow_gid[i] == gid)
			return 1;
	return 0;
}

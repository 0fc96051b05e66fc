// SPDX-License-Identifier: MIT
/*
 * segment.c - the ivshmem-server side of one segment: the region, the
 * listening socket, and each client's join and leave, to the byte of QEMU's
 * protocol (ivshmem_proto.h).
 *
 * A client is dropped, without disturbing the others, when it sends any byte
 * (as the reference server does), hangs up, or cannot take a message.
 * Failures to reach *other* peers while announcing a change mark them doomed;
 * they are dropped once the current change is complete (reap()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ivshmem_proto.h"
#include "ivnetd.h"
#include "unix_socket.h"

static void peer_free(struct ivnetd_peer *p)
{
	uint32_t v;

	for (v = 0; v < IVNET_VECTORS_MAX; v++)
		if (p->vec[v] >= 0)
			close(p->vec[v]);
	ivnetd_bury(p->seg->d, &p->w);
}

/* Announce every vector of `who` to `to` (peer ids with eventfds). */
static int announce(const struct ivnetd_peer *to, const struct ivnetd_peer *who, uint32_t vectors)
{
	uint32_t v;
	int err;

	for (v = 0; v < vectors; v++) {
		err = ivnet_proto_send(to->w.fd, who->ivpos, who->vec[v]);
		if (err)
			return err;
	}
	return 0;
}

static void doom(struct ivnetd_peer *p, const char *why)
{
	if (!p->doomed)
		p->doomed = why;
}

/* Remove a peer: table entry, announcements, descriptors. */
static void peer_leave(struct ivnetd_segment *s, struct ivnetd_peer *p, const char *why)
{
	uint32_t i;

	ivnetd_log(s->d, "leave segment=%s peer=%u ivpos=%u pid=%d uid=%u reason=%s", s->cfg.name,
		   p->id, p->ivpos, (int)p->pid, (unsigned)p->uid, why);
	s->peer[p->id] = NULL;
	s->npeers--;
	s->n.leaves++;
	ivnetd_placement_leave(s->pl, p->id);
	ivnetd_peer_unpublish(s, p->id);
	for (i = 0; i < s->region.layout.max_peers; i++) {
		struct ivnetd_peer *o = s->peer[i];

		if (o && !o->doomed && ivnet_proto_send(o->w.fd, p->ivpos, -1))
			doom(o, "unreachable");
	}
	ivnetd_peer_signal_all(s, NULL);
	peer_free(p);
}

static void reap(struct ivnetd_segment *s)
{
	int again = 1;

	while (again) {
		uint32_t i;

		again = 0;
		for (i = 0; i < s->region.layout.max_peers; i++) {
			struct ivnetd_peer *p = s->peer[i];

			if (p && p->doomed) {
				s->n.dropped++;
				peer_leave(s, p, p->doomed);
				again = 1;
			}
		}
	}
}

/*
 * Every peer can write the header. Put back the fields we wrote (all but
 * table_gen) before a new peer maps the region and derives its layout from
 * it, and every IVNETD_RESTORE_MS, so that a peer cannot mislead the next
 * one about where the rings are nor make it wait for vectors that never
 * come. One log line per episode: a peer that keeps rewriting is told once.
 */
void ivnetd_segment_restore_header(struct ivnetd_segment *s)
{
	uint8_t *h = s->region.base, *c = (uint8_t *)&s->hdr;
	size_t gen = offsetof(struct ivnet_region_hdr, table_gen);
	size_t rest = offsetof(struct ivnet_region_hdr, name);

	if (memcmp(h, c, gen) == 0 && memcmp(h + rest, c + rest, sizeof(s->hdr) - rest) == 0) {
		s->hdr_tampered = 0;
		return;
	}
	if (!s->hdr_tampered)
		ivnetd_log(s->d, "tamper segment=%s header rewritten: restored", s->cfg.name);
	s->hdr_tampered = 1;
	memcpy(h + rest, c + rest, sizeof(s->hdr) - rest);
	memcpy(h, c, gen);
}

static int make_vectors(struct ivnetd_peer *p, uint32_t vectors)
{
	uint32_t v;

	for (v = 0; v < vectors; v++) {
		p->vec[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (p->vec[v] < 0)
			return -errno;
	}
	return 0;
}

/* Steps 1-5 of the protocol for the new client, in order. */
static int send_setup(struct ivnetd_segment *s, struct ivnetd_peer *p)
{
	uint32_t vectors = s->region.layout.vectors, i;
	int err;

	err = ivnet_proto_send(p->w.fd, IVNET_PROTO_VERSION, -1);
	if (!err)
		err = ivnet_proto_send(p->w.fd, p->ivpos, -1);
	if (!err)
		err = ivnet_proto_send(p->w.fd, -1, s->region.fd);
	for (i = 0; !err && i < s->region.layout.max_peers; i++)
		if (s->peer[i] && s->peer[i] != p)
			err = announce(p, s->peer[i], vectors);
	if (!err)
		err = announce(p, p, vectors);
	return err;
}

static int peer_creds(int fd, struct ivnetd_peer *p)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	p->pid = uc.pid;
	p->uid = uc.uid;
	p->gid = uc.gid;
	return 0;
}

static void refuse(struct ivnetd_segment *s, struct ivnetd_peer *p, uint64_t *counter,
		   const char *why)
{
	ivnetd_log(s->d, "refuse segment=%s pid=%d uid=%u gid=%u reason=%s", s->cfg.name,
		   (int)p->pid, (unsigned)p->uid, (unsigned)p->gid, why);
	(*counter)++;
	peer_free(p);
}

_Static_assert(PLACEMENT_PEERS_MAX >= IVNET_PEERS_MAX, "a peer id placement cannot hold");
_Static_assert(PLACEMENT_NAME_LEN >= IVNET_NAME_LEN, "a segment name placement cuts short");

/* Placement keeps its own view of the peer: what it needs to place it. */
static void join_placement(struct ivnetd_segment *s, const struct ivnetd_peer *p)
{
	struct placement_peer pp = {.id = p->id, .pid = p->pid};

	snprintf(pp.label, sizeof(pp.label), "%s", p->label);
	ivnetd_placement_join(s->pl, &pp);
}

static struct ivnetd_peer *peer_new(struct ivnetd_segment *s, int fd)
{
	struct ivnetd_peer *p = calloc(1, sizeof(*p));
	uint32_t v;

	if (!p) {
		close(fd);
		return NULL;
	}
	p->w.kind = IVNETD_W_PEER;
	p->w.fd = fd;
	p->seg = s;
	for (v = 0; v < IVNET_VECTORS_MAX; v++)
		p->vec[v] = -1;
	return p;
}

void ivnetd_segment_accept(struct ivnetd_segment *s)
{
	struct ivnetd_peer *p;
	uint32_t i;
	int fd, err;

	fd = accept4(s->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			ivnetd_log(s->d, "accept segment=%s error=%s", s->cfg.name,
				   strerror(errno));
		return;
	}
	p = peer_new(s, fd);
	if (!p)
		return;
	ivnetd_segment_restore_header(s);
	ivnetd_peer_restore_table(s);
	if (peer_creds(fd, p))
		return refuse(s, p, &s->n.refused_error, "no-credentials");
	if (!ivnetd_peer_allowed(&s->cfg, p->uid, p->gid))
		return refuse(s, p, &s->n.refused_perm, "not-allowed");
	if (ivnetd_peer_alloc_id(s, &p->id))
		return refuse(s, p, &s->n.refused_full, "segment-full");
	p->ivpos = ivnetd_peer_alloc_ivpos(s);
	err = make_vectors(p, s->region.layout.vectors);
	if (err)
		return refuse(s, p, &s->n.refused_error,
			      err == -EMFILE || err == -ENFILE ? "out-of-descriptors"
							       : "eventfd-failed");
	/* The entry is in the table before the client can map the region
	 * and look for it. */
	ivnetd_peer_publish(s, p);
	err = send_setup(s, p);
	if (err) {
		ivnetd_peer_unpublish(s, p->id);
		return refuse(s, p, &s->n.refused_error, "setup-failed");
	}
	p->joined_at = (int64_t)time(NULL);
	s->peer[p->id] = p;
	s->npeers++;
	s->n.joins++;
	for (i = 0; i < s->region.layout.max_peers; i++) {
		struct ivnetd_peer *o = s->peer[i];

		if (o && o != p && !o->doomed && announce(o, p, s->region.layout.vectors))
			doom(o, "unreachable");
	}
	ivnetd_log(s->d, "join segment=%s peer=%u ivpos=%u pid=%d uid=%u gid=%u epoch=%u",
		   s->cfg.name, p->id, p->ivpos, (int)p->pid, (unsigned)p->uid, (unsigned)p->gid,
		   s->epoch[p->id]);
	if (ivnetd_watch_add(s->d, &p->w))
		doom(p, "epoll-failed");
	ivnetd_peer_signal_all(s, p);
	join_placement(s, p);
	reap(s);
}

void ivnetd_peer_event(struct ivnetd_peer *p, uint32_t events)
{
	struct ivnetd_segment *s = p->seg;
	const char *why = "hangup";

	if (events & EPOLLIN) {
		char c;
		ssize_t n = recv(p->w.fd, &c, 1, MSG_DONTWAIT);

		if (n > 0)
			why = "sent-data"; /* clients never speak in this protocol */
		else if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	} else if (events & EPOLLERR) {
		why = "socket-error";
	}
	peer_leave(s, p, why);
	reap(s);
}

/* ------------------------------------------------------------ start/stop */

static int region_create(struct ivnetd_segment *s, int node, char err[IVNET_ERRLEN])
{
	const struct ivnetd_segment_config *c = &s->cfg;
	struct ivnet_region_opts o = {
		.backing = c->backing,
		.path = c->shm_path,
		.hugepages = c->hugepages,
		.numa_node = node,
		.name = c->name,
		.params = {.region_size = c->size,
			   .max_peers = c->max_peers,
			   .vectors = c->vectors,
			   .slot_size = c->slot_size,
			   .max_slots = c->max_slots},
	};
	int ret;

	if (c->backing == IVNET_BACKING_FILE) {
		/* -m DIR: a file of our own in it (hugetlbfs, typically) */
		if (snprintf(s->shm_file, sizeof(s->shm_file), "%s/ivnet-%s.%d", c->shm_path,
			     c->name, (int)getpid()) >= (int)sizeof(s->shm_file)) {
			snprintf(err, IVNET_ERRLEN, "directory name too long");
			return -ENAMETOOLONG;
		}
		o.path = s->shm_file;
	}
	while (!ivnet_is_pow2_u64(o.params.region_size))
		o.params.region_size += o.params.region_size & -o.params.region_size;
	if (o.params.region_size != c->size)
		ivnetd_log(s->d, "segment segment=%s size %" PRIu64 " rounded up to %" PRIu64,
			   c->name, c->size, o.params.region_size);
	if (!o.params.max_peers) {
		/* as many peers as fit, up to the default */
		struct ivnet_layout l;

		for (o.params.max_peers = IVNETD_DEFAULT_PEERS;
		     o.params.max_peers > IVNET_PEERS_MIN; o.params.max_peers--)
			if (ivnet_layout_compute(&o.params, &l) == 0)
				break;
	}
	if (c->backing == IVNET_BACKING_SHM && shm_unlink(c->shm_path) == 0)
		/* Mappings of the old object (a dead server's peers, say) keep
		 * it; we start on a fresh one. */
		ivnetd_log(s->d, "segment segment=%s replaced stale shm object %s", c->name,
			   c->shm_path);
	ret = ivnet_region_create(&o, &s->region, err);
	if (ret == 0 && c->backing == IVNET_BACKING_FILE)
		unlink(s->shm_file); /* QEMU gets the fd; no name needed */
	if (ret == 0)
		memcpy(&s->hdr, s->region.base, sizeof(s->hdr));
	return ret;
}

/* A socket left by a dead server is replaced; a live one is not (and its
 * region must not be formatted again under its feet). */
static int socket_in_use(const char *path)
{
	struct sockaddr_un sun;
	int fd = host_unix_socket(path, 0, &sun), live;

	if (fd < 0)
		return fd;
	live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return live ? -EADDRINUSE : 0;
}

int ivnetd_segment_listen(const struct ivnetd_segment_config *c, const char *path)
{
	struct sockaddr_un sun;
	int fd = host_unix_socket(path, SOCK_NONBLOCK, &sun);

	if (fd < 0)
		return fd;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    (c->socket_mode >= 0 && chmod(path, (mode_t)c->socket_mode) < 0) ||
	    (c->socket_group_set && chown(path, (uid_t)-1, c->socket_group) < 0) ||
	    listen(fd, 64) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int listen_on(struct ivnetd_segment *s)
{
	int fd = ivnetd_segment_listen(&s->cfg, s->cfg.socket_path);

	if (fd < 0)
		return fd;
	s->w.kind = IVNETD_W_LISTEN;
	s->w.fd = fd;
	return 0;
}

/* Placement is handed a copy of the segment's settings, not the segment. */
static int start_placement(struct ivnetd_segment *s, int *node)
{
	struct placement_segment ps = {.numa_node = s->cfg.numa_node, .place = s->cfg.place};

	snprintf(ps.name, sizeof(ps.name), "%s", s->cfg.name);
	return ivnetd_placement_start(&s->d->place, &ps, &s->pl, node);
}

int ivnetd_segment_start(struct ivnetd *d, struct ivnetd_segment *s,
			 const struct ivnetd_segment_config *cfg)
{
	char err[IVNET_ERRLEN];
	int ret, node;

	memset(s, 0, sizeof(*s));
	s->d = d;
	s->cfg = *cfg;
	s->w.fd = -1;
	s->region.fd = -1;
	s->admin_w.w.fd = -1;
	if (!s->cfg.admin_path[0] && ivnetd_admin_default_path(&s->cfg)) {
		ivnetd_log(d, "error segment=%s socket=%s: too long for an admin socket beside it",
			   cfg->name, cfg->socket_path);
		return -ENAMETOOLONG;
	}
	ret = socket_in_use(cfg->socket_path);
	if (ret) {
		ivnetd_log(d, "error segment=%s socket=%s: %s", cfg->name, cfg->socket_path,
			   ret == -EADDRINUSE ? "a server is already listening there"
					      : strerror(-ret));
		return ret;
	}
	/* The plan says which node the region's pages go to, before they
	 * are first touched. */
	ret = start_placement(s, &node);
	if (ret)
		goto err_placement;
	ret = region_create(s, node, err);
	if (ret) {
		ivnetd_log(d, "error segment=%s region: %s", cfg->name, err);
		goto err_placement;
	}
	ret = ivnetd_guard_add(s);
	if (ret)
		goto err_region;
	ret = ivnetd_placement_lock(s->pl, s->region.base, s->region.size);
	if (ret)
		goto err_region;
	ret = listen_on(s);
	if (ret) {
		ivnetd_log(d, "error segment=%s socket=%s: %s", cfg->name, cfg->socket_path,
			   strerror(-ret));
		goto err_region;
	}
	ret = ivnetd_admin_start(s);
	if (ret) {
		ivnetd_log(d, "error segment=%s admin=%s: %s", cfg->name, s->cfg.admin_path,
			   strerror(-ret));
		close(s->w.fd);
		s->w.fd = -1;
		unlink(cfg->socket_path);
		goto err_region;
	}
	ivnetd_log(d,
		   "segment segment=%s socket=%s admin=%s size=%" PRIu64
		   " peers=%u vectors=%u slots=%u "
		   "slot-size=%u",
		   cfg->name, cfg->socket_path, s->cfg.admin_path, s->region.layout.region_size,
		   s->region.layout.max_peers, s->region.layout.vectors,
		   s->region.layout.slot_count, s->region.layout.slot_size);
	return 0;

err_region:
	ivnetd_guard_remove(s);
	ivnet_region_close(&s->region);
err_placement:
	ivnetd_placement_stop(&s->pl);
	return ret;
}

void ivnetd_segment_stop(struct ivnetd_segment *s)
{
	uint32_t i;

	if (s->w.fd < 0)
		return;
	ivnetd_guard(s); /* the leaves below write the table */
	for (i = 0; i < IVNET_PEERS_MAX; i++)
		if (s->peer[i])
			peer_leave(s, s->peer[i], "shutdown");
	ivnetd_admin_stop(s);
	ivnetd_placement_stop(&s->pl);
	close(s->w.fd);
	s->w.fd = -1;
	unlink(s->cfg.socket_path);
	if (s->cfg.backing == IVNET_BACKING_SHM)
		shm_unlink(s->cfg.shm_path);
	ivnetd_guard_remove(s);
	ivnet_region_close(&s->region);
}

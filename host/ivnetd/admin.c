// SPDX-License-Identifier: MIT
/*
 * admin.c - the admin socket beside each segment's: to every connection the
 * broker hands, in QEMU's ivshmem-server protocol, an admin region of its
 * own (ivnet_shm.h, "admin region"), and keeps it saying what the broker
 * knows: the segment's header as formatted and the broker's half of every
 * peer entry. A peer can write only its own copy, so what it reads there is
 * the broker's word whatever the other peers do to the shared table.
 *
 * The protocol is the segment's, less the peers: the version, an id, the
 * memory; no eventfds (QEMU's ivshmem device maps the memory as soon as it
 * has it and needs no vector of its own). As on the segment socket, a
 * client that sends anything is dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ivnet_admin.h"
#include "ivnetd.h"
#include "ivshmem_proto.h"

int ivnetd_admin_start(struct ivnetd_segment *s)
{
	int fd = ivnetd_segment_listen(&s->cfg, s->cfg.admin_path), err;

	if (fd < 0)
		return fd;
	s->admin_w.w.kind = IVNETD_W_ADMIN_LISTEN;
	s->admin_w.w.fd = fd;
	s->admin_w.seg = s;
	err = ivnetd_watch_add(s->d, &s->admin_w.w);
	if (err) {
		close(fd);
		s->admin_w.w.fd = -1;
		unlink(s->cfg.admin_path);
	}
	return err;
}

static void admin_free(struct ivnetd_admin *a)
{
	struct ivnetd_segment *s = a->seg;
	struct ivnetd_admin **pp;

	for (pp = &s->admins; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			s->nadmins--;
			break;
		}
	}
	if (a->base)
		munmap(a->base, IVNET_ADMIN_SIZE);
	if (a->memfd >= 0)
		close(a->memfd);
	a->base = NULL;
	a->memfd = -1;
	ivnetd_bury(s->d, &a->w);
}

void ivnetd_admin_stop(struct ivnetd_segment *s)
{
	while (s->admins)
		admin_free(s->admins);
	if (s->admin_w.w.fd < 0)
		return;
	close(s->admin_w.w.fd);
	s->admin_w.w.fd = -1;
	unlink(s->cfg.admin_path);
}

/* Relaxed word stores into the region (n a multiple of 8): its client may
 * be reading while we write; the sequence lock tells it to retry. */
static void admin_put(void *dst, const void *src, size_t n)
{
	const uint64_t *from = src;
	uint64_t *to = dst;
	size_t i;

	for (i = 0; i < n / sizeof(uint64_t); i++)
		ivnet_store_relaxed(&to[i], from[i]);
}

/*
 * The ivshmem id of the segment peer this connection belongs to: the k-th
 * peer (in slot order) of its pid, where k counts the earlier connections of
 * the same pid (a process with two devices on one segment connects each
 * admin device after its segment device, as QEMU realizes them in order).
 */
static uint32_t self_ivpos(const struct ivnetd_segment *s, const struct ivnetd_admin *a)
{
	const struct ivnetd_admin *o;
	uint32_t k = 0, i;

	for (o = s->admins; o && o != a; o = o->next)
		if (o->pid == a->pid)
			k++;
	for (i = 0; i < s->region.layout.max_peers; i++) {
		const struct ivnetd_peer *p = s->peer[i];

		if (p && p->pid == a->pid && k-- == 0)
			return p->ivpos;
	}
	return IVNET_ADMIN_NO_IVPOS;
}

/* One region, from the broker's state, under the sequence lock. */
static void admin_write(struct ivnetd_segment *s, struct ivnetd_admin *a)
{
	struct ivnet_admin_hdr *h = a->base;
	struct ivnet_region_hdr seg = s->hdr;
	struct ivnet_peer_admin e;
	uint32_t i;

	seg.table_gen = s->admin_gen;
	ivnet_admin_write_begin(h);
	admin_put(&h->segment, &seg, sizeof(seg));
	ivnet_store_relaxed(&h->self_ivpos, self_ivpos(s, a));
	for (i = 0; i < s->region.layout.max_peers; i++) {
		ivnetd_peer_admin_of(s, i, s->peer[i], &e);
		admin_put(ivnet_admin_entry(h, i), &e, sizeof(e));
	}
	ivnet_admin_write_end(h);
}

void ivnetd_admin_sync(struct ivnetd_segment *s)
{
	struct ivnetd_admin *a;

	s->admin_gen++;
	for (a = s->admins; a; a = a->next)
		admin_write(s, a);
}

/* A sealed memfd of IVNET_ADMIN_SIZE, mapped, its header and first copy
 * written. 0 or a negative errno. */
static int admin_region(struct ivnetd_segment *s, struct ivnetd_admin *a)
{
	struct ivnet_admin_hdr *h;
	void *m;

	a->memfd = memfd_create("ivnet-admin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (a->memfd < 0)
		return -errno;
	if (ftruncate(a->memfd, IVNET_ADMIN_SIZE) < 0 ||
	    fcntl(a->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	m = mmap(NULL, IVNET_ADMIN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, a->memfd, 0);
	if (m == MAP_FAILED)
		return -errno;
	a->base = h = m;
	/* nobody else has the fd yet: plain stores */
	h->magic = IVNET_ADMIN_MAGIC;
	h->version = IVNET_LAYOUT_VERSION;
	h->hdr_size = sizeof(*h);
	h->region_size = IVNET_ADMIN_SIZE;
	h->peers_off = IVNET_ADMIN_PEERS_OFF;
	admin_write(s, a);
	/* release: a reader that sees READY (acquire) sees the first copy */
	ivnet_store_release(&h->state, IVNET_REGION_READY);
	return 0;
}

static int admin_setup(struct ivnetd_segment *s, struct ivnetd_admin *a)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int err;

	if (getsockopt(a->w.fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	a->pid = uc.pid;
	if (!ivnetd_peer_allowed(&s->cfg, uc.uid, uc.gid))
		return -EPERM;
	err = admin_region(s, a);
	/* The connection's id means nothing to anyone: no doorbell goes
	 * through this socket. 0 keeps it in the protocol's range. */
	if (!err)
		err = ivnet_proto_send(a->w.fd, IVNET_PROTO_VERSION, -1);
	if (!err)
		err = ivnet_proto_send(a->w.fd, 0, -1);
	if (!err)
		err = ivnet_proto_send(a->w.fd, -1, a->memfd);
	if (!err)
		err = ivnetd_watch_add(s->d, &a->w);
	return err;
}

void ivnetd_admin_accept(struct ivnetd_segment *s)
{
	struct ivnetd_admin *a, **tail;
	int fd, err;

	fd = accept4(s->admin_w.w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			ivnetd_log(s->d, "accept segment=%s admin error=%s", s->cfg.name,
				   strerror(errno));
		return;
	}
	if (s->nadmins >= IVNETD_ADMIN_MAX(s->region.layout.max_peers)) {
		ivnetd_log(s->d, "refuse segment=%s admin reason=too-many-admin-connections max=%u",
			   s->cfg.name, IVNETD_ADMIN_MAX(s->region.layout.max_peers));
		close(fd);
		return;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		close(fd);
		return;
	}
	a->w.kind = IVNETD_W_ADMIN;
	a->w.fd = fd;
	a->seg = s;
	a->memfd = -1;
	for (tail = &s->admins; *tail; tail = &(*tail)->next)
		;
	*tail = a;
	s->nadmins++;
	err = admin_setup(s, a);
	if (err) {
		ivnetd_log(s->d, "refuse segment=%s admin pid=%d reason=%s", s->cfg.name,
			   (int)a->pid, err == -EPERM ? "not-allowed" : strerror(-err));
		admin_free(a);
		return;
	}
	ivnetd_log(s->d, "admin segment=%s pid=%d ivpos=%d", s->cfg.name, (int)a->pid,
		   (int)(int32_t)self_ivpos(s, a));
}

void ivnetd_admin_event(struct ivnetd_admin *a, uint32_t events)
{
	const char *why = "hangup";

	if (events & EPOLLIN) {
		char c;
		ssize_t n = recv(a->w.fd, &c, 1, MSG_DONTWAIT);

		if (n > 0)
			why = "sent-data";
		else if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	}
	ivnetd_log(a->seg->d, "admin segment=%s pid=%d closed reason=%s", a->seg->cfg.name,
		   (int)a->pid, why);
	admin_free(a);
}

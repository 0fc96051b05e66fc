// SPDX-License-Identifier: MIT
/*
 * ep_peers.c - who is there: the broker's messages (each peer's doorbells),
 * the joined set, our own link line, and the peer queries of ivnet.h.
 */
#define _GNU_SOURCE
#include "ep_internal.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "ivshmem_proto.h"

struct ep_vectors *ep_vectors_of(struct ivnet_ep *ep, uint32_t ivpos)
{
	uint32_t i;

	for (i = 0; i < IVNET_PEERS_MAX; i++)
		if (ep->vec[i].used && ep->vec[i].ivpos == ivpos)
			return &ep->vec[i];
	return NULL;
}

void ep_close_vectors(struct ep_vectors *v)
{
	uint32_t i;

	for (i = 0; i < v->n; i++)
		close(v->fd[i]);
	memset(v, 0, sizeof(*v));
}

/* A message: a peer's next eventfd, or a peer gone (by ivshmem id). */
int ep_take_message(struct ivnet_ep *ep, int64_t ivpos, int fd)
{
	struct ep_vectors *v;
	uint32_t i;

	if (ivpos < 0 || ivpos > IVNET_PROTO_MAX_ID) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	v = ep_vectors_of(ep, (uint32_t)ivpos);
	if (fd < 0) {
		if (v)
			ep_close_vectors(v);
		return 0;
	}
	for (i = 0; !v && i < IVNET_PEERS_MAX; i++) {
		if (!ep->vec[i].used) {
			v = &ep->vec[i];
			v->used = 1;
			v->ivpos = (uint32_t)ivpos;
		}
	}
	if (!v || v->n >= ep->vectors) {
		close(fd);
		return -EPROTO;
	}
	v->fd[v->n++] = fd;
	return 0;
}

void ep_ring(struct ivnet_ep *ep, uint32_t id, uint32_t vector)
{
	struct ep_vectors *v = ep_doorbells(ep, id);
	uint64_t one = 1;

	if (v && write(v->fd[vector], &one, sizeof(one)) == sizeof(one))
		ep->st.doorbells += vector == IVNET_VEC_RX;
}

/* Raise or drop our link line, then tell every peer it changed. */
void ep_link_set(struct ivnet_ep *ep, bool up)
{
	uint32_t id;

	/* the join epoch in the broker's word: the shared table's may be
	 * forged, and a line under the wrong one never counts */
	ivnet_peer_link_set_under(ep_entry(ep, ep->id), up, ep_admin(ep, ep->id)->epoch,
				  ep->opts.mtu, ep->opts.features);
	for (id = 0; id < ep->region.layout.max_peers; id++)
		if (id != ep->id)
			ep_ring(ep, id, IVNET_VEC_CONTROL);
}

int ivnet_ep_update(struct ivnet_ep *ep)
{
	if (ep_admin_seq(ep) != ep->adm.seq)
		ep_admin_refresh(ep); /* -EBUSY: the old snapshot stands */
	for (;;) {
		int64_t v;
		int fd, ret;

		if (ep->broker_gone)
			return -EPIPE;
		ret = ivnet_proto_recv(ep->sock, &v, &fd);
		if (ret == -EAGAIN || ret == -EWOULDBLOCK)
			return 0;
		if (ret || ep_take_message(ep, v, fd)) {
			/* a broker that hangs up or garbles the stream is gone */
			ep->broker_gone = 1;
			return -EPIPE;
		}
	}
}

/* The slow half of ep_maybe_update(): a new snapshot, the socket, and
 * joined recomputed from the snapshot. */
int ep_update_joined(struct ivnet_ep *ep)
{
	uint32_t id;
	int ret;

	ret = ivnet_ep_update(ep);
	ep->seen_gen = ep->adm.seq;
	ep->update_pending = 0;
	ep->joined = 0;
	for (id = 0; id < ep->region.layout.max_peers; id++) {
		if (id == ep->id || ep_admin(ep, id)->state != IVNET_PEER_JOINED)
			continue;
		ep->joined |= 1ull << id;
		if (!ep_doorbells(ep, id))
			ep->update_pending = 1;
	}
	return ret;
}

unsigned int ivnet_ep_peers(struct ivnet_ep *ep, struct ivnet_ep_peer *out, unsigned int n)
{
	unsigned int k = 0;
	uint32_t id;

	ivnet_ep_update(ep);
	for (id = 0; id < ep->region.layout.max_peers && k < n; id++) {
		const struct ivnet_peer_admin *a = ep_admin(ep, id);
		const struct ivnet_peer *e = ep_entry(ep, id);

		if (id == ep->id || a->state != IVNET_PEER_JOINED)
			continue;
		out[k].id = id;
		memcpy(out[k].mac, a->mac, 6);
		out[k].epoch = a->epoch;
		out[k].link_epoch = ivnet_load_relaxed(&e->link.epoch);
		out[k].up = ep_peer_up(ep, id);
		out[k].uplink = !!(a->flags & IVNET_PEER_F_UPLINK);
		out[k].features = ivnet_load_relaxed(&e->link.features);
		out[k].mtu = ivnet_load_relaxed(&e->link.mtu);
		k++;
	}
	return k;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ivnet_ep_wait_peer(struct ivnet_ep *ep, uint32_t id, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	if (id >= ep->region.layout.max_peers)
		return -EINVAL;
	for (;;) {
		struct pollfd pfd = {.fd = ep->epfd, .events = POLLIN};

		if (ivnet_ep_update(ep))
			return -EPIPE;
		if (ep_peer_up(ep, id))
			return 0;
		if (timeout_ms >= 0 && now_ms() >= end)
			return -ETIMEDOUT;
		/* woken by the broker's messages or a control doorbell */
		if (poll(&pfd, 1, 10) > 0) {
			uint64_t v;

			if (read(ep_vectors_of(ep, ep->ivpos)->fd[IVNET_VEC_CONTROL], &v,
				 sizeof(v)) < 0)
				(void)v;
		}
	}
}

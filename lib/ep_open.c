// SPDX-License-Identifier: MIT
/*
 * ep_open.c - joining a segment: the broker's setup messages (steps 1-5 of
 * ivshmem_proto.h), the region, our admin region (ep_admin.c), our rings
 * and doorbells; leaving it again. The region's geometry comes from the
 * admin region's copy of its header, never from the shared header, which
 * any peer can rewrite.
 */
#define _GNU_SOURCE
#include "ep_internal.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ivnet_error.h"
#include "ivshmem_proto.h"

#define SETUP_TIMEOUT_S 5

static int recv_setup(struct ivnet_ep *ep, int64_t *v, int *fd, char *err)
{
	int ret = ivnet_proto_recv(ep->sock, v, fd);

	if (ret == -EAGAIN || ret == -EWOULDBLOCK)
		return ivnet_fail(err, ETIMEDOUT, "broker sent no setup within %d s",
				  SETUP_TIMEOUT_S);
	if (ret == -EPIPE)
		return ivnet_fail(err, EPIPE,
				  "broker closed the connection during setup "
				  "(refused: segment full or not allowed?)");
	if (ret)
		return ivnet_fail(err, -ret, "setup message: %s", strerror(-ret));
	return 0;
}

static int connect_broker(struct ivnet_ep *ep, const char *path, char *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = SETUP_TIMEOUT_S};

	if (strlen(path) >= sizeof(sun.sun_path))
		return ivnet_fail(err, ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	ep->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ep->sock < 0)
		return ivnet_fail(err, errno, "socket: %s", strerror(errno));
	if (connect(ep->sock, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return ivnet_fail(err, errno, "connect %s: %s", path, strerror(errno));
	setsockopt(ep->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

/* Steps 1-3: version, our id, the region. */
static int setup_region(struct ivnet_ep *ep, char *err)
{
	int64_t v;
	int fd, ret;

	ret = recv_setup(ep, &v, &fd, err);
	if (ret)
		return ret;
	if (v != IVNET_PROTO_VERSION || fd >= 0) {
		if (fd >= 0)
			close(fd);
		return ivnet_fail(err, EPROTO, "broker speaks protocol version %lld, not %d",
				  (long long)v, IVNET_PROTO_VERSION);
	}
	ret = recv_setup(ep, &v, &fd, err);
	if (ret)
		return ret;
	if (v < 0 || v > IVNET_PROTO_MAX_ID || fd >= 0) {
		if (fd >= 0)
			close(fd);
		return ivnet_fail(err, EPROTO, "bad peer id message (%lld)", (long long)v);
	}
	ep->ivpos = (uint32_t)v;
	ret = recv_setup(ep, &v, &fd, err);
	if (ret)
		return ret;
	if (v != -1 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return ivnet_fail(err, EPROTO, "expected the shared-memory fd, got %lld",
				  (long long)v);
	}
	ret = ivnet_region_map_fd(fd, &ep->region, err);
	if (ret) {
		close(fd);
		return ret;
	}
	return 0;
}

/* Once the layout is known: the broker put us in the table before it sent
 * the setup, and in every admin region before it served ours. */
static int find_self(struct ivnet_ep *ep, char *err)
{
	int ret = ivnet_admin_find_slot(ep->adm.peer, ep->region.layout.max_peers, ep->ivpos);

	if (ret < 0)
		return ivnet_fail(err, EPROTO,
				  "ivshmem id %u has no entry in the broker's peer table",
				  ep->ivpos);
	ep->id = (uint32_t)ret;
	return 0;
}

/*
 * Steps 4-5: everyone's eventfds, ours last: as many as the broker's copy
 * of the header says (the shared header's count is anyone's to rewrite).
 * Then the layout, from that copy, against the size we mapped and the
 * vectors we got.
 */
static int setup_vectors(struct ivnet_ep *ep, char *err)
{
	uint32_t want = ep->adm.seg.vectors;
	struct ep_vectors *own = NULL;

	if (want < IVNET_VECTORS_MIN || want > IVNET_VECTORS_MAX)
		return ivnet_fail(err, EPROTO, "the broker's header says %u vectors", want);
	ep->vectors = want; /* what ep_take_message takes meanwhile */
	while (!own || own->n < want) {
		int64_t v;
		int fd, ret;

		ret = recv_setup(ep, &v, &fd, err);
		if (ret)
			return ret;
		if (fd < 0 || ep_take_message(ep, v, fd))
			return ivnet_fail(err, EPROTO, "bad vector message for peer %lld",
					  (long long)v);
		own = ep_vectors_of(ep, ep->ivpos);
	}
	return ivnet_region_layout_from(&ep->region, &ep->adm.seg, want, err);
}

static int setup_rings(struct ivnet_ep *ep, char *err)
{
	const struct ivnet_layout *l = &ep->region.layout;
	uint32_t id;
	int ret;

	for (id = 0; id < l->max_peers; id++) {
		if (id == ep->id)
			continue;
		ret = ivnet_ring_attach_tx(&ep->peer[id].tx, ep->region.base, l, ep->id, id);
		if (!ret)
			ret = ivnet_ring_attach_rx(&ep->peer[id].rx, ep->region.base, l, id,
						   ep->id);
		if (ret)
			return ivnet_fail(err, -ret, "attaching rings with peer %u", id);
	}
	return 0;
}

static int setup_poll(struct ivnet_ep *ep, char *err)
{
	struct epoll_event ev = {.events = EPOLLIN};
	uint32_t v;

	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0)
		return ivnet_fail(err, errno, "epoll: %s", strerror(errno));
	for (v = 0; v < ep->vectors && v <= IVNET_VEC_RX; v++) {
		ev.data.u32 = v;
		if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, ep_vectors_of(ep, ep->ivpos)->fd[v], &ev) <
		    0)
			return ivnet_fail(err, errno, "epoll: %s", strerror(errno));
	}
	ev.data.u32 = UINT32_MAX;
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, ep->sock, &ev) < 0)
		return ivnet_fail(err, errno, "epoll: %s", strerror(errno));
	return fcntl(ep->sock, F_SETFL, O_NONBLOCK) < 0 ? ivnet_fail(err, errno, "fcntl") : 0;
}

/* The options against the region's geometry; 0 MTU means the largest. */
static int check_opts(struct ivnet_ep *ep, const struct ivnet_ep_opts *o, char *err)
{
	/* the layout keeps max_frame at or above IVNET_REGION_FRAME_MIN */
	uint32_t max_mtu = ep->region.layout.max_frame - IVNET_FRAME_MIN;

	ep->opts = *o;
	if (o->features & ~IVNET_F_ALL)
		return ivnet_fail(err, EINVAL, "unknown features 0x%x", o->features & ~IVNET_F_ALL);
	if (!o->mtu)
		ep->opts.mtu = max_mtu;
	else if (o->mtu < IVNET_MTU_MIN || o->mtu > max_mtu)
		return ivnet_fail(err, EINVAL, "mtu %u out of range %u..%u", o->mtu, IVNET_MTU_MIN,
				  max_mtu);
	return 0;
}

int ivnet_ep_open(const char *socket_path, struct ivnet_ep **out, char err[IVNET_ERRLEN])
{
	const struct ivnet_ep_opts all = {.features = IVNET_F_ALL};

	return ivnet_ep_open_opts(socket_path, &all, out, err);
}

int ivnet_ep_open_opts(const char *socket_path, const struct ivnet_ep_opts *opts,
		       struct ivnet_ep **out, char err[IVNET_ERRLEN])
{
	struct ivnet_ep *ep = calloc(1, sizeof(*ep));
	int ret;

	*out = NULL;
	if (!ep)
		return ivnet_fail(err, ENOMEM, "out of memory");
	ep->sock = ep->epfd = ep->adm.sock = -1;
	ep->region.fd = -1;
	ep->mode = IVNET_WAIT_ADAPTIVE;
	ep->spin_us = 50;
	ep->last_dst = -1;
	ep->id = IVNET_PEERS_MAX; /* none yet: ivnet_ep_close leaves the table alone */
	ep->update_pending = 1;	  /* compute the joined set on first use */
	ret = connect_broker(ep, socket_path, err);
	if (!ret)
		ret = setup_region(ep, err);
	if (!ret)
		ret = ep_admin_open(ep, socket_path, err);
	if (!ret)
		ret = setup_vectors(ep, err);
	if (!ret)
		ret = find_self(ep, err);
	if (!ret)
		ret = check_opts(ep, opts, err);
	if (!ret)
		ret = setup_rings(ep, err);
	if (!ret)
		ret = setup_poll(ep, err);
	if (ret) {
		ivnet_ep_close(ep);
		return ret;
	}
	ep_link_set(ep, true);
	*out = ep;
	return 0;
}

void ivnet_ep_close(struct ivnet_ep *ep)
{
	uint32_t id;

	if (!ep)
		return;
	if (ep->region.base && ep->id < ep->region.layout.max_peers && ep->vectors)
		ep_link_set(ep, false);
	for (id = 0; id < IVNET_PEERS_MAX; id++)
		if (ep->vec[id].used)
			ep_close_vectors(&ep->vec[id]);
	if (ep->epfd >= 0)
		close(ep->epfd);
	if (ep->sock >= 0)
		close(ep->sock);
	ivnet_region_close(&ep->region);
	ep_admin_close(ep);
	free(ep);
}

uint32_t ivnet_ep_id(const struct ivnet_ep *ep)
{
	return ep->id;
}

const uint8_t *ivnet_ep_mac(const struct ivnet_ep *ep)
{
	return ep_admin(ep, ep->id)->mac;
}

const struct ivnet_region *ivnet_ep_region(const struct ivnet_ep *ep)
{
	return &ep->region;
}

const struct ivnet_region_hdr *ivnet_ep_header(const struct ivnet_ep *ep)
{
	return &ep->adm.seg;
}

void ivnet_ep_set_wait(struct ivnet_ep *ep, enum ivnet_ep_wait mode, unsigned int spin_us)
{
	ep->mode = mode;
	ep->spin_us = spin_us;
}

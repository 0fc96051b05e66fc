// SPDX-License-Identifier: MIT
/*
 * ivnet_endpoint.c - libivnet (see ivnet_endpoint.h).
 *
 * Peer state lives in three places: the broker's messages on our socket
 * (who is connected, and the eventfds to ring them), the broker's half of
 * the peer table (joined, epoch, MAC) and each peer's own half (link up,
 * the join epoch it attached under, its attach epoch). A peer is up when
 * all three agree; its shared-memory fields are re-read, never trusted.
 */
#define _GNU_SOURCE
#include "ivnet_endpoint.h"

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ivnet_proto.h"

#define SETUP_TIMEOUT_S 5

/* A connected peer's doorbells, by ivshmem id (the broker's messages). */
struct ep_vectors {
	int used;
	uint32_t ivpos;
	int fd[IVNET_VECTORS_MAX];
	uint32_t n;
};

/* A slot of the peer table: the rings with whoever is there. */
struct ep_peer {
	uint32_t rx_link_epoch; /* its attach epoch when we last resynced */
	int rx_synced;
	struct ivnet_ring tx; /* us -> it */
	struct ivnet_ring rx; /* it -> us */
};

struct ivnet_ep {
	int sock;
	int epfd;	/* our own doorbells and the socket */
	uint32_t id;	/* our slot */
	uint32_t ivpos; /* our ivshmem id */
	uint32_t vectors;
	struct ep_vectors vec[IVNET_PEERS_MAX];
	/* slot -> its doorbells: a cache, checked against the table on use */
	struct ep_vectors *door[IVNET_PEERS_MAX];
	uint32_t tick; /* read the socket now and then even if nothing moved */
	struct ivnet_region region;
	struct ep_peer peer[IVNET_PEERS_MAX];
	uint32_t last_rx; /* round-robin start */
	/*
	 * Slots the broker's table says are joined (not us), recomputed
	 * whenever table_gen moves: the receive and send paths look at these
	 * only, however large the table. Each is still checked in full on use.
	 */
	uint64_t joined;
	int last_dst;	     /* the slot the last unicast went to (-1: none), ... */
	uint8_t last_mac[6]; /* ... for this MAC */
	uint64_t rx_held;    /* rings with frames handed out in place (recv_zc) */
	uint64_t tx_dirty;   /* rings with frames reserved since the last publish */
	enum ivnet_ep_wait mode;
	unsigned int spin_us;
	struct ivnet_ep_opts opts; /* what our link line advertises */
	int broker_gone;
	uint32_t seen_gen;  /* table_gen when we last took the broker's messages */
	int update_pending; /* a join or leave not yet fully seen on the socket */
	struct ivnet_ep_stats st;
};

static int fail(char *err, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, int e, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, IVNET_ERRLEN, fmt, ap);
		va_end(ap);
	}
	return -e;
}

static struct ivnet_peer *entry(const struct ivnet_ep *ep, uint32_t id)
{
	return ivnet_region_peer(&ep->region, id);
}

/* ---------------------------------------------------------- peer state */

static struct ep_vectors *vectors_of(struct ivnet_ep *ep, uint32_t ivpos)
{
	uint32_t i;

	for (i = 0; i < IVNET_PEERS_MAX; i++)
		if (ep->vec[i].used && ep->vec[i].ivpos == ivpos)
			return &ep->vec[i];
	return NULL;
}

/*
 * The doorbells of whoever is in slot id, if we have them all. The cached
 * entry stands while it is in use for the ivshmem id the table names
 * (close_vectors() clears it); else one search.
 */
static struct ep_vectors *doorbells(struct ivnet_ep *ep, uint32_t id)
{
	uint32_t ivpos = ivnet_load_relaxed(&entry(ep, id)->admin.ivpos);
	struct ep_vectors *v = ep->door[id];

	if (!v || !v->used || v->ivpos != ivpos)
		v = ep->door[id] = vectors_of(ep, ivpos);
	return v && v->n == ep->vectors ? v : NULL;
}

static int peer_up(struct ivnet_ep *ep, uint32_t id)
{
	const struct ivnet_peer *e = entry(ep, id);
	uint32_t epoch;

	if (id == ep->id)
		return 0;
	/* acquire: pairs with the broker's release of state; the epoch read
	 * after it belongs to this join (or a later one, which the link's
	 * join_epoch then fails to match). */
	if (ivnet_load_acquire(&e->admin.state) != IVNET_PEER_JOINED || !doorbells(ep, id))
		return 0;
	epoch = ivnet_load_relaxed(&e->admin.epoch);
	/* acquire: pairs with the peer's release of its link state. */
	return ivnet_load_acquire(&e->link.state) == IVNET_LINK_UP &&
	       ivnet_load_relaxed(&e->link.join_epoch) == epoch;
}

static void close_vectors(struct ep_vectors *v)
{
	uint32_t i;

	for (i = 0; i < v->n; i++)
		close(v->fd[i]);
	memset(v, 0, sizeof(*v));
}

/* A message: a peer's next eventfd, or a peer gone (by ivshmem id). */
static int take_message(struct ivnet_ep *ep, int64_t ivpos, int fd)
{
	struct ep_vectors *v;
	uint32_t i;

	if (ivpos < 0 || ivpos > IVNET_PROTO_MAX_ID) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	v = vectors_of(ep, (uint32_t)ivpos);
	if (fd < 0) {
		if (v)
			close_vectors(v);
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

static void ring(struct ivnet_ep *ep, uint32_t id, uint32_t vector)
{
	struct ep_vectors *v = doorbells(ep, id);
	uint64_t one = 1;

	if (v && write(v->fd[vector], &one, sizeof(one)) == sizeof(one))
		ep->st.doorbells += vector == IVNET_VEC_RX;
}

/* Tell every peer our link line changed. */
static void announce_link(struct ivnet_ep *ep)
{
	uint32_t id;

	for (id = 0; id < ep->region.layout.max_peers; id++)
		if (id != ep->id)
			ring(ep, id, IVNET_VEC_CONTROL);
}

static void link_set(struct ivnet_ep *ep, uint32_t state)
{
	struct ivnet_peer *e = entry(ep, ep->id);

	if (state == IVNET_LINK_UP) {
		ivnet_store_relaxed(&e->link.state, IVNET_LINK_DOWN);
		ivnet_store_relaxed(&e->link.epoch, ivnet_load_relaxed(&e->link.epoch) + 1);
		ivnet_store_relaxed(&e->link.join_epoch, ivnet_load_relaxed(&e->admin.epoch));
		ivnet_store_relaxed(&e->link.mtu, ep->opts.mtu);
		ivnet_store_relaxed(&e->link.features, ep->opts.features);
	}
	/* release: whoever sees the state sees the fields written before. */
	ivnet_store_release(&e->link.state, state);
	announce_link(ep);
}

/* ----------------------------------------------------------------- setup */

static int recv_setup(struct ivnet_ep *ep, int64_t *v, int *fd, char *err)
{
	int ret = ivnet_proto_recv(ep->sock, v, fd);

	if (ret == -EAGAIN || ret == -EWOULDBLOCK)
		return fail(err, ETIMEDOUT, "broker sent no setup within %d s", SETUP_TIMEOUT_S);
	if (ret == -EPIPE)
		return fail(err, EPIPE,
			    "broker closed the connection during setup "
			    "(refused: segment full or not allowed?)");
	if (ret)
		return fail(err, -ret, "setup message: %s", strerror(-ret));
	return 0;
}

static int connect_broker(struct ivnet_ep *ep, const char *path, char *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = SETUP_TIMEOUT_S};

	if (strlen(path) >= sizeof(sun.sun_path))
		return fail(err, ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	ep->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ep->sock < 0)
		return fail(err, errno, "socket: %s", strerror(errno));
	if (connect(ep->sock, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return fail(err, errno, "connect %s: %s", path, strerror(errno));
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
		return fail(err, EPROTO, "broker speaks protocol version %lld, not %d",
			    (long long)v, IVNET_PROTO_VERSION);
	}
	ret = recv_setup(ep, &v, &fd, err);
	if (ret)
		return ret;
	if (v < 0 || v > IVNET_PROTO_MAX_ID || fd >= 0) {
		if (fd >= 0)
			close(fd);
		return fail(err, EPROTO, "bad peer id message (%lld)", (long long)v);
	}
	ep->ivpos = (uint32_t)v;
	ret = recv_setup(ep, &v, &fd, err);
	if (ret)
		return ret;
	if (v != -1 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return fail(err, EPROTO, "expected the shared-memory fd, got %lld", (long long)v);
	}
	ret = ivnet_region_attach_fd(fd, &ep->region, err);
	if (ret) {
		close(fd);
		return ret;
	}
	/* the broker put us in the table before it sent the setup */
	ret = ivnet_find_slot(ep->region.base, &ep->region.layout, ep->ivpos);
	if (ret < 0)
		return fail(err, EPROTO, "ivshmem id %u has no entry in the peer table", ep->ivpos);
	ep->id = (uint32_t)ret;
	ep->vectors = ep->region.layout.vectors;
	return 0;
}

/* Steps 4-5: everyone's eventfds, ours last. */
static int setup_vectors(struct ivnet_ep *ep, char *err)
{
	struct ep_vectors *own = NULL;

	while (!own || own->n < ep->vectors) {
		int64_t v;
		int fd, ret;

		ret = recv_setup(ep, &v, &fd, err);
		if (ret)
			return ret;
		if (fd < 0 || take_message(ep, v, fd))
			return fail(err, EPROTO, "bad vector message for peer %lld", (long long)v);
		own = vectors_of(ep, ep->ivpos);
	}
	return 0;
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
			return fail(err, -ret, "attaching rings with peer %u", id);
	}
	return 0;
}

static int setup_poll(struct ivnet_ep *ep, char *err)
{
	struct epoll_event ev = {.events = EPOLLIN};
	uint32_t v;

	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0)
		return fail(err, errno, "epoll: %s", strerror(errno));
	for (v = 0; v < ep->vectors && v <= IVNET_VEC_RX; v++) {
		ev.data.u32 = v;
		if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, vectors_of(ep, ep->ivpos)->fd[v], &ev) < 0)
			return fail(err, errno, "epoll: %s", strerror(errno));
	}
	ev.data.u32 = UINT32_MAX;
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, ep->sock, &ev) < 0)
		return fail(err, errno, "epoll: %s", strerror(errno));
	return fcntl(ep->sock, F_SETFL, O_NONBLOCK) < 0 ? fail(err, errno, "fcntl") : 0;
}

/* The options against the region's geometry; 0 MTU means the largest. */
static int check_opts(struct ivnet_ep *ep, const struct ivnet_ep_opts *o, char *err)
{
	uint32_t max_mtu = ep->region.layout.max_frame - 14;

	ep->opts = *o;
	if (o->features & ~IVNET_F_ALL)
		return fail(err, EINVAL, "unknown features 0x%x", o->features & ~IVNET_F_ALL);
	if (!o->mtu)
		ep->opts.mtu = max_mtu;
	else if (o->mtu < 68 || o->mtu > max_mtu)
		return fail(err, EINVAL, "mtu %u out of range 68..%u", o->mtu, max_mtu);
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
		return fail(err, ENOMEM, "out of memory");
	ep->sock = ep->epfd = -1;
	ep->region.fd = -1;
	ep->mode = IVNET_WAIT_ADAPTIVE;
	ep->spin_us = 50;
	ep->last_dst = -1;
	ep->update_pending = 1; /* compute the joined set on first use */
	ret = connect_broker(ep, socket_path, err);
	if (!ret)
		ret = setup_region(ep, err);
	if (!ret)
		ret = check_opts(ep, opts, err);
	if (!ret)
		ret = setup_vectors(ep, err);
	if (!ret)
		ret = setup_rings(ep, err);
	if (!ret)
		ret = setup_poll(ep, err);
	if (ret) {
		ivnet_ep_close(ep);
		return ret;
	}
	link_set(ep, IVNET_LINK_UP);
	*out = ep;
	return 0;
}

void ivnet_ep_close(struct ivnet_ep *ep)
{
	uint32_t id;

	if (!ep)
		return;
	if (ep->region.base && ep->id < ep->region.layout.max_peers && ep->vectors)
		link_set(ep, IVNET_LINK_DOWN);
	for (id = 0; id < IVNET_PEERS_MAX; id++)
		if (ep->vec[id].used)
			close_vectors(&ep->vec[id]);
	if (ep->epfd >= 0)
		close(ep->epfd);
	if (ep->sock >= 0)
		close(ep->sock);
	ivnet_region_close(&ep->region);
	free(ep);
}

/* ------------------------------------------------------------- queries */

uint32_t ivnet_ep_id(const struct ivnet_ep *ep)
{
	return ep->id;
}

const uint8_t *ivnet_ep_mac(const struct ivnet_ep *ep)
{
	return entry(ep, ep->id)->admin.mac;
}

const struct ivnet_region *ivnet_ep_region(const struct ivnet_ep *ep)
{
	return &ep->region;
}

void ivnet_ep_set_wait(struct ivnet_ep *ep, enum ivnet_ep_wait mode, unsigned int spin_us)
{
	ep->mode = mode;
	ep->spin_us = spin_us;
}

int ivnet_ep_update(struct ivnet_ep *ep)
{
	for (;;) {
		int64_t v;
		int fd, ret;

		if (ep->broker_gone)
			return -EPIPE;
		ret = ivnet_proto_recv(ep->sock, &v, &fd);
		if (ret == -EAGAIN || ret == -EWOULDBLOCK)
			return 0;
		if (ret || take_message(ep, v, fd)) {
			/* a broker that hangs up or garbles the stream is gone */
			ep->broker_gone = 1;
			return -EPIPE;
		}
	}
}

/*
 * The socket is read only when the table generation moved, or while a
 * change it announced is incomplete on our side: no syscall on the fast
 * path while nothing changes.
 */
static int maybe_update(struct ivnet_ep *ep)
{
	const struct ivnet_region_hdr *h = ivnet_region_hdr(&ep->region);
	/* acquire: pairs with the broker's release of table_gen. */
	uint32_t gen = ivnet_load_acquire(&h->table_gen), id;
	int ret;

	/* now and then regardless: a broker that died says so only there */
	if (gen == ep->seen_gen && !ep->update_pending && (++ep->tick & 4095))
		return 0;
	ep->seen_gen = gen;
	ret = ivnet_ep_update(ep);
	ep->update_pending = 0;
	ep->joined = 0;
	for (id = 0; id < ep->region.layout.max_peers; id++) {
		if (id == ep->id ||
		    ivnet_load_relaxed(&entry(ep, id)->admin.state) != IVNET_PEER_JOINED)
			continue;
		ep->joined |= 1ull << id;
		if (!doorbells(ep, id))
			ep->update_pending = 1;
	}
	return ret;
}

unsigned int ivnet_ep_peers(struct ivnet_ep *ep, struct ivnet_ep_peer *out, unsigned int n)
{
	uint32_t id;
	unsigned int k = 0;

	ivnet_ep_update(ep);
	for (id = 0; id < ep->region.layout.max_peers && k < n; id++) {
		const struct ivnet_peer *e = entry(ep, id);

		if (id == ep->id || ivnet_load_acquire(&e->admin.state) != IVNET_PEER_JOINED)
			continue;
		out[k].id = id;
		memcpy(out[k].mac, e->admin.mac, 6);
		out[k].epoch = ivnet_load_relaxed(&e->admin.epoch);
		out[k].link_epoch = ivnet_load_relaxed(&e->link.epoch);
		out[k].up = peer_up(ep, id);
		out[k].uplink = !!(ivnet_load_relaxed(&e->admin.flags) & IVNET_PEER_F_UPLINK);
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
		if (peer_up(ep, id))
			return 0;
		if (timeout_ms >= 0 && now_ms() >= end)
			return -ETIMEDOUT;
		/* woken by the broker's messages or a control doorbell */
		if (poll(&pfd, 1, 10) > 0) {
			uint64_t v;

			if (read(vectors_of(ep, ep->ivpos)->fd[IVNET_VEC_CONTROL], &v, sizeof(v)) <
			    0)
				(void)v;
		}
	}
}

/* ---------------------------------------------------------------- send */

/* The next joined slot at or after `from` (wrapping), or -1. */
static int next_joined(const struct ivnet_ep *ep, uint32_t from)
{
	uint64_t m = ep->joined;

	if (!m)
		return -1;
	if (from < 64 && (m >> from))
		return (int)(from + (uint32_t)__builtin_ctzll(m >> from));
	return __builtin_ctzll(m);
}

#define for_each_joined(ep, id, m) \
	for ((m) = (ep)->joined; (m) && ((id) = (uint32_t)__builtin_ctzll(m), 1); (m) &= (m)-1)

static int mac_is(const struct ivnet_ep *ep, uint32_t id, const uint8_t *mac)
{
	return memcmp(entry(ep, id)->admin.mac, mac, 6) == 0;
}

/*
 * The peer with that MAC, else the first uplink that is up, else -1. The
 * last peer found by MAC is tried first, and re-checked against the table
 * like any other.
 */
static int lookup(struct ivnet_ep *ep, const uint8_t *mac)
{
	int uplink = -1;
	uint64_t m;
	uint32_t id;

	if (ep->last_dst >= 0 && memcmp(ep->last_mac, mac, 6) == 0 &&
	    mac_is(ep, (uint32_t)ep->last_dst, mac) && peer_up(ep, (uint32_t)ep->last_dst))
		return ep->last_dst;
	for_each_joined(ep, id, m)
	{
		if (!peer_up(ep, id))
			continue;
		if (mac_is(ep, id, mac)) {
			ep->last_dst = (int)id;
			memcpy(ep->last_mac, mac, 6);
			return (int)id;
		}
		if (uplink < 0 &&
		    (ivnet_load_relaxed(&entry(ep, id)->admin.flags) & IVNET_PEER_F_UPLINK))
			uplink = (int)id;
	}
	return uplink;
}

/* Does peer id take the offloads this frame's metadata asks for? */
static int accepts(struct ivnet_ep *ep, uint32_t id, const struct ivnet_meta *m)
{
	uint32_t need = (m->gso_type != IVNET_GSO_NONE ? IVNET_F_GSO : 0) |
			(m->flags & IVNET_DESC_F_CSUM_PARTIAL ? IVNET_F_CSUM : 0);

	return (ivnet_load_relaxed(&entry(ep, id)->link.features) & need) == need;
}

/* 1 queued, 0 full, -1 dropped (the peer does not take its offloads). */
static int queue_to(struct ivnet_ep *ep, uint32_t id, const struct ivnet_frame *f)
{
	struct ep_peer *p = &ep->peer[id];
	void *d;

	if (!accepts(ep, id, &f->meta)) {
		ep->st.tx_offload++;
		return -1;
	}
	d = ivnet_tx_reserve(&p->tx, f->len, &f->meta);
	if (!d) {
		ep->st.tx_full++;
		return 0;
	}
	memcpy(d, f->data, f->len);
	ep->tx_dirty |= 1ull << id;
	return 1;
}

static void flush(struct ivnet_ep *ep)
{
	uint64_t m = ep->tx_dirty;

	ep->tx_dirty = 0;
	for (; m; m &= m - 1) {
		uint32_t id = (uint32_t)__builtin_ctzll(m);
		struct ep_peer *p = &ep->peer[id];

		ivnet_tx_publish(&p->tx);
		if (ivnet_tx_need_notify(&p->tx))
			ring(ep, id, IVNET_VEC_RX);
	}
}

unsigned int ivnet_ep_send_burst(struct ivnet_ep *ep, const struct ivnet_frame *f, unsigned int n)
{
	const uint8_t *prev_mac = NULL;
	unsigned int i, sent;
	int prev = -1;

	maybe_update(ep);
	for (i = 0; i < n; i++) {
		const uint8_t *dst = f[i].data;
		int ok = 0;

		if (f[i].len < 14 || f[i].len > ep->region.layout.max_frame) {
			ep->st.tx_invalid++;
			continue;
		}
		if (dst[0] & 1) {
			uint64_t m;
			uint32_t id;

			/* best effort, as on any Ethernet: a full ring misses it */
			for_each_joined(ep, id, m) if (peer_up(ep, id)) ok |=
				queue_to(ep, id, &f[i]) > 0;
		} else {
			/* a burst to one peer looks it up once: the table is
			 * checked once per burst, as for a burst of one */
			int id =
				prev >= 0 && memcmp(dst, prev_mac, 6) == 0 ? prev : lookup(ep, dst);

			prev = id;
			prev_mac = dst;
			if (id < 0) {
				ep->st.tx_unknown++;
				continue;
			}
			ok = queue_to(ep, (uint32_t)id, &f[i]);
			if (!ok)
				break; /* full: this frame and the rest are the caller's */
			ok = ok > 0;
		}
		if (ok) {
			ep->st.tx_frames++;
			ep->st.tx_bytes += f[i].len;
		}
	}
	sent = i;
	flush(ep);
	return sent;
}

/* ---------------------------------------------------------------- recv */

/* Is ring id -> us worth reading? Resync it if the peer restarted. */
static int rx_ready(struct ivnet_ep *ep, uint32_t id)
{
	struct ep_peer *p = &ep->peer[id];
	uint32_t le;

	if (!peer_up(ep, id))
		return 0;
	le = ivnet_load_relaxed(&entry(ep, id)->link.epoch);
	if (!p->rx_synced || le != p->rx_link_epoch) {
		/* a new incarnation: what the old one queued is not ours */
		if (p->rx_synced)
			ep->st.peer_resets++;
		ivnet_rx_restart(&p->rx);
		p->rx_link_epoch = le;
		p->rx_synced = 1;
	}
	return 1;
}

/* Frames of one ring: copied into b[], or handed out in place in f[]. */
static unsigned int take_ring(struct ivnet_ep *ep, uint32_t id, struct ivnet_rx_buf *b,
			      struct ivnet_rx_frame *f, unsigned int n)
{
	struct ivnet_ring *rx = &ep->peer[id].rx;
	unsigned int i = 0;

	if (b) {
		i = ivnet_rx_burst(rx, b, n);
		for (n = 0; n < i; n++)
			ep->st.rx_bytes += b[n].len;
		return i;
	}
	while (i < n && ivnet_rx_peek(rx, &f[i])) {
		ivnet_rx_consume(rx);
		ep->st.rx_bytes += f[i].len;
		i++;
	}
	if (i)
		ep->rx_held |= 1ull << id;
	return i;
}

static unsigned int poll_rings(struct ivnet_ep *ep, struct ivnet_rx_buf *b,
			       struct ivnet_rx_frame *f, uint32_t *src, unsigned int n)
{
	unsigned int got = 0, k;
	int first = next_joined(ep, ep->last_rx), id = first;

	/* round robin over the joined slots, from the one after last time's */
	while (id >= 0 && got < n) {
		unsigned int m, i;

		if (rx_ready(ep, (uint32_t)id)) {
			m = take_ring(ep, (uint32_t)id, b ? b + got : NULL, b ? NULL : f + got,
				      n - got);
			for (i = 0; src && i < m; i++)
				src[got + i] = (uint32_t)id;
			got += m;
		}
		id = next_joined(ep, (uint32_t)id + 1);
		if (id == first)
			break;
	}
	/* Nothing came: store nothing either (busy polling spins here, and
	 * stores in that spin slow down its wake-up, see ivnet_rx_avail()). */
	if (!got)
		return 0;
	k = first < 0 ? 0 : (uint32_t)first + 1;
	ep->last_rx = k >= ep->region.layout.max_peers ? 0 : k;
	ep->st.rx_frames += got;
	return got;
}

/* Arm every ring we read; 1 if all are still empty (safe to sleep). */
static int arm_all(struct ivnet_ep *ep)
{
	uint64_t m;
	uint32_t id;
	int empty = 1;

	for_each_joined(ep, id, m) if (rx_ready(ep, id)) ivnet_rx_set_armed(&ep->peer[id].rx, 1);
	/* Full barrier: the armed flags before the head loads; pairs with
	 * the producers' barrier in ivnet_tx_need_notify(). */
	ivnet_mb();
	for_each_joined(ep, id, m) if (rx_ready(ep, id) && ivnet_rx_avail(&ep->peer[id].rx)) empty =
		0;
	return empty;
}

static void disarm_all(struct ivnet_ep *ep)
{
	uint64_t m;
	uint32_t id;

	for_each_joined(ep, id, m) ivnet_rx_set_armed(&ep->peer[id].rx, 0);
}

static void sleep_on_doorbells(struct ivnet_ep *ep, int timeout_ms)
{
	struct epoll_event ev[4];
	int n, i;

	n = epoll_wait(ep->epfd, ev, 4, timeout_ms);
	for (i = 0; i < n; i++) {
		uint64_t v;

		if (ev[i].data.u32 == UINT32_MAX)
			continue; /* the socket: ivnet_ep_update() reads it */
		if (read(vectors_of(ep, ep->ivpos)->fd[ev[i].data.u32], &v, sizeof(v)) == sizeof(v))
			ep->st.wakeups++;
	}
}

/*
 * Busy-wait, at most `rounds` rounds, until a joined peer's ring has frames
 * or the peer table moved. Loads only, and no calls: a store or a call (it
 * pushes registers) in this spin adds about 60 ns to every wake-up on x86,
 * which is most of a round trip's budget.
 */
#define SPIN_ROUNDS 512

static void spin_for_work(const struct ivnet_ep *ep, unsigned int rounds)
{
	const struct ivnet_region_hdr *h = ivnet_region_hdr(&ep->region);
	uint64_t m;
	uint32_t id;

	while (rounds--) {
		for_each_joined(ep, id, m) if (ivnet_rx_pending(&ep->peer[id].rx)) return;
		if (ivnet_load_relaxed(&h->table_gen) != ep->seen_gen)
			return;
	}
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void ivnet_ep_recv_done(struct ivnet_ep *ep)
{
	uint64_t m = ep->rx_held;

	if (!m)
		return;
	ep->rx_held = 0;
	for (; m; m &= m - 1)
		ivnet_rx_release(&ep->peer[__builtin_ctzll(m)].rx);
}

/*
 * The receive loop of both APIs. The clock is read only when a timeout or
 * the adaptive spin needs it: busy polling makes no system call while
 * nothing changes (maybe_update() reads one shared word).
 */
static int recv_common(struct ivnet_ep *ep, struct ivnet_rx_buf *b, struct ivnet_rx_frame *f,
		       uint32_t *src, unsigned int n, int timeout_ms)
{
	uint64_t start = 0, spin_end = 0;
	unsigned int got;

	ivnet_ep_recv_done(ep);
	for (;;) {
		int64_t left = -1;

		if (maybe_update(ep))
			return -EPIPE;
		got = poll_rings(ep, b, f, src, n);
		if (got || timeout_ms == 0)
			return (int)got;
		if (timeout_ms > 0) {
			/* the timeout runs from the first empty poll: a call
			 * that finds frames at once reads no clock */
			if (!start)
				start = now_us();
			left = timeout_ms - (int64_t)(now_us() - start) / 1000;
			if (left <= 0)
				return 0;
		}
		if (ep->mode == IVNET_WAIT_BUSY) {
			spin_for_work(ep, SPIN_ROUNDS);
			continue;
		}
		if (ep->mode == IVNET_WAIT_ADAPTIVE) {
			uint64_t t = now_us();

			if (!spin_end)
				spin_end = t + ep->spin_us;
			if (t < spin_end) {
				spin_for_work(ep, SPIN_ROUNDS);
				continue;
			}
		}
		if (arm_all(ep))
			sleep_on_doorbells(ep, (int)left);
		disarm_all(ep);
		ep->update_pending = 1; /* woken: perhaps by the broker */
	}
}

int ivnet_ep_recv_burst(struct ivnet_ep *ep, struct ivnet_rx_buf *b, uint32_t *src, unsigned int n,
			int timeout_ms)
{
	return recv_common(ep, b, NULL, src, n, timeout_ms);
}

int ivnet_ep_recv_zc(struct ivnet_ep *ep, struct ivnet_rx_frame *f, uint32_t *src, unsigned int n,
		     int timeout_ms)
{
	return recv_common(ep, NULL, f, src, n, timeout_ms);
}

void ivnet_ep_stats(struct ivnet_ep *ep, struct ivnet_ep_stats *out)
{
	uint32_t id;

	*out = ep->st;
	for (id = 0; id < ep->region.layout.max_peers; id++) {
		const struct ivnet_ring_stats *r = &ep->peer[id].rx.stats;
		const struct ivnet_ring_stats *t = &ep->peer[id].tx.stats;

		if (id == ep->id)
			continue;
		out->rx_errors += r->bad_index + r->bad_desc + r->resync;
		out->tx_errors += t->bad_index;
	}
}

// SPDX-License-Identifier: MIT
/*
 * ep_admin.c - the broker's word: our admin region (abi/ivnet_shm.h,
 * "admin region"), served on the admin socket beside the segment's (its
 * path with IVNET_ADMIN_SUFFIX appended), and the snapshot of it that every
 * read of the broker's half of the peer table and of the geometry uses.
 * Only the broker and we map it: no other peer can change what it says.
 */
#define _GNU_SOURCE
#include "ep_internal.h"

#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ivnet_error.h"
#include "ivshmem_proto.h"

#define ADMIN_TIMEOUT_S 5
/* How long the broker may take to complete the first copy (it does so
 * before it sends the fd, so this is only for a broker that does not). */
#define ADMIN_READY_MS 1000
#define ADMIN_STEP_MS 10

static int admin_connect(struct ep_admin *a, const char *path, char *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = ADMIN_TIMEOUT_S};

	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >= (int)sizeof(sun.sun_path))
		return ivnet_fail(err, ENAMETOOLONG, "admin socket path too long: %s", path);
	a->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->sock < 0)
		return ivnet_fail(err, errno, "socket: %s", strerror(errno));
	if (connect(a->sock, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return ivnet_fail(err, errno,
				  "connect to the broker's admin socket %s: %s (a broker "
				  "without one cannot vouch for the peer table)",
				  path, strerror(errno));
	setsockopt(a->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

/* Version, an id (meaningless here), the region's fd: *fd. */
static int admin_setup(struct ep_admin *a, const char *path, int *fd, char *err)
{
	int64_t v[3];
	int i, ret;

	*fd = -1;
	for (i = 0; i < 3; i++) {
		int f;

		ret = ivnet_proto_recv(a->sock, &v[i], &f);
		if (ret)
			return ivnet_fail(err, ret == -EAGAIN ? ETIMEDOUT : -ret,
					  "admin socket %s: setup message %d: %s", path, i + 1,
					  ret == -EPIPE ? "the broker closed the connection"
							: strerror(-ret));
		if (f >= 0 && i < 2)
			close(f);
		if (i == 2)
			*fd = f;
	}
	if (v[0] != IVNET_PROTO_VERSION || v[1] < 0 || v[1] > IVNET_PROTO_MAX_ID || v[2] != -1 ||
	    *fd < 0)
		return ivnet_fail(err, EPROTO, "admin socket %s: not an ivshmem setup", path);
	return 0;
}

static int admin_map(struct ep_admin *a, int fd, const char *path, char *err)
{
	struct stat st;
	void *m;

	if (fstat(fd, &st) < 0)
		return ivnet_fail(err, errno, "admin region: fstat: %s", strerror(errno));
	if (st.st_size != IVNET_ADMIN_SIZE)
		return ivnet_fail(err, EPROTO, "admin region from %s: %jd bytes, not %u", path,
				  (intmax_t)st.st_size, IVNET_ADMIN_SIZE);
	m = mmap(NULL, IVNET_ADMIN_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return ivnet_fail(err, errno, "admin region: mmap: %s", strerror(errno));
	a->base = m;
	return 0;
}

/* ivnet_admin_check(), waiting a little for a first copy not yet done. */
static int admin_ready(struct ep_admin *a, const char *path, char *err)
{
	const struct timespec step = {.tv_nsec = ADMIN_STEP_MS * 1000000L};
	const char *why;
	int ret, waited;

	for (waited = 0;; waited += ADMIN_STEP_MS) {
		ret = ivnet_admin_check(a->base, IVNET_ADMIN_SIZE, &why);
		if (ret != -EAGAIN || waited >= ADMIN_READY_MS)
			break;
		nanosleep(&step, NULL);
	}
	if (ret)
		return ivnet_fail(err, ret == -EAGAIN ? ETIMEDOUT : EPROTO,
				  "admin region from %s refused: %s", path, why);
	return 0;
}

/*
 * Connect to the admin socket of the segment at socket_path, map our region,
 * and take a first snapshot (ep->adm.seg: the geometry to use).
 */
int ep_admin_open(struct ivnet_ep *ep, const char *socket_path, char *err)
{
	struct ep_admin *a = &ep->adm;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	int fd, ret;

	if (snprintf(path, sizeof(path), "%s%s", socket_path, IVNET_ADMIN_SUFFIX) >=
	    (int)sizeof(path))
		return ivnet_fail(err, ENAMETOOLONG, "admin socket path too long: %s%s",
				  socket_path, IVNET_ADMIN_SUFFIX);
	ret = admin_connect(a, path, err);
	if (!ret)
		ret = admin_setup(a, path, &fd, err);
	if (!ret) {
		ret = admin_map(a, fd, path, err);
		close(fd); /* the mapping keeps the region */
	}
	if (!ret)
		ret = admin_ready(a, path, err);
	if (!ret && ep_admin_refresh(ep))
		ret = ivnet_fail(err, EBUSY, "admin region from %s: no consistent copy", path);
	return ret;
}

/*
 * A new snapshot, if a consistent one can be had: 0, or -EBUSY (the old one
 * stays, and seq does not move, so the next check tries again).
 */
int ep_admin_refresh(struct ivnet_ep *ep)
{
	struct ep_admin *a = &ep->adm;
	struct ivnet_region_hdr seg;
	struct ivnet_peer_admin peer[IVNET_PEERS_MAX];
	/* acquire: the snapshot's loads come after it; a seq that moves
	 * after this load only makes the next check take another */
	uint32_t seq = ivnet_load_acquire(&a->base->seq);

	if (ivnet_admin_snapshot(a->base, &seg, peer, IVNET_PEERS_MAX))
		return -EBUSY;
	a->seg = seg;
	memcpy(a->peer, peer, sizeof(peer));
	a->seq = seq;
	return 0;
}

void ep_admin_close(struct ivnet_ep *ep)
{
	if (ep->adm.base)
		munmap(ep->adm.base, IVNET_ADMIN_SIZE);
	if (ep->adm.sock >= 0)
		close(ep->adm.sock);
	ep->adm.base = NULL;
	ep->adm.sock = -1;
}

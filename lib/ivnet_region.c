// SPDX-License-Identifier: MIT
/*
 * ivnet_region.c - userspace region life cycle (see ivnet_region.h).
 */
#define _GNU_SOURCE
#include "ivnet_region.h"

#include "ivnet_error.h"

#include <fcntl.h>
#include <inttypes.h>
#include <numa.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *backing_name(enum ivnet_backing b)
{
	switch (b) {
	case IVNET_BACKING_SHM:
		return "shm";
	case IVNET_BACKING_MEMFD:
		return "memfd";
	case IVNET_BACKING_FILE:
		return "file";
	}
	return "?";
}

static int open_backing(const struct ivnet_region_opts *o, char *err)
{
	const char *path = o->path ? o->path : "ivnet";
	int fd;

	switch (o->backing) {
	case IVNET_BACKING_SHM:
		/* Never an object someone else may be using: the caller
		 * unlinks a stale one first if it means to replace it. */
		fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		break;
	case IVNET_BACKING_MEMFD:
		fd = memfd_create(path, MFD_CLOEXEC | MFD_ALLOW_SEALING |
						(o->hugepages ? MFD_HUGETLB : 0));
		break;
	case IVNET_BACKING_FILE:
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		break;
	default:
		return ivnet_fail(err, EINVAL, "unknown backing %d", (int)o->backing);
	}
	if (fd < 0)
		return ivnet_fail(err, errno, "%s %s: %s", backing_name(o->backing), path,
				  strerror(errno));
	return fd;
}

static int bind_node(void *base, uint64_t size, int node, char *err)
{
	if (node < 0)
		return 0;
	if (numa_available() < 0)
		return ivnet_fail(err, ENOSYS, "NUMA node %d requested but NUMA is not available",
				  node);
	if (node > numa_max_node())
		return ivnet_fail(err, EINVAL, "NUMA node %d does not exist (max %d)", node,
				  numa_max_node());
	/* Before the first touch: the pages are allocated on the node. */
	numa_tonode_memory(base, size, node);
	return 0;
}

static int map_fd(int fd, uint64_t size, void **base, char *err)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return ivnet_fail(err, errno, "mmap %" PRIu64 " bytes: %s", size, strerror(errno));
	*base = p;
	return 0;
}

/*
 * Why the layout refused the parameters, with the values it used (a 0 in
 * the parameters means the default, which is what the operator must see).
 */
static int bad_params(const struct ivnet_layout_params *p, const struct ivnet_layout *l,
		      char err[IVNET_ERRLEN])
{
	uint32_t cap = p->max_slots ? p->max_slots : IVNET_SLOTS_DEFAULT_CAP, min = 0;
	struct ivnet_layout_params q = *p;
	struct ivnet_layout with_min;

	if (l->slot_size && l->max_frame)
		min = ivnet_layout_min_slots(l->slot_size, l->max_frame);
	q.max_slots = min;
	/* the slot cap alone is at fault if the minimum would have done */
	if (cap < min && ivnet_layout_compute(&q, &with_min) != IVNET_LAYOUT_EINVAL)
		return ivnet_fail(err, EINVAL,
				  "%u slots per ring are too few: a ring must hold two frames of "
				  "up to %u bytes in slots of %u bytes (at least %u slots)",
				  cap, l->max_frame, l->slot_size, min);
	return ivnet_fail(err, EINVAL,
			  "bad layout parameters: size %" PRIu64 " (power of two?), %u peers "
			  "(%u..%u), %u vectors, slot size %u, max frame %u, %u slots per ring",
			  p->region_size, p->max_peers, IVNET_PEERS_MIN, IVNET_PEERS_MAX,
			  l->vectors, l->slot_size, l->max_frame, cap);
}

int ivnet_region_create(const struct ivnet_region_opts *o, struct ivnet_region *r,
			char err[IVNET_ERRLEN])
{
	uint64_t segment_id = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	ret = ivnet_layout_compute(&o->params, &r->layout);
	if (ret == IVNET_LAYOUT_ENOSPC)
		return ivnet_fail(err, ENOSPC,
				  "region of %" PRIu64
				  " bytes too small for %u peers (needs %" PRIu64 ")",
				  o->params.region_size, o->params.max_peers,
				  ivnet_layout_min_region(&o->params));
	if (ret)
		return bad_params(&o->params, &r->layout, err);
	r->size = o->params.region_size;
	ret = open_backing(o, err);
	if (ret < 0)
		return ret;
	r->fd = ret;
	if (ftruncate(r->fd, (off_t)r->size) < 0) {
		ret = ivnet_fail(err, errno, "size %s to %" PRIu64 " bytes: %s",
				 backing_name(o->backing), r->size, strerror(errno));
		goto err_close;
	}
	/* A memfd's size is sealed: no holder of the fd (every peer has it)
	 * can shrink it under the others' mappings and have them fault. */
	if (o->backing == IVNET_BACKING_MEMFD &&
	    fcntl(r->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = ivnet_fail(err, errno, "sealing the memfd: %s", strerror(errno));
		goto err_close;
	}
	ret = map_fd(r->fd, r->size, &r->base, err);
	if (ret)
		goto err_close;
	ret = bind_node(r->base, r->size, o->numa_node, err);
	if (ret)
		goto err_unmap;
	if (getrandom(&segment_id, sizeof(segment_id), 0) != sizeof(segment_id)) {
		ret = ivnet_fail(err, errno, "getrandom: %s", strerror(errno));
		goto err_unmap;
	}
	ivnet_layout_format(r->base, &r->layout, o->name, segment_id);
	return 0;

err_unmap:
	munmap(r->base, r->size);
	r->base = NULL;
err_close:
	close(r->fd);
	r->fd = -1;
	return ret;
}

/* How long a reader gives the broker to put back a header a peer rewrote
 * (it does every IVNETD_RESTORE_MS) before it refuses the region. */
#define HDR_RETRY_MS 1000
#define HDR_RETRY_STEP_MS 10

int ivnet_region_confirm(struct ivnet_region *r, uint32_t vectors, char err[IVNET_ERRLEN])
{
	const struct timespec step = {.tv_nsec = HDR_RETRY_STEP_MS * 1000000L};
	const char *why = NULL;
	int ret, waited;

	for (waited = 0;; waited += HDR_RETRY_STEP_MS) {
		ret = ivnet_layout_from_header(r->base, r->size, vectors, &r->layout, &why);
		if (!ret || waited >= HDR_RETRY_MS)
			break;
		nanosleep(&step, NULL);
	}
	if (ret)
		return ivnet_fail(err, -ret,
				  "region header rejected: bad %s (mapped %" PRIu64
				  " bytes, %u vectors from the broker)",
				  why, r->size, vectors);
	return 0;
}

int ivnet_region_map_fd(int fd, struct ivnet_region *r, char err[IVNET_ERRLEN])
{
	struct stat st;
	int ret;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (fstat(fd, &st) < 0)
		return ivnet_fail(err, errno, "fstat region fd: %s", strerror(errno));
	if (st.st_size < (off_t)sizeof(struct ivnet_region_hdr) ||
	    !ivnet_is_pow2_u64((uint64_t)st.st_size))
		return ivnet_fail(err, EPROTO, "region size %jd is not a power of two >= %zu",
				  (intmax_t)st.st_size, sizeof(struct ivnet_region_hdr));
	r->size = (uint64_t)st.st_size;
	ret = map_fd(fd, r->size, &r->base, err);
	if (ret)
		return ret;
	r->fd = fd;
	return 0;
}

int ivnet_region_layout_from(struct ivnet_region *r, const struct ivnet_region_hdr *h,
			     uint32_t vectors, char err[IVNET_ERRLEN])
{
	const char *why = NULL;
	int ret = ivnet_layout_from_header(h, r->size, vectors, &r->layout, &why);

	if (ret)
		return ivnet_fail(err, -ret,
				  "the broker's region header rejected: bad %s (mapped %" PRIu64
				  " bytes, %u vectors from the broker)",
				  why, r->size, vectors);
	return 0;
}

int ivnet_region_attach_fd(int fd, struct ivnet_region *r, char err[IVNET_ERRLEN])
{
	int ret = ivnet_region_map_fd(fd, r, err);

	if (ret)
		return ret;
	ret = ivnet_region_confirm(r, 0, err);
	if (ret) {
		munmap(r->base, r->size);
		r->base = NULL;
		r->fd = -1;
		return ret;
	}
	return 0;
}

int ivnet_region_open(enum ivnet_backing backing, const char *path, struct ivnet_region *r,
		      char err[IVNET_ERRLEN])
{
	int fd, ret;

	if (backing == IVNET_BACKING_SHM)
		fd = shm_open(path, O_RDWR, 0);
	else if (backing == IVNET_BACKING_FILE)
		fd = open(path, O_RDWR | O_CLOEXEC);
	else
		return ivnet_fail(err, EINVAL, "a memfd has no path to open");
	if (fd < 0)
		return ivnet_fail(err, errno, "%s %s: %s", backing_name(backing), path,
				  strerror(errno));
	ret = ivnet_region_attach_fd(fd, r, err);
	if (ret)
		close(fd);
	return ret;
}

void ivnet_region_close(struct ivnet_region *r)
{
	if (r->base)
		munmap(r->base, r->size);
	if (r->fd >= 0)
		close(r->fd);
	r->base = NULL;
	r->fd = -1;
}

int ivnet_region_regrow(struct ivnet_region *r, uint64_t *was, char err[IVNET_ERRLEN])
{
	struct stat st;

	if (fstat(r->fd, &st) < 0)
		return ivnet_fail(err, errno, "fstat region fd: %s", strerror(errno));
	*was = (uint64_t)st.st_size;
	if (*was >= r->size)
		return 0;
	if (ftruncate(r->fd, (off_t)r->size) < 0)
		return ivnet_fail(err, errno, "size back to %" PRIu64 " bytes: %s", r->size,
				  strerror(errno));
	return 1;
}

int ivnet_region_remap(struct ivnet_region *r, char err[IVNET_ERRLEN])
{
	void *p = mmap(r->base, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, r->fd, 0);

	if (p == MAP_FAILED)
		return ivnet_fail(err, errno, "map the region again: %s", strerror(errno));
	return 0;
}

static const char *peer_state_name(uint32_t s)
{
	switch (s) {
	case IVNET_PEER_ABSENT:
		return "absent";
	case IVNET_PEER_JOINED:
		return "joined";
	}
	return "invalid";
}

/* The shared table as it stands (a region opened by path, not as a peer:
 * there is no admin region to take the broker's word from). */
void ivnet_region_describe(const struct ivnet_region *r, FILE *out)
{
	const struct ivnet_layout *l = &r->layout;
	const struct ivnet_region_hdr *h = r->base;
	char name[IVNET_NAME_LEN];
	uint32_t id;

	memcpy(name, h->name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	fprintf(out,
		"segment \"%s\" id %016" PRIx64 " layout v%u size %" PRIu64 " used %" PRIu64 "\n"
		"peers %u vectors %u rings %u slots %u x %u B max-frame %u ring-stride %" PRIu64
		"\n",
		name, ivnet_load_relaxed(&h->segment_id), IVNET_LAYOUT_VERSION, l->region_size,
		l->used_size, l->max_peers, l->vectors, l->ring_count, l->slot_count, l->slot_size,
		l->max_frame, l->ring_stride);
	for (id = 0; id < l->max_peers; id++) {
		const struct ivnet_peer *p = ivnet_region_peer(r, id);
		uint32_t state = ivnet_load_acquire(&p->admin.state);
		const uint8_t *m = p->admin.mac;

		if (state == IVNET_PEER_ABSENT)
			continue;
		fprintf(out,
			"peer %u %s epoch %u mac %02x:%02x:%02x:%02x:%02x:%02x link %s/%u mtu %u\n",
			id, peer_state_name(state), ivnet_load_relaxed(&p->admin.epoch), m[0], m[1],
			m[2], m[3], m[4], m[5],
			ivnet_load_relaxed(&p->link.state) == IVNET_LINK_UP ? "up" : "down",
			ivnet_load_relaxed(&p->link.epoch), ivnet_load_relaxed(&p->link.mtu));
	}
}

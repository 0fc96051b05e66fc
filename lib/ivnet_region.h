/* SPDX-License-Identifier: MIT */
/*
 * ivnet_region.h - creating, formatting, mapping and inspecting a region
 * from userspace (the broker, endpoints, tools and tests).
 *
 * Backings:
 *   IVNET_BACKING_SHM    POSIX shm object, path is its name ("/ivnet-seg0");
 *                        created exclusively (an existing one is an error)
 *   IVNET_BACKING_MEMFD  anonymous memfd (optionally MFD_HUGETLB); path names
 *                        it. Its size is sealed: the safest backing, since
 *                        every peer holds the fd
 *   IVNET_BACKING_FILE   a file, e.g. in a hugetlbfs mount; path is the file
 *
 * SHM and FILE backings cannot be sealed: any process holding the fd can
 * truncate it and make every mapping of the lost range fault (a QEMU whose
 * BAR shrinks dies). ivnetd refuses them unless told every peer is trusted,
 * and then puts a truncated region back (ivnet_region_regrow/remap).
 *
 * In-tree only (ivnetd, tools, tests link it statically); not part of the
 * installed library. Functions follow its error convention: 0 or a negative
 * errno and, on failure, a one-line reason in err (when err is not NULL).
 */
#ifndef IVNET_REGION_H
#define IVNET_REGION_H

#include <stdio.h>

#include <ivnet/ivnet.h>

#include "ivnet_peer.h"

enum ivnet_backing {
	IVNET_BACKING_SHM,
	IVNET_BACKING_MEMFD,
	IVNET_BACKING_FILE,
};

struct ivnet_region_opts {
	enum ivnet_backing backing;
	const char *path;
	int hugepages;	  /* MEMFD only: back it with hugetlb pages */
	int numa_node;	  /* bind the pages to this node before first touch; -1: no */
	const char *name; /* segment name written into the header */
	struct ivnet_layout_params params;
};

struct ivnet_region {
	void *base;
	uint64_t size; /* bytes mapped */
	int fd;
	struct ivnet_layout layout;
};

/* Create the backing, size it, map it, bind it and format it. */
int ivnet_region_create(const struct ivnet_region_opts *o, struct ivnet_region *r,
			char err[IVNET_ERRLEN]);

/* Map a formatted region from an fd (as received from the broker) and
 * validate its header. The fd is kept (and closed by ivnet_region_close). */
int ivnet_region_attach_fd(int fd, struct ivnet_region *r, char err[IVNET_ERRLEN]);

/*
 * Validate the header again (into r->layout) against what we know without
 * it: the size we mapped and, if not 0, the vectors we were sent. A header
 * that disagrees is read again for up to a second, the broker restoring
 * what a peer rewrote, before it is refused naming the field. attach_fd
 * calls it with vectors 0.
 */
int ivnet_region_confirm(struct ivnet_region *r, uint32_t vectors, char err[IVNET_ERRLEN]);

/* Map a region from an fd without reading its header (an endpoint takes
 * the layout from its admin region's copy); the fd is kept. */
int ivnet_region_map_fd(int fd, struct ivnet_region *r, char err[IVNET_ERRLEN]);

/* r->layout from a header the caller trusts (the broker's copy), against
 * the mapped size and the vectors the broker sent. */
int ivnet_region_layout_from(struct ivnet_region *r, const struct ivnet_region_hdr *h,
			     uint32_t vectors, char err[IVNET_ERRLEN]);

/* Open a formatted POSIX shm object or file by path and attach it. */
int ivnet_region_open(enum ivnet_backing backing, const char *path, struct ivnet_region *r,
		      char err[IVNET_ERRLEN]);

void ivnet_region_close(struct ivnet_region *r);

/* If the backing shrank below r->size (a peer truncated it), grow it back:
 * the lost pages come back as zeros. Returns 1 with the size it had in *was,
 * 0 if it is whole, or a negative errno. */
int ivnet_region_regrow(struct ivnet_region *r, uint64_t *was, char err[IVNET_ERRLEN]);

/* Map the backing again at r->base, over whatever is mapped there now. */
int ivnet_region_remap(struct ivnet_region *r, char err[IVNET_ERRLEN]);

static inline struct ivnet_peer *ivnet_region_peer(const struct ivnet_region *r, uint32_t id)
{
	return ivnet_peer_entry(r->base, &r->layout, id);
}

static inline struct ivnet_region_hdr *ivnet_region_hdr(const struct ivnet_region *r)
{
	return (struct ivnet_region_hdr *)r->base;
}

/* Human-readable summary of the layout and the peer table. */
void ivnet_region_describe(const struct ivnet_region *r, FILE *out);

/* In-tree only (not in the shared library): the region an endpoint joined,
 * for tools and tests that look at the peer table or the rings directly. */
const struct ivnet_region *ivnet_ep_region(const struct ivnet_ep *ep);

/* The segment's header as the broker formatted it (from the endpoint's
 * admin region): what to read instead of the shared header. */
const struct ivnet_region_hdr *ivnet_ep_header(const struct ivnet_ep *ep);

#endif /* IVNET_REGION_H */

/* SPDX-License-Identifier: MIT */
/*
 * ivnet_endpoint.h - libivnet: join a segment from userspace, exactly as
 * QEMU does, and exchange Ethernet frames with its peers.
 *
 *   struct ivnet_ep *ep;
 *   char err[IVNET_ERRLEN];
 *   if (ivnet_ep_open("/tmp/ivshmem_socket", &ep, err)) ... err says why
 *   ivnet_ep_send_burst(ep, frames, n);       // by destination MAC
 *   n = ivnet_ep_recv_burst(ep, bufs, src, 32, timeout_ms);
 *   ivnet_ep_close(ep);
 *
 * Destinations: a frame goes to the peer whose MAC is its destination; a
 * broadcast or multicast frame to every peer whose link is up; a frame for
 * an unknown MAC to the segment's uplink (a peer the broker flagged
 * IVNET_PEER_F_UPLINK, such as ivnet-vswitch), else it is dropped and
 * counted. A frame whose offload metadata its destination does not accept
 * (ivnet_ep_peer.features) is dropped and counted. Receiving waits according to the
 * mode: busy-poll (no syscalls), block (sleep on the rx doorbell after
 * arming the rings), or adaptive (poll for spin_us, then block).
 *
 * An endpoint is single-threaded: one thread calls all of its functions.
 */
#ifndef IVNET_ENDPOINT_H
#define IVNET_ENDPOINT_H

#include "ivnet_region.h"
#include "ivnet_ring.h"

struct ivnet_ep;

enum ivnet_ep_wait {
	IVNET_WAIT_BUSY,
	IVNET_WAIT_BLOCK,
	IVNET_WAIT_ADAPTIVE,
};

struct ivnet_ep_stats {
	uint64_t tx_frames;
	uint64_t tx_bytes;
	uint64_t tx_full;    /* dropped: the peer's ring was full */
	uint64_t tx_unknown; /* dropped: no peer has that MAC, or it is down */
	uint64_t tx_invalid; /* dropped: shorter than an Ethernet header */
	uint64_t tx_offload; /* dropped: offloads the destination does not accept */
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t doorbells;   /* doorbells rung (each one a VM exit in a guest) */
	uint64_t wakeups;     /* times a blocked receive was woken */
	uint64_t peer_resets; /* a peer restarted: its stale frames dropped */
	uint64_t rx_errors;   /* validation errors in rings towards us */
	uint64_t tx_errors;   /* validation errors in rings from us */
};

struct ivnet_ep_peer {
	uint32_t id;
	uint8_t mac[6];
	uint32_t epoch;	     /* the broker's join epoch */
	uint32_t link_epoch; /* the peer's own attach epoch */
	int up;		     /* joined, attached, and we hold its doorbells */
	int uplink;	     /* the broker made it an uplink: unknown unicast goes there */
	uint32_t features;   /* IVNET_F_*: the offloads it accepts */
	uint32_t mtu;	     /* the largest L3 packet it accepts */
};

/*
 * What we tell peers about ourselves when our link comes up. features is
 * what we accept on receive: a peer that is told 0 finishes checksums and
 * segments super-packets before sending to us (the guest driver does so in
 * software), which a switch forwarding to ports without offloads needs.
 */
struct ivnet_ep_opts {
	uint32_t features; /* IVNET_F_* */
	uint32_t mtu;	   /* 0: the largest the region carries */
};

/* Connect, read the setup, map and validate the region, attach the rings
 * and bring our link up, advertising every offload (IVNET_F_ALL) and the
 * region's largest MTU. Returns 0 or a negative errno (err says why). */
int ivnet_ep_open(const char *socket_path, struct ivnet_ep **out, char err[IVNET_ERRLEN]);

/* The same, advertising opts (-EINVAL for unknown features, or an MTU
 * below 68 or above what the region carries). */
int ivnet_ep_open_opts(const char *socket_path, const struct ivnet_ep_opts *opts,
		       struct ivnet_ep **out, char err[IVNET_ERRLEN]);

/* Link down, leave (the broker sees the socket close), free. */
void ivnet_ep_close(struct ivnet_ep *ep);

uint32_t ivnet_ep_id(const struct ivnet_ep *ep);
const uint8_t *ivnet_ep_mac(const struct ivnet_ep *ep);
const struct ivnet_region *ivnet_ep_region(const struct ivnet_ep *ep);
void ivnet_ep_set_wait(struct ivnet_ep *ep, enum ivnet_ep_wait mode, unsigned int spin_us);

/*
 * Take in the broker's messages (peers joining and leaving) without
 * blocking. Returns 0, or -EPIPE once the broker has gone away.
 */
int ivnet_ep_update(struct ivnet_ep *ep);

/* The peers other than us; returns how many were written (at most n). */
unsigned int ivnet_ep_peers(struct ivnet_ep *ep, struct ivnet_ep_peer *out, unsigned int n);

/* Wait up to timeout_ms (-1: forever) for peer `id` to be up. 0 or -ETIMEDOUT. */
int ivnet_ep_wait_peer(struct ivnet_ep *ep, uint32_t id, int timeout_ms);

/*
 * Queue frames, publish each touched ring once, ring doorbells where asked.
 * Returns how many frames from the front were taken: sent, or dropped and
 * counted (unknown destination, invalid length; a broadcast that some full
 * ring missed). It stops at the first unicast frame whose peer's ring is
 * full: that frame and the ones after it are still the caller's to retry,
 * so frames to one peer never overtake each other.
 */
unsigned int ivnet_ep_send_burst(struct ivnet_ep *ep, const struct ivnet_frame *f, unsigned int n);

/*
 * Receive up to n frames from any peer into b[] (src[i], if src is not
 * NULL, is the sender's id). Waits up to timeout_ms (0: not at all; -1:
 * forever) for the first. Returns the count, or -EPIPE if the broker left.
 */
int ivnet_ep_recv_burst(struct ivnet_ep *ep, struct ivnet_rx_buf *b, uint32_t *src, unsigned int n,
			int timeout_ms);

/*
 * Copy-free receive: up to n frames in place in shared memory (f[i].data
 * points into the region), with the same waiting as ivnet_ep_recv_burst().
 * The frames stay readable, and their slots the sender's loss, until
 * ivnet_ep_recv_done() or the next receive call, which hands them back.
 * Their bounds are validated and cannot change, but their bytes are the
 * sender's memory: a hostile peer may still rewrite them while they are
 * read, so parse each field once (or copy out what must not change).
 */
int ivnet_ep_recv_zc(struct ivnet_ep *ep, struct ivnet_rx_frame *f, uint32_t *src, unsigned int n,
		     int timeout_ms);
void ivnet_ep_recv_done(struct ivnet_ep *ep);

/* A copy of the counters (ring validation errors summed in). */
void ivnet_ep_stats(struct ivnet_ep *ep, struct ivnet_ep_stats *out);

#endif /* IVNET_ENDPOINT_H */

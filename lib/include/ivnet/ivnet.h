/* SPDX-License-Identifier: MIT */
/*
 * ivnet.h - libivnet: join an ivnet segment from userspace, exactly as a
 * QEMU guest's ivshmem device does, and exchange Ethernet frames with its
 * peers (guests running ivnet.ko, ivnet-vswitch, other libivnet programs).
 *
 * Build against the installed library with
 *
 *   cc prog.c $(pkg-config --cflags --libs libivnet)
 *
 * A peer that answers every frame it gets by sending it back:
 *
 *   #include <ivnet/ivnet.h>
 *
 *   struct ivnet_ep *ep;
 *   char err[IVNET_ERRLEN];
 *   uint8_t buf[IVNET_FRAME_MAX];
 *   struct ivnet_rx_buf b = {.data = buf, .cap = sizeof(buf)};
 *   int n;
 *
 *   n = ivnet_ep_open("/run/ivnet/seg0.sock", &ep, err);
 *   if (n < 0) {
 *           fprintf(stderr, "ivnet: %s\n", err);
 *           return 1;
 *   }
 *   while ((n = ivnet_ep_recv_burst(ep, &b, NULL, 1, -1)) >= 0) {
 *           struct ivnet_frame f = {.data = buf, .len = b.len, .meta = b.meta};
 *
 *           if (n == 1) {
 *                   memcpy(buf, buf + 6, 6); // to the sender
 *                   memcpy(buf + 6, ivnet_ep_mac(ep), 6);
 *                   ivnet_ep_send_burst(ep, &f, 1);
 *           }
 *   }
 *   ivnet_ep_close(ep);
 *
 * Destinations: a frame goes to the peer whose MAC is its destination; a
 * broadcast or multicast frame to every peer whose link is up; a frame for
 * an unknown MAC to the segment's uplink (a peer the broker flagged
 * IVNET_PEER_F_UPLINK, such as ivnet-vswitch), else it is dropped and
 * counted. A frame whose offload metadata its destination does not accept
 * (ivnet_ep_peer.features) is dropped and counted.
 *
 * Errors: a function that can fail returns a negative errno (-EPIPE, say,
 * once the broker has gone away). Those that set an endpoint up also take
 * char err[IVNET_ERRLEN] (NULL allowed) and write a one-line reason there.
 *
 * Threads: an endpoint is single-threaded, one thread calls all of its
 * functions; separate endpoints are independent.
 */
#ifndef IVNET_IVNET_H
#define IVNET_IVNET_H

#include "ivnet_frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the error buffers the functions below fill in. */
#define IVNET_ERRLEN 160

/* An endpoint: our slot in one segment. */
struct ivnet_ep;

/* How receiving waits for the first frame (ivnet_ep_set_wait()). */
enum ivnet_ep_wait {
	IVNET_WAIT_BUSY,     /* poll shared memory: no system calls */
	IVNET_WAIT_BLOCK,    /* arm the rings and sleep on the rx doorbell */
	IVNET_WAIT_ADAPTIVE, /* poll for spin_us, then block (the default) */
};

/* Counters since the endpoint opened (ivnet_ep_stats()). */
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

/* Another member of the segment, as the peer table shows it. */
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

/*
 * Connect to the broker's socket, read the setup, map and validate the
 * region, attach the rings and bring our link up, advertising every offload
 * (IVNET_F_ALL) and the region's largest MTU. Returns 0 and *out, or a
 * negative errno (err says why).
 */
int ivnet_ep_open(const char *socket_path, struct ivnet_ep **out, char err[IVNET_ERRLEN]);

/* The same, advertising opts: -EINVAL for unknown features, or an MTU below
 * IVNET_MTU_MIN or above what the region carries. */
int ivnet_ep_open_opts(const char *socket_path, const struct ivnet_ep_opts *opts,
		       struct ivnet_ep **out, char err[IVNET_ERRLEN]);

/* Link down, leave (the broker sees the socket close), free. NULL is a no-op. */
void ivnet_ep_close(struct ivnet_ep *ep);

/* Our slot in the peer table (the id peers see as a frame's source). */
uint32_t ivnet_ep_id(const struct ivnet_ep *ep);

/* The MAC the broker gave us (6 bytes, valid until ivnet_ep_close()). */
const uint8_t *ivnet_ep_mac(const struct ivnet_ep *ep);

/* How receive calls wait (enum ivnet_ep_wait); spin_us for ADAPTIVE. */
void ivnet_ep_set_wait(struct ivnet_ep *ep, enum ivnet_ep_wait mode, unsigned int spin_us);

/*
 * Take in the broker's messages (peers joining and leaving) without
 * blocking. Returns 0, or -EPIPE once the broker has gone away. Sending and
 * receiving do this by themselves whenever the peer table moved.
 */
int ivnet_ep_update(struct ivnet_ep *ep);

/* The peers other than us, into out[]; returns how many (at most n). */
unsigned int ivnet_ep_peers(struct ivnet_ep *ep, struct ivnet_ep_peer *out, unsigned int n);

/* Wait up to timeout_ms (-1: forever) for peer `id` to be up. Returns 0,
 * -ETIMEDOUT, -EINVAL (no such slot) or -EPIPE (the broker left). */
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
 * Receive up to n frames from any peer, copied into b[] (each b[i].cap
 * bytes; a larger frame is dropped and counted). src[i], if src is not
 * NULL, is the sender's id. Waits up to timeout_ms (0: not at all; -1:
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

/* Hand the frames of the last ivnet_ep_recv_zc() back to their senders. */
void ivnet_ep_recv_done(struct ivnet_ep *ep);

/* A copy of the counters (ring validation errors summed in). */
void ivnet_ep_stats(struct ivnet_ep *ep, struct ivnet_ep_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* IVNET_IVNET_H */

/* SPDX-License-Identifier: MIT */
/*
 * ivnet_shm.h - the ivnet shared-memory ABI.
 *
 * This is the one definition of everything that lives in an ivnet region:
 * the guest driver (kernel), the broker and userspace endpoints include it
 * unchanged. All fields are fixed-width little-endian (every supported host
 * and guest is x86_64 or another little-endian 64-bit machine); every offset
 * is pinned by a static assertion at the end of this file. Changing any of
 * them means bumping IVNET_LAYOUT_VERSION.
 *
 * Region (its size is a power of two: QEMU's ivshmem BAR2 must be one):
 *
 *   0x0000              struct ivnet_region_hdr   (one 4 KiB page)
 *   peer_table_off      struct ivnet_peer[max_peers] (page aligned)
 *   rings_off           ring 0, ring 1, ... ring_count-1, ring_stride apart
 *   ...                 unused tail of the region
 *
 * There is one single-producer/single-consumer ring for every ordered pair of
 * peers (from -> to, from != to): ring_count = max_peers * (max_peers - 1);
 * ivnet_ring_index() in ivnet_layout.h gives a pair's ring number. A ring is:
 *
 *   +0                  struct ivnet_ring_ctrl  (producer, consumer and wake
 *                                                lines, each 128 bytes apart)
 *   +ring_desc_off      struct ivnet_desc[slot_count]
 *   +ring_slots_off     slot_count slots of slot_size bytes
 *
 * Frames: a frame of len bytes occupies k = ceil(len / slot_size) consecutive
 * slots that never wrap around the end of the ring, so every frame is one
 * contiguous run of bytes (a copy-free receive hands out one pointer). Only
 * the descriptor of a frame's first slot is meaningful. When a frame does not
 * fit before the end, the producer writes a PAD descriptor, which tells the
 * consumer to skip to slot 0. Frames go up to IVNET_FRAME_MAX bytes: a 64 KiB
 * TCP super-packet crosses whole, with its offload metadata.
 *
 * Indices (head, tail) are free-running 32-bit counters in slots; a slot's
 * position is index & (slot_count - 1). The producer owns head, the consumer
 * owns tail. Each side keeps its own index privately and only publishes it;
 * the other side's index is validated on every read (see ivnet_ring.h).
 *
 * Nothing read from a region is trusted: readers validate the header against
 * a layout they compute themselves (ivnet_layout_from_header) and every
 * index, length and offset they read afterwards.
 */
#ifndef IVNET_SHM_H
#define IVNET_SHM_H

#include "ivnet_compat.h"

#define IVNET_MAGIC 0x4d485354454e5649ULL /* "IVNETSHM" as little-endian bytes */
#define IVNET_LAYOUT_VERSION 3u

#define IVNET_CACHELINE 64u
#define IVNET_PAGE 4096u

/* Peers per segment. Rings grow with the square of it. */
#define IVNET_PEERS_MIN 2u
#define IVNET_PEERS_MAX 64u

/*
 * Largest frame a ring can carry: a 64 KiB GSO super-packet plus its link
 * headers. A region may declare a smaller max_frame, never a larger one.
 */
#define IVNET_FRAME_MAX (65536u + 128u)
#define IVNET_FRAME_MIN 14u /* an Ethernet header */
#define IVNET_MTU_MIN 68u   /* the least an IPv4 host must take (RFC 791) */
#define IVNET_LINK_HLEN 18u /* an Ethernet header and one VLAN tag */
/* The least max_frame a region may declare: a reader derives its MTU as
 * max_frame less the link headers, which must leave the smallest MTU. */
#define IVNET_REGION_FRAME_MIN (IVNET_LINK_HLEN + IVNET_MTU_MIN)

#define IVNET_SLOT_SIZE_MIN 64u
#define IVNET_SLOT_SIZE_MAX 65536u
#define IVNET_SLOT_SIZE_DEFAULT 2048u
#define IVNET_SLOTS_MAX (1u << 20)
#define IVNET_SLOTS_DEFAULT_CAP 1024u

/*
 * Doorbell vectors (ivshmem-doorbell "vectors=N", N >= IVNET_VECTORS_MIN).
 * The broker signals CONTROL on every peer-table change; a producer signals
 * the consumer's RX vector when the consumer asked for a wake-up.
 */
#define IVNET_VEC_CONTROL 0u
#define IVNET_VEC_RX 1u
#define IVNET_VECTORS_MIN 2u
#define IVNET_VECTORS_MAX 64u

/* ---------------------------------------------------------------- header */

/* ivnet_region_hdr.state */
#define IVNET_REGION_FORMATTING 0u
#define IVNET_REGION_READY 0x52454459u /* "YDER": written last, with release */

#define IVNET_NAME_LEN 32u

/*
 * Written by the broker only. state is stored last, with release, after the
 * rest of the header, the peer table and every ring control block have been
 * initialised; a reader loads it with acquire before anything else.
 */
struct ivnet_region_hdr {
	uint64_t magic;		  /* IVNET_MAGIC */
	uint32_t version;	  /* IVNET_LAYOUT_VERSION */
	uint32_t hdr_size;	  /* sizeof(struct ivnet_region_hdr) */
	uint64_t region_size;	  /* bytes, a power of two */
	uint32_t max_peers;	  /* peer ids are 0 .. max_peers-1 */
	uint32_t vectors;	  /* doorbell vectors per peer */
	uint32_t slot_count;	  /* slots per ring, a power of two */
	uint32_t slot_size;	  /* bytes per slot, a power of two */
	uint32_t max_frame;	  /* largest frame in bytes */
	uint32_t peer_entry_size; /* sizeof(struct ivnet_peer) */
	uint64_t peer_table_off;  /* from the region start */
	uint64_t rings_off;	  /* from the region start */
	uint64_t ring_stride;	  /* bytes from one ring to the next */
	uint32_t ring_count;	  /* max_peers * (max_peers - 1) */
	uint32_t ring_desc_off;	  /* descriptors, from the ring start */
	uint32_t ring_slots_off;  /* slots, from the ring start */
	uint32_t state;		  /* IVNET_REGION_* */
	uint64_t segment_id;	  /* random, new at every format */
	uint32_t table_gen;	  /* bumped (release) after each peer-table change */
	uint32_t reserved0;
	char name[IVNET_NAME_LEN]; /* segment name, NUL padded */
	uint8_t reserved[256 - 0x88];
};

/* ------------------------------------------------------------ peer table */

/* ivnet_peer_admin.state, written by the broker */
#define IVNET_PEER_ABSENT 0u
#define IVNET_PEER_JOINED 1u

/* ivnet_peer_admin.flags */
#define IVNET_PEER_F_UPLINK (1u << 0) /* a switch: unknown unicast may go here */

/* ivnet_peer_link.state, written by the peer itself */
#define IVNET_LINK_DOWN 0u
#define IVNET_LINK_UP 1u

/* ivnet_peer_link.features: what the peer accepts on receive */
#define IVNET_F_CSUM (1u << 0) /* frames with IVNET_DESC_F_CSUM_PARTIAL */
#define IVNET_F_GSO (1u << 1)  /* frames with gso_type != IVNET_GSO_NONE */
#define IVNET_F_ALL (IVNET_F_CSUM | IVNET_F_GSO)

/*
 * Peers are known by two numbers. The slot (0 .. max_peers-1) is the entry
 * in this table; it picks the rings and the MAC and is reused by the next
 * peer when one leaves. The ivshmem id is what the QEMU protocol and the
 * device use (IVPosition, doorbell destinations); like ivshmem-server, the
 * broker never hands a recently used one out again, since QEMU (7.2) keeps
 * per-id state that breaks on quick reuse. admin.ivpos maps one to the other:
 * a peer finds its own slot as the joined entry whose ivpos is its
 * IVPosition.
 *
 * The broker's half of a peer entry. It writes mac and flags, then epoch,
 * then state (release); a reader loads state (acquire), then the rest, and
 * treats the entry as changed whenever epoch differs from what it saw.
 */
struct ivnet_peer_admin {
	uint32_t state; /* IVNET_PEER_* */
	uint32_t epoch; /* bumped at every join of this slot; never 0 once joined */
	uint8_t mac[6]; /* assigned by the broker, unicast */
	uint16_t flags; /* IVNET_PEER_F_* */
	uint32_t ivpos; /* the peer's ivshmem id (its IVPosition): doorbells go there */
	uint32_t reserved[11];
};

/*
 * The peer's own half. A peer that attaches its rings bumps epoch, records
 * the admin epoch it attached under in join_epoch, then stores state = UP
 * (release). Others use it as the carrier: peer p is reachable while
 * admin.state == JOINED, link.state == UP and link.join_epoch == admin.epoch.
 * A change of link.epoch means p started afresh: drop what is queued to it.
 */
struct ivnet_peer_link {
	uint32_t state;	     /* IVNET_LINK_* */
	uint32_t epoch;	     /* bumped at every attach */
	uint32_t join_epoch; /* admin.epoch at the time of the attach */
	uint32_t mtu;	     /* largest L3 packet the peer accepts */
	uint32_t features;   /* IVNET_F_* */
	uint32_t reserved[11];
};

struct ivnet_peer {
	struct ivnet_peer_admin admin; /* cache line 0: broker writes */
	struct ivnet_peer_link link;   /* cache line 1: the peer writes */
};

/* ---------------------------------------------------------- admin region */

/*
 * The admin region: the broker's word, private to one peer.
 *
 * Every peer maps the segment's region read/write, so nothing another peer
 * may write there can be trusted: not the header, not the broker's half of
 * the peer table (MACs, the uplink flag, ivpos). The admin region is where
 * the broker vouches for them. The broker serves it on a second ivshmem
 * socket beside the segment's (by default the segment socket's path with
 * ".admin" appended); each connection gets a region of its own (a sealed
 * memfd that only the broker and that one peer map), so a peer can spoil
 * only its own copy. A guest sees it as a second ivshmem-doorbell device,
 * libivnet as a second connection.
 *
 *   0x0000              struct ivnet_admin_hdr (one 4 KiB page), holding a
 *                       copy of the segment's header as the broker formatted it
 *   IVNET_ADMIN_PEERS_OFF struct ivnet_peer_admin[segment.max_peers]: the
 *                       broker's half of every peer entry
 *
 * The broker writes it as a sequence lock: seq odd (relaxed), a release
 * fence, the copies, then seq even (release). A reader loads seq (acquire),
 * retries while it is odd, copies what it needs, issues an acquire fence
 * and reloads seq: a changed seq means a torn copy, to be retried (a bounded
 * number of times: the peer itself could keep its own copy moving).
 * abi/ivnet_admin.h implements both sides.
 *
 * A guest pairs its admin device with the segment device whose IVPosition
 * is self_ivpos (segment_id breaks a tie between segments). Readers then take
 * from here, and only from here, the geometry and each entry's state, epoch,
 * mac, flags and ivpos; the segment's own header is not needed again (a
 * peer rewriting it changes nothing). The segment's table keeps
 * the broker's half as a hint for older readers; the broker re-asserts it.
 */
#define IVNET_ADMIN_MAGIC 0x4d444154454e5649ULL /* "IVNETADM" as little-endian bytes */
#define IVNET_ADMIN_SIZE 16384u			/* a power of two, like every BAR2 */
#define IVNET_ADMIN_PEERS_OFF 4096u
#define IVNET_ADMIN_SUFFIX ".admin"
#define IVNET_ADMIN_NO_IVPOS 0xffffffffu

struct ivnet_admin_hdr {
	uint64_t magic;	      /* IVNET_ADMIN_MAGIC */
	uint32_t version;     /* IVNET_LAYOUT_VERSION */
	uint32_t hdr_size;    /* sizeof(struct ivnet_admin_hdr) */
	uint64_t region_size; /* IVNET_ADMIN_SIZE */
	uint32_t state;	      /* IVNET_REGION_READY (release) once the first copy is complete */
	uint32_t seq;	      /* sequence lock: odd while the broker writes */
	uint64_t peers_off;   /* IVNET_ADMIN_PEERS_OFF */
	/*
	 * The ivshmem id the broker gave, on the segment's socket, to the same
	 * process (SO_PEERCRED pid) that holds this admin connection, or
	 * IVNET_ADMIN_NO_IVPOS while that process has not joined. A guest pairs
	 * its admin device with the segment device whose IVPosition this is.
	 */
	uint32_t self_ivpos;
	uint8_t reserved0[20];
	struct ivnet_region_hdr segment; /* the segment's header as formatted */
	uint8_t reserved[IVNET_PAGE - 0x40 - sizeof(struct ivnet_region_hdr)];
};

/* ------------------------------------------------------------------ rings */

/*
 * Control block at the start of every ring. Each line has exactly one writer
 * in normal operation, and the three are 128 bytes apart so that neither a
 * cache line nor the adjacent-line prefetcher's pair is shared between the
 * producer's and the consumer's hot data.
 */
struct ivnet_ring_prod {
	uint32_t head; /* producer: next slot it will fill; published with release */
	/*
	 * producer: head when its current incarnation attached, written before
	 * it brings its link up (whose release store publishes it). A consumer
	 * that sees a new link epoch drops the frames before start (left by the
	 * previous incarnation) and keeps those after it (already sent by the
	 * new one). Since layout v3.
	 */
	uint32_t start;
	uint32_t reserved[30];
};

struct ivnet_ring_cons {
	uint32_t tail; /* consumer: next slot it will read; published with release */
	uint32_t reserved[31];
};

/*
 * Notification suppression. The consumer sets armed = 1 before it sleeps,
 * then issues a full barrier and re-checks head. The producer, after
 * publishing head, issues a full barrier and reads armed: only when it is set
 * does it clear it and ring the consumer's doorbell. Either the consumer sees
 * the new head or the producer sees armed; a wake-up is never lost, and there
 * is one doorbell per sleep, not one per frame.
 */
struct ivnet_ring_wake {
	uint32_t armed;
	uint32_t reserved[31];
};

struct ivnet_ring_ctrl {
	struct ivnet_ring_prod prod;
	struct ivnet_ring_cons cons;
	struct ivnet_ring_wake wake;
	uint8_t reserved[128];
};

/* ivnet_desc.flags */
#define IVNET_DESC_F_PAD (1u << 0)	    /* skip to slot 0; no frame here */
#define IVNET_DESC_F_CSUM_PARTIAL (1u << 1) /* csum_start/offset valid, sum not done */
#define IVNET_DESC_F_CSUM_VALID (1u << 2)   /* the sender vouches for the checksums */
#define IVNET_DESC_F_KNOWN (IVNET_DESC_F_PAD | IVNET_DESC_F_CSUM_PARTIAL | IVNET_DESC_F_CSUM_VALID)

/* ivnet_desc.gso_type: the values of virtio_net_hdr, so drivers map 1:1 */
#define IVNET_GSO_NONE 0u
#define IVNET_GSO_TCPV4 1u
#define IVNET_GSO_UDP 3u
#define IVNET_GSO_TCPV6 4u
#define IVNET_GSO_UDP_L4 5u
#define IVNET_GSO_ECN 0x80u

/*
 * The smallest gso_size a receiver accepts: Linux's TCP_MIN_GSO_SIZE, the
 * least a Linux TCP sender puts in a segment (its 48-byte minimum MSS less
 * 40 bytes of options), and the floor virtio_net applies. Anything smaller
 * only multiplies the segments a receiver that has to segment the frame
 * makes (at gso_size 1, a 64 KiB frame is 65536 of them).
 */
#define IVNET_GSO_MIN_SIZE 8u

/*
 * One per slot; only the first slot of a frame has a meaningful descriptor.
 * The offload fields follow virtio_net_hdr: csum_start is from the start of
 * the frame, csum_offset from csum_start, hdr_len is the length of all
 * headers (a hint), gso_size the segment payload size (MSS).
 */
struct ivnet_desc {
	uint32_t len;	  /* frame length in bytes; 0 for PAD */
	uint16_t flags;	  /* IVNET_DESC_F_* */
	uint8_t gso_type; /* IVNET_GSO_* */
	uint8_t reserved;
	uint16_t gso_size;
	uint16_t hdr_len;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* ----------------------------------------------------- pinned layout */

#define IVNET_ASSERT_OFF(type, field, off) \
	_Static_assert(offsetof(struct type, field) == (off), #type "." #field)

IVNET_ASSERT_OFF(ivnet_region_hdr, magic, 0x00);
IVNET_ASSERT_OFF(ivnet_region_hdr, version, 0x08);
IVNET_ASSERT_OFF(ivnet_region_hdr, hdr_size, 0x0c);
IVNET_ASSERT_OFF(ivnet_region_hdr, region_size, 0x10);
IVNET_ASSERT_OFF(ivnet_region_hdr, max_peers, 0x18);
IVNET_ASSERT_OFF(ivnet_region_hdr, vectors, 0x1c);
IVNET_ASSERT_OFF(ivnet_region_hdr, slot_count, 0x20);
IVNET_ASSERT_OFF(ivnet_region_hdr, slot_size, 0x24);
IVNET_ASSERT_OFF(ivnet_region_hdr, max_frame, 0x28);
IVNET_ASSERT_OFF(ivnet_region_hdr, peer_entry_size, 0x2c);
IVNET_ASSERT_OFF(ivnet_region_hdr, peer_table_off, 0x30);
IVNET_ASSERT_OFF(ivnet_region_hdr, rings_off, 0x38);
IVNET_ASSERT_OFF(ivnet_region_hdr, ring_stride, 0x40);
IVNET_ASSERT_OFF(ivnet_region_hdr, ring_count, 0x48);
IVNET_ASSERT_OFF(ivnet_region_hdr, ring_desc_off, 0x4c);
IVNET_ASSERT_OFF(ivnet_region_hdr, ring_slots_off, 0x50);
IVNET_ASSERT_OFF(ivnet_region_hdr, state, 0x54);
IVNET_ASSERT_OFF(ivnet_region_hdr, segment_id, 0x58);
IVNET_ASSERT_OFF(ivnet_region_hdr, table_gen, 0x60);
IVNET_ASSERT_OFF(ivnet_region_hdr, reserved0, 0x64);
IVNET_ASSERT_OFF(ivnet_region_hdr, name, 0x68);
IVNET_ASSERT_OFF(ivnet_region_hdr, reserved, 0x88);
_Static_assert(sizeof(struct ivnet_region_hdr) == 256, "region header size");

IVNET_ASSERT_OFF(ivnet_peer_admin, state, 0x00);
IVNET_ASSERT_OFF(ivnet_peer_admin, epoch, 0x04);
IVNET_ASSERT_OFF(ivnet_peer_admin, mac, 0x08);
IVNET_ASSERT_OFF(ivnet_peer_admin, flags, 0x0e);
IVNET_ASSERT_OFF(ivnet_peer_admin, ivpos, 0x10);
IVNET_ASSERT_OFF(ivnet_peer_admin, reserved, 0x14);
_Static_assert(sizeof(struct ivnet_peer_admin) == IVNET_CACHELINE, "peer admin line");

IVNET_ASSERT_OFF(ivnet_peer_link, state, 0x00);
IVNET_ASSERT_OFF(ivnet_peer_link, epoch, 0x04);
IVNET_ASSERT_OFF(ivnet_peer_link, join_epoch, 0x08);
IVNET_ASSERT_OFF(ivnet_peer_link, mtu, 0x0c);
IVNET_ASSERT_OFF(ivnet_peer_link, features, 0x10);
IVNET_ASSERT_OFF(ivnet_peer_link, reserved, 0x14);
_Static_assert(sizeof(struct ivnet_peer_link) == IVNET_CACHELINE, "peer link line");

IVNET_ASSERT_OFF(ivnet_peer, admin, 0x00);
IVNET_ASSERT_OFF(ivnet_peer, link, 0x40);
_Static_assert(sizeof(struct ivnet_peer) == 2 * IVNET_CACHELINE, "peer entry size");

IVNET_ASSERT_OFF(ivnet_ring_prod, head, 0x00);
IVNET_ASSERT_OFF(ivnet_ring_prod, start, 0x04);
IVNET_ASSERT_OFF(ivnet_ring_cons, tail, 0x00);
IVNET_ASSERT_OFF(ivnet_ring_wake, armed, 0x00);
IVNET_ASSERT_OFF(ivnet_ring_ctrl, prod, 0x000);
IVNET_ASSERT_OFF(ivnet_ring_ctrl, cons, 0x080);
IVNET_ASSERT_OFF(ivnet_ring_ctrl, wake, 0x100);
IVNET_ASSERT_OFF(ivnet_ring_ctrl, reserved, 0x180);
_Static_assert(sizeof(struct ivnet_ring_ctrl) == 512, "ring control block size");

IVNET_ASSERT_OFF(ivnet_desc, len, 0x0);
IVNET_ASSERT_OFF(ivnet_desc, flags, 0x4);
IVNET_ASSERT_OFF(ivnet_desc, gso_type, 0x6);
IVNET_ASSERT_OFF(ivnet_desc, reserved, 0x7);
IVNET_ASSERT_OFF(ivnet_desc, gso_size, 0x8);
IVNET_ASSERT_OFF(ivnet_desc, hdr_len, 0xa);
IVNET_ASSERT_OFF(ivnet_desc, csum_start, 0xc);
IVNET_ASSERT_OFF(ivnet_desc, csum_offset, 0xe);
_Static_assert(sizeof(struct ivnet_desc) == 16, "descriptor size");
_Static_assert(IVNET_CACHELINE % sizeof(struct ivnet_desc) == 0, "descriptors pack lines");

IVNET_ASSERT_OFF(ivnet_admin_hdr, magic, 0x00);
IVNET_ASSERT_OFF(ivnet_admin_hdr, version, 0x08);
IVNET_ASSERT_OFF(ivnet_admin_hdr, hdr_size, 0x0c);
IVNET_ASSERT_OFF(ivnet_admin_hdr, region_size, 0x10);
IVNET_ASSERT_OFF(ivnet_admin_hdr, state, 0x18);
IVNET_ASSERT_OFF(ivnet_admin_hdr, seq, 0x1c);
IVNET_ASSERT_OFF(ivnet_admin_hdr, peers_off, 0x20);
IVNET_ASSERT_OFF(ivnet_admin_hdr, self_ivpos, 0x28);
IVNET_ASSERT_OFF(ivnet_admin_hdr, segment, 0x40);
_Static_assert(sizeof(struct ivnet_admin_hdr) == IVNET_ADMIN_PEERS_OFF, "admin header page");
_Static_assert(IVNET_ADMIN_PEERS_OFF + IVNET_PEERS_MAX * sizeof(struct ivnet_peer_admin) <=
		       IVNET_ADMIN_SIZE,
	       "admin region holds every entry");

#endif /* IVNET_SHM_H */

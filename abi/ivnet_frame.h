/* SPDX-License-Identifier: MIT */
/*
 * ivnet_frame.h - a frame as the callers of the rings and of libivnet see
 * it: its bytes, its length and its offload metadata (the local, validated
 * form of a descriptor). No ring state: this is what an API may show
 * without exposing the ring's internals.
 */
#ifndef IVNET_FRAME_H
#define IVNET_FRAME_H

#include "ivnet_shm.h"

/* Offload metadata of a frame, the local form of a descriptor's fields. */
struct ivnet_meta {
	uint16_t flags; /* IVNET_DESC_F_CSUM_* */
	uint8_t gso_type;
	uint16_t gso_size;
	uint16_t hdr_len;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* A frame to send (burst copy API). */
struct ivnet_frame {
	const void *data;
	uint32_t len;
	struct ivnet_meta meta;
};

/*
 * A received frame, in place in shared memory: data stays valid until the
 * next ivnet_rx_release(). The producer may still scribble over those bytes
 * (a hostile peer can send any bytes anyway); their bounds cannot change.
 */
struct ivnet_rx_frame {
	const uint8_t *data;
	uint32_t len;
	struct ivnet_meta meta;
};

/* A buffer to receive into (burst copy API). */
struct ivnet_rx_buf {
	void *data;
	uint32_t cap;
	uint32_t len;
	struct ivnet_meta meta;
};

#endif /* IVNET_FRAME_H */

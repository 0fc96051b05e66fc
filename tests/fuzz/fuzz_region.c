// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a region whose header, peer table and first ring's
 * control block and descriptors come from the fuzzer. Validation must
 * refuse or accept without faulting; an accepted region's ring is then
 * consumed and produced into, and every frame handed out must lie inside
 * the ring's slots.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ivnet_layout.h"
#include "ivnet_ring.h"

#define SIZE (1u << 21)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void consume(struct ivnet_ring *rx, const struct ivnet_layout *l)
{
	const uint8_t *lo = rx->slots, *hi = lo + (size_t)l->slot_count * l->slot_size;
	struct ivnet_rx_frame f;
	int i;

	for (i = 0; i < 64 && ivnet_rx_peek(rx, &f); i++) {
		if (f.data < lo || f.data + f.len > hi || f.len > l->max_frame)
			__builtin_trap();
		ivnet_rx_consume(rx);
	}
	ivnet_rx_release(rx);
	(void)ivnet_rx_arm(rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *base;
	static struct ivnet_layout good;
	struct ivnet_layout_params p = {.region_size = SIZE, .max_peers = 2, .max_slots = 128};
	struct ivnet_ring tx, rx;
	struct ivnet_layout l;
	const char *why;
	size_t n;

	if (!base) {
		base = aligned_alloc(4096, SIZE);
		if (!base || ivnet_layout_compute(&p, &good))
			abort();
	}
	/* a valid region, then the fuzzer's bytes over its first pages: the
	 * header half the time, else the ring's control block and descriptors */
	ivnet_layout_format(base, &good, "fuzz", 1);
	if (size && (data[0] & 1)) {
		n = size - 1 < 8192 ? size - 1 : 8192;
		memcpy(base, data + 1, n);
	} else if (size) {
		uint8_t *ring = base + ivnet_ring_offset(&good, 0, 1);

		if (ivnet_ring_attach_rx(&rx, base, &good, 0, 1) ||
		    ivnet_ring_attach_tx(&tx, base, &good, 0, 1))
			abort();
		n = size - 1 < good.ring_slots_off ? size - 1 : good.ring_slots_off;
		memcpy(ring, data + 1, n);
		consume(&rx, &good);
		if (ivnet_tx_reserve(&tx, 1000, NULL))
			ivnet_tx_publish(&tx);
		consume(&rx, &good);
		return 0;
	}
	if (ivnet_layout_from_header((const struct ivnet_region_hdr *)base, SIZE, 0, &l, &why))
		return 0;
	if (l.used_size > SIZE || ivnet_ring_attach_rx(&rx, base, &l, 0, 1) ||
	    ivnet_ring_attach_tx(&tx, base, &l, 1, 0))
		__builtin_trap();
	consume(&rx, &l);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * selftest.c - the ring library in kernel context: frames of every size
 * cross with every byte intact, the ring wraps, a full ring refuses, and a
 * corrupted index or descriptor is counted and dropped, not followed.
 */
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "ivnet.h"

#define ST_SIZE (1u << 22)

static u8 st_byte(u32 seq, u32 i)
{
	return (u8)(seq * 131 + i * 7);
}

static bool st_send(struct ivnet_ring *tx, u32 len, u32 seq)
{
	u8 *d = ivnet_tx_reserve(tx, len, NULL);
	u32 i;

	if (!d)
		return false;
	for (i = 0; i < len; i++)
		d[i] = st_byte(seq, i);
	ivnet_tx_publish(tx);
	return true;
}

static bool st_recv(struct ivnet_ring *rx, u32 len, u32 seq)
{
	struct ivnet_rx_frame f;
	u32 i;

	if (!ivnet_rx_peek(rx, &f) || f.len != len)
		return false;
	for (i = 0; i < len; i++)
		if (f.data[i] != st_byte(seq, i))
			return false;
	ivnet_rx_consume(rx);
	ivnet_rx_release(rx);
	return true;
}

static int st_traffic(struct ivnet_ring *tx, struct ivnet_ring *rx, u32 max)
{
	u32 seq, len = IVNET_FRAME_MIN;

	for (seq = 0; seq < 4000; seq++) {
		len = len * 5 % max;
		if (len < IVNET_FRAME_MIN)
			len += IVNET_FRAME_MIN;
		if (!st_send(tx, len, seq) || !st_recv(rx, len, seq)) {
			pr_err("ivnet: selftest: frame %u of %u bytes lost or damaged\n", seq, len);
			return -EINVAL;
		}
	}
	return 0;
}

static int st_full(struct ivnet_ring *tx, struct ivnet_ring *rx)
{
	u32 n = 0;

	while (st_send(tx, 1500, n))
		n++;
	if (n != tx->slot_count || tx->stats.full != 1) {
		pr_err("ivnet: selftest: full ring took %u frames\n", n);
		return -EINVAL;
	}
	ivnet_rx_resync(rx);
	return 0;
}

static int st_corrupt(struct ivnet_ring *tx, struct ivnet_ring *rx)
{
	struct ivnet_rx_frame f;

	WRITE_ONCE(rx->ctrl->prod.head, rx->tail + 5 * rx->slot_count);
	if (ivnet_rx_peek(rx, &f) || rx->stats.bad_index != 1)
		goto bad;
	ivnet_tx_publish(tx);
	if (!st_send(tx, 100, 1))
		goto bad;
	WRITE_ONCE(rx->desc[rx->tail & rx->mask].len, 0xfffffff0u);
	if (ivnet_rx_peek(rx, &f) || rx->stats.bad_desc != 1)
		goto bad;
	return 0;
bad:
	pr_err("ivnet: selftest: corruption not caught\n");
	return -EINVAL;
}

int ivnet_selftest(void)
{
	struct ivnet_layout_params p = {.region_size = ST_SIZE, .max_peers = 2, .max_slots = 128};
	struct ivnet_ring *tx, *rx;
	struct ivnet_layout l;
	void *base;
	int err;

	err = ivnet_layout_compute(&p, &l);
	if (err)
		return err;
	base = vmalloc(ST_SIZE);
	tx = kzalloc(2 * sizeof(*tx), GFP_KERNEL);
	if (!base || !tx) {
		err = -ENOMEM;
		goto out;
	}
	rx = tx + 1;
	ivnet_layout_format(base, &l, "selftest", 1);
	err = ivnet_ring_attach_tx(tx, base, &l, 0, 1);
	if (!err)
		err = ivnet_ring_attach_rx(rx, base, &l, 0, 1);
	if (!err)
		err = st_traffic(tx, rx, l.max_frame);
	if (!err)
		err = st_full(tx, rx);
	if (!err)
		err = st_corrupt(tx, rx);
	if (!err)
		pr_info("ivnet: selftest: ok\n");
out:
	kfree(tx);
	vfree(base);
	return err;
}

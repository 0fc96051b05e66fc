// SPDX-License-Identifier: MIT
/*
 * ethtool.c - `ethtool -i` and `ethtool -S`: totals, then the per-peer
 * counters again for each peer (peerN_*). Doorbells are VM exits; interrupts
 * and NAPI polls show what suppression and batching save.
 */
#include <linux/ethtool.h>

#include "ivnet.h"

#define IVNET_STAT_NONE SIZE_MAX

/*
 * One counter of `ethtool -S`. Its total is the sum over peers of what
 * peer_off (a u64 in struct ivnet_dev_peer) or peer_read gives, plus the
 * device's own u64 at dev_off; per_peer lists it for each peer too.
 */
struct ivnet_stat_desc {
	const char *name;
	size_t peer_off;
	u64 (*peer_read)(const struct ivnet_dev_peer *p);
	size_t dev_off;
	bool per_peer;
};

#define IVNET_PEER_STAT(n, field)                                                 \
	{                                                                         \
		.name = n, .peer_off = offsetof(struct ivnet_dev_peer, st.field), \
		.dev_off = IVNET_STAT_NONE, .per_peer = true,                     \
	}
#define IVNET_DEV_STAT(n, field)                               \
	{                                                      \
		.name = n, .peer_off = IVNET_STAT_NONE,        \
		.dev_off = offsetof(struct ivnet_priv, field), \
	}

static const struct ivnet_stat_desc ivnet_stats[] = {
	IVNET_PEER_STAT("tx_packets", tx_packets),
	IVNET_PEER_STAT("tx_bytes", tx_bytes),
	IVNET_PEER_STAT("rx_packets", rx_packets),
	IVNET_PEER_STAT("rx_bytes", rx_bytes),
	IVNET_DEV_STAT("tx_dropped_unknown", tx_unknown),
	IVNET_PEER_STAT("tx_ring_full", tx_ring_full),
	IVNET_PEER_STAT("tx_queue_stops", tx_queue_stops),
	IVNET_PEER_STAT("tx_stalls", tx_stalls),
	IVNET_PEER_STAT("tx_stall_drops", tx_stall_drops),
	{
		.name = "tx_errors",
		.peer_off = IVNET_STAT_NONE,
		.peer_read = ivnet_peer_tx_errors,
		.dev_off = offsetof(struct ivnet_priv, tx_errors),
	},
	IVNET_PEER_STAT("rx_dropped", rx_dropped),
	{
		.name = "rx_errors",
		.peer_off = IVNET_STAT_NONE,
		.peer_read = ivnet_peer_rx_errors,
		.dev_off = IVNET_STAT_NONE,
		.per_peer = true,
	},
	IVNET_PEER_STAT("doorbells", doorbells),
	IVNET_DEV_STAT("interrupts", interrupts),
	IVNET_DEV_STAT("interrupts_control", interrupts_ctrl),
	IVNET_DEV_STAT("napi_polls", napi_polls),
	IVNET_DEV_STAT("admin_snapshots_torn", admin_torn),
};

static u32 ivnet_stats_per_peer(void)
{
	u32 i, n = 0;

	for (i = 0; i < ARRAY_SIZE(ivnet_stats); i++)
		n += ivnet_stats[i].per_peer;
	return n;
}

static u64 ivnet_stat_of_peer(const struct ivnet_stat_desc *d, const struct ivnet_dev_peer *p)
{
	if (d->peer_read)
		return d->peer_read(p);
	if (d->peer_off == IVNET_STAT_NONE)
		return 0;
	return READ_ONCE(*(const u64 *)((const char *)p + d->peer_off));
}

static void ivnet_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	struct ivnet_priv *priv = netdev_priv(dev);

	strscpy(info->driver, IVNET_DRV_NAME, sizeof(info->driver));
	strscpy(info->version, IVNET_DRV_VERSION, sizeof(info->version));
	snprintf(info->fw_version, sizeof(info->fw_version), "layout %u", IVNET_LAYOUT_VERSION);
	strscpy(info->bus_info, pci_name(priv->pdev), sizeof(info->bus_info));
}

static int ivnet_get_sset_count(struct net_device *dev, int sset)
{
	struct ivnet_priv *priv = netdev_priv(dev);

	if (sset != ETH_SS_STATS)
		return -EOPNOTSUPP;
	return ARRAY_SIZE(ivnet_stats) + (priv->layout.max_peers - 1) * ivnet_stats_per_peer();
}

static void ivnet_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	struct ivnet_priv *priv = netdev_priv(dev);
	u32 i, id;

	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < ARRAY_SIZE(ivnet_stats); i++)
		ethtool_sprintf(&data, "%s", ivnet_stats[i].name);
	for (id = 0; id < priv->layout.max_peers; id++) {
		if (id == priv->self)
			continue;
		for (i = 0; i < ARRAY_SIZE(ivnet_stats); i++)
			if (ivnet_stats[i].per_peer)
				ethtool_sprintf(&data, "peer%u_%s", id, ivnet_stats[i].name);
	}
}

static void ivnet_get_ethtool_stats(struct net_device *dev, struct ethtool_stats *stats, u64 *data)
{
	struct ivnet_priv *priv = netdev_priv(dev);
	const struct ivnet_stat_desc *d;
	u64 *total = data, *per = data + ARRAY_SIZE(ivnet_stats), v;
	u32 id, i;

	for (i = 0; i < ARRAY_SIZE(ivnet_stats); i++) {
		d = &ivnet_stats[i];
		total[i] = d->dev_off == IVNET_STAT_NONE
				   ? 0
				   : READ_ONCE(*(const u64 *)((const char *)priv + d->dev_off));
	}
	for (id = 0; id < priv->layout.max_peers; id++) {
		if (id == priv->self)
			continue;
		for (i = 0; i < ARRAY_SIZE(ivnet_stats); i++) {
			d = &ivnet_stats[i];
			v = ivnet_stat_of_peer(d, &priv->peer[id]);
			total[i] += v;
			if (d->per_peer)
				*per++ = v;
		}
	}
}

const struct ethtool_ops ivnet_ethtool_ops = {
	.get_drvinfo = ivnet_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_sset_count = ivnet_get_sset_count,
	.get_strings = ivnet_get_strings,
	.get_ethtool_stats = ivnet_get_ethtool_stats,
};

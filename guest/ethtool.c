// SPDX-License-Identifier: MIT
/*
 * ethtool.c - `ethtool -i` and `ethtool -S`: totals, then the same per
 * peer (peerN_*). Doorbells are VM exits; interrupts and NAPI polls show
 * what suppression and batching save.
 */
#include <linux/ethtool.h>

#include "ivnet.h"

static const char *const global_names[] = {
	"tx_packets",	"tx_bytes",	      "rx_packets", "rx_bytes",	 "tx_dropped_unknown",
	"tx_ring_full", "tx_errors",	      "rx_dropped", "rx_errors", "doorbells",
	"interrupts",	"interrupts_control", "napi_polls",
};

static const char *const peer_names[] = {
	"tx_packets",	"tx_bytes",   "rx_packets", "rx_bytes",
	"tx_ring_full", "rx_dropped", "rx_errors",  "doorbells",
};

#define N_GLOBAL ARRAY_SIZE(global_names)
#define N_PEER ARRAY_SIZE(peer_names)

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
	return N_GLOBAL + (priv->layout.max_peers - 1) * N_PEER;
}

static void ivnet_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	struct ivnet_priv *priv = netdev_priv(dev);
	u32 i, id;

	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < N_GLOBAL; i++)
		ethtool_sprintf(&data, "%s", global_names[i]);
	for (id = 0; id < priv->layout.max_peers; id++)
		if (id != priv->self)
			for (i = 0; i < N_PEER; i++)
				ethtool_sprintf(&data, "peer%u_%s", id, peer_names[i]);
}

static void peer_values(const struct ivnet_dev_peer *p, u64 *v)
{
	v[0] = READ_ONCE(p->st.tx_packets);
	v[1] = READ_ONCE(p->st.tx_bytes);
	v[2] = READ_ONCE(p->st.rx_packets);
	v[3] = READ_ONCE(p->st.rx_bytes);
	v[4] = READ_ONCE(p->st.tx_ring_full);
	v[5] = READ_ONCE(p->st.rx_dropped);
	v[6] = ivnet_peer_rx_errors(p);
	v[7] = READ_ONCE(p->st.doorbells);
}

static void ivnet_get_ethtool_stats(struct net_device *dev, struct ethtool_stats *stats, u64 *data)
{
	struct ivnet_priv *priv = netdev_priv(dev);
	u64 *g = data, *per = data + N_GLOBAL, v[N_PEER];
	u32 id, i;

	memset(g, 0, N_GLOBAL * sizeof(*g));
	for (id = 0; id < priv->layout.max_peers; id++) {
		if (id == priv->self)
			continue;
		peer_values(&priv->peer[id], v);
		for (i = 0; i < N_PEER; i++)
			per[i] = v[i];
		per += N_PEER;
		g[0] += v[0];
		g[1] += v[1];
		g[2] += v[2];
		g[3] += v[3];
		g[5] += v[4];
		g[6] += ivnet_peer_tx_errors(&priv->peer[id]);
		g[7] += v[5];
		g[8] += v[6];
		g[9] += v[7];
	}
	g[4] = READ_ONCE(priv->tx_unknown);
	g[6] += READ_ONCE(priv->tx_errors);
	g[10] = READ_ONCE(priv->interrupts);
	g[11] = READ_ONCE(priv->interrupts_ctrl);
	g[12] = READ_ONCE(priv->napi_polls);
}

const struct ethtool_ops ivnet_ethtool_ops = {
	.get_drvinfo = ivnet_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_sset_count = ivnet_get_sset_count,
	.get_strings = ivnet_get_strings,
	.get_ethtool_stats = ivnet_get_ethtool_stats,
};

// SPDX-License-Identifier: MIT
/*
 * netdev.c - the Ethernet device: open/stop, MTU, statistics, features.
 *
 * Like veth and loopback, nothing is checksummed or segmented on the way
 * through: checksum-partial skbs and TCP super-packets cross the ring whole
 * with their metadata (virtio_net_hdr's), and the receiver builds the same
 * skb. Peers that do not accept offloads get segmented, checksummed frames.
 */
#include <linux/netdevice.h>

#include "ivnet.h"

static void attach_rings(struct ivnet_priv *priv)
{
	u32 id;

	for (id = 0; id < priv->layout.max_peers; id++) {
		struct ivnet_dev_peer *p = &priv->peer[id];

		if (id == priv->self)
			continue;
		/* ids are checked against the layout: these cannot fail */
		WARN_ON(ivnet_ring_attach_tx(&p->tx, priv->shm, &priv->layout, priv->self, id));
		WARN_ON(ivnet_ring_attach_rx(&p->rx, priv->shm, &priv->layout, id, priv->self));
		p->up = false;
	}
	bitmap_zero(priv->rx_resync, IVNET_PEERS_MAX);
}

static int ivnet_open(struct net_device *dev)
{
	struct ivnet_priv *priv = netdev_priv(dev);

	netif_carrier_off(dev);
	attach_rings(priv);
	if (ivnet_napi)
		napi_enable(&priv->napi);
	WRITE_ONCE(priv->running, true);
	ivnet_link_set(priv, true);
	ivnet_peers_scan(priv);
	ivnet_tx_start(priv);
	return 0;
}

static int ivnet_stop(struct net_device *dev)
{
	struct ivnet_priv *priv = netdev_priv(dev);

	ivnet_tx_stop(priv);
	ivnet_link_set(priv, false);
	WRITE_ONCE(priv->running, false);
	netif_carrier_off(dev);
	if (ivnet_napi)
		napi_disable(&priv->napi);
	cancel_delayed_work_sync(&priv->rx_retry);
	return 0;
}

static void ivnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s)
{
	struct ivnet_priv *priv = netdev_priv(dev);
	u32 id;

	for (id = 0; id < priv->layout.max_peers; id++) {
		const struct ivnet_dev_peer *p = &priv->peer[id];

		s->tx_packets += READ_ONCE(p->st.tx_packets);
		s->tx_bytes += READ_ONCE(p->st.tx_bytes);
		s->tx_dropped += READ_ONCE(p->st.tx_ring_full) + READ_ONCE(p->st.tx_stall_drops);
		s->tx_errors += ivnet_peer_tx_errors(p);
		s->rx_packets += READ_ONCE(p->st.rx_packets);
		s->rx_bytes += READ_ONCE(p->st.rx_bytes);
		s->rx_dropped += READ_ONCE(p->st.rx_dropped);
		s->rx_errors += ivnet_peer_rx_errors(p);
	}
	s->tx_dropped += atomic64_read(&priv->tx_unknown);
	s->tx_errors += atomic64_read(&priv->tx_errors);
}

static int ivnet_change_mtu(struct net_device *dev, int mtu)
{
	/* The ring carries any frame up to max_frame: nothing to resize. */
	dev->mtu = mtu;
	return 0;
}

const struct net_device_ops ivnet_netdev_ops = {
	.ndo_open = ivnet_open,
	.ndo_stop = ivnet_stop,
	.ndo_start_xmit = ivnet_xmit,
	.ndo_select_queue = ivnet_select_queue,
	.ndo_get_stats64 = ivnet_get_stats64,
	.ndo_change_mtu = ivnet_change_mtu,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

struct net_device *ivnet_netdev_alloc(struct pci_dev *pdev)
{
	/* the queue count is the layout's (ivnet_tx_setup()), not known yet */
	struct net_device *dev =
		alloc_etherdev_mqs(sizeof(struct ivnet_priv), IVNET_PEERS_MAX + 1, 1);
	struct ivnet_priv *priv;

	if (!dev)
		return NULL;
	priv = netdev_priv(dev);
	priv->dev = dev;
	priv->pdev = pdev;
	spin_lock_init(&priv->rx_lock);
	mutex_init(&priv->scan_lock);
	INIT_WORK(&priv->peer_work, ivnet_peer_work);
	INIT_DELAYED_WORK(&priv->peer_poll, ivnet_peer_poll);
	INIT_DELAYED_WORK(&priv->rx_retry, ivnet_rx_retry);
	spin_lock_init(&priv->tx_wait_lock);
	hrtimer_init(&priv->tx_wait, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	priv->tx_wait.function = ivnet_tx_wait;
	strscpy(dev->name, "ivnet%d", sizeof(dev->name));
	SET_NETDEV_DEV(dev, &pdev->dev);
	dev->netdev_ops = &ivnet_netdev_ops;
	dev->ethtool_ops = &ivnet_ethtool_ops;
	dev->min_mtu = ETH_MIN_MTU;
	dev->hw_features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_RXCSUM | NETIF_F_TSO |
			   NETIF_F_TSO6 | NETIF_F_TSO_ECN | NETIF_F_HIGHDMA;
	dev->features = dev->hw_features;
	dev->vlan_features = dev->features;
	netif_set_tso_max_size(dev, GSO_LEGACY_MAX_SIZE);
	netif_carrier_off(dev);
	if (ivnet_napi)
		netif_napi_add(dev, &priv->napi, ivnet_poll);
	return dev;
}

// SPDX-License-Identifier: MIT
/*
 * device.c - the ivshmem PCI device: registers, the shared region, MSI-X
 * vectors, and the netdev's life around them.
 */
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/if_vlan.h>
#include <linux/pci.h>

#include "ivnet.h"

void ivnet_doorbell(struct ivnet_priv *priv, u32 ivpos, u32 vector)
{
	/* Each write is a VM exit (an eventfd signal with ioeventfd=on).
	 * writel orders it after the ring stores that it announces. */
	writel((ivpos & 0xffff) << 16 | vector, priv->regs + IVNET_REG_DOORBELL);
}

/* How often, and how far apart, probe reads a refused header again: the
 * broker puts back a header a peer rewrote within a tenth of a second. */
#define IVNET_HDR_TRIES 10
#define IVNET_HDR_RETRY_MS 100

/* A copy of the header: the broker's (the admin region's), or with
 * require_admin=0 the segment's own, which any peer can rewrite. */
static int copy_header(struct ivnet_priv *priv)
{
	if (priv->admin)
		return ivnet_admin_header(priv->admin, &priv->hdr);
	ivnet_admin_copy(&priv->hdr, priv->shm, sizeof(priv->hdr));
	return 0;
}

/* The layout from the header, confirmed against what the device says: the
 * BAR2 size and its MSI-X table size, which no other peer can rewrite. */
static int read_layout(struct ivnet_priv *priv)
{
	struct pci_dev *pdev = priv->pdev;
	int vectors = pci_msix_vec_count(pdev);
	const char *why = NULL;
	int tries, err = -EPROTO;

	if (vectors < (int)IVNET_VECTORS_MIN) {
		dev_err(&pdev->dev,
			"needs MSI-X with %u vectors or more (vectors=N on the device)\n",
			IVNET_VECTORS_MIN);
		return -ENODEV;
	}
	for (tries = 0; tries < IVNET_HDR_TRIES; tries++) {
		if (tries)
			msleep(IVNET_HDR_RETRY_MS);
		why = "admin region torn on every try:";
		err = copy_header(priv);
		if (!err)
			err = ivnet_layout_from_header(&priv->hdr, priv->shm_size, vectors,
						       &priv->layout, &why);
		if (!err)
			return 0;
	}
	dev_err(&pdev->dev,
		"%s region refused (bad %s; BAR2 %llu bytes, %d vectors): is the server ivnetd, "
		"and ready?\n",
		priv->admin ? "the admin device's copy of the" : "shared", why ? why : "header",
		(unsigned long long)priv->shm_size, vectors);
	return err;
}

/* Our slot: the joined entry whose ivpos is our IVPosition, in the broker's
 * copy of the table (or with require_admin=0 in the shared one). */
static int find_self(struct ivnet_priv *priv)
{
	struct device *dev = &priv->pdev->dev;
	u32 n = priv->layout.max_peers;
	int slot;

	if (!priv->admin) {
		slot = ivnet_find_slot(priv->shm, &priv->layout, priv->ivpos);
	} else {
		priv->vouched = devm_kcalloc(dev, n, sizeof(*priv->vouched), GFP_KERNEL);
		priv->vouched_next = devm_kcalloc(dev, n, sizeof(*priv->vouched), GFP_KERNEL);
		if (!priv->vouched || !priv->vouched_next)
			return -ENOMEM;
		slot = ivnet_admin_snapshot(priv->admin->base, NULL, priv->vouched, n);
		if (!slot)
			slot = ivnet_admin_find_slot(priv->vouched, n, priv->ivpos);
	}
	if (slot < 0) {
		dev_err(dev, "IVPosition %u has no entry in the %s peer table (%d)\n", priv->ivpos,
			priv->admin ? "admin device's" : "shared", slot);
		return -EPROTO;
	}
	priv->self = slot;
	return 0;
}

static int map_region(struct ivnet_priv *priv)
{
	struct pci_dev *pdev = priv->pdev;
	int err;

	priv->shm_size = pci_resource_len(pdev, 2);
	if (!priv->shm_size) {
		dev_err(&pdev->dev, "no shared memory (BAR2): not an ivshmem device?\n");
		return -ENODEV;
	}
	/* BAR2 is host RAM shared with other VMs: map it cacheable, not as
	 * device memory. */
	priv->shm =
		devm_memremap(&pdev->dev, pci_resource_start(pdev, 2), priv->shm_size, MEMREMAP_WB);
	if (IS_ERR(priv->shm))
		return PTR_ERR(priv->shm);
	if (ivnet_is_admin_region(priv->shm, priv->shm_size))
		return -ENODEV; /* an admin device the ivnet-admin driver refused */
	priv->ivpos = readl(priv->regs + IVNET_REG_IVPOSITION);
	if (ivnet_require_admin) {
		err = ivnet_admin_pair(priv);
		if (err)
			return err;
	} else {
		dev_warn(&pdev->dev, "require_admin=0: the peer table is not vouched for (any peer "
				     "can rewrite MACs, the uplink flag and the geometry)\n");
	}
	err = read_layout(priv);
	if (!err)
		err = find_self(priv);
	return err;
}

/* The MAC the broker gave us; a random one if it is not a unicast address. */
static void set_mac(struct ivnet_priv *priv)
{
	struct ivnet_peer *e = ivnet_peer_entry(priv->shm, &priv->layout, priv->self);
	u8 mac[ETH_ALEN];

	if (priv->admin)
		memcpy(mac, priv->vouched[priv->self].mac, ETH_ALEN);
	else
		memcpy(mac, e->admin.mac, ETH_ALEN);
	if (is_valid_ether_addr(mac)) {
		eth_hw_addr_set(priv->dev, mac);
		return;
	}
	dev_warn(&priv->pdev->dev, "broker gave no valid MAC (%pM): using a random one\n", mac);
	eth_hw_addr_random(priv->dev);
}

static int setup_peers(struct ivnet_priv *priv)
{
	u32 id;

	priv->peer = devm_kcalloc(&priv->pdev->dev, priv->layout.max_peers, sizeof(*priv->peer),
				  GFP_KERNEL);
	if (!priv->peer)
		return -ENOMEM;
	for (id = 0; id < priv->layout.max_peers; id++)
		priv->peer[id].id = id;
	ivnet_tx_setup(priv);
	return 0;
}

static int setup_irqs(struct ivnet_priv *priv)
{
	struct pci_dev *pdev = priv->pdev;
	int n, err;

	n = pci_alloc_irq_vectors(pdev, IVNET_VECTORS_MIN, IVNET_VECTORS_MIN, PCI_IRQ_MSIX);
	if (n < 0) {
		dev_err(&pdev->dev, "needs MSI-X with %u vectors (vectors=%u on the device)\n",
			IVNET_VECTORS_MIN, IVNET_VECTORS_MIN);
		return n;
	}
	err = request_irq(pci_irq_vector(pdev, IVNET_VEC_CONTROL), ivnet_irq_ctrl, 0,
			  "ivnet-control", priv);
	if (err)
		goto err_vectors;
	err = request_irq(pci_irq_vector(pdev, IVNET_VEC_RX), ivnet_irq_rx, 0, "ivnet-rx", priv);
	if (err)
		goto err_ctrl;
	return 0;

err_ctrl:
	free_irq(pci_irq_vector(pdev, IVNET_VEC_CONTROL), priv);
err_vectors:
	pci_free_irq_vectors(pdev);
	return err;
}

static void free_irqs(struct ivnet_priv *priv)
{
	free_irq(pci_irq_vector(priv->pdev, IVNET_VEC_RX), priv);
	free_irq(pci_irq_vector(priv->pdev, IVNET_VEC_CONTROL), priv);
	pci_free_irq_vectors(priv->pdev);
}

int ivnet_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct net_device *dev;
	struct ivnet_priv *priv;
	int err;

	if (pdev->revision != 1)
		dev_warn(&pdev->dev, "ivshmem revision %u, expected 1\n", pdev->revision);
	err = pcim_enable_device(pdev);
	if (err)
		return err;
	err = pcim_iomap_regions(pdev, BIT(0), IVNET_DRV_NAME);
	if (err)
		return err;
	/* MSI-X messages are memory writes by the device: without bus
	 * mastering (which QEMU enforces) no interrupt ever arrives. */
	pci_set_master(pdev);
	dev = ivnet_netdev_alloc(pdev);
	if (!dev)
		return -ENOMEM;
	priv = netdev_priv(dev);
	priv->regs = pcim_iomap_table(pdev)[0];
	pci_set_drvdata(pdev, priv);

	err = map_region(priv);
	if (!err)
		err = setup_peers(priv);
	if (err)
		goto err_free;
	/* the layout keeps max_frame at or above IVNET_REGION_FRAME_MIN */
	BUILD_BUG_ON(IVNET_LINK_HLEN != ETH_HLEN + VLAN_HLEN);
	dev->max_mtu = min_t(u32, 65535, priv->layout.max_frame - IVNET_LINK_HLEN);
	set_mac(priv);
	err = setup_irqs(priv);
	if (err)
		goto err_free;
	err = register_netdev(dev);
	if (err)
		goto err_irqs;
	netdev_info(dev, "peer %u of %u in segment \"%.*s\", %u slots x %u B per ring\n",
		    priv->self, priv->layout.max_peers, (int)IVNET_NAME_LEN, priv->hdr.name,
		    priv->layout.slot_count, priv->layout.slot_size);
	schedule_delayed_work(&priv->peer_poll, HZ);
	return 0;

err_irqs:
	free_irqs(priv);
err_free:
	free_netdev(dev);
	return err;
}

void ivnet_pci_remove(struct pci_dev *pdev)
{
	struct ivnet_priv *priv = pci_get_drvdata(pdev);

	unregister_netdev(priv->dev); /* stops it: link down, peers told */
	cancel_delayed_work_sync(&priv->peer_poll);
	free_irqs(priv); /* no more interrupts to queue work */
	cancel_work_sync(&priv->peer_work);
	cancel_delayed_work_sync(&priv->rx_retry);
	free_netdev(priv->dev);
}

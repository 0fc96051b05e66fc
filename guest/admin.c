// SPDX-License-Identifier: MIT
/*
 * admin.c - the admin device: the broker's private copy of the segment's
 * header and of its half of the peer table (abi/ivnet_admin.h), served as a
 * second ivshmem-doorbell device whose BAR2 starts with IVNET_ADMIN_MAGIC.
 *
 * Only the broker and this VM map it, so unlike the segment's shared table
 * no other peer can rewrite it. A driver of its own ("ivnet-admin",
 * registered before the netdev driver) binds these devices, so that in the
 * usual case they are ready when the segment devices probe; a segment device
 * that finds none defers its probe until one binds. A segment device pairs
 * with the admin device whose self_ivpos is its IVPosition, and a device link
 * keeps that admin device bound while its segment device is.
 */
#include <linux/delay.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pci.h>

#include "ivnet.h"

/* The broker completes the first copy right after the connection opens. */
#define IVNET_ADMIN_READY_TRIES 50
#define IVNET_ADMIN_READY_MS 100
/* The broker learns self_ivpos once both of QEMU's connections are open. */
#define IVNET_ADMIN_PAIR_TRIES 20
#define IVNET_ADMIN_PAIR_MS 100

static LIST_HEAD(ivnet_admin_list); /* struct ivnet_admin_dev, bound ones */
static DEFINE_MUTEX(ivnet_admin_lock);

bool ivnet_is_admin_region(const void *base, resource_size_t size)
{
	/* The size first: only a 16 KiB BAR can be ours, so a peer writing the
	 * admin magic into the segment's header does not make it one. */
	return size == IVNET_ADMIN_SIZE &&
	       ivnet_load_relaxed(&((const struct ivnet_admin_hdr *)base)->magic) ==
		       IVNET_ADMIN_MAGIC;
}

static int admin_wait_ready(struct pci_dev *pdev, const void *base, resource_size_t size)
{
	const char *why = NULL;
	int tries, err = -EAGAIN;

	for (tries = 0; tries < IVNET_ADMIN_READY_TRIES && err == -EAGAIN; tries++) {
		if (tries)
			msleep(IVNET_ADMIN_READY_MS);
		err = ivnet_admin_check(base, size, &why);
	}
	if (err)
		dev_err(&pdev->dev, "admin region refused (%s): is the server ivnetd?\n",
			why ? why : "not ready");
	return err;
}

static int ivnet_admin_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct ivnet_admin_dev *a;
	resource_size_t size;
	void *base;
	int err;

	size = pci_resource_len(pdev, 2);
	if (size != IVNET_ADMIN_SIZE)
		return -ENODEV; /* a segment device (or not ours): the netdev driver's */
	err = pcim_enable_device(pdev);
	if (err)
		return err;
	base = devm_memremap(&pdev->dev, pci_resource_start(pdev, 2), size, MEMREMAP_WB);
	if (IS_ERR(base))
		return PTR_ERR(base);
	if (!ivnet_is_admin_region(base, size))
		return -ENODEV;
	err = admin_wait_ready(pdev, base, size);
	if (err)
		return err;
	a = devm_kzalloc(&pdev->dev, sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	a->pdev = pdev;
	a->base = base;
	pci_set_drvdata(pdev, a);
	mutex_lock(&ivnet_admin_lock);
	list_add_tail(&a->node, &ivnet_admin_list);
	mutex_unlock(&ivnet_admin_lock);
	dev_info(&pdev->dev, "admin region of ivshmem id %u\n",
		 ivnet_load_relaxed(&((struct ivnet_admin_hdr *)base)->self_ivpos));
	return 0;
}

static void ivnet_admin_remove(struct pci_dev *pdev)
{
	struct ivnet_admin_dev *a = pci_get_drvdata(pdev);

	/* the device link unbound its segment device first */
	mutex_lock(&ivnet_admin_lock);
	list_del(&a->node);
	mutex_unlock(&ivnet_admin_lock);
}

static const struct pci_device_id ivnet_admin_ids[] = {
	{PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110)}, {}};

struct pci_driver ivnet_admin_driver = {
	.name = IVNET_DRV_NAME "-admin",
	.id_table = ivnet_admin_ids,
	.probe = ivnet_admin_probe,
	.remove = ivnet_admin_remove,
};

/* A consistent copy of the segment's header as the broker formatted it. */
int ivnet_admin_header(struct ivnet_admin_dev *a, struct ivnet_region_hdr *seg)
{
	return ivnet_admin_snapshot(a->base, seg, NULL, 0);
}

/*
 * The unpaired admin device for IVPosition ivpos: the only one whose
 * self_ivpos it is, or among several (a VM on several segments) the one
 * whose segment_id is hint (from the shared header: it only breaks a tie).
 * Called under ivnet_admin_lock; *unpaired counts those left to try.
 */
static struct ivnet_admin_dev *admin_match(u32 ivpos, u64 hint, u32 *unpaired)
{
	struct ivnet_admin_dev *a, *found = NULL;
	struct ivnet_region_hdr seg;
	u32 n = 0;

	*unpaired = 0;
	list_for_each_entry(a, &ivnet_admin_list, node) {
		const struct ivnet_admin_hdr *h = a->base;

		if (a->paired)
			continue;
		++*unpaired;
		if (ivnet_load_relaxed(&h->self_ivpos) != ivpos)
			continue;
		n++;
		if (!found || (ivnet_admin_header(a, &seg) == 0 && seg.segment_id == hint))
			found = a;
	}
	if (n > 1 && (ivnet_admin_header(found, &seg) || seg.segment_id != hint))
		return NULL; /* several, and the hint names none of them */
	return found;
}

static void admin_unpair(void *data)
{
	struct ivnet_admin_dev *a = data;

	mutex_lock(&ivnet_admin_lock);
	a->paired = false;
	mutex_unlock(&ivnet_admin_lock);
}

static int admin_link(struct ivnet_priv *priv, struct ivnet_admin_dev *a)
{
	struct device *dev = &priv->pdev->dev;

	/* the admin device stays bound while we are */
	if (!device_link_add(dev, &a->pdev->dev, DL_FLAG_AUTOREMOVE_CONSUMER)) {
		dev_err(dev, "cannot link to the admin device %s\n", pci_name(a->pdev));
		return -EINVAL;
	}
	priv->admin = a;
	a->paired = true;
	return 0;
}

/*
 * Pairs the segment device with its admin device, or -EPROBE_DEFER while
 * there is none (the driver core probes again when one binds).
 */
int ivnet_admin_pair(struct ivnet_priv *priv)
{
	struct device *dev = &priv->pdev->dev;
	u64 hint = ivnet_load_relaxed(&((struct ivnet_region_hdr *)priv->shm)->segment_id);
	struct ivnet_admin_dev *a = NULL;
	u32 unpaired = 0;
	int tries, err;

	for (tries = 0; tries < IVNET_ADMIN_PAIR_TRIES; tries++) {
		if (tries)
			msleep(IVNET_ADMIN_PAIR_MS);
		mutex_lock(&ivnet_admin_lock);
		a = admin_match(priv->ivpos, hint, &unpaired);
		err = a ? admin_link(priv, a) : -EPROBE_DEFER;
		mutex_unlock(&ivnet_admin_lock);
		if (a || !unpaired)
			break; /* paired, or nothing bound that could still become ours */
	}
	if (err == -EPROBE_DEFER) {
		dev_info_once(dev,
			      "waits for the admin device of IVPosition %u (an ivshmem-doorbell on "
			      "the segment socket's path + \"%s\"); require_admin=0 trusts the "
			      "shared peer table instead\n",
			      priv->ivpos, IVNET_ADMIN_SUFFIX);
		return dev_err_probe(dev, err, "no admin device for IVPosition %u\n", priv->ivpos);
	}
	if (err)
		return err;
	return devm_add_action_or_reset(dev, admin_unpair, a);
}

/*
 * Refreshes priv->vouched from the admin region. A snapshot torn on every
 * try leaves the previous view in place and is counted. Under scan_lock.
 */
void ivnet_admin_refresh(struct ivnet_priv *priv)
{
	u32 n = priv->layout.max_peers;

	if (!priv->admin)
		return;
	if (ivnet_admin_snapshot(priv->admin->base, NULL, priv->vouched_next, n)) {
		WRITE_ONCE(priv->admin_torn, priv->admin_torn + 1);
		return;
	}
	memcpy(priv->vouched, priv->vouched_next, n * sizeof(*priv->vouched));
}

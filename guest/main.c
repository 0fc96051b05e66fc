// SPDX-License-Identifier: MIT
/*
 * ivnet.ko - module entry: parameters, the ring self-test, and the PCI
 * drivers for the ivshmem devices (1af4:1110, revision 1): the segment's
 * (a netdev) and the broker's admin region (admin.c).
 */
#include <linux/module.h>
#include <linux/pci.h>

#include "ivnet.h"

static bool selftest = true;
module_param(selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "Run the ring self-test at load (default: on)");

/* The seeds' guest-tuning experiments, repeatable on this driver. */
bool ivnet_napi = true;
module_param_named(napi, ivnet_napi, bool, 0444);
MODULE_PARM_DESC(napi, "Receive in NAPI polls (1, default) or in the interrupt handler (0)");

bool ivnet_suppress = true;
module_param_named(suppress, ivnet_suppress, bool, 0644);
MODULE_PARM_DESC(
	suppress,
	"Ring a peer's doorbell only when it asked for one (1, default), or on every frame (0)");

bool ivnet_xmit_batch = true;
module_param_named(xmit_batch, ivnet_xmit_batch, bool, 0644);
MODULE_PARM_DESC(xmit_batch,
		 "Publish frames once per batch from the stack (1, default), or one by one (0)");

bool ivnet_require_admin = true;
module_param_named(require_admin, ivnet_require_admin, bool, 0444);
MODULE_PARM_DESC(require_admin,
		 "Take the geometry and the peer table from the broker's admin device (1, "
		 "default), or trust the segment's shared table (0: any peer can rewrite it)");

int ivnet_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id);
void ivnet_pci_remove(struct pci_dev *pdev);

static const struct pci_device_id ivnet_pci_ids[] = {
	{PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110)}, {}};
MODULE_DEVICE_TABLE(pci, ivnet_pci_ids);

static struct pci_driver ivnet_pci_driver = {
	.name = IVNET_DRV_NAME,
	.id_table = ivnet_pci_ids,
	.probe = ivnet_pci_probe,
	.remove = ivnet_pci_remove,
};

static int __init ivnet_init(void)
{
	int err;

	if (selftest) {
		err = ivnet_selftest();
		if (err)
			return err;
	}
	/* the admin devices first, so that the segment devices find theirs */
	err = pci_register_driver(&ivnet_admin_driver);
	if (err)
		return err;
	err = pci_register_driver(&ivnet_pci_driver);
	if (err)
		pci_unregister_driver(&ivnet_admin_driver);
	return err;
}

static void __exit ivnet_exit(void)
{
	pci_unregister_driver(&ivnet_pci_driver);
	pci_unregister_driver(&ivnet_admin_driver);
}

module_init(ivnet_init);
module_exit(ivnet_exit);

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("ivnet: inter-VM networking over ivshmem shared memory");
MODULE_AUTHOR("The ivnet developers");
MODULE_VERSION(IVNET_DRV_VERSION);

// SPDX-License-Identifier: MIT
/*
 * ivnet.ko - module entry. For now it runs the ring self-test in kernel
 * context; the ivshmem PCI netdev (issue 4) registers here.
 */
#include <linux/module.h>

#include "ivnet.h"

static bool selftest = true;
module_param(selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "Run the ring self-test at load (default: on)");

static int __init ivnet_init(void)
{
	if (selftest)
		return ivnet_selftest();
	return 0;
}

static void __exit ivnet_exit(void)
{
}

module_init(ivnet_init);
module_exit(ivnet_exit);

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("ivnet: inter-VM networking over ivshmem shared memory");
MODULE_AUTHOR("The ivnet developers");

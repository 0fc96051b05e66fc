/* SPDX-License-Identifier: MIT */
/*
 * ivnet.h - declarations shared by the guest driver's files.
 */
#ifndef IVNET_GUEST_H
#define IVNET_GUEST_H

#include "ivnet_ring.h"

/* selftest.c: the ring library exercised in kernel context at load time. */
int ivnet_selftest(void);

#endif /* IVNET_GUEST_H */

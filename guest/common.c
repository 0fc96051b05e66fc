// SPDX-License-Identifier: MIT
/*
 * The shared-memory layout and ring code, compiled into the module from
 * common/ unchanged: the guest and the host run the very same validation.
 */
#include "../common/ivnet_layout.c"
#include "../common/ivnet_ring.c"

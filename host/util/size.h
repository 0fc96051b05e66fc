/* SPDX-License-Identifier: MIT */
/*
 * size.h - sizes as ivnetd -l, --segment size= and ivnet-libvirt --size
 * take them: "4194304", "4M", "1G", "512k", "2GB"; binary multiples.
 */
#ifndef HOST_SIZE_H
#define HOST_SIZE_H

#include <stdint.h>

/* Returns 0, or -1 for no number, a zero, an overflow or another suffix. */
int host_parse_size(const char *s, uint64_t *out);

#endif /* HOST_SIZE_H */

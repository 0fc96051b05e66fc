// SPDX-License-Identifier: MIT
/* size.c - "4M" and the like (size.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "size.h"

int host_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (*end && (end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2])))
		return -1;
	if (v == 0 || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

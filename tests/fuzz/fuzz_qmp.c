// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: QMP replies (host/placement/qmp.c), the peer's word. Whatever the
 * bytes, the reader must return a kind or -1 with a reason, never read past
 * them, and every CPU it accepts must be in range and listed once.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ivnetd_qmp_cpu cpus[64];
	char err[160];
	int n = -1, kind, i, j;

	kind = ivnetd_qmp_parse((const char *)data, size, cpus, 64, &n, err, sizeof(err));
	if (kind < -1 || kind > IVNETD_QMP_ERROR || n < 0 || n > 64 ||
	    !memchr(err, 0, sizeof(err)) || (kind == -1 && !err[0]))
		__builtin_trap();
	for (i = 0; kind >= 0 && i < n; i++) {
		if (cpus[i].index < 0 || cpus[i].index >= 4096 || cpus[i].tid <= 0)
			__builtin_trap();
		for (j = 0; j < i; j++)
			if (cpus[j].index == cpus[i].index || cpus[j].tid == cpus[i].tid)
				__builtin_trap();
	}
	return 0;
}

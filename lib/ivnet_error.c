// SPDX-License-Identifier: MIT
/*
 * ivnet_error.c - the reason a libivnet call failed (see ivnet_error.h).
 */
#include "ivnet_error.h"

#include <stdarg.h>
#include <stdio.h>

int ivnet_fail(char *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, IVNET_ERRLEN, fmt, ap);
		va_end(ap);
	}
	return -errnum;
}

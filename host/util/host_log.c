// SPDX-License-Identifier: MIT
/* host_log.c - one formatted line to the daemon's writer (host_log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "host_err.h"
#include "host_log.h"

void host_log(const struct host_log *l, const char *fmt, ...)
{
	char line[2 * HOST_ERRLEN];
	va_list ap;

	if (!l || !l->write)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l->write(l->ctx, line);
}

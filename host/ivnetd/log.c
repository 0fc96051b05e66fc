// SPDX-License-Identifier: MIT
/*
 * log.c - one line per event, "ivnetd: <event> key=value ...", with a UTC
 * timestamp when writing to a file. SIGHUP reopens the file (logrotate).
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "ivnetd.h"

int ivnetd_log_open(struct ivnetd *d)
{
	FILE *f;

	if (!d->cfg.log_path[0]) {
		d->log = stderr;
		return 0;
	}
	f = fopen(d->cfg.log_path, "ae");
	if (!f)
		return -1;
	setvbuf(f, NULL, _IOLBF, 0);
	if (d->log_owned && d->log)
		fclose(d->log);
	d->log = f;
	d->log_owned = 1;
	return 0;
}

void ivnetd_log(struct ivnetd *d, const char *fmt, ...)
{
	FILE *out = d->log ? d->log : stderr;
	va_list ap;

	if (d->log_owned) {
		char when[32];
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ ", &tm);
		fputs(when, out);
	}
	fputs("ivnetd: ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

void ivnetd_log_line(void *d, const char *line)
{
	ivnetd_log(d, "%s", line);
}

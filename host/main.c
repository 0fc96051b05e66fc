// SPDX-License-Identifier: MIT
/*
 * ivnetd - the ivnet broker: a drop-in QEMU ivshmem-server (same protocol,
 * same flags) that formats its region with ivnet rings and keeps the peer
 * table. Everything but daemonising lives in the library (ivnetd.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ivnetd.h"

static int write_pid_file(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f);
}

int main(int argc, char **argv)
{
	static struct ivnetd d;
	struct ivnetd_config cfg;
	int ret;

	ret = ivnetd_parse_args(&cfg, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	/* Like ivshmem-server: the sockets and region exist before we detach,
	 * so that a QEMU started right after us finds them. */
	if (ivnetd_start(&d, &cfg))
		return 1;
	if (!cfg.foreground) {
		if (daemon(0, 0) < 0 || write_pid_file(cfg.pid_file) < 0) {
			ivnetd_log(&d, "error daemonizing: %s", strerror(errno));
			ivnetd_stop(&d);
			return 1;
		}
	}
	ret = ivnetd_run(&d);
	ivnetd_stop(&d);
	if (!cfg.foreground)
		unlink(cfg.pid_file);
	return ret ? 1 : 0;
}

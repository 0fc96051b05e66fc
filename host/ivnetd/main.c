// SPDX-License-Identifier: MIT
/*
 * ivnetd - the ivnet broker: a drop-in QEMU ivshmem-server (same protocol,
 * same flags) that formats its region with ivnet rings and keeps the peer
 * table. Everything but daemonising lives in the library (ivnetd.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

/*
 * Like ivshmem-server, the socket and region exist when the command returns,
 * so a QEMU started right after finds them. The fork comes first, though:
 * the signalfd and epoll must belong to the process that runs the loop. The
 * child reports over a pipe whether it started; the parent exits with that.
 */
static int detach(int *report)
{
	int pfd[2], null;
	pid_t pid;
	char ok;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(pfd[1]);
		exit(read(pfd[0], &ok, 1) == 1 && ok == 0 ? 0 : 1);
	}
	close(pfd[0]);
	*report = pfd[1];
	if (setsid() < 0)
		return -1;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		/* stderr stays until the start succeeded: errors reach the user */
		close(null);
	}
	return 0;
}

static void report_started(int report, int ok)
{
	char c = ok ? 0 : 1;

	if (report < 0)
		return;
	if (write(report, &c, 1) != 1)
		(void)c;
	close(report);
	if (ok) {
		/* after the start: relative paths on the command line worked */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (chdir("/") < 0)
			(void)null;
		if (null >= 0) {
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
}

int main(int argc, char **argv)
{
	static struct ivnetd d;
	struct ivnetd_config cfg;
	int ret, report = -1;

	ret = ivnetd_parse_args(&cfg, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (!cfg.foreground && detach(&report) < 0) {
		fprintf(stderr, "ivnetd: cannot daemonize: %s\n", strerror(errno));
		return 1;
	}
	if (ivnetd_start(&d, &cfg)) {
		report_started(report, 0);
		return 1;
	}
	if (!cfg.foreground && write_pid_file(cfg.pid_file) < 0) {
		ivnetd_log(&d, "error pid file %s: %s", cfg.pid_file, strerror(errno));
		ivnetd_stop(&d);
		report_started(report, 0);
		return 1;
	}
	report_started(report, 1);
	ret = ivnetd_run(&d);
	ivnetd_stop(&d);
	if (!cfg.foreground)
		unlink(cfg.pid_file);
	return ret ? 1 : 0;
}

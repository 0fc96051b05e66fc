// SPDX-License-Identifier: MIT
/*
 * ivnetctl - ask ivnetd, iproute2-style:
 *
 *   ivnetctl [-s CTRL] [-j] status
 *   ivnetctl [-s CTRL] [-j] segment show [SEGMENT]
 *   ivnetctl [-s CTRL] [-j] peer list [SEGMENT]
 *   ivnetctl [-s CTRL] [-j] stats [SEGMENT]
 *   ivnetctl [-s CTRL] [-j] topology
 *   ivnetctl [-s CTRL] [-j] placement [show] [SEGMENT]
 *   ivnetctl [-s CTRL] [-j] placement set SEGMENT [policy=P] [pin=M] [cpus=L] [sched=S]
 *   ivnetctl [-s CTRL] peer label SEGMENT ID|pid=PID [name=NAME] [uuid=UUID] [qmp=PATH]
 *   ivnetctl [-s CTRL] peer uplink SEGMENT ID on|off
 *
 * ivnet-vswitch's control socket speaks the same protocol: with -s pointing
 * at it, `port list | stats | fdb show | port add ... | port del NAME`.
 *
 * The daemon renders text or JSON (-j) from the same code; this tool sends
 * the request line and prints the answer. CTRL defaults to $IVNET_CTL, else
 * /tmp/ivshmem_socket.ctl (ivnetd's default). Exit status 1 on an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_client.h"
#include "ctl_io.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: ivnetctl [-s CTRL] [-j] { status | segment show [SEGMENT] |\n"
		"         peer list [SEGMENT] | stats [SEGMENT] | topology |\n"
		"         placement [show] [SEGMENT] |\n"
		"         placement set SEGMENT [policy=none|pack|spread]\n"
		"             [pin=affinity|cpuset] [cpus=LIST] [sched=fifo:N|rr:N|nice:N] |\n"
		"         peer label SEGMENT ID|pid=PID [name=NAME] [uuid=UUID] [qmp=PATH] |\n"
		"         peer uplink SEGMENT ID on|off | help }\n"
		"       ivnetctl -s VSWITCH-CTRL [-j] { status | port list | stats | fdb show |\n"
		"                port add NAME KIND K=V... | port del NAME | help }\n");
	exit(2);
}

/* The words after the options, one line (-j first when asked). */
static void request_line(char *line, size_t n, int json, int argc, char **argv)
{
	size_t len = 0;

	line[0] = '\0';
	if (json)
		len = (size_t)snprintf(line, n, "-j");
	for (; argc > 0; argc--, argv++) {
		int w = snprintf(line + len, n - len, "%s%s", len ? " " : "", *argv);

		if (w < 0 || (size_t)w >= n - len) {
			fprintf(stderr, "ivnetctl: request too long\n");
			exit(2);
		}
		len += (size_t)w;
	}
}

int main(int argc, char **argv)
{
	const char *ctl = getenv("IVNET_CTL");
	char line[CTL_LINE_MAX + 1], *ans;
	int i = 1, json = 0, fd, e;
	size_t len;

	if (!ctl)
		ctl = "/tmp/ivshmem_socket.ctl";
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j"))
			json = 1;
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			ctl = argv[++i];
		else
			usage();
	}
	if (i == argc)
		usage();
	request_line(line, sizeof(line), json, argc - i, argv + i);
	fd = ctl_client_connect(ctl, 0);
	if (fd == -ENAMETOOLONG) {
		fprintf(stderr, "ivnetctl: control path too long\n");
		return 2;
	}
	if (fd < 0) {
		fprintf(stderr, "ivnetctl: cannot reach %s: %s\n", ctl, strerror(-fd));
		return 1;
	}
	e = ctl_client_send(fd, line);
	if (e) {
		fprintf(stderr, "ivnetctl: write: %s\n", strerror(-e));
		return 1;
	}
	e = ctl_client_answer(fd, 0, &ans, &len);
	close(fd);
	if (e) {
		fprintf(stderr, "ivnetctl: read: %s\n", strerror(-e));
		return 1;
	}
	fwrite(ans, 1, len, stdout);
	e = ctl_answer_is_error(ans);
	free(ans);
	return e ? 1 : 0;
}

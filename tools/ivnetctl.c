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
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_ 1024

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

static int connect_ctl(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "ivnetctl: control path too long\n");
		exit(2);
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "ivnetctl: cannot reach %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *ctl = getenv("IVNET_CTL");
	char line[LINE_MAX_ + 2], buf[4096];
	size_t len = 0, seen = 0;
	int i = 1, json = 0, fd, failed = 0;
	char head[16];
	ssize_t n;

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
	if (json)
		len = (size_t)snprintf(line, sizeof(line), "-j");
	for (; i < argc; i++) {
		int w = snprintf(line + len, sizeof(line) - len, "%s%s", len ? " " : "", argv[i]);

		if (w < 0 || (size_t)w >= sizeof(line) - len - 1) {
			fprintf(stderr, "ivnetctl: request too long\n");
			return 2;
		}
		len += (size_t)w;
	}
	line[len++] = '\n';

	fd = connect_ctl(ctl);
	if (write(fd, line, len) != (ssize_t)len) {
		fprintf(stderr, "ivnetctl: write: %s\n", strerror(errno));
		return 1;
	}
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		/* the answer's first bytes say whether it is an error */
		if (seen < sizeof(head)) {
			size_t k =
				(size_t)n < sizeof(head) - seen ? (size_t)n : sizeof(head) - seen;

			memcpy(head + seen, buf, k);
			seen += k;
			if (seen >= 7)
				failed = !strncmp(head, "error: ", 7) ||
					 (seen >= 9 && !strncmp(head, "{\"error\":", 9));
		}
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	if (n < 0) {
		fprintf(stderr, "ivnetctl: read: %s\n", strerror(errno));
		return 1;
	}
	return failed ? 1 : 0;
}

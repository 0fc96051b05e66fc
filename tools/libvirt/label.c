// SPDX-License-Identifier: MIT
/*
 * label.c - which of a segment's peers is a domain's QEMU, and telling the
 * broker its name and UUID (shown by `ivnetctl peer list`).
 *
 * ivnetd knows each peer's pid (SO_PEERCRED when it joined). The domain's
 * QEMU pid is in libvirt's pid file when we can read it (the hook can);
 * otherwise the peer whose command line carries `-uuid UUID` is the
 * domain's (libvirt always passes it). A known pid is preferred: any local
 * process could put "-uuid" in its own command line.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ivlv.h"

#define CMDLINE_MAX (1u << 20)
#define PEERS_MAX 64

void ivlv_label_word(const char *in, char *out, size_t n)
{
	size_t i;

	/* ivnetd takes [A-Za-z0-9._-] in a label */
	for (i = 0; in[i] && i + 1 < n; i++) {
		char ch = in[i];

		out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
					 (ch >= '0' && ch <= '9') || strchr("._-", ch)
				 ? ch
				 : '_';
	}
	out[i] = '\0';
}

static int cmdline_has_uuid(pid_t pid, const char *uuid)
{
	char path[64], *buf = malloc(CMDLINE_MAX), *p, *end;
	size_t len = 0;
	ssize_t n;
	int fd, found = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf)
		goto out;
	while (len < CMDLINE_MAX - 1 && (n = read(fd, buf + len, CMDLINE_MAX - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	end = buf + len;
	for (p = buf; p < end; p += strlen(p) + 1) {
		if (!strcmp(p, "-uuid") && p + strlen(p) + 1 < end &&
		    !strcasecmp(p + strlen(p) + 1, uuid)) {
			found = 1;
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return found;
}

int ivlv_label_domain(const char *ctl, const char *segment, const char *name, const char *uuid,
		      pid_t qemu_pid, char *err, size_t el)
{
	char label[64], id[40];
	pid_t pids[PEERS_MAX];
	int n, i, j, labelled = 0;

	n = ivlv_broker_peer_pids(ctl, segment, pids, PEERS_MAX, err, el);
	if (n < 0)
		return -1;
	ivlv_label_word(name, label, sizeof(label));
	ivlv_label_word(uuid, id, sizeof(id));
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && pids[j] != pids[i]; j++)
			;
		if (j < i) /* one request labels every peer of that pid */
			continue;
		if (qemu_pid > 0 ? pids[i] != qemu_pid : !cmdline_has_uuid(pids[i], uuid))
			continue;
		if (ivlv_broker_label(ctl, segment, pids[i], label, id, err, el))
			return -1;
		labelled++;
	}
	if (!labelled) {
		if (qemu_pid > 0)
			snprintf(err, el, "no peer of segment '%s' has QEMU's pid %d", segment,
				 (int)qemu_pid);
		else
			snprintf(err, el, "no peer of segment '%s' is a QEMU with -uuid %s",
				 segment, uuid);
		return -1;
	}
	return 0;
}

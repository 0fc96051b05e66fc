// SPDX-License-Identifier: MIT
/*
 * hook.c - `hook DOMAIN OP SUBOP EXTRA`, run by libvirt's qemu hook
 * (qemu-hook.in, installed as /etc/libvirt/hooks/qemu.d/ivnet) with the
 * domain XML on stdin.
 *
 * When a domain has started (or libvirtd reconnects to it), each of its
 * ivshmem-doorbell devices whose server socket belongs to an ivnetd segment
 * gets the domain's name and UUID as its peer label. Admin devices (named
 * SEGMENT:admin, or on a segment's admin socket) are no peers: skipped,
 * silently. The broker is found
 * from the socket: ivnetd's default control socket is the segment's socket
 * plus ".ctl"; else --control, $IVNET_CTL, or the default. On stopped or
 * release there is nothing to do: the broker sees QEMU leave.
 *
 * A hook must never fail a domain nor hold libvirt: every socket call has
 * a timeout (broker.c), problems are one line on the log, and the result
 * is always 0.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "ivlv.h"

#define XML_MAX (16u << 20)
#define DEVICES_MAX 64

static char *read_all(FILE *in, size_t *len)
{
	size_t cap = 0;
	char *buf = NULL;

	*len = 0;
	for (;;) {
		size_t n;

		if (cap - *len < 4096) {
			char *nb;

			if (cap >= XML_MAX)
				goto fail;
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb)
				goto fail;
			buf = nb;
		}
		n = fread(buf + *len, 1, cap - *len, in);
		*len += n;
		if (n == 0)
			return ferror(in) ? (free(buf), NULL) : buf;
	}
fail:
	free(buf);
	return NULL;
}

static void text_of(xmlDocPtr doc, const char *elem, char *dst, size_t n)
{
	xmlNodePtr k;

	dst[0] = '\0';
	for (k = xmlDocGetRootElement(doc)->children; k; k = k->next) {
		xmlChar *t;

		if (k->type != XML_ELEMENT_NODE || xmlStrcmp(k->name, BAD_CAST elem))
			continue;
		t = xmlNodeGetContent(k);
		if (t && strlen((const char *)t) < n)
			strcpy(dst, (const char *)t);
		xmlFree(t);
		return;
	}
}

/* QEMU's pid from libvirt's pid file: system daemon, else session. */
static pid_t qemu_pid(const char *domain)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char path[512], buf[32];
	long v = 0;
	ssize_t n;
	int fd;

	/* libvirt forbids '/' in names; a path is never built from one */
	if (strchr(domain, '/') || !domain[0])
		return 0;
	if (getuid() == 0)
		snprintf(path, sizeof(path), "/run/libvirt/qemu/%s.pid", domain);
	else if (xdg)
		snprintf(path, sizeof(path), "%s/libvirt/qemu/run/%s.pid", xdg, domain);
	else
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v < (1L << 22) ? (pid_t)v : 0;
}

static int same_socket(const char *a, const char *b)
{
	struct stat sa, sb;

	if (!strcmp(a, b))
		return 1;
	return !stat(a, &sa) && !stat(b, &sb) && S_ISSOCK(sa.st_mode) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

#define CTL_LEN (IVLV_PATH_LEN + 8)

/* The ivnetd segment served at socket path: its control socket into ctl.
 * 0, 1 if server is the segment's admin socket, -1 if no broker says. */
static int find_segment(const char *server, const char *fallback, char ctl[CTL_LEN],
			struct ivlv_segment *seg)
{
	char cand[2][CTL_LEN], err[IVLV_ERRLEN];
	int i, k, n;

	snprintf(cand[0], sizeof(cand[0]), "%s.ctl", server);
	snprintf(cand[1], sizeof(cand[1]), "%s", fallback);
	for (i = 0; i < 2; i++) {
		struct ivlv_segment *s;

		if ((i == 1 && !strcmp(cand[0], cand[1])) || access(cand[i], F_OK))
			continue;
		if (ivlv_broker_segments(cand[i], &s, &n, err, sizeof(err)))
			continue;
		for (k = 0; k < n && !same_socket(s[k].socket, server) &&
			    !(s[k].admin[0] && same_socket(s[k].admin, server));
		     k++)
			;
		if (k < n) {
			*seg = s[k];
			memcpy(ctl, cand[i], CTL_LEN);
		}
		free(s);
		if (k < n)
			return !same_socket(seg->socket, server);
	}
	return -1;
}

static void label_devices(const struct ivlv_opts *o, xmlDocPtr doc, const char *name, FILE *log)
{
	struct ivlv_shmem s[DEVICES_MAX];
	char uuid[VIR_UUID_STRING_BUFLEN], ctl[CTL_LEN], err[IVLV_ERRLEN];
	struct ivlv_segment seg;
	pid_t pid = qemu_pid(name);
	int n = ivlv_shmem_list(doc, s, DEVICES_MAX), i, found;

	text_of(doc, "uuid", uuid, sizeof(uuid));
	for (i = 0; i < n; i++) {
		if (!s[i].doorbell || s[i].server[0] != '/' || ivlv_is_admin_name(s[i].name))
			continue;
		found = find_segment(s[i].server, o->control, ctl, &seg);
		if (found < 0)
			fprintf(log, "ivnet hook: %s: no running ivnetd serves %s: not labelled\n",
				name, s[i].server);
		if (found)
			continue;
		if (ivlv_label_domain(ctl, seg.name, name, uuid, pid, err, sizeof(err)))
			fprintf(log, "ivnet hook: %s: %s\n", name, err);
	}
}

int ivlv_hook(const struct ivlv_opts *o, FILE *in, FILE *log)
{
	const char *op = o->nargs >= 2 ? o->args[1] : "";
	char name[256];
	xmlDocPtr doc;
	size_t len;
	char *xml;

	if (strcmp(op, "started") && strcmp(op, "reconnect") && strcmp(op, "attach"))
		return 0;
	xml = read_all(in, &len);
	if (!xml || len > INT32_MAX) {
		fprintf(log, "ivnet hook: %s: cannot read the domain XML\n", o->args[0]);
		free(xml);
		return 0;
	}
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	free(xml);
	if (!doc || !xmlDocGetRootElement(doc)) {
		fprintf(log, "ivnet hook: %s: the domain XML does not parse\n", o->args[0]);
		xmlFreeDoc(doc);
		return 0;
	}
	text_of(doc, "name", name, sizeof(name));
	label_devices(o, doc, name[0] ? name : o->args[0], log);
	xmlFreeDoc(doc);
	return 0;
}

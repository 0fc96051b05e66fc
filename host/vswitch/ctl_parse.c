// SPDX-License-Identifier: MIT
/*
 * ctl_parse.c - requests and port specifications (grammar in ctl_parse.h).
 * Pure: no DPDK and no switch state.
 */
#include "ctl_parse.h"
#include "ctl_io.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_WORDS 16

static const char *const kinds[] = {
	[VSW_PORT_VHOST] = "vhost",
	[VSW_PORT_DPDK] = "dpdk",
	[VSW_PORT_IVNET] = "ivnet",
};

const char *vsw_kind_name(enum vsw_port_kind k)
{
	return (unsigned int)k < sizeof(kinds) / sizeof(kinds[0]) ? kinds[k] : "?";
}

/* A switch's names and values are never empty. */
static int copy(char *dst, size_t n, const char *s)
{
	return *s ? ctl_word_copy(dst, n, s) : -1;
}

int vsw_is_pci_addr(const char *s, size_t len)
{
	/* DDDD:BB:DD.F or BB:DD.F, hexadecimal but the function digit */
	const char *full = "xxxx:xx:xx.d", *p;
	size_t i;

	p = len == 12 ? full : len == 7 ? full + 5 : NULL;
	if (!p)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (p[i] == 'x' ? !isxdigit(c) : p[i] == 'd' ? (c < '0' || c > '7') : c != p[i])
			return 0;
	}
	return 1;
}

/* A path we put into DPDK's KEY=VALUE,... device arguments. */
static int path_ok(const char *v)
{
	return !strpbrk(v, ",;=\"'\\") && v[0];
}

static int dev_ok(const char *v)
{
	size_t first = strcspn(v, ",");

	if (!ctl_word_ok(v, "_.:,=/-"))
		return 0;
	return vsw_is_pci_addr(v, first) || (first > 4 && !strncmp(v, "net_", 4));
}

/* Keys a port spec has given so far (each at most once). */
struct seen {
	int path, client, dev, ctl;
};

/* One KEY=VALUE of a spec: 0, -1 for a bad or repeated value, -2 for a key
 * this kind does not take. */
static int take_key(struct vsw_port_spec *s, struct seen *seen, const char *k, const char *v)
{
	if ((s->kind == VSW_PORT_VHOST && !strcmp(k, "path")) ||
	    (s->kind == VSW_PORT_IVNET && !strcmp(k, "socket")))
		return seen->path++ || !path_ok(v) || copy(s->path, sizeof(s->path), v) ? -1 : 0;
	if (s->kind == VSW_PORT_VHOST && !strcmp(k, "client")) {
		if (seen->client++ || (strcmp(v, "0") && strcmp(v, "1")))
			return -1;
		s->client = v[0] == '1';
		return 0;
	}
	if (s->kind == VSW_PORT_DPDK && !strcmp(k, "dev"))
		return seen->dev++ || !dev_ok(v) || copy(s->dev, sizeof(s->dev), v) ? -1 : 0;
	if (s->kind == VSW_PORT_IVNET && !strcmp(k, "ctl")) {
		if (seen->ctl++)
			return -1;
		/* none: stay an ordinary peer */
		return strcmp(v, "none") && (!path_ok(v) || copy(s->ctl, sizeof(s->ctl), v)) ? -1
											     : 0;
	}
	return -2;
}

static const char *required_key(enum vsw_port_kind k)
{
	return k == VSW_PORT_DPDK ? "dev" : k == VSW_PORT_VHOST ? "path" : "socket";
}

static int spec_words(char **w, int n, struct vsw_port_spec *s, char *err, size_t el)
{
	struct seen seen = {0};
	int i;

	memset(s, 0, sizeof(*s));
	if (n < 2) {
		snprintf(err, el, "usage: NAME vhost|dpdk|ivnet KEY=VALUE ...");
		return -1;
	}
	if (copy(s->name, sizeof(s->name), w[0]) || !ctl_word_ok(w[0], "_.-")) {
		snprintf(err, el, "bad port name '%.40s' ([A-Za-z0-9_.-]{1,%d})", w[0],
			 VSW_NAME_MAX - 1);
		return -1;
	}
	for (s->kind = 0; s->kind < sizeof(kinds) / sizeof(kinds[0]); s->kind++)
		if (!strcmp(w[1], kinds[s->kind]))
			break;
	if (s->kind == sizeof(kinds) / sizeof(kinds[0])) {
		snprintf(err, el, "unknown port kind '%.16s' (vhost, dpdk, ivnet)", w[1]);
		return -1;
	}
	for (i = 2; i < n; i++) {
		char *eq = strchr(w[i], '=');
		int ret;

		if (!eq) {
			snprintf(err, el, "expected KEY=VALUE, got '%.40s'", w[i]);
			return -1;
		}
		*eq = '\0';
		ret = take_key(s, &seen, w[i], eq + 1);
		if (ret == -2) {
			snprintf(err, el, "unknown key '%.16s' for a %s port", w[i],
				 kinds[s->kind]);
			return -1;
		}
		if (ret) {
			snprintf(err, el, "bad or repeated value for %.16s: '%.60s'", w[i], eq + 1);
			return -1;
		}
	}
	if (s->kind == VSW_PORT_DPDK ? !seen.dev : !seen.path) {
		snprintf(err, el, "a %s port needs %s=", kinds[s->kind], required_key(s->kind));
		return -1;
	}
	if (s->kind == VSW_PORT_IVNET && !seen.ctl &&
	    snprintf(s->ctl, sizeof(s->ctl), "%s.ctl", s->path) >= (int)sizeof(s->ctl)) {
		snprintf(err, el, "socket path too long for its default ctl= path");
		return -1;
	}
	return 0;
}

int vsw_spec_parse(const char *line, struct vsw_port_spec *spec, char *err, size_t errlen)
{
	char buf[CTL_LINE_MAX + 1], *w[MAX_WORDS];
	int n = ctl_words(line, strlen(line), buf, CTL_LINE_MAX, w, MAX_WORDS, err, errlen);

	return n < 0 ? -1 : spec_words(w, n, spec, err, errlen);
}

int vsw_ctl_parse(const char *line, size_t len, struct vsw_request *req, char *err, size_t errlen)
{
	struct ctl_words cw;

	memset(req, 0, sizeof(*req));
	if (ctl_request_words(&cw, line, len, MAX_WORDS, err, errlen))
		return -1;
	req->json = cw.first;
	if (ctl_is(&cw, 0, "status") && ctl_alone(&cw, 1))
		req->verb = VSW_CTL_STATUS;
	else if (ctl_is(&cw, 0, "help") && ctl_alone(&cw, 1))
		req->verb = VSW_CTL_HELP;
	else if (ctl_is(&cw, 0, "stats") && ctl_alone(&cw, 1))
		req->verb = VSW_CTL_STATS;
	else if (ctl_is(&cw, 0, "port") && ctl_is(&cw, 1, "list") && ctl_alone(&cw, 2))
		req->verb = VSW_CTL_PORT_LIST;
	else if (ctl_is(&cw, 0, "fdb") && ctl_is(&cw, 1, "show") && ctl_alone(&cw, 2))
		req->verb = VSW_CTL_FDB_SHOW;
	else if (ctl_is(&cw, 0, "fdb") && ctl_is(&cw, 1, "flush") && ctl_alone(&cw, 2))
		req->verb = VSW_CTL_FDB_FLUSH;
	else if (ctl_is(&cw, 0, "port") && ctl_is(&cw, 1, "add"))
		return req->verb = VSW_CTL_PORT_ADD,
		       spec_words(cw.w + cw.first + 2, cw.n - cw.first - 2, &req->spec, err,
				  errlen);
	else if (ctl_is(&cw, 0, "port") && ctl_is(&cw, 1, "del")) {
		req->verb = VSW_CTL_PORT_DEL;
		if (!ctl_alone(&cw, 3) || copy(req->name, sizeof(req->name), cw.w[cw.first + 2]) ||
		    !ctl_word_ok(req->name, "_.-")) {
			snprintf(err, errlen, "usage: port del NAME");
			return -1;
		}
	} else {
		snprintf(err, errlen, "unknown request '%.32s' (try: help)", cw.w[cw.first]);
		return -1;
	}
	return 0;
}

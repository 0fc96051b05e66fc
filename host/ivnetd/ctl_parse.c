// SPDX-License-Identifier: MIT
/*
 * ctl_parse.c - the control socket's request parser (grammar in control.c).
 * Pure: no daemon state, so that it can be fuzzed alone (tests/fuzz/).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_io.h"
#include "ivnetd.h"

#define MAX_WORDS 8

/* A peer is named by its id, or by pid=PID: the pid of the process that
 * joined (SO_PEERCRED), which is what a libvirt hook knows of its QEMU. */
static int parse_peer(struct ivnetd_ctl_request *req, const char *w, char *err, size_t el)
{
	const char *digits = strncmp(w, "pid=", 4) ? w : w + 4;
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(digits, &end, 10);
	if (!isdigit((unsigned char)digits[0]) || *end || errno) {
		snprintf(err, el, "bad peer '%.16s' (an id, or pid=PID)", w);
		return -1;
	}
	if (digits == w) {
		if (v >= IVNET_PEERS_MAX) {
			snprintf(err, el, "bad peer id '%.16s'", w);
			return -1;
		}
		req->peer_id = (uint32_t)v;
		return 0;
	}
	if (v == 0 || v > INT_MAX) {
		snprintf(err, el, "bad pid '%.16s'", digits);
		return -1;
	}
	req->pid = (pid_t)v;
	return 0;
}

static int parse_label(struct ivnetd_ctl_request *req, char **w, int n, char *err, size_t el)
{
	int i;

	if (n < 2) {
		snprintf(err, el, "usage: peer label SEGMENT ID|pid=PID [name=NAME] [uuid=UUID]");
		return -1;
	}
	if (ctl_word_copy(req->segment, sizeof(req->segment), w[0]) || !ctl_word_ok(w[0], "._-")) {
		snprintf(err, el, "bad segment name");
		return -1;
	}
	if (parse_peer(req, w[1], err, el))
		return -1;
	for (i = 2; i < n; i++) {
		if (!strncmp(w[i], "name=", 5) && ctl_word_ok(w[i] + 5, "._-") &&
		    !ctl_word_copy(req->label, sizeof(req->label), w[i] + 5))
			continue;
		if (!strncmp(w[i], "uuid=", 5) && ctl_word_ok(w[i] + 5, "-") &&
		    !ctl_word_copy(req->uuid, sizeof(req->uuid), w[i] + 5))
			continue;
		if (!strncmp(w[i], "qmp=", 4) && w[i][4] == '/' && ctl_word_ok(w[i] + 4, "/._-") &&
		    !ctl_word_copy(req->qmp, sizeof(req->qmp), w[i] + 4))
			continue;
		snprintf(err, el, "bad label '%.32s' (name=[A-Za-z0-9._-]{1,63}, uuid=, qmp=/PATH)",
			 w[i]);
		return -1;
	}
	return 0;
}

/* SEGMENT ID on|off */
static int parse_uplink(struct ivnetd_ctl_request *req, char **w, int n, char *err, size_t el)
{
	char *end;
	unsigned long id;

	if (n != 3 || (strcmp(w[2], "on") && strcmp(w[2], "off"))) {
		snprintf(err, el, "usage: peer uplink SEGMENT ID on|off");
		return -1;
	}
	if (ctl_word_copy(req->segment, sizeof(req->segment), w[0]) || !ctl_word_ok(w[0], "._-")) {
		snprintf(err, el, "bad segment name");
		return -1;
	}
	id = strtoul(w[1], &end, 10);
	if (!isdigit((unsigned char)w[1][0]) || *end || id >= IVNET_PEERS_MAX) {
		snprintf(err, el, "bad peer id '%.16s'", w[1]);
		return -1;
	}
	req->peer_id = (uint32_t)id;
	req->uplink = !strcmp(w[2], "on");
	return 0;
}

/* placement set SEGMENT KEY=VALUE...: policy (or placement), pin, cpus,
 * sched; parsed here with the options' own vocabulary. */
static int parse_place_set(struct ivnetd_ctl_request *req, char **w, int n, char *err, size_t el)
{
	int i;

	if (n < 2) {
		snprintf(err, el,
			 "usage: placement set SEGMENT [policy=none|pack|spread] "
			 "[pin=affinity|cpuset] [cpus=LIST] [sched=S]");
		return -1;
	}
	if (ctl_word_copy(req->segment, sizeof(req->segment), w[0]) || !ctl_word_ok(w[0], "._-")) {
		snprintf(err, el, "bad segment name");
		return -1;
	}
	ivnetd_placement_defaults(&req->place);
	for (i = 1; i < n; i++) {
		char key[16], *eq = strchr(w[i], '=');
		size_t k = eq ? (size_t)(eq - w[i]) : 0;
		unsigned before = req->place_keys;

		if (!eq || k >= sizeof(key)) {
			snprintf(err, el, "bad setting '%.32s' (KEY=VALUE)", w[i]);
			return -1;
		}
		memcpy(key, w[i], k);
		key[k] = '\0';
		if (ivnetd_placement_key(&req->place, key, eq + 1, &req->place_keys) ||
		    req->place_keys == before) {
			snprintf(err, el,
				 "bad setting '%.32s' (policy=, pin=, cpus= or sched= with a "
				 "valid value)",
				 w[i]);
			return -1;
		}
	}
	return 0;
}

/* The requests that are one word. */
static const struct {
	const char *word;
	enum ivnetd_ctl_verb verb;
} alone[] = {
	{"status", IVNETD_CTL_STATUS},
	{"help", IVNETD_CTL_HELP},
	{"topology", IVNETD_CTL_TOPOLOGY},
};

/* The rest of a request of nw words that takes [SEGMENT]. */
static int segment_arg(struct ivnetd_ctl_request *req, const struct ctl_words *cw, int nw,
		       char *err, size_t errlen)
{
	const char *w;

	if (ctl_alone(cw, nw))
		return 0;
	w = cw->w[cw->first + nw];
	if (!ctl_alone(cw, nw + 1) || !ctl_word_ok(w, "._-") ||
	    ctl_word_copy(req->segment, sizeof(req->segment), w)) {
		snprintf(err, errlen, "bad segment argument");
		return -1;
	}
	return 0;
}

int ivnetd_ctl_parse(const char *line, size_t len, struct ivnetd_ctl_request *req, char *err,
		     size_t errlen)
{
	struct ctl_words cw;
	char **rest = cw.w;
	int nrest;
	size_t k;

	memset(req, 0, sizeof(*req));
	if (ctl_request_words(&cw, line, len, MAX_WORDS, err, errlen))
		return -1;
	req->json = cw.first;
	rest += cw.first + 2;
	nrest = cw.n - cw.first - 2;
	for (k = 0; ctl_alone(&cw, 1) && k < sizeof(alone) / sizeof(alone[0]); k++)
		if (ctl_is(&cw, 0, alone[k].word)) {
			req->verb = alone[k].verb;
			return 0;
		}
	if (ctl_is(&cw, 0, "peer") && ctl_is(&cw, 1, "label"))
		return req->verb = IVNETD_CTL_PEER_LABEL,
		       parse_label(req, rest, nrest, err, errlen);
	if (ctl_is(&cw, 0, "peer") && ctl_is(&cw, 1, "uplink"))
		return req->verb = IVNETD_CTL_PEER_UPLINK,
		       parse_uplink(req, rest, nrest, err, errlen);
	if (ctl_is(&cw, 0, "placement") && ctl_is(&cw, 1, "set"))
		return req->verb = IVNETD_CTL_PLACEMENT_SET,
		       parse_place_set(req, rest, nrest, err, errlen);
	if (ctl_is(&cw, 0, "placement") && ctl_is(&cw, 1, "show"))
		return req->verb = IVNETD_CTL_PLACEMENT_SHOW, segment_arg(req, &cw, 2, err, errlen);
	if (ctl_is(&cw, 0, "placement"))
		return req->verb = IVNETD_CTL_PLACEMENT_SHOW, segment_arg(req, &cw, 1, err, errlen);
	if (ctl_is(&cw, 0, "segment") && ctl_is(&cw, 1, "show"))
		return req->verb = IVNETD_CTL_SEGMENT_SHOW, segment_arg(req, &cw, 2, err, errlen);
	if (ctl_is(&cw, 0, "peer") && ctl_is(&cw, 1, "list"))
		return req->verb = IVNETD_CTL_PEER_LIST, segment_arg(req, &cw, 2, err, errlen);
	if (ctl_is(&cw, 0, "stats"))
		return req->verb = IVNETD_CTL_STATS, segment_arg(req, &cw, 1, err, errlen);
	snprintf(err, errlen, "unknown request '%.32s' (try: help)", cw.w[cw.first]);
	return -1;
}

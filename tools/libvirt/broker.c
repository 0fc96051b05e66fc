// SPDX-License-Identifier: MIT
/*
 * broker.c - ivnetd's control socket: one request line per connection,
 * answered in JSON (-j) and closed (host/ivnetd/control.c). Everything read back
 * is checked before use: types, lengths, ranges.
 *
 * The socket is host/util's client (ctl_client.h). Every socket call has a
 * timeout, connect included (a full backlog blocks it): the libvirt hook
 * runs this code and must never hold libvirt.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_client.h"
#include "ivlv.h"

#define ANSWER_MAX (1u << 20)
#define SYSTEMD_CTL "/run/ivnet/ivnet.sock.ctl" /* contrib/systemd's ivnetd */
#define IVNETD_CTL "/tmp/ivshmem_socket.ctl"	/* ivnetd's own default */

const char *ivlv_control_default(void)
{
	const char *env = getenv("IVNET_CTL");

	if (env && *env)
		return env;
	if (access(SYSTEMD_CTL, F_OK) == 0)
		return SYSTEMD_CTL;
	return IVNETD_CTL;
}

static void connect_error(const char *ctl, int e, char *err, size_t el)
{
	switch (e) {
	case ENAMETOOLONG:
		snprintf(err, el, "control socket path too long: %s", ctl);
		break;
	case ENOENT:
	case ECONNREFUSED:
	case ENOTSOCK:
	case ENOTDIR:
		snprintf(err, el, "its broker is not running (ivnetd control socket %s: %s)", ctl,
			 strerror(e));
		break;
	case EAGAIN:
	case EINPROGRESS:
		snprintf(err, el, "ivnetd at %s accepts no connection (busy or hung)", ctl);
		break;
	default:
		snprintf(err, el, "cannot reach ivnetd at %s: %s", ctl, strerror(e));
	}
}

static void answer_read_error(const char *ctl, int e, char *err, size_t el)
{
	if (e == E2BIG)
		snprintf(err, el, "ivnetd at %s: answer longer than %u bytes", ctl, ANSWER_MAX);
	else if (e == EBADMSG)
		snprintf(err, el, "ivnetd at %s: empty or binary answer", ctl);
	else if (e == ENOMEM)
		snprintf(err, el, "out of memory");
	else
		snprintf(err, el, "ivnetd at %s: %s", ctl,
			 e == EAGAIN ? "no answer in time" : strerror(e));
}

char *ivlv_ctl_request(const char *ctl, const char *line, char *err, size_t el)
{
	char *ans = NULL;
	int fd, e;

	fd = ctl_client_connect(ctl, IVLV_CTL_TIMEOUT_MS);
	if (fd < 0) {
		connect_error(ctl, -fd, err, el);
		return NULL;
	}
	e = ctl_client_send(fd, line);
	if (e)
		snprintf(err, el, "ivnetd at %s: send: %s", ctl,
			 e == -EAGAIN ? "timed out" : strerror(-e));
	else if ((e = ctl_client_answer(fd, ANSWER_MAX, &ans, NULL)))
		answer_read_error(ctl, -e, err, el);
	close(fd);
	if (ans && !*ans) { /* ivnetd answers every request with something */
		answer_read_error(ctl, EBADMSG, err, el);
		free(ans);
		ans = NULL;
	}
	return ans;
}

/* ------------------------------------------------------------- answers */

/* The daemon's "error: REASON" (text) or {"error":"REASON"} (JSON). */
static int answer_error(const char *ans, json_t *root, char *err, size_t el)
{
	json_t *e;

	if (!strncmp(ans, "error: ", 7)) {
		snprintf(err, el, "ivnetd: %.*s", (int)strcspn(ans + 7, "\n"), ans + 7);
		return -1;
	}
	e = root ? json_object_get(root, "error") : NULL;
	if (e) {
		snprintf(err, el, "ivnetd: %.200s",
			 json_is_string(e) ? json_string_value(e) : "(an error)");
		return -1;
	}
	return 0;
}

static json_t *parse_answer(const char *ans, char *err, size_t el)
{
	json_error_t je;
	json_t *root;

	if (answer_error(ans, NULL, err, el))
		return NULL;
	root = json_loads(ans, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_object(root)) {
		snprintf(err, el, "ivnetd's answer is not a JSON object: %s", je.text);
		json_decref(root);
		return NULL;
	}
	if (answer_error(ans, root, err, el)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int get_str(json_t *o, const char *key, char *dst, size_t n)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= n || !json_string_length(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	strcpy(dst, json_string_value(v));
	return 0;
}

/* Segment names go back into request lines: ivnetd's own charset only. */
static int name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._-", *s)))
			return 0;
	return 1;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int get_int(json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static json_t *get_array(json_t *root, const char *key, char *err, size_t el)
{
	json_t *a = json_object_get(root, key);

	if (!json_is_array(a))
		snprintf(err, el, "ivnetd's answer has no \"%s\" array", key);
	return json_is_array(a) ? a : NULL;
}

/* Optional (older brokers and fakes leave it out: 0), valid if there. */
static int get_max_peers(json_t *o, unsigned *max_peers)
{
	json_int_t v = 0;

	*max_peers = 0;
	if (!json_object_get(o, "max_peers"))
		return 0;
	if (get_int(o, "max_peers", 1, 1024, &v))
		return -1;
	*max_peers = (unsigned)v;
	return 0;
}

/* Optional too (a broker before admin sockets: ""), printable if there:
 * attach puts it in domain XML as a <server path>. */
static int get_admin(json_t *o, char *admin, size_t n)
{
	admin[0] = '\0';
	if (!json_object_get(o, "admin"))
		return 0;
	if (get_str(o, "admin", admin, n) || !printable(admin)) {
		admin[0] = '\0';
		return -1;
	}
	return 0;
}

int ivlv_parse_segments(const char *ans, struct ivlv_segment **segs, int *n, char *err, size_t el)
{
	json_t *root = parse_answer(ans, err, el), *arr, *o;
	struct ivlv_segment *s = NULL;
	size_t i;

	*segs = NULL;
	*n = 0;
	if (!root)
		return -1;
	arr = get_array(root, "segments", err, el);
	if (!arr)
		goto fail;
	s = calloc(json_array_size(arr) + 1, sizeof(*s));
	if (!s) {
		snprintf(err, el, "out of memory");
		goto fail;
	}
	json_array_foreach(arr, i, o)
	{
		json_int_t size, vectors;

		if (get_str(o, "name", s[i].name, sizeof(s[i].name)) ||
		    get_str(o, "socket", s[i].socket, sizeof(s[i].socket)) || !name_ok(s[i].name) ||
		    !printable(s[i].socket) || get_int(o, "size", 1, INT64_MAX, &size) ||
		    get_int(o, "vectors", 1, 1024, &vectors)) {
			snprintf(
				err, el,
				"ivnetd's segment #%zu lacks a valid name, socket, size or vectors",
				i);
			goto fail;
		}
		s[i].size = (uint64_t)size;
		s[i].vectors = (unsigned)vectors;
		if (get_max_peers(o, &s[i].max_peers)) {
			snprintf(err, el, "ivnetd's segment #%zu has an invalid max_peers", i);
			goto fail;
		}
		if (get_admin(o, s[i].admin, sizeof(s[i].admin))) {
			snprintf(err, el, "ivnetd's segment #%zu has an invalid admin socket", i);
			goto fail;
		}
	}
	*segs = s;
	*n = (int)json_array_size(arr);
	json_decref(root);
	return 0;
fail:
	free(s);
	json_decref(root);
	return -1;
}

int ivlv_broker_segments(const char *ctl, struct ivlv_segment **segs, int *n, char *err, size_t el)
{
	char *ans = ivlv_ctl_request(ctl, "-j segment show", err, el);
	int ret;

	*segs = NULL;
	*n = 0;
	if (!ans)
		return -1;
	ret = ivlv_parse_segments(ans, segs, n, err, el);
	free(ans);
	return ret;
}

int ivlv_broker_segment(const char *ctl, const char *name, struct ivlv_segment *seg, char *err,
			size_t el)
{
	struct ivlv_segment *s;
	char names[256] = "";
	size_t off = 0;
	int n, i;

	if (ivlv_broker_segments(ctl, &s, &n, err, el))
		return -1;
	for (i = 0; i < n; i++) {
		if (!strcmp(s[i].name, name)) {
			*seg = s[i];
			free(s);
			return 0;
		}
		if (off < sizeof(names))
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
						i ? ", " : "", s[i].name);
	}
	snprintf(err, el, "ivnetd at %s has no segment '%s' (it serves: %s)", ctl, name,
		 n ? names : "none");
	free(s);
	return -1;
}

int ivlv_parse_placement(const char *ans, const char *segment, struct ivlv_placement *pl, char *err,
			 size_t el)
{
	json_t *root, *arr, *o;
	char policy[16];
	size_t i;

	/* ivnetd without placement answers -j requests it cannot parse with
	 * {"error":"unknown request 'placement' ..."}, older text clients with
	 * "error: unknown request": say what that means here. */
	if (strstr(ans, "unknown request") &&
	    (!strncmp(ans, "error: ", 7) || !strncmp(ans, "{\"error\":", 9))) {
		snprintf(err, el,
			 "this ivnetd has no placement (it answers 'unknown request'): pin with "
			 "--pin CPULIST");
		return -1;
	}
	root = parse_answer(ans, err, el);
	if (!root)
		return -1;
	arr = get_array(root, "segments", err, el);
	if (!arr)
		goto fail;
	json_array_foreach(arr, i, o)
	{
		json_t *name = json_object_get(o, "segment"), *cpus, *node;

		if (!json_is_string(name) || strcmp(json_string_value(name), segment))
			continue;
		if (get_str(o, "policy", policy, sizeof(policy))) {
			snprintf(err, el, "ivnetd's placement of '%s' has no valid policy",
				 segment);
			goto fail;
		}
		if (!strcmp(policy, "pack"))
			pl->policy = IVLV_PIN_PACK;
		else if (!strcmp(policy, "spread"))
			pl->policy = IVLV_PIN_SPREAD;
		else if (!strcmp(policy, "none"))
			pl->policy = IVLV_PIN_NONE;
		else {
			snprintf(err, el, "ivnetd's placement of '%s' has unknown policy '%s'",
				 segment, policy);
			goto fail;
		}
		pl->cpus[0] = '\0';
		cpus = json_object_get(o, "cpus");
		if (cpus && !json_is_null(cpus) &&
		    (!json_is_string(cpus) || json_string_length(cpus) >= sizeof(pl->cpus))) {
			snprintf(err, el, "ivnetd's placement of '%s' has invalid cpus", segment);
			goto fail;
		}
		if (json_is_string(cpus))
			strcpy(pl->cpus, json_string_value(cpus));
		node = json_object_get(o, "node");
		pl->node = json_is_integer(node) && json_integer_value(node) >= 0 &&
					   json_integer_value(node) < 4096
				   ? (int)json_integer_value(node)
				   : -1;
		if (pl->policy != IVLV_PIN_NONE && !pl->cpus[0]) {
			snprintf(err, el, "ivnetd's placement of '%s' is '%s' with no cpus",
				 segment, policy);
			goto fail;
		}
		json_decref(root);
		return 0;
	}
	snprintf(err, el, "ivnetd has no placement for segment '%s'", segment);
fail:
	json_decref(root);
	return -1;
}

int ivlv_broker_placement(const char *ctl, const char *segment, struct ivlv_placement *pl,
			  char *err, size_t el)
{
	char *ans = ivlv_ctl_request(ctl, "-j placement", err, el);
	int ret;

	if (!ans)
		return -1;
	ret = ivlv_parse_placement(ans, segment, pl, err, el);
	free(ans);
	return ret;
}

int ivlv_broker_peer_pids(const char *ctl, const char *segment, pid_t *pids, int max, char *err,
			  size_t el)
{
	char line[64 + IVLV_NAME_LEN], *ans;
	json_t *root = NULL, *arr, *o;
	int n = -1;
	size_t i;

	snprintf(line, sizeof(line), "-j peer list %s", segment);
	ans = ivlv_ctl_request(ctl, line, err, el);
	if (!ans)
		return -1;
	root = parse_answer(ans, err, el);
	free(ans);
	if (!root)
		return -1;
	arr = get_array(root, "peers", err, el);
	if (!arr)
		goto out;
	n = 0;
	json_array_foreach(arr, i, o)
	{
		json_int_t pid;

		if (get_int(o, "pid", 0, INT32_MAX, &pid)) {
			snprintf(err, el, "ivnetd's peer #%zu has no valid pid", i);
			n = -1;
			goto out;
		}
		if (pid > 0 && n < max)
			pids[n++] = (pid_t)pid;
	}
out:
	json_decref(root);
	return n;
}

int ivlv_broker_label(const char *ctl, const char *segment, pid_t pid, const char *name,
		      const char *uuid, char *err, size_t el)
{
	char line[512], *ans;
	int ret = 0;

	snprintf(line, sizeof(line), "peer label %s pid=%d name=%s uuid=%s", segment, (int)pid,
		 name, uuid);
	ans = ivlv_ctl_request(ctl, line, err, el);
	if (!ans)
		return -1;
	if (answer_error(ans, NULL, err, el))
		ret = -1;
	free(ans);
	return ret;
}

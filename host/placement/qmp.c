// SPDX-License-Identifier: MIT
/*
 * qmp.c - a QMP client for query-cpus-fast and the JSON reader it needs
 * (see qmp.h). The reader walks the text once; it accepts exactly RFC 8259
 * JSON up to a nesting depth, and extracts the few members it is asked for.
 */
#define _GNU_SOURCE
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEPTH_MAX 16
#define VCPU_MAX 4096
#define TID_MAX (1 << 30) /* pid_max is at most 2^22 */

struct cur {
	const char *p, *end, *start;
	char *err;
	size_t errlen;
};

static int bad(struct cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct cur *c, const char *fmt, ...)
{
	char what[96];
	va_list ap;

	if (c->err && c->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(what, sizeof(what), fmt, ap);
		va_end(ap);
		snprintf(c->err, c->errlen, "QMP reply: %s at byte %zu", what,
			 (size_t)(c->p - c->start));
	}
	return -1;
}

static void ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int hexval(char h)
{
	if (h >= '0' && h <= '9')
		return h - '0';
	if (h >= 'a' && h <= 'f')
		return h - 'a' + 10;
	if (h >= 'A' && h <= 'F')
		return h - 'A' + 10;
	return -1;
}

/* A string; its text, with escapes other than \uXXXX decoded and those as
 * '?', goes into out (truncated to n - 1; out may be NULL). */
static int string(struct cur *c, char *out, size_t n)
{
	size_t len = 0;

	if (c->p >= c->end || *c->p != '"')
		return bad(c, "expected a string");
	c->p++;
	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p++;

		if (ch < 0x20)
			return bad(c, "control character in a string");
		if (ch == '\\') {
			int i;

			if (c->p >= c->end)
				break;
			ch = (unsigned char)*c->p++;
			if (ch == 'u') {
				for (i = 0; i < 4; i++)
					if (c->p >= c->end || hexval(*c->p++) < 0)
						return bad(c, "bad \\u escape");
				ch = '?';
			} else if (ch == 'n') {
				ch = '\n';
			} else if (ch == 't') {
				ch = '\t';
			} else if (ch == 'r' || ch == 'b' || ch == 'f') {
				ch = ' ';
			} else if (ch != '"' && ch != '\\' && ch != '/') {
				return bad(c, "bad escape");
			}
		}
		if (out && len + 1 < n)
			out[len++] = (char)ch;
	}
	if (c->p >= c->end)
		return bad(c, "unterminated string");
	c->p++;
	if (out && n)
		out[len] = '\0';
	return 0;
}

static int digits(struct cur *c)
{
	const char *s = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s ? 0 : -1;
}

/* A number; *v and *is_int say its value when it is an integer that fits
 * (no fraction or exponent, |v| < 2^53). */
static int number(struct cur *c, int64_t *v, int *is_int)
{
	const char *s = c->p;
	int neg = 0, integral = 1;
	int64_t x = 0;
	const char *q;

	if (c->p < c->end && *c->p == '-') {
		neg = 1;
		c->p++;
	}
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (digits(c))
		return bad(c, "bad number");
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		integral = 0;
		if (digits(c))
			return bad(c, "bad number");
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		integral = 0;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (digits(c))
			return bad(c, "bad number");
	}
	if (c->p - s > 17)
		integral = 0; /* too many digits to be an id */
	for (q = s + neg; integral && q < c->p; q++)
		x = x * 10 + (*q - '0');
	*v = neg ? -x : x;
	*is_int = integral;
	return 0;
}

static int literal(struct cur *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
		return bad(c, "unexpected character");
	c->p += n;
	return 0;
}

static int value(struct cur *c, int depth);

typedef int (*item_fn)(struct cur *c, int index, int depth, void *ctx);

/*
 * What objects and arrays share: open, then items (item() consumes one)
 * separated by commas, then close (brackets: the two). what names the kind
 * in the errors.
 */
static int items(struct cur *c, int depth, const char *brackets, const char *what, item_fn item,
		 void *ctx)
{
	int i;

	if (depth > DEPTH_MAX)
		return bad(c, "nested too deep");
	if (c->p >= c->end || *c->p != brackets[0])
		return bad(c, "expected %s", what);
	c->p++;
	ws(c);
	if (c->p < c->end && *c->p == brackets[1]) {
		c->p++;
		return 0;
	}
	for (i = 0;; i++) {
		ws(c);
		if (item(c, i, depth + 1, ctx))
			return -1;
		ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == brackets[1]) {
			c->p++;
			return 0;
		}
		return bad(c, "expected ',' or '%c'", brackets[1]);
	}
}

/* Walk an object; for each member, member() consumes the value (it may
 * call value() to skip it). */
typedef int (*member_fn)(struct cur *c, const char *key, int depth, void *ctx);

struct walk {
	member_fn member;
	item_fn element;
	void *ctx;
};

static int member_item(struct cur *c, int index, int depth, void *arg)
{
	const struct walk *wk = arg;
	char key[32];

	(void)index;
	if (string(c, key, sizeof(key)))
		return -1;
	ws(c);
	if (c->p >= c->end || *c->p != ':')
		return bad(c, "expected ':'");
	c->p++;
	ws(c);
	return wk->member ? wk->member(c, key, depth, wk->ctx) : value(c, depth);
}

static int element_item(struct cur *c, int index, int depth, void *arg)
{
	const struct walk *wk = arg;

	return wk->element ? wk->element(c, index, depth, wk->ctx) : value(c, depth);
}

static int object(struct cur *c, int depth, member_fn member, void *ctx)
{
	struct walk wk = {.member = member, .ctx = ctx};

	return items(c, depth, "{}", "an object", member_item, &wk);
}

typedef item_fn element_fn;

static int array(struct cur *c, int depth, element_fn element, void *ctx)
{
	struct walk wk = {.element = element, .ctx = ctx};

	return items(c, depth, "[]", "an array", element_item, &wk);
}

static int value(struct cur *c, int depth)
{
	int64_t v;
	int is_int;

	if (c->p >= c->end)
		return bad(c, "unexpected end");
	switch (*c->p) {
	case '{':
		return object(c, depth, NULL, NULL);
	case '[':
		return array(c, depth, NULL, NULL);
	case '"':
		return string(c, NULL, 0);
	case 't':
		return literal(c, "true");
	case 'f':
		return literal(c, "false");
	case 'n':
		return literal(c, "null");
	default:
		return number(c, &v, &is_int);
	}
}

/* ---------------------------------------------------------- QMP replies */

struct reply {
	enum ivnetd_qmp_kind kind;
	int kinds; /* how many of QMP, event, return, error the object has */
	struct ivnetd_qmp_cpu *cpus;
	int max, n;
	struct ivnetd_qmp_cpu cpu; /* the entry being read */
	int have_index, have_tid;
	char cls[48], desc[96];
};

static int int_member(struct cur *c, int lo, int hi, int *out, const char *what)
{
	int64_t v;
	int is_int;

	if (c->p >= c->end || (*c->p != '-' && (*c->p < '0' || *c->p > '9')))
		return bad(c, "%s is not a number", what);
	if (number(c, &v, &is_int))
		return -1;
	if (!is_int || v < lo || v > hi)
		return bad(c, "%s out of range", what);
	*out = (int)v;
	return 0;
}

static int cpu_member(struct cur *c, const char *key, int depth, void *ctx)
{
	struct reply *r = ctx;

	if (!strcmp(key, "cpu-index")) {
		r->have_index++;
		return int_member(c, 0, VCPU_MAX - 1, &r->cpu.index, "cpu-index");
	}
	if (!strcmp(key, "thread-id")) {
		r->have_tid++;
		return int_member(c, 1, TID_MAX, &r->cpu.tid, "thread-id");
	}
	return value(c, depth);
}

static int cpu_element(struct cur *c, int index, int depth, void *ctx)
{
	struct reply *r = ctx;
	int i;

	if (index >= r->max)
		return bad(c, "more than %d CPUs", r->max);
	r->have_index = r->have_tid = 0;
	if (object(c, depth, cpu_member, r))
		return -1;
	if (r->have_index != 1 || r->have_tid != 1)
		return bad(c, "a CPU without exactly one cpu-index and thread-id");
	for (i = 0; i < r->n; i++)
		if (r->cpus[i].index == r->cpu.index || r->cpus[i].tid == r->cpu.tid)
			return bad(c, "CPU %d or thread %d listed twice", r->cpu.index, r->cpu.tid);
	r->cpus[r->n++] = r->cpu;
	return 0;
}

static int error_member(struct cur *c, const char *key, int depth, void *ctx)
{
	struct reply *r = ctx;

	(void)depth;
	if (!strcmp(key, "class"))
		return string(c, r->cls, sizeof(r->cls));
	if (!strcmp(key, "desc"))
		return string(c, r->desc, sizeof(r->desc));
	return value(c, depth);
}

static int reply_member(struct cur *c, const char *key, int depth, void *ctx)
{
	struct reply *r = ctx;

	if (!strcmp(key, "QMP")) {
		r->kind = IVNETD_QMP_GREETING;
		r->kinds++;
	} else if (!strcmp(key, "event")) {
		r->kind = IVNETD_QMP_EVENT;
		r->kinds++;
	} else if (!strcmp(key, "return")) {
		r->kind = IVNETD_QMP_RETURN;
		r->kinds++;
		if (r->cpus && c->p < c->end && *c->p == '[')
			return array(c, depth, cpu_element, r);
	} else if (!strcmp(key, "error")) {
		r->kind = IVNETD_QMP_ERROR;
		r->kinds++;
		return object(c, depth, error_member, r);
	}
	return value(c, depth);
}

int ivnetd_qmp_parse(const char *line, size_t len, struct ivnetd_qmp_cpu *cpus, int max, int *ncpus,
		     char *err, size_t errlen)
{
	struct reply r = {.cpus = cpus, .max = max};
	struct cur c = {.p = line, .end = line + len, .start = line, .err = err, .errlen = errlen};

	if (errlen)
		err[0] = '\0';
	if (ncpus)
		*ncpus = 0;
	ws(&c);
	if (object(&c, 0, reply_member, &r))
		return -1;
	ws(&c);
	if (c.p != c.end)
		return bad(&c, "trailing bytes after the object");
	if (r.kinds != 1)
		return bad(&c, "not one of greeting, event, return or error");
	if (r.kind == IVNETD_QMP_ERROR)
		snprintf(err, errlen, "QMP error %s: %s", r.cls[0] ? r.cls : "?", r.desc);
	if (ncpus)
		*ncpus = r.n;
	return (int)r.kind;
}

/* -------------------------------------------------------------- client */

struct conn {
	int fd;
	int64_t deadline; /* CLOCK_MONOTONIC ms */
	char buf[IVNETD_QMP_LINE_MAX];
	size_t len;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for `events` before the deadline. */
static int wait_fd(struct conn *k, short events)
{
	struct pollfd pfd = {.fd = k->fd, .events = events};
	int64_t left = k->deadline - now_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&pfd, 1, (int)left);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

static int send_all(struct conn *k, const char *s, char *err, size_t errlen)
{
	size_t off = 0, n = strlen(s);

	while (off < n) {
		ssize_t w;
		int e = wait_fd(k, POLLOUT);

		if (!e) {
			w = send(k->fd, s + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				e = -errno;
			else if (w > 0)
				off += (size_t)w;
		}
		if (e) {
			snprintf(err, errlen, "QMP: sending a command: %s", strerror(-e));
			return -1;
		}
	}
	return 0;
}

/* The next line into line (without its newline); returns its length or a
 * negative errno (-EMSGSIZE: longer than the buffer). */
static ssize_t recv_line(struct conn *k, char *line)
{
	for (;;) {
		char *nl = memchr(k->buf, '\n', k->len);
		ssize_t r;
		int e;

		if (nl) {
			size_t n = (size_t)(nl - k->buf);

			memcpy(line, k->buf, n);
			memmove(k->buf, nl + 1, k->len - n - 1);
			k->len -= n + 1;
			return (ssize_t)n;
		}
		if (k->len == sizeof(k->buf))
			return -EMSGSIZE;
		e = wait_fd(k, POLLIN);
		if (e)
			return e;
		r = recv(k->fd, k->buf + k->len, sizeof(k->buf) - k->len, MSG_DONTWAIT);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (r > 0)
			k->len += (size_t)r;
	}
}

/* Read replies until one of kind `want` (events are skipped); returns the
 * kind read or -1 with err set. */
static int expect(struct conn *k, int want, struct ivnetd_qmp_cpu *cpus, int max, int *n, char *err,
		  size_t errlen)
{
	static char line[IVNETD_QMP_LINE_MAX];
	int lines;

	for (lines = 0; lines < 64; lines++) {
		ssize_t len = recv_line(k, line);
		int kind;

		if (len < 0) {
			snprintf(err, errlen, "QMP: %s",
				 len == -EMSGSIZE    ? "reply longer than 64 KiB"
				 : len == -ETIMEDOUT ? "no reply in time"
						     : strerror((int)-len));
			return -1;
		}
		kind = ivnetd_qmp_parse(line, (size_t)len, cpus, max, n, err, errlen);
		if (kind < 0 || kind == IVNETD_QMP_ERROR)
			return -1;
		if (kind == want)
			return kind;
		if (kind != IVNETD_QMP_EVENT) {
			snprintf(err, errlen, "QMP: unexpected %s",
				 kind == IVNETD_QMP_GREETING ? "greeting" : "reply");
			return -1;
		}
	}
	snprintf(err, errlen, "QMP: too many events before the reply");
	return -1;
}

int ivnetd_qmp_query_cpus(const char *path, int timeout_ms, struct ivnetd_qmp_cpu *cpus, int max,
			  char *err, size_t errlen)
{
	static struct conn k; /* 64 KiB: not on the daemon's stack */
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int n = 0, e;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "QMP socket path too long");
		return -1;
	}
	strcpy(sun.sun_path, path);
	k.len = 0;
	k.deadline = now_ms() + timeout_ms;
	k.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (k.fd < 0) {
		snprintf(err, errlen, "QMP: socket: %s", strerror(errno));
		return -1;
	}
	if (connect(k.fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 && errno != EINPROGRESS) {
		snprintf(err, errlen, "unreachable QMP socket %s: %s", path, strerror(errno));
		close(k.fd);
		return -1;
	}
	/* Each step sets err when it fails. */
	e = expect(&k, IVNETD_QMP_GREETING, NULL, 0, NULL, err, errlen);
	if (e >= 0)
		e = send_all(&k, "{\"execute\":\"qmp_capabilities\"}\n", err, errlen);
	if (e >= 0)
		e = expect(&k, IVNETD_QMP_RETURN, NULL, 0, NULL, err, errlen);
	if (e >= 0)
		e = send_all(&k, "{\"execute\":\"query-cpus-fast\"}\n", err, errlen);
	if (e >= 0)
		e = expect(&k, IVNETD_QMP_RETURN, cpus, max, &n, err, errlen);
	close(k.fd);
	return e < 0 ? -1 : n;
}

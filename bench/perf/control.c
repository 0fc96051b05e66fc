// SPDX-License-Identifier: MIT
/*
 * control.c - the control connection between ivnet-perf and its server, as
 * netperf has with netserver. One line each way, key=value words:
 *
 *   client: TEST name=TCP_RR size=64 resp=64 seconds=1 verify=0 cpu=1 ...
 *   server: OK port=40123 | OK id=2 mac=02:.. | ERR <why>
 *   (the data phase; for UDP and SHM the client may send STOP sent=N)
 *   server: RESULT elapsed=1.0 messages=N bytes=N checked=N errors=N
 *
 * The server forks a child per connection, so a malformed client costs a
 * child and a line in the log, never the server. Every line is bounded,
 * every number range-checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf.h"

#define CTL_LINE 512

int ctl_send(int fd, const char *fmt, ...)
{
	char line[CTL_LINE];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		return -1;
	line[n++] = '\n';
	return send(fd, line, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/*
 * Read one line (without its newline) a byte at a time: the control
 * connection carries little, and nothing after the line may be consumed.
 * 0, or -1 on EOF, error, timeout or an over-long line.
 */
int ctl_recv(int fd, char *line, size_t len, int timeout_ms)
{
	size_t n = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		r = recv(fd, &c, 1, 0);
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 >= len)
			return -1;
		line[n++] = c;
	}
	line[n] = 0;
	return 0;
}

/* The value of key=value among the words of line, or NULL. */
const char *kv_get(const char *line, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key))) {
		if ((p == line || p[-1] == ' ') && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, " ");

			if (n >= len)
				return NULL;
			memcpy(out, p + kl + 1, n);
			out[n] = 0;
			return out;
		}
		p += kl;
	}
	return NULL;
}

static const char *wait_name(enum ivnet_ep_wait w)
{
	return w == IVNET_WAIT_BLOCK ? "block" : w == IVNET_WAIT_ADAPTIVE ? "adaptive" : "busy";
}

int req_format(const struct perf_req *q, char *line, size_t len)
{
	int n;

	if (strchr(q->segment, ' '))
		return -1;
	n = snprintf(line, len,
		     "TEST name=%s size=%u resp=%u seconds=%.6f verify=%d zerocopy=%d cpu=%d "
		     "sndbuf=%d rcvbuf=%d wait=%s spin=%u segment=%s",
		     q->test, q->size, q->resp, q->seconds, q->verify, q->zerocopy, q->cpu,
		     q->sndbuf, q->rcvbuf, wait_name(q->wait), q->spin_us,
		     q->segment[0] ? q->segment : "-");
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static int get_long(const char *line, const char *key, long lo, long hi, long *v)
{
	char buf[32], *end;

	if (!kv_get(line, key, buf, sizeof(buf)))
		return -1;
	errno = 0;
	*v = strtol(buf, &end, 10);
	return errno || *end || end == buf || *v < lo || *v > hi ? -1 : 0;
}

int req_parse(const char *line, struct perf_req *q, char *err)
{
	static const char *const keys[] = {"size", "resp",   "verify", "zerocopy",
					   "cpu",  "sndbuf", "rcvbuf", "spin"};
	static const long lo[] = {1, 0, 0, 0, -1, 0, 0, 0};
	static const long hi[] = {PERF_MAX_MSG,	   PERF_MAX_MSG, 1,	  1,
				  CPU_SETSIZE - 1, 1 << 30,	 1 << 30, 10000000};
	long v[8];
	char buf[256], *end;
	unsigned int i;

	memset(q, 0, sizeof(*q));
	if (strncmp(line, "TEST ", 5) != 0)
		return snprintf(err, PERF_ERRLEN, "not a TEST line"), -1;
	if (!kv_get(line, "name", q->test, sizeof(q->test)))
		return snprintf(err, PERF_ERRLEN, "no test name"), -1;
	for (i = 0; i < 8; i++)
		if (get_long(line, keys[i], lo[i], hi[i], &v[i]))
			return snprintf(err, PERF_ERRLEN, "bad or missing %s", keys[i]), -1;
	q->size = (uint32_t)v[0];
	q->resp = (uint32_t)v[1];
	q->verify = (int)v[2];
	q->zerocopy = (int)v[3];
	q->cpu = (int)v[4];
	q->sndbuf = (int)v[5];
	q->rcvbuf = (int)v[6];
	q->spin_us = (unsigned int)v[7];
	if (!kv_get(line, "seconds", buf, sizeof(buf)))
		return snprintf(err, PERF_ERRLEN, "no seconds"), -1;
	q->seconds = strtod(buf, &end);
	if (*end || !(q->seconds > 0 && q->seconds <= 86400))
		return snprintf(err, PERF_ERRLEN, "bad seconds"), -1;
	if (!kv_get(line, "wait", buf, sizeof(buf)))
		return snprintf(err, PERF_ERRLEN, "no wait mode"), -1;
	if (!strcmp(buf, "busy"))
		q->wait = IVNET_WAIT_BUSY;
	else if (!strcmp(buf, "block"))
		q->wait = IVNET_WAIT_BLOCK;
	else if (!strcmp(buf, "adaptive"))
		q->wait = IVNET_WAIT_ADAPTIVE;
	else
		return snprintf(err, PERF_ERRLEN, "bad wait mode"), -1;
	if (!kv_get(line, "segment", q->segment, sizeof(q->segment)))
		return snprintf(err, PERF_ERRLEN, "bad or missing segment"), -1;
	if (!strcmp(q->segment, "-"))
		q->segment[0] = 0;
	return 0;
}

static int get_u64(const char *line, const char *key, uint64_t *v)
{
	char buf[32], *end;

	if (!kv_get(line, key, buf, sizeof(buf)) || buf[0] == '-')
		return -1;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno || *end || end == buf ? -1 : 0;
}

int far_parse(const char *line, struct far_result *f)
{
	char buf[32], *end;

	if (strncmp(line, "RESULT ", 7) != 0 || !kv_get(line, "elapsed", buf, sizeof(buf)))
		return -1;
	f->elapsed = strtod(buf, &end);
	if (*end || !(f->elapsed >= 0 && f->elapsed < 1e6))
		return -1;
	return get_u64(line, "messages", &f->messages) || get_u64(line, "bytes", &f->bytes) ||
			       get_u64(line, "checked", &f->checked) ||
			       get_u64(line, "errors", &f->errors)
		       ? -1
		       : 0;
}

int ctl_result(struct perf_session *s, const struct far_result *f)
{
	return ctl_send(s->ctl,
			"RESULT elapsed=%.9f messages=%llu bytes=%llu checked=%llu errors=%llu",
			f->elapsed, (unsigned long long)f->messages, (unsigned long long)f->bytes,
			(unsigned long long)f->checked, (unsigned long long)f->errors);
}

int ctl_wait_result(struct perf_session *s, int timeout_ms)
{
	char line[CTL_LINE];

	if (ctl_recv(s->ctl, line, sizeof(line), timeout_ms)) {
		snprintf(s->err, PERF_ERRLEN, "no result from the server at %s", s->host);
		return -1;
	}
	if (!strncmp(line, "ERR ", 4)) {
		snprintf(s->err, PERF_ERRLEN, "server: %.200s", line + 4);
		return -1;
	}
	if (far_parse(line, &s->far)) {
		snprintf(s->err, PERF_ERRLEN, "malformed result from the server");
		return -1;
	}
	return 0;
}

/* Connect the control connection and remember the server's address. */
int ctl_connect(struct perf_session *s)
{
	struct addrinfo hints = {.ai_family = s->o->family, .ai_socktype = SOCK_STREAM}, *ai, *a;
	int fd = -1, ret, one = 1;

	ret = getaddrinfo(s->o->host, s->o->port, &hints, &ai);
	if (ret) {
		snprintf(s->err, PERF_ERRLEN, "%s: %s", s->o->host, gai_strerror(ret));
		return -1;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			memcpy(&s->peer, a->ai_addr, a->ai_addrlen);
			s->peerlen = a->ai_addrlen;
			break;
		}
		ret = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(s->err, PERF_ERRLEN, "cannot reach ivnet-perf -s at %s port %s: %s",
			 s->o->host, s->o->port, strerror(ret ? ret : ECONNREFUSED));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	getnameinfo((struct sockaddr *)&s->peer, s->peerlen, s->host, sizeof(s->host), NULL, 0,
		    NI_NUMERICHOST);
	s->ctl = fd;
	return 0;
}

/* ------------------------------------------------------------- server */

static void serve_one(int fd)
{
	struct perf_session s = {.ctl = fd, .data = -1};
	const struct perf_test *t;
	char line[CTL_LINE];
	struct perf_opts o = {0};

	s.o = &o;
	s.peerlen = sizeof(s.peer);
	getpeername(fd, (struct sockaddr *)&s.peer, &s.peerlen);
	getnameinfo((struct sockaddr *)&s.peer, s.peerlen, s.host, sizeof(s.host), NULL, 0,
		    NI_NUMERICHOST);
	if (ctl_recv(fd, line, sizeof(line), 10000)) {
		fprintf(stderr, "ivnet-perf -s: %s: no request line\n", s.host);
		exit(1);
	}
	if (req_parse(line, &s.req, s.err))
		goto refuse;
	t = perf_test_find(s.req.test);
	if (!t || !t->remote) {
		snprintf(s.err, PERF_ERRLEN, "unknown test %.32s", s.req.test);
		goto refuse;
	}
	if (s.req.size < t->min_size || s.req.size > t->max_size ||
	    (t->rr && s.req.resp && (s.req.resp < t->min_size || s.req.resp > t->max_size))) {
		snprintf(s.err, PERF_ERRLEN, "%s takes sizes %u..%u", t->name, t->min_size,
			 t->max_size);
		goto refuse;
	}
	if (!s.req.resp)
		s.req.resp = s.req.size;
	if (s.req.cpu >= 0 && perf_pin(s.req.cpu, s.err))
		goto refuse;
	if (t->server(&s)) {
		fprintf(stderr, "ivnet-perf -s: %s %s: %s\n", s.host, t->name, s.err);
		ctl_send(fd, "ERR %s", s.err);
		exit(1);
	}
	exit(0);
refuse:
	fprintf(stderr, "ivnet-perf -s: %s: refused: %s\n", s.host, s.err);
	ctl_send(fd, "ERR %s", s.err);
	exit(1);
}

static int listen_on(const char *addr, const char *port, int family)
{
	struct addrinfo hints = {.ai_family = family,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE},
			*ai, *a;
	int fd = -1, one = 1, zero = 0, ret;

	if (!addr && family == AF_UNSPEC)
		hints.ai_family = AF_INET6; /* dual stack below */
	ret = getaddrinfo(addr, port, &hints, &ai);
	if (ret && !addr) {
		hints.ai_family = AF_INET;
		ret = getaddrinfo(addr, port, &hints, &ai);
	}
	if (ret) {
		fprintf(stderr, "ivnet-perf -s: %s: %s\n", addr ? addr : "*", gai_strerror(ret));
		return -1;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (a->ai_family == AF_INET6 && !addr)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 16) == 0)
			break;
		ret = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		fprintf(stderr, "ivnet-perf -s: cannot listen on port %s: %s\n", port,
			strerror(ret));
	return fd;
}

/*
 * Tests at once, one child each: a client that opens connection after
 * connection is told the server is busy instead of forking it to death.
 */
#define MAX_CHILDREN 32

static volatile sig_atomic_t children;

static void reap(int sig)
{
	int e = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		children--;
	errno = e;
}

/*
 * netserver's part: accept control connections, one child each. With once,
 * serve a single connection and exit with its status (for tests).
 */
int perf_serve(const char *addr, const char *port, int family, int once)
{
	int lfd = listen_on(addr, port, family);
	sigset_t chld, old;

	if (lfd < 0)
		return 1;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (!once) {
		struct sigaction sa = {.sa_handler = reap, .sa_flags = SA_RESTART | SA_NOCLDSTOP};

		sigemptyset(&sa.sa_mask);
		sigaction(SIGCHLD, &sa, NULL);
	}
	fprintf(stderr, "ivnet-perf -s: listening on port %s\n", port);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), status;
		pid_t pid;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("ivnet-perf -s: accept");
			return 1;
		}
		if (children >= MAX_CHILDREN) {
			dprintf(fd, "ERR busy: %d tests running, try again later\n", MAX_CHILDREN);
			close(fd);
			continue;
		}
		/* SIGCHLD held while the count and the fork agree */
		sigprocmask(SIG_BLOCK, &chld, &old);
		pid = fork();
		if (pid == 0) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			signal(SIGCHLD, SIG_DFL);
			close(lfd);
			serve_one(fd);
		}
		if (pid > 0)
			children++;
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(fd);
		if (pid < 0)
			perror("ivnet-perf -s: fork");
		if (once) {
			if (pid < 0 || waitpid(pid, &status, 0) < 0)
				return 1;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		}
	}
}

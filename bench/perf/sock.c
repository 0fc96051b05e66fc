// SPDX-License-Identifier: MIT
/*
 * sock.c - the socket tests: TCP_STREAM, TCP_RR, UDP_STREAM, UDP_RR over the
 * network (to an ivnet-perf server), UNIX_STREAM and UNIX_RR over an AF_UNIX
 * socketpair (the far end a forked child). The byte-stream ends are shared
 * by TCP and AF_UNIX.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pattern.h"
#include "perf.h"

#define RECV_BUF (64u * 1024u)
#define RESP_SEQ (1ull << 63) /* a response's pattern differs from its request's */
#define UDP_WAIT_MS 100
#define RESULT_WAIT_MS 30000

static int fail(struct perf_session *s, const char *what)
{
	snprintf(s->err, PERF_ERRLEN, "%s: %s", what, strerror(errno));
	return -1;
}

static void set_bufs(int fd, int snd, int rcv)
{
	if (snd)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	if (rcv)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}

static void set_port(struct sockaddr_storage *a, int port)
{
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
}

static int get_port(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
					     : ((const struct sockaddr_in6 *)a)->sin6_port);
}

/* Client: a data socket to the server's data port. */
static int data_connect(struct perf_session *s, int type)
{
	struct sockaddr_storage a = s->peer;
	int fd, one = 1;

	set_port(&a, s->port);
	fd = socket(a.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(s, "socket");
	set_bufs(fd, s->o->sndbuf, s->o->rcvbuf);
	if (type == SOCK_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, s->peerlen) < 0) {
		fail(s, "data connection");
		close(fd);
		return -1;
	}
	return fd;
}

/* Server: a data socket on the control connection's own address, any port;
 * tells the client which (the OK line). */
static int data_open(struct perf_session *s, int type)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int fd;

	if (getsockname(s->ctl, (struct sockaddr *)&a, &len) < 0)
		return fail(s, "getsockname");
	set_port(&a, 0);
	fd = socket(a.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(s, "socket");
	set_bufs(fd, s->req.sndbuf, s->req.rcvbuf);
	if (bind(fd, (struct sockaddr *)&a, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 1) < 0) ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		fail(s, "data socket");
		close(fd);
		return -1;
	}
	if (ctl_send(s->ctl, "OK port=%d", get_port(&a))) {
		close(fd);
		return fail(s, "control");
	}
	return fd;
}

static int data_accept(struct perf_session *s)
{
	struct pollfd p;
	int lfd = data_open(s, SOCK_STREAM), fd, one = 1;

	if (lfd < 0)
		return -1;
	p = (struct pollfd){.fd = lfd, .events = POLLIN};
	if (poll(&p, 1, 10000) != 1) {
		close(lfd);
		snprintf(s->err, PERF_ERRLEN, "the client never opened its data connection");
		return -1;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	if (fd < 0)
		return fail(s, "accept");
	set_bufs(fd, s->req.sndbuf, s->req.rcvbuf);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int send_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1 with len bytes, 0 on EOF before the first byte, -1 otherwise. */
static int recv_all(int fd, uint8_t *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, p + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EPIPE;
			return got ? -1 : 0;
		}
		got += (size_t)n;
	}
	return 1;
}

/* ------------------------------------------------- byte-stream ends */

int stream_send(struct perf_session *s, int fd, struct run_result *r)
{
	uint32_t size = s->req.size;
	uint8_t *buf = malloc(size);
	uint64_t off = 0, n = 0;
	double t0 = perf_now(), t;

	if (!buf)
		return fail(s, "malloc");
	memset(buf, 0xa5, size);
	do {
		if (s->req.verify)
			pattern_fill_stream(buf, size, off);
		if (send_all(fd, buf, size)) {
			free(buf);
			return fail(s, "send");
		}
		off += size;
		n++;
		t = perf_now();
	} while (t - t0 < s->req.seconds);
	shutdown(fd, SHUT_WR);
	free(buf);
	r->sent = n;
	r->elapsed = t - t0;
	return 0;
}

int stream_recv(struct perf_session *s, int fd, struct far_result *f)
{
	uint8_t *buf = malloc(RECV_BUF);
	uint64_t off = 0;
	double t0 = 0;

	if (!buf)
		return fail(s, "malloc");
	for (;;) {
		ssize_t n = recv(fd, buf, RECV_BUF, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return fail(s, "recv");
		}
		if (n == 0)
			break;
		if (!off)
			t0 = perf_now();
		if (s->req.verify) {
			f->errors += pattern_check_stream(buf, (size_t)n, off);
			f->checked += (uint64_t)n;
		}
		off += (uint64_t)n;
	}
	f->elapsed = off ? perf_now() - t0 : 0;
	f->bytes = off;
	f->messages = off / s->req.size;
	free(buf);
	return 0;
}

int rr_ask(struct perf_session *s, int fd, struct run_result *r)
{
	uint32_t q = s->req.size, a = s->req.resp;
	uint8_t *req = malloc(q), *resp = malloc(a);
	uint64_t seq = 0, t0 = perf_now_ns(), t = t0, prev = t0;
	int ret = -1;

	if (!req || !resp) {
		fail(s, "malloc");
		goto out;
	}
	memset(req, 0x5a, q);
	do {
		if (s->req.verify)
			pattern_fill(req, q, 0, seq);
		if (send_all(fd, req, q)) {
			fail(s, "send");
			goto out;
		}
		if (recv_all(fd, resp, a) != 1) {
			fail(s, "response");
			goto out;
		}
		if (s->req.verify) {
			r->errors += pattern_check(resp, a, 0, seq | RESP_SEQ);
			r->checked += a;
		}
		seq++;
		t = perf_now_ns();
		hist_add(&r->lat, t - prev);
		prev = t;
	} while ((double)(t - t0) * 1e-9 < s->req.seconds);
	shutdown(fd, SHUT_WR);
	r->messages = seq;
	r->sent = seq;
	r->bytes = seq * (uint64_t)(q + a);
	r->elapsed = (double)(t - t0) * 1e-9;
	ret = 0;
out:
	free(req);
	free(resp);
	return ret;
}

int rr_answer(struct perf_session *s, int fd, struct far_result *f)
{
	uint32_t q = s->req.size, a = s->req.resp;
	uint8_t *req = malloc(q), *resp = malloc(a);
	uint64_t seq = 0;
	double t0 = 0;
	int ret = -1, got;

	if (!req || !resp) {
		fail(s, "malloc");
		goto out;
	}
	memset(resp, 0xa5, a);
	while ((got = recv_all(fd, req, q)) == 1) {
		if (!seq)
			t0 = perf_now();
		if (s->req.verify) {
			f->errors += pattern_check(req, q, 0, seq);
			f->checked += q;
			pattern_fill(resp, a, 0, seq | RESP_SEQ);
		}
		if (send_all(fd, resp, a)) {
			fail(s, "send");
			goto out;
		}
		seq++;
	}
	if (got < 0) {
		fail(s, "request");
		goto out;
	}
	f->elapsed = seq ? perf_now() - t0 : 0;
	f->messages = seq;
	f->bytes = seq * (uint64_t)(q + a);
	ret = 0;
out:
	free(req);
	free(resp);
	return ret;
}

/* -------------------------------------------------------------- TCP */

static int stream_result(struct perf_session *s, struct run_result *r)
{
	if (ctl_wait_result(s, RESULT_WAIT_MS))
		return -1;
	r->messages = s->far.messages;
	r->bytes = s->far.bytes;
	r->checked = s->far.checked;
	r->errors = s->far.errors;
	if (s->far.elapsed > 0)
		r->elapsed = s->far.elapsed;
	/* a byte stream loses nothing: a shortfall is an error */
	if (s->far.bytes != r->sent * s->req.size) {
		snprintf(s->err, PERF_ERRLEN, "sent %llu bytes, the far end got %llu",
			 (unsigned long long)(r->sent * s->req.size),
			 (unsigned long long)s->far.bytes);
		return -1;
	}
	return 0;
}

int tcp_stream_client(struct perf_session *s, struct run_result *r)
{
	int fd = data_connect(s, SOCK_STREAM), ret;

	if (fd < 0)
		return -1;
	ret = stream_send(s, fd, r);
	if (!ret)
		ret = stream_result(s, r);
	close(fd);
	return ret;
}

int tcp_stream_server(struct perf_session *s)
{
	struct far_result f = {0};
	int fd = data_accept(s), ret;

	if (fd < 0)
		return -1;
	ret = stream_recv(s, fd, &f);
	close(fd);
	return ret ? -1 : ctl_result(s, &f);
}

static int rr_result(struct perf_session *s, struct run_result *r)
{
	if (ctl_wait_result(s, RESULT_WAIT_MS))
		return -1;
	r->checked += s->far.checked;
	r->errors += s->far.errors;
	if (s->far.messages != r->messages) {
		snprintf(s->err, PERF_ERRLEN, "%llu transactions asked, the far end answered %llu",
			 (unsigned long long)r->messages, (unsigned long long)s->far.messages);
		return -1;
	}
	return 0;
}

int tcp_rr_client(struct perf_session *s, struct run_result *r)
{
	int fd = data_connect(s, SOCK_STREAM), ret;

	if (fd < 0)
		return -1;
	ret = rr_ask(s, fd, r);
	if (!ret)
		ret = rr_result(s, r);
	close(fd);
	return ret;
}

int tcp_rr_server(struct perf_session *s)
{
	struct far_result f = {0};
	int fd = data_accept(s), ret;

	if (fd < 0)
		return -1;
	ret = rr_answer(s, fd, &f);
	close(fd);
	return ret ? -1 : ctl_result(s, &f);
}

/* -------------------------------------------------------------- UDP */

static void set_timeout(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Server, between datagrams: has the client said STOP? */
static int stop_said(struct perf_session *s)
{
	struct pollfd p = {.fd = s->ctl, .events = POLLIN};
	char line[128];

	if (poll(&p, 1, 0) != 1)
		return 0;
	/* STOP, or the client went away: either way the run is over */
	return ctl_recv(s->ctl, line, sizeof(line), 1000) || !strncmp(line, "STOP", 4) ? 1 : 0;
}

int udp_stream_client(struct perf_session *s, struct run_result *r)
{
	uint32_t size = s->req.size;
	uint8_t *buf = malloc(size);
	uint64_t seq = 0;
	double t0 = perf_now(), t;
	int fd = data_connect(s, SOCK_DGRAM), ret = -1;

	if (fd < 0 || !buf) {
		if (!buf)
			fail(s, "malloc");
		goto out;
	}
	memset(buf, 0x5a, size);
	do {
		if (s->req.verify)
			pattern_fill(buf, size, 0, seq);
		else
			pattern_stamp(buf, size, 0, seq);
		if (send(fd, buf, size, 0) == (ssize_t)size)
			seq++;
		else if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR &&
			 errno != ECONNREFUSED) {
			fail(s, "send");
			goto out;
		}
		t = perf_now();
	} while (t - t0 < s->req.seconds);
	r->sent = seq;
	r->elapsed = t - t0;
	if (ctl_send(s->ctl, "STOP sent=%llu", (unsigned long long)seq) ||
	    ctl_wait_result(s, RESULT_WAIT_MS))
		goto out;
	r->messages = s->far.messages;
	r->bytes = s->far.bytes;
	r->checked = s->far.checked;
	r->errors = s->far.errors;
	if (s->far.elapsed > 0)
		r->elapsed = s->far.elapsed;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

int udp_stream_server(struct perf_session *s)
{
	uint32_t size = s->req.size;
	uint8_t *buf = malloc(size + 1);
	struct far_result f = {0};
	double t0 = 0, last = 0;
	int fd = data_open(s, SOCK_DGRAM), stopping = 0, ret = -1;

	if (fd < 0 || !buf) {
		if (!buf)
			fail(s, "malloc");
		goto out;
	}
	set_timeout(fd, UDP_WAIT_MS);
	for (;;) {
		ssize_t n = recv(fd, buf, size + 1, 0);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				fail(s, "recv");
				goto out;
			}
			/* quiet: once the client has said STOP, all is in */
			if (stopping)
				break;
			stopping = stop_said(s);
			continue;
		}
		last = perf_now();
		if (!f.messages)
			t0 = last;
		f.messages++;
		f.bytes += (uint64_t)n;
		if (s->req.verify) {
			uint64_t seq = pattern_seq(buf, (size_t)n, 0);

			f.checked += (uint64_t)n;
			f.errors += (uint32_t)n != size ? (uint64_t)n
							: pattern_check(buf, (size_t)n, 0, seq);
		}
	}
	f.elapsed = last - t0;
	ret = ctl_result(s, &f);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

int udp_rr_client(struct perf_session *s, struct run_result *r)
{
	uint32_t q = s->req.size, a = s->req.resp;
	uint8_t *req = malloc(q), *resp = malloc(a + 1);
	uint64_t seq = 0, done = 0, t0 = perf_now_ns(), t = t0, start;
	int fd = data_connect(s, SOCK_DGRAM), ret = -1;

	if (fd < 0 || !req || !resp) {
		if (fd >= 0)
			fail(s, "malloc");
		goto out;
	}
	memset(req, 0x5a, q);
	set_timeout(fd, UDP_WAIT_MS);
	do {
		ssize_t n;

		start = perf_now_ns();
		if (s->req.verify)
			pattern_fill(req, q, 0, seq);
		else
			pattern_stamp(req, q, 0, seq);
		if (send(fd, req, q, 0) != (ssize_t)q && errno != ENOBUFS && errno != EAGAIN &&
		    errno != ECONNREFUSED) {
			fail(s, "send");
			goto out;
		}
		/* a late answer to an earlier request is skipped; a lost one
		 * costs a timeout and a new request */
		while ((n = recv(fd, resp, a + 1, 0)) >= 0 && a >= PATTERN_SEQ_LEN &&
		       pattern_seq(resp, (size_t)n, 0) != (seq | RESP_SEQ))
			;
		seq++;
		t = perf_now_ns();
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) {
				fail(s, "recv");
				goto out;
			}
			continue;
		}
		if (s->req.verify) {
			r->checked += (uint64_t)n;
			r->errors += (uint32_t)n != a
					     ? (uint64_t)n
					     : pattern_check(resp, a, 0, (seq - 1) | RESP_SEQ);
		}
		done++;
		hist_add(&r->lat, t - start);
	} while ((double)(t - t0) * 1e-9 < s->req.seconds);
	r->sent = seq;
	r->messages = done;
	r->bytes = done * (uint64_t)(q + a);
	r->elapsed = (double)(t - t0) * 1e-9;
	if (ctl_send(s->ctl, "STOP sent=%llu", (unsigned long long)seq) ||
	    ctl_wait_result(s, RESULT_WAIT_MS))
		goto out;
	r->checked += s->far.checked;
	r->errors += s->far.errors;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(req);
	free(resp);
	return ret;
}

int udp_rr_server(struct perf_session *s)
{
	uint32_t q = s->req.size, a = s->req.resp;
	uint8_t *req = malloc(q + 1), *resp = malloc(a);
	struct far_result f = {0};
	double t0 = 0;
	int fd = data_open(s, SOCK_DGRAM), ret = -1;

	if (fd < 0 || !req || !resp) {
		if (fd >= 0)
			fail(s, "malloc");
		goto out;
	}
	memset(resp, 0xa5, a);
	set_timeout(fd, UDP_WAIT_MS);
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, req, q + 1, 0, (struct sockaddr *)&from, &fl);
		uint64_t seq;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				fail(s, "recv");
				goto out;
			}
			if (stop_said(s))
				break;
			continue;
		}
		if (!f.messages)
			t0 = perf_now();
		seq = pattern_seq(req, (size_t)n, 0);
		if (s->req.verify) {
			f.checked += (uint64_t)n;
			f.errors += (uint32_t)n != q ? (uint64_t)n : pattern_check(req, q, 0, seq);
			pattern_fill(resp, a, 0, seq | RESP_SEQ);
		} else {
			pattern_stamp(resp, a, 0, seq | RESP_SEQ);
		}
		if (sendto(fd, resp, a, 0, (struct sockaddr *)&from, fl) == (ssize_t)a)
			f.messages++;
	}
	f.elapsed = f.messages ? perf_now() - t0 : 0;
	f.bytes = f.messages * (uint64_t)(q + a);
	ret = ctl_result(s, &f);
out:
	if (fd >= 0)
		close(fd);
	free(req);
	free(resp);
	return ret;
}

/* ---------------------------------------------------------- AF_UNIX */

typedef int (*unix_far_fn)(struct perf_session *s, int fd, struct far_result *f);

/* Run the far end in a child pinned to the remote cpu, over socketpairs for
 * data and control; then collect its result like a server's. */
static int unix_run(struct perf_session *s, struct run_result *r,
		    int (*near)(struct perf_session *, int, struct run_result *), unix_far_fn far)
{
	int data[2], ctl[2], status, ret;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0)
		return fail(s, "socketpair");
	set_bufs(data[0], s->o->sndbuf, s->o->rcvbuf);
	set_bufs(data[1], s->o->sndbuf, s->o->rcvbuf);
	pid = fork();
	if (pid < 0)
		return fail(s, "fork");
	if (pid == 0) {
		struct far_result f = {0};

		close(data[0]);
		close(ctl[0]);
		s->ctl = ctl[1];
		if (s->o->rcpu >= 0 && perf_pin(s->o->rcpu, s->err))
			_exit(1);
		if (far(s, data[1], &f))
			ctl_send(s->ctl, "ERR %s", s->err);
		else
			ctl_result(s, &f);
		_exit(0);
	}
	close(data[1]);
	close(ctl[1]);
	s->ctl = ctl[0];
	ret = near(s, data[0], r);
	if (!ret)
		ret = s->o->test->rr ? rr_result(s, r) : stream_result(s, r);
	close(data[0]);
	close(ctl[0]);
	s->ctl = -1;
	waitpid(pid, &status, 0);
	return ret;
}

int unix_stream_client(struct perf_session *s, struct run_result *r)
{
	return unix_run(s, r, stream_send, stream_recv);
}

int unix_rr_client(struct perf_session *s, struct run_result *r)
{
	return unix_run(s, r, rr_ask, rr_answer);
}

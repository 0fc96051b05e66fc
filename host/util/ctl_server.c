// SPDX-License-Identifier: MIT
/*
 * ctl_server.c - the control socket (ctl_server.h). An event names its
 * client by slot and serial, so that one left in a batch for a client
 * closed earlier in it never reaches the next client of that slot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_io.h"
#include "ctl_server.h"
#include "print.h"
#include "unix_socket.h"

#define LISTEN_TAG UINT64_MAX
#define TIMER_TAG (UINT64_MAX - 1)
#define BACKLOG 64

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t tag_of(unsigned int i, const struct ctl_client *c)
{
	return (uint64_t)c->serial << 32 | i;
}

void ctl_server_init(struct ctl_server *s)
{
	memset(s, 0, sizeof(*s));
	s->epfd = s->fd = s->timer = -1;
	s->timeout_ms = CTL_TIMEOUT_MS;
}

static int listen_on(const char *path, int epfd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LISTEN_TAG};
	struct sockaddr_un sun;
	int fd = host_unix_socket(path, SOCK_NONBLOCK, &sun), e;

	if (fd < 0)
		return fd;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 && chmod(path, 0600) == 0 &&
	    listen(fd, BACKLOG) == 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return fd;
	e = errno;
	close(fd);
	return -e;
}

/* The environment's time-out, for tests and for hosts that want another. */
static int timeout_from_env(void)
{
	const char *v = getenv(CTL_TIMEOUT_ENV);
	char *end;
	long ms;

	if (!v || !*v)
		return CTL_TIMEOUT_MS;
	ms = strtol(v, &end, 10);
	return *end || ms < 1 || ms > 3600 * 1000 ? CTL_TIMEOUT_MS : (int)ms;
}

int ctl_server_start(struct ctl_server *s, const char *path, ctl_answer_fn *answer, void *ctx,
		     const struct host_log *log)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TIMER_TAG};

	ctl_server_init(s);
	if (path && strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	s->timeout_ms = timeout_from_env();
	s->answer = answer;
	s->ctx = ctx;
	if (log)
		s->log = *log;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	s->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timer, &ev))
		return -errno;
	if (!path)
		return 0;
	s->fd = listen_on(path, s->epfd);
	if (s->fd >= 0)
		strcpy(s->path, path);
	return s->fd < 0 ? s->fd : 0;
}

/* The listener in the set or out of it: out while every slot answers, so
 * that a new client waits in the backlog instead of waking us in vain. */
static void listen_pause(struct ctl_server *s, int pause)
{
	struct epoll_event ev = {.events = pause ? 0 : EPOLLIN, .data.u64 = LISTEN_TAG};

	if (s->fd >= 0 && s->paused != pause && !epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->fd, &ev))
		s->paused = pause;
}

static void client_close(struct ctl_server *s, unsigned int i, const char *reason)
{
	struct ctl_client *c = s->client[i];

	if (reason)
		host_log(&s->log, "control dropped reason=%s answered=%zu/%zu", reason, c->out_off,
			 c->out_len);
	close(c->fd);
	free(c->out);
	free(c);
	s->client[i] = NULL;
	listen_pause(s, 0);
}

/* A free slot: an empty one, or the oldest client still silent. */
static int free_slot(struct ctl_server *s)
{
	int i, old = -1;

	for (i = 0; i < CTL_CLIENTS_MAX; i++) {
		const struct ctl_client *c = s->client[i];

		if (!c)
			return i;
		if (!c->out && (old < 0 || c->since < s->client[old]->since))
			old = i;
	}
	if (old >= 0)
		client_close(s, (unsigned int)old, "evicted");
	return old;
}

int ctl_server_add(struct ctl_server *s, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct ctl_client *c;
	int i = free_slot(s), e;

	if (i < 0) {
		close(fd);
		return -EBUSY;
	}
	c = calloc(1, sizeof(*c) + CTL_LINE_MAX + 1);
	if (!c || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
		e = c ? errno : ENOMEM;
		free(c);
		close(fd);
		return -e;
	}
	c->fd = fd;
	c->serial = ++s->serial;
	c->since = now_ms();
	c->deadline = c->since + s->timeout_ms;
	s->client[i] = c;
	ev.data.u64 = tag_of((unsigned int)i, c);
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		e = errno;
		client_close(s, (unsigned int)i, NULL);
		return -e;
	}
	return 0;
}

static void accept_client(struct ctl_server *s)
{
	int i, fd;

	for (i = 0; i < CTL_CLIENTS_MAX; i++)
		if (!s->client[i] || !s->client[i]->out)
			break;
	if (i == CTL_CLIENTS_MAX) {
		listen_pause(s, 1);
		return;
	}
	fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0 && ctl_server_add(s, fd))
		host_log(&s->log, "control refused reason=no-slot");
}

void ctl_parse_error(FILE *out, const char *line, const char *err)
{
	struct pr p;

	pr_init(&p, out, !strncmp(line, "-j", 2));
	pr_error(&p, "%s", err);
}

/* As much of the answer as the client takes now; closed once it has all. */
static void client_write(struct ctl_server *s, unsigned int i)
{
	struct ctl_client *c = s->client[i];

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_close(s, i, NULL); /* gone: nobody to tell */
			return;
		}
		c->out_off += (size_t)n;
	}
	client_close(s, i, NULL);
}

/* The answer to the request in buf (or the refusal err) queued, and sent
 * from here on as the client reads. */
static void client_answer(struct ctl_server *s, unsigned int i, const char *err)
{
	struct ctl_client *c = s->client[i];
	struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = tag_of(i, c)};
	FILE *out = open_memstream(&c->out, &c->out_len);

	if (!out || epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev)) {
		if (out)
			fclose(out);
		client_close(s, i, "no-memory");
		return;
	}
	if (err)
		ctl_parse_error(out, c->buf, err);
	else
		s->answer(s->ctx, c->buf, c->len, out);
	if (fclose(out) || !c->out) {
		client_close(s, i, "no-memory");
		return;
	}
	c->deadline = now_ms() + s->timeout_ms;
	client_write(s, i);
}

static void client_read(struct ctl_server *s, unsigned int i)
{
	struct ctl_client *c = s->client[i];
	ssize_t n = recv(c->fd, c->buf + c->len, CTL_LINE_MAX + 1 - c->len, MSG_DONTWAIT);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && !c->len)) {
		client_close(s, i, NULL);
		return;
	}
	nl = memchr(c->buf + c->len, '\n', (size_t)n);
	c->len = nl ? (size_t)(nl - c->buf) : c->len + (size_t)n;
	if (!nl && n && c->len <= CTL_LINE_MAX)
		return; /* more to come */
	if (c->len > CTL_LINE_MAX) {
		char err[64];

		c->buf[CTL_LINE_MAX] = '\0';
		snprintf(err, sizeof(err), "request too long (at most %d bytes)", CTL_LINE_MAX);
		client_answer(s, i, err);
		return;
	}
	c->buf[c->len] = '\0'; /* the newline, or the byte past what came */
	client_answer(s, i, NULL);
}

static void client_event(struct ctl_server *s, uint64_t tag)
{
	unsigned int i = (unsigned int)(tag & 0xffffffffu);

	if (i >= CTL_CLIENTS_MAX || !s->client[i] || tag != tag_of(i, s->client[i]))
		return; /* for a client closed earlier in this batch */
	if (s->client[i]->out)
		client_write(s, i);
	else
		client_read(s, i);
}

/* Close whoever is past its deadline; the timer set for the next one. */
static void expire(struct ctl_server *s)
{
	struct itimerspec its = {{0, 0}, {0, 0}};
	int64_t now = now_ms(), next = INT64_MAX;
	unsigned int i;

	for (i = 0; i < CTL_CLIENTS_MAX; i++) {
		struct ctl_client *c = s->client[i];

		if (c && c->deadline <= now)
			client_close(s, i, c->out ? "answer-timeout" : "request-timeout");
		else if (c && c->deadline < next)
			next = c->deadline;
	}
	if (next != INT64_MAX) {
		its.it_value.tv_sec = next / 1000;
		its.it_value.tv_nsec = (next % 1000) * 1000000;
	}
	timerfd_settime(s->timer, TFD_TIMER_ABSTIME, &its, NULL);
}

void ctl_server_run(struct ctl_server *s, int timeout_ms)
{
	struct epoll_event ev[8];
	uint64_t ticks;
	int n, i;

	n = epoll_wait(s->epfd, ev, 8, timeout_ms);
	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == LISTEN_TAG)
			accept_client(s);
		else if (ev[i].data.u64 == TIMER_TAG)
			(void)!read(s->timer, &ticks, sizeof(ticks));
		else
			client_event(s, ev[i].data.u64);
	}
	expire(s);
}

void ctl_server_stop(struct ctl_server *s)
{
	unsigned int i;

	for (i = 0; i < CTL_CLIENTS_MAX; i++)
		if (s->client[i])
			client_close(s, i, NULL);
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	if (s->timer >= 0)
		close(s->timer);
	if (s->epfd >= 0)
		close(s->epfd);
	s->fd = s->epfd = s->timer = -1;
}

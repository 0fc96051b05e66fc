// SPDX-License-Identifier: MIT
/*
 * ctl_server.c - the control socket (ctl_server.h). Clients are freed
 * within the batch that closes them: each event names its client by slot
 * and only ever closes that one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_io.h"
#include "ctl_server.h"
#include "print.h"
#include "unix_socket.h"

#define LISTEN_TAG UINT64_MAX

void ctl_server_init(struct ctl_server *s)
{
	memset(s, 0, sizeof(*s));
	s->epfd = s->fd = -1;
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
	    listen(fd, 16) == 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return fd;
	e = errno;
	close(fd);
	return -e;
}

int ctl_server_start(struct ctl_server *s, const char *path, ctl_answer_fn *answer, void *ctx,
		     const struct host_log *log)
{
	ctl_server_init(s);
	if (strlen(path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	strcpy(s->path, path);
	s->answer = answer;
	s->ctx = ctx;
	if (log)
		s->log = *log;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	s->fd = listen_on(path, s->epfd);
	return s->fd < 0 ? s->fd : 0;
}

static void client_close(struct ctl_server *s, unsigned int i)
{
	close(s->client[i]->fd);
	free(s->client[i]);
	s->client[i] = NULL;
}

static void accept_client(struct ctl_server *s)
{
	struct epoll_event ev = {.events = EPOLLIN};
	unsigned int i;
	int fd;

	fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < CTL_CLIENTS_MAX && s->client[i]; i++)
		;
	if (i == CTL_CLIENTS_MAX || !(s->client[i] = calloc(1, sizeof(*s->client[i])))) {
		host_log(&s->log, "control refused reason=too-many-clients");
		close(fd);
		return;
	}
	s->client[i]->fd = fd;
	ev.data.u64 = i;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		client_close(s, i);
}

void ctl_parse_error(FILE *out, const char *line, const char *err)
{
	struct pr p;

	pr_init(&p, out, !strncmp(line, "-j", 2));
	pr_error(&p, "%s", err);
}

static void reply(struct ctl_server *s, struct ctl_client *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		return;
	s->answer(s->ctx, c->buf, c->len, out);
	fclose(out);
	ctl_send_answer(c->fd, text, len);
	free(text);
}

static void client_event(struct ctl_server *s, unsigned int i, uint32_t events)
{
	struct ctl_client *c = s->client[i];
	char *nl;
	ssize_t n;

	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		client_close(s, i);
		return;
	}
	n = recv(c->fd, c->buf + c->len, CTL_LINE_MAX + 1 - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->len)
			reply(s, c); /* EOF before a newline: answer what came */
		client_close(s, i);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	nl = memchr(c->buf, '\n', c->len);
	if (nl)
		c->len = (size_t)(nl - c->buf) + 1;
	if (nl || c->len > CTL_LINE_MAX) {
		reply(s, c);
		client_close(s, i);
	}
}

void ctl_server_run(struct ctl_server *s, int timeout_ms)
{
	struct epoll_event ev[8];
	int n, i;

	n = epoll_wait(s->epfd, ev, 8, timeout_ms);
	for (i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;

		if (tag == LISTEN_TAG)
			accept_client(s);
		else if (tag < CTL_CLIENTS_MAX && s->client[tag])
			client_event(s, (unsigned int)tag, ev[i].events);
	}
}

void ctl_server_stop(struct ctl_server *s)
{
	unsigned int i;

	for (i = 0; i < CTL_CLIENTS_MAX; i++)
		if (s->client[i])
			client_close(s, i);
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	s->fd = s->epfd = -1;
}

/* SPDX-License-Identifier: MIT */
/*
 * ctl_server.h - the control socket of ivnetd and ivnet-vswitch alike.
 *
 * A client connects, writes one request line (at most CTL_LINE_MAX bytes,
 * ending in '\n' or at EOF), reads the answer until the server closes the
 * connection. The server owns an epoll set of its listening socket and its
 * clients: the daemon watches that one fd and calls ctl_server_run() when
 * it is readable (or polls it with a timeout).
 */
#ifndef HOST_CTL_SERVER_H
#define HOST_CTL_SERVER_H

#include <stddef.h>
#include <stdio.h>

#include "ctl_io.h"
#include "host_log.h"

#define CTL_CLIENTS_MAX 32
#define CTL_PATH_MAX 108 /* sun_path */

/* Answer one request line (not NUL-terminated at len; buf[len] is NUL). */
typedef void ctl_answer_fn(void *ctx, const char *line, size_t len, FILE *out);

struct ctl_client {
	int fd;
	size_t len;
	char buf[CTL_LINE_MAX + 1];
};

struct ctl_server {
	int epfd; /* what the daemon watches */
	int fd;	  /* the listening socket */
	char path[CTL_PATH_MAX];
	ctl_answer_fn *answer;
	void *ctx;
	struct host_log log;
	struct ctl_client *client[CTL_CLIENTS_MAX];
};

/* Not started: ctl_server_stop() is a no-op on it. */
void ctl_server_init(struct ctl_server *s);
/* Bind path (owner only: the socket tells and changes who is where).
 * Returns 0 or a negative errno. */
int ctl_server_start(struct ctl_server *s, const char *path, ctl_answer_fn *answer, void *ctx,
		     const struct host_log *log);
/* Accept, read and answer what is ready, waiting at most timeout_ms. */
void ctl_server_run(struct ctl_server *s, int timeout_ms);
void ctl_server_stop(struct ctl_server *s);

/* A request that did not parse: "error: REASON", or JSON if it began -j. */
void ctl_parse_error(FILE *out, const char *line, const char *err);

#endif /* HOST_CTL_SERVER_H */

/* SPDX-License-Identifier: MIT */
/*
 * ctl_server.h - the control socket of ivnetd and ivnet-vswitch alike.
 *
 * A client connects, writes one request line (at most CTL_LINE_MAX bytes,
 * ending in '\n' or at EOF), reads the answer until the server closes the
 * connection. The server owns an epoll set of its listening socket, its
 * clients and a timer: the daemon watches that one fd and calls
 * ctl_server_run() when it is readable (or polls it with a timeout).
 *
 * No client can hold the loop: sockets are non-blocking, a request is
 * gathered as it comes, the answer is queued and written as the client
 * reads it. A client has the time-out (CTL_TIMEOUT_MS, or the environment's
 * IVNET_CTL_TIMEOUT_MS) to send its whole request, and as long again to
 * take its whole answer; then it is closed. When all CTL_CLIENTS_MAX slots
 * are taken, a new client evicts the oldest one still silent (a client
 * that means to ask asks at once; one stuck in silence must not lock out
 * the libvirt hook for a whole time-out, longer than the hook waits).
 */
#ifndef HOST_CTL_SERVER_H
#define HOST_CTL_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl_io.h"
#include "host_log.h"

#define CTL_CLIENTS_MAX 32
#define CTL_PATH_MAX 108 /* sun_path */
#define CTL_TIMEOUT_MS 5000
#define CTL_TIMEOUT_ENV "IVNET_CTL_TIMEOUT_MS"

/* Answer one request line: line[len] is NUL, the newline taken off. */
typedef void ctl_answer_fn(void *ctx, const char *line, size_t len, FILE *out);

struct ctl_client {
	int fd;
	uint32_t serial; /* which client of this slot an event is for */
	int64_t since;	 /* connected, ms (CLOCK_MONOTONIC): the eviction order */
	int64_t deadline;
	char *out; /* the answer; NULL while the request comes */
	size_t out_len, out_off;
	size_t len;
	char buf[]; /* CTL_LINE_MAX + 1 bytes: the request, NUL-terminated */
};

struct ctl_server {
	int epfd;  /* what the daemon watches */
	int fd;	   /* the listening socket */
	int timer; /* a timerfd for the next deadline */
	int timeout_ms;
	int paused; /* the listener is out of the set: every slot answers */
	uint32_t serial;
	char path[CTL_PATH_MAX];
	ctl_answer_fn *answer;
	void *ctx;
	struct host_log log;
	struct ctl_client *client[CTL_CLIENTS_MAX];
};

/* Not started: ctl_server_stop() is a no-op on it. */
void ctl_server_init(struct ctl_server *s);
/* Bind path (owner only: the socket tells and changes who is where); a
 * NULL path serves only the clients ctl_server_add() gives it. Returns 0
 * or a negative errno. */
int ctl_server_start(struct ctl_server *s, const char *path, ctl_answer_fn *answer, void *ctx,
		     const struct host_log *log);
/* Serve a connected socket as a client (accepted ones come this way):
 * 0, or a negative errno with fd closed. */
int ctl_server_add(struct ctl_server *s, int fd);
/* Accept, read, answer and time out what is ready, waiting at most
 * timeout_ms. */
void ctl_server_run(struct ctl_server *s, int timeout_ms);
void ctl_server_stop(struct ctl_server *s);

/* A request that did not parse: "error: REASON", or JSON if it began -j. */
void ctl_parse_error(FILE *out, const char *line, const char *err);

#endif /* HOST_CTL_SERVER_H */

/* SPDX-License-Identifier: MIT */
/*
 * ctl_client.h - the client end of a control socket (ivnetd's or
 * ivnet-vswitch's, ctl_server.h): connect, send one request line, read the
 * answer until the server closes. ivnetctl and ivnet-libvirt use it.
 *
 * Each call returns 0 (or an fd) or a negative errno; the caller words the
 * line, since only it knows what the socket was for.
 */
#ifndef IVNET_CTL_CLIENT_H
#define IVNET_CTL_CLIENT_H

#include <stddef.h>

/*
 * Connect to the socket at path. With timeout_ms > 0 every later send and
 * receive gives up after it (-EAGAIN), and so does connect itself (a full
 * backlog blocks it). Returns the fd, or -ENAMETOOLONG for a path that is
 * no socket address, or another negative errno.
 */
int ctl_client_connect(const char *path, int timeout_ms);

/* Send line and its newline, then say nothing more will come (the server
 * answers once the request is complete). Returns 0 or a negative errno. */
int ctl_client_send(int fd, const char *line);

/*
 * The whole answer, NUL-terminated, in *out (malloc'd; the caller frees)
 * with its length in *len (may be NULL). max > 0 bounds it (-E2BIG past
 * it). An answer holding a NUL is -EBADMSG (no server writes one).
 */
int ctl_client_answer(int fd, size_t max, char **out, size_t *len);

/* Whether an answer is the server's error: "error: ..." as text, or
 * {"error": ...} as JSON (print.h's pr_error). */
int ctl_answer_is_error(const char *ans);

#endif /* IVNET_CTL_CLIENT_H */

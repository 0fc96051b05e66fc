// SPDX-License-Identifier: MIT
/*
 * ctl_client.c - the client end of a control socket (see ctl_client.h).
 */
#define _GNU_SOURCE
#include "ctl_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "unix_socket.h"

#define CHUNK 4096

int ctl_client_connect(const char *path, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	struct sockaddr_un sun;
	int fd = host_unix_socket(path, 0, &sun), e;

	if (fd < 0)
		return fd;
	if (timeout_ms > 0 && (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
			       setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))))
		goto fail;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

int ctl_client_send(int fd, const char *line)
{
	size_t len = strlen(line) + 1;
	char *req = malloc(len + 1);
	const char *s = req;

	if (!req)
		return -ENOMEM;
	memcpy(req, line, len - 1);
	req[len - 1] = '\n';
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EPIPE;

			free(req);
			return -e;
		}
		s += n;
		len -= (size_t)n;
	}
	free(req);
	shutdown(fd, SHUT_WR);
	return 0;
}

/* Room for the next read in *buf: doubled, up to one byte past max (so
 * that an answer longer than max is seen to be). */
static int grow(char **buf, size_t *cap, size_t len, size_t max)
{
	size_t want = *cap ? *cap * 2 : 2 * CHUNK;
	char *nb;

	if (*cap - len > CHUNK)
		return 0;
	if (max && want > max + 2)
		want = max + 2;
	if (want <= *cap)
		return 0;
	nb = realloc(*buf, want);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = want;
	return 0;
}

int ctl_client_answer(int fd, size_t max, char **out, size_t *lenp)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int e;

	while (!(e = grow(&buf, &cap, len, max))) {
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);

		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = -errno;
			break;
		}
		len += (size_t)n;
		if (max && len > max) {
			e = -E2BIG;
			break;
		}
	}
	if (!e && memchr(buf, '\0', len))
		e = -EBADMSG;
	if (e) {
		free(buf);
		return e;
	}
	buf[len] = '\0';
	*out = buf;
	if (lenp)
		*lenp = len;
	return 0;
}

int ctl_answer_is_error(const char *ans)
{
	return !strncmp(ans, "error: ", 7) || !strncmp(ans, "{\"error\":", 9);
}

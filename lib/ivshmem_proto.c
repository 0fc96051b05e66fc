// SPDX-License-Identifier: MIT
/*
 * ivshmem_proto.c - sending and receiving ivshmem protocol messages.
 */
#define _GNU_SOURCE
#include "ivshmem_proto.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ivnet_proto_send(int sock, int64_t value, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	int64_t le = (int64_t)htole64((uint64_t)value);
	struct iovec iov = {.iov_base = &le, .iov_len = sizeof(le)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* 8 bytes on a stream socket go out whole or not at all in practice;
	 * a short send would desynchronise the stream: treat it as fatal. */
	return n == (ssize_t)sizeof(le) ? 0 : -EPROTO;
}

/* Close every descriptor a message carried; keep the first if wanted. */
static int take_fds(struct msghdr *msg, int *fd)
{
	struct cmsghdr *c;
	int bad = 0;

	*fd = -1;
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n, i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
			if (*fd < 0 && !bad)
				*fd = f;
			else {
				close(f);
				bad = 1;
			}
		}
	}
	if (bad && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return bad || (msg->msg_flags & MSG_CTRUNC) ? -EPROTO : 0;
}

int ivnet_proto_recv(int sock, int64_t *value, int *fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} control;
	int64_t le;
	struct iovec iov = {.iov_base = &le, .iov_len = sizeof(le)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;
	int err;

	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	err = take_fds(&msg, fd);
	if (n == 0)
		return -EPIPE;
	if (err || n != (ssize_t)sizeof(le)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EPROTO;
	}
	*value = (int64_t)le64toh((uint64_t)le);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the control server's loop (host/util/ctl_server.c) in
 * process, its clients socketpairs that the input drives: new clients
 * (past CTL_CLIENTS_MAX, so that the full table evicts), chunks of any
 * bytes and length, half-closes, closes, partial reads, small send
 * buffers, time-outs down to none, the loop run in between. The answer
 * callback checks what the server hands it (a NUL-terminated line without
 * its newline, at most CTL_LINE_MAX bytes) and answers up to a few hundred
 * KB, more than a socket holds. At the end every descriptor is closed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEERS (CTL_CLIENTS_MAX + 8)

struct input {
	const uint8_t *p;
	size_t n;
};

static unsigned int next(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* Answers: an error for 'e...', about line[1] * 2 KB for 'b...', else the
 * line back. */
static void answer(void *ctx, const char *line, size_t len, FILE *out)
{
	size_t k;

	(void)ctx;
	if (len > CTL_LINE_MAX || line[len] || memchr(line, '\n', len))
		__builtin_trap();
	if (len && line[0] == 'e') {
		ctl_parse_error(out, line, "fuzz");
		return;
	}
	if (len > 1 && line[0] == 'b') {
		for (k = 0; k < (unsigned char)line[1] * 2048u; k++)
			fputc('a' + (int)(k % 26), out);
		return;
	}
	fwrite(line, 1, len, out);
}

static int peer_of(struct input *in, const int *peer)
{
	int k = (int)(next(in) % PEERS);

	return peer[k];
}

static void step(struct ctl_server *s, struct input *in, int *peer)
{
	unsigned int op = next(in) % 8, k, len;
	char buf[4096];
	int sv[2], fd, sz;

	switch (op) {
	case 0: /* a client */
		k = next(in) % PEERS;
		if (peer[k] >= 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return;
		peer[k] = sv[0];
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		ctl_server_add(s, sv[1]);
		return;
	case 1: /* bytes of the input, or one byte repeated: long lines */
		fd = peer_of(in, peer);
		len = next(in) * (next(in) % 8 + 1);
		if (next(in) & 1) {
			memset(buf, (int)next(in), sizeof(buf));
			len = len < sizeof(buf) ? len : sizeof(buf);
			if (fd >= 0)
				(void)!send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
			return;
		}
		len = len < in->n ? len : (unsigned int)in->n;
		if (fd >= 0)
			(void)!send(fd, in->p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		in->p += len;
		in->n -= len;
		return;
	case 2: /* take some of the answer */
		fd = peer_of(in, peer);
		len = (next(in) + 1) * 16;
		if (fd >= 0)
			(void)!recv(fd, buf, len < sizeof(buf) ? len : sizeof(buf), MSG_DONTWAIT);
		return;
	case 3:
		fd = peer_of(in, peer);
		if (fd >= 0)
			shutdown(fd, SHUT_WR);
		return;
	case 4:
		k = next(in) % PEERS;
		if (peer[k] >= 0)
			close(peer[k]);
		peer[k] = -1;
		return;
	case 5: /* the server's end of a client holds little */
		k = next(in) % CTL_CLIENTS_MAX;
		sz = (int)next(in) * 64;
		if (s->client[k])
			setsockopt(s->client[k]->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		return;
	case 6:
		s->timeout_ms = (int)(next(in) % 3); /* 0: due at the next run */
		return;
	default:
		ctl_server_run(s, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct ctl_server s;
	int peer[PEERS], k, probe;

	for (k = 0; k < PEERS; k++)
		peer[k] = -1;
	probe = dup(2);
	close(probe);
	if (ctl_server_start(&s, NULL, answer, NULL, NULL))
		__builtin_trap();
	s.timeout_ms = 1000;
	while (in.n)
		step(&s, &in, peer);
	for (k = 0; k < 4; k++)
		ctl_server_run(&s, 0);
	ctl_server_stop(&s);
	for (k = 0; k < PEERS; k++)
		if (peer[k] >= 0)
			close(peer[k]);
	k = dup(2);
	close(k);
	if (k != probe)
		__builtin_trap(); /* a descriptor left open */
	return 0;
}

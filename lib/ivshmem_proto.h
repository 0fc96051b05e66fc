/* SPDX-License-Identifier: MIT */
/*
 * ivshmem_proto.h - the QEMU ivshmem client-server protocol, both ends.
 *
 * UNIX stream socket, server to client only. Every message is one 8-byte
 * little-endian signed integer with at most one file descriptor attached
 * (SCM_RIGHTS). On connect the server sends, in order:
 *
 *   1. the protocol version, IVNET_PROTO_VERSION (0), no fd
 *   2. the client's own peer id (0..65535), no fd
 *   3. -1 with the shared-memory fd
 *   4. for every other connected peer, its id once per vector, each with
 *      one eventfd (the k-th is vector k)
 *   5. the client's own id once per vector, each with its own eventfd
 *
 * Afterwards: a peer id with an fd adds the next vector of that peer (a new
 * peer connected); a peer id without an fd means that peer left. A client
 * never sends anything: the server drops a client that does.
 */
#ifndef IVSHMEM_PROTO_H
#define IVSHMEM_PROTO_H

#include <stdint.h>

#define IVNET_PROTO_VERSION 0
#define IVNET_PROTO_MAX_ID 65535

/* Send one message; fd < 0 sends none. Non-blocking sockets may return
 * -EAGAIN. Returns 0 or a negative errno. */
int ivnet_proto_send(int sock, int64_t value, int fd);

/*
 * Receive one message. *fd is the attached descriptor or -1. Returns 0,
 * -EPIPE at end of stream, -EPROTO on a short or malformed message (extra
 * descriptors are closed, never leaked), or another negative errno.
 */
int ivnet_proto_recv(int sock, int64_t *value, int *fd);

#endif /* IVSHMEM_PROTO_H */

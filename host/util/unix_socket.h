/* SPDX-License-Identifier: MIT */
/*
 * unix_socket.h - a UNIX stream socket and its address, for every socket
 * host/ listens or connects on by path (control sockets, ivnetd's segments).
 */
#ifndef IVNET_UNIX_SOCKET_H
#define IVNET_UNIX_SOCKET_H

#include <sys/socket.h>
#include <sys/un.h>

/* A close-on-exec stream socket (flags: 0 or SOCK_NONBLOCK) and path's
 * address in *sun. Returns the fd, -ENAMETOOLONG if path is no address, or
 * another negative errno. */
int host_unix_socket(const char *path, int flags, struct sockaddr_un *sun);

#endif /* IVNET_UNIX_SOCKET_H */

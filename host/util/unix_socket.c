// SPDX-License-Identifier: MIT
/*
 * unix_socket.c - see unix_socket.h.
 */
#include "unix_socket.h"

#include <errno.h>
#include <string.h>

int host_unix_socket(const char *path, int flags, struct sockaddr_un *sun)
{
	int fd;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	return fd < 0 ? -errno : fd;
}

// SPDX-License-Identifier: MIT
/*
 * threads.c - a process's threads from /proc/PID/task (see threads.h).
 */
#define _GNU_SOURCE
#include "threads.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VCPU_MAX 4096 /* QEMU's limit is far lower; anything above is not a vCPU */

int ivnetd_vcpu_of_name(const char *name)
{
	const char *p;
	int n = 0;

	if (!strcmp(name, "ALL CPUs/TCG"))
		return 0;
	if (strncmp(name, "CPU ", 4) || !isdigit((unsigned char)name[4]))
		return -1;
	for (p = name + 4; isdigit((unsigned char)*p); p++) {
		n = n * 10 + (*p - '0');
		if (n >= VCPU_MAX)
			return -1;
	}
	if (strcmp(p, "/KVM") && strcmp(p, "/TCG"))
		return -1;
	return n;
}

static void read_comm(int dirfd, int tid, char name[16])
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%d/comm", tid);
	name[0] = '\0';
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, name, 15);
	close(fd);
	if (n < 0)
		n = 0;
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
}

int ivnetd_threads_read(int pid, struct ivnetd_thread_info **out)
{
	struct ivnetd_thread_info *v = NULL;
	char path[64];
	struct dirent *e;
	int n = 0, cap = 0, fd;
	DIR *dir;

	*out = NULL;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(dir))) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);

		if (!isdigit((unsigned char)e->d_name[0]) || *end || tid <= 0 || tid > 1 << 30)
			continue;
		if (n == cap) {
			struct ivnetd_thread_info *g;

			cap = cap ? cap * 2 : 16;
			g = realloc(v, (size_t)cap * sizeof(*v));
			if (!g) {
				free(v);
				closedir(dir);
				return -ENOMEM;
			}
			v = g;
		}
		v[n].tid = (int)tid;
		read_comm(dirfd(dir), (int)tid, v[n].name);
		v[n].vcpu = ivnetd_vcpu_of_name(v[n].name);
		n++;
	}
	closedir(dir);
	*out = v;
	return n;
}

int ivnetd_thread_of(int pid, int tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
	return stat(path, &st) == 0;
}

// SPDX-License-Identifier: MIT
/*
 * cgroup.c - cgroup v2 cpusets for placement (see cgroup.h).
 */
#define _GNU_SOURCE
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int put(const char *dir, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write one value to dir/file; 0 or a negative errno. */
static int put(const char *dir, const char *file, const char *fmt, ...)
{
	char path[PATH_MAX + 64], val[IVNETD_CPULIST_LEN + 16];
	va_list ap;
	ssize_t n;
	int fd, e = 0;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		e = -errno;
	close(fd);
	return e;
}

static int get(const char *dir, const char *file, char *buf, size_t n)
{
	char path[PATH_MAX + 64];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -errno;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Whether a space-separated list holds word. */
static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* Whether a comma-separated option list holds opt. */
static int has_opt(const char *list, const char *opt)
{
	size_t n = strlen(opt);
	const char *p = list;

	for (;;) {
		if (!strncmp(p, opt, n) && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p = strchr(p, ',');
		if (!p)
			return 0;
		p++;
	}
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

static int under(const char *path, const char *mount)
{
	size_t n = strlen(mount);

	if (!strcmp(mount, "/"))
		return 1;
	return !strncmp(path, mount, n) && (path[n] == '/' || path[n] == '\0');
}

/*
 * The cgroup2 mount holding path (the longest mount point above it). Also
 * notes, for the error message, where cgroup2 and a v1 cpuset are mounted.
 */
static int find_mount(struct ivnetd_cgroup *cg, const char *path, char *v2, size_t v2n, char *v1,
		      size_t v1n)
{
	char line[4096];
	size_t best = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	v2[0] = v1[0] = '\0';
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char root[1024], mnt[1024], *dash = strstr(line, " - "), fstype[32], super[1024];

		if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%31s %*s %1023s", fstype, super) != 2)
			continue;
		unescape(root);
		unescape(mnt);
		if (!strcmp(fstype, "cgroup") && has_opt(super, "cpuset"))
			snprintf(v1, v1n, "%s", mnt);
		if (strcmp(fstype, "cgroup2"))
			continue;
		if (!v2[0])
			snprintf(v2, v2n, "%s", mnt);
		if (under(path, mnt) && strlen(mnt) >= best && strlen(mnt) < sizeof(cg->mount)) {
			best = strlen(mnt);
			strcpy(cg->mount, mnt);
			snprintf(cg->root, sizeof(cg->root), "%s", root);
		}
	}
	fclose(f);
	return best ? 0 : -1;
}

/* cpuset offered to dir and handed on to its children. */
static int enable_cpuset(const char *dir, char *err, size_t errlen)
{
	char buf[512];
	int e;

	if (get(dir, "cgroup.controllers", buf, sizeof(buf))) {
		snprintf(err, errlen, "%s is not a cgroup v2 directory", dir);
		return -1;
	}
	if (!has_word(buf, "cpuset")) {
		snprintf(err, errlen,
			 "cgroup v2 at %s has no cpuset controller (controllers: %s); use "
			 "pin=affinity",
			 dir, buf[0] ? buf : "none");
		return -1;
	}
	if (get(dir, "cgroup.subtree_control", buf, sizeof(buf)) == 0 && has_word(buf, "cpuset"))
		return 0;
	e = put(dir, "cgroup.subtree_control", "+cpuset");
	if (e) {
		snprintf(err, errlen, "cannot enable cpuset for the children of %s: %s%s", dir,
			 strerror(-e),
			 e == -EBUSY ? " (it has processes of its own: choose a cgroup= parent "
				       "beside them)"
				     : "");
		return -1;
	}
	return 0;
}

int ivnetd_cgroup_setup(struct ivnetd_cgroup *cg, const char *parent, const char *segment,
			char *err, size_t errlen)
{
	char v2[1024], v1[1024], path[PATH_MAX], name[80];
	const char *rel;
	size_t i;
	int n;

	memset(cg, 0, sizeof(*cg));
	if (find_mount(cg, parent, v2, sizeof(v2), v1, sizeof(v1))) {
		n = snprintf(err, errlen, "no cgroup v2 file system holds %s", parent);
		if (v2[0] && n > 0 && (size_t)n < errlen)
			n += snprintf(err + n, errlen - (size_t)n, " (cgroup2 is at %s)", v2);
		if (v1[0] && n > 0 && (size_t)n < errlen)
			n += snprintf(err + n, errlen - (size_t)n,
				      "; cpuset is on a cgroup v1 hierarchy (%s): boot with "
				      "systemd.unified_cgroup_hierarchy=1",
				      v1);
		if (n > 0 && (size_t)n < errlen)
			snprintf(err + n, errlen - (size_t)n, "; or use pin=affinity");
		return -1;
	}
	snprintf(cg->parent, sizeof(cg->parent), "%s", parent);
	/* cpuset handed down from the mount to parent, each level made if
	 * missing */
	rel = strcmp(cg->mount, "/") ? parent + strlen(cg->mount) : parent;
	snprintf(path, sizeof(path), "%s", strcmp(cg->mount, "/") ? cg->mount : "");
	if (enable_cpuset(path[0] ? path : "/", err, errlen))
		return -1;
	while (*rel) {
		size_t len = strlen(path);

		while (*rel == '/')
			rel++;
		n = (int)strcspn(rel, "/");
		if (!n)
			break;
		if (snprintf(path + len, sizeof(path) - len, "/%.*s", n, rel) >=
		    (int)(sizeof(path) - len)) {
			snprintf(err, errlen, "cgroup path too long");
			return -1;
		}
		rel += n;
		if (mkdir(path, 0755) == 0) {
			cg->made_parent |= !*rel || !strcmp(rel, "/");
		} else if (errno != EEXIST) {
			snprintf(err, errlen, "cannot make cgroup %s: %s", path, strerror(errno));
			return -1;
		}
		if (enable_cpuset(path, err, errlen))
			return -1;
	}
	/* SEGMENT.PID, the name made safe for a path */
	n = snprintf(name, sizeof(name), "%.60s.%d", segment, (int)getpid());
	for (i = 0; i < (size_t)n && i < sizeof(name); i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    name[i]))
			name[i] = '_';
	if (name[0] == '.')
		name[0] = '_';
	if (snprintf(cg->dir, sizeof(cg->dir), "%s/%s", parent, name) >= (int)sizeof(cg->dir)) {
		snprintf(err, errlen, "cgroup path too long");
		return -1;
	}
	if (mkdir(cg->dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make cgroup %s: %s", cg->dir, strerror(errno));
		return -1;
	}
	if (enable_cpuset(cg->dir, err, errlen)) {
		rmdir(cg->dir);
		return -1;
	}
	cg->ready = 1;
	return 0;
}

void ivnetd_cgroup_teardown(struct ivnetd_cgroup *cg)
{
	if (!cg->ready)
		return;
	ivnetd_cgroup_remove(cg->dir);
	/* Other daemons may share the parent: it goes only when empty. */
	if (cg->made_parent)
		rmdir(cg->parent);
	cg->ready = 0;
}

int ivnetd_cgroup_set_cpus(const char *dir, const struct ivnetd_cpus *cpus, char *err,
			   size_t errlen)
{
	char list[IVNETD_CPULIST_LEN];
	int e;

	ivnetd_cpulist_format(cpus, list, sizeof(list));
	e = put(dir, "cpuset.cpus", "%s", list);
	if (e)
		snprintf(err, errlen, "%s/cpuset.cpus = %s: %s", dir, list, strerror(-e));
	return e ? -1 : 0;
}

int ivnetd_cgroup_make(const char *dir, const struct ivnetd_cpus *cpus, int node, char *err,
		       size_t errlen)
{
	int e;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make cgroup %s: %s", dir, strerror(errno));
		return -1;
	}
	if (ivnetd_cgroup_set_cpus(dir, cpus, err, errlen))
		return -1;
	if (node >= 0) {
		e = put(dir, "cpuset.mems", "%d", node);
		if (e) {
			snprintf(err, errlen, "%s/cpuset.mems = %d: %s", dir, node, strerror(-e));
			return -1;
		}
	}
	return 0;
}

int ivnetd_cgroup_make_threaded(const char *dir, const struct ivnetd_cpus *cpus, char *err,
				size_t errlen)
{
	char parent[PATH_MAX], *slash;
	int e;

	if (mkdir(dir, 0755) == 0) {
		e = put(dir, "cgroup.type", "threaded");
		if (e) {
			snprintf(err, errlen, "%s/cgroup.type = threaded: %s", dir, strerror(-e));
			return -1;
		}
		/* Only now, a thread root, may the process's cgroup hand
		 * cpuset on to children. */
		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		if (enable_cpuset(parent, err, errlen))
			return -1;
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "cannot make cgroup %s: %s", dir, strerror(errno));
		return -1;
	}
	return ivnetd_cgroup_set_cpus(dir, cpus, err, errlen);
}

int ivnetd_cgroup_move(const char *dir, int id, int thread, char *err, size_t errlen)
{
	const char *file = thread ? "cgroup.threads" : "cgroup.procs";
	int e = put(dir, file, "%d", id);

	if (e)
		snprintf(err, errlen, "moving %s %d to %s: %s", thread ? "thread" : "process", id,
			 dir, strerror(-e));
	return e ? -1 : 0;
}

int ivnetd_cgroup_move_back(const struct ivnetd_cgroup *cg, const char *dir, int pid, char *err,
			    size_t errlen)
{
	char path[PATH_MAX], *slash;
	int e;

	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		e = put(path, "cgroup.procs", "%d", pid);
		if (e == 0)
			return 0;
		if (!strcmp(path, cg->mount) || !under(path, cg->mount))
			break;
		slash = strrchr(path, '/');
		if (!slash || slash == path)
			break;
		*slash = '\0';
	}
	snprintf(err, errlen, "cannot move process %d back to %s or above: %s", pid, dir,
		 strerror(-e));
	return -1;
}

int ivnetd_cgroup_of(const struct ivnetd_cgroup *cg, int pid, char *out, size_t n)
{
	char path[64], line[PATH_MAX + 16];
	size_t rootlen = strcmp(cg->root, "/") ? strlen(cg->root) : 0;
	int found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *rel;

		if (strncmp(line, "0::", 3))
			continue;
		rel = line + 3;
		rel[strcspn(rel, "\n")] = '\0';
		if (rootlen && strncmp(rel, cg->root, rootlen))
			break;
		rel += rootlen;
		if (snprintf(out, n, "%s%s", strcmp(cg->mount, "/") ? cg->mount : "", rel) < (int)n)
			found = 0;
		break;
	}
	fclose(f);
	return found;
}

int ivnetd_cgroup_remove(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char sub[PATH_MAX + 256];

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		rmdir(sub);
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

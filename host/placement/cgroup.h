/* SPDX-License-Identifier: MIT */
/*
 * cgroup.h - the cpuset mechanism of placement: cgroup v2 only.
 *
 *   PARENT/                     cgroup=PATH (default /sys/fs/cgroup/ivnet)
 *     SEGMENT.DAEMONPID/        one per placed segment, while it runs
 *       peerID.PID/             one per peer process: its whole process,
 *                               cpuset.cpus = its CPUs, cpuset.mems = node
 *         vcpuN/                threaded: one vCPU thread on its own CPUs
 *
 * cgroup v2 hands a controller to children only from a cgroup with no
 * processes of its own (the root excepted) and, within a process, only
 * through threaded cgroups; hence this shape. Everything made is removed
 * when the peer leaves (its process moved back first) and when the segment
 * stops.
 */
#ifndef IVNETD_CGROUP_H
#define IVNETD_CGROUP_H

#include <limits.h>
#include <stddef.h>

#include "cpus.h"

struct ivnetd_cgroup {
	char mount[PATH_MAX]; /* the cgroup2 mount that holds parent */
	char root[PATH_MAX];  /* the mount's root within the hierarchy ("/" usually) */
	char parent[PATH_MAX];
	char dir[PATH_MAX]; /* parent/SEGMENT.DAEMONPID */
	int made_parent;
	int ready;
};

/* Check that cgroup v2 with cpuset holds parent, enable cpuset down to it,
 * and make the segment's directory. Returns 0 or -1 with a reason. */
int ivnetd_cgroup_setup(struct ivnetd_cgroup *cg, const char *parent, const char *segment,
			char *err, size_t errlen);
/* Remove the segment's directory (and parent if made here and empty). */
void ivnetd_cgroup_teardown(struct ivnetd_cgroup *cg);

/* mkdir dir with these CPUs and, if node >= 0, memory node. */
int ivnetd_cgroup_make(const char *dir, const struct ivnetd_cpus *cpus, int node, char *err,
		       size_t errlen);
int ivnetd_cgroup_set_cpus(const char *dir, const struct ivnetd_cpus *cpus, char *err,
			   size_t errlen);
/* A threaded child of a process's cgroup, for some of its threads. */
int ivnetd_cgroup_make_threaded(const char *dir, const struct ivnetd_cpus *cpus, char *err,
				size_t errlen);
/* Move a whole process (cgroup.procs) or one thread (cgroup.threads). */
int ivnetd_cgroup_move(const char *dir, int id, int thread, char *err, size_t errlen);
/* Move a process back to dir, or the nearest ancestor of dir that takes it. */
int ivnetd_cgroup_move_back(const struct ivnetd_cgroup *cg, const char *dir, int pid, char *err,
			    size_t errlen);
/* The directory of pid's cgroup under cg's mount. */
int ivnetd_cgroup_of(const struct ivnetd_cgroup *cg, int pid, char *out, size_t n);
/* rmdir dir's children, then dir; 0 or a negative errno (-EBUSY: a
 * process is still leaving it; try again later). */
int ivnetd_cgroup_remove(const char *dir);

#endif /* IVNETD_CGROUP_H */

/* SPDX-License-Identifier: MIT */
/*
 * placement.h - where a segment's peers run: their vCPU threads (or, for a
 * process that has none, all its threads) pinned together with the
 * region's memory on one LLC domain and NUMA node, so that the rings stay
 * in a cache both ends share.
 *
 * Policies, per segment, over a configurable core set:
 *   none    nothing is pinned
 *   pack    every placed thread may run on any CPU of one LLC domain
 *   spread  each vCPU (or plain process) gets a CPU of its own in that
 *           domain: one per physical core first, then SMT siblings; when
 *           there are more than CPUs, they share in turn
 * Other threads of a QEMU (main loop, I/O, RCU) run on the whole domain.
 *
 * Mechanisms: the affinity mask of each thread (sched_setaffinity), or a
 * cgroup v2 cpuset per peer (cgroup.c). What a thread had before is
 * restored when its peer leaves.
 *
 * Three files: placement_config.c (the option vocabulary), placement_plan.c
 * (the choice of domain and CPUs: pure, unit-tested against recorded
 * topologies), placement.c (the daemon side: threads, mechanisms, undo).
 */
#ifndef IVNETD_PLACEMENT_H
#define IVNETD_PLACEMENT_H

#include <sys/types.h>

#include "cpus.h"
#include "host_log.h"
#include "topology.h"

struct pr;

enum ivnetd_policy {
	IVNETD_POLICY_NONE,
	IVNETD_POLICY_PACK,
	IVNETD_POLICY_SPREAD,
};

enum ivnetd_pin {
	IVNETD_PIN_AFFINITY,
	IVNETD_PIN_CPUSET,
};

enum ivnetd_sched {
	IVNETD_SCHED_KEEP, /* leave the threads' policy alone */
	IVNETD_SCHED_OTHER,
	IVNETD_SCHED_FIFO,
	IVNETD_SCHED_RR,
	IVNETD_SCHED_NICE,
};

enum ivnetd_mlock {
	IVNETD_MLOCK_DEFAULT, /* try when the segment is placed, else off */
	IVNETD_MLOCK_TRY,     /* lock; warn if the limit forbids it */
	IVNETD_MLOCK_REQUIRE, /* lock or do not start */
	IVNETD_MLOCK_OFF,
};

#define IVNETD_PL_PATH_MAX 108

struct ivnetd_placement_config {
	enum ivnetd_policy policy;
	enum ivnetd_pin pin;
	struct ivnetd_cpus cpus; /* the core set; all online CPUs unless cpus_set */
	int cpus_set;
	enum ivnetd_sched sched;
	int sched_value; /* priority (fifo, rr) or nice value */
	enum ivnetd_mlock mlock;
	char qmp[IVNETD_PL_PATH_MAX];	 /* QMP socket pattern: %p pid, %i peer id */
	char cgroup[IVNETD_PL_PATH_MAX]; /* parent of the per-peer cgroups */
};

#define IVNETD_CGROUP_DEFAULT "/sys/fs/cgroup/ivnet"

/* Which keys a `placement set` request changes. */
#define IVNETD_PLK_POLICY 0x1u
#define IVNETD_PLK_PIN 0x2u
#define IVNETD_PLK_CPUS 0x4u
#define IVNETD_PLK_SCHED 0x8u

/* ------------------------------------------------- placement_config.c */

void ivnetd_placement_defaults(struct ivnetd_placement_config *c);
/* One key=value: placement, cpus, pin, sched, mlock, qmp, cgroup. Returns
 * 0, -1 for a bad value, -2 for a key that is not a placement key. Sets
 * the key's bit (IVNETD_PLK_*) in *keys when keys is not NULL. */
int ivnetd_placement_key(struct ivnetd_placement_config *c, const char *key, const char *v,
			 unsigned *keys);
const char *ivnetd_policy_name(enum ivnetd_policy p);
const char *ivnetd_pin_name(enum ivnetd_pin m);
void ivnetd_sched_format(enum ivnetd_sched s, int value, char *buf, size_t n);

/* --------------------------------------------------- placement_plan.c */

struct ivnetd_plan {
	int llc;		    /* the LLC domain chosen (topology index) */
	int node;		    /* its NUMA node; -1: none known */
	struct ivnetd_cpus domain;  /* its CPUs that are in the core set */
	int order[IVNETD_CPUS_MAX]; /* spread hands these out in turn */
	int norder;
};

/*
 * Choose the domain: of the LLC domains that hold CPUs of the core set
 * (and of `node`, if >= 0), the one with the most physical cores there,
 * then the most CPUs, then the lowest CPU. Returns 0, or -1 with a reason.
 */
int ivnetd_plan_make(struct ivnetd_plan *pl, const struct ivnetd_topo *t,
		     const struct ivnetd_cpus *coreset, int node, char *err, size_t errlen);

/* The CPUs of unit i (the i-th vCPU or plain process of the segment, peers
 * in id order, a peer's vCPUs in index order). */
void ivnetd_plan_unit(const struct ivnetd_plan *pl, enum ivnetd_policy policy, int i,
		      struct ivnetd_cpus *out);

/* -------------------------------------------------------- placement.c */

struct ivnetd_placement;

/* A process's peers on one segment are a 64-bit mask. */
#define PLACEMENT_PEERS_MAX 64u
#define PLACEMENT_NAME_LEN 32u
#define PLACEMENT_LABEL_LEN 64u

/* What placement keeps of a segment it places (a copy, made at start). */
struct placement_segment {
	char name[PLACEMENT_NAME_LEN];
	int numa_node; /* the one the operator asked for; -1: none */
	struct ivnetd_placement_config place;
};

/* A peer as placement sees it. The daemon tells it of joins, leaves and
 * labels; placement never reads the daemon's own peer table. */
struct placement_peer {
	uint32_t id; /* < PLACEMENT_PEERS_MAX */
	pid_t pid;   /* 0 or less: unknown, never placed */
	char label[PLACEMENT_LABEL_LEN];
};

/*
 * What placement is given by the daemon it serves (it calls nothing of
 * the daemon): the machine's topology, a log, and the rescan timer, which
 * the daemon watches in its own loop. Every started placement hangs on
 * `all`, so that two segments never place one process.
 */
struct placement_env {
	const struct ivnetd_topo *topo; /* NULL: could not be read */
	struct host_log log;
	struct ivnetd_placement *all; /* placement.c's list */
	int timer_fd;
	int timer_armed;
};

/* Before the region exists: check the configuration against the topology,
 * make the plan, and say which node the region's pages belong to (-1:
 * none). *out is set even on failure (stop it). Returns 0 or a negative
 * errno (logged). */
int ivnetd_placement_start(struct placement_env *env, const struct placement_segment *s,
			   struct ivnetd_placement **out, int *node);
/* After the region is mapped, bound and formatted: lock it (mlock). */
int ivnetd_placement_lock(struct ivnetd_placement *pl, void *base, uint64_t size);
/* The calls below take a NULL placement and do nothing. */
void ivnetd_placement_join(struct ivnetd_placement *pl, const struct placement_peer *p);
void ivnetd_placement_leave(struct ivnetd_placement *pl, uint32_t id);
void ivnetd_placement_label(struct ivnetd_placement *pl, uint32_t id, const char *label);
/* After every peer left: cgroups removed, state freed, *pl NULL. */
void ivnetd_placement_stop(struct ivnetd_placement **pl);

/* Change policy, mechanism, core set or scheduling of a running segment:
 * everything is undone, then placed again. */
int ivnetd_placement_set(struct ivnetd_placement *pl, const struct ivnetd_placement_config *c,
			 unsigned keys, char *err, size_t errlen);
/* Find a peer's vCPU threads through this QMP socket (query-cpus-fast). */
int ivnetd_placement_qmp(struct ivnetd_placement *pl, uint32_t id, const char *path, char *err,
			 size_t errlen);

/* The daemon's rescan timer: threads appear after the join (QEMU connects
 * to the broker before it creates its vCPUs), and cgroups of exited
 * processes empty a little after the exit. */
/* Returns the timer's fd (for the daemon's loop; it calls tick when the
 * fd is readable), or a negative errno. */
int ivnetd_placement_timer_start(struct placement_env *e);
void ivnetd_placement_timer_stop(struct placement_env *e);
void ivnetd_placement_tick(struct placement_env *e);

/* For the host's own threads that serve a segment (a switch, say): the
 * CPUs of its domain and the region's node. Returns 0, or -1 if the
 * segment is not placed. */
int ivnetd_placement_domain(const struct ivnetd_placement *pl, struct ivnetd_cpus *cpus, int *node);

/* `ivnetctl placement`: text or JSON (print.h). */
void ivnetd_placement_show(struct pr *p, const struct ivnetd_placement *pl);

#endif /* IVNETD_PLACEMENT_H */

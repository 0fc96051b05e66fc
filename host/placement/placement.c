// SPDX-License-Identifier: MIT
/*
 * placement.c - the daemon side of placement (see placement.h): find each
 * peer's threads, give them the CPUs of the plan through the segment's
 * mechanism, and put back what they had when the peer leaves.
 *
 * State is per process, not per peer: a process with several peers on one
 * segment (endpoints in one program) is placed once. A process already
 * placed by another segment is listed with an error and left alone, so two
 * segments never fight over one thread.
 *
 * The peer's pid comes from SO_PEERCRED at accept; a pidfd taken at the
 * join tells later whether that process has exited, so a recycled pid is
 * never touched. Thread ids are checked to belong to the pid before each
 * change.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "host_err.h"
#include "host_log.h"
#include "placement.h"
#include "print.h"
#include "qmp.h"
#include "threads.h"

#define TICK_MS 250
#define QMP_TIMEOUT_MS 1500
#define QMP_TRIES 20	 /* ticks for QEMU to open its QMP socket */
#define QMP_SLOW_TRIES 3 /* for it to answer (its main loop may not run yet) */
#define REMOVE_TRIES 240 /* ticks for an exited process to leave its cgroup */
#define ERR_LEN HOST_ERRLEN

struct pl_thread {
	int tid;
	char name[16];
	int vcpu; /* -1: not a vCPU thread */
	int unit; /* index into the plan */
	int have_prev;
	struct ivnetd_cpus prev; /* affinity before we touched it */
	int applied;
	struct ivnetd_cpus want;
	int child; /* cpuset: in PEER/vcpuN (N), or -1 */
	int sched_saved;
	int prev_policy, prev_prio, prev_nice;
};

struct pl_proc {
	int pid;
	int pidfd;
	uint64_t peers; /* ids of this segment's peers that are this process */
	struct pl_thread *th;
	int nth;
	int nvcpus;
	char qmp[IVNETD_PL_PATH_MAX];
	int qmp_tries;
	int qmp_slow; /* tries that timed out */
	int qmp_ok;
	struct ivnetd_qmp_cpu *qcpu;
	int nqcpu;
	char cg[PATH_MAX]; /* cpuset: the process's cgroup while placed */
	char cg_orig[PATH_MAX];
	int cg_in;
	struct ivnetd_cpus cg_cpus;
	int skip; /* placed by another segment */
	char error[ERR_LEN];
};

struct pending {
	char path[PATH_MAX];
	int tries;
};

struct ivnetd_placement {
	struct placement_env *env;
	struct ivnetd_placement *next; /* env->all */
	struct placement_segment seg;
	struct ivnetd_placement_config cfg; /* seg.place, as `placement set` left it */
	struct placement_peer peer[PLACEMENT_PEERS_MAX];
	uint64_t present; /* which of peer[] have joined */
	struct ivnetd_cpus coreset;
	struct ivnetd_plan plan;
	int planned;
	int node;   /* the region's */
	void *base; /* the region, from ivnetd_placement_lock() */
	uint64_t size;
	uint64_t locked;
	struct ivnetd_cgroup cg;
	struct pl_proc *proc[PLACEMENT_PEERS_MAX];
	int nproc;
	struct pending *pending;
	int npending;
	int units; /* at the last plan */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fmt_cpus(const struct ivnetd_cpus *s, char *buf, size_t n)
{
	if (ivnetd_cpulist_format(s, buf, n))
		snprintf(buf, n, "(too many to list)");
}

static int lowest_peer(const struct pl_proc *pr)
{
	return pr->peers ? __builtin_ctzll(pr->peers) : (int)PLACEMENT_PEERS_MAX;
}

/* Remember the first error of a process, and log it once. */
static void proc_error(struct ivnetd_placement *pl, struct pl_proc *pr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void proc_error(struct ivnetd_placement *pl, struct pl_proc *pr, const char *fmt, ...)
{
	char msg[ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!strcmp(msg, pr->error))
		return;
	snprintf(pr->error, sizeof(pr->error), "%s", msg);
	host_log(&pl->env->log, "placement error segment=%s pid=%d: %s", pl->seg.name, pr->pid,
		 msg);
}

static int proc_alive(const struct pl_proc *pr)
{
	struct pollfd pfd = {.fd = pr->pidfd, .events = POLLIN};

	if (pr->pidfd >= 0)
		return poll(&pfd, 1, 0) == 0; /* readable once it has exited */
	return kill(pr->pid, 0) == 0 || errno == EPERM;
}

/* ------------------------------------------------------------ planning */

/* The segment's core set and plan under cfg; 0 or -1 with a reason. */
static int make_plan(struct ivnetd_placement *pl, const struct ivnetd_placement_config *cfg,
		     struct ivnetd_cpus *coreset, struct ivnetd_plan *plan, char *err,
		     size_t errlen)
{
	const struct ivnetd_topo *t = pl->env->topo;

	if (cfg->policy == IVNETD_POLICY_NONE)
		return 0;
	if (!t) {
		snprintf(err, errlen, "placement needs the CPU topology, which could not be read");
		return -1;
	}
	*coreset = t->online;
	if (cfg->cpus_set) {
		char want[IVNETD_CPULIST_LEN], online[IVNETD_CPULIST_LEN];

		if (!cpus_subset(&cfg->cpus, &t->online)) {
			fmt_cpus(&cfg->cpus, want, sizeof(want));
			fmt_cpus(&t->online, online, sizeof(online));
			snprintf(err, errlen, "cpus=%s: not all online (online: %s)", want, online);
			return -1;
		}
		*coreset = cfg->cpus;
	}
	return ivnetd_plan_make(plan, t, coreset, pl->seg.numa_node, err, errlen);
}

static void unit_cpus(const struct ivnetd_placement *pl, int unit, struct ivnetd_cpus *out)
{
	ivnetd_plan_unit(&pl->plan, pl->cfg.policy, unit, out);
}

/* Threads the plan gives CPUs of their own: the vCPUs, or every thread of
 * a process without vCPU threads. The others share the domain. */
static int is_unit(const struct pl_proc *pr, const struct pl_thread *t)
{
	return !pr->nvcpus || t->vcpu >= 0;
}

static void want_of(const struct ivnetd_placement *pl, const struct pl_proc *pr,
		    const struct pl_thread *t, struct ivnetd_cpus *out)
{
	if (is_unit(pr, t))
		unit_cpus(pl, t->unit, out);
	else
		*out = pl->plan.domain;
}

/* ------------------------------------------------------------- threads */

static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static int vcpu_from_qmp(const struct pl_proc *pr, int tid)
{
	int i;

	for (i = 0; i < pr->nqcpu; i++)
		if (pr->qcpu[i].tid == tid)
			return pr->qcpu[i].index;
	return -1;
}

/* Ask QEMU which threads are its vCPUs; keep the answer only for threads
 * of this very process. */
static void try_qmp(struct ivnetd_placement *pl, struct pl_proc *pr)
{
	struct ivnetd_qmp_cpu *q;
	char err[ERR_LEN];
	int n, i;

	if (!pr->qmp[0] || pr->qmp_ok || pr->qmp_tries >= QMP_TRIES)
		return;
	pr->qmp_tries++;
	q = calloc(IVNETD_QMP_CPUS_MAX, sizeof(*q));
	if (!q)
		return;
	n = ivnetd_qmp_query_cpus(pr->qmp, QMP_TIMEOUT_MS, q, IVNETD_QMP_CPUS_MAX, err,
				  sizeof(err));
	if (n < 0) {
		/* Not there yet: QEMU may open it after connecting to us, and
		 * answer only once its main loop runs (each such try blocks
		 * the daemon for the timeout: a few only). Anything else will
		 * not get better. */
		int later = !strncmp(err, "unreachable", 11) ||
			    (strstr(err, "no reply in time") && ++pr->qmp_slow < QMP_SLOW_TRIES);

		if (!later || pr->qmp_tries >= QMP_TRIES) {
			pr->qmp_tries = QMP_TRIES;
			proc_error(pl, pr, "%s", err);
		}
		free(q);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!ivnetd_thread_of(pr->pid, q[i].tid)) {
			proc_error(pl, pr,
				   "QMP %s names thread %d, which is not a thread of pid %d",
				   pr->qmp, q[i].tid, pr->pid);
			pr->qmp_tries = QMP_TRIES;
			free(q);
			return;
		}
	}
	free(pr->qcpu);
	pr->qcpu = q;
	pr->nqcpu = n;
	pr->qmp_ok = 1;
	host_log(&pl->env->log, "placement segment=%s pid=%d qmp=%s vcpus=%d", pl->seg.name,
		 pr->pid, pr->qmp, n);
}

/* Whether anything of the process has been changed by placement. */
static int placed(const struct pl_proc *pr)
{
	int i;

	for (i = 0; i < pr->nth; i++)
		if (pr->th[i].applied)
			return 1;
	return pr->cg_in;
}

/* A thread born after the process was placed inherited placed CPUs; what
 * it would have had is what its creator had, most likely the main thread
 * (QEMU connects to the broker before it starts its vCPU threads). */
static void inherit_prev(const struct pl_proc *pr, struct pl_thread *t)
{
	int i;

	for (i = 0; i < pr->nth; i++) {
		if (pr->th[i].tid == pr->pid && pr->th[i].have_prev) {
			t->prev = pr->th[i].prev;
			t->have_prev = 1;
		}
	}
}

/* Read the process's threads again; returns whether the set of threads or
 * their roles changed. */
static int scan(struct ivnetd_placement *pl, struct pl_proc *pr)
{
	struct ivnetd_thread_info *info;
	struct pl_thread *th;
	int n, i, j, changed = 0, nv = 0;

	try_qmp(pl, pr);
	n = ivnetd_threads_read(pr->pid, &info);
	if (n < 0)
		return 0; /* gone: the leave follows */
	th = calloc((size_t)(n ? n : 1), sizeof(*th));
	if (!th) {
		free(info);
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct pl_thread *t = &th[i];

		for (j = 0; j < pr->nth && pr->th[j].tid != info[i].tid; j++)
			;
		if (j < pr->nth) {
			*t = pr->th[j];
		} else {
			t->tid = info[i].tid;
			t->child = -1;
			if (placed(pr))
				inherit_prev(pr, t);
			changed = 1;
		}
		snprintf(t->name, sizeof(t->name), "%s", info[i].name);
		sanitize(t->name);
		j = pr->qmp_ok ? vcpu_from_qmp(pr, t->tid) : info[i].vcpu;
		if (j != t->vcpu || t->tid != info[i].tid)
			changed = 1;
		t->vcpu = j;
		nv += j >= 0;
	}
	if (n != pr->nth)
		changed = 1;
	free(info);
	free(pr->th);
	pr->th = th;
	pr->nth = n;
	pr->nvcpus = nv;
	return changed;
}

/* ---------------------------------------------------------- mechanisms */

static void save_prev(struct pl_thread *t)
{
	if (!t->have_prev && ivnetd_cpus_get_affinity(t->tid, &t->prev) == 0)
		t->have_prev = 1;
}

static void apply_sched(struct ivnetd_placement *pl, struct pl_proc *pr, struct pl_thread *t)
{
	const struct ivnetd_placement_config *c = &pl->cfg;
	struct sched_param sp = {0};
	int policy = SCHED_OTHER, e = 0;

	if (c->sched == IVNETD_SCHED_KEEP || !is_unit(pr, t) || t->sched_saved)
		return;
	t->prev_policy = sched_getscheduler(t->tid);
	if (t->prev_policy < 0 || sched_getparam(t->tid, &sp) < 0)
		return;
	t->prev_prio = sp.sched_priority;
	errno = 0;
	t->prev_nice = getpriority(PRIO_PROCESS, (id_t)t->tid);
	if (errno)
		return;
	t->sched_saved = 1;
	if (c->sched == IVNETD_SCHED_NICE) {
		e = setpriority(PRIO_PROCESS, (id_t)t->tid, c->sched_value);
	} else {
		if (c->sched == IVNETD_SCHED_FIFO)
			policy = SCHED_FIFO;
		else if (c->sched == IVNETD_SCHED_RR)
			policy = SCHED_RR;
		sp.sched_priority = c->sched == IVNETD_SCHED_OTHER ? 0 : c->sched_value;
		e = sched_setscheduler(t->tid, policy, &sp);
	}
	if (e < 0)
		proc_error(pl, pr, "scheduling policy of thread %d: %s", t->tid, strerror(errno));
}

static void restore_sched(struct pl_thread *t)
{
	struct sched_param sp = {.sched_priority = t->prev_prio};

	if (!t->sched_saved)
		return;
	sched_setscheduler(t->tid, t->prev_policy, &sp);
	if (t->prev_policy == SCHED_OTHER || t->prev_policy == SCHED_BATCH ||
	    t->prev_policy == SCHED_IDLE)
		setpriority(PRIO_PROCESS, (id_t)t->tid, t->prev_nice);
	t->sched_saved = 0;
}

/* Set a thread's affinity to what the plan wants; returns 1 if changed. */
static int set_affinity(struct ivnetd_placement *pl, struct pl_proc *pr, struct pl_thread *t,
			const struct ivnetd_cpus *want)
{
	int e;

	if (t->applied && cpus_equal(&t->want, want))
		return 0;
	e = ivnetd_cpus_set_affinity(t->tid, want);
	if (e == -ESRCH)
		return 0; /* exited: the next scan drops it */
	if (e) {
		proc_error(pl, pr, "sched_setaffinity thread %d: %s%s", t->tid, strerror(-e),
			   e == -EPERM ? " (ivnetd needs CAP_SYS_NICE or the peer's uid)" : "");
		return 0;
	}
	t->want = *want;
	t->applied = 1;
	return 1;
}

static int apply_affinity(struct ivnetd_placement *pl, struct pl_proc *pr)
{
	int i, changed = 0;

	for (i = 0; i < pr->nth; i++) {
		struct pl_thread *t = &pr->th[i];
		struct ivnetd_cpus w;

		if (!ivnetd_thread_of(pr->pid, t->tid))
			continue;
		save_prev(t);
		want_of(pl, pr, t, &w);
		changed += set_affinity(pl, pr, t, &w);
		apply_sched(pl, pr, t);
	}
	return changed;
}

/* The process into PEER (whole), then each vCPU whose CPUs differ from the
 * process's into its threaded PEER/vcpuN. The threads' affinity is set to
 * the same CPUs: an affinity they had before must not narrow the cpuset. */
static int enter_cgroup(struct ivnetd_placement *pl, struct pl_proc *pr,
			const struct ivnetd_cpus *pset)
{
	char err[ERR_LEN];
	int i;

	if (!pl->cg.ready) {
		proc_error(pl, pr, "cgroup cpuset is not set up");
		return -1;
	}
	for (i = 0; i < pr->nth; i++)
		save_prev(&pr->th[i]);
	if (ivnetd_cgroup_of(&pl->cg, pr->pid, pr->cg_orig, sizeof(pr->cg_orig))) {
		proc_error(pl, pr, "cannot find the cgroup v2 of pid %d", pr->pid);
		return -1;
	}
	if (snprintf(pr->cg, sizeof(pr->cg), "%s/peer%d.%d", pl->cg.dir, lowest_peer(pr),
		     pr->pid) >= (int)sizeof(pr->cg)) {
		proc_error(pl, pr, "cgroup path too long");
		pr->cg[0] = '\0';
		return -1;
	}
	if (ivnetd_cgroup_make(pr->cg, pset, pl->node >= 0 && pl->env->topo->numa ? pl->node : -1,
			       err, sizeof(err)) ||
	    ivnetd_cgroup_move(pr->cg, pr->pid, 0, err, sizeof(err))) {
		proc_error(pl, pr, "%s", err);
		ivnetd_cgroup_remove(pr->cg);
		pr->cg[0] = '\0';
		return -1;
	}
	pr->cg_in = 1;
	pr->cg_cpus = *pset;
	return 0;
}

static int apply_cpuset(struct ivnetd_placement *pl, struct pl_proc *pr)
{
	struct ivnetd_cpus pset;
	char err[ERR_LEN], child[PATH_MAX + 16];
	int i, changed = 0;

	if (pr->nvcpus)
		pset = pl->plan.domain;
	else
		unit_cpus(pl, pr->nth ? pr->th[0].unit : 0, &pset);
	/* before the cgroup changes what they have */
	for (i = 0; i < pr->nth; i++)
		save_prev(&pr->th[i]);
	if (!pr->cg_in) {
		if (enter_cgroup(pl, pr, &pset))
			return 0;
		changed = 1;
	} else if (!cpus_equal(&pr->cg_cpus, &pset)) {
		if (ivnetd_cgroup_set_cpus(pr->cg, &pset, err, sizeof(err)))
			proc_error(pl, pr, "%s", err);
		pr->cg_cpus = pset;
		changed = 1;
	}
	for (i = 0; i < pr->nth; i++) {
		struct pl_thread *t = &pr->th[i];
		struct ivnetd_cpus w;
		int own;

		if (!ivnetd_thread_of(pr->pid, t->tid))
			continue;
		save_prev(t);
		want_of(pl, pr, t, &w);
		own = pr->nvcpus && t->vcpu >= 0 && !cpus_equal(&w, &pset) ? t->vcpu : -1;
		if (own >= 0 && (t->child != own || !t->applied || !cpus_equal(&t->want, &w))) {
			snprintf(child, sizeof(child), "%s/vcpu%d", pr->cg, own);
			if (ivnetd_cgroup_make_threaded(child, &w, err, sizeof(err)) ||
			    ivnetd_cgroup_move(child, t->tid, 1, err, sizeof(err)))
				proc_error(pl, pr, "%s", err);
			else
				t->child = own;
		} else if (own < 0 && t->child >= 0) {
			if (ivnetd_cgroup_move(pr->cg, t->tid, 1, err, sizeof(err)))
				proc_error(pl, pr, "%s", err);
			t->child = -1;
		}
		changed += set_affinity(pl, pr, t, &w);
		apply_sched(pl, pr, t);
	}
	return changed;
}

static void apply(struct ivnetd_placement *pl, struct pl_proc *pr)
{
	char list[IVNETD_CPULIST_LEN];
	struct ivnetd_cpus all;
	int i, changed;

	if (pr->skip || !proc_alive(pr))
		return;
	changed = pl->cfg.pin == IVNETD_PIN_CPUSET ? apply_cpuset(pl, pr) : apply_affinity(pl, pr);
	if (!changed)
		return;
	cpus_zero(&all);
	for (i = 0; i < pr->nth; i++)
		if (pr->th[i].applied)
			cpus_or(&all, &pr->th[i].want);
	fmt_cpus(&all, list, sizeof(list));
	host_log(&pl->env->log, "place segment=%s pid=%d threads=%d vcpus=%d mechanism=%s cpus=%s",
		 pl->seg.name, pr->pid, pr->nth, pr->nvcpus, ivnetd_pin_name(pl->cfg.pin), list);
}

static void pending_add(struct ivnetd_placement *pl, const char *path)
{
	struct pending *p = realloc(pl->pending, (size_t)(pl->npending + 1) * sizeof(*p));

	if (!p)
		return;
	pl->pending = p;
	snprintf(p[pl->npending].path, sizeof(p->path), "%s", path);
	p[pl->npending++].tries = 0;
}

/* Put back what the process had: scheduling, cgroup, affinity. */
static void undo(struct ivnetd_placement *pl, struct pl_proc *pr)
{
	char err[ERR_LEN];
	int i, restored = 0;

	if (!pr->skip && proc_alive(pr)) {
		if (pr->cg_in &&
		    ivnetd_cgroup_move_back(&pl->cg, pr->cg_orig, pr->pid, err, sizeof(err)))
			host_log(&pl->env->log, "placement error segment=%s pid=%d: %s",
				 pl->seg.name, pr->pid, err);
		for (i = 0; i < pr->nth; i++) {
			struct pl_thread *t = &pr->th[i];

			if (!ivnetd_thread_of(pr->pid, t->tid))
				continue;
			restore_sched(t);
			if (t->have_prev && (t->applied || pr->cg_in) &&
			    ivnetd_cpus_set_affinity(t->tid, &t->prev) == 0)
				restored++;
		}
	}
	if (pr->cg[0] && ivnetd_cgroup_remove(pr->cg) == -EBUSY)
		pending_add(pl, pr->cg); /* an exited process is still leaving it */
	if (!pr->skip)
		host_log(&pl->env->log, "unplace segment=%s pid=%d threads-restored=%d",
			 pl->seg.name, pr->pid, restored);
	pr->cg[0] = '\0';
	pr->cg_in = 0;
	for (i = 0; i < pr->nth; i++) {
		pr->th[i].applied = 0;
		pr->th[i].have_prev = 0;
		pr->th[i].child = -1;
	}
}

static void proc_free(struct pl_proc *pr)
{
	if (pr->pidfd >= 0)
		close(pr->pidfd);
	free(pr->th);
	free(pr->qcpu);
	free(pr);
}

/* Units numbered over the segment: processes in the order of their lowest
 * peer id, a process's vCPUs in index order. Then every process applied. */
static void replan(struct ivnetd_placement *pl)
{
	struct pl_proc *order[PLACEMENT_PEERS_MAX];
	int n = 0, i, j, unit = 0;

	if (!pl->planned)
		return;
	for (i = 0; i < pl->nproc; i++) {
		struct pl_proc *pr = pl->proc[i];

		if (pr->skip)
			continue;
		for (j = n; j > 0 && lowest_peer(order[j - 1]) > lowest_peer(pr); j--)
			order[j] = order[j - 1];
		order[j] = pr;
		n++;
	}
	for (i = 0; i < n; i++) {
		struct pl_proc *pr = order[i];
		int k, v, next, rank = 0;

		if (!pr->nvcpus) {
			for (k = 0; k < pr->nth; k++)
				pr->th[k].unit = unit;
			unit++;
			continue;
		}
		/* distinct vCPU indices, ascending, each one unit */
		for (v = -1;; v = next) {
			next = INT32_MAX;
			for (k = 0; k < pr->nth; k++)
				if (pr->th[k].vcpu > v && pr->th[k].vcpu < next)
					next = pr->th[k].vcpu;
			if (next == INT32_MAX)
				break;
			for (k = 0; k < pr->nth; k++)
				if (pr->th[k].vcpu == next)
					pr->th[k].unit = unit + rank;
			rank++;
		}
		unit += rank;
	}
	if (unit != pl->units) {
		int cpus = cpus_count(&pl->plan.domain);

		pl->units = unit;
		if (unit > cpus)
			host_log(&pl->env->log,
				 "placement segment=%s: %d vCPUs and processes share the %d CPUs "
				 "of the domain",
				 pl->seg.name, unit, cpus);
	}
	for (i = 0; i < n; i++)
		apply(pl, order[i]);
}

/* ---------------------------------------------------------- join/leave */

static struct pl_proc *proc_of_pid(struct ivnetd_placement *pl, int pid)
{
	int i;

	for (i = 0; i < pl->nproc; i++)
		if (pl->proc[i]->pid == pid)
			return pl->proc[i];
	return NULL;
}

static struct pl_proc *proc_of_peer(struct ivnetd_placement *pl, uint32_t id)
{
	int i;

	for (i = 0; i < pl->nproc; i++)
		if (pl->proc[i]->peers >> id & 1)
			return pl->proc[i];
	return NULL;
}

/* The segment, other than pl's, that places pid, if any. */
static const char *placed_elsewhere(const struct ivnetd_placement *pl, int pid)
{
	struct ivnetd_placement *o;

	for (o = pl->env->all; o; o = o->next) {
		struct pl_proc *pr;

		if (o == pl)
			continue;
		pr = proc_of_pid(o, pid);
		if (pr && !pr->skip)
			return o->seg.name;
	}
	return NULL;
}

/* "%p" the pid, "%i" the peer id, "%%" a percent sign. */
static void expand_qmp(char *out, size_t n, const char *pattern, int pid, uint32_t id)
{
	size_t len = 0;
	const char *p;

	for (p = pattern; *p && len + 1 < n; p++) {
		int w = 0;

		if (p[0] == '%' && p[1] == 'p')
			w = snprintf(out + len, n - len, "%d", pid), p++;
		else if (p[0] == '%' && p[1] == 'i')
			w = snprintf(out + len, n - len, "%u", id), p++;
		else if (p[0] == '%' && p[1] == '%')
			out[len] = '%', w = 1, p++;
		else
			out[len] = *p, w = 1;
		len += (size_t)w < n - len ? (size_t)w : n - len - 1;
	}
	out[len] = '\0';
}

static struct pl_proc *proc_new(struct ivnetd_placement *pl, const struct placement_peer *p)
{
	struct pl_proc *pr = calloc(1, sizeof(*pr));
	const char *other;

	if (!pr)
		return NULL;
	pr->pid = p->pid;
	pr->peers = 1ULL << p->id;
	pr->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	other = placed_elsewhere(pl, p->pid);
	if (other) {
		pr->skip = 1;
		proc_error(pl, pr, "pid %d is placed by segment %s already", p->pid, other);
	}
	if (pl->cfg.qmp[0])
		expand_qmp(pr->qmp, sizeof(pr->qmp), pl->cfg.qmp, p->pid, p->id);
	pl->proc[pl->nproc++] = pr;
	return pr;
}

static void arm_timer(struct placement_env *e);

/* A joined peer into the plan: its process is placed once, whichever of
 * its peers came first. */
static void proc_add(struct ivnetd_placement *pl, const struct placement_peer *p)
{
	struct pl_proc *pr = proc_of_pid(pl, p->pid);

	if (pr) {
		pr->peers |= 1ULL << p->id;
	} else {
		pr = proc_new(pl, p);
		if (pr && !pr->skip)
			scan(pl, pr);
	}
}

void ivnetd_placement_join(struct ivnetd_placement *pl, const struct placement_peer *p)
{
	if (!pl || p->id >= PLACEMENT_PEERS_MAX)
		return;
	pl->peer[p->id] = *p;
	pl->present |= 1ULL << p->id;
	if (!pl->planned || p->pid <= 0)
		return;
	proc_add(pl, p);
	replan(pl);
	arm_timer(pl->env);
}

void ivnetd_placement_label(struct ivnetd_placement *pl, uint32_t id, const char *label)
{
	if (pl && id < PLACEMENT_PEERS_MAX && pl->present >> id & 1)
		snprintf(pl->peer[id].label, sizeof(pl->peer[id].label), "%s", label);
}

static void proc_drop(struct ivnetd_placement *pl, struct pl_proc *pr)
{
	int i;

	undo(pl, pr);
	for (i = 0; i < pl->nproc && pl->proc[i] != pr; i++)
		;
	if (i < pl->nproc)
		pl->proc[i] = pl->proc[--pl->nproc];
	proc_free(pr);
}

void ivnetd_placement_leave(struct ivnetd_placement *pl, uint32_t id)
{
	struct pl_proc *pr;

	if (!pl || id >= PLACEMENT_PEERS_MAX)
		return;
	pl->present &= ~(1ULL << id);
	pr = proc_of_peer(pl, id);
	if (!pr)
		return;
	pr->peers &= ~(1ULL << id);
	if (!pr->peers)
		proc_drop(pl, pr);
	replan(pl);
	arm_timer(pl->env);
}

/* ------------------------------------------------------ start and stop */

static void warn_rt(struct ivnetd_placement *pl)
{
	char v[64] = "?";
	FILE *f;

	if (pl->cfg.sched != IVNETD_SCHED_FIFO && pl->cfg.sched != IVNETD_SCHED_RR)
		return;
	f = fopen("/proc/sys/kernel/sched_rt_runtime_us", "re");
	if (f) {
		if (!fgets(v, sizeof(v), f))
			snprintf(v, sizeof(v), "?");
		v[strcspn(v, "\n")] = '\0';
		fclose(f);
	}
	host_log(&pl->env->log,
		 "warning segment=%s: sched=%s:%d runs vCPU threads at real-time priority; a "
		 "vCPU that spins can starve everything else on its CPUs, ivnetd and the host's "
		 "own work included. The only guard is the kernel's RT throttling "
		 "(kernel.sched_rt_runtime_us=%s; -1 disables it)",
		 pl->seg.name, pl->cfg.sched == IVNETD_SCHED_FIFO ? "fifo" : "rr",
		 pl->cfg.sched_value, v);
}

static int setup_cgroup(struct ivnetd_placement *pl, char *err, size_t errlen)
{
	const char *parent = pl->cfg.cgroup[0] ? pl->cfg.cgroup : IVNETD_CGROUP_DEFAULT;

	if (pl->cg.ready)
		return 0;
	if (ivnetd_cgroup_setup(&pl->cg, parent, pl->seg.name, err, errlen))
		return -1;
	host_log(&pl->env->log, "placement segment=%s cgroup=%s", pl->seg.name, pl->cg.dir);
	return 0;
}

static void log_plan(struct ivnetd_placement *pl)
{
	char cpus[IVNETD_CPULIST_LEN], dom[IVNETD_CPULIST_LEN], sched[32];

	fmt_cpus(&pl->coreset, cpus, sizeof(cpus));
	fmt_cpus(&pl->plan.domain, dom, sizeof(dom));
	ivnetd_sched_format(pl->cfg.sched, pl->cfg.sched_value, sched, sizeof(sched));
	host_log(&pl->env->log,
		 "placement segment=%s policy=%s mechanism=%s cpus=%s llc=%d domain=%s node=%d "
		 "sched=%s",
		 pl->seg.name, ivnetd_policy_name(pl->cfg.policy), ivnetd_pin_name(pl->cfg.pin),
		 cpus, pl->plan.llc, dom, pl->plan.node, sched);
}

int ivnetd_placement_start(struct placement_env *env, const struct placement_segment *s,
			   struct ivnetd_placement **out, int *node)
{
	struct ivnetd_placement *pl = calloc(1, sizeof(*pl)), **tail;
	char err[ERR_LEN];

	*out = pl;
	*node = s->numa_node;
	if (!pl)
		return -ENOMEM;
	pl->env = env;
	pl->seg = *s;
	pl->cfg = s->place;
	pl->node = *node;
	for (tail = &env->all; *tail; tail = &(*tail)->next)
		; /* in start order, as the daemon's segments */
	*tail = pl;
	if (pl->cfg.policy == IVNETD_POLICY_NONE)
		return 0;
	if (make_plan(pl, &pl->cfg, &pl->coreset, &pl->plan, err, sizeof(err)) ||
	    (pl->cfg.pin == IVNETD_PIN_CPUSET && setup_cgroup(pl, err, sizeof(err)))) {
		host_log(&pl->env->log, "error segment=%s placement: %s", s->name, err);
		return -EINVAL;
	}
	pl->planned = 1;
	/* The region's pages go where the domain is, unless --numa-node said
	 * (the plan then kept to that node). Only where memory policy works:
	 * a single-node machine without NUMA support has nothing to choose. */
	if (*node < 0 && pl->plan.node >= 0 && pl->env->topo->numa)
		*node = pl->plan.node;
	pl->node = *node;
	log_plan(pl);
	warn_rt(pl);
	return 0;
}

/* The region, as the policy says: a placed segment tries by default. */
static int relock(struct ivnetd_placement *pl)
{
	enum ivnetd_mlock m = pl->cfg.mlock;
	struct rlimit r;

	if (m == IVNETD_MLOCK_DEFAULT)
		m = pl->planned ? IVNETD_MLOCK_TRY : IVNETD_MLOCK_OFF;
	if (m == IVNETD_MLOCK_OFF || pl->locked || !pl->base)
		return 0;
	/* The system call, not mlock(): ASan's mlock() does nothing, and the
	 * tests run under ASan. */
	if (syscall(SYS_mlock, pl->base, (size_t)pl->size) == 0) {
		pl->locked = pl->size;
		host_log(&pl->env->log, "placement segment=%s locked=%" PRIu64 " node=%d",
			 pl->seg.name, pl->locked, pl->node);
		return 0;
	}
	{
		int e = errno;
		char lim[32] = "unlimited";

		if (getrlimit(RLIMIT_MEMLOCK, &r) == 0 && r.rlim_cur != RLIM_INFINITY)
			snprintf(lim, sizeof(lim), "%llu bytes", (unsigned long long)r.rlim_cur);
		host_log(&pl->env->log,
			 "%s segment=%s: cannot lock the region (%" PRIu64 " bytes) in memory: "
			 "%s; RLIMIT_MEMLOCK is %s (raise it: ulimit -l, LimitMEMLOCK= in a "
			 "systemd unit, or give ivnetd CAP_IPC_LOCK)%s",
			 m == IVNETD_MLOCK_REQUIRE ? "error" : "warning", pl->seg.name, pl->size,
			 strerror(e), lim,
			 m == IVNETD_MLOCK_REQUIRE ? ""
						   : "; running unlocked (mlock=require refuses)");
		return m == IVNETD_MLOCK_REQUIRE ? -e : 0;
	}
}

int ivnetd_placement_lock(struct ivnetd_placement *pl, void *base, uint64_t size)
{
	pl->base = base;
	pl->size = size;
	return relock(pl);
}

static void retry_pending(struct ivnetd_placement *pl)
{
	int i = 0;

	while (i < pl->npending) {
		struct pending *p = &pl->pending[i];
		int e = ivnetd_cgroup_remove(p->path);

		if (e == -EBUSY && ++p->tries < REMOVE_TRIES) {
			i++;
			continue;
		}
		if (e)
			host_log(&pl->env->log,
				 "placement error segment=%s: cannot remove cgroup %s: %s",
				 pl->seg.name, p->path, strerror(-e));
		pl->pending[i] = pl->pending[--pl->npending];
	}
}

static void unlink_from_env(struct ivnetd_placement *pl)
{
	struct ivnetd_placement **q;

	for (q = &pl->env->all; *q; q = &(*q)->next)
		if (*q == pl) {
			*q = pl->next;
			return;
		}
}

void ivnetd_placement_stop(struct ivnetd_placement **plp)
{
	struct ivnetd_placement *pl = *plp;
	int64_t end = now_ms() + 2000;

	if (!pl)
		return;
	while (pl->nproc)
		proc_drop(pl, pl->proc[0]);
	/* exited processes leave their cgroups as they are reaped */
	while (pl->npending && now_ms() < end) {
		struct timespec ts = {.tv_nsec = 20 * 1000000};

		retry_pending(pl);
		if (pl->npending)
			nanosleep(&ts, NULL);
	}
	while (pl->npending) /* give up on these, with a log line each */
		pl->pending[0].tries = REMOVE_TRIES, retry_pending(pl);
	ivnetd_cgroup_teardown(&pl->cg);
	free(pl->pending);
	unlink_from_env(pl);
	free(pl);
	*plp = NULL;
}

/* ---------------------------------------------------- runtime changes */

int ivnetd_placement_set(struct ivnetd_placement *pl, const struct ivnetd_placement_config *c,
			 unsigned keys, char *err, size_t errlen)
{
	struct ivnetd_placement_config cfg;
	struct ivnetd_cpus coreset;
	struct ivnetd_plan plan;
	uint32_t i;

	if (!pl) {
		snprintf(err, errlen, "the segment has no placement");
		return -1;
	}
	cfg = pl->cfg;

	if (keys & IVNETD_PLK_POLICY)
		cfg.policy = c->policy;
	if (keys & IVNETD_PLK_PIN)
		cfg.pin = c->pin;
	if (keys & IVNETD_PLK_CPUS) {
		cfg.cpus = c->cpus;
		cfg.cpus_set = 1;
	}
	if (keys & IVNETD_PLK_SCHED) {
		cfg.sched = c->sched;
		cfg.sched_value = c->sched_value;
	}
	memset(&plan, 0, sizeof(plan));
	cpus_zero(&coreset);
	if (make_plan(pl, &cfg, &coreset, &plan, err, errlen))
		return -1;
	if (cfg.policy != IVNETD_POLICY_NONE && cfg.pin == IVNETD_PIN_CPUSET &&
	    setup_cgroup(pl, err, errlen))
		return -1;
	while (pl->nproc)
		proc_drop(pl, pl->proc[0]);
	pl->cfg = cfg;
	pl->coreset = coreset;
	pl->plan = plan;
	pl->planned = cfg.policy != IVNETD_POLICY_NONE;
	if (pl->planned) {
		log_plan(pl);
		warn_rt(pl);
		if (pl->node >= 0 && plan.node >= 0 && plan.node != pl->node)
			host_log(&pl->env->log,
				 "warning segment=%s: the domain is on node %d; the region stays "
				 "on node %d, where it was made",
				 pl->seg.name, plan.node, pl->node);
		relock(pl);
	} else {
		host_log(&pl->env->log, "placement segment=%s policy=none", pl->seg.name);
	}
	for (i = 0; pl->planned && i < PLACEMENT_PEERS_MAX; i++)
		if (pl->present >> i & 1 && pl->peer[i].pid > 0)
			proc_add(pl, &pl->peer[i]);
	replan(pl);
	arm_timer(pl->env);
	return 0;
}

int ivnetd_placement_qmp(struct ivnetd_placement *pl, uint32_t id, const char *path, char *err,
			 size_t errlen)
{
	struct pl_proc *pr = pl && id < PLACEMENT_PEERS_MAX ? proc_of_peer(pl, id) : NULL;

	if (!pr || pr->skip) {
		snprintf(err, errlen, "peer %u of segment %s is not placed", id,
			 pl ? pl->seg.name : "?");
		return -1;
	}
	snprintf(pr->qmp, sizeof(pr->qmp), "%s", path);
	pr->qmp_ok = 0;
	pr->qmp_tries = QMP_TRIES - 1; /* asked for now: one try */
	pr->qmp_slow = 0;
	pr->error[0] = '\0';
	scan(pl, pr);
	if (!pr->qmp_ok) {
		snprintf(err, errlen, "%s", pr->error[0] ? pr->error : "QMP query failed");
		return -1;
	}
	replan(pl);
	return 0;
}

/* --------------------------------------------------------------- timer */

static void arm_timer(struct placement_env *e)
{
	struct itimerspec its = {0};
	const struct ivnetd_placement *pl;
	int need = 0;

	for (pl = e->all; pl; pl = pl->next)
		if (pl->nproc || pl->npending)
			need = 1;
	if (e->timer_fd < 0 || need == e->timer_armed)
		return;
	if (need) {
		its.it_interval.tv_nsec = TICK_MS * 1000000L;
		its.it_value = its.it_interval;
	}
	if (timerfd_settime(e->timer_fd, 0, &its, NULL) == 0)
		e->timer_armed = need;
}

int ivnetd_placement_timer_start(struct placement_env *e)
{
	e->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	e->timer_armed = 0;
	return e->timer_fd < 0 ? -errno : e->timer_fd;
}

void ivnetd_placement_timer_stop(struct placement_env *e)
{
	if (e->timer_fd >= 0)
		close(e->timer_fd);
	e->timer_fd = -1;
}

void ivnetd_placement_tick(struct placement_env *e)
{
	struct ivnetd_placement *pl;
	uint64_t expirations;
	int j;

	if (read(e->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	for (pl = e->all; pl; pl = pl->next) {
		int changed = 0;

		for (j = 0; j < pl->nproc; j++) {
			struct pl_proc *pr = pl->proc[j];

			/* the segment that held it let it go */
			if (pr->skip && !placed_elsewhere(pl, pr->pid)) {
				pr->skip = 0;
				pr->error[0] = '\0';
				changed = 1;
			}
			if (!pr->skip && proc_alive(pr))
				changed |= scan(pl, pr);
		}
		if (changed)
			replan(pl);
		retry_pending(pl);
	}
	arm_timer(e);
}

int ivnetd_placement_domain(const struct ivnetd_placement *pl, struct ivnetd_cpus *cpus, int *node)
{
	if (!pl || !pl->planned)
		return -1;
	*cpus = pl->plan.domain;
	*node = pl->node;
	return 0;
}

/* ---------------------------------------------------------------- show */

static void show_cpus(struct pr *p, const char *key, const char *fmt, const struct ivnetd_cpus *s)
{
	char list[IVNETD_CPULIST_LEN];

	fmt_cpus(s, list, sizeof(list));
	pr_str(p, key, fmt, list);
}

static void show_thread(struct pr *p, const struct ivnetd_placement *pl, const struct pl_proc *pr,
			const struct pl_thread *t)
{
	struct ivnetd_cpus now;

	/* what the kernel says now, not what we asked for */
	if (ivnetd_cpus_get_affinity(t->tid, &now) || !ivnetd_thread_of(pr->pid, t->tid))
		return;
	pr_obj_open(p, NULL);
	pr_i64(p, "tid", "    thread %lld", t->tid);
	pr_str(p, "name", " \"%s\"", t->name);
	pr_i64(p, "vcpu", " vcpu %lld", t->vcpu);
	show_cpus(p, "cpus", " cpus %s", &now);
	show_cpus(p, "planned", " planned %s", &t->want);
	pr_str(p, "mechanism", " %s", ivnetd_pin_name(pl->cfg.pin));
	if (pl->cfg.pin == IVNETD_PIN_CPUSET)
		pr_i64(p, "cgroup_vcpu", " cgroup-vcpu %lld", t->child);
	show_cpus(p, "previous", " previous %s", &t->prev);
	pr_obj_close(p);
	pr_text(p, "\n");
}

static void show_peer(struct pr *p, const struct ivnetd_placement *pl,
		      const struct placement_peer *q)
{
	const struct pl_proc *pr = proc_of_peer((struct ivnetd_placement *)pl, q->id);
	int i;

	pr_obj_open(p, NULL);
	pr_u64(p, "id", "  peer %llu", q->id);
	pr_i64(p, "pid", " pid %lld", q->pid);
	if (q->label[0] || p->json)
		pr_str(p, "label", " name %s", q->label);
	if (pr) {
		pr_i64(p, "vcpus", " vcpus %lld", pr->nvcpus);
		/* how the vCPU threads were told apart; a process without
		 * any is placed whole */
		pr_str(p, "found_by", " found-by %s",
		       pr->qmp_ok   ? "qmp"
		       : pr->nvcpus ? "names"
				    : "process");
		if (pr->qmp[0] || p->json)
			pr_str(p, "qmp", " qmp %s", pr->qmp);
		if (pr->cg[0] || p->json)
			pr_str(p, "cgroup", " cgroup %s", pr->cg);
		if (lowest_peer(pr) != (int)q->id)
			pr_i64(p, "shares", " shares-with-peer %lld", lowest_peer(pr));
		if (pr->error[0] || p->json)
			pr_str(p, "error", " error \"%s\"", pr->error);
	}
	pr_text(p, "\n");
	pr_arr_open(p, "threads");
	for (i = 0; pr && !pr->skip && lowest_peer(pr) == (int)q->id && i < pr->nth; i++)
		if (pr->th[i].applied)
			show_thread(p, pl, pr, &pr->th[i]);
	pr_arr_close(p);
	pr_obj_close(p);
}

void ivnetd_placement_show(struct pr *p, const struct ivnetd_placement *pl)
{
	char sched[32];
	uint32_t i;

	if (!pl)
		return;
	ivnetd_sched_format(pl->cfg.sched, pl->cfg.sched_value, sched, sizeof(sched));
	pr_obj_open(p, NULL);
	pr_str(p, "segment", "segment %s", pl->seg.name);
	pr_str(p, "policy", " policy %s", ivnetd_policy_name(pl->cfg.policy));
	pr_str(p, "mechanism", " mechanism %s", ivnetd_pin_name(pl->cfg.pin));
	if (pl->planned) {
		show_cpus(p, "cpus", " cpus %s", &pl->coreset);
		pr_i64(p, "llc", " llc %lld", pl->plan.llc);
		show_cpus(p, "domain", " domain %s", &pl->plan.domain);
	} else {
		/* the core set a policy would use */
		struct ivnetd_cpus cs;

		cpus_zero(&cs);
		if (pl->cfg.cpus_set)
			cs = pl->cfg.cpus;
		else if (pl->env->topo)
			cs = pl->env->topo->online;
		show_cpus(p, "cpus", NULL, &cs);
		pr_i64(p, "llc", NULL, -1);
		pr_str(p, "domain", NULL, "");
	}
	pr_i64(p, "node", " node %lld", pl->node);
	pr_str(p, "sched", " sched %s", sched);
	pr_u64(p, "locked", " locked %llu", pl->locked);
	if (pl->cg.ready || p->json)
		pr_str(p, "cgroup", " cgroup %s", pl->cg.ready ? pl->cg.dir : "");
	pr_text(p, "\n");
	pr_arr_open(p, "peers");
	for (i = 0; i < PLACEMENT_PEERS_MAX; i++)
		if (pl->present >> i & 1)
			show_peer(p, pl, &pl->peer[i]);
	pr_arr_close(p);
	pr_obj_close(p);
}

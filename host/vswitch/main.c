// SPDX-License-Identifier: MIT
/*
 * ivnet-vswitch - an L2 switch on DPDK for the traffic that leaves the
 * host: VMs' virtio-net on vhost-user ports, uplinks (an SR-IOV VF, a PF or
 * any DPDK port) and ivnet segments, with MAC learning and aging.
 *
 *   ivnet-vswitch --no-huge -m 256 --single-file-segments -l 0,1 -- \
 *       -c /run/ivnet-vswitch.ctl \
 *       -p 'vm1 vhost path=/run/vm1.sock' -p 'up0 dpdk dev=0000:03:02.0'
 *
 * This file: EAL, the workers, the main loop (control socket, the clock,
 * aging) and a clean stop on SIGINT or SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "host_err.h"
#include "vswitch.h"

#define TICK_MS 100

static struct vsw sw;

void vsw_log(struct vsw *s, const char *fmt, ...)
{
	char when[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	(void)s;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03ld ivnet-vswitch: ", when, (long)tv.tv_usec / 1000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

/* EAL's --help prints its options, then ours. */
static void usage_hook(const char *prgname)
{
	(void)prgname;
	vsw_usage();
}

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&sw.quit, 1, __ATOMIC_RELAXED);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t clock_s(struct vsw *s)
{
	/* starts at 1: an entry learned now is never mistaken for empty */
	return (uint32_t)((mono_ns() - s->start_ns) / 1000000000ull) + 1;
}

static int setup_workers(struct vsw *s)
{
	unsigned int lcore, n = 0;
	size_t qsz;

	s->nworkers = rte_lcore_count() - 1;
	if (!s->nworkers) {
		vsw_log(s, "needs a forwarding lcore besides the main one (e.g. -l 0,1 or "
			   "--lcores 0@0,1@0)");
		return -EINVAL;
	}
	if (s->nworkers > VSW_WORKERS_MAX) {
		vsw_log(s, "at most %d forwarding lcores", VSW_WORKERS_MAX);
		return -EINVAL;
	}
	s->worker =
		rte_zmalloc("vsw_workers", s->nworkers * sizeof(*s->worker), RTE_CACHE_LINE_SIZE);
	s->cnt = rte_zmalloc("vsw_counters", s->nworkers * sizeof(*s->cnt), RTE_CACHE_LINE_SIZE);
	qsz = rte_rcu_qsbr_get_memsize(s->nworkers);
	s->qsbr = rte_zmalloc("vsw_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (!s->worker || !s->cnt || !s->qsbr || rte_rcu_qsbr_init(s->qsbr, s->nworkers))
		return -ENOMEM;
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		struct vsw_worker *w = &s->worker[n];

		w->sw = s;
		w->idx = n++;
		w->lcore = lcore;
		w->ports = calloc(1, sizeof(*w->ports));
		if (!w->ports)
			return -ENOMEM;
	}
	return 0;
}

static int setup(struct vsw *s)
{
	uint64_t seed;
	int ret;

	s->pool = rte_pktmbuf_pool_create("vsw_mbufs", s->cfg.mbufs, 256, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!s->pool) {
		vsw_log(s, "mbuf pool of %u: %s (more memory: -m MB)", s->cfg.mbufs,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (getentropy(&seed, sizeof(seed)))
		seed = mono_ns() ^ (uint64_t)getpid();
	if (vsw_fdb_init(&s->fdb, s->cfg.fdb_entries, seed))
		return -ENOMEM;
	ret = setup_workers(s);
	if (ret)
		return ret;
	ret = vsw_ctl_start(s);
	if (ret)
		vsw_log(s, "control socket %s: %s", s->cfg.control_path, strerror(-ret));
	return ret;
}

static void teardown(struct vsw *s)
{
	unsigned int i;

	ctl_server_stop(&s->ctl);
	vsw_port_del_all(s);
	for (i = 0; s->worker && i < s->nworkers; i++)
		free(s->worker[i].ports);
	rte_free(s->worker);
	rte_free(s->cnt);
	rte_free(s->qsbr);
	vsw_fdb_free(&s->fdb);
	rte_mempool_free(s->pool);
}

static void run(struct vsw *s)
{
	uint32_t aged_at = 0;

	while (!__atomic_load_n(&s->quit, __ATOMIC_RELAXED)) {
		uint32_t now = clock_s(s);

		__atomic_store_n(&s->now_s, now, __ATOMIC_RELAXED);
		if (s->cfg.aging_s && now != aged_at) {
			unsigned int n = vsw_fdb_age(&s->fdb, now, s->cfg.aging_s);

			aged_at = now;
			if (n && s->cfg.verbose)
				vsw_log(s, "fdb aged=%u", n);
		}
		ctl_server_run(&s->ctl, TICK_MS);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	char err[HOST_ERRLEN];
	unsigned int i;
	int ret, rc = 1, failed = 0;

	rte_set_application_usage_hook(usage_hook);
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "ivnet-vswitch: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	ret = vsw_parse_args(&sw.cfg, argc, argv);
	if (ret) {
		rte_eal_cleanup();
		return ret > 0 ? 0 : 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ctl_server_init(&sw.ctl);
	sw.started_at = time(NULL);
	sw.start_ns = mono_ns();
	sw.now_s = clock_s(&sw);
	if (setup(&sw))
		goto out;
	for (i = 0; i < sw.nworkers; i++)
		rte_eal_remote_launch(vsw_worker_main, &sw.worker[i], sw.worker[i].lcore);
	for (i = 0; i < (unsigned int)sw.cfg.n_initial; i++) {
		if (vsw_port_add(&sw, &sw.cfg.initial[i], err, sizeof(err))) {
			vsw_log(&sw, "port %s: %s", sw.cfg.initial[i].name, err);
			failed = 1;
			break;
		}
	}
	if (!failed) {
		vsw_log(&sw, "ready control=%s workers=%u", sw.cfg.control_path, sw.nworkers);
		run(&sw);
		rc = 0;
	}
	__atomic_store_n(&sw.quit, 1, __ATOMIC_RELAXED);
	rte_eal_mp_wait_lcore();
	vsw_log(&sw, "stopping");
out:
	teardown(&sw);
	rte_eal_cleanup();
	return rc;
}

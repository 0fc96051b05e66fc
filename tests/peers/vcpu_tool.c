// SPDX-License-Identifier: MIT
/*
 * vcpu_tool - a process that looks to ivnetd's placement like a QEMU: it
 * joins a segment through libivnet and runs threads named as QEMU names its
 * vCPU threads with debug-threads=on ("CPU n/TCG"), plus other threads, all
 * idle. The placement tests read where the kernel lets each thread run.
 *
 *   vcpu_tool SOCKET [--vcpus N] [--others M] [--names qemu|plain]
 *                    [--affinity VCPU=CPULIST]... [--join-first]
 *
 * --names plain names the vCPU threads "vcpu-n" (as a QEMU without
 * debug-threads, found through QMP instead); --vcpus 0 makes a plain
 * process. --affinity sets a vCPU thread's own affinity first, so that what
 * placement must restore differs from the default. The threads exist before
 * the join, unless --join-first (QEMU's order: it connects to the broker,
 * then starts its vCPUs).
 *
 * Prints JSON lines:
 *   {"event":"joined","id":N,"pid":P,"threads":{"NAME":TID,...}}
 *   {"event":"left"}       after SIGUSR1: the endpoint closed, process alive
 *   {"event":"error","what":".."}
 * and exits 0 on SIGTERM.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ivnet/ivnet.h>

#define THREADS_MAX 32

struct worker {
	pthread_t th;
	char name[16];
	cpu_set_t affinity;
	int set_affinity;
	volatile pid_t tid;
};

static struct worker workers[THREADS_MAX];
static int nworkers;

static void die(const char *what)
{
	printf("{\"event\":\"error\",\"what\":\"%s\"}\n", what);
	fflush(stdout);
	exit(1);
}

static void *run(void *arg)
{
	struct worker *w = arg;

	if (w->set_affinity && sched_setaffinity(0, sizeof(w->affinity), &w->affinity))
		die("sched_setaffinity");
	/* named by the thread itself, as QEMU's threads are */
	pthread_setname_np(pthread_self(), w->name);
	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (;;)
		pause(); /* signals are blocked here: main takes them */
	return NULL;
}

static int parse_cpus(const char *s, cpu_set_t *set)
{
	char *end;

	CPU_ZERO(set);
	while (*s) {
		long lo = strtol(s, &end, 10), hi = lo;

		if (end == s || lo < 0 || lo >= CPU_SETSIZE)
			return -1;
		if (*end == '-') {
			s = end + 1;
			hi = strtol(s, &end, 10);
			if (end == s || hi < lo || hi >= CPU_SETSIZE)
				return -1;
		}
		for (; lo <= hi; lo++)
			CPU_SET(lo, set);
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"vcpus", required_argument, NULL, 'v'}, {"others", required_argument, NULL, 'o'},
		{"names", required_argument, NULL, 'n'}, {"affinity", required_argument, NULL, 'a'},
		{"join-first", no_argument, NULL, 'j'},	 {NULL, 0, NULL, 0},
	};
	int vcpus = 2, others = 1, plain = 0, join_first = 0, c, i, sig;
	struct ivnet_ep *ep = NULL;
	char err[IVNET_ERRLEN];
	sigset_t set;

	memset(workers, 0, sizeof(workers));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			vcpus = atoi(optarg);
			break;
		case 'o':
			others = atoi(optarg);
			break;
		case 'n':
			plain = !strcmp(optarg, "plain");
			break;
		case 'j':
			join_first = 1;
			break;
		case 'a': {
			char *eq = strchr(optarg, '=');
			int v = atoi(optarg);

			if (!eq || v < 0 || v >= THREADS_MAX ||
			    parse_cpus(eq + 1, &workers[v].affinity))
				die("bad --affinity");
			workers[v].set_affinity = 1;
			break;
		}
		default:
			return 2;
		}
	}
	if (optind + 1 != argc || vcpus < 0 || others < 0 || vcpus + others > THREADS_MAX) {
		fprintf(stderr, "usage: vcpu_tool SOCKET [--vcpus N] [--others M] "
				"[--names qemu|plain] [--affinity VCPU=CPULIST]...\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (join_first && ivnet_ep_open(argv[optind], &ep, err))
		die("open");
	nworkers = vcpus + others;
	for (i = 0; i < nworkers; i++) {
		struct worker *w = &workers[i];
		char name[32];

		if (i < vcpus && plain)
			snprintf(name, sizeof(name), "vcpu-%d", i);
		else if (i < vcpus)
			snprintf(name, sizeof(name), "CPU %d/TCG", i);
		else
			snprintf(name, sizeof(name), "worker-%d", i - vcpus);
		memcpy(w->name, name, sizeof(w->name) - 1); /* a comm has 15 bytes */
		if (pthread_create(&w->th, NULL, run, w))
			die("pthread_create");
	}
	for (i = 0; i < nworkers; i++)
		while (!__atomic_load_n(&workers[i].tid, __ATOMIC_ACQUIRE))
			usleep(1000);
	if (!join_first && ivnet_ep_open(argv[optind], &ep, err))
		die("open");
	printf("{\"event\":\"joined\",\"id\":%u,\"pid\":%d,\"threads\":{\"main\":%d",
	       ivnet_ep_id(ep), (int)getpid(), (int)getpid());
	for (i = 0; i < nworkers; i++)
		printf(",\"%s\":%d", workers[i].name, (int)workers[i].tid);
	printf("}}\n");
	fflush(stdout);
	while (sigwait(&set, &sig) == 0) {
		if (sig != SIGUSR1)
			break;
		if (ep) {
			ivnet_ep_close(ep);
			ep = NULL;
			printf("{\"event\":\"left\"}\n");
			fflush(stdout);
		}
	}
	if (ep)
		ivnet_ep_close(ep);
	/* The workers never return: exit ends them. */
	return 0;
}

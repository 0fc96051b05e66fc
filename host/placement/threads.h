/* SPDX-License-Identifier: MIT */
/*
 * threads.h - a peer process's threads, and which of them are vCPUs.
 *
 * QEMU names its vCPU threads "CPU n/KVM" or "CPU n/TCG" (one "ALL CPUs/TCG"
 * thread with single-threaded TCG) when it runs with -name ...,debug-threads=on,
 * as libvirt starts it. The names are the peer's to choose: they pick which
 * of the peer's own threads get which CPUs of the plan, nothing else.
 */
#ifndef IVNETD_THREADS_H
#define IVNETD_THREADS_H

struct ivnetd_thread_info {
	int tid;
	char name[16];
	int vcpu; /* -1: not a vCPU thread */
};

/* The threads of process pid, in a malloc'd array (*out, free it); returns
 * how many, or a negative errno (-ESRCH: no such process). */
int ivnetd_threads_read(int pid, struct ivnetd_thread_info **out);

/* The vCPU index a thread name says, or -1. */
int ivnetd_vcpu_of_name(const char *name);

/* Whether tid is a thread of process pid right now. */
int ivnetd_thread_of(int pid, int tid);

#endif /* IVNETD_THREADS_H */

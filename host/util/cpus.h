/* SPDX-License-Identifier: MIT */
/*
 * cpus.h - a set of CPUs, and the kernel's CPU list syntax ("0-3,8,10-11")
 * that sysfs, cgroup cpuset files and /proc/PID/status write.
 *
 * Not cpu_set_t: that needs _GNU_SOURCE before the first system header of
 * every file that sees this one. Converted at the system calls (cpus.c).
 *
 * libnuma parses CPU lists too, but only against the running machine's
 * CPUs; these parse lists of any machine (the recorded sysfs trees the unit
 * tests ship) and untrusted text: every id is bounded by the size of the
 * set it goes into (IVNETD_CPUS_MAX here, libvirt's 4096 in ivnet-libvirt).
 */
#ifndef IVNETD_CPUS_H
#define IVNETD_CPUS_H

#include <stddef.h>
#include <stdint.h>

#define IVNETD_CPUS_MAX 1024 /* CPU_SETSIZE */
#define IVNETD_CPULIST_LEN 512

struct ivnetd_cpus {
	uint64_t w[IVNETD_CPUS_MAX / 64];
};

static inline void cpus_zero(struct ivnetd_cpus *s)
{
	size_t i;

	for (i = 0; i < IVNETD_CPUS_MAX / 64; i++)
		s->w[i] = 0;
}

static inline void cpus_set(struct ivnetd_cpus *s, int c)
{
	s->w[c / 64] |= 1ULL << (c % 64);
}

static inline void cpus_clear(struct ivnetd_cpus *s, int c)
{
	s->w[c / 64] &= ~(1ULL << (c % 64));
}

static inline int cpus_isset(const struct ivnetd_cpus *s, int c)
{
	return c >= 0 && c < IVNETD_CPUS_MAX && (s->w[c / 64] >> (c % 64) & 1);
}

static inline int cpus_count(const struct ivnetd_cpus *s)
{
	int n = 0;
	size_t i;

	for (i = 0; i < IVNETD_CPUS_MAX / 64; i++)
		n += __builtin_popcountll(s->w[i]);
	return n;
}

static inline int cpus_equal(const struct ivnetd_cpus *a, const struct ivnetd_cpus *b)
{
	size_t i;

	for (i = 0; i < IVNETD_CPUS_MAX / 64; i++)
		if (a->w[i] != b->w[i])
			return 0;
	return 1;
}

/* d = a & b (d may be a or b) */
static inline void cpus_and(struct ivnetd_cpus *d, const struct ivnetd_cpus *a,
			    const struct ivnetd_cpus *b)
{
	size_t i;

	for (i = 0; i < IVNETD_CPUS_MAX / 64; i++)
		d->w[i] = a->w[i] & b->w[i];
}

/* d |= a */
static inline void cpus_or(struct ivnetd_cpus *d, const struct ivnetd_cpus *a)
{
	size_t i;

	for (i = 0; i < IVNETD_CPUS_MAX / 64; i++)
		d->w[i] |= a->w[i];
}

/* Whether every CPU of a is in b. */
static inline int cpus_subset(const struct ivnetd_cpus *a, const struct ivnetd_cpus *b)
{
	size_t i;

	for (i = 0; i < IVNETD_CPUS_MAX / 64; i++)
		if (a->w[i] & ~b->w[i])
			return 0;
	return 1;
}

/* The lowest CPU of s at or above `from`, or -1. */
int cpus_next(const struct ivnetd_cpus *s, int from);

#define cpus_first(s) cpus_next((s), 0)
#define cpus_for_each(c, s) for ((c) = cpus_next((s), 0); (c) >= 0; (c) = cpus_next((s), (c) + 1))

/*
 * The parser under every list this tree reads (CPU sets here, libvirt's
 * byte maps in ivnet-libvirt): the next range of the list at *p, one per
 * call. Returns 1 with [*lo, *hi] and *p past it, 0 at the end, or -1 if
 * the text is not a list or names a CPU >= max. "" and "\n" are the
 * empty list; one trailing newline is allowed.
 */
int cpulist_range(const char **p, int max, int *lo, int *hi);

/* Append "lo" or "lo-hi" to the list in buf (*len chars so far, a comma
 * first unless empty). Returns 0, or -1 if it does not fit (buf then ends
 * after the last range that did). */
int cpulist_put_range(char *buf, size_t n, size_t *len, int lo, int hi);

/* Parse a list, with an optional trailing newline; "" is the empty set.
 * Returns 0, or -1 if the text is not a list or names a CPU >= the max. */
int ivnetd_cpulist_parse(const char *s, struct ivnetd_cpus *set);

/* Write set as a list ("" for the empty set). Returns 0, or -1 if n is too
 * small (buf then holds a truncated but terminated list). */
int ivnetd_cpulist_format(const struct ivnetd_cpus *set, char *buf, size_t n);

/* The CPUs a thread may run on, through sched_{get,set}affinity. Return 0
 * or a negative errno. */
int ivnetd_cpus_get_affinity(int tid, struct ivnetd_cpus *set);
int ivnetd_cpus_set_affinity(int tid, const struct ivnetd_cpus *set);

#endif /* IVNETD_CPUS_H */

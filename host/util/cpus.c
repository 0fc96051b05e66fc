// SPDX-License-Identifier: MIT
/*
 * cpus.c - CPU sets and lists (see cpus.h).
 */
#define _GNU_SOURCE
#include "cpus.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

_Static_assert(IVNETD_CPUS_MAX == CPU_SETSIZE, "one size for both kinds of set");

int cpus_next(const struct ivnetd_cpus *s, int from)
{
	int c;

	for (c = from < 0 ? 0 : from; c < IVNETD_CPUS_MAX; c++) {
		uint64_t w = s->w[c / 64] >> (c % 64);

		if (!w) {
			c |= 63; /* the rest of this word is empty */
			continue;
		}
		return c + __builtin_ctzll(w);
	}
	return -1;
}

static int parse_id(const char **p, int max, int *out)
{
	int v = 0, digits = 0;

	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		if (v >= max)
			return -1;
		(*p)++;
		digits++;
	}
	if (!digits)
		return -1;
	*out = v;
	return 0;
}

int cpulist_range(const char **pp, int max, int *lo, int *hi)
{
	const char *p = *pp;

	if (*p == '\0' || (*p == '\n' && p[1] == '\0'))
		return 0;
	if (parse_id(&p, max, lo))
		return -1;
	*hi = *lo;
	if (*p == '-') {
		p++;
		if (parse_id(&p, max, hi) || *hi < *lo)
			return -1;
	}
	if (*p == ',') {
		/* a comma promises another range: "1," is not a list */
		if (!isdigit((unsigned char)p[1]))
			return -1;
		p++;
	} else {
		if (*p == '\n')
			p++;
		if (*p != '\0')
			return -1;
	}
	*pp = p;
	return 1;
}

int ivnetd_cpulist_parse(const char *s, struct ivnetd_cpus *set)
{
	int lo, hi, c, r;

	cpus_zero(set);
	while ((r = cpulist_range(&s, IVNETD_CPUS_MAX, &lo, &hi)) > 0)
		for (c = lo; c <= hi; c++)
			cpus_set(set, c);
	return r;
}

int cpulist_put_range(char *buf, size_t n, size_t *len, int lo, int hi)
{
	const char *sep = *len ? "," : "";
	int w;

	if (*len >= n)
		return -1;
	if (lo == hi)
		w = snprintf(buf + *len, n - *len, "%s%d", sep, lo);
	else
		w = snprintf(buf + *len, n - *len, "%s%d-%d", sep, lo, hi);
	if (w < 0 || (size_t)w >= n - *len) {
		buf[*len] = '\0';
		return -1;
	}
	*len += (size_t)w;
	return 0;
}

int ivnetd_cpulist_format(const struct ivnetd_cpus *set, char *buf, size_t n)
{
	size_t len = 0;
	int c;

	if (n == 0)
		return -1;
	buf[0] = '\0';
	for (c = cpus_first(set); c >= 0; c = cpus_next(set, c + 1)) {
		int lo = c;

		while (cpus_isset(set, c + 1))
			c++;
		if (cpulist_put_range(buf, n, &len, lo, c))
			return -1;
	}
	return 0;
}

int ivnetd_cpus_get_affinity(int tid, struct ivnetd_cpus *set)
{
	cpu_set_t cs;
	int c;

	if (sched_getaffinity(tid, sizeof(cs), &cs) < 0)
		return -errno;
	cpus_zero(set);
	for (c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &cs))
			cpus_set(set, c);
	return 0;
}

int ivnetd_cpus_set_affinity(int tid, const struct ivnetd_cpus *set)
{
	cpu_set_t cs;
	int c;

	CPU_ZERO(&cs);
	cpus_for_each(c, set)
		CPU_SET(c, &cs);
	return sched_setaffinity(tid, sizeof(cs), &cs) < 0 ? -errno : 0;
}

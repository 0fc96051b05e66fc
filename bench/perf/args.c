// SPDX-License-Identifier: MIT
/* args.c - sizes and core pairs from the command line (args.h). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "perf.h"

int perf_parse_size(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (v > PERF_MAX_MSG) /* before a suffix shifts it round */
		return -1;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || v == 0 || v > PERF_MAX_MSG)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int perf_parse_sizes(const char *arg, uint32_t *sizes, int max, int *n, char *err, size_t el)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int ret = -1;

	*n = 0;
	if (!copy) {
		snprintf(err, el, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dots = strstr(tok, "..");
		uint32_t a, b;

		if (dots) {
			*dots = 0;
			if (perf_parse_size(tok, &a) || perf_parse_size(dots + 2, &b) || a > b) {
				snprintf(err, el, "bad size range '%.64s'", arg);
				goto out;
			}
		} else {
			if (perf_parse_size(tok, &a)) {
				snprintf(err, el, "bad size '%.64s' (1..64K)", tok);
				goto out;
			}
			b = a;
		}
		for (;;) {
			if (*n == max) {
				snprintf(err, el, "too many sizes in '%.64s'", arg);
				goto out;
			}
			sizes[(*n)++] = a;
			if (a >= b)
				break;
			a = a * 2 > b ? b : a * 2;
		}
	}
	if (!*n)
		snprintf(err, el, "no sizes in '%.64s'", arg);
	else
		ret = 0;
out:
	free(copy);
	return ret;
}

int perf_parse_cpus(const char *arg, int *lcpu, int *rcpu)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || v < 0 || v >= CPU_SETSIZE || (*end && *end != ','))
		return -1;
	*lcpu = *rcpu = (int)v;
	if (*end == ',') {
		const char *r = end + 1;

		v = strtol(r, &end, 10);
		if (end == r || *end || v < 0 || v >= CPU_SETSIZE)
			return -1;
		*rcpu = (int)v;
	}
	return 0;
}

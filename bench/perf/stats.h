/* SPDX-License-Identifier: MIT */
/*
 * stats.h - what ivnet-perf reports: a latency histogram (log-linear, about
 * 1.6% resolution, merges across repetitions) and summaries of repeated
 * measurements (median, min, max).
 */
#ifndef IVNET_PERF_STATS_H
#define IVNET_PERF_STATS_H

#include <stdint.h>

#define HIST_SUB_BITS 6 /* 64 buckets per power of two */
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

struct hist {
	uint64_t count;
	uint64_t min, max;
	double sum;
	uint64_t bucket[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at quantile q (0..1): the upper bound of its bucket, within
 * [min, max]. 0 for an empty histogram. */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);

struct summary {
	double median, min, max;
	int n;
};

/* Median (mean of the middle two for an even count), min and max of v[0..n). */
struct summary summarize(const double *v, int n);

#endif

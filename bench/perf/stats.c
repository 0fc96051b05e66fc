// SPDX-License-Identifier: MIT
/*
 * stats.c - histograms and summaries for ivnet-perf.
 *
 * Bucket index: values below 2^HIST_SUB_BITS are exact; above, the top
 * HIST_SUB_BITS + 1 significant bits select the bucket, so each power of two
 * is cut into 2^HIST_SUB_BITS equal parts.
 */
#include <stdlib.h>
#include <string.h>

#include "stats.h"

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static unsigned int bucket_of(uint64_t v)
{
	unsigned int msb;

	if (v < (1u << HIST_SUB_BITS))
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	return ((msb - HIST_SUB_BITS + 1) << HIST_SUB_BITS) +
	       (unsigned int)((v >> (msb - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1));
}

/* The largest value that falls in bucket b. */
static uint64_t bucket_top(unsigned int b)
{
	unsigned int shift, sub;

	if (b < (1u << HIST_SUB_BITS))
		return b;
	shift = (b >> HIST_SUB_BITS) - 1;
	sub = b & ((1u << HIST_SUB_BITS) - 1);
	return ((((uint64_t)1 << HIST_SUB_BITS) + sub + 1) << shift) - 1;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[bucket_of(v)]++;
	h->count++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	if (!src->count)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;
	unsigned int i;

	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min;
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t top = bucket_top(i);

			if (top > h->max)
				top = h->max;
			return top < h->min ? h->min : top;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? h->sum / (double)h->count : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct summary summarize(const double *v, int n)
{
	struct summary s = {0, 0, 0, n};
	double *t;

	if (n <= 0)
		return s;
	t = malloc(sizeof(*t) * (size_t)n);
	if (!t)
		return s;
	memcpy(t, v, sizeof(*t) * (size_t)n);
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	s.min = t[0];
	s.max = t[n - 1];
	s.median = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	free(t);
	return s;
}

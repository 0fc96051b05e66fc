// SPDX-License-Identifier: MIT
/*
 * limits.c - what the machine allows, measured the same way as the tests:
 *
 *   LIMIT_PINGPONG  one cache line passed back and forth between the two
 *                   cores of -T: the floor of any shared-memory round trip
 *   LIMIT_COPY      memcpy of each message size on one core (-T's first),
 *                   over a 2 MiB working set like a ring's: the ceiling of a
 *                   stream that copies once on each side
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

#define BATCH 1024

struct pingpong {
	_Alignas(64) volatile uint64_t ball;
	_Alignas(64) volatile int ready;
	int cpu;
	char err[PERF_ERRLEN];
};

static void *pingpong_far(void *arg)
{
	struct pingpong *pp = arg;
	uint64_t v;

	if (pp->cpu >= 0 && perf_pin(pp->cpu, pp->err))
		fprintf(stderr, "ivnet-perf: %s\n", pp->err);
	pp->ready = 1;
	for (;;) {
		while (((v = pp->ball) & 1) == 0)
			;
		if (v == UINT64_MAX)
			break;
		pp->ball = v + 1;
	}
	return NULL;
}

int limit_pingpong_client(struct perf_session *s, struct run_result *r)
{
	struct pingpong *pp = aligned_alloc(64, sizeof(*pp));
	uint64_t i = 0, t0, t, prev;
	pthread_t th;

	if (!pp) {
		snprintf(s->err, PERF_ERRLEN, "out of memory");
		return -1;
	}
	memset(pp, 0, sizeof(*pp));
	pp->cpu = s->o->rcpu;
	if (pthread_create(&th, NULL, pingpong_far, pp)) {
		free(pp);
		snprintf(s->err, PERF_ERRLEN, "pthread_create failed");
		return -1;
	}
	while (!pp->ready)
		;
	t0 = prev = perf_now_ns();
	do {
		int k;

		for (k = 0; k < BATCH; k++, i++) {
			pp->ball = 2 * i + 1;
			while (pp->ball != 2 * i + 2)
				;
		}
		t = perf_now_ns();
		/* one sample per batch: timing each trip would cost more than it */
		hist_add(&r->lat, (t - prev) / BATCH);
		prev = t;
	} while ((double)(t - t0) * 1e-9 < s->req.seconds);
	pp->ball = UINT64_MAX;
	pthread_join(th, NULL);
	free(pp);
	r->messages = r->sent = i;
	r->elapsed = (double)(t - t0) * 1e-9;
	return 0;
}

int limit_copy_client(struct perf_session *s, struct run_result *r)
{
	size_t span = 1u << 21, off = 0, size = s->req.size;
	uint8_t *src = malloc(span + size), *dst = malloc(span + size);
	uint64_t n = 0;
	double t0, t;

	if (!src || !dst) {
		free(src);
		free(dst);
		snprintf(s->err, PERF_ERRLEN, "out of memory");
		return -1;
	}
	memset(src, 1, span + size);
	memset(dst, 2, span + size);
	t0 = perf_now();
	do {
		int k;

		for (k = 0; k < 64; k++, n++) {
			memcpy(dst + off, src + off, size);
			off = (off + size) % span;
		}
		t = perf_now();
	} while (t - t0 < s->req.seconds);
	__asm__ volatile("" : : "r"(dst) : "memory"); /* the copies are used */
	free(src);
	free(dst);
	r->messages = r->sent = n;
	r->bytes = n * size;
	r->elapsed = t - t0;
	return 0;
}

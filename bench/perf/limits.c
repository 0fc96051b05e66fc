// SPDX-License-Identifier: MIT
/*
 * limits.c - what the machine allows, measured the same way as the tests:
 *
 *   LIMIT_PINGPONG  one cache line passed back and forth between the two
 *                   cores of -T: the floor of any shared-memory round trip
 *   LIMIT_RR        the least a message round trip can cost: each way, the
 *                   message is copied into a line-aligned slot of a 64-slot
 *                   ring and announced by a sequence word right after it;
 *                   the far side spins on that word, copies the message out
 *                   and answers the same way. No descriptors, no checks, no
 *                   ring bookkeeping: the lines any ring carrying frames of
 *                   that size must move (ceil((size + 4) / 64) each way)
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

/* ------------------------------------------------------------- LIMIT_RR */

#define RR_SLOTS 64

/* One direction: RR_SLOTS slots of stride bytes, each a message then its
 * sequence word (4-aligned, right after the message's last byte). */
struct msg_dir {
	uint8_t *mem;
	size_t stride, word; /* bytes from a slot's start to its word */
};

struct msg_rr {
	struct msg_dir req, resp;
	uint32_t qsize, asize;
	int cpu;
	_Alignas(64) volatile int ready;
	char err[PERF_ERRLEN];
};

static int msg_dir_init(struct msg_dir *d, uint32_t size)
{
	d->word = (size + 3u) & ~3u;
	d->stride = (d->word + 4 + 63) & ~(size_t)63;
	d->mem = aligned_alloc(64, d->stride * RR_SLOTS);
	if (!d->mem)
		return -1;
	memset(d->mem, 0, d->stride * RR_SLOTS);
	return 0;
}

static uint32_t *msg_word(const struct msg_dir *d, uint32_t i)
{
	return (uint32_t *)(d->mem + (i % RR_SLOTS) * d->stride + d->word);
}

static uint8_t *msg_bytes(const struct msg_dir *d, uint32_t i)
{
	return d->mem + (i % RR_SLOTS) * d->stride;
}

/* Message i (numbered from 1, so that a zeroed word is never a message). */
static void msg_send(const struct msg_dir *d, uint32_t i, const void *src, uint32_t len)
{
	memcpy(msg_bytes(d, i), src, len);
	/* release: the bytes before the word that announces them */
	__atomic_store_n(msg_word(d, i), i, __ATOMIC_RELEASE);
}

/* Wait for message i and copy it out; 0 if told to stop (word ~0u) first. */
static int msg_recv(const struct msg_dir *d, uint32_t i, void *dst, uint32_t len)
{
	uint32_t w;

	/* acquire: pairs with msg_send()'s release. Loads only: a store in
	 * this spin slows its wake-up down (see libivnet's spin_for_work()). */
	while ((w = __atomic_load_n(msg_word(d, i), __ATOMIC_ACQUIRE)) != i)
		if (w == UINT32_MAX)
			return 0;
	memcpy(dst, msg_bytes(d, i), len);
	return 1;
}

static void *msg_rr_far(void *arg)
{
	struct msg_rr *m = arg;
	uint32_t len = m->qsize > m->asize ? m->qsize : m->asize, i;
	uint8_t *buf = calloc(1, len);

	if (m->cpu >= 0 && perf_pin(m->cpu, m->err))
		fprintf(stderr, "ivnet-perf: %s\n", m->err);
	m->ready = buf ? 1 : -1;
	if (!buf)
		return NULL;
	/* the answer starts with the request's bytes: the client checks them */
	for (i = 1; msg_recv(&m->req, i, buf, m->qsize); i++)
		msg_send(&m->resp, i, buf, m->asize);
	free(buf);
	return NULL;
}

static void msg_fill(uint8_t *p, uint32_t len, uint32_t seq)
{
	uint32_t k;

	for (k = 0; k < len; k++)
		p[k] = (uint8_t)(seq * 131u + k * 7u + 1u);
}

int limit_rr_client(struct perf_session *s, struct run_result *r)
{
	struct msg_rr *m = aligned_alloc(64, sizeof(*m));
	uint32_t q = s->req.size, a = s->req.resp ? s->req.resp : s->req.size, i = 1, k;
	uint32_t both = q < a ? q : a;
	uint8_t *req = NULL, *resp = NULL;
	uint64_t t0, t, prev;
	pthread_t th;
	int ret = -1;

	if (!m) {
		snprintf(s->err, PERF_ERRLEN, "out of memory");
		return -1;
	}
	memset(m, 0, sizeof(*m));
	m->qsize = q;
	m->asize = a;
	m->cpu = s->o->rcpu;
	req = calloc(1, q);
	resp = calloc(1, a);
	if (!req || !resp || msg_dir_init(&m->req, q) || msg_dir_init(&m->resp, a)) {
		snprintf(s->err, PERF_ERRLEN, "out of memory");
		goto out;
	}
	if (pthread_create(&th, NULL, msg_rr_far, m)) {
		snprintf(s->err, PERF_ERRLEN, "pthread_create failed");
		goto out;
	}
	while (!m->ready)
		;
	if (m->ready < 0) {
		pthread_join(th, NULL);
		snprintf(s->err, PERF_ERRLEN, "out of memory");
		goto out;
	}
	t0 = prev = perf_now_ns();
	do {
		/* one sample per batch: timing each trip would cost more than it */
		for (k = 0; k < BATCH; k++, i++) {
			if (s->req.verify)
				msg_fill(req, q, i);
			msg_send(&m->req, i, req, q);
			msg_recv(&m->resp, i, resp, a);
			if (s->req.verify) {
				r->checked += both;
				r->errors += memcmp(req, resp, both) != 0;
			}
		}
		t = perf_now_ns();
		hist_add(&r->lat, (t - prev) / BATCH);
		prev = t;
	} while ((double)(t - t0) * 1e-9 < s->req.seconds);
	__atomic_store_n(msg_word(&m->req, i), UINT32_MAX, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	r->messages = r->sent = i - 1;
	r->bytes = (uint64_t)(i - 1) * (q + a);
	r->elapsed = (double)(t - t0) * 1e-9;
	ret = 0;
out:
	free(m->req.mem);
	free(m->resp.mem);
	free(m);
	free(req);
	free(resp);
	return ret;
}

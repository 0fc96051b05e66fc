// SPDX-License-Identifier: MIT
/*
 * ivnet-ringbench - the ring library against the machine's limits, on two
 * pinned cores, in one run:
 *
 *   limit  cache-line ping-pong round trip between the two cores;
 *          single-core copy bandwidth at each message size
 *   ring   stream (sender copies in, receiver copies out) and request/
 *          response round trip, busy-polling, over one region
 *
 * Each figure is the median of several repetitions, with min and max, and
 * the ring's figures are given as ratios to the limits.
 *
 * usage: ivnet-ringbench [-c CPU,CPU] [-s SIZE,...] [-t SECONDS] [-r REPS]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ivnet_region.h"
#include "ivnet_ring.h"

#define MAX_SIZES 16
#define MAX_REPS 64
#define REGION_SIZE (1ULL << 24)

struct opts {
	int cpu[2];
	uint32_t sizes[MAX_SIZES];
	int nsizes;
	double seconds;
	int reps;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		fprintf(stderr, "ivnet-ringbench: cannot pin to cpu %d, running unpinned\n", cpu);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stat3 {
	double med, min, max;
};

static struct stat3 summarize(double *v, int n)
{
	struct stat3 s;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

/* ------------------------------------------------------------ the pair */

struct bench {
	const struct opts *o;
	uint32_t size;
	double seconds;
	void *base;
	struct ivnet_layout l;
	volatile int stop;
	volatile int ready;
	/* results */
	uint64_t frames;
	double elapsed;
	/* cache-line ping-pong */
	_Alignas(64) volatile uint64_t ball;
};

typedef void *(*side_fn)(void *);

/* Run a on cpu[0] (this thread) and b on cpu[1]; b starts first. */
static void run_pair(struct bench *b, side_fn a_fn, side_fn b_fn)
{
	pthread_t t;

	b->stop = 0;
	b->ready = 0;
	if (pthread_create(&t, NULL, b_fn, b) != 0) {
		perror("pthread_create");
		exit(1);
	}
	pin(b->o->cpu[0]);
	while (!b->ready)
		;
	a_fn(b);
	pthread_join(t, NULL);
}

static void *pingpong_a(void *arg)
{
	struct bench *b = arg;
	uint64_t i = 0;
	double t0 = now(), t1;

	do {
		uint32_t k;

		for (k = 0; k < 1024; k++, i++) {
			b->ball = 2 * i + 1;
			while (b->ball != 2 * i + 2)
				;
		}
		t1 = now();
	} while (t1 - t0 < b->seconds);
	b->elapsed = t1 - t0;
	b->frames = i;
	b->stop = 1;
	b->ball = ~0ULL;
	return NULL;
}

static void *pingpong_b(void *arg)
{
	struct bench *b = arg;
	uint64_t v;

	pin(b->o->cpu[1]);
	b->ball = 0;
	b->ready = 1;
	for (;;) {
		while (((v = b->ball) & 1) == 0)
			;
		if (v == ~0ULL)
			break;
		b->ball = v + 1;
	}
	return NULL;
}

/* Single-core memcpy bandwidth, over a working set the size of a ring. */
static double copy_rate(uint32_t size, double seconds)
{
	size_t span = 1u << 21, off = 0;
	uint8_t *src = malloc(span + size), *dst = malloc(span + size);
	uint64_t bytes = 0;
	double t0, t;

	if (!src || !dst)
		exit(1);
	memset(src, 1, span + size);
	memset(dst, 2, span + size);
	t0 = now();
	do {
		int k;

		for (k = 0; k < 64; k++) {
			memcpy(dst + off, src + off, size);
			off = (off + size) % span;
			bytes += size;
		}
		t = now();
	} while (t - t0 < seconds);
	__asm__ volatile("" : : "r"(dst) : "memory");
	free(src);
	free(dst);
	return (double)bytes / (t - t0);
}

static void *stream_tx(void *arg)
{
	struct bench *b = arg;
	struct ivnet_ring tx;
	uint8_t *src = calloc(1, b->size);

	ivnet_ring_attach_tx(&tx, b->base, &b->l, 0, 1);
	while (!b->stop) {
		int k;

		for (k = 0; k < 32; k++) {
			uint8_t *d = ivnet_tx_reserve(&tx, b->size, NULL);

			if (!d)
				break;
			memcpy(d, src, b->size);
		}
		ivnet_tx_publish(&tx);
	}
	free(src);
	return NULL;
}

static void *stream_rx(void *arg)
{
	struct bench *b = arg;
	struct ivnet_ring rx;
	struct ivnet_rx_frame f;
	uint8_t *dst = malloc(b->size);
	uint64_t n = 0;
	double t0, t;

	pin(b->o->cpu[1]);
	ivnet_ring_attach_rx(&rx, b->base, &b->l, 0, 1);
	b->ready = 1;
	t0 = now();
	do {
		int k;

		for (k = 0; k < 256; k++) {
			while (ivnet_rx_peek(&rx, &f)) {
				memcpy(dst, f.data, f.len);
				ivnet_rx_consume(&rx);
				n++;
			}
			ivnet_rx_release(&rx);
		}
		t = now();
	} while (t - t0 < b->seconds);
	b->stop = 1;
	b->frames = n;
	b->elapsed = t - t0;
	free(dst);
	return NULL;
}

/* Wait for one frame on rx, copy it out, release it. */
static void rr_recv(struct ivnet_ring *rx, uint8_t *dst, volatile int *stop)
{
	struct ivnet_rx_frame f;

	/* spin as libivnet does: on ivnet_rx_pending(), loads only */
	while (!ivnet_rx_peek(rx, &f))
		while (!ivnet_rx_pending(rx))
			if (*stop)
				return;
	memcpy(dst, f.data, f.len);
	ivnet_rx_consume(rx);
	ivnet_rx_release(rx);
}

static void rr_send(struct ivnet_ring *tx, const uint8_t *src, uint32_t size)
{
	uint8_t *d;

	while (!(d = ivnet_tx_reserve(tx, size, NULL)))
		;
	memcpy(d, src, size);
	ivnet_tx_publish(tx);
}

static void *rr_client(void *arg)
{
	struct bench *b = arg;
	struct ivnet_ring tx, rx;
	uint8_t *buf = calloc(1, b->size);
	uint64_t n = 0;
	double t0, t;

	ivnet_ring_attach_tx(&tx, b->base, &b->l, 0, 1);
	ivnet_ring_attach_rx(&rx, b->base, &b->l, 1, 0);
	t0 = now();
	do {
		int k;

		for (k = 0; k < 64; k++, n++) {
			rr_send(&tx, buf, b->size);
			rr_recv(&rx, buf, &b->stop);
		}
		t = now();
	} while (t - t0 < b->seconds);
	b->frames = n;
	b->elapsed = t - t0;
	b->stop = 1;
	free(buf);
	return NULL;
}

static void *rr_server(void *arg)
{
	struct bench *b = arg;
	struct ivnet_ring tx, rx;
	uint8_t *buf = calloc(1, b->size);

	pin(b->o->cpu[1]);
	ivnet_ring_attach_tx(&tx, b->base, &b->l, 1, 0);
	ivnet_ring_attach_rx(&rx, b->base, &b->l, 0, 1);
	b->ready = 1;
	for (;;) {
		rr_recv(&rx, buf, &b->stop);
		if (b->stop)
			break;
		rr_send(&tx, buf, b->size);
	}
	free(buf);
	return NULL;
}

/* ------------------------------------------------------------- driver */

static void parse_list(const char *s, uint32_t *out, int max, int *n)
{
	char *copy = strdup(s), *tok, *save = NULL;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok && *n < max; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v = strtoul(tok, &end, 0);

		if (*end == 'k' || *end == 'K')
			v *= 1024, end++;
		if (*end || v < IVNET_FRAME_MIN || v > 65536) {
			fprintf(stderr, "ivnet-ringbench: bad size '%s' (%u..65536)\n", tok,
				IVNET_FRAME_MIN);
			exit(2);
		}
		out[(*n)++] = (uint32_t)v;
	}
	free(copy);
}

static void usage(void)
{
	fprintf(stderr, "usage: ivnet-ringbench [-c CPU,CPU] [-s SIZE,...] [-t SECONDS] "
			"[-r REPS]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const uint32_t def[] = {64, 256, 1024, 4096, 16384, 65536};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	o->cpu[0] = ncpu > 1 ? (int)ncpu - 2 : 0;
	o->cpu[1] = ncpu > 1 ? (int)ncpu - 1 : 0;
	memcpy(o->sizes, def, sizeof(def));
	o->nsizes = sizeof(def) / sizeof(def[0]);
	o->seconds = 0.2;
	o->reps = 5;
	while ((c = getopt(argc, argv, "c:s:t:r:h")) != -1) {
		switch (c) {
		case 'c':
			if (sscanf(optarg, "%d,%d", &o->cpu[0], &o->cpu[1]) != 2)
				usage();
			break;
		case 's':
			parse_list(optarg, o->sizes, MAX_SIZES, &o->nsizes);
			break;
		case 't':
			o->seconds = atof(optarg);
			if (o->seconds <= 0)
				usage();
			break;
		case 'r':
			o->reps = atoi(optarg);
			if (o->reps < 1 || o->reps > MAX_REPS)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->nsizes == 0)
		usage();
}

int main(int argc, char **argv)
{
	struct ivnet_layout_params prm = {.region_size = REGION_SIZE, .max_peers = 2};
	double v[MAX_REPS], w[MAX_REPS];
	struct stat3 pp, cp, st, pps, rr;
	static struct bench b;
	struct opts o;
	int i, r;

	parse(argc, argv, &o);
	b.o = &o;
	b.seconds = o.seconds;
	if (ivnet_layout_compute(&prm, &b.l)) {
		fprintf(stderr, "ivnet-ringbench: layout failed\n");
		return 1;
	}
	b.base = aligned_alloc(IVNET_PAGE, REGION_SIZE);
	if (!b.base)
		return 1;
	ivnet_layout_format(b.base, &b.l, "bench", 1);

	for (r = 0; r < o.reps; r++) {
		run_pair(&b, pingpong_a, pingpong_b);
		v[r] = b.elapsed / (double)b.frames * 1e9;
	}
	pp = summarize(v, o.reps);
	printf("ivnet ring benchmark: cpus %d,%d; %d reps x %.2f s; median [min-max]\n", o.cpu[0],
	       o.cpu[1], o.reps, o.seconds);
	printf("ring: %u slots x %u B per ring\n", b.l.slot_count, b.l.slot_size);
	printf("limit: cache-line ping-pong round trip %.0f ns [%.0f-%.0f]\n\n", pp.med, pp.min,
	       pp.max);
	printf("%6s  %-21s  %-26s  %-19s  %-27s\n", "size", "copy GB/s (limit)",
	       "ring stream GB/s (x copy)", "ring Mframes/s", "ring RR ns (x ping-pong)");

	for (i = 0; i < o.nsizes; i++) {
		char a[64], s1[64], s2[64], s3[64];

		b.size = o.sizes[i];
		for (r = 0; r < o.reps; r++)
			v[r] = copy_rate(b.size, o.seconds) / 1e9;
		cp = summarize(v, o.reps);
		for (r = 0; r < o.reps; r++) {
			run_pair(&b, stream_tx, stream_rx);
			v[r] = (double)b.frames * b.size / b.elapsed / 1e9;
			w[r] = (double)b.frames / b.elapsed / 1e6;
		}
		st = summarize(v, o.reps);
		pps = summarize(w, o.reps);
		for (r = 0; r < o.reps; r++) {
			run_pair(&b, rr_client, rr_server);
			v[r] = b.elapsed / (double)b.frames * 1e9;
		}
		rr = summarize(v, o.reps);
		snprintf(a, sizeof(a), "%.2f [%.2f-%.2f]", cp.med, cp.min, cp.max);
		snprintf(s1, sizeof(s1), "%.2f [%.2f-%.2f] x%.2f", st.med, st.min, st.max,
			 st.med / cp.med);
		snprintf(s2, sizeof(s2), "%.2f [%.2f-%.2f]", pps.med, pps.min, pps.max);
		snprintf(s3, sizeof(s3), "%.0f [%.0f-%.0f] x%.2f", rr.med, rr.min, rr.max,
			 rr.med / pp.med);
		printf("%6u  %-21s  %-26s  %-19s  %-27s\n", b.size, a, s1, s2, s3);
	}
	free(b.base);
	return 0;
}

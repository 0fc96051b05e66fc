/* SPDX-License-Identifier: MIT */
/*
 * args.h - the command-line values ivnet-perf and ivnet-perf-memif read
 * alike: message sizes and the -T core pair.
 */
#ifndef IVNET_PERF_ARGS_H
#define IVNET_PERF_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Digits with an optional K or M (binary, as netperf reads them), 1..64K. */
int perf_parse_size(const char *s, uint32_t *out);

/* A list (64,1500,64K) or a doubling range (64..64K) into sizes[0..max);
 * *n is how many. 0, or -1 with err saying why. */
int perf_parse_sizes(const char *arg, uint32_t *sizes, int max, int *n, char *err, size_t el);

/* LCPU[,RCPU] (RCPU defaults to LCPU). 0, or -1 if malformed or out of range. */
int perf_parse_cpus(const char *arg, int *lcpu, int *rcpu);

#endif

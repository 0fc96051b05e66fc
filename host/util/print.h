/* SPDX-License-Identifier: MIT */
/*
 * print.h - one code path for terse text and JSON output, after iproute2's
 * json_print: each call names a JSON key and a printf format for text; the
 * printer emits whichever the request asked for.
 */
#ifndef IVNETD_PRINT_H
#define IVNETD_PRINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PR_DEPTH_MAX 8

struct pr {
	FILE *out;
	int json;
	int depth;
	int count[PR_DEPTH_MAX]; /* members written at each depth */
};

void pr_init(struct pr *p, FILE *out, int json);
void pr_obj_open(struct pr *p, const char *key);
void pr_obj_close(struct pr *p);
void pr_arr_open(struct pr *p, const char *key);
void pr_arr_close(struct pr *p);
void pr_str(struct pr *p, const char *key, const char *fmt, const char *v);
void pr_u64(struct pr *p, const char *key, const char *fmt, uint64_t v);
void pr_i64(struct pr *p, const char *key, const char *fmt, int64_t v);
/* JSON true or false; text prints fmt (a flag word) only when v is true. */
void pr_bool(struct pr *p, const char *key, const char *fmt, int v);
void pr_mac(struct pr *p, const char *key, const char *fmt, const uint8_t mac[6]);
/* An error as the whole answer: {"error":"..."} in JSON, "error: ..." in
 * text. Returns -1, for `return pr_error(...)`. */
int pr_error(struct pr *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A run of a structure's 64-bit counters, each printed as pr_u64 would,
 * under its field's name: PR_COUNTER(struct s, field, " text %llu"). */
struct pr_counter {
	const char *key;
	const char *fmt;
	size_t off;
};

#define PR_COUNTER(type, field, fmt)                 \
	{                                            \
#field, (fmt), offsetof(type, field) \
	}

/* Each read relaxed-atomically: other threads may be counting meanwhile. */
void pr_counters(struct pr *p, const void *base, const struct pr_counter *c, size_t n);
#define PR_COUNTERS(p, base, table) \
	pr_counters((p), (base), (table), sizeof(table) / sizeof((table)[0]))

/* Text only (line breaks, separators); nothing in JSON. */
void pr_text(struct pr *p, const char *s);

#endif /* IVNETD_PRINT_H */

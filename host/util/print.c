// SPDX-License-Identifier: MIT
/*
 * print.c - text or JSON from the same calls (see print.h).
 */
#include "host_err.h"
#include "print.h"

#include <stdarg.h>

/* The text formats are the callers' literals, each taking exactly the one
 * value its function passes (as in iproute2's json_print). */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

void pr_init(struct pr *p, FILE *out, int json)
{
	p->out = out;
	p->json = json;
	p->depth = 0;
	p->count[0] = 0;
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* Separator and key of the next JSON member. */
static void member(struct pr *p, const char *key)
{
	if (p->count[p->depth]++)
		fputc(',', p->out);
	if (key) {
		json_string(p->out, key);
		fputc(':', p->out);
	}
}

static void nest_open(struct pr *p, const char *key, char c)
{
	if (!p->json)
		return;
	member(p, key);
	fputc(c, p->out);
	if (p->depth + 1 < PR_DEPTH_MAX)
		p->count[++p->depth] = 0;
}

static void nest_close(struct pr *p, char c)
{
	if (!p->json)
		return;
	fputc(c, p->out);
	if (p->depth > 0)
		p->depth--;
	if (p->depth == 0 && c == '}')
		fputc('\n', p->out);
}

void pr_obj_open(struct pr *p, const char *key)
{
	nest_open(p, key, '{');
}

void pr_obj_close(struct pr *p)
{
	nest_close(p, '}');
}

void pr_arr_open(struct pr *p, const char *key)
{
	nest_open(p, key, '[');
}

void pr_arr_close(struct pr *p)
{
	nest_close(p, ']');
}

void pr_str(struct pr *p, const char *key, const char *fmt, const char *v)
{
	if (!p->json) {
		if (fmt)
			fprintf(p->out, fmt, v);
		return;
	}
	member(p, key);
	json_string(p->out, v);
}

void pr_u64(struct pr *p, const char *key, const char *fmt, uint64_t v)
{
	if (!p->json) {
		if (fmt)
			fprintf(p->out, fmt, (unsigned long long)v);
		return;
	}
	member(p, key);
	fprintf(p->out, "%llu", (unsigned long long)v);
}

void pr_i64(struct pr *p, const char *key, const char *fmt, int64_t v)
{
	if (!p->json) {
		if (fmt)
			fprintf(p->out, fmt, (long long)v);
		return;
	}
	member(p, key);
	fprintf(p->out, "%lld", (long long)v);
}

void pr_bool(struct pr *p, const char *key, const char *fmt, int v)
{
	if (!p->json) {
		if (fmt && v)
			fputs(fmt, p->out);
		return;
	}
	member(p, key);
	fputs(v ? "true" : "false", p->out);
}

void pr_mac(struct pr *p, const char *key, const char *fmt, const uint8_t mac[6])
{
	char s[18];

	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	pr_str(p, key, fmt, s);
}

void pr_text(struct pr *p, const char *s)
{
	if (!p->json)
		fputs(s, p->out);
}

void pr_counters(struct pr *p, const void *base, const struct pr_counter *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const uint64_t *v = (const uint64_t *)((const char *)base + c[i].off);

		pr_u64(p, c[i].key, c[i].fmt, __atomic_load_n(v, __ATOMIC_RELAXED));
	}
}

int pr_error(struct pr *p, const char *fmt, ...)
{
	char msg[HOST_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->json) {
		pr_obj_open(p, NULL);
		pr_str(p, "error", NULL, msg);
		pr_obj_close(p);
	} else {
		fprintf(p->out, "error: %s\n", msg);
	}
	return -1;
}

// SPDX-License-Identifier: MIT
/*
 * report.c - ivnet-perf's output: a netperf-like table, or (-j) one JSON
 * object with the same figures. Rates are the median over repetitions with
 * min and max; RR latencies are percentiles over every transaction of every
 * repetition.
 */
#include <stdio.h>
#include <string.h>

#include "perf.h"

struct figures {
	struct summary bps, pps, tps, elapsed;
	struct hist lat;
	uint64_t messages, sent, checked, errors;
};

static void figures_of(const struct size_result *r, struct figures *f)
{
	double bps[PERF_MAX_REPS], pps[PERF_MAX_REPS], tps[PERF_MAX_REPS], el[PERF_MAX_REPS];
	int i;

	memset(f, 0, sizeof(*f));
	hist_init(&f->lat);
	for (i = 0; i < r->n; i++) {
		const struct run_result *x = &r->run[i];
		double t = x->elapsed > 0 ? x->elapsed : 1e-9;

		bps[i] = (double)x->bytes * 8 / t;
		tps[i] = (double)x->messages / t;
		/* RR: a request and a response each transaction */
		pps[i] = r->resp ? 2 * tps[i] : tps[i];
		el[i] = x->elapsed;
		hist_merge(&f->lat, &x->lat);
		f->messages += x->messages;
		f->sent += x->sent;
		f->checked += x->checked;
		f->errors += x->errors;
	}
	f->bps = summarize(bps, r->n);
	f->pps = summarize(pps, r->n);
	f->tps = summarize(tps, r->n);
	f->elapsed = summarize(el, r->n);
}

static const char *wait_name(enum ivnet_ep_wait w)
{
	return w == IVNET_WAIT_BLOCK ? "block" : w == IVNET_WAIT_ADAPTIVE ? "adaptive" : "busy";
}

static void banner(const struct perf_opts *o)
{
	const struct perf_test *t = o->test;

	printf("IVNET-PERF %s TEST", t->name);
	if (t->remote)
		printf(" to %s port %s", o->host, o->port);
	if (!strncmp(t->name, "SHM_", 4))
		printf(" over segment %s (%s%s)", o->segment, wait_name(o->wait),
		       o->zerocopy ? ", zerocopy" : "");
	if (o->lcpu >= 0)
		printf(" : cpu bind %d,%d", o->lcpu, o->rcpu);
	printf(" : %d x %.2fs%s\n", o->reps, o->seconds, o->verify ? " : verify" : "");
}

static void verify_text(const struct figures *f, char *buf, size_t len)
{
	snprintf(buf, len, "%llu B %s", (unsigned long long)f->checked,
		 f->errors ? "FAILED" : "ok");
}

void report_text(const struct perf_opts *o, const struct size_result *res, int nres)
{
	const struct perf_test *t = o->test;
	char v[64];
	int i;

	if (o->banner)
		banner(o);
	if (t->rr) {
		printf("%-8s %-8s %-7s %-26s %-10s %-8s %-8s %-8s\n", "Request", "Response",
		       "Elapsed", "Trans. Rate", "Latency", "", "", "");
		printf("%-8s %-8s %-7s %-26s %-10s %-8s %-8s %-8s%s\n", "Size", "Size", "Time",
		       "per sec", "usec mean", "p50", "p99", "p99.9", o->verify ? "  Verify" : "");
		printf("%-8s %-8s %-7s %-26s\n", "bytes", "bytes", "secs.", "median [min-max]");
	} else {
		printf("%-8s %-7s %-30s %-28s\n", "Message", "Elapsed", "Throughput", "Messages");
		printf("%-8s %-7s %-30s %-28s%s\n", "Size", "Time", "10^6bits/sec", "per sec",
		       o->verify ? "  Verify" : "");
		printf("%-8s %-7s %-30s %-28s\n", "bytes", "secs.", "median [min-max]",
		       "median [min-max]");
	}
	for (i = 0; i < nres; i++) {
		const struct size_result *r = &res[i];
		struct figures f;
		char a[64];

		if (!r->n)
			continue;
		figures_of(r, &f);
		verify_text(&f, v, sizeof(v));
		if (t->rr) {
			snprintf(a, sizeof(a), "%.0f [%.0f-%.0f]", f.tps.median, f.tps.min,
				 f.tps.max);
			printf("%-8u %-8u %-7.2f %-26s %-10.3f %-8.3f %-8.3f %-8.3f%s%s\n", r->size,
			       r->resp, f.elapsed.median, a, hist_mean(&f.lat) / 1e3,
			       (double)hist_quantile(&f.lat, 0.5) / 1e3,
			       (double)hist_quantile(&f.lat, 0.99) / 1e3,
			       (double)hist_quantile(&f.lat, 0.999) / 1e3, o->verify ? "  " : "",
			       o->verify ? v : "");
		} else {
			char b[64];

			snprintf(a, sizeof(a), "%.2f [%.2f-%.2f]", f.bps.median / 1e6,
				 f.bps.min / 1e6, f.bps.max / 1e6);
			snprintf(b, sizeof(b), "%.0f [%.0f-%.0f]", f.pps.median, f.pps.min,
				 f.pps.max);
			printf("%-8u %-7.2f %-30s %-28s%s%s\n", r->size, f.elapsed.median, a, b,
			       o->verify ? "  " : "", o->verify ? v : "");
			if (f.sent > f.messages && !t->stream_bytes)
				printf("%-8s %llu of %llu messages lost\n", "",
				       (unsigned long long)(f.sent - f.messages),
				       (unsigned long long)f.sent);
		}
	}
}

static void json_summary(const char *key, const struct summary *s)
{
	printf("\"%s\":{\"median\":%.6g,\"min\":%.6g,\"max\":%.6g}", key, s->median, s->min,
	       s->max);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

void report_json(const struct perf_opts *o, const struct size_result *res, int nres)
{
	const struct perf_test *t = o->test;
	int i, first = 1;

	printf("{\"test\":\"%s\",\"type\":\"%s\",", t->name, t->rr ? "rr" : "stream");
	if (t->remote) {
		printf("\"host\":");
		json_string(o->host);
		printf(",\"port\":");
		json_string(o->port);
		printf(",");
	}
	if (o->segment) {
		printf("\"segment\":");
		json_string(o->segment);
		printf(",\"wait\":\"%s\",\"zerocopy\":%s,", wait_name(o->wait),
		       o->zerocopy ? "true" : "false");
	}
	printf("\"local_cpu\":%d,\"remote_cpu\":%d,\"seconds\":%g,\"reps\":%d,\"verify\":%s,"
	       "\"results\":[",
	       o->lcpu, o->rcpu, o->seconds, o->reps, o->verify ? "true" : "false");
	for (i = 0; i < nres; i++) {
		const struct size_result *r = &res[i];
		struct figures f;

		if (!r->n)
			continue;
		figures_of(r, &f);
		printf("%s{\"size\":%u,", first ? "" : ",", r->size);
		first = 0;
		if (t->rr)
			printf("\"response_size\":%u,", r->resp);
		printf("\"runs\":%d,", r->n);
		json_summary("elapsed_s", &f.elapsed);
		printf(",");
		json_summary("bits_per_sec", &f.bps);
		printf(",");
		json_summary("packets_per_sec", &f.pps);
		if (t->rr) {
			printf(",");
			json_summary("transactions_per_sec", &f.tps);
			printf(",\"latency_ns\":{\"samples\":%llu,\"mean\":%.1f,\"min\":%llu,"
			       "\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p99.9\":%llu,\"max\":%"
			       "llu}",
			       (unsigned long long)f.lat.count, hist_mean(&f.lat),
			       (unsigned long long)(f.lat.count ? f.lat.min : 0),
			       (unsigned long long)hist_quantile(&f.lat, 0.5),
			       (unsigned long long)hist_quantile(&f.lat, 0.9),
			       (unsigned long long)hist_quantile(&f.lat, 0.99),
			       (unsigned long long)hist_quantile(&f.lat, 0.999),
			       (unsigned long long)f.lat.max);
		}
		printf(",\"messages\":%llu,\"sent\":%llu", (unsigned long long)f.messages,
		       (unsigned long long)f.sent);
		printf(",\"verify\":{\"checked_bytes\":%llu,\"errors\":%llu}}",
		       (unsigned long long)f.checked, (unsigned long long)f.errors);
	}
	printf("]}\n");
}

// SPDX-License-Identifier: MIT
/*
 * ivnet-perf - a netperf-style benchmark for ivnet and the paths it is
 * compared with. The test names and options are netperf's where netperf
 * has them:
 *
 *   ivnet-perf -s [-p PORT] [-L ADDR] [-1]                      the server
 *   ivnet-perf [-H HOST] [-p PORT] -t TEST [-l SECS] [-i REPS] [-T LCPU,RCPU]
 *              [-j] [-P 0|1] [-4|-6] [--verify] [--segment SOCKET]
 *              [--wait busy|block|adaptive[:US]] [--zerocopy]
 *              [-- [-m SIZES] [-r REQ[,RESP]] [-s BUF] [-S BUF]]
 *
 * TESTs: TCP_STREAM TCP_RR UDP_STREAM UDP_RR (sockets, any interface),
 * SHM_STREAM SHM_RR (libivnet through an ivnetd segment), UNIX_STREAM
 * UNIX_RR (an AF_UNIX socketpair, no server), LIMIT_PINGPONG LIMIT_RR
 * LIMIT_COPY (the machine's limits, no server; see limits.c). SIZES: a list (64,1500,64K) or a
 * doubling range (64..64K). Each size runs REPS times; the report gives
 * medians with min and max, and latency percentiles for RR tests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "pattern.h"
#include "perf.h"

#define UDP_MAX 65507u
#define SHM_MIN 22u /* Ethernet header and a sequence number */

const struct perf_test perf_tests[] = {
	{"TCP_STREAM", 0, 1, 1, 1, PERF_MAX_MSG, tcp_stream_client, tcp_stream_server},
	{"TCP_RR", 1, 1, 0, 1, PERF_MAX_MSG, tcp_rr_client, tcp_rr_server},
	{"UDP_STREAM", 0, 1, 0, 1, UDP_MAX, udp_stream_client, udp_stream_server},
	{"UDP_RR", 1, 1, 0, 1, UDP_MAX, udp_rr_client, udp_rr_server},
	{"SHM_STREAM", 0, 1, 0, SHM_MIN, PERF_MAX_MSG, shm_stream_client, shm_stream_server},
	{"SHM_RR", 1, 1, 0, SHM_MIN, PERF_MAX_MSG, shm_rr_client, shm_rr_server},
	{"UNIX_STREAM", 0, 0, 1, 1, PERF_MAX_MSG, unix_stream_client, NULL},
	{"UNIX_RR", 1, 0, 0, 1, PERF_MAX_MSG, unix_rr_client, NULL},
	{"LIMIT_PINGPONG", 1, 0, 0, 1, PERF_MAX_MSG, limit_pingpong_client, NULL},
	{"LIMIT_RR", 1, 0, 0, 1, PERF_MAX_MSG, limit_rr_client, NULL},
	{"LIMIT_COPY", 0, 0, 1, 1, PERF_MAX_MSG, limit_copy_client, NULL},
	{NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

const struct perf_test *perf_test_find(const char *name)
{
	const struct perf_test *t;

	for (t = perf_tests; t->name; t++)
		if (!strcasecmp(t->name, name))
			return t;
	return NULL;
}

double perf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t perf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int perf_pin(int cpu, char *err)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == 0)
		return 0;
	snprintf(err, PERF_ERRLEN, "cannot pin to cpu %d", cpu);
	return -1;
}

static void usage(FILE *f)
{
	const struct perf_test *t;

	fprintf(f,
		"usage: ivnet-perf -s [-p PORT] [-L ADDR] [-1] [-4|-6]\n"
		"       ivnet-perf [-H HOST] [-p PORT] -t TEST [-l SECS] [-i REPS] [-T LCPU,RCPU]\n"
		"                  [-j] [-P 0|1] [-4|-6] [--verify] [--segment SOCKET]\n"
		"                  [--wait busy|block|adaptive[:US]] [--zerocopy]\n"
		"                  [-- [-m SIZES] [-r REQ[,RESP]] [-s BUF] [-S BUF]]\n"
		"  SIZES: 64,1500,64K or 64..64K (doubling)\n  TESTs:");
	for (t = perf_tests; t->name; t++)
		fprintf(f, " %s", t->name);
	fprintf(f, "\n");
}

static _Noreturn void bad(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));

static _Noreturn void bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "ivnet-perf: ");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	fprintf(stderr, fmt, arg);
#pragma GCC diagnostic pop
	fprintf(stderr, "\n");
	exit(2);
}

static void parse_sizes(struct perf_opts *o, const char *arg)
{
	char err[PERF_ERRLEN];

	if (perf_parse_sizes(arg, o->sizes, PERF_MAX_SIZES, &o->nsizes, err, sizeof(err)))
		bad("%s", err);
}

static void parse_pair(const char *arg, int *a, int *b)
{
	if (perf_parse_cpus(arg, a, b))
		bad("bad cpu pair '%s' (-T LCPU,RCPU)", arg);
}

static void parse_wait(struct perf_opts *o, const char *arg)
{
	const char *colon = strchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : strlen(arg);

	if (n == 4 && !strncmp(arg, "busy", 4))
		o->wait = IVNET_WAIT_BUSY;
	else if (n == 5 && !strncmp(arg, "block", 5))
		o->wait = IVNET_WAIT_BLOCK;
	else if (n == 8 && !strncmp(arg, "adaptive", 8))
		o->wait = IVNET_WAIT_ADAPTIVE;
	else
		bad("bad wait mode '%s' (busy, block, adaptive[:US])", arg);
	if (colon) {
		char *end;
		long us = strtol(colon + 1, &end, 10);

		if (*end || end == colon + 1 || us < 0 || us > 10000000)
			bad("bad spin time in '%s'", arg);
		o->spin_us = (unsigned int)us;
	}
}

static int parse_buf(const char *arg)
{
	uint32_t v;

	if (perf_parse_size(arg, &v) && strcmp(arg, "0"))
		bad("bad socket buffer size '%s'", arg);
	return strcmp(arg, "0") ? (int)v : 0;
}

/* The test-specific options, after "--", as netperf has them. */
static void parse_test_opts(struct perf_opts *o, int argc, char **argv)
{
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "m:r:s:S:")) != -1) {
		switch (c) {
		case 'm':
			parse_sizes(o, optarg);
			break;
		case 'r': {
			char *comma = strchr(optarg, ',');
			uint32_t resp;

			if (comma)
				*comma = 0;
			parse_sizes(o, optarg);
			if (comma) {
				if (perf_parse_size(comma + 1, &resp))
					bad("bad response size '%s'", comma + 1);
				o->resp = resp;
			}
			break;
		}
		case 's':
			o->sndbuf = o->rcvbuf = parse_buf(optarg);
			break;
		case 'S':
			o->rsndbuf = o->rrcvbuf = parse_buf(optarg);
			break;
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		bad("unexpected argument '%s'", argv[optind]);
}

static void default_sizes(struct perf_opts *o)
{
	const char *n = o->test->name;

	o->nsizes = 1;
	if (!strncmp(n, "SHM_", 4))
		o->sizes[0] = o->test->rr ? 64 : 1514;
	else
		o->sizes[0] = o->test->rr ? 1 : 16384;
}

/* Every size within the test's range; --verify needs room for a sequence
 * number where messages have boundaries. */
static void check_sizes(const struct perf_opts *o)
{
	const struct perf_test *t = o->test;
	uint32_t lo = t->min_size;
	char buf[96];
	int i;

	/* these move no payload of their own */
	if (o->verify && (!strcmp(t->name, "LIMIT_PINGPONG") || !strcmp(t->name, "LIMIT_COPY")))
		bad("%s has no payload to check: --verify is for the other tests", t->name);
	/* datagrams are matched by the sequence number they carry */
	if (o->verify && !strncmp(t->name, "UDP_", 4))
		lo = lo > PATTERN_SEQ_LEN ? lo : PATTERN_SEQ_LEN;
	for (i = 0; i <= o->nsizes; i++) {
		uint32_t v = i < o->nsizes ? o->sizes[i] : o->resp;

		if (i == o->nsizes && (!t->rr || !v))
			break;
		if (v < lo || v > t->max_size) {
			snprintf(buf, sizeof(buf), "%s takes sizes %u..%u%s", t->name, lo,
				 t->max_size,
				 o->verify && lo != t->min_size ? " with --verify" : "");
			bad("%s", buf);
		}
	}
}

enum { OPT_VERIFY = 256, OPT_SEGMENT, OPT_WAIT, OPT_ZEROCOPY, OPT_LIST };

static void parse_opts(struct perf_opts *o, int argc, char **argv, int *server, int *once,
		       const char **listen_addr)
{
	static const struct option longs[] = {
		{"verify", no_argument, NULL, OPT_VERIFY},
		{"segment", required_argument, NULL, OPT_SEGMENT},
		{"wait", required_argument, NULL, OPT_WAIT},
		{"zerocopy", no_argument, NULL, OPT_ZEROCOPY},
		{"list", no_argument, NULL, OPT_LIST},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *test = NULL;
	char *end;
	int c, i;

	while ((c = getopt_long(argc, argv, "+sH:p:L:t:l:i:T:jP:461h", longs, NULL)) != -1) {
		switch (c) {
		case 's':
			*server = 1;
			break;
		case '1':
			*once = 1;
			break;
		case 'L':
			*listen_addr = optarg;
			break;
		case 'H':
			o->host = optarg;
			break;
		case 'p':
			o->port = optarg;
			break;
		case 't':
			test = optarg;
			break;
		case 'l':
			o->seconds = strtod(optarg, &end);
			if (*end || !(o->seconds > 0 && o->seconds <= 86400))
				bad("bad test length '%s' (seconds)", optarg);
			break;
		case 'i':
			/* netperf's -i max,min: we run max */
			{
				long reps = strtol(optarg, &end, 10);

				if (end == optarg || (*end && *end != ',') || reps < 1 ||
				    reps > PERF_MAX_REPS)
					bad("bad repetitions '%s' (1..100)", optarg);
				o->reps = (int)reps;
			}
			break;
		case 'T':
			parse_pair(optarg, &o->lcpu, &o->rcpu);
			break;
		case 'j':
			o->json = 1;
			break;
		case 'P':
			if (strcmp(optarg, "0") && strcmp(optarg, "1"))
				bad("bad banner switch '%s' (-P 0 or -P 1)", optarg);
			o->banner = optarg[0] == '1';
			break;
		case '4':
			o->family = AF_INET;
			break;
		case '6':
			o->family = AF_INET6;
			break;
		case OPT_VERIFY:
			o->verify = 1;
			break;
		case OPT_SEGMENT:
			if (strlen(optarg) >= sizeof(((struct perf_req *)0)->segment) ||
			    strchr(optarg, ' '))
				bad("bad segment socket path '%s'", optarg);
			o->segment = optarg;
			break;
		case OPT_WAIT:
			parse_wait(o, optarg);
			break;
		case OPT_ZEROCOPY:
			o->zerocopy = 1;
			break;
		case OPT_LIST:
			for (i = 0; perf_tests[i].name; i++)
				printf("%s\n", perf_tests[i].name);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (*server) {
		if (optind < argc)
			bad("unexpected argument '%s'", argv[optind]);
		return;
	}
	if (!test)
		bad("%s", "which test? (-t TEST; --list names them)");
	o->test = perf_test_find(test);
	if (!o->test)
		bad("unknown test '%s' (--list names them)", test);
	default_sizes(o);
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0)
			bad("unexpected argument '%s'", argv[optind]);
		parse_test_opts(o, argc - optind + 1, argv + optind - 1);
	}
	if (!strncmp(o->test->name, "SHM_", 4) && !o->segment)
		bad("%s needs --segment SOCKET (an ivnetd segment)", o->test->name);
	check_sizes(o);
}

/* A number of at most max, all digits; -1 otherwise. */
static long ok_number(const char *v, unsigned long max)
{
	char *end;
	unsigned long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	return errno || *end || n > max ? -1 : (long)n;
}

/*
 * The server's OK line: "OK port=P" (sockets) or "OK id=N mac=M ..." (SHM).
 * Fills s; 0 if it is well formed, else -1 (nothing it says is trusted).
 */
static int ok_line(const char *line, struct perf_session *s)
{
	char v[32], tail;
	unsigned int m[6];
	long n;
	int i;

	if (strncmp(line, "OK", 2) || (line[2] && line[2] != ' '))
		return -1;
	if (kv_get(line, "port", v, sizeof(v))) {
		if ((n = ok_number(v, 65535)) <= 0)
			return -1;
		s->port = (int)n;
	}
	if (kv_get(line, "id", v, sizeof(v))) {
		if ((n = ok_number(v, IVNET_PEERS_MAX - 1)) < 0)
			return -1;
		s->shm_id = (uint32_t)n;
	}
	if (kv_get(line, "mac", v, sizeof(v))) {
		if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
			   &tail) != 6)
			return -1;
		for (i = 0; i < 6; i++)
			s->shm_mac[i] = (uint8_t)m[i];
		return 0;
	}
	return s->port ? 0 : -1;
}

/* One run of one size: a control session for remote tests. */
static int run_one(const struct perf_opts *o, uint32_t size, struct run_result *r)
{
	struct perf_session s = {.o = o, .ctl = -1, .data = -1};
	char line[512];
	int ret;

	hist_init(&r->lat);
	snprintf(s.req.test, sizeof(s.req.test), "%s", o->test->name);
	s.req.size = size;
	s.req.resp = o->test->rr ? (o->resp ? o->resp : size) : 0;
	s.req.seconds = o->seconds;
	s.req.verify = o->verify;
	s.req.zerocopy = o->zerocopy;
	s.req.cpu = o->rcpu;
	s.req.sndbuf = o->rsndbuf;
	s.req.rcvbuf = o->rrcvbuf;
	s.req.wait = o->wait;
	s.req.spin_us = o->spin_us;
	snprintf(s.req.segment, sizeof(s.req.segment), "%s", o->segment ? o->segment : "");
	if (!o->test->remote) {
		ret = o->test->client(&s, r);
		goto out;
	}
	if (ctl_connect(&s) || req_format(&s.req, line, sizeof(line)) ||
	    ctl_send(s.ctl, "%s", line)) {
		if (!s.err[0])
			snprintf(s.err, PERF_ERRLEN, "control connection failed");
		ret = -1;
		goto out;
	}
	if (ctl_recv(s.ctl, line, sizeof(line), 15000)) {
		snprintf(s.err, PERF_ERRLEN, "the server at %s did not answer", s.host);
		ret = -1;
		goto out;
	}
	if (!strncmp(line, "ERR ", 4)) {
		snprintf(s.err, PERF_ERRLEN, "server: %.200s", line + 4);
		ret = -1;
		goto out;
	}
	if (ok_line(line, &s)) {
		snprintf(s.err, PERF_ERRLEN, "unexpected answer from the server: %.80s", line);
		ret = -1;
		goto out;
	}
	ret = o->test->client(&s, r);
out:
	if (s.ctl >= 0)
		close(s.ctl);
	if (ret)
		fprintf(stderr, "ivnet-perf: %s size %u: %s\n", o->test->name, size, s.err);
	return ret;
}

int main(int argc, char **argv)
{
	struct perf_opts o = {
		.host = "localhost",
		.port = PERF_DEFAULT_PORT,
		.family = AF_UNSPEC,
		.seconds = 10,
		.reps = 1,
		.lcpu = -1,
		.rcpu = -1,
		.banner = 1,
		.wait = IVNET_WAIT_BUSY,
		.spin_us = 50,
	};
	const char *listen_addr = NULL;
	struct size_result *res;
	char err[PERF_ERRLEN];
	int server = 0, once = 0, i, k, failed = 0;

	parse_opts(&o, argc, argv, &server, &once, &listen_addr);
	if (server)
		return perf_serve(listen_addr, o.port, o.family, once);
	if (o.lcpu >= 0 && perf_pin(o.lcpu, err)) {
		fprintf(stderr, "ivnet-perf: %s\n", err);
		return 1;
	}
	res = calloc((size_t)o.nsizes, sizeof(*res));
	for (i = 0; res && i < o.nsizes; i++) {
		res[i].size = o.sizes[i];
		res[i].resp = o.test->rr ? (o.resp ? o.resp : o.sizes[i]) : 0;
		res[i].run = calloc((size_t)o.reps, sizeof(*res[i].run));
		if (!res[i].run)
			break;
		for (k = 0; k < o.reps; k++) {
			if (run_one(&o, o.sizes[i], &res[i].run[k])) {
				failed = 1;
				break;
			}
			res[i].n++;
			if (res[i].run[k].errors)
				failed = 1;
		}
		if (failed)
			break;
	}
	if (!res || (i < o.nsizes && !failed)) {
		fprintf(stderr, "ivnet-perf: out of memory\n");
		return 1;
	}
	if (o.json)
		report_json(&o, res, o.nsizes);
	else
		report_text(&o, res, o.nsizes);
	for (i = 0; i < o.nsizes; i++)
		free(res[i].run);
	free(res);
	return failed;
}

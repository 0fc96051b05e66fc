// SPDX-License-Identifier: MIT
/*
 * options.c - ivnet-vswitch's own options, after DPDK's EAL options and
 * "--". Lcores are EAL's (-l, --lcores): the first is the control thread,
 * every other one a forwarding worker.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_err.h"
#include "vswitch.h"

#define DEFAULT_CONTROL "/run/ivnet-vswitch.ctl"

static const char usage_text[] =
	"usage: ivnet-vswitch [EAL options] -- [options]\n"
	"  -c, --control PATH   control socket (default " DEFAULT_CONTROL ")\n"
	"  -p, --port SPEC      a port at start, as `port add` takes it (repeatable):\n"
	"                         'NAME vhost path=SOCKET [client=0|1]'\n"
	"                         'NAME dpdk dev=PCI-ADDRESS|VDEV[,ARGS]'\n"
	"                         'NAME ivnet socket=SOCKET [ctl=PATH|none]'\n"
	"      --aging S        forget a MAC silent for S seconds (default 300; 0: never)\n"
	"      --fdb-size N     MAC table entries (default 4096)\n"
	"      --mbufs N        packet buffers (default 8191)\n"
	"      --idle-us U      once idle, workers sleep U us per loop (default 50; 0: poll)\n"
	"  -v, --verbose        log every control request\n"
	"  -h, --help\n"
	"EAL: at least two lcores (-l 0,1 or --lcores 0@0,1@1): the first runs the\n"
	"control socket, the others forward. Memory: hugepages, or --no-huge -m MB\n"
	"(memfd, shareable with vhost-user) with --single-file-segments.\n";

void vsw_usage(void)
{
	fputs(usage_text, stdout);
}

static int number(const char *opt, const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (!*v || *end || v[0] == '-' || n < lo || n > hi) {
		fprintf(stderr, "ivnet-vswitch: %s: expected a number in %u..%u, got '%s'\n", opt,
			lo, hi, v);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

int vsw_parse_args(struct vsw_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"control", required_argument, NULL, 'c'},
		{"port", required_argument, NULL, 'p'},
		{"aging", required_argument, NULL, 'A'},
		{"fdb-size", required_argument, NULL, 'F'},
		{"mbufs", required_argument, NULL, 'M'},
		{"idle-us", required_argument, NULL, 'I'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char err[HOST_ERRLEN];
	int c;

	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->control_path, DEFAULT_CONTROL);
	cfg->aging_s = VSW_AGING_DEFAULT;
	cfg->fdb_entries = VSW_FDB_DEFAULT;
	cfg->mbufs = VSW_MBUFS_DEFAULT;
	cfg->idle_us = 50;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:p:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (strlen(optarg) >= sizeof(cfg->control_path)) {
				fprintf(stderr, "ivnet-vswitch: control path too long\n");
				return -1;
			}
			strcpy(cfg->control_path, optarg);
			break;
		case 'p':
			if (cfg->n_initial == VSW_PORTS_MAX) {
				fprintf(stderr, "ivnet-vswitch: at most %d ports\n", VSW_PORTS_MAX);
				return -1;
			}
			if (vsw_spec_parse(optarg, &cfg->initial[cfg->n_initial], err,
					   sizeof(err))) {
				fprintf(stderr, "ivnet-vswitch: --port '%s': %s\n", optarg, err);
				return -1;
			}
			cfg->n_initial++;
			break;
		case 'A':
			if (number("--aging", optarg, 0, 86400 * 365, &cfg->aging_s))
				return -1;
			break;
		case 'F':
			if (number("--fdb-size", optarg, 16, 1u << 24, &cfg->fdb_entries))
				return -1;
			break;
		case 'M':
			if (number("--mbufs", optarg, 1023, 1u << 24, &cfg->mbufs))
				return -1;
			break;
		case 'I':
			if (number("--idle-us", optarg, 0, 100000, &cfg->idle_us))
				return -1;
			break;
		case 'v':
			cfg->verbose = 1;
			break;
		case 'h':
			vsw_usage();
			return 1;
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ivnet-vswitch: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * ivnet-libvirt - put libvirt domains on ivnet segments (see ivlv.h).
 *
 *   ivnet-libvirt [OPTIONS] attach DOMAIN --segment NAME [--socket PATH
 *                 [--admin PATH]] [--vectors N] [--size SIZE] [--config] [--live]
 *                 [--pin CPULIST|broker] [--private-with OTHER]
 *   ivnet-libvirt [OPTIONS] detach DOMAIN --segment NAME [--config] [--live]
 *   ivnet-libvirt [OPTIONS] [-j] list
 *   ivnet-libvirt [OPTIONS] hook -- DOMAIN OP SUBOP EXTRA     (libvirt's hook)
 *   ivnet-libvirt [OPTIONS] [--force] -b FILE                 (batch)
 *
 * OPTIONS: -c/--connect URI (libvirt; default: libvirt's own default),
 * --control PATH (ivnetd's control socket; default $IVNET_CTL, else
 * /run/ivnet/ivnet.sock.ctl if it exists, else /tmp/ivshmem_socket.ctl).
 * Options may come anywhere on the line, as with virsh.
 *
 * Batch (-b FILE, "-" for stdin), as iproute2's -batch: one command per
 * line, over one libvirt connection; stops at the first failure unless
 * --force. Exit status: 0, 1 on an error (one line on stderr), 2 on a usage
 * error.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ivlv.h"
#include "size.h" /* the sizes ivnetd -l takes */

#define LINE_ARGS_MAX 64

enum {
	O_SEGMENT = 1 << 0,
	O_SOCKET = 1 << 1,
	O_VECTORS = 1 << 2,
	O_SIZE = 1 << 3,
	O_LIVE = 1 << 4,
	O_CONFIG = 1 << 5,
	O_PIN = 1 << 6,
	O_JSON = 1 << 7,
	O_BATCH = 1 << 8,
	O_FORCE = 1 << 9,
	O_PRIVATE = 1 << 10,
	O_ADMIN = 1 << 11,
};

/* a table, two a line */
/* clang-format off */
static const struct option long_opts[] = {
	{"connect", required_argument, NULL, 'c'}, {"control", required_argument, NULL, 'C'},
	{"json", no_argument, NULL, 'j'},	   {"batch", required_argument, NULL, 'b'},
	{"force", no_argument, NULL, 'f'},	   {"help", no_argument, NULL, 'h'},
	{"segment", required_argument, NULL, 's'}, {"socket", required_argument, NULL, 'S'},
	{"vectors", required_argument, NULL, 'n'}, {"size", required_argument, NULL, 'l'},
	{"live", no_argument, NULL, 'L'},	   {"config", no_argument, NULL, 'G'},
	{"pin", required_argument, NULL, 'p'},	   {"private-with", required_argument, NULL, 'P'},
	{"admin", required_argument, NULL, 'A'},   {NULL, 0, NULL, 0},
};
/* clang-format on */

static const struct {
	const char *name;
	unsigned allowed;
	int nargs; /* arguments after the verb; -1: two or more (hook) */
} verbs[] = {
	{"attach",
	 O_SEGMENT | O_SOCKET | O_ADMIN | O_VECTORS | O_SIZE | O_LIVE | O_CONFIG | O_PIN |
		 O_PRIVATE,
	 1},
	{"detach", O_SEGMENT | O_LIVE | O_CONFIG, 1},
	{"list", O_JSON, 0},
	{"hook", 0, -1},
};

struct cmdline {
	struct ivlv_opts o;
	unsigned given;
	const char *verb;
	const char *batch;
	int force;
	char usage[256];
	int bad_value; /* a value is wrong (exit 1), not the command's shape (2) */
};

static void usage(void)
{
	fputs("usage: ivnet-libvirt [-c URI] [--control PATH] COMMAND ...\n"
	      "  attach DOMAIN --segment NAME [--socket PATH [--admin PATH]] [--vectors N]\n"
	      "                [--size SIZE]\n"
	      "                [--config] [--live] [--pin CPULIST|broker] [--private-with OTHER]\n"
	      "  detach DOMAIN --segment NAME [--config] [--live]\n"
	      "  list [-j]\n"
	      "  hook -- DOMAIN OP SUBOP EXTRA   (libvirt's qemu hook; domain XML on stdin)\n"
	      "  [--force] -b FILE               (one command per line; - is stdin)\n"
	      "--config (the default) changes the definition, --live the running domain.\n"
	      "--private-with OTHER: OTHER too, on a two-peer segment no other domain is on.\n",
	      stdout);
}

static int bad(struct cmdline *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct cmdline *cl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cl->usage, sizeof(cl->usage), fmt, ap);
	va_end(ap);
	return -1;
}

#define bad_value(cl, ...) ((cl)->bad_value = 1, bad((cl), __VA_ARGS__))

/* ivnetd's segment names: they go into control requests verbatim. */
static int segment_name_ok(const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    s[i]))
			return 0;
	return n > 0 && n < IVLV_NAME_LEN;
}

static int parse_vectors(const char *s, unsigned *v)
{
	char *end;
	unsigned long k = strtoul(s, &end, 10);

	if (s[0] < '0' || s[0] > '9' || *end || k < 2 || k > 64)
		return -1;
	*v = (unsigned)k;
	return 0;
}

static int parse_option(struct cmdline *cl, int opt, const char *arg)
{
	struct ivlv_opts *o = &cl->o;

	switch (opt) {
	case 'c':
		o->uri = arg;
		return 0;
	case 'C':
		o->control = arg;
		return 0;
	case 'j':
		cl->given |= O_JSON;
		o->json = 1;
		return 0;
	case 'b':
		cl->given |= O_BATCH;
		cl->batch = arg;
		return 0;
	case 'f':
		cl->given |= O_FORCE;
		cl->force = 1;
		return 0;
	case 's':
		cl->given |= O_SEGMENT;
		o->segment = arg;
		return segment_name_ok(arg)
			       ? 0
			       : bad_value(cl, "bad segment name '%.64s' ([A-Za-z0-9._-]{1,%u})",
					   arg, IVLV_NAME_LEN - 1);
	case 'S':
		cl->given |= O_SOCKET;
		o->socket = arg;
		return arg[0] == '/' && strlen(arg) < IVLV_PATH_LEN
			       ? 0
			       : bad_value(cl,
					   "--socket needs an absolute path shorter than %d bytes",
					   IVLV_PATH_LEN);
	case 'A':
		cl->given |= O_ADMIN;
		o->admin = arg;
		return arg[0] == '/' && strlen(arg) < IVLV_PATH_LEN
			       ? 0
			       : bad_value(cl,
					   "--admin needs an absolute path shorter than %d bytes",
					   IVLV_PATH_LEN);
	case 'n':
		cl->given |= O_VECTORS;
		return parse_vectors(arg, &o->vectors)
			       ? bad_value(
					 cl,
					 "bad --vectors '%.32s' (2..64: 0 control, 1 receive, ...)",
					 arg)
			       : 0;
	case 'l':
		cl->given |= O_SIZE;
		if (host_parse_size(arg, &o->size) || !o->size)
			return bad_value(cl, "bad --size '%.32s' (like 64M)", arg);
		if (o->size & (o->size - 1))
			return bad_value(
				cl, "--size %.32s is not a power of two (an ivshmem BAR must be)",
				arg);
		return 0;
	case 'L':
		cl->given |= O_LIVE;
		o->live = 1;
		return 0;
	case 'G':
		cl->given |= O_CONFIG;
		o->config = 1;
		return 0;
	case 'p':
		cl->given |= O_PIN;
		o->pin = arg;
		return 0;
	case 'P':
		cl->given |= O_PRIVATE;
		o->private_with = arg;
		return 0;
	default:
		return bad(cl, "unknown option (try --help)");
	}
}

/* One command line (argv[0] is the program). 0, 1 for --help, or -1 with
 * cl->usage set. Options may come anywhere: getopt permutes them ahead of
 * the verb and its arguments ("--" ends them). */
static int parse(struct cmdline *cl, int argc, char **argv)
{
	int opt, i, nargs;
	size_t nverbs = sizeof(verbs) / sizeof(verbs[0]);

	opterr = 0;
	optind = 0; /* glibc: start afresh (a batch parses many lines) */
	while ((opt = getopt_long(argc, argv, "c:jb:fh", long_opts, NULL)) != -1) {
		if (opt == 'h')
			return 1;
		if (opt == '?' || opt == ':')
			return bad(cl, "bad option '%.64s' (try --help)", argv[optind - 1]);
		if (parse_option(cl, opt, optarg))
			return -1;
	}
	if (cl->batch)
		return optind < argc || (cl->given & ~(O_BATCH | O_FORCE))
			       ? bad(cl, "-b FILE takes no command nor command options")
			       : 0;
	if (optind == argc)
		return bad(cl, "no command (try --help)");
	cl->verb = argv[optind++];
	for (i = 0; i < (int)nverbs && strcmp(verbs[i].name, cl->verb); i++)
		;
	if (i == (int)nverbs)
		return bad(cl, "unknown command '%.32s' (try --help)", cl->verb);
	if (cl->given & ~verbs[i].allowed)
		return bad(cl, "%s: an option it does not take (try --help)", cl->verb);
	nargs = argc - optind;
	if (verbs[i].nargs == -1 ? nargs < 2 : nargs != verbs[i].nargs)
		return bad(cl, "%s: wrong number of arguments (try --help)", cl->verb);
	cl->o.args = argv + optind;
	cl->o.nargs = nargs;
	cl->o.domain = nargs ? argv[optind] : NULL;
	if (verbs[i].nargs == 1 && !cl->o.segment)
		return bad(cl, "%s needs --segment NAME", cl->verb);
	if ((cl->given & O_ADMIN) && !(cl->given & O_SOCKET))
		return bad(cl, "--admin goes with --socket (the broker names its admin socket)");
	if ((cl->given & O_PRIVATE) && (cl->given & O_SOCKET))
		return bad(cl, "--private-with takes the segment's peer limit from the broker: "
			       "not with --socket");
	return 0;
}

static int run(struct ivlv *c, const struct cmdline *cl)
{
	if (!strcmp(cl->verb, "attach"))
		return ivlv_attach(c, &cl->o);
	if (!strcmp(cl->verb, "detach"))
		return ivlv_detach(c, &cl->o);
	if (!strcmp(cl->verb, "list"))
		return ivlv_list(c, &cl->o);
	return ivlv_hook(&cl->o, stdin, stderr);
}

/* Splits a line into words: blanks separate, '...' and "..." quote, '#'
 * starts a comment. Returns the count, or -1. */
static int split(char *line, char **argv, int max)
{
	int n = 0;
	char *p = line, *w;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == max)
			return -1;
		w = p;
		argv[n++] = w;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			if (*p == '\'' || *p == '"') {
				char q = *p++;

				while (*p && *p != q)
					*w++ = *p++;
				if (*p++ != q)
					return -1;
			} else {
				*w++ = *p++;
			}
		}
		if (*p)
			p++;
		*w = '\0';
	}
}

static int batch(struct ivlv *c, const struct cmdline *outer)
{
	FILE *f = strcmp(outer->batch, "-") ? fopen(outer->batch, "r") : stdin;
	char *line = NULL, *argv[LINE_ARGS_MAX + 1];
	size_t cap = 0;
	int lineno = 0, failed = 0, argc;

	if (!f) {
		fprintf(stderr, "ivnet-libvirt: %s: %m\n", outer->batch);
		return 1;
	}
	while (getline(&line, &cap, f) > 0) {
		struct cmdline cl = {.o = outer->o};
		int r;

		lineno++;
		argv[0] = "ivnet-libvirt";
		argc = split(line, argv + 1, LINE_ARGS_MAX - 1);
		if (argc == 0)
			continue;
		r = argc < 0 ? bad(&cl, "unbalanced quotes or too many words")
			     : parse(&cl, argc + 1, argv);
		if (r == 0 && cl.batch)
			r = bad(&cl, "no batch within a batch");
		if (r) {
			fprintf(stderr, "ivnet-libvirt: %s:%d: %s\n", outer->batch, lineno,
				r > 0 ? "no --help in a batch" : cl.usage);
			failed = 1;
		} else if (run(c, &cl)) {
			fprintf(stderr, "ivnet-libvirt: %s:%d: %s\n", outer->batch, lineno, c->err);
			failed = 1;
		}
		fflush(c->out);
		if (failed && !outer->force)
			break;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return failed;
}

/* libvirt prints every error to stderr unless told otherwise: ours are one
 * line each, with libvirt's message in it. */
static void quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

int main(int argc, char **argv)
{
	struct cmdline cl = {0};
	struct ivlv c = {.out = stdout};
	int r;

	cl.o.control = ivlv_control_default();
	r = parse(&cl, argc, argv);
	if (r) {
		if (r > 0) {
			usage();
			return 0;
		}
		fprintf(stderr, "ivnet-libvirt: %s\n", cl.usage);
		return cl.bad_value ? 1 : 2;
	}
	if (virInitialize() < 0) {
		fprintf(stderr, "ivnet-libvirt: cannot initialize libvirt\n");
		return 1;
	}
	virSetErrorFunc(NULL, quiet);
	if (cl.batch)
		r = batch(&c, &cl);
	else if (run(&c, &cl)) {
		fprintf(stderr, "ivnet-libvirt: %s\n", c.err);
		r = 1;
	}
	ivlv_disconnect(&c);
	xmlCleanupParser();
	return r;
}

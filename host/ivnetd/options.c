// SPDX-License-Identifier: MIT
/*
 * options.c - ivnetd's command line: QEMU ivshmem-server's flags for the
 * first segment (-S -m -M -l -n -F -p -v), long options for the rest, and
 * --segment KEY=VALUE,... for every further segment. Long options and
 * segment keys share one vocabulary (apply_key).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ivnetd.h"
#include "host_err.h"
#include "size.h"

#define DEFAULT_SOCKET "/tmp/ivshmem_socket"
#define DEFAULT_SHM "ivshmem"
#define DEFAULT_SIZE (64ULL << 20)
#define DEFAULT_VECTORS 2
#define DEFAULT_PID_FILE "/run/ivnetd.pid"
#define DEFAULT_DAEMON_LOG "/var/log/ivnetd.log"

void ivnetd_segment_defaults(struct ivnetd_segment_config *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "ivnet");
	snprintf(s->socket_path, sizeof(s->socket_path), "%s", DEFAULT_SOCKET);
	/* Unlike ivshmem-server, a sealed memfd unless -M or -m says
	 * otherwise: no name to clash, and no peer can truncate it. */
	s->backing = IVNET_BACKING_MEMFD;
	snprintf(s->shm_path, sizeof(s->shm_path), "%s", DEFAULT_SHM);
	s->size = DEFAULT_SIZE;
	s->vectors = DEFAULT_VECTORS;
	s->numa_node = -1;
	s->socket_mode = -1;
	ivnetd_placement_defaults(&s->place);
}

void ivnetd_config_defaults(struct ivnetd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	ivnetd_segment_defaults(&cfg->seg[0]);
	cfg->nseg = 1;
	snprintf(cfg->pid_file, sizeof(cfg->pid_file), "%s", DEFAULT_PID_FILE);
}

static int parse_u32(const char *s, uint32_t *out, uint32_t max)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	/* peers need unicast addresses */
	return mac[0] & 1 ? -1 : 0;
}

/* "1000:1001:1002" (':' separates, since ',' separates segment keys) */
static int parse_ids(const char *s, uint32_t *out, int *n)
{
	char copy[256], *tok, *save = NULL;

	if (strlen(s) >= sizeof(copy))
		return -1;
	strcpy(copy, s);
	*n = 0;
	for (tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		if (*n >= IVNETD_ALLOW_MAX || parse_u32(tok, &out[*n], UINT32_MAX - 1))
			return -1;
		(*n)++;
	}
	return *n ? 0 : -1;
}

static int parse_group(const char *s, gid_t *gid)
{
	uint32_t v;
	struct group *g;

	if (parse_u32(s, &v, UINT32_MAX - 1) == 0) {
		*gid = v;
		return 0;
	}
	g = getgrnam(s);
	if (!g)
		return -1;
	*gid = g->gr_gid;
	return 0;
}

static int set_str(char *dst, size_t n, const char *v)
{
	if (!*v || strlen(v) >= n)
		return -1;
	strcpy(dst, v);
	return 0;
}

/* Where the region lives. Like every apply_*(): 0, -1 for a bad value, -2
 * for a key that is not its own. */
static int apply_backing(struct ivnetd_segment_config *s, const char *key, const char *v)
{
	if (!strcmp(key, "name"))
		return set_str(s->name, sizeof(s->name), v);
	if (!strcmp(key, "socket"))
		return set_str(s->socket_path, sizeof(s->socket_path), v);
	if (!strcmp(key, "admin"))
		return set_str(s->admin_path, sizeof(s->admin_path), v);
	if (!strcmp(key, "shm") || !strcmp(key, "dir")) {
		s->backing = key[0] == 's' ? IVNET_BACKING_SHM : IVNET_BACKING_FILE;
		return set_str(s->shm_path, sizeof(s->shm_path), v);
	}
	if (!strcmp(key, "memfd") || !strcmp(key, "hugepages")) {
		s->backing = IVNET_BACKING_MEMFD;
		s->hugepages = key[0] == 'h';
		return 0;
	}
	if (!strcmp(key, "unsealed")) {
		/* "unsealed" alone, or unsealed=1 / unsealed=0 */
		if (*v && strcmp(v, "0") && strcmp(v, "1"))
			return -1;
		s->unsealed = *v != '0';
		return 0;
	}
	return -2;
}

static int parse_u32_range(const char *v, uint32_t *out, uint32_t min, uint32_t max)
{
	return parse_u32(v, out, max) || *out < min ? -1 : 0;
}

/* The shape of the region: its size, rings, peers and node. */
static int apply_layout(struct ivnetd_segment_config *s, const char *key, const char *v)
{
	uint32_t u;

	if (!strcmp(key, "size"))
		return host_parse_size(v, &s->size);
	if (!strcmp(key, "vectors"))
		return parse_u32_range(v, &s->vectors, IVNET_VECTORS_MIN, IVNET_VECTORS_MAX);
	if (!strcmp(key, "peers"))
		return parse_u32_range(v, &s->max_peers, IVNET_PEERS_MIN, IVNET_PEERS_MAX);
	if (!strcmp(key, "slot-size"))
		return parse_u32(v, &s->slot_size, IVNET_SLOT_SIZE_MAX);
	if (!strcmp(key, "ring-slots"))
		return parse_u32(v, &s->max_slots, IVNET_SLOTS_MAX);
	if (!strcmp(key, "numa")) {
		if (parse_u32(v, &u, 4095))
			return -1;
		s->numa_node = (int)u;
		return 0;
	}
	if (!strcmp(key, "mac-base")) {
		s->mac_base_set = 1;
		return parse_mac(v, s->mac_base);
	}
	return -2;
}

/* Who may join, and the socket's mode and group. */
static int apply_access(struct ivnetd_segment_config *s, const char *key, const char *v)
{
	uint32_t ids[IVNETD_ALLOW_MAX];
	int i, n;

	if (!strcmp(key, "allow-uid")) {
		if (parse_ids(v, ids, &n))
			return -1;
		for (i = 0; i < n; i++)
			s->allow_uid[i] = ids[i];
		s->n_allow_uid = n;
		return 0;
	}
	if (!strcmp(key, "allow-gid")) {
		if (parse_ids(v, ids, &n))
			return -1;
		for (i = 0; i < n; i++)
			s->allow_gid[i] = ids[i];
		s->n_allow_gid = n;
		return 0;
	}
	if (!strcmp(key, "mode")) {
		char *end;
		long m = strtol(v, &end, 8);

		if (!*v || *end || m < 0 || m > 07777)
			return -1;
		s->socket_mode = (int)m;
		return 0;
	}
	if (!strcmp(key, "group")) {
		s->socket_group_set = 1;
		return parse_group(v, &s->socket_group);
	}
	return -2;
}

/* One segment setting; returns 0, or -1 if value is bad, -2 if key unknown. */
static int apply_key(struct ivnetd_segment_config *s, const char *key, const char *v)
{
	int ret = apply_backing(s, key, v);

	if (ret == -2)
		ret = apply_layout(s, key, v);
	if (ret == -2)
		ret = apply_access(s, key, v);
	return ret == -2 ? ivnetd_placement_key(&s->place, key, v, NULL) : ret;
}

static int key_takes_value(const char *key)
{
	return strcmp(key, "memfd") && strcmp(key, "hugepages") && strcmp(key, "unsealed");
}

static int apply_token(struct ivnetd_segment_config *s, char *tok, char *err, size_t n)
{
	char *eq = strchr(tok, '=');
	const char *v = eq ? eq + 1 : "";
	int ret;

	if (eq)
		*eq = '\0';
	if (!eq && key_takes_value(tok)) {
		snprintf(err, n, "'%s' needs a value (%s=...)", tok, tok);
		return -1;
	}
	ret = apply_key(s, tok, v);
	if (ret == -2) {
		snprintf(err, n, "unknown segment key '%s'", tok);
		return -1;
	}
	if (ret) {
		snprintf(err, n, "bad value for %s: '%s'", tok, v);
		return -1;
	}
	return 0;
}

int ivnetd_parse_segment(struct ivnetd_segment_config *s, const char *spec, char *err, size_t n)
{
	char copy[1024], *tok, *save = NULL, *cpus = NULL;

	if (strlen(spec) >= sizeof(copy)) {
		snprintf(err, n, "segment spec too long");
		return -1;
	}
	strcpy(copy, spec);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		/* A CPU list has commas of its own: "cpus=0-3,8-11,pin=cpuset"
		 * goes on after cpus= until the next key. strtok_r ended the
		 * token with a '\0' where the ',' was: put the ',' back. */
		if (cpus && isdigit((unsigned char)*tok)) {
			if (tok[-1] != '\0') { /* ",," */
				snprintf(err, n, "bad value for cpus");
				return -1;
			}
			tok[-1] = ',';
			continue;
		}
		if (cpus && apply_token(s, cpus, err, n))
			return -1;
		cpus = NULL;
		if (!strncmp(tok, "cpus=", 5)) {
			cpus = tok;
			continue;
		}
		if (apply_token(s, tok, err, n))
			return -1;
	}
	return cpus ? apply_token(s, cpus, err, n) : 0;
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s [OPTION]...\n"
		"ivnet broker: a drop-in QEMU ivshmem-server that lays out ivnet rings.\n"
		"\n"
		"ivshmem-server options (first segment):\n"
		"  -h             show this help\n"
		"  -v             verbose\n"
		"  -F             foreground (default: daemonize)\n"
		"  -p FILE        PID file in daemon mode (default " DEFAULT_PID_FILE ")\n"
		"  -S PATH        UNIX socket QEMU connects to (default " DEFAULT_SOCKET ")\n"
		"                 and, beside it, PATH" IVNET_ADMIN_SUFFIX " for the admin device\n"
		"  -M NAME        back the region with this POSIX shared-memory object\n"
		"                 (default: a sealed memfd, which no peer can truncate)\n"
		"  -m DIR         create the memory as a file in DIR (e.g. a hugetlbfs mount)\n"
		"                 -M and -m cannot be sealed: refused without --unsealed\n"
		"  -l SIZE        region size, K/M/G suffixes; rounded up to a power of two\n"
		"                 (default 64M)\n"
		"  -n N           vectors per peer, >= %u (default %u): 0 control, 1 rx\n"
		"\n"
		"ivnet options (first segment):\n"
		"  --name NAME          segment name (default ivnet)\n"
		"  --max-peers N        peers, %u..%u (default: as many as fit, up to %u)\n"
		"  --memfd              back the region with a sealed memfd (the default)\n"
		"  --hugepages          back it with a hugetlb memfd (sealed too)\n"
		"  --unsealed           allow -M or -m: every peer is trusted not to truncate\n"
		"                       the region (the broker restores a truncated one, but\n"
		"                       a QEMU whose region shrinks dies)\n"
		"  --numa-node N        bind the region's pages to NUMA node N\n"
		"  --mac-base MAC       peer MACs are MAC + id (default 02:<hash of name>:00:id)\n"
		"  --allow-uid U[:U..]  only these uids (or --allow-gid gids) may join\n"
		"  --allow-gid G[:G..]\n"
		"  --socket-mode OCTAL  permissions of the socket (e.g. 0660)\n"
		"  --socket-group GRP   group of the socket\n"
		"  --slot-size BYTES    ring slot size (default %u)\n"
		"  --ring-slots N       cap on slots per ring (default %u)\n"
		"placement (first segment; README \"Placement\"):\n"
		"  --placement POLICY   none (default), pack (the peers' vCPU threads share one\n"
		"                       LLC domain), spread (a CPU of their own in it)\n"
		"  --placement-cpus L   the core set, a CPU list (default: all online)\n"
		"  --pin MECHANISM      affinity (default) or cpuset (a cgroup v2 per peer)\n"
		"  --sched S            fifo:PRIO, rr:PRIO, nice:N or other for vCPU threads\n"
		"  --mlock M            try (default when placed), require or off\n"
		"  --qmp PATTERN        QMP socket of each peer's QEMU (%%p pid, %%i peer id)\n"
		"  --cgroup PATH        parent of the per-peer cgroups (default\n"
		"                       " IVNETD_CGROUP_DEFAULT ")\n"
		"daemon options:\n"
		"  --segment KEY=VAL,.. another segment; keys: name socket admin shm dir\n"
		"                       memfd hugepages unsealed size vectors peers numa mac-base\n"
		"                       allow-uid allow-gid mode group slot-size ring-slots\n"
		"                       placement cpus pin sched mlock qmp cgroup\n"
		"  --control PATH       control socket (default: first socket + .ctl)\n"
		"  --log FILE           log file, reopened on SIGHUP (default: stderr with -F,\n"
		"                       else " DEFAULT_DAEMON_LOG ")\n",
		prog, IVNET_VECTORS_MIN, DEFAULT_VECTORS, IVNET_PEERS_MIN, IVNET_PEERS_MAX,
		IVNETD_DEFAULT_PEERS, IVNET_SLOT_SIZE_DEFAULT, IVNET_SLOTS_DEFAULT_CAP);
}

enum {
	OPT_NAME = 256,
	OPT_MAX_PEERS,
	OPT_MEMFD,
	OPT_HUGEPAGES,
	OPT_UNSEALED,
	OPT_NUMA,
	OPT_MAC_BASE,
	OPT_ALLOW_UID,
	OPT_ALLOW_GID,
	OPT_SOCKET_MODE,
	OPT_SOCKET_GROUP,
	OPT_SLOT_SIZE,
	OPT_RING_SLOTS,
	OPT_PLACEMENT,
	OPT_PLACEMENT_CPUS,
	OPT_PIN,
	OPT_SCHED,
	OPT_MLOCK,
	OPT_QMP,
	OPT_CGROUP,
	OPT_SEGMENT,
	OPT_CONTROL,
	OPT_LOG,
};

static const struct option long_opts[] = {
	{"help", no_argument, NULL, 'h'},
	{"name", required_argument, NULL, OPT_NAME},
	{"max-peers", required_argument, NULL, OPT_MAX_PEERS},
	{"memfd", no_argument, NULL, OPT_MEMFD},
	{"hugepages", no_argument, NULL, OPT_HUGEPAGES},
	{"unsealed", no_argument, NULL, OPT_UNSEALED},
	{"numa-node", required_argument, NULL, OPT_NUMA},
	{"mac-base", required_argument, NULL, OPT_MAC_BASE},
	{"allow-uid", required_argument, NULL, OPT_ALLOW_UID},
	{"allow-gid", required_argument, NULL, OPT_ALLOW_GID},
	{"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
	{"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
	{"slot-size", required_argument, NULL, OPT_SLOT_SIZE},
	{"ring-slots", required_argument, NULL, OPT_RING_SLOTS},
	{"placement", required_argument, NULL, OPT_PLACEMENT},
	{"placement-cpus", required_argument, NULL, OPT_PLACEMENT_CPUS},
	{"pin", required_argument, NULL, OPT_PIN},
	{"sched", required_argument, NULL, OPT_SCHED},
	{"mlock", required_argument, NULL, OPT_MLOCK},
	{"qmp", required_argument, NULL, OPT_QMP},
	{"cgroup", required_argument, NULL, OPT_CGROUP},
	{"segment", required_argument, NULL, OPT_SEGMENT},
	{"control", required_argument, NULL, OPT_CONTROL},
	{"log", required_argument, NULL, OPT_LOG},
	{NULL, 0, NULL, 0},
};

/* getopt value -> segment key, for the options that are segment settings */
static const char *segment_key(int c)
{
	switch (c) {
	case 'S':
		return "socket";
	case 'M':
		return "shm";
	case 'm':
		return "dir";
	case 'l':
		return "size";
	case 'n':
		return "vectors";
	case OPT_NAME:
		return "name";
	case OPT_MAX_PEERS:
		return "peers";
	case OPT_MEMFD:
		return "memfd";
	case OPT_HUGEPAGES:
		return "hugepages";
	case OPT_UNSEALED:
		return "unsealed";
	case OPT_NUMA:
		return "numa";
	case OPT_MAC_BASE:
		return "mac-base";
	case OPT_ALLOW_UID:
		return "allow-uid";
	case OPT_ALLOW_GID:
		return "allow-gid";
	case OPT_SOCKET_MODE:
		return "mode";
	case OPT_SOCKET_GROUP:
		return "group";
	case OPT_SLOT_SIZE:
		return "slot-size";
	case OPT_RING_SLOTS:
		return "ring-slots";
	case OPT_PLACEMENT:
		return "placement";
	case OPT_PLACEMENT_CPUS:
		return "cpus";
	case OPT_PIN:
		return "pin";
	case OPT_SCHED:
		return "sched";
	case OPT_MLOCK:
		return "mlock";
	case OPT_QMP:
		return "qmp";
	case OPT_CGROUP:
		return "cgroup";
	}
	return NULL;
}

/*
 * Every peer is handed the region's fd. A memfd's size is sealed; a POSIX
 * shm object's or a file's cannot be, and a peer that truncates one makes
 * every other mapping fault: a QEMU whose BAR shrinks dies, whatever the
 * broker does. Only an operator who trusts every peer may have one.
 */
static int check_sealable(const struct ivnetd_segment_config *s, const char *prog)
{
	if (s->backing == IVNET_BACKING_MEMFD || s->unsealed)
		return 0;
	fprintf(stderr,
		"%s: segment %s: a %s region cannot be sealed (any peer could truncate it and "
		"crash the others); use the default sealed memfd or --hugepages, or "
		"--unsealed (segment key unsealed) if every peer is trusted\n",
		prog, s->name,
		s->backing == IVNET_BACKING_SHM ? "POSIX shm (-M, shm=)" : "file (-m, dir=)");
	return -1;
}

int ivnetd_admin_default_path(struct ivnetd_segment_config *c)
{
	int n = snprintf(c->admin_path, sizeof(c->admin_path), "%s%s", c->socket_path,
			 IVNET_ADMIN_SUFFIX);

	if (n < 0 || n >= (int)sizeof(c->admin_path)) {
		c->admin_path[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Two segments' sockets (either kind) at one path? */
static int paths_clash(const struct ivnetd_segment_config *a, const struct ivnetd_segment_config *b)
{
	return !strcmp(a->socket_path, b->socket_path) || !strcmp(a->admin_path, b->admin_path) ||
	       !strcmp(a->socket_path, b->admin_path) || !strcmp(a->admin_path, b->socket_path);
}

/* The admin socket: admin=PATH, or beside the segment's socket. */
static int check_admin_path(struct ivnetd_segment_config *s, const char *prog)
{
	if (!s->admin_path[0] && ivnetd_admin_default_path(s)) {
		fprintf(stderr,
			"%s: segment %s: socket path too long for an admin socket beside it\n",
			prog, s->name);
		return -1;
	}
	if (!strcmp(s->admin_path, s->socket_path)) {
		fprintf(stderr, "%s: segment %s: admin socket and socket are one path\n", prog,
			s->name);
		return -1;
	}
	return 0;
}

static int check_config(struct ivnetd_config *cfg, const char *prog)
{
	int i, j;

	for (i = 0; i < cfg->nseg; i++) {
		if (check_sealable(&cfg->seg[i], prog) || check_admin_path(&cfg->seg[i], prog))
			return -1;
		for (j = 0; j < i; j++) {
			if (!strcmp(cfg->seg[i].name, cfg->seg[j].name) ||
			    paths_clash(&cfg->seg[i], &cfg->seg[j])) {
				fprintf(stderr, "%s: segments %d and %d share a name or socket\n",
					prog, j, i);
				return -1;
			}
		}
	}
	if (!cfg->control_path[0] &&
	    snprintf(cfg->control_path, sizeof(cfg->control_path), "%s.ctl",
		     cfg->seg[0].socket_path) >= (int)sizeof(cfg->control_path)) {
		fprintf(stderr, "%s: socket path too long for a control socket beside it\n", prog);
		return -1;
	}
	if (!cfg->foreground && !cfg->log_path[0])
		snprintf(cfg->log_path, sizeof(cfg->log_path), "%s", DEFAULT_DAEMON_LOG);
	return 0;
}

/* --segment KEY=VAL,..: one more segment, named and backed after its index
 * unless the keys say otherwise. */
static int add_segment(struct ivnetd_config *cfg, const char *prog, const char *spec)
{
	struct ivnetd_segment_config *s;
	char err[HOST_ERRLEN];

	if (cfg->nseg >= IVNETD_SEGMENTS_MAX) {
		fprintf(stderr, "%s: at most %d segments\n", prog, IVNETD_SEGMENTS_MAX);
		return -1;
	}
	s = &cfg->seg[cfg->nseg];
	ivnetd_segment_defaults(s);
	snprintf(s->name, sizeof(s->name), "seg%d", cfg->nseg);
	snprintf(s->shm_path, sizeof(s->shm_path), "ivnet-seg%d", cfg->nseg);
	s->socket_path[0] = '\0';
	if (ivnetd_parse_segment(s, spec, err, sizeof(err))) {
		fprintf(stderr, "%s: --segment %s: %s\n", prog, spec, err);
		return -1;
	}
	if (!s->socket_path[0]) {
		fprintf(stderr, "%s: --segment %s: needs socket=PATH\n", prog, spec);
		return -1;
	}
	cfg->nseg++;
	return 0;
}

int ivnetd_parse_args(struct ivnetd_config *cfg, int argc, char **argv)
{
	const char *prog = argv[0];
	int c;

	ivnetd_config_defaults(cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "hvFp:S:m:M:l:n:", long_opts, NULL)) != -1) {
		const char *key = segment_key(c);

		if (key) {
			int ret = apply_key(&cfg->seg[0], key, optarg ? optarg : "");

			if (ret) {
				fprintf(stderr, "%s: bad value for %s: '%s'\n", prog, key,
					optarg ? optarg : "");
				return -1;
			}
			continue;
		}
		switch (c) {
		case 'h':
			usage(stdout, prog);
			return 1;
		case 'v':
			cfg->verbose = 1;
			break;
		case 'F':
			cfg->foreground = 1;
			break;
		case 'p':
			if (set_str(cfg->pid_file, sizeof(cfg->pid_file), optarg))
				goto bad;
			break;
		case OPT_CONTROL:
			if (set_str(cfg->control_path, sizeof(cfg->control_path), optarg))
				goto bad;
			break;
		case OPT_LOG:
			if (set_str(cfg->log_path, sizeof(cfg->log_path), optarg))
				goto bad;
			break;
		case OPT_SEGMENT:
			if (add_segment(cfg, prog, optarg))
				return -1;
			break;
		default:
			usage(stderr, prog);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		return -1;
	}
	return check_config(cfg, prog);
bad:
	fprintf(stderr, "%s: bad value '%s'\n", prog, optarg);
	return -1;
}

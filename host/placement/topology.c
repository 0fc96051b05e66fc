// SPDX-License-Identifier: MIT
/*
 * topology.c - read cores, LLC domains and NUMA nodes from sysfs (see
 * topology.h).
 *
 * What sysfs says is checked before it is believed: a sibling or cache list
 * that does not contain the CPU describing it is ignored, and every CPU
 * joins exactly one core and one LLC, keyed by the lowest online CPU of
 * the list it names, so the groups partition the online CPUs whatever the
 * files say.
 */
#define _GNU_SOURCE
#include "topology.h"

#include <dirent.h>
#include <errno.h>
#include <numa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "print.h"

#define SYS_CPU "/sys/devices/system/cpu"
#define SYS_NODE "/sys/devices/system/node"
#define CACHE_INDEX_MAX 16

static int read_file(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Read a small sysfs file, named by a format; returns 0 or -1. */
static int read_file(char *buf, size_t n, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	FILE *f;
	size_t len;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof(path))
		return -1;
	f = fopen(path, "re");
	if (!f)
		return -1;
	len = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[len] = '\0';
	return 0;
}

static int read_int(int *v, const char *root, int cpu, const char *file)
{
	char buf[32], *end;
	long x;

	if (read_file(buf, sizeof(buf), "%s" SYS_CPU "/cpu%d/%s", root, cpu, file))
		return -1;
	x = strtol(buf, &end, 10);
	if (end == buf || (*end && *end != '\n') || x < -1 || x > 1 << 20)
		return -1;
	*v = (int)x;
	return 0;
}

/* A CPU list file of cpu's, restricted to online CPUs; -1 unless it holds
 * cpu itself. */
static int read_list(struct ivnetd_cpus *set, const struct ivnetd_topo *t, const char *root,
		     int cpu, const char *file)
{
	char buf[IVNETD_CPULIST_LEN * 2];

	if (read_file(buf, sizeof(buf), "%s" SYS_CPU "/cpu%d/%s", root, cpu, file) ||
	    ivnetd_cpulist_parse(buf, set))
		return -1;
	cpus_and(set, set, &t->online);
	return cpus_isset(set, cpu) ? 0 : -1;
}

/*
 * The last-level cache shared by cpu: the highest-level data or unified
 * cache it lists. Returns its level and CPUs, or 0 if it lists none.
 */
static int read_llc(struct ivnetd_cpus *set, const struct ivnetd_topo *t, const char *root, int cpu)
{
	int i, best = 0;

	for (i = 0; i < CACHE_INDEX_MAX; i++) {
		struct ivnetd_cpus s;
		char file[64], type[32];
		int level;

		snprintf(file, sizeof(file), "cache/index%d/level", i);
		if (read_int(&level, root, cpu, file) || level <= best)
			continue;
		if (read_file(type, sizeof(type), "%s" SYS_CPU "/cpu%d/cache/index%d/type", root,
			      cpu, i) ||
		    !strncmp(type, "Instruction", 11))
			continue;
		snprintf(file, sizeof(file), "cache/index%d/shared_cpu_list", i);
		if (read_list(&s, t, root, cpu, file))
			continue;
		*set = s;
		best = level;
	}
	return best;
}

/* The group keyed by `key` (its first CPU, or for LLCs of unknown level,
 * the package), added if new. */
static int group_of(struct ivnetd_topo_group *g, int *n, int *keys, int key, int level)
{
	int i;

	for (i = 0; i < *n; i++)
		if (keys[i] == key && g[i].level == level)
			return i;
	memset(&g[*n], 0, sizeof(g[*n]));
	g[*n].id = *n;
	g[*n].level = level;
	keys[*n] = key;
	return (*n)++;
}

static void place_cpu(struct ivnetd_topo *t, const char *root, int cpu, int *core_keys,
		      int *llc_keys)
{
	struct ivnetd_topo_cpu *c = &t->cpu[cpu];
	struct ivnetd_cpus s;
	int level;

	if (read_int(&c->package, root, cpu, "topology/physical_package_id"))
		c->package = -1;
	if (read_list(&s, t, root, cpu, "topology/thread_siblings_list")) {
		cpus_zero(&s);
		cpus_set(&s, cpu);
	}
	c->core = group_of(t->core, &t->ncores, core_keys, cpus_first(&s), 0);
	cpus_set(&t->core[c->core].cpus, cpu);
	t->core[c->core].package = c->package;

	level = read_llc(&s, t, root, cpu);
	/* No cache information (some VMs): one domain per package. */
	c->llc = group_of(t->llc, &t->nllcs, llc_keys, level ? cpus_first(&s) : c->package, level);
	cpus_set(&t->llc[c->llc].cpus, cpu);
	t->llc[c->llc].package = c->package;
}

static int by_id(const void *a, const void *b)
{
	const struct ivnetd_topo_group *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* NUMA nodes and their CPUs; none (every CPU's node -1) without the
 * directory, as on kernels built without NUMA. */
static int read_nodes(struct ivnetd_topo *t, const char *root)
{
	char path[512], buf[IVNETD_CPULIST_LEN * 2];
	struct dirent *e;
	int cap = 0, c;
	DIR *dir;

	snprintf(path, sizeof(path), "%s" SYS_NODE, root);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		struct ivnetd_topo_group *g;
		char *end;
		long id;

		if (strncmp(e->d_name, "node", 4) || !e->d_name[4])
			continue;
		id = strtol(e->d_name + 4, &end, 10);
		if (*end || id < 0 || id > 4095)
			continue;
		if (t->nnodes == cap) {
			cap = cap ? cap * 2 : 8;
			g = realloc(t->node, (size_t)cap * sizeof(*g));
			if (!g) {
				closedir(dir);
				return -1;
			}
			t->node = g;
		}
		g = &t->node[t->nnodes++];
		memset(g, 0, sizeof(*g));
		g->id = (int)id;
		g->node = (int)id;
		if (read_file(buf, sizeof(buf), "%s/%s/cpulist", path, e->d_name) == 0 &&
		    ivnetd_cpulist_parse(buf, &g->cpus) == 0)
			cpus_and(&g->cpus, &g->cpus, &t->online);
		else
			cpus_zero(&g->cpus);
	}
	closedir(dir);
	qsort(t->node, (size_t)t->nnodes, sizeof(*t->node), by_id);
	for (int i = 0; i < t->nnodes; i++) {
		cpus_for_each(c, &t->node[i].cpus) {
			if (t->cpu[c].node < 0)
				t->cpu[c].node = t->node[i].id;
			else
				cpus_clear(&t->node[i].cpus, c); /* claimed twice: first wins */
		}
	}
	return 0;
}

static void count_cores(struct ivnetd_topo *t)
{
	int i, j, first;

	for (i = 0; i < t->ncores; i++) {
		first = cpus_first(&t->core[i].cpus);
		t->core[i].node = t->cpu[first].node;
		t->llc[t->cpu[first].llc].cores++;
		for (j = 0; j < t->nnodes; j++)
			if (t->node[j].id == t->cpu[first].node)
				t->node[j].cores++;
	}
	for (i = 0; i < t->nllcs; i++)
		t->llc[i].node = t->cpu[cpus_first(&t->llc[i].cpus)].node;
}

static int count_packages(const struct ivnetd_topo *t)
{
	struct ivnetd_cpus seen; /* package ids, as a set */
	int c, n = 0;

	cpus_zero(&seen);
	cpus_for_each(c, &t->online) {
		int p = t->cpu[c].package < 0 ? 0 : t->cpu[c].package;

		if (p < IVNETD_CPUS_MAX && !cpus_isset(&seen, p)) {
			cpus_set(&seen, p);
			n++;
		}
	}
	return n;
}

int ivnetd_topo_read(const char *root, struct ivnetd_topo *t, char *err, size_t errlen)
{
	char buf[IVNETD_CPULIST_LEN * 2];
	int *keys = NULL, n, c;

	memset(t, 0, sizeof(*t));
	if (read_file(buf, sizeof(buf), "%s" SYS_CPU "/online", root) ||
	    ivnetd_cpulist_parse(buf, &t->online) || !cpus_count(&t->online)) {
		snprintf(err, errlen, "cannot read the online CPUs from %s" SYS_CPU "/online",
			 root);
		return -1;
	}
	n = cpus_count(&t->online);
	t->core = calloc((size_t)n, sizeof(*t->core));
	t->llc = calloc((size_t)n, sizeof(*t->llc));
	keys = calloc((size_t)n * 2, sizeof(*keys));
	if (!t->core || !t->llc || !keys)
		goto nomem;
	cpus_for_each(c, &t->online) {
		t->cpu[c].node = -1;
		place_cpu(t, root, c, keys, keys + n);
	}
	if (read_nodes(t, root))
		goto nomem;
	count_cores(t);
	t->packages = count_packages(t);
	t->numa = !*root && numa_available() >= 0;
	free(keys);
	return 0;
nomem:
	free(keys);
	ivnetd_topo_free(t);
	snprintf(err, errlen, "out of memory reading the topology");
	return -1;
}

void ivnetd_topo_free(struct ivnetd_topo *t)
{
	free(t->core);
	free(t->llc);
	free(t->node);
	t->core = t->llc = t->node = NULL;
	t->ncores = t->nllcs = t->nnodes = 0;
}

const struct ivnetd_topo_group *ivnetd_topo_llc_of(const struct ivnetd_topo *t, int cpu)
{
	if (!cpus_isset(&t->online, cpu))
		return NULL;
	return &t->llc[t->cpu[cpu].llc];
}

static void show_cpus(struct pr *p, const char *key, const char *fmt, const struct ivnetd_cpus *s)
{
	char list[IVNETD_CPULIST_LEN];

	ivnetd_cpulist_format(s, list, sizeof(list));
	pr_str(p, key, fmt, list);
}

void ivnetd_topo_show(struct pr *p, const struct ivnetd_topo *t)
{
	char counts[64];
	int i;

	pr_obj_open(p, NULL);
	show_cpus(p, "online", "cpus %s", &t->online);
	pr_u64(p, "packages", " packages %llu", (uint64_t)t->packages);
	snprintf(counts, sizeof(counts), " cores %d llcs %d nodes %d", t->ncores, t->nllcs,
		 t->nnodes);
	pr_text(p, counts); /* JSON has the lists */
	pr_bool(p, "numa", " numa", t->numa);
	pr_text(p, "\n");
	pr_arr_open(p, "nodes");
	for (i = 0; i < t->nnodes; i++) {
		pr_obj_open(p, NULL);
		pr_i64(p, "node", "node %lld", t->node[i].id);
		show_cpus(p, "cpus", " cpus %s", &t->node[i].cpus);
		pr_u64(p, "cores", " cores %llu", (uint64_t)t->node[i].cores);
		pr_obj_close(p);
		pr_text(p, "\n");
	}
	pr_arr_close(p);
	pr_arr_open(p, "llcs");
	for (i = 0; i < t->nllcs; i++) {
		pr_obj_open(p, NULL);
		pr_i64(p, "llc", "llc %lld", t->llc[i].id);
		pr_i64(p, "level", " level %lld", t->llc[i].level);
		pr_i64(p, "node", " node %lld", t->llc[i].node);
		pr_i64(p, "package", " package %lld", t->llc[i].package);
		show_cpus(p, "cpus", " cpus %s", &t->llc[i].cpus);
		pr_u64(p, "cores", " cores %llu", (uint64_t)t->llc[i].cores);
		pr_obj_close(p);
		pr_text(p, "\n");
	}
	pr_arr_close(p);
	pr_arr_open(p, "cores");
	for (i = 0; i < t->ncores; i++) {
		int first = cpus_first(&t->core[i].cpus);

		pr_obj_open(p, NULL);
		pr_i64(p, "core", "core %lld", t->core[i].id);
		pr_i64(p, "package", " package %lld", t->core[i].package);
		pr_i64(p, "node", " node %lld", t->core[i].node);
		pr_i64(p, "llc", " llc %lld", t->cpu[first].llc);
		show_cpus(p, "cpus", " cpus %s", &t->core[i].cpus);
		pr_obj_close(p);
		pr_text(p, "\n");
	}
	pr_arr_close(p);
	pr_obj_close(p);
}

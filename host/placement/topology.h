/* SPDX-License-Identifier: MIT */
/*
 * topology.h - the machine as placement sees it: online CPUs, physical
 * cores (SMT siblings), last-level cache domains and NUMA nodes, read once
 * from sysfs.
 *
 * The reader takes a root prefix ("" for the running system) so that unit
 * tests parse recorded sysfs trees of larger machines
 * (tests/unit/fixtures/topology/). libnuma cannot read such a tree: it is
 * asked at run time only whether memory policy works (numa).
 *
 * Cores and LLCs partition the online CPUs and are ordered by their lowest
 * CPU; nodes are ordered by id (a node may have no CPU: memory only).
 */
#ifndef IVNETD_TOPOLOGY_H
#define IVNETD_TOPOLOGY_H

#include "cpus.h"

struct pr;

struct ivnetd_topo_cpu {
	int package; /* physical_package_id; -1: unknown */
	int core;    /* index into cores */
	int llc;     /* index into llcs */
	int node;    /* NUMA node id; -1: no NUMA information */
};

struct ivnetd_topo_group {
	struct ivnetd_cpus cpus;
	int id;	   /* cores, LLCs: the index; nodes: the node id */
	int level; /* LLCs: the cache level (0: unknown, one domain per package) */
	int node;  /* LLCs and cores: the node of the lowest CPU */
	int package;
	int cores; /* LLCs and nodes: physical cores in it */
};

struct ivnetd_topo {
	struct ivnetd_cpus online;
	struct ivnetd_topo_cpu cpu[IVNETD_CPUS_MAX]; /* valid for online CPUs */
	struct ivnetd_topo_group *core, *llc, *node;
	int ncores, nllcs, nnodes;
	int packages;
	int numa; /* libnuma says memory policy works (run time only) */
};

/* Read the topology under root ("" for /sys of this machine). Returns 0,
 * or -1 with a one-line reason in err. Free with ivnetd_topo_free(). */
int ivnetd_topo_read(const char *root, struct ivnetd_topo *t, char *err, size_t errlen);
void ivnetd_topo_free(struct ivnetd_topo *t);

/* The LLC domain of a CPU, or NULL for a CPU that is not online. */
const struct ivnetd_topo_group *ivnetd_topo_llc_of(const struct ivnetd_topo *t, int cpu);

/* `ivnetctl topology`: text or JSON (print.h). */
void ivnetd_topo_show(struct pr *p, const struct ivnetd_topo *t);

#endif /* IVNETD_TOPOLOGY_H */

// SPDX-License-Identifier: MIT
/*
 * placement_plan.c - which CPUs a segment's threads get (see placement.h).
 * A pure function of the topology, the core set and the units in order:
 * the same peers always get the same CPUs, and a peer that leaves makes
 * the others move up (live re-placement is this plan made again).
 */
#include <stdio.h>
#include <string.h>

#include "placement.h"

/* Physical cores with at least one CPU in set. */
static int cores_in(const struct ivnetd_topo *t, const struct ivnetd_cpus *set)
{
	struct ivnetd_cpus s;
	int i, n = 0;

	for (i = 0; i < t->ncores; i++) {
		cpus_and(&s, &t->core[i].cpus, set);
		if (cpus_count(&s))
			n++;
	}
	return n;
}

/* One CPU per physical core in core order, then the second SMT siblings,
 * and so on: spread fills cores before it doubles up on one. */
static void make_order(struct ivnetd_plan *pl, const struct ivnetd_topo *t)
{
	int rank, i, more = 1;

	pl->norder = 0;
	for (rank = 0; more; rank++) {
		more = 0;
		for (i = 0; i < t->ncores; i++) {
			struct ivnetd_cpus s;
			int c, k = 0;

			cpus_and(&s, &t->core[i].cpus, &pl->domain);
			cpus_for_each(c, &s) {
				if (k++ == rank) {
					pl->order[pl->norder++] = c;
					more = 1;
					break;
				}
			}
		}
	}
}

int ivnetd_plan_make(struct ivnetd_plan *pl, const struct ivnetd_topo *t,
		     const struct ivnetd_cpus *coreset, int node, char *err, size_t errlen)
{
	int best_cores = 0, best_cpus = 0, i, j;

	memset(pl, 0, sizeof(*pl));
	pl->llc = -1;
	pl->node = -1;
	for (i = 0; i < t->nllcs; i++) {
		struct ivnetd_cpus s;
		int cores, n;

		cpus_and(&s, &t->llc[i].cpus, coreset);
		if (node >= 0) {
			for (j = 0; j < t->nnodes && t->node[j].id != node; j++)
				;
			if (j == t->nnodes)
				cpus_zero(&s);
			else
				cpus_and(&s, &s, &t->node[j].cpus);
		}
		n = cpus_count(&s);
		if (!n)
			continue;
		cores = cores_in(t, &s);
		/* ties keep the earlier domain: the one with the lower CPU */
		if (cores > best_cores || (cores == best_cores && n > best_cpus)) {
			best_cores = cores;
			best_cpus = n;
			pl->llc = i;
			pl->domain = s;
		}
	}
	if (pl->llc < 0) {
		char list[IVNETD_CPULIST_LEN];

		ivnetd_cpulist_format(coreset, list, sizeof(list));
		if (node >= 0)
			snprintf(err, errlen, "no online CPU of the core set %s is on NUMA node %d",
				 list, node);
		else
			snprintf(err, errlen, "no CPU of the core set %s is online", list);
		return -1;
	}
	pl->node = node >= 0 ? node : t->cpu[cpus_first(&pl->domain)].node;
	make_order(pl, t);
	return 0;
}

void ivnetd_plan_unit(const struct ivnetd_plan *pl, enum ivnetd_policy policy, int i,
		      struct ivnetd_cpus *out)
{
	if (policy != IVNETD_POLICY_SPREAD || pl->norder == 0) {
		*out = pl->domain;
		return;
	}
	cpus_zero(out);
	cpus_set(out, pl->order[(i < 0 ? 0 : i) % pl->norder]);
}

// SPDX-License-Identifier: MIT
/*
 * Placement without a daemon: CPU lists, the topology read from recorded
 * sysfs trees of larger machines (tests/unit/fixtures/topology/), the plan
 * each policy makes on them, the option vocabulary, vCPU thread names, and
 * QMP replies.
 *
 * usage: test_placement FIXTURES_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ivnetd.h"
#include "qmp.h"
#include "testlib.h"
#include "threads.h"

static const char *fixtures;

static struct ivnetd_cpus L(const char *list) {
	struct ivnetd_cpus s;

	if (ivnetd_cpulist_parse(list, &s)) {
		fprintf(stderr, "bad list in the test: %s\n", list);
		exit(1);
	}
	return s;
}

static const char *
F(const struct ivnetd_cpus *s)
{
	static char buf[4][IVNETD_CPULIST_LEN];
	static int k;

	k = (k + 1) % 4;
	CHECK_EQ(ivnetd_cpulist_format(s, buf[k], sizeof(buf[k])), 0);
	return buf[k];
}

#define CHECK_CPUS(set, list) CHECK(!strcmp(F(set), (list)))

static void test_cpulist(void)
{
	static const char *const good[][2] = {
		{"", ""},
		{"\n", ""},
		{"0", "0"},
		{"0-3\n", "0-3"},
		{"0-3,8,10-11", "0-3,8,10-11"},
		{"5,1-2,3", "1-3,5"},
		{"1023", "1023"},
		{"0-1023", "0-1023"},
	};
	static const char *const bad[] = {"3-1",  "a",	 "1,", ",1",	"1024",		 "0-",
					  "1--2", "1 2", "-1", "1\n\n", "0-99999999999", "1,\n"};
	struct ivnetd_cpus s;
	char small[4];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_EQ(ivnetd_cpulist_parse(good[i][0], &s), 0);
		CHECK_CPUS(&s, good[i][1]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(ivnetd_cpulist_parse(bad[i], &s), -1);
	s = L("0-1023");
	CHECK_EQ(cpus_count(&s), 1024);
	CHECK_EQ(cpus_next(&s, 1023), 1023);
	s = L("64,200");
	CHECK_EQ(cpus_first(&s), 64);
	CHECK_EQ(cpus_next(&s, 65), 200);
	CHECK_EQ(cpus_next(&s, 201), -1);
	s = L("0-3,8-11");
	CHECK_EQ(ivnetd_cpulist_format(&s, small, sizeof(small)), -1);
	CHECK(!strcmp(small, "0-3"));
}

static void read_fixture(const char *name, struct ivnetd_topo *t)
{
	char root[512], err[160];

	snprintf(root, sizeof(root), "%s/%s", fixtures, name);
	if (ivnetd_topo_read(root, t, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", name, err);
		exit(1);
	}
	CHECK(!t->numa); /* a fixture never asks libnuma */
}

/* Every online CPU in exactly one core and one LLC, and in them. */
static void check_partition(const struct ivnetd_topo *t)
{
	struct ivnetd_cpus seen_core, seen_llc;
	int i, c;

	cpus_zero(&seen_core);
	cpus_zero(&seen_llc);
	for (i = 0; i < t->ncores; i++) {
		struct ivnetd_cpus x;

		cpus_and(&x, &seen_core, &t->core[i].cpus);
		CHECK(!cpus_count(&x));
		cpus_or(&seen_core, &t->core[i].cpus);
		cpus_for_each(c, &t->core[i].cpus)
			CHECK_EQ(t->cpu[c].core, i);
		if (i)
			CHECK(cpus_first(&t->core[i].cpus) > cpus_first(&t->core[i - 1].cpus));
	}
	for (i = 0; i < t->nllcs; i++) {
		cpus_or(&seen_llc, &t->llc[i].cpus);
		cpus_for_each(c, &t->llc[i].cpus)
			CHECK_EQ(t->cpu[c].llc, i);
	}
	CHECK(cpus_equal(&seen_core, &t->online));
	CHECK(cpus_equal(&seen_llc, &t->online));
}

static void plan(const struct ivnetd_topo *t, const char *coreset, int node, struct ivnetd_plan *pl)
{
	struct ivnetd_cpus cs = L(coreset);
	char err[160];

	if (ivnetd_plan_make(pl, t, &cs, node, err, sizeof(err))) {
		fprintf(stderr, "plan %s node %d: %s\n", coreset, node, err);
		exit(1);
	}
}

/* The CPU spread gives unit i. */
static int spread(const struct ivnetd_plan *pl, int i)
{
	struct ivnetd_cpus s;

	ivnetd_plan_unit(pl, IVNETD_POLICY_SPREAD, i, &s);
	CHECK_EQ(cpus_count(&s), 1);
	return cpus_first(&s);
}

static void check_pack(const struct ivnetd_plan *pl)
{
	struct ivnetd_cpus s;
	int i;

	for (i = 0; i < 40; i += 7) {
		ivnetd_plan_unit(pl, IVNETD_POLICY_PACK, i, &s);
		CHECK(cpus_equal(&s, &pl->domain));
	}
}

static void test_epyc(void)
{
	struct ivnetd_topo t;
	struct ivnetd_plan pl;
	struct ivnetd_cpus cs;
	char err[160];
	int i;

	read_fixture("epyc-2s", &t);
	CHECK_CPUS(&t.online, "0-63");
	CHECK_EQ(t.packages, 2);
	CHECK_EQ(t.ncores, 32);
	CHECK_EQ(t.nllcs, 8);
	CHECK_EQ(t.nnodes, 2);
	check_partition(&t);
	for (i = 0; i < t.ncores; i++) {
		CHECK_EQ(cpus_count(&t.core[i].cpus), 2); /* SMT siblings */
		CHECK_EQ(t.core[i].package, i / 16);
	}
	for (i = 0; i < t.nllcs; i++) {
		char want[64];

		snprintf(want, sizeof(want), "%d-%d,%d-%d", 4 * i, 4 * i + 3, 4 * i + 32,
			 4 * i + 35);
		CHECK_CPUS(&t.llc[i].cpus, want);
		CHECK_EQ(t.llc[i].level, 3);
		CHECK_EQ(t.llc[i].cores, 4);
		CHECK_EQ(t.llc[i].node, i / 4);
		CHECK_EQ(t.llc[i].package, i / 4);
	}
	CHECK_CPUS(&t.node[0].cpus, "0-15,32-47");
	CHECK_CPUS(&t.node[1].cpus, "16-31,48-63");
	CHECK_EQ(t.node[1].cores, 16);
	CHECK_EQ(t.cpu[45].node, 0);
	CHECK_EQ(t.cpu[45].llc, 3);

	/* all CPUs: the first CCX, physical cores before their siblings */
	plan(&t, "0-63", -1, &pl);
	CHECK_EQ(pl.llc, 0);
	CHECK_EQ(pl.node, 0);
	CHECK_CPUS(&pl.domain, "0-3,32-35");
	check_pack(&pl);
	CHECK_EQ(pl.norder, 8);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(spread(&pl, i), i);
		CHECK_EQ(spread(&pl, i + 4), i + 32);
	}
	CHECK_EQ(spread(&pl, 8), 0); /* more units than CPUs: they share in turn */
	/* the second socket, by core set or by node */
	plan(&t, "16-31,48-63", -1, &pl);
	CHECK_EQ(pl.llc, 4);
	CHECK_EQ(pl.node, 1);
	CHECK_CPUS(&pl.domain, "16-19,48-51");
	plan(&t, "0-63", 1, &pl);
	CHECK_CPUS(&pl.domain, "16-19,48-51");
	CHECK_EQ(pl.node, 1);
	/* a core set across two CCXs: the one with more physical cores ... */
	plan(&t, "2-7", -1, &pl);
	CHECK_CPUS(&pl.domain, "4-7");
	CHECK_EQ(spread(&pl, 1), 5);
	/* ... the earlier one on a tie ... */
	plan(&t, "2-5", -1, &pl);
	CHECK_CPUS(&pl.domain, "2-3");
	/* ... and more CPUs (an SMT pair) before fewer */
	plan(&t, "4,0,32", -1, &pl);
	CHECK_CPUS(&pl.domain, "0,32");
	CHECK_EQ(spread(&pl, 0), 0);
	CHECK_EQ(spread(&pl, 1), 32);
	/* siblings only: spread still gives each its own CPU */
	plan(&t, "33-35", -1, &pl);
	CHECK_CPUS(&pl.domain, "33-35");
	CHECK_EQ(spread(&pl, 2), 35);
	/* nothing of the core set on the node asked for */
	cs = L("0-15");
	CHECK_EQ(ivnetd_plan_make(&pl, &t, &cs, 1, err, sizeof(err)), -1);
	CHECK(strstr(err, "NUMA node 1"));
	ivnetd_topo_free(&t);
}

static void test_xeon(void)
{
	struct ivnetd_topo t;
	struct ivnetd_plan pl;
	int i;

	read_fixture("xeon-2s", &t);
	CHECK_CPUS(&t.online, "0-30");
	CHECK_EQ(t.packages, 2);
	CHECK_EQ(t.ncores, 16);
	CHECK_EQ(t.nllcs, 2);
	CHECK_EQ(t.nnodes, 2);
	check_partition(&t);
	CHECK_CPUS(&t.core[t.cpu[7].core].cpus, "7,23");
	CHECK_CPUS(&t.core[t.cpu[15].core].cpus, "15"); /* its sibling 31 is offline */
	CHECK_CPUS(&t.llc[0].cpus, "0-7,16-23");
	CHECK_CPUS(&t.llc[1].cpus, "8-15,24-30");
	CHECK_EQ(t.llc[1].cores, 8);
	CHECK_EQ(t.llc[1].node, 1);
	CHECK_CPUS(&t.node[1].cpus, "8-15,24-30");

	/* equal cores; socket 0 has more CPUs online */
	plan(&t, "0-30", -1, &pl);
	CHECK_EQ(pl.llc, 0);
	CHECK_EQ(pl.node, 0);
	CHECK_CPUS(&pl.domain, "0-7,16-23");
	check_pack(&pl);
	for (i = 0; i < 8; i++) {
		CHECK_EQ(spread(&pl, i), i);
		CHECK_EQ(spread(&pl, i + 8), i + 16);
	}
	plan(&t, "8-15,24-30", -1, &pl);
	CHECK_EQ(pl.node, 1);
	CHECK_EQ(pl.norder, 15);
	CHECK_EQ(spread(&pl, 7), 15);
	CHECK_EQ(spread(&pl, 8), 24);
	CHECK_EQ(spread(&pl, 14), 30);
	CHECK_EQ(spread(&pl, 15), 8);
	/* a core set on both sockets: the socket with more of it */
	plan(&t, "6-12", -1, &pl);
	CHECK_CPUS(&pl.domain, "8-12");
	ivnetd_topo_free(&t);
}

static void test_vm(void)
{
	struct ivnetd_topo t;
	struct ivnetd_plan pl;
	struct ivnetd_cpus cs;
	char err[160];

	read_fixture("vm-2cpu", &t);
	CHECK_CPUS(&t.online, "0-1");
	CHECK_EQ(t.packages, 1);
	CHECK_EQ(t.ncores, 2);
	CHECK_EQ(t.nllcs, 1);
	CHECK_EQ(t.llc[0].level, 3);
	CHECK_EQ(t.nnodes, 1);
	check_partition(&t);
	plan(&t, "0-1", -1, &pl);
	CHECK_CPUS(&pl.domain, "0-1");
	CHECK_EQ(pl.node, 0);
	CHECK_EQ(spread(&pl, 0), 0);
	CHECK_EQ(spread(&pl, 1), 1);
	CHECK_EQ(spread(&pl, 2), 0);
	plan(&t, "1", -1, &pl);
	CHECK_CPUS(&pl.domain, "1");
	CHECK_EQ(spread(&pl, 5), 1);
	cs = L("2-3");
	CHECK_EQ(ivnetd_plan_make(&pl, &t, &cs, -1, err, sizeof(err)), -1);
	CHECK(strstr(err, "no CPU of the core set 2-3"));
	ivnetd_topo_free(&t);
}

static void put(const char *root, const char *path, const char *text)
{
	char full[512], *slash;
	FILE *f;

	snprintf(full, sizeof(full), "%s/%s", root, path);
	for (slash = strchr(full + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(full, 0755);
		*slash = '/';
	}
	f = fopen(full, "w");
	CHECK(f);
	fputs(text, f);
	fclose(f);
}

/* Broken trees: without the online file, an error; lists that do not hold
 * the CPU they describe, or are not lists, are ignored; a CPU claimed by two
 * nodes stays with the first. The groups still partition the CPUs. */
static void test_bad_trees(void)
{
	char root[] = "/tmp/ivnet-topo-XXXXXX", cmd[64];
	struct ivnetd_topo t;
	char err[160];

	CHECK_EQ(ivnetd_topo_read("/nonexistent", &t, err, sizeof(err)), -1);
	CHECK(strstr(err, "online"));
	CHECK(mkdtemp(root));
	put(root, "sys/devices/system/cpu/online", "0-3\n");
	put(root, "sys/devices/system/cpu/cpu0/topology/thread_siblings_list", "1\n");
	put(root, "sys/devices/system/cpu/cpu1/topology/thread_siblings_list", "0-1\n");
	put(root, "sys/devices/system/cpu/cpu2/topology/thread_siblings_list", "x\n");
	put(root, "sys/devices/system/cpu/cpu0/cache/index0/level", "3\n");
	put(root, "sys/devices/system/cpu/cpu0/cache/index0/type", "Unified\n");
	put(root, "sys/devices/system/cpu/cpu0/cache/index0/shared_cpu_list", "0-3,99\n");
	put(root, "sys/devices/system/cpu/cpu1/cache/index0/level", "3\n");
	put(root, "sys/devices/system/cpu/cpu1/cache/index0/type", "Instruction\n");
	put(root, "sys/devices/system/cpu/cpu1/cache/index0/shared_cpu_list", "1\n");
	put(root, "sys/devices/system/cpu/cpu3/cache/index0/level", "3\n");
	put(root, "sys/devices/system/cpu/cpu3/cache/index0/type", "Unified\n");
	put(root, "sys/devices/system/cpu/cpu3/cache/index0/shared_cpu_list", "0-2\n");
	put(root, "sys/devices/system/node/node0/cpulist", "0-1\n");
	put(root, "sys/devices/system/node/node1/cpulist", "1-3\n");
	CHECK_EQ(ivnetd_topo_read(root, &t, err, sizeof(err)), 0);
	check_partition(&t);
	CHECK_EQ(t.ncores, 3);
	CHECK_CPUS(&t.core[0].cpus, "0-1");
	CHECK_CPUS(&t.core[1].cpus, "2");
	CHECK_CPUS(&t.core[2].cpus, "3");
	/* cpu0's L3 (99 is not online) is its own: no other CPU names it;
	 * cpu1 and cpu2 know no cache, and cpu3's list lacks cpu3 itself:
	 * one domain of unknown level for their package */
	CHECK_EQ(t.nllcs, 2);
	CHECK_CPUS(&t.llc[0].cpus, "0");
	CHECK_EQ(t.llc[0].level, 3);
	CHECK_CPUS(&t.llc[1].cpus, "1-3");
	CHECK_EQ(t.llc[1].level, 0);
	CHECK_EQ(t.cpu[1].node, 0);
	CHECK_CPUS(&t.node[1].cpus, "2-3");
	ivnetd_topo_free(&t);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK_EQ(system(cmd), 0);
}

static void test_options(void)
{
	struct ivnetd_placement_config c;
	struct ivnetd_segment_config s;
	unsigned keys = 0;
	char err[160];

	ivnetd_placement_defaults(&c);
	CHECK_EQ(ivnetd_placement_key(&c, "placement", "spread", &keys), 0);
	CHECK_EQ(c.policy, IVNETD_POLICY_SPREAD);
	CHECK_EQ(ivnetd_placement_key(&c, "pin", "cpuset", &keys), 0);
	CHECK_EQ(ivnetd_placement_key(&c, "sched", "fifo:10", &keys), 0);
	CHECK(c.sched == IVNETD_SCHED_FIFO && c.sched_value == 10);
	CHECK_EQ(keys, IVNETD_PLK_POLICY | IVNETD_PLK_PIN | IVNETD_PLK_SCHED);
	CHECK_EQ(ivnetd_placement_key(&c, "sched", "nice:-5", NULL), 0);
	CHECK(c.sched == IVNETD_SCHED_NICE && c.sched_value == -5);
	CHECK_EQ(ivnetd_placement_key(&c, "sched", "rr:0", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "sched", "fifo:100", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "sched", "nice:20", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "sched", "nice:", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "placement", "scatter", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "pin", "taskset", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "cpus", "", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "mlock", "require", NULL), 0);
	CHECK_EQ(ivnetd_placement_key(&c, "mlock", "maybe", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "qmp", "/run/qemu/%p-%i.qmp", NULL), 0);
	CHECK_EQ(ivnetd_placement_key(&c, "qmp", "/run/%x.qmp", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "qmp", "relative.qmp", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "cgroup", "/sys/fs/cgroup/ivnet", NULL), 0);
	CHECK_EQ(ivnetd_placement_key(&c, "cgroup", "/sys/fs/cgroup/../x", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "cgroup", "sys/fs/cgroup", NULL), -1);
	CHECK_EQ(ivnetd_placement_key(&c, "size", "4M", NULL), -2);
	/* names in and names out are one table: each value reads back as given */
	{
		static const char *const scheds[] = {"none", "other", "fifo:1", "rr:99",
						     "nice:-20"};
		static const char *const bad[] = {"nonesuch", "other:1", "fifo", "rr:", "nice5"};
		char buf[32];
		size_t i;

		for (i = 0; i < sizeof(scheds) / sizeof(scheds[0]); i++) {
			CHECK_EQ(ivnetd_placement_key(&c, "sched", scheds[i], NULL), 0);
			ivnetd_sched_format(c.sched, c.sched_value, buf, sizeof(buf));
			CHECK(!strcmp(buf, scheds[i]));
		}
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			CHECK_EQ(ivnetd_placement_key(&c, "sched", bad[i], NULL), -1);
		CHECK_EQ(ivnetd_placement_key(&c, "placement", "pack", NULL), 0);
		CHECK(!strcmp(ivnetd_policy_name(c.policy), "pack"));
		CHECK_EQ(ivnetd_placement_key(&c, "pin", "affinity", NULL), 0);
		CHECK(!strcmp(ivnetd_pin_name(c.pin), "affinity"));
		CHECK_EQ(ivnetd_placement_key(&c, "mlock", "off", NULL), 0);
		CHECK_EQ(c.mlock, IVNETD_MLOCK_OFF);
		CHECK_EQ(ivnetd_placement_key(&c, "mlock", "default", NULL), -1);
	}

	/* a CPU list's commas inside --segment */
	ivnetd_segment_defaults(&s);
	CHECK_EQ(ivnetd_parse_segment(&s,
				      "socket=/tmp/x,cpus=0-3,8-11,12,placement=pack,"
				      "pin=cpuset,sched=rr:5",
				      err, sizeof(err)),
		 0);
	CHECK(s.place.cpus_set);
	CHECK_CPUS(&s.place.cpus, "0-3,8-12");
	CHECK_EQ(s.place.policy, IVNETD_POLICY_PACK);
	CHECK_EQ(s.place.pin, IVNETD_PIN_CPUSET);
	CHECK(!strcmp(s.socket_path, "/tmp/x"));
	ivnetd_segment_defaults(&s);
	CHECK_EQ(ivnetd_parse_segment(&s, "placement=spread,cpus=4", err, sizeof(err)), 0);
	CHECK_CPUS(&s.place.cpus, "4");
	CHECK_EQ(ivnetd_parse_segment(&s, "cpus=0,,2", err, sizeof(err)), -1);
	CHECK_EQ(ivnetd_parse_segment(&s, "cpus=0-3,x", err, sizeof(err)), -1);
	CHECK_EQ(ivnetd_parse_segment(&s, "placement=pack,cpus=5-2", err, sizeof(err)), -1);
	CHECK(strstr(err, "cpus"));
}

static void test_ctl(void)
{
	struct ivnetd_ctl_request r;
	char err[160];
	const char *line;

	line = "-j placement set lab policy=spread pin=cpuset cpus=0-3,8 sched=fifo:10\n";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), 0);
	CHECK_EQ(r.verb, IVNETD_CTL_PLACEMENT_SET);
	CHECK(r.json && !strcmp(r.segment, "lab"));
	CHECK_EQ(r.place_keys,
		 IVNETD_PLK_POLICY | IVNETD_PLK_PIN | IVNETD_PLK_CPUS | IVNETD_PLK_SCHED);
	CHECK_CPUS(&r.place.cpus, "0-3,8");
	line = "placement set lab mlock=off";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), -1);
	line = "placement set lab policy=scatter";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), -1);
	line = "placement set lab";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), -1);
	line = "-j placement";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), 0);
	CHECK(r.verb == IVNETD_CTL_PLACEMENT_SHOW && !r.segment[0]);
	line = "placement show lab";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), 0);
	CHECK(r.verb == IVNETD_CTL_PLACEMENT_SHOW && !strcmp(r.segment, "lab"));
	line = "-j topology";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), 0);
	CHECK_EQ(r.verb, IVNETD_CTL_TOPOLOGY);
	line = "topology lab";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), -1);
	line = "peer label lab 2 name=vm qmp=/run/vm.qmp";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), 0);
	CHECK(!strcmp(r.qmp, "/run/vm.qmp"));
	line = "peer label lab 2 qmp=run/vm.qmp";
	CHECK_EQ(ivnetd_ctl_parse(line, strlen(line), &r, err, sizeof(err)), -1);
}

static void test_vcpu_names(void)
{
	CHECK_EQ(ivnetd_vcpu_of_name("CPU 0/KVM"), 0);
	CHECK_EQ(ivnetd_vcpu_of_name("CPU 17/TCG"), 17);
	CHECK_EQ(ivnetd_vcpu_of_name("ALL CPUs/TCG"), 0);
	CHECK_EQ(ivnetd_vcpu_of_name("CPU 4095/KVM"), 4095);
	CHECK_EQ(ivnetd_vcpu_of_name("CPU 4096/KVM"), -1);
	CHECK_EQ(ivnetd_vcpu_of_name("CPU /KVM"), -1);
	CHECK_EQ(ivnetd_vcpu_of_name("CPU 1/KVM "), -1);
	CHECK_EQ(ivnetd_vcpu_of_name("CPU -1/KVM"), -1);
	CHECK_EQ(ivnetd_vcpu_of_name("qemu-system-x86"), -1);
	CHECK_EQ(ivnetd_vcpu_of_name("CPU 1/HVF"), -1);
}

static int qmp(const char *s, struct ivnetd_qmp_cpu *cpus, int *n, char *err)
{
	return ivnetd_qmp_parse(s, strlen(s), cpus, 4, n, err, 160);
}

static void test_qmp(void)
{
	struct ivnetd_qmp_cpu c[4];
	char err[160];
	int n;

	CHECK_EQ(qmp("{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r", c, &n, err),
		 IVNETD_QMP_GREETING);
	CHECK_EQ(qmp("{\"return\": {}}", NULL, &n, err), IVNETD_QMP_RETURN);
	CHECK_EQ(
		qmp("{\"event\": \"STOP\", \"data\": {\"a\": [1, 2.5e3, true, null, \"\\u00e9\"]}}",
		    c, &n, err),
		IVNETD_QMP_EVENT);
	CHECK_EQ(qmp("{\"return\": [{\"cpu-index\": 1, \"props\": {\"thread-id\": 0}, "
		     "\"thread-id\": 77}, {\"thread-id\": 78, \"cpu-index\": 0}]}",
		     c, &n, err),
		 IVNETD_QMP_RETURN);
	CHECK_EQ(n, 2);
	CHECK(c[0].index == 1 && c[0].tid == 77 && c[1].index == 0 && c[1].tid == 78);
	CHECK_EQ(qmp("{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}", c, &n, err),
		 IVNETD_QMP_ERROR);
	CHECK(strstr(err, "GenericError: no"));
	/* refused, each with a reason */
	static const char *const bad[] = {
		"",
		"[]",
		"{\"return\": [{\"cpu-index\": 0}]}",
		"{\"return\": [{\"cpu-index\": 0, \"thread-id\": 0}]}",
		"{\"return\": [{\"cpu-index\": -1, \"thread-id\": 5}]}",
		"{\"return\": [{\"cpu-index\": 0, \"thread-id\": 5.5}]}",
		"{\"return\": [{\"cpu-index\": 0, \"thread-id\": 99999999999999999999}]}",
		"{\"return\": [{\"cpu-index\": 0, \"thread-id\": 5, \"thread-id\": 6}]}",
		"{\"return\": [{\"cpu-index\": 0, \"thread-id\": 5}, {\"cpu-index\": 0, "
		"\"thread-id\": 6}]}",
		"{\"return\": [{\"cpu-index\": 0, \"thread-id\": \"5\"}]}",
		"{\"return\": [1,2,3,4,5]}",
		"{\"return\": [{\"cpu-index\": 0, \"thread-id\": 1}, {\"cpu-index\": 1, "
		"\"thread-id\": 2}, {\"cpu-index\": 2, \"thread-id\": 3}, {\"cpu-index\": 3, "
		"\"thread-id\": 4}, {\"cpu-index\": 4, \"thread-id\": 5}]}",
		"{\"return\": {}, \"event\": \"X\"}",
		"{\"return\": {}} x",
		"{\"return\": {}",
		"{\"return\": \"\\x\"}",
		"{\"return\": \"a\nb\"}",
		"{\"return\": [[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]}",
		"{\"return\": 01}",
		"{\"return\": tru}",
		"{\"a\": 1}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (qmp(bad[i], c, &n, err) != -1 || !err[0]) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			exit(1);
		}
	}
}

/* The library in-process: a placed segment tells its domain (for host
 * threads that serve it); an unplaced one says it has none. */
static void test_daemon_domain(void)
{
	static struct ivnetd d;
	struct ivnetd_config cfg;
	struct ivnetd_topo t;
	struct ivnetd_plan pl;
	struct ivnetd_cpus cpus;
	char dir[] = "/tmp/ivnet-pl-XXXXXX", err[160];
	int node;

	CHECK(mkdtemp(dir));
	ivnetd_config_defaults(&cfg);
	cfg.foreground = 1;
	snprintf(cfg.log_path, sizeof(cfg.log_path), "/dev/null");
	snprintf(cfg.seg[0].socket_path, sizeof(cfg.seg[0].socket_path), "%s/a.sock", dir);
	snprintf(cfg.control_path, sizeof(cfg.control_path), "%s/a.ctl", dir);
	cfg.seg[0].size = 1 << 20;
	cfg.seg[0].place.policy = IVNETD_POLICY_SPREAD;
	cfg.seg[0].place.mlock = IVNETD_MLOCK_OFF;
	ivnetd_segment_defaults(&cfg.seg[1]);
	snprintf(cfg.seg[1].name, sizeof(cfg.seg[1].name), "b");
	snprintf(cfg.seg[1].socket_path, sizeof(cfg.seg[1].socket_path), "%s/b.sock", dir);
	cfg.seg[1].size = 1 << 20;
	cfg.nseg = 2;
	CHECK_EQ(ivnetd_start(&d, &cfg), 0);
	CHECK_EQ(ivnetd_topo_read("", &t, err, sizeof(err)), 0);
	plan(&t, F(&t.online), -1, &pl);
	CHECK_EQ(ivnetd_placement_domain(d.seg[0].pl, &cpus, &node), 0);
	CHECK(cpus_equal(&cpus, &pl.domain));
	CHECK_EQ(node, t.numa ? pl.node : -1);
	CHECK_EQ(ivnetd_placement_domain(d.seg[1].pl, &cpus, &node), -1);
	ivnetd_stop(&d);
	ivnetd_topo_free(&t);
	CHECK_EQ(rmdir(dir), 0); /* sockets removed at stop */
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_placement FIXTURES_DIR\n");
		return 2;
	}
	fixtures = argv[1];
	test_cpulist();
	test_epyc();
	test_xeon();
	test_vm();
	test_bad_trees();
	test_options();
	test_ctl();
	test_vcpu_names();
	test_qmp();
	test_daemon_domain();
	printf("ok\n");
	return 0;
}

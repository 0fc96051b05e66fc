// SPDX-License-Identifier: MIT
/*
 * The broker's parsers: ivshmem-server flags and long options, --segment
 * specs, sizes, and control-socket requests, accepted and refused.
 */
#include <stdio.h>

#include <string.h>

#include "cpus.h"
#include "ivnetd.h"
#include "size.h"
#include "testlib.h"

static int parse(struct ivnetd_config *c, const char *const *argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return ivnetd_parse_args(c, argc, (char **)argv);
}

static void test_ivshmem_flags(void)
{
	static const char *const argv[] = {
		"ivnetd", "-F", "-v", "-S", "/tmp/a.sock", "-M",	 "/shm-a", "-l",
		"5M",	  "-n", "4",  "-p", "/tmp/a.pid",  "--unsealed", NULL};
	struct ivnetd_config c;

	CHECK_EQ(parse(&c, argv), 0);
	CHECK(c.seg[0].unsealed);
	CHECK(c.foreground && c.verbose);
	CHECK(!strcmp(c.seg[0].socket_path, "/tmp/a.sock"));
	CHECK_EQ(c.seg[0].backing, IVNET_BACKING_SHM);
	CHECK(!strcmp(c.seg[0].shm_path, "/shm-a"));
	CHECK_EQ(c.seg[0].size, 5ULL << 20); /* rounded up when the segment starts */
	CHECK_EQ(c.seg[0].vectors, 4);
	CHECK(!strcmp(c.pid_file, "/tmp/a.pid"));
	CHECK(!strcmp(c.control_path, "/tmp/a.sock.ctl"));
}

static void test_long_options(void)
{
	static const char *const argv[] = {
		"ivnetd",
		"-F",
		"--name",
		"lab",
		"--max-peers",
		"4",
		"--hugepages",
		"--numa-node",
		"0",
		"--mac-base",
		"52:54:00:12:34:00",
		"--allow-uid",
		"0:1000",
		"--allow-gid",
		"27",
		"--socket-mode",
		"0660",
		"--slot-size",
		"4096",
		"--ring-slots",
		"256",
		"--control",
		"/tmp/ctl",
		"--segment",
		"name=b,socket=/tmp/b.sock,size=1G,peers=16,dir=/dev/hugepages,unsealed",
		NULL};
	struct ivnetd_config c;

	CHECK_EQ(parse(&c, argv), 0);
	CHECK_EQ(c.nseg, 2);
	CHECK(!strcmp(c.seg[0].name, "lab"));
	CHECK_EQ(c.seg[0].max_peers, 4);
	CHECK(c.seg[0].hugepages && c.seg[0].backing == IVNET_BACKING_MEMFD);
	CHECK_EQ(c.seg[0].numa_node, 0);
	CHECK(c.seg[0].mac_base_set && c.seg[0].mac_base[0] == 0x52 &&
	      c.seg[0].mac_base[4] == 0x34);
	CHECK_EQ(c.seg[0].n_allow_uid, 2);
	CHECK_EQ(c.seg[0].allow_uid[1], 1000);
	CHECK_EQ(c.seg[0].allow_gid[0], 27);
	CHECK_EQ(c.seg[0].socket_mode, 0660);
	CHECK_EQ(c.seg[0].slot_size, 4096);
	CHECK_EQ(c.seg[0].max_slots, 256);
	CHECK(!strcmp(c.control_path, "/tmp/ctl"));
	CHECK(!strcmp(c.seg[1].name, "b"));
	CHECK_EQ(c.seg[1].size, 1ULL << 30);
	CHECK_EQ(c.seg[1].max_peers, 16);
	CHECK_EQ(c.seg[1].backing, IVNET_BACKING_FILE);
	CHECK(!strcmp(c.seg[1].shm_path, "/dev/hugepages"));
	CHECK(!c.seg[0].unsealed && c.seg[1].unsealed);
}

static void test_refusals(void)
{
	static const char *const bad[][7] = {
		{"ivnetd", "-n", "1", NULL}, /* ivnet needs control + rx */
		{"ivnetd", "-n", "65", NULL},
		{"ivnetd", "-l", "12Q", NULL},
		{"ivnetd", "-l", "0", NULL},
		{"ivnetd", "--max-peers", "65", NULL},
		{"ivnetd", "--max-peers", "1", NULL},
		{"ivnetd", "--mac-base", "01:00:00:00:00:00", NULL}, /* multicast */
		{"ivnetd", "--mac-base", "zz", NULL},
		{"ivnetd", "--socket-mode", "999", NULL},
		{"ivnetd", "--segment", "socket=/tmp/x,bogus=1", NULL},
		{"ivnetd", "--segment", "name=x", NULL},		     /* no socket */
		{"ivnetd", "--segment", "socket=/tmp/ivshmem_socket", NULL}, /* clash */
		{"ivnetd", "extra", NULL},
		/* backings that cannot be sealed, without --unsealed */
		{"ivnetd", "-M", "/shm-a", NULL},
		{"ivnetd", "-m", "/dev/hugepages", NULL},
		{"ivnetd", "--segment", "socket=/tmp/x,shm=/x", NULL},
		{"ivnetd", "--segment", "socket=/tmp/x,dir=/tmp,unsealed=0", NULL},
		{"ivnetd", "--segment", "socket=/tmp/x,dir=/tmp,unsealed=2", NULL},
		{"ivnetd", "-M", "/shm-a", "--unsealed", "--segment", "socket=/tmp/x,shm=/x", NULL},
		{"ivnetd", "-X", NULL},
	};
	struct ivnetd_config c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(&c, bad[i]) != -1) {
			fprintf(stderr, "accepted bad arguments #%zu (%s %s)\n", i, bad[i][1],
				bad[i][2] ? bad[i][2] : "");
			exit(1);
		}
	}
}

static void test_sizes(void)
{
	uint64_t v;

	CHECK(host_parse_size("4194304", &v) == 0 && v == 4194304);
	CHECK(host_parse_size("4M", &v) == 0 && v == 4ULL << 20);
	CHECK(host_parse_size("512k", &v) == 0 && v == 512ULL << 10);
	CHECK(host_parse_size("2GB", &v) == 0 && v == 2ULL << 30);
	CHECK(host_parse_size("1T", &v) == 0 && v == 1ULL << 40);
	CHECK(host_parse_size("", &v) < 0);
	CHECK(host_parse_size("-1", &v) < 0);
	CHECK(host_parse_size("1MM", &v) < 0);
	CHECK(host_parse_size("99999999999999999999", &v) < 0);
	CHECK(host_parse_size("20000000T", &v) < 0);
}

/* The list parser both CPU sets (cpus.h) and ivnet-libvirt's byte maps
 * are filled by: ranges in order, the bound the caller's. */
static void test_cpulist_ranges(void)
{
	static const char *const bad[] = {"4096", "1,", ",1", "0-4096", "2-1", "1\n\n", "1 "};
	const char *p = "0-3,7,4000-4095\n";
	char buf[32];
	size_t len = 0, i;
	int lo, hi;

	CHECK_EQ(cpulist_range(&p, 4096, &lo, &hi), 1);
	CHECK(lo == 0 && hi == 3);
	CHECK_EQ(cpulist_range(&p, 4096, &lo, &hi), 1);
	CHECK(lo == 7 && hi == 7);
	CHECK_EQ(cpulist_range(&p, 4096, &lo, &hi), 1);
	CHECK(lo == 4000 && hi == 4095);
	CHECK_EQ(cpulist_range(&p, 4096, &lo, &hi), 0);
	p = "0-3,4000";
	CHECK_EQ(cpulist_range(&p, 1024, &lo, &hi), 1);
	CHECK_EQ(cpulist_range(&p, 1024, &lo, &hi), -1); /* past this caller's set */
	p = "";
	CHECK_EQ(cpulist_range(&p, 4096, &lo, &hi), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = bad[i];
		while ((lo = cpulist_range(&p, 4096, &lo, &hi)) > 0)
			;
		if (lo != -1) {
			fprintf(stderr, "cpulist '%s' accepted\n", bad[i]);
			exit(1);
		}
	}
	CHECK_EQ(cpulist_put_range(buf, sizeof(buf), &len, 0, 3), 0);
	CHECK_EQ(cpulist_put_range(buf, sizeof(buf), &len, 7, 7), 0);
	CHECK_EQ(cpulist_put_range(buf, sizeof(buf), &len, 4000, 4095), 0);
	CHECK(!strcmp(buf, "0-3,7,4000-4095"));
	CHECK_EQ(cpulist_put_range(buf, 18, &len, 4096, 4097), -1);
	CHECK(!strcmp(buf, "0-3,7,4000-4095")); /* what fitted stays whole */
}

static void test_requests(void)
{
	static const struct {
		const char *line;
		int ok;
		enum ivnetd_ctl_verb verb;
		int json;
		const char *segment;
	} cases[] = {
		{"status\n", 1, IVNETD_CTL_STATUS, 0, ""},
		{"-j status", 1, IVNETD_CTL_STATUS, 1, ""},
		{"segment show\n", 1, IVNETD_CTL_SEGMENT_SHOW, 0, ""},
		{"-j\tpeer  list lab\n", 1, IVNETD_CTL_PEER_LIST, 1, "lab"},
		{"stats seg-1.a\n", 1, IVNETD_CTL_STATS, 0, "seg-1.a"},
		{"help\n", 1, IVNETD_CTL_HELP, 0, ""},
		{"peer label lab 3 name=vm1 uuid=abc-123\n", 1, IVNETD_CTL_PEER_LABEL, 0, "lab"},
		{"-j peer label lab pid=4242 name=vm1\n", 1, IVNETD_CTL_PEER_LABEL, 1, "lab"},
		{"-j peer uplink lab 5 on\n", 1, IVNETD_CTL_PEER_UPLINK, 1, "lab"},
		{"peer uplink lab 5 off\n", 1, IVNETD_CTL_PEER_UPLINK, 0, "lab"},
		{"peer uplink lab 5\n", 0, 0, 0, ""},
		{"peer uplink lab 5 yes\n", 0, 0, 0, ""},
		{"peer uplink lab 64 on\n", 0, 0, 0, ""},
		{"", 0, 0, 0, ""},
		{"-j\n", 0, 0, 0, ""},
		{"status extra\n", 0, 0, 0, ""},
		{"peer list a b\n", 0, 0, 0, ""},
		{"peer list a/b\n", 0, 0, 0, ""},
		{"peer label lab 64\n", 0, 0, 0, ""},
		{"peer label lab x\n", 0, 0, 0, ""},
		{"peer label lab 1 name=a;b\n", 0, 0, 0, ""},
		{"peer label lab 1 role=x\n", 0, 0, 0, ""},
		{"peer label lab pid=0 name=a\n", 0, 0, 0, ""},
		{"peer label lab pid= name=a\n", 0, 0, 0, ""},
		{"peer label lab pid=-3\n", 0, 0, 0, ""},
		{"peer label lab pid=2147483648\n", 0, 0, 0, ""},
		{"peer label lab pid=99999999999999999999999\n", 0, 0, 0, ""},
		{"peer label lab pid=12x\n", 0, 0, 0, ""},
		{"peer label lab uid=12\n", 0, 0, 0, ""},
		{"stats \x01\n", 0, 0, 0, ""},
		{"stats \xc3\xa9\n", 0, 0, 0, ""},
		{"a b c d e f g h i\n", 0, 0, 0, ""},
		{"frobnicate\n", 0, 0, 0, ""},
	};
	struct ivnetd_ctl_request r;
	char err[160], big[IVNETD_CTL_LINE_MAX + 10];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = ivnetd_ctl_parse(cases[i].line, strlen(cases[i].line), &r, err,
					   sizeof(err));

		if ((ret == 0) != cases[i].ok) {
			fprintf(stderr, "request #%zu '%s': %s\n", i, cases[i].line,
				ret ? err : "accepted");
			exit(1);
		}
		if (!cases[i].ok) {
			CHECK(err[0]);
			continue;
		}
		CHECK_EQ(r.verb, cases[i].verb);
		CHECK_EQ(r.json, cases[i].json);
		CHECK(!strcmp(r.segment, cases[i].segment));
	}
	CHECK_EQ(ivnetd_ctl_parse("peer label lab 3 name=vm1 uuid=abc-123", 38, &r, err, 160), 0);
	CHECK_EQ(r.peer_id, 3);
	CHECK(!strcmp(r.label, "vm1") && !strcmp(r.uuid, "abc-123"));
	CHECK_EQ(r.pid, 0);
	CHECK_EQ(ivnetd_ctl_parse("peer label lab pid=2147483647 uuid=u-1", 38, &r, err, 160), 0);
	CHECK_EQ(r.pid, 2147483647);
	CHECK_EQ(r.peer_id, 0);
	CHECK(!r.label[0] && !strcmp(r.uuid, "u-1"));
	CHECK_EQ(ivnetd_ctl_parse("peer uplink lab 7 on", 20, &r, err, 160), 0);
	CHECK_EQ(r.peer_id, 7);
	CHECK_EQ(r.uplink, 1);
	memset(big, 'a', sizeof(big));
	CHECK(ivnetd_ctl_parse(big, sizeof(big), &r, err, sizeof(err)) < 0);
	CHECK(strstr(err, "too long"));
}

int main(void)
{
	test_ivshmem_flags();
	test_long_options();
	test_refusals();
	test_sizes();
	test_cpulist_ranges();
	test_requests();
	printf("test_host_parse: ok\n");
	return 0;
}

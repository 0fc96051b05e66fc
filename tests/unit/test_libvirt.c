// SPDX-License-Identifier: MIT
/*
 * test_libvirt - ivnet-libvirt's pure parts: CPU lists and pin plans, the
 * <shmem> devices it writes and finds (a segment's and its admin device),
 * <cputune> edits, the label words,
 * and the parsers of ivnetd's JSON answers (segments, placement), hostile
 * answers included. libvirt itself is exercised by
 * tests/integration/test_libvirt.py (test driver) and tests/e2e.
 */
#include <libxml/parser.h>

#include "ivlv.h"
#include "testlib.h"

static xmlDocPtr parse(const char *xml)
{
	xmlDocPtr d = xmlReadMemory(xml, (int)strlen(xml), "t.xml", NULL, XML_PARSE_NONET);

	CHECK(d);
	return d;
}

static char *dump(xmlDocPtr d)
{
	xmlChar *s;
	int n;

	xmlDocDumpMemory(d, &s, &n);
	CHECK(s);
	return (char *)s;
}

static void test_cpulist(void)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{"0", "0"},   {"0-3", "0-3"},	  {"3,1,2", "1-3"}, {"0-1,5,7-8", "0-1,5,7-8"},
		{"15", "15"}, {"2,2,2-3", "2-3"},
	};
	static const char *const bad[] = {"",	 "-1", "1-", "3-1", "a",    "1,,2",
					  "1;2", " 1", "1 ", "16",  "0-16", "99999999999999999999",
					  "1,"};
	unsigned char map[IVLV_CPUS_MAX / 8];
	char err[IVLV_ERRLEN], buf[64];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_EQ(ivlv_cpulist_parse(good[i].in, map, 16, err, sizeof(err)), 0);
		ivlv_cpulist_format(map, IVLV_CPUS_MAX, buf, sizeof(buf));
		if (strcmp(buf, good[i].out)) {
			fprintf(stderr, "cpulist '%s' -> '%s', want '%s'\n", good[i].in, buf,
				good[i].out);
			exit(1);
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (ivlv_cpulist_parse(bad[i], map, 16, err, sizeof(err)) == 0) {
			fprintf(stderr, "cpulist '%s' accepted\n", bad[i]);
			exit(1);
		}
		CHECK(err[0]);
	}
	CHECK(ivlv_cpulist_parse("0-16", map, 16, err, sizeof(err)) < 0);
	CHECK(strstr(err, "CPU 16 is not on this host (CPUs 0-15)"));
	/* libvirt's maps hold 4096 CPUs, more than util's sets: one parser,
	 * each caller's bound */
	CHECK_EQ(ivlv_cpulist_parse("1,4000-4095", map, 4096, err, sizeof(err)), 0);
	ivlv_cpulist_format(map, IVLV_CPUS_MAX, buf, sizeof(buf));
	CHECK(!strcmp(buf, "1,4000-4095"));
	CHECK(ivlv_cpulist_parse("4096", map, 8192, err, sizeof(err)) < 0);
	CHECK(strstr(err, "bad CPU list"));
	CHECK_EQ(ivlv_cpulist_parse("0-3\n", map, 16, err, sizeof(err)), 0);
}

static void test_pin_plan(void)
{
	struct ivlv_pin pin = {.policy = IVLV_PIN_SPREAD};
	unsigned char map[IVLV_CPUS_MAX / 8];
	char err[IVLV_ERRLEN], buf[64];
	static const char *const spread[] = {"2", "5", "6", "2", "5"};
	unsigned i;

	CHECK_EQ(ivlv_cpulist_parse("2,5-6", pin.cpus, 8, err, sizeof(err)), 0);
	pin.ncpus = 3;
	for (i = 0; i < 5; i++) {
		ivlv_pin_vcpu(&pin, i, map);
		ivlv_cpulist_format(map, IVLV_CPUS_MAX, buf, sizeof(buf));
		CHECK(!strcmp(buf, spread[i]));
	}
	pin.policy = IVLV_PIN_PACK;
	for (i = 0; i < 3; i++) {
		ivlv_pin_vcpu(&pin, i, map);
		ivlv_cpulist_format(map, IVLV_CPUS_MAX, buf, sizeof(buf));
		CHECK(!strcmp(buf, "2,5-6"));
	}
}

static const char domain_xml[] =
	"<domain type='kvm'><name>vm1</name><vcpu placement='static'>3</vcpu>"
	"<cputune><shares>2048</shares><vcpupin vcpu='0' cpuset='7'/>"
	"<emulatorpin cpuset='7'/></cputune>"
	"<devices><disk type='file'/>"
	"<shmem name='other'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>"
	"<shmem name='seg&amp;1'><model type='ivshmem-doorbell'/>"
	"<server path='/run/ivnet/a b.sock'/><msi vectors='4' ioeventfd='on'/></shmem>"
	"</devices></domain>";

static void test_shmem(void)
{
	xmlDocPtr d = parse(domain_xml);
	struct ivlv_shmem s[4], one;
	xmlNodePtr dev;
	char *x;

	CHECK_EQ(ivlv_shmem_list(d, s, 4), 2);
	CHECK(!strcmp(s[0].name, "other") && !s[0].doorbell && !s[0].server[0]);
	CHECK(!strcmp(s[1].name, "seg&1") && s[1].doorbell && s[1].vectors == 4);
	CHECK(!strcmp(s[1].server, "/run/ivnet/a b.sock"));
	/* found by name, or by socket whatever its name */
	CHECK(ivlv_shmem_find(d, "seg&1", NULL, &one) && one.node == s[1].node);
	CHECK(ivlv_shmem_find(d, "x", "/run/ivnet/a b.sock", &one) && one.node == s[1].node);
	CHECK(!ivlv_shmem_find(d, "x", NULL, &one));
	CHECK(!ivlv_shmem_find(d, "x", "/run/other.sock", &one));

	/* what attach writes: names and paths escaped by libxml2 */
	dev = ivlv_shmem_new("ivnet", "/tmp/q'\"<&>.sock", 2);
	CHECK(dev);
	x = ivlv_node_xml(dev);
	CHECK(x);
	if (strcmp(x, "<shmem name=\"ivnet\">\n  <model type=\"ivshmem-doorbell\"/>\n"
		      "  <server path=\"/tmp/q'&quot;&lt;&amp;&gt;.sock\"/>\n"
		      "  <msi vectors=\"2\" ioeventfd=\"on\"/>\n</shmem>")) {
		fprintf(stderr, "device XML:\n%s\n", x);
		exit(1);
	}
	free(x);
	CHECK(xmlAddChild(ivlv_devices(d), dev));
	CHECK(ivlv_shmem_find(d, "ivnet", NULL, &one));
	CHECK(!strcmp(one.server, "/tmp/q'\"<&>.sock") && one.vectors == 2 && one.doorbell);

	/* its admin device: one vector, no ioeventfd, named apart from any
	 * segment (':' is no segment name's character) */
	dev = ivlv_shmem_admin_new("ivnet", "/tmp/q&.sock.admin");
	CHECK(dev);
	x = ivlv_node_xml(dev);
	CHECK(x);
	if (strcmp(x, "<shmem name=\"ivnet:admin\">\n  <model type=\"ivshmem-doorbell\"/>\n"
		      "  <server path=\"/tmp/q&amp;.sock.admin\"/>\n"
		      "  <msi vectors=\"1\"/>\n</shmem>")) {
		fprintf(stderr, "admin device XML:\n%s\n", x);
		exit(1);
	}
	free(x);
	CHECK(xmlAddChild(ivlv_devices(d), dev));
	CHECK(ivlv_shmem_find(d, "ivnet:admin", NULL, &one) && one.node == dev);
	CHECK(one.doorbell && one.vectors == 1 && !strcmp(one.server, "/tmp/q&.sock.admin"));
	/* the segment's device is not its admin device, by name or socket */
	CHECK(ivlv_shmem_find(d, "ivnet", "/tmp/q'\"<&>.sock", &one) && one.node != dev);
	CHECK(ivlv_shmem_find(d, "x", "/tmp/q&.sock.admin", &one) && one.node == dev);
	xmlFreeDoc(d);

	/* a domain without <devices> gets one */
	d = parse("<domain><name>x</name></domain>");
	CHECK(ivlv_devices(d) && ivlv_devices(d) == ivlv_devices(d));
	CHECK_EQ(ivlv_shmem_list(d, s, 4), 0);
	xmlFreeDoc(d);
	d = parse("<notadomain/>");
	CHECK(!ivlv_devices(d));
	CHECK_EQ(ivlv_shmem_list(d, s, 4), 0);
	xmlFreeDoc(d);
}

static void test_admin_name(void)
{
	char buf[IVLV_SHMEM_NAME_LEN];

	ivlv_admin_name("lva", buf, sizeof(buf));
	CHECK(!strcmp(buf, "lva:admin"));
	CHECK(ivlv_is_admin_name(buf));
	CHECK(ivlv_is_admin_name("a.b-c:admin"));
	/* segment names, which may end in "admin" or ".admin", are not */
	CHECK(!ivlv_is_admin_name("lva"));
	CHECK(!ivlv_is_admin_name("lva.admin"));
	CHECK(!ivlv_is_admin_name("admin"));
	CHECK(!ivlv_is_admin_name(":admin"));
	CHECK(!ivlv_is_admin_name("lva:admin2"));
}

static void test_cputune(void)
{
	struct ivlv_pin pin = {.policy = IVLV_PIN_SPREAD, .ncpus = 2};
	char err[IVLV_ERRLEN], *x;
	xmlDocPtr d = parse(domain_xml);

	CHECK_EQ(ivlv_cpulist_parse("0,2", pin.cpus, 4, err, sizeof(err)), 0);
	CHECK_EQ(ivlv_cputune_set(d, &pin, err, sizeof(err)), 0);
	x = dump(d);
	/* the old pins replaced, <shares> kept, one vcpupin per vCPU */
	if (!strstr(x, "<cputune><shares>2048</shares><vcpupin vcpu=\"0\" cpuset=\"0\"/>"
		       "<vcpupin vcpu=\"1\" cpuset=\"2\"/><vcpupin vcpu=\"2\" cpuset=\"0\"/>"
		       "<emulatorpin cpuset=\"0,2\"/></cputune>") ||
	    strstr(x, "cpuset=\"7\"")) {
		fprintf(stderr, "cputune:\n%s\n", x);
		exit(1);
	}
	xmlFree(x);
	xmlFreeDoc(d);

	/* none yet: one is made after <vcpu> */
	d = parse("<domain><name>x</name><vcpu>1</vcpu><devices/></domain>");
	pin.policy = IVLV_PIN_PACK;
	CHECK_EQ(ivlv_cputune_set(d, &pin, err, sizeof(err)), 0);
	x = dump(d);
	CHECK(strstr(x, "<vcpu>1</vcpu><cputune><vcpupin vcpu=\"0\" cpuset=\"0,2\"/>"
			"<emulatorpin cpuset=\"0,2\"/></cputune><devices/>"));
	xmlFree(x);
	xmlFreeDoc(d);

	d = parse("<domain><name>x</name><vcpu>lots</vcpu></domain>");
	CHECK(ivlv_cputune_set(d, &pin, err, sizeof(err)) < 0 && strstr(err, "<vcpu>"));
	xmlFreeDoc(d);
}

static void test_label_word(void)
{
	char out[8];

	ivlv_label_word("vm-1.a_b", out, sizeof(out));
	CHECK(!strcmp(out, "vm-1.a_"));
	ivlv_label_word("a b/é", out, sizeof(out));
	CHECK(!strcmp(out, "a_b___"));
}

static void test_parse_segments(void)
{
	static const char *const hostile[] = {
		"",
		"[]",
		"{}",
		"{\"segments\":{}}",
		"{\"segments\":[{\"name\":\"a\"}]}",
		"{\"segments\":[{\"name\":\"a\",\"socket\":\"/s\",\"size\":-1,\"vectors\":2}]}",
		"{\"segments\":[{\"name\":\"a\",\"socket\":\"/s\",\"size\":1,\"vectors\":\"2\"}]}",
		"{\"segments\":[{\"name\":\"\",\"socket\":\"/s\",\"size\":1,\"vectors\":2}]}",
		"{\"segments\":[{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"socket\":\"/"
		"s\","
		"\"size\":1,\"vectors\":2}]}",
		"{\"segments\":[{\"name\":\"a\\u0000b\",\"socket\":\"/"
		"s\",\"size\":1,\"vectors\":2}]}",
		"{\"segments\":[],\"segments\":[]}",
		"{\"segments\":[{\"name\":\"a\\nstatus\",\"socket\":\"/"
		"s\",\"size\":1,\"vectors\":2}]}",
		"{\"segments\":[{\"name\":\"a b\",\"socket\":\"/s\",\"size\":1,\"vectors\":2}]}",
		"{\"segments\":[{\"name\":\"a\",\"socket\":\"/"
		"s\\u001b[2J\",\"size\":1,\"vectors\":2}]}",
		"{\"segments\":[{\"name\":\"a\",\"socket\":\"/s\",\"size\":1,\"vectors\":2}",
	};
	struct ivlv_segment *s;
	char err[IVLV_ERRLEN];
	size_t i;
	int n;

	CHECK_EQ(ivlv_parse_segments("{\"segments\":[{\"name\":\"a\",\"socket\":\"/x/a.sock\","
				     "\"size\":16777216,\"vectors\":2,\"peers\":0},{\"name\":\"b\","
				     "\"socket\":\"/x/b.sock\",\"size\":8388608,\"vectors\":4}]}\n",
				     &s, &n, err, sizeof(err)),
		 0);
	CHECK_EQ(n, 2);
	CHECK(!strcmp(s[0].name, "a") && !strcmp(s[0].socket, "/x/a.sock"));
	CHECK(s[0].size == 16u << 20 && s[0].vectors == 2);
	CHECK(!strcmp(s[1].name, "b") && s[1].size == 8u << 20 && s[1].vectors == 4);
	free(s);
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		err[0] = '\0';
		if (!ivlv_parse_segments(hostile[i], &s, &n, err, sizeof(err))) {
			fprintf(stderr, "segments answer #%zu accepted: %s\n", i, hostile[i]);
			exit(1);
		}
		CHECK(err[0] && !s && n == 0);
	}
	/* max_peers: 0 when the broker leaves it out, checked when it is there */
	CHECK_EQ(ivlv_parse_segments("{\"segments\":[{\"name\":\"p\",\"socket\":\"/p\","
				     "\"size\":1,\"vectors\":2,\"max_peers\":2},{\"name\":\"q\","
				     "\"socket\":\"/q\",\"size\":1,\"vectors\":2}]}",
				     &s, &n, err, sizeof(err)),
		 0);
	CHECK(n == 2 && s[0].max_peers == 2 && s[1].max_peers == 0);
	free(s);
	CHECK(ivlv_parse_segments("{\"segments\":[{\"name\":\"p\",\"socket\":\"/p\",\"size\":1,"
				  "\"vectors\":2,\"max_peers\":\"2\"}]}",
				  &s, &n, err, sizeof(err)) < 0);
	CHECK(strstr(err, "invalid max_peers") && !s);
	CHECK(ivlv_parse_segments("{\"segments\":[{\"name\":\"p\",\"socket\":\"/p\",\"size\":1,"
				  "\"vectors\":2,\"max_peers\":0}]}",
				  &s, &n, err, sizeof(err)) < 0);
	/* admin: "" when the broker leaves it out, a printable string if there */
	CHECK_EQ(
		ivlv_parse_segments("{\"segments\":[{\"name\":\"p\",\"socket\":\"/p\","
				    "\"admin\":\"/adm/p.a\",\"size\":1,\"vectors\":2},"
				    "{\"name\":\"q\",\"socket\":\"/q\",\"size\":1,\"vectors\":2}]}",
				    &s, &n, err, sizeof(err)),
		0);
	CHECK(n == 2 && !strcmp(s[0].admin, "/adm/p.a") && !s[1].admin[0]);
	free(s);
	for (i = 0; i < 3; i++) {
		static const char *const bad_admin[] = {"7", "\"\"", "\"/a\\u001b[2J\""};
		char ans[256];

		snprintf(ans, sizeof(ans),
			 "{\"segments\":[{\"name\":\"p\",\"socket\":\"/p\",\"admin\":%s,"
			 "\"size\":1,\"vectors\":2}]}",
			 bad_admin[i]);
		CHECK(ivlv_parse_segments(ans, &s, &n, err, sizeof(err)) < 0);
		CHECK(strstr(err, "invalid admin socket") && !s);
	}
	CHECK(ivlv_parse_segments("error: no segment 'x'\n", &s, &n, err, sizeof(err)) < 0);
	CHECK(!strcmp(err, "ivnetd: no segment 'x'"));
	CHECK(ivlv_parse_segments("{\"error\":\"busy\"}", &s, &n, err, sizeof(err)) < 0);
	CHECK(!strcmp(err, "ivnetd: busy"));
}

static void test_parse_placement(void)
{
	static const char answer[] =
		"{\"segments\":[{\"segment\":\"a\",\"policy\":\"pack\",\"mechanism\":\"affinity\","
		"\"cpus\":\"0-3\",\"node\":0,\"peers\":[1,2]},{\"segment\":\"b\",\"policy\":"
		"\"spread\",\"mechanism\":\"cpuset\",\"cpus\":\"4,6\",\"node\":1,\"peers\":[]},"
		"{\"segment\":\"c\",\"policy\":\"none\",\"mechanism\":\"affinity\",\"cpus\":\"\","
		"\"peers\":[]},{\"segment\":\"d\",\"policy\":\"sideways\",\"cpus\":\"1\"},"
		"{\"segment\":\"e\",\"policy\":\"pack\",\"cpus\":\"\"},"
		"{\"segment\":\"f\",\"policy\":\"pack\",\"cpus\":7}]}";
	struct ivlv_placement pl;
	char err[IVLV_ERRLEN];

	CHECK_EQ(ivlv_parse_placement(answer, "a", &pl, err, sizeof(err)), 0);
	CHECK(pl.policy == IVLV_PIN_PACK && !strcmp(pl.cpus, "0-3") && pl.node == 0);
	CHECK_EQ(ivlv_parse_placement(answer, "b", &pl, err, sizeof(err)), 0);
	CHECK(pl.policy == IVLV_PIN_SPREAD && !strcmp(pl.cpus, "4,6") && pl.node == 1);
	CHECK_EQ(ivlv_parse_placement(answer, "c", &pl, err, sizeof(err)), 0);
	CHECK(pl.policy == IVLV_PIN_NONE && pl.node == -1);
	CHECK(ivlv_parse_placement(answer, "d", &pl, err, sizeof(err)) < 0);
	CHECK(strstr(err, "unknown policy 'sideways'"));
	CHECK(ivlv_parse_placement(answer, "e", &pl, err, sizeof(err)) < 0);
	CHECK(strstr(err, "no cpus"));
	CHECK(ivlv_parse_placement(answer, "f", &pl, err, sizeof(err)) < 0);
	CHECK(strstr(err, "invalid cpus"));
	CHECK(ivlv_parse_placement(answer, "zz", &pl, err, sizeof(err)) < 0);
	CHECK(strstr(err, "no placement for segment 'zz'"));
	/* an ivnetd without placement, in JSON and in text */
	CHECK(ivlv_parse_placement("{\"error\":\"unknown request 'placement' (try: help)\"}\n", "a",
				   &pl, err, sizeof(err)) < 0);
	CHECK(strstr(err, "no placement") && strstr(err, "--pin CPULIST"));
	CHECK(ivlv_parse_placement("error: unknown request 'placement' (try: help)\n", "a", &pl,
				   err, sizeof(err)) < 0);
	CHECK(strstr(err, "no placement") && strstr(err, "--pin CPULIST"));
	CHECK(ivlv_parse_placement("{\"error\":\"no segment 'a'\"}", "a", &pl, err, sizeof(err)) <
	      0);
	CHECK(!strcmp(err, "ivnetd: no segment 'a'"));
	CHECK(ivlv_parse_placement("{\"segments\":7}", "a", &pl, err, sizeof(err)) < 0);
}

int main(void)
{
	test_cpulist();
	test_pin_plan();
	test_shmem();
	test_admin_name();
	test_cputune();
	test_label_word();
	test_parse_segments();
	test_parse_placement();
	xmlCleanupParser();
	printf("test_libvirt: ok\n");
	return 0;
}

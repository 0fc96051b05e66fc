// SPDX-License-Identifier: MIT
/*
 * test_vsw_parse - ivnet-vswitch's control requests and port specifications:
 * what is accepted, what each field becomes, and that bad input is refused
 * with a reason.
 */
#include "testlib.h"
#include "vswitch/ctl_parse.h"

static void test_requests(void)
{
	static const struct {
		const char *line;
		int ok;
		enum vsw_verb verb;
		int json;
	} cases[] = {
		{"status\n", 1, VSW_CTL_STATUS, 0},
		{"-j status", 1, VSW_CTL_STATUS, 1},
		{"-j\tport  list\n", 1, VSW_CTL_PORT_LIST, 1},
		{"stats\n", 1, VSW_CTL_STATS, 0},
		{"fdb show", 1, VSW_CTL_FDB_SHOW, 0},
		{"fdb flush", 1, VSW_CTL_FDB_FLUSH, 0},
		{"help", 1, VSW_CTL_HELP, 0},
		{"port del vm-1.a", 1, VSW_CTL_PORT_DEL, 0},
		{"port add vm1 vhost path=/run/vm1.sock", 1, VSW_CTL_PORT_ADD, 0},
		{"", 0, 0, 0},
		{"-j", 0, 0, 0},
		{"status now", 0, 0, 0},
		{"port list all", 0, 0, 0},
		{"port del", 0, 0, 0},
		{"port del a b", 0, 0, 0},
		{"port del a/b", 0, 0, 0},
		{"fdb", 0, 0, 0},
		{"stats \x01", 0, 0, 0},
		{"stats \xc3\xa9", 0, 0, 0},
		{"frobnicate", 0, 0, 0},
		{"a b c d e f g h i j k l m n o p q", 0, 0, 0},
	};
	struct vsw_request r;
	char err[160], big[VSW_CTL_LINE_MAX + 10];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = vsw_ctl_parse(cases[i].line, strlen(cases[i].line), &r, err, sizeof(err));

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
	}
	CHECK_EQ(vsw_ctl_parse("port del vm-1.a", 15, &r, err, sizeof(err)), 0);
	CHECK(!strcmp(r.name, "vm-1.a"));
	memset(big, 'a', sizeof(big));
	CHECK(vsw_ctl_parse(big, sizeof(big), &r, err, sizeof(err)) < 0);
	CHECK(strstr(err, "too long"));
}

static void test_specs(void)
{
	static const char *const bad[] = {
		"",
		"vm1",
		"vm1 tap path=/x",
		"vm/1 vhost path=/x",
		"abcdefghijabcdefghijabcdefghijabc vhost path=/x",
		"vm1 vhost",
		"vm1 vhost path=",
		"vm1 vhost path=/a,b",
		"vm1 vhost path=/a=b",
		"vm1 vhost path=/x path=/y",
		"vm1 vhost path=/x client=2",
		"vm1 vhost path=/x dev=net_tap0",
		"vm1 vhost path=/x junk",
		"up dpdk",
		"up dpdk dev=eth0",
		"up dpdk dev=tap0,iface=x",
		"up dpdk dev=0000:03:00.8",
		"up dpdk dev=net_tap0;reboot",
		"up dpdk path=/x",
		"seg ivnet",
		"seg ivnet socket=/s ctl=/a ctl=/b",
		"seg ivnet socket=/s client=1",
	};
	struct vsw_port_spec s;
	char err[160];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (vsw_spec_parse(bad[i], &s, err, sizeof(err)) == 0) {
			fprintf(stderr, "spec '%s' accepted\n", bad[i]);
			exit(1);
		}
		CHECK(err[0]);
	}
	CHECK_EQ(vsw_spec_parse("vm1 vhost path=/run/vm1.sock client=1", &s, err, sizeof(err)), 0);
	CHECK(!strcmp(s.name, "vm1") && s.kind == VSW_PORT_VHOST && s.client == 1);
	CHECK(!strcmp(s.path, "/run/vm1.sock"));
	CHECK_EQ(vsw_spec_parse("vm2 vhost path=/r", &s, err, sizeof(err)), 0);
	CHECK_EQ(s.client, 0);
	CHECK_EQ(vsw_spec_parse("up0 dpdk dev=0000:03:02.1", &s, err, sizeof(err)), 0);
	CHECK(s.kind == VSW_PORT_DPDK && !strcmp(s.dev, "0000:03:02.1"));
	CHECK_EQ(vsw_spec_parse("up1 dpdk dev=03:02.1,rx_q=1", &s, err, sizeof(err)), 0);
	CHECK_EQ(vsw_spec_parse("up2 dpdk dev=net_tap0,iface=dtap0", &s, err, sizeof(err)), 0);
	CHECK(!strcmp(s.dev, "net_tap0,iface=dtap0"));
	CHECK_EQ(vsw_spec_parse("seg ivnet socket=/run/ivnet.sock", &s, err, sizeof(err)), 0);
	CHECK(s.kind == VSW_PORT_IVNET && !strcmp(s.ctl, "/run/ivnet.sock.ctl"));
	CHECK_EQ(vsw_spec_parse("seg ivnet socket=/s ctl=none", &s, err, sizeof(err)), 0);
	CHECK(!s.ctl[0]);
	CHECK_EQ(vsw_spec_parse("seg ivnet ctl=/c socket=/s", &s, err, sizeof(err)), 0);
	CHECK(!strcmp(s.ctl, "/c") && !strcmp(s.path, "/s"));
	CHECK(!strcmp(vsw_kind_name(VSW_PORT_IVNET), "ivnet"));
	CHECK(vsw_is_pci_addr("0000:af:00.7", 12) && vsw_is_pci_addr("af:00.7", 7));
	CHECK(!vsw_is_pci_addr("0000:ag:00.7", 12) && !vsw_is_pci_addr("af:00:7", 7));
}

int main(void)
{
	test_requests();
	test_specs();
	printf("test_vsw_parse: ok\n");
	return 0;
}

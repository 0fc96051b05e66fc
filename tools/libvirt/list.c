// SPDX-License-Identifier: MIT
/*
 * list.c - `list [-j]`: which domains are on which segment, from their
 * definitions and running XML: every ivshmem-doorbell <shmem> with a
 * server socket, one line (or JSON object) per domain and device, through
 * the printer ivnetd uses (host/util/print.c), with the domain's pinning (from
 * its definition, or the running XML of a transient domain):
 *
 *   vm1 segment ivnet socket /run/ivnet/ivnet.sock vectors 2 config live state running
 *       vcpu0 0-3 vcpu1 0-3 emulator 0-3
 *   {"attachments":[{"domain":"vm1","uuid":"..","segment":"ivnet",
 *     "socket":"/run/ivnet/ivnet.sock","vectors":2,"config":true,"live":true,
 *     "state":"running","cputune":{"vcpupin":[{"vcpu":0,"cpuset":"0-3"},..],
 *     "emulatorpin":"0-3"}}]}
 */
#include <stdlib.h>
#include <string.h>

#include "ivlv.h"
#include "print.h"

#define DEVICES_MAX 64

struct row {
	struct ivlv_shmem dev;
	int config, live;
};

static const char *state_name(virDomainPtr dom)
{
	int state, reason;

	if (virDomainGetState(dom, &state, &reason, 0))
		return "unknown";
	switch (state) {
	case VIR_DOMAIN_RUNNING:
		return "running";
	case VIR_DOMAIN_BLOCKED:
		return "blocked";
	case VIR_DOMAIN_PAUSED:
		return "paused";
	case VIR_DOMAIN_SHUTDOWN:
		return "shutting-down";
	case VIR_DOMAIN_SHUTOFF:
		return "shutoff";
	case VIR_DOMAIN_CRASHED:
		return "crashed";
	case VIR_DOMAIN_PMSUSPENDED:
		return "suspended";
	default:
		return "unknown";
	}
}

/* The doc's devices into rows, merged with those already there when the
 * same device is in the definition and the running domain. */
static int collect(xmlDocPtr doc, struct row *rows, int n, int live)
{
	struct ivlv_shmem s[DEVICES_MAX];
	int k = doc ? ivlv_shmem_list(doc, s, DEVICES_MAX) : 0, i, j;

	for (i = 0; i < k; i++) {
		if (!s[i].doorbell || !s[i].server[0])
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(rows[j].dev.name, s[i].name) &&
			    !strcmp(rows[j].dev.server, s[i].server) &&
			    rows[j].dev.vectors == s[i].vectors)
				break;
		if (j == n) {
			if (n == DEVICES_MAX)
				break;
			memset(&rows[n], 0, sizeof(rows[n]));
			rows[n++].dev = s[i];
		}
		if (live)
			rows[j].live = 1;
		else
			rows[j].config = 1;
	}
	return n;
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	for (n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name))
			return n;
	return NULL;
}

static void show_cputune(struct pr *p, xmlDocPtr doc)
{
	xmlNodePtr tune = doc ? child(xmlDocGetRootElement(doc), "cputune") : NULL, n;
	xmlChar *emu = NULL;

	pr_obj_open(p, "cputune");
	pr_arr_open(p, "vcpupin");
	for (n = tune ? tune->children : NULL; n; n = n->next) {
		xmlChar *vcpu, *set;
		unsigned long v;
		char *end;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (!xmlStrcmp(n->name, BAD_CAST "emulatorpin") && !emu)
			emu = xmlGetProp(n, BAD_CAST "cpuset");
		if (xmlStrcmp(n->name, BAD_CAST "vcpupin"))
			continue;
		vcpu = xmlGetProp(n, BAD_CAST "vcpu");
		set = xmlGetProp(n, BAD_CAST "cpuset");
		v = vcpu ? strtoul((const char *)vcpu, &end, 10) : 0;
		if (vcpu && set && *vcpu && !*end) {
			pr_obj_open(p, NULL);
			pr_u64(p, "vcpu", " vcpu%llu", v);
			pr_str(p, "cpuset", " %s", (const char *)set);
			pr_obj_close(p);
		}
		xmlFree(vcpu);
		xmlFree(set);
	}
	pr_arr_close(p);
	if (emu || p->json)
		pr_str(p, "emulatorpin", " emulator %s", emu ? (const char *)emu : "");
	xmlFree(emu);
	pr_obj_close(p);
}

static void show_domain(struct ivlv *c, struct pr *p, virDomainPtr dom)
{
	xmlDocPtr cfg = NULL, run = NULL;
	char uuid[VIR_UUID_STRING_BUFLEN] = "";
	struct row rows[DEVICES_MAX];
	const char *state = state_name(dom);
	int n = 0, i;

	/* A domain undefined while we list is skipped: ivlv_domain_xml's
	 * error is not the list's. */
	if (virDomainIsPersistent(dom) == 1)
		cfg = ivlv_domain_xml(c, dom, 1);
	if (virDomainIsActive(dom) == 1)
		run = ivlv_domain_xml(c, dom, 0);
	virDomainGetUUIDString(dom, uuid);
	n = collect(cfg, rows, n, 0);
	n = collect(run, rows, n, 1);
	for (i = 0; i < n; i++) {
		pr_obj_open(p, NULL);
		pr_str(p, "domain", "%s", virDomainGetName(dom));
		pr_str(p, "uuid", NULL, uuid);
		pr_str(p, "segment", " segment %s", rows[i].dev.name);
		pr_str(p, "socket", " socket %s", rows[i].dev.server);
		pr_u64(p, "vectors", " vectors %llu", rows[i].dev.vectors);
		pr_bool(p, "config", " config", rows[i].config);
		pr_bool(p, "live", " live", rows[i].live);
		pr_str(p, "state", " state %s", state);
		show_cputune(p, cfg ? cfg : run);
		pr_obj_close(p);
		pr_text(p, "\n");
	}
	xmlFreeDoc(cfg);
	xmlFreeDoc(run);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(virDomainGetName(*(virDomainPtr const *)a),
		      virDomainGetName(*(virDomainPtr const *)b));
}

int ivlv_list(struct ivlv *c, const struct ivlv_opts *o)
{
	virDomainPtr *doms = NULL;
	struct pr p;
	int n, i;

	if (ivlv_connect(c, o->uri))
		return -1;
	n = virConnectListAllDomains(c->conn, &doms, 0);
	if (n < 0)
		return ivlv_fail(c, "cannot list domains: %s", ivlv_libvirt_error());
	if (n > 1)
		qsort(doms, (size_t)n, sizeof(*doms), by_name);
	pr_init(&p, c->out, o->json);
	pr_obj_open(&p, NULL);
	pr_arr_open(&p, "attachments");
	for (i = 0; i < n; i++)
		show_domain(c, &p, doms[i]);
	pr_arr_close(&p);
	pr_obj_close(&p);
	for (i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
	return 0;
}

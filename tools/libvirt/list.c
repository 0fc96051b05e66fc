// SPDX-License-Identifier: MIT
/*
 * list.c - `list [-j]`: which domains are on which segment, from their
 * definitions and running XML: every ivshmem-doorbell <shmem> with a
 * server socket, one line (or JSON object) per domain and device, with the
 * socket of the segment's admin device (named SEGMENT:admin; "none" if the
 * domain has none, and never a line of its own), through
 * the printer ivnetd uses (host/util/print.c), with the domain's pinning (from
 * its definition, or the running XML of a transient domain), and whether the
 * segment is private (the broker, asked once if any device is listed, says
 * it takes two peers) with the other domain on it:
 *
 *   vm1 segment ivnet socket /run/ivnet/ivnet.sock vectors 2
 *       admin /run/ivnet/ivnet.sock.admin config live state running
 *       vcpu0 0-3 vcpu1 0-3 emulator 0-3
 *   vm1 segment pair socket /run/ivnet/pair.sock vectors 2 admin none config
 *       state running private-with vm2
 *   {"attachments":[{"domain":"vm1","uuid":"..","segment":"ivnet",
 *     "socket":"/run/ivnet/ivnet.sock","vectors":2,
 *     "admin":"/run/ivnet/ivnet.sock.admin","config":true,"live":true,
 *     "state":"running","private":false,"private_with":"",
 *     "cputune":{"vcpupin":[{"vcpu":0,"cpuset":"0-3"},..],"emulatorpin":"0-3"}}]}
 */
#include <stdlib.h>
#include <string.h>

#include "ivlv.h"
#include "print.h"

#define DEVICES_MAX 64

struct row {
	struct ivlv_shmem dev;
	char admin[IVLV_PATH_LEN + 1]; /* its admin device's socket, or "" */
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

/* The socket of segment's admin device among s, into row's if it has none. */
static void admin_of(const struct ivlv_shmem *s, int k, struct row *row)
{
	char name[IVLV_SHMEM_NAME_LEN];
	int i;

	ivlv_admin_name(row->dev.name, name, sizeof(name));
	for (i = 0; i < k && !row->admin[0]; i++)
		if (s[i].doorbell && !strcmp(s[i].name, name))
			memcpy(row->admin, s[i].server, sizeof(row->admin));
}

/* The doc's devices into rows, merged with those already there when the
 * same device is in the definition and the running domain. */
static int collect(xmlDocPtr doc, struct row *rows, int n, int live)
{
	struct ivlv_shmem s[DEVICES_MAX];
	int k = doc ? ivlv_shmem_list(doc, s, DEVICES_MAX) : 0, i, j;

	for (i = 0; i < k; i++) {
		if (!s[i].doorbell || !s[i].server[0] || ivlv_is_admin_name(s[i].name))
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
		admin_of(s, k, &rows[j]);
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

/* A domain's documents, read once for its rows and for its neighbours'. */
struct dom {
	virDomainPtr dom;
	xmlDocPtr cfg, run;
};

/* The segments the broker limits to two peers, if it answers: list needs
 * no broker, and says nothing of privacy without one. */
struct privacy {
	const char *ctl;
	int asked; /* the broker, once a device is listed */
	struct ivlv_segment *segs;
	int nseg;
	const struct dom *doms;
	int ndom;
};

static int is_private(struct privacy *pv, const struct ivlv_shmem *dev)
{
	char err[IVLV_ERRLEN];
	int i;

	if (!pv->asked && ivlv_broker_segments(pv->ctl, &pv->segs, &pv->nseg, err, sizeof(err)))
		pv->nseg = 0;
	pv->asked = 1;
	for (i = 0; i < pv->nseg; i++)
		if (!strcmp(pv->segs[i].socket, dev->server))
			return pv->segs[i].max_peers && pv->segs[i].max_peers <= IVLV_PRIVATE_PEERS;
	return 0;
}

/* The one other domain on dev's segment, or "" (none, or more than one). */
static const char *partner(const struct privacy *pv, int self, const struct ivlv_shmem *dev)
{
	const char *found = "";
	struct ivlv_shmem s;
	int i, k = 0;

	for (i = 0; i < pv->ndom; i++) {
		const struct dom *d = &pv->doms[i];

		if (i != self &&
		    ((d->cfg && ivlv_shmem_find(d->cfg, dev->name, dev->server, &s)) ||
		     (d->run && ivlv_shmem_find(d->run, dev->name, dev->server, &s)))) {
			found = virDomainGetName(d->dom);
			k++;
		}
	}
	return k == 1 ? found : "";
}

static void show_private(struct pr *p, struct privacy *pv, int self, const struct ivlv_shmem *dev)
{
	int priv = is_private(pv, dev);
	const char *with = priv ? partner(pv, self, dev) : "";

	pr_bool(p, "private", with[0] ? NULL : " private", priv);
	if (p->json || with[0])
		pr_str(p, "private_with", " private-with %s", with);
}

static void show_domain(struct pr *p, struct privacy *pv, int self)
{
	const struct dom *d = &pv->doms[self];
	char uuid[VIR_UUID_STRING_BUFLEN] = "";
	struct row rows[DEVICES_MAX];
	const char *state = state_name(d->dom);
	int n = 0, i;

	virDomainGetUUIDString(d->dom, uuid);
	n = collect(d->cfg, rows, n, 0);
	n = collect(d->run, rows, n, 1);
	for (i = 0; i < n; i++) {
		pr_obj_open(p, NULL);
		pr_str(p, "domain", "%s", virDomainGetName(d->dom));
		pr_str(p, "uuid", NULL, uuid);
		pr_str(p, "segment", " segment %s", rows[i].dev.name);
		pr_str(p, "socket", " socket %s", rows[i].dev.server);
		pr_u64(p, "vectors", " vectors %llu", rows[i].dev.vectors);
		pr_str(p, "admin", " admin %s",
		       rows[i].admin[0] || p->json ? rows[i].admin : "none");
		pr_bool(p, "config", " config", rows[i].config);
		pr_bool(p, "live", " live", rows[i].live);
		pr_str(p, "state", " state %s", state);
		show_private(p, pv, self, &rows[i].dev);
		show_cputune(p, d->cfg ? d->cfg : d->run);
		pr_obj_close(p);
		pr_text(p, "\n");
	}
}

/* A domain undefined while we list is skipped: ivlv_domain_xml's error is
 * not the list's. */
static void read_dom(struct ivlv *c, struct dom *d, virDomainPtr dom)
{
	d->dom = dom;
	d->cfg = virDomainIsPersistent(dom) == 1 ? ivlv_domain_xml(c, dom, 1) : NULL;
	d->run = virDomainIsActive(dom) == 1 ? ivlv_domain_xml(c, dom, 0) : NULL;
}

int ivlv_list(struct ivlv *c, const struct ivlv_opts *o)
{
	struct privacy pv = {.ctl = o->control};
	virDomainPtr *doms = NULL;
	struct dom *d;
	struct pr p;
	int n, i;

	if (ivlv_connect(c, o->uri))
		return -1;
	n = ivlv_domains(c, &doms);
	if (n < 0)
		return -1;
	d = calloc((size_t)n + 1, sizeof(*d));
	if (!d) {
		for (i = 0; i < n; i++)
			virDomainFree(doms[i]);
		free(doms);
		return ivlv_fail(c, "out of memory");
	}
	for (i = 0; i < n; i++)
		read_dom(c, &d[i], doms[i]);
	pv.doms = d;
	pv.ndom = n;
	pr_init(&p, c->out, o->json);
	pr_obj_open(&p, NULL);
	pr_arr_open(&p, "attachments");
	for (i = 0; i < n; i++)
		show_domain(&p, &pv, i);
	pr_arr_close(&p);
	pr_obj_close(&p);
	for (i = 0; i < n; i++) {
		xmlFreeDoc(d[i].cfg);
		xmlFreeDoc(d[i].run);
		virDomainFree(doms[i]);
	}
	free(pv.segs);
	free(d);
	free(doms);
	return 0;
}

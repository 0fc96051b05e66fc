// SPDX-License-Identifier: MIT
/*
 * domain.c - libvirt: the connection (kept across a batch's commands, so
 * that test:///default's in-memory state lives through them), domains and
 * their XML.
 *
 * Persistent changes are made by editing the definition and defining it
 * again, as virt-xml does: the device and the <cputune> that go with it land
 * in one definition, and it works with drivers that cannot attach devices
 * to a definition (the test driver). The definition is read with its
 * secrets (VIR_DOMAIN_XML_SECURE) so that defining it again keeps them.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "ivlv.h"

int ivlv_fail(struct ivlv *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* A copy: every libvirt call, virDomainGetName() in the same argument
 * list included, resets the error that virGetLastErrorMessage() points to. */
const char *ivlv_libvirt_error(void)
{
	static char msg[IVLV_ERRLEN];
	const char *m = virGetLastErrorMessage();

	snprintf(msg, sizeof(msg), "%s", m ? m : "unknown libvirt error");
	return msg;
}

int ivlv_connect(struct ivlv *c, const char *uri)
{
	const char *want = uri ? uri : "";

	if (c->conn && !strcmp(c->conn_uri, want))
		return 0;
	ivlv_disconnect(c);
	c->conn = virConnectOpen(uri);
	if (!c->conn)
		return ivlv_fail(c, "cannot connect to libvirt%s%s%s: %s", uri ? " at '" : "",
				 uri ? uri : "", uri ? "'" : "", ivlv_libvirt_error());
	c->conn_uri = strdup(want);
	if (!c->conn_uri) {
		ivlv_disconnect(c);
		return ivlv_fail(c, "out of memory");
	}
	return 0;
}

void ivlv_disconnect(struct ivlv *c)
{
	if (c->conn)
		virConnectClose(c->conn);
	c->conn = NULL;
	free(c->conn_uri);
	c->conn_uri = NULL;
}

/* By name, else by UUID, as virsh finds a domain. */
virDomainPtr ivlv_domain(struct ivlv *c, const char *name)
{
	virDomainPtr dom = virDomainLookupByName(c->conn, name);

	if (!dom && strlen(name) == VIR_UUID_STRING_BUFLEN - 1)
		dom = virDomainLookupByUUIDString(c->conn, name);
	if (!dom)
		ivlv_fail(c, "no domain '%s'", name);
	return dom;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(virDomainGetName(*(virDomainPtr const *)a),
		      virDomainGetName(*(virDomainPtr const *)b));
}

int ivlv_domains(struct ivlv *c, virDomainPtr **doms)
{
	int n = virConnectListAllDomains(c->conn, doms, 0);

	if (n < 0)
		return ivlv_fail(c, "cannot list domains: %s", ivlv_libvirt_error());
	if (n > 1)
		qsort(*doms, (size_t)n, sizeof(**doms), by_name);
	return n;
}

xmlDocPtr ivlv_domain_xml(struct ivlv *c, virDomainPtr dom, int inactive)
{
	unsigned flags = inactive ? VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE : 0;
	char *xml = virDomainGetXMLDesc(dom, flags);
	xmlDocPtr doc;

	if (!xml) {
		ivlv_fail(c, "%s: cannot read its XML: %s", virDomainGetName(dom),
			  ivlv_libvirt_error());
		return NULL;
	}
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	free(xml);
	if (!doc || !xmlDocGetRootElement(doc)) {
		xmlFreeDoc(doc);
		ivlv_fail(c, "%s: libvirt gave XML that does not parse", virDomainGetName(dom));
		return NULL;
	}
	return doc;
}

int ivlv_domain_define(struct ivlv *c, virDomainPtr dom, xmlDocPtr doc)
{
	xmlChar *xml = NULL;
	virDomainPtr again;
	int len;

	xmlDocDumpMemory(doc, &xml, &len);
	if (!xml)
		return ivlv_fail(c, "out of memory");
	/* VALIDATE: the definition is checked against libvirt's schema
	 * before it replaces the old one. */
	again = virDomainDefineXMLFlags(c->conn, (const char *)xml, VIR_DOMAIN_DEFINE_VALIDATE);
	xmlFree(xml);
	if (!again)
		return ivlv_fail(c, "%s: libvirt refused the new definition: %s",
				 virDomainGetName(dom), ivlv_libvirt_error());
	virDomainFree(again);
	return 0;
}

int ivlv_target_open(struct ivlv *c, const struct ivlv_opts *o, struct ivlv_target *t)
{
	memset(t, 0, sizeof(*t));
	t->config = o->config || !o->live;
	t->live = o->live;
	if (ivlv_connect(c, o->uri))
		return -1;
	t->dom = ivlv_domain(c, o->domain);
	if (!t->dom)
		return -1;
	if (t->config && virDomainIsPersistent(t->dom) != 1)
		return ivlv_fail(c, "%s is transient: it has no definition to change (use --live)",
				 o->domain);
	if (t->live && virDomainIsActive(t->dom) != 1)
		return ivlv_fail(c, "%s is not running (--live)", o->domain);
	if (t->config && !(t->cfg = ivlv_domain_xml(c, t->dom, 1)))
		return -1;
	if (t->live && !(t->run = ivlv_domain_xml(c, t->dom, 0)))
		return -1;
	return 0;
}

void ivlv_target_close(struct ivlv_target *t)
{
	xmlFreeDoc(t->cfg);
	xmlFreeDoc(t->run);
	if (t->dom)
		virDomainFree(t->dom);
	memset(t, 0, sizeof(*t));
}

const char *ivlv_where(int config, int live)
{
	return config && live ? "config, live" : config ? "config" : live ? "live" : "";
}

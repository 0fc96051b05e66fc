// SPDX-License-Identifier: MIT
/*
 * shmem.c - the <shmem> devices that put a domain on a segment, the
 * segment's and, after it, its admin device:
 *
 *   <shmem name='SEGMENT'>
 *     <model type='ivshmem-doorbell'/>
 *     <server path='SOCKET'/>
 *     <msi vectors='N' ioeventfd='on'/>
 *   </shmem>
 *   <shmem name='SEGMENT:admin'>
 *     <model type='ivshmem-doorbell'/>
 *     <server path='ADMIN_SOCKET'/>
 *     <msi vectors='1'/>
 *   </shmem>
 *
 * No <size>: the server hands QEMU the region, and libvirt refuses a size
 * for ivshmem-doorbell. The admin device rings no doorbell: one vector
 * (QEMU's least), no ioeventfd. Built and read with libxml2, never pasted
 * as text (names and paths are escaped by the serializer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ivlv.h"

#define DOORBELL "ivshmem-doorbell"

static int is_elem(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	for (n = parent ? parent->children : NULL; n; n = n->next)
		if (is_elem(n, name))
			return n;
	return NULL;
}

/* An attribute copied into dst; "" when absent or too long. */
static void attr(xmlNodePtr n, const char *name, char *dst, size_t len)
{
	xmlChar *v = n ? xmlGetProp(n, BAD_CAST name) : NULL;

	dst[0] = '\0';
	if (v && strlen((const char *)v) < len)
		strcpy(dst, (const char *)v);
	xmlFree(v);
}

xmlNodePtr ivlv_devices(xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), dev;

	if (!root || !is_elem(root, "domain"))
		return NULL;
	dev = child(root, "devices");
	return dev ? dev : xmlNewChild(root, NULL, BAD_CAST "devices", NULL);
}

static xmlNodePtr shmem_new(const char *name, const char *server, unsigned vectors, int ioeventfd)
{
	xmlNodePtr n = xmlNewNode(NULL, BAD_CAST "shmem"), m;
	char v[16];

	if (!n)
		return NULL;
	snprintf(v, sizeof(v), "%u", vectors);
	if (!xmlNewProp(n, BAD_CAST "name", BAD_CAST name))
		goto fail;
	m = xmlNewChild(n, NULL, BAD_CAST "model", NULL);
	if (!m || !xmlNewProp(m, BAD_CAST "type", BAD_CAST DOORBELL))
		goto fail;
	m = xmlNewChild(n, NULL, BAD_CAST "server", NULL);
	if (!m || !xmlNewProp(m, BAD_CAST "path", BAD_CAST server))
		goto fail;
	m = xmlNewChild(n, NULL, BAD_CAST "msi", NULL);
	if (!m || !xmlNewProp(m, BAD_CAST "vectors", BAD_CAST v) ||
	    (ioeventfd && !xmlNewProp(m, BAD_CAST "ioeventfd", BAD_CAST "on")))
		goto fail;
	return n;
fail:
	xmlFreeNode(n);
	return NULL;
}

xmlNodePtr ivlv_shmem_new(const char *name, const char *server, unsigned vectors)
{
	return shmem_new(name, server, vectors, 1);
}

void ivlv_admin_name(const char *segment, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s", segment, IVLV_ADMIN_TAG);
}

int ivlv_is_admin_name(const char *name)
{
	size_t n = strlen(name), k = strlen(IVLV_ADMIN_TAG);

	return n > k && !strcmp(name + n - k, IVLV_ADMIN_TAG);
}

xmlNodePtr ivlv_shmem_admin_new(const char *segment, const char *admin)
{
	char name[IVLV_SHMEM_NAME_LEN];

	ivlv_admin_name(segment, name, sizeof(name));
	return shmem_new(name, admin, IVLV_ADMIN_VECTORS, 0);
}

char *ivlv_node_xml(xmlNodePtr node)
{
	xmlBufferPtr buf = xmlBufferCreate();
	char *s = NULL;

	if (!buf)
		return NULL;
	if (xmlNodeDump(buf, node->doc, node, 0, 1) >= 0)
		s = strdup((const char *)xmlBufferContent(buf));
	xmlBufferFree(buf);
	return s;
}

static void shmem_read(xmlNodePtr n, struct ivlv_shmem *s)
{
	char model[32], vectors[16], *end;
	unsigned long v;

	memset(s, 0, sizeof(*s));
	s->node = n;
	attr(n, "name", s->name, sizeof(s->name));
	attr(child(n, "model"), "type", model, sizeof(model));
	/* libvirt's default model is ivshmem (the legacy one), not doorbell */
	s->doorbell = !strcmp(model, DOORBELL);
	attr(child(n, "server"), "path", s->server, sizeof(s->server));
	attr(child(n, "msi"), "vectors", vectors, sizeof(vectors));
	errno = 0;
	v = strtoul(vectors, &end, 10);
	s->vectors = vectors[0] && !*end && !errno && v <= 1024 ? (unsigned)v : 0;
}

int ivlv_shmem_list(xmlDocPtr doc, struct ivlv_shmem *out, int max)
{
	xmlNodePtr dev = child(xmlDocGetRootElement(doc), "devices"), n;
	int k = 0;

	for (n = dev ? dev->children : NULL; n && k < max; n = n->next)
		if (is_elem(n, "shmem"))
			shmem_read(n, &out[k++]);
	return k;
}

int ivlv_shmem_find(xmlDocPtr doc, const char *name, const char *server, struct ivlv_shmem *out)
{
	xmlNodePtr dev = child(xmlDocGetRootElement(doc), "devices"), n;

	for (n = dev ? dev->children : NULL; n; n = n->next) {
		if (!is_elem(n, "shmem"))
			continue;
		shmem_read(n, out);
		/* shmem names are unique in a domain; the socket says which
		 * segment, whatever the device is called */
		if (!strcmp(out->name, name) ||
		    (server && server[0] && out->doorbell && !strcmp(out->server, server)))
			return 1;
	}
	return 0;
}

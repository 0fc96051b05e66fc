// SPDX-License-Identifier: MIT
/*
 * private.c - `attach DOMAIN --segment NAME --private-with OTHER`: a
 * segment only two domains can be on.
 *
 * Every peer of a segment maps the whole region read/write, so a segment
 * is one trust domain. What keeps a pair from being overheard is the
 * segment's own limit, and only that: ivnetd refuses a third peer of a
 * two-peer segment (--segment ...,peers=2), and under libvirt's AppArmor
 * (or SELinux) confinement a QEMU reaches only the sockets its domain's
 * XML names. So the segment must take two peers, and no third domain may
 * name it: either would let a third QEMU in, or have it take a place the
 * pair needs.
 */
#include <stdlib.h>
#include <string.h>

#include "ivlv.h"

int ivlv_private_segment_ok(struct ivlv *c, const struct ivlv_segment *seg)
{
	if (!seg->max_peers)
		return ivlv_fail(c,
				 "segment %s: this ivnetd does not say how many peers it takes: "
				 "a private pair needs a broker that does",
				 seg->name);
	if (seg->max_peers > IVLV_PRIVATE_PEERS)
		return ivlv_fail(c,
				 "segment %s takes up to %u peers: a private pair needs a two-peer "
				 "segment (ivnetd --segment name=%s,socket=...,peers=2)",
				 seg->name, seg->max_peers, seg->name);
	return 0;
}

int ivlv_same_domain(virDomainPtr a, virDomainPtr b)
{
	unsigned char ua[VIR_UUID_BUFLEN], ub[VIR_UUID_BUFLEN];

	if (virDomainGetUUID(a, ua) || virDomainGetUUID(b, ub))
		return !strcmp(virDomainGetName(a), virDomainGetName(b));
	return !memcmp(ua, ub, sizeof(ua));
}

/* Whether doc has a device on seg: its own, or its admin device (a third
 * QEMU on the admin socket would see the pair's MACs and state). */
static int has_device(xmlDocPtr doc, const struct ivlv_segment *seg)
{
	char admin[IVLV_SHMEM_NAME_LEN];
	struct ivlv_shmem s;

	ivlv_admin_name(seg->name, admin, sizeof(admin));
	return ivlv_shmem_find(doc, seg->name, seg->socket, &s) ||
	       ivlv_shmem_find(doc, admin, seg->admin, &s);
}

/* "config", "live" or NULL: where dom has a device on seg. A document
 * libvirt cannot give is a domain going away, not a third peer. */
static const char *on_segment(struct ivlv *c, virDomainPtr dom, const struct ivlv_segment *seg)
{
	const char *where = NULL;
	xmlDocPtr doc;
	int inactive;

	for (inactive = 1; inactive >= 0 && !where; inactive--) {
		if ((inactive ? virDomainIsPersistent(dom) : virDomainIsActive(dom)) != 1)
			continue;
		doc = ivlv_domain_xml(c, dom, inactive);
		if (doc && has_device(doc, seg))
			where = inactive ? "config" : "live";
		xmlFreeDoc(doc);
	}
	return where;
}

/* How many domains but a and b (either may be NULL) have a device on seg;
 * the first two named in names ("X" or "X (config) and Y (live)"). */
static int others_on(struct ivlv *c, const struct ivlv_segment *seg, virDomainPtr a, virDomainPtr b,
		     char *names, size_t len)
{
	virDomainPtr *doms = NULL;
	const char *where;
	size_t off = 0;
	int n, i, k = 0;

	names[0] = '\0';
	n = ivlv_domains(c, &doms);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!(a && ivlv_same_domain(doms[i], a)) && !(b && ivlv_same_domain(doms[i], b)) &&
		    (where = on_segment(c, doms[i], seg)) && k++ < 2 && off < len)
			off += (size_t)snprintf(names + off, len - off, "%s%s (%s)",
						k > 1 ? " and " : "", virDomainGetName(doms[i]),
						where);
		virDomainFree(doms[i]);
	}
	free(doms);
	return k;
}

int ivlv_private_no_third(struct ivlv *c, const struct ivlv_segment *seg, virDomainPtr a,
			  virDomainPtr b)
{
	char names[2 * 300];
	int k = others_on(c, seg, a, b, names, sizeof(names));

	if (k > 0)
		return ivlv_fail(c,
				 "segment %s cannot be private to %s and %s: %s %s on it too: "
				 "detach %s first",
				 seg->name, virDomainGetName(a), virDomainGetName(b), names,
				 k > 1 ? "are" : "is", k > 1 ? "them" : "it");
	return k;
}

int ivlv_private_room(struct ivlv *c, const struct ivlv_segment *seg, virDomainPtr dom)
{
	char names[2 * 300];
	int k;

	if (!seg->max_peers || seg->max_peers > IVLV_PRIVATE_PEERS)
		return 0;
	k = others_on(c, seg, dom, NULL, names, sizeof(names));
	if (k >= (int)seg->max_peers)
		return ivlv_fail(c,
				 "segment %s takes %u peers and %s are on it: %s would be a third "
				 "(detach one first)",
				 seg->name, seg->max_peers, names, virDomainGetName(dom));
	return k < 0 ? -1 : 0;
}

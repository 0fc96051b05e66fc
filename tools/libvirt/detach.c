// SPDX-License-Identifier: MIT
/*
 * detach.c - `detach DOMAIN --segment NAME`: the segment's <shmem> and its
 * admin device out of the definition (--config, the default) and/or the
 * running domain (--live, PCI hot-unplugs).
 *
 * No broker is needed: the devices are found by their names (shmem.c); a
 * domain with one of the two loses that one. A domain that is on the
 * segment with neither where asked is an error (a mistyped name must not
 * pass for success). A hot-unplug needs the guest's consent (ACPI PCI
 * hot-plug): libvirt waits a few seconds for it, then we watch the live
 * XML a while longer before saying the guest has not let go.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ivlv.h"

#define UNPLUG_WAIT_MS 15000
#define UNPLUG_POLL_MS 200

#define NDEV 2 /* the segment's device, its admin device */

/* The domain's devices of the segment into s (segment first); how many. */
static int find_devices(xmlDocPtr doc, const char *segment, struct ivlv_shmem *s)
{
	char name[NDEV][IVLV_SHMEM_NAME_LEN];
	int i, n = 0;

	snprintf(name[0], sizeof(name[0]), "%s", segment);
	ivlv_admin_name(segment, name[1], sizeof(name[1]));
	for (i = 0; doc && i < NDEV; i++)
		n += ivlv_shmem_find(doc, name[i], NULL, &s[n]);
	return n;
}

static int still_there(struct ivlv *c, virDomainPtr dom, const char *segment)
{
	xmlDocPtr doc = ivlv_domain_xml(c, dom, 0);
	struct ivlv_shmem s[NDEV];
	int found;

	if (!doc)
		return -1;
	found = find_devices(doc, segment, s);
	xmlFreeDoc(doc);
	return found;
}

/* Every device asked to go (the admin device first: the reverse of attach),
 * then watched until the guest has let go of all. */
static int unplug(struct ivlv *c, virDomainPtr dom, const char *segment, const struct ivlv_shmem *s,
		  int n)
{
	struct timespec step = {.tv_nsec = UNPLUG_POLL_MS * 1000000L};
	int waited, ret, i;

	for (i = n - 1; i >= 0; i--) {
		char *xml = ivlv_node_xml(s[i].node);

		if (!xml)
			return ivlv_fail(c, "out of memory");
		ret = virDomainDetachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE);
		free(xml);
		if (ret)
			return ivlv_fail(c, "%s: cannot unplug the device %s: %s",
					 virDomainGetName(dom), s[i].name, ivlv_libvirt_error());
	}
	for (waited = 0; waited < UNPLUG_WAIT_MS; waited += UNPLUG_POLL_MS) {
		ret = still_there(c, dom, segment);
		if (ret <= 0)
			return ret;
		nanosleep(&step, NULL);
	}
	return ivlv_fail(c,
			 "%s: the guest has not released the device (it needs ACPI PCI hot-plug); "
			 "libvirt removes it when it does",
			 virDomainGetName(dom));
}

int ivlv_detach(struct ivlv *c, const struct ivlv_opts *o)
{
	struct ivlv_shmem scfg[NDEV], slive[NDEV];
	struct ivlv_target t;
	int in_cfg, in_live, ret = -1, i;

	if (ivlv_target_open(c, o, &t))
		goto out;
	in_cfg = find_devices(t.cfg, o->segment, scfg);
	in_live = find_devices(t.run, o->segment, slive);
	if (!in_cfg && !in_live) {
		ivlv_fail(c, "%s is not attached to segment %s (%s)", o->domain, o->segment,
			  ivlv_where(t.config, t.live));
		goto out;
	}
	if (in_live && unplug(c, t.dom, o->segment, slive, in_live))
		goto out;
	if (in_cfg) {
		for (i = 0; i < in_cfg; i++) {
			xmlUnlinkNode(scfg[i].node);
			xmlFreeNode(scfg[i].node);
		}
		if (ivlv_domain_define(c, t.dom, t.cfg))
			goto out;
	}
	fprintf(c->out, "%s: detached from segment %s (%s)\n", o->domain, o->segment,
		ivlv_where(in_cfg, in_live));
	if (t.config && !in_cfg)
		fprintf(c->out, "%s: its definition was not on segment %s\n", o->domain,
			o->segment);
	if (t.live && !in_live)
		fprintf(c->out, "%s: the running domain was not on segment %s\n", o->domain,
			o->segment);
	ret = 0;
out:
	ivlv_target_close(&t);
	return ret;
}

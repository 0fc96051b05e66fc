// SPDX-License-Identifier: MIT
/*
 * detach.c - `detach DOMAIN --segment NAME`: the segment's <shmem> out of
 * the definition (--config, the default) and/or the running domain
 * (--live, a PCI hot-unplug).
 *
 * No broker is needed: the device is found by its name. A domain that is
 * not on the segment where asked is an error (a mistyped name must not
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

static int still_there(struct ivlv *c, virDomainPtr dom, const char *name)
{
	xmlDocPtr doc = ivlv_domain_xml(c, dom, 0);
	struct ivlv_shmem s;
	int found;

	if (!doc)
		return -1;
	found = ivlv_shmem_find(doc, name, NULL, &s);
	xmlFreeDoc(doc);
	return found;
}

static int unplug(struct ivlv *c, virDomainPtr dom, const struct ivlv_shmem *s)
{
	struct timespec step = {.tv_nsec = UNPLUG_POLL_MS * 1000000L};
	char *xml = ivlv_node_xml(s->node);
	int waited, ret;

	if (!xml)
		return ivlv_fail(c, "out of memory");
	ret = virDomainDetachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE);
	free(xml);
	if (ret)
		return ivlv_fail(c, "%s: cannot unplug the device: %s", virDomainGetName(dom),
				 ivlv_libvirt_error());
	for (waited = 0; waited < UNPLUG_WAIT_MS; waited += UNPLUG_POLL_MS) {
		ret = still_there(c, dom, s->name);
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
	struct ivlv_shmem scfg, slive;
	struct ivlv_target t;
	int in_cfg, in_live, ret = -1;

	if (ivlv_target_open(c, o, &t))
		goto out;
	in_cfg = t.cfg && ivlv_shmem_find(t.cfg, o->segment, NULL, &scfg);
	in_live = t.run && ivlv_shmem_find(t.run, o->segment, NULL, &slive);
	if (!in_cfg && !in_live) {
		ivlv_fail(c, "%s is not attached to segment %s (%s)", o->domain, o->segment,
			  ivlv_where(t.config, t.live));
		goto out;
	}
	if (in_live && unplug(c, t.dom, &slive))
		goto out;
	if (in_cfg) {
		xmlUnlinkNode(scfg.node);
		xmlFreeNode(scfg.node);
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

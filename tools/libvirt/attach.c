// SPDX-License-Identifier: MIT
/*
 * attach.c - `attach DOMAIN --segment NAME`: the segment's <shmem> device
 * into the definition (--config, the default) and/or the running domain
 * (--live, a PCI hot-plug), and with --pin the vCPUs pinned.
 *
 * The broker resolves NAME to its socket and vector count (and proves it
 * runs); --socket PATH skips it, for a broker that is not up yet.
 *
 * Idempotent: where the domain already has the very same device, that is
 * reported and left alone (exit 0); a device with the segment's name or
 * socket but other settings is an error: detach it first. Everything is
 * checked before anything changes; live goes first, since a hot-plug is
 * what most often fails.
 *
 * --private-with OTHER attaches OTHER too, to a segment that must be
 * private to the two (private.c): both domains are checked before either
 * changes.
 */
#include <stdlib.h>
#include <string.h>

#include "ivlv.h"

enum { ABSENT, SAME };

struct want {
	struct ivlv_segment seg; /* name, socket and vectors to attach */
	const char *ctl;	 /* the broker, or NULL with --socket */
};

static const char *size_text(uint64_t v, char *buf, size_t n)
{
	static const char unit[] = "KMGT";
	int u = -1;

	while (v >= 1024 && !(v % 1024) && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, n, "%llu", (unsigned long long)v);
	else
		snprintf(buf, n, "%llu%c", (unsigned long long)v, unit[u]);
	return buf;
}

static int resolve_segment(struct ivlv *c, const struct ivlv_opts *o, struct want *w)
{
	char a[32], b[32], err[IVLV_ERRLEN];

	memset(w, 0, sizeof(*w));
	if (o->socket) {
		snprintf(w->seg.name, sizeof(w->seg.name), "%s", o->segment);
		snprintf(w->seg.socket, sizeof(w->seg.socket), "%s", o->socket);
		w->seg.vectors = o->vectors ? o->vectors : 2;
		return 0;
	}
	w->ctl = o->control;
	if (ivlv_broker_segment(o->control, o->segment, &w->seg, err, sizeof(err)))
		return ivlv_fail(c, "segment '%s': %s", o->segment, err);
	if (w->seg.socket[0] != '/')
		return ivlv_fail(c,
				 "segment '%s': its socket '%s' is relative (QEMU needs an "
				 "absolute path: give ivnetd an absolute -S)",
				 o->segment, w->seg.socket);
	if (o->size && o->size != w->seg.size)
		return ivlv_fail(c, "segment '%s' is %s, not %s (--size)", o->segment,
				 size_text(w->seg.size, a, sizeof(a)),
				 size_text(o->size, b, sizeof(b)));
	if (o->vectors && o->vectors < w->seg.vectors)
		return ivlv_fail(c, "segment '%s' needs at least %u vectors (--vectors %u)",
				 o->segment, w->seg.vectors, o->vectors);
	if (o->vectors)
		w->seg.vectors = o->vectors;
	return 0;
}

static int resolve_pin(struct ivlv *c, const struct ivlv_opts *o, struct ivlv_pin *pin)
{
	struct ivlv_placement pl;
	const char *list = o->pin, *from = "--pin";
	char err[IVLV_ERRLEN];
	unsigned char *online = NULL;
	int host, ret = -1;
	unsigned i;

	memset(pin, 0, sizeof(*pin));
	pin->policy = IVLV_PIN_PACK;
	if (!strcmp(o->pin, "broker")) {
		if (ivlv_broker_placement(o->control, o->segment, &pl, err, sizeof(err)))
			return ivlv_fail(c, "--pin broker: %s", err);
		pin->policy = pl.policy;
		if (pl.policy == IVLV_PIN_NONE)
			return 0;
		list = pl.cpus;
		from = "the broker's placement";
	}
	/* the CPUs of the host the connection is to, which need not be ours */
	host = virNodeGetCPUMap(c->conn, &online, NULL, 0);
	if (host <= 0)
		return ivlv_fail(c, "cannot read the host's CPUs: %s", ivlv_libvirt_error());
	if (ivlv_cpulist_parse(list, pin->cpus, (unsigned)host, err, sizeof(err))) {
		ivlv_fail(c, "%s: %s", from, err);
		goto out;
	}
	for (i = 0; i < (unsigned)host && i < IVLV_CPUS_MAX; i++) {
		if (!((pin->cpus[i / 8] >> (i % 8)) & 1))
			continue;
		if (!((online[i / 8] >> (i % 8)) & 1)) {
			ivlv_fail(c, "%s: CPU %u is offline", from, i);
			goto out;
		}
		pin->ncpus++;
	}
	ret = 0;
out:
	free(online);
	return ret;
}

/* Whether doc already puts the domain on the segment: ABSENT, SAME, or -1
 * (a device by that name or on that socket, set up otherwise). */
static int present(struct ivlv *c, virDomainPtr dom, xmlDocPtr doc, const struct want *w,
		   const char *where)
{
	struct ivlv_shmem s;

	if (!ivlv_shmem_find(doc, w->seg.name, w->seg.socket, &s))
		return ABSENT;
	if (s.doorbell && !strcmp(s.name, w->seg.name) && !strcmp(s.server, w->seg.socket) &&
	    s.vectors == w->seg.vectors)
		return SAME;
	return ivlv_fail(c,
			 "%s is already attached (%s) as shmem '%s' on socket %s with %u vectors, "
			 "not as '%s' on %s with %u: detach it first",
			 virDomainGetName(dom), where, s.name, s.server[0] ? s.server : "(none)",
			 s.vectors, w->seg.name, w->seg.socket, w->seg.vectors);
}

static int hotplug(struct ivlv *c, virDomainPtr dom, const struct want *w)
{
	xmlNodePtr dev = ivlv_shmem_new(w->seg.name, w->seg.socket, w->seg.vectors);
	char *xml = dev ? ivlv_node_xml(dev) : NULL;
	int ret = 0;

	if (!xml)
		ret = ivlv_fail(c, "out of memory");
	else if (virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE))
		ret = ivlv_fail(c, "%s: cannot hot-plug the device: %s", virDomainGetName(dom),
				ivlv_libvirt_error());
	free(xml);
	xmlFreeNode(dev);
	return ret;
}

static int add_to_definition(struct ivlv *c, xmlDocPtr doc, const struct want *w)
{
	xmlNodePtr devices = ivlv_devices(doc);
	xmlNodePtr dev = ivlv_shmem_new(w->seg.name, w->seg.socket, w->seg.vectors);

	if (!devices || !dev || !xmlAddChild(devices, dev)) {
		xmlFreeNode(dev);
		return ivlv_fail(c, "cannot add the device to the definition");
	}
	return 0;
}

static void label_hotplugged(virDomainPtr dom, const struct want *w)
{
	char uuid[VIR_UUID_STRING_BUFLEN], err[IVLV_ERRLEN];

	/* Best effort: the name is a convenience; the hook labels the domain
	 * at its next start anyway. */
	if (!w->ctl || virDomainGetUUIDString(dom, uuid))
		return;
	if (ivlv_label_domain(w->ctl, w->seg.name, virDomainGetName(dom), uuid, 0, err,
			      sizeof(err)))
		fprintf(stderr, "ivnet-libvirt: note: %s: peer not labelled: %s\n",
			virDomainGetName(dom), err);
}

/* What attach found and did, for its report. */
struct outcome {
	int in_cfg, in_live; /* ABSENT or SAME, where asked */
	int pinning;
};

static void report(struct ivlv *c, const struct ivlv_opts *o, const struct ivlv_target *t,
		   const struct want *w, const struct ivlv_pin *pin, const struct outcome *r)
{
	int cfg_new = t->config && r->in_cfg == ABSENT, live_new = t->live && r->in_live == ABSENT;
	int cfg_same = t->config && r->in_cfg == SAME, live_same = t->live && r->in_live == SAME;
	char cpus[256];

	if (cfg_new || live_new)
		fprintf(c->out, "%s: attached to segment %s (socket %s, %u vectors; %s)\n",
			o->domain, w->seg.name, w->seg.socket, w->seg.vectors,
			ivlv_where(cfg_new, live_new));
	if (cfg_same || live_same)
		fprintf(c->out, "%s: already attached to segment %s (%s): left as it is\n",
			o->domain, w->seg.name, ivlv_where(cfg_same, live_same));
	if (!o->pin)
		return;
	ivlv_cpulist_format(pin->cpus, IVLV_CPUS_MAX, cpus, sizeof(cpus));
	if (r->pinning)
		fprintf(c->out, "%s: vCPUs pinned to %s (%s), emulator to %s (%s)\n", o->domain,
			cpus, pin->policy == IVLV_PIN_SPREAD ? "spread" : "pack", cpus,
			ivlv_where(t->config, t->live));
	else
		fprintf(c->out, "%s: the broker's placement of %s is 'none': not pinned\n",
			o->domain, w->seg.name);
}

/* Everything checked, the definition edited in memory first (nothing has
 * changed yet if that fails), then live, then the definition saved. */
static int apply(struct ivlv *c, const struct ivlv_opts *o, struct ivlv_target *t,
		 const struct want *w, const struct ivlv_pin *pin, const struct outcome *r)
{
	int cfg_new = t->config && r->in_cfg == ABSENT, live_new = t->live && r->in_live == ABSENT;
	char err[IVLV_ERRLEN];

	if (cfg_new && add_to_definition(c, t->cfg, w))
		return -1;
	if (t->config && r->pinning && ivlv_cputune_set(t->cfg, pin, err, sizeof(err)))
		return ivlv_fail(c, "%s: %s", o->domain, err);
	if (live_new && hotplug(c, t->dom, w))
		return -1;
	if ((cfg_new || (t->config && r->pinning)) && ivlv_domain_define(c, t->dom, t->cfg)) {
		if (live_new) {
			memcpy(err, c->err, sizeof(err));
			ivlv_fail(c, "%s (the running domain got the device all the same)", err);
		}
		return -1;
	}
	if (t->live && r->pinning && ivlv_pin_live(c, t->dom, pin))
		return -1;
	if (live_new)
		label_hotplugged(t->dom, w);
	return 0;
}

/* One domain the command attaches: DOMAIN, or the other of a private pair. */
struct side {
	struct ivlv_opts o; /* o.domain is this one */
	struct ivlv_target t;
	struct outcome r;
};

static int side_check(struct ivlv *c, struct side *s, const struct want *w)
{
	if (ivlv_target_open(c, &s->o, &s->t))
		return -1;
	if (s->t.config && (s->r.in_cfg = present(c, s->t.dom, s->t.cfg, w, "config")) < 0)
		return -1;
	if (s->t.live && (s->r.in_live = present(c, s->t.dom, s->t.run, w, "live")) < 0)
		return -1;
	return 0;
}

static int pair_check(struct ivlv *c, const struct want *w, struct side *s)
{
	if (ivlv_same_domain(s[0].t.dom, s[1].t.dom))
		return ivlv_fail(c, "--private-with names %s itself: a private pair is two domains",
				 s[0].o.domain);
	return ivlv_private_no_third(c, &w->seg, s[0].t.dom, s[1].t.dom);
}

/* The second of a pair failing leaves the first attached: said so, and
 * running the command again finishes it (the first is then the same). */
static int apply_side(struct ivlv *c, struct side *s, int i, const struct want *w,
		      const struct ivlv_pin *pin)
{
	char err[IVLV_ERRLEN];

	if (!apply(c, &s[i].o, &s[i].t, w, pin, &s[i].r))
		return 0;
	if (i) {
		memcpy(err, c->err, sizeof(err));
		ivlv_fail(c, "%s (%s was attached all the same: run the command again)", err,
			  s[0].o.domain);
	}
	return -1;
}

int ivlv_attach(struct ivlv *c, const struct ivlv_opts *o)
{
	struct side s[2];
	struct ivlv_pin pin;
	struct want w;
	int n = o->private_with ? 2 : 1, i, ret = -1;

	memset(s, 0, sizeof(s));
	s[0].o = s[1].o = *o;
	s[1].o.domain = o->private_with;
	if (resolve_segment(c, o, &w) || (n == 2 && ivlv_private_segment_ok(c, &w.seg)))
		goto out;
	for (i = 0; i < n; i++)
		if (side_check(c, &s[i], &w))
			goto out;
	if (n == 2 ? pair_check(c, &w, s) : ivlv_private_room(c, &w.seg, s[0].t.dom))
		goto out;
	if (o->pin && resolve_pin(c, o, &pin))
		goto out;
	for (i = 0; i < n; i++) {
		s[i].r.pinning = o->pin && pin.policy != IVLV_PIN_NONE;
		if (apply_side(c, s, i, &w, &pin))
			goto out;
		report(c, &s[i].o, &s[i].t, &w, &pin, &s[i].r);
	}
	if (n == 2)
		fprintf(c->out, "segment %s: private to %s and %s (it takes %u peers)\n",
			w.seg.name, o->domain, o->private_with, w.seg.max_peers);
	ret = 0;
out:
	for (i = 0; i < n; i++)
		ivlv_target_close(&s[i].t);
	return ret;
}

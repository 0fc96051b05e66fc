// SPDX-License-Identifier: MIT
/*
 * attach.c - `attach DOMAIN --segment NAME`: the segment's <shmem> device
 * and its admin device (shmem.c) into the definition (--config, the
 * default) and/or the running domain (--live, PCI hot-plugs), and with
 * --pin the vCPUs pinned.
 *
 * The broker resolves NAME to its socket, admin socket and vector count
 * (and proves it runs); --socket PATH skips it, for a broker that is not up
 * yet (the admin socket is then PATH.admin, ivnetd's default, or --admin).
 *
 * Idempotent: where the domain already has the very same devices, that is
 * reported and left alone (exit 0); one of the two missing (an attachment
 * from before admin devices) is added; a device with the segment's name or
 * socket, or its admin device's, but other settings is an error: detach it
 * first. Everything is checked before anything changes; live goes first,
 * since a hot-plug is what most often fails.
 *
 * --private-with OTHER attaches OTHER too, to a segment that must be
 * private to the two (private.c): both domains are checked before either
 * changes.
 */
#include <stdlib.h>
#include <string.h>

#include "ivlv.h"

enum { ABSENT, SAME };

/* The two devices, in the order they go into a domain: QEMU connects them
 * in that order, and ivnetd pairs an admin connection with the same
 * process's segment connection. */
enum { DEV_SEG, DEV_ADMIN, NDEV };

struct want {
	struct ivlv_segment seg; /* name, sockets and vectors to attach */
	const char *ctl;	 /* the broker, or NULL with --socket */
	char admin_name[IVLV_SHMEM_NAME_LEN];
};

/* Device i as attach writes it. */
struct dev {
	const char *name, *server;
	unsigned vectors;
};

static struct dev dev_of(const struct want *w, int i)
{
	if (i == DEV_SEG)
		return (struct dev){w->seg.name, w->seg.socket, w->seg.vectors};
	return (struct dev){w->admin_name, w->seg.admin, IVLV_ADMIN_VECTORS};
}

static xmlNodePtr dev_new(const struct want *w, int i)
{
	if (i == DEV_SEG)
		return ivlv_shmem_new(w->seg.name, w->seg.socket, w->seg.vectors);
	return ivlv_shmem_admin_new(w->seg.name, w->seg.admin);
}

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

/* The admin socket: the broker's word (a custom admin= included), else
 * --admin or SOCKET.admin. */
static int resolve_admin(struct ivlv *c, const struct ivlv_opts *o, struct want *w)
{
	struct ivlv_segment *s = &w->seg;
	int n;

	ivlv_admin_name(s->name, w->admin_name, sizeof(w->admin_name));
	if (o->socket) {
		n = o->admin ? snprintf(s->admin, sizeof(s->admin), "%s", o->admin)
			     : snprintf(s->admin, sizeof(s->admin), "%s%s", s->socket,
					IVLV_ADMIN_SUFFIX);
		if (n < 0 || n >= (int)sizeof(s->admin))
			return ivlv_fail(c,
					 "--socket %s: its admin socket %s%s is %d bytes or "
					 "longer: give --admin PATH",
					 s->socket, s->socket, IVLV_ADMIN_SUFFIX, IVLV_PATH_LEN);
	} else if (!s->admin[0])
		return ivlv_fail(
			c,
			"segment '%s': ivnetd at %s names no admin socket (it is older "
			"than admin regions): a guest needs the admin device; update ivnetd",
			s->name, o->control);
	else if (s->admin[0] != '/')
		return ivlv_fail(c,
				 "segment '%s': its admin socket '%s' is relative (QEMU needs an "
				 "absolute path: give ivnetd an absolute -S or admin=)",
				 s->name, s->admin);
	if (!strcmp(s->admin, s->socket))
		return ivlv_fail(c, "segment '%s': its admin socket is its socket %s", s->name,
				 s->socket);
	return 0;
}

static int resolve_segment(struct ivlv *c, const struct ivlv_opts *o, struct want *w)
{
	char a[32], b[32], err[IVLV_ERRLEN];

	memset(w, 0, sizeof(*w));
	if (o->socket) {
		snprintf(w->seg.name, sizeof(w->seg.name), "%s", o->segment);
		snprintf(w->seg.socket, sizeof(w->seg.socket), "%s", o->socket);
		w->seg.vectors = o->vectors ? o->vectors : 2;
		return resolve_admin(c, o, w);
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
	return resolve_admin(c, o, w);
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

/* Whether doc already has device i: ABSENT, SAME, or -1 (a device by that
 * name or on that socket, set up otherwise). */
static int present(struct ivlv *c, virDomainPtr dom, xmlDocPtr doc, const struct want *w, int i,
		   const char *where)
{
	struct dev d = dev_of(w, i);
	struct ivlv_shmem s;

	if (!ivlv_shmem_find(doc, d.name, d.server, &s))
		return ABSENT;
	if (s.doorbell && !strcmp(s.name, d.name) && !strcmp(s.server, d.server) &&
	    s.vectors == d.vectors)
		return SAME;
	return ivlv_fail(c,
			 "%s is already attached (%s) as shmem '%s' on socket %s with %u vectors, "
			 "not as '%s' on %s with %u: detach it first",
			 virDomainGetName(dom), where, s.name, s.server[0] ? s.server : "(none)",
			 s.vectors, d.name, d.server, d.vectors);
}

static int hotplug(struct ivlv *c, virDomainPtr dom, const struct want *w, int i)
{
	xmlNodePtr dev = dev_new(w, i);
	char *xml = dev ? ivlv_node_xml(dev) : NULL;
	int ret = 0;

	if (!xml)
		ret = ivlv_fail(c, "out of memory");
	else if (virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE))
		ret = ivlv_fail(c, "%s: cannot hot-plug the %sdevice: %s", virDomainGetName(dom),
				i == DEV_ADMIN ? "admin " : "", ivlv_libvirt_error());
	free(xml);
	xmlFreeNode(dev);
	return ret;
}

/* The absent devices, segment first; an admin device refused after its
 * segment's went in leaves that one: said so, and running the command
 * again adds the other. */
static int hotplug_absent(struct ivlv *c, virDomainPtr dom, const struct want *w, const int *state)
{
	char err[IVLV_ERRLEN];
	int i, plugged = 0;

	for (i = 0; i < NDEV; i++) {
		if (state[i] != ABSENT)
			continue;
		if (hotplug(c, dom, w, i)) {
			if (plugged) {
				memcpy(err, c->err, sizeof(err));
				ivlv_fail(c,
					  "%s (the segment's device was hot-plugged all the "
					  "same: run the command again)",
					  err);
			}
			return -1;
		}
		plugged = 1;
	}
	return 0;
}

static int add_to_definition(struct ivlv *c, xmlDocPtr doc, const struct want *w, int i)
{
	xmlNodePtr devices = ivlv_devices(doc), dev = dev_new(w, i), at = NULL;
	struct ivlv_shmem adm;

	/* the segment's device goes before an admin device already there */
	if (dev && i == DEV_SEG && ivlv_shmem_find(doc, w->admin_name, w->seg.admin, &adm))
		at = xmlAddPrevSibling(adm.node, dev);
	else if (dev && devices)
		at = xmlAddChild(devices, dev);
	if (!at) {
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

/* What attach found and did, for its report: ABSENT or SAME per device,
 * where asked. */
struct outcome {
	int cfg[NDEV], live[NDEV];
	int pinning;
};

static int any_absent(const int *state)
{
	return state[DEV_SEG] == ABSENT || state[DEV_ADMIN] == ABSENT;
}

static void report_pin(struct ivlv *c, const struct ivlv_opts *o, const struct ivlv_target *t,
		       const struct want *w, const struct ivlv_pin *pin, const struct outcome *r)
{
	char cpus[256];

	ivlv_cpulist_format(pin->cpus, IVLV_CPUS_MAX, cpus, sizeof(cpus));
	if (r->pinning)
		fprintf(c->out, "%s: vCPUs pinned to %s (%s), emulator to %s (%s)\n", o->domain,
			cpus, pin->policy == IVLV_PIN_SPREAD ? "spread" : "pack", cpus,
			ivlv_where(t->config, t->live));
	else
		fprintf(c->out, "%s: the broker's placement of %s is 'none': not pinned\n",
			o->domain, w->seg.name);
}

static void report(struct ivlv *c, const struct ivlv_opts *o, const struct ivlv_target *t,
		   const struct want *w, const struct ivlv_pin *pin, const struct outcome *r)
{
	int seg_cfg = t->config && r->cfg[DEV_SEG] == ABSENT;
	int seg_live = t->live && r->live[DEV_SEG] == ABSENT;
	int adm_cfg = t->config && !seg_cfg && r->cfg[DEV_ADMIN] == ABSENT;
	int adm_live = t->live && !seg_live && r->live[DEV_ADMIN] == ABSENT;
	int same_cfg = t->config && !any_absent(r->cfg),
	    same_live = t->live && !any_absent(r->live);

	if (seg_cfg || seg_live)
		fprintf(c->out,
			"%s: attached to segment %s (socket %s, %u vectors; admin %s; %s)\n",
			o->domain, w->seg.name, w->seg.socket, w->seg.vectors, w->seg.admin,
			ivlv_where(seg_cfg, seg_live));
	if (adm_cfg || adm_live)
		fprintf(c->out,
			"%s: on segment %s already: its admin device added (admin %s; %s)\n",
			o->domain, w->seg.name, w->seg.admin, ivlv_where(adm_cfg, adm_live));
	if (same_cfg || same_live)
		fprintf(c->out, "%s: already attached to segment %s (%s): left as it is\n",
			o->domain, w->seg.name, ivlv_where(same_cfg, same_live));
	if (o->pin)
		report_pin(c, o, t, w, pin, r);
}

/* Everything checked, the definition edited in memory first (nothing has
 * changed yet if that fails), then live, then the definition saved. */
static int apply(struct ivlv *c, const struct ivlv_opts *o, struct ivlv_target *t,
		 const struct want *w, const struct ivlv_pin *pin, const struct outcome *r)
{
	int cfg_new = t->config && any_absent(r->cfg), live_new = t->live && any_absent(r->live);
	char err[IVLV_ERRLEN];
	int i;

	for (i = 0; cfg_new && i < NDEV; i++)
		if (r->cfg[i] == ABSENT && add_to_definition(c, t->cfg, w, i))
			return -1;
	if (t->config && r->pinning && ivlv_cputune_set(t->cfg, pin, err, sizeof(err)))
		return ivlv_fail(c, "%s: %s", o->domain, err);
	if (live_new && hotplug_absent(c, t->dom, w, r->live))
		return -1;
	if ((cfg_new || (t->config && r->pinning)) && ivlv_domain_define(c, t->dom, t->cfg)) {
		if (live_new) {
			memcpy(err, c->err, sizeof(err));
			ivlv_fail(c, "%s (the running domain got the devices all the same)", err);
		}
		return -1;
	}
	if (t->live && r->pinning && ivlv_pin_live(c, t->dom, pin))
		return -1;
	if (t->live && r->live[DEV_SEG] == ABSENT)
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
	int i;

	if (ivlv_target_open(c, &s->o, &s->t))
		return -1;
	for (i = 0; i < NDEV; i++) {
		if (s->t.config &&
		    (s->r.cfg[i] = present(c, s->t.dom, s->t.cfg, w, i, "config")) < 0)
			return -1;
		if (s->t.live && (s->r.live[i] = present(c, s->t.dom, s->t.run, w, i, "live")) < 0)
			return -1;
	}
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

// SPDX-License-Identifier: MIT
/*
 * control.c - the control socket.
 *
 * Protocol: a client connects, writes one request line (at most
 * IVNETD_CTL_LINE_MAX bytes, printable ASCII, ending in '\n'), reads the
 * answer until the daemon closes the connection; a client that takes
 * longer than the time-out for either is closed (host/util/ctl_server.h).
 * Requests:
 *
 *   [-j] status                       the daemon
 *   [-j] segment show [SEGMENT]       layout and occupancy of segments
 *   [-j] peer list [SEGMENT]          peers: id, MAC, epoch, link, pid/uid/gid
 *   [-j] stats [SEGMENT]              broker counters and ring occupancy
 *   [-j] topology                     CPUs, cores, LLC domains, NUMA nodes
 *   [-j] placement [show] [SEGMENT]   every placed thread, its CPUs, mechanism
 *   [-j] placement set SEGMENT [policy=P] [pin=M] [cpus=L] [sched=S]
 *                                     place the segment's peers anew
 *   peer label SEGMENT ID|pid=PID [name=N] [uuid=U] [qmp=PATH]
 *                                     label a peer, or every peer a process
 *                                     joined as (libvirt hook); with qmp=,
 *                                     find its vCPU threads through QMP
 *   peer uplink SEGMENT ID on|off     unknown unicast goes to it (a switch)
 *   help
 *
 * -j asks for one JSON object; without it the answer is terse text. An
 * error is "error: REASON" in text, {"error":"REASON"} in JSON.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host_err.h"
#include "ivnetd.h"
#include "print.h"

/* ------------------------------------------------------------- answers */

static int peer_link_up(const struct ivnetd_segment *s, uint32_t id)
{
	const struct ivnet_peer *e = ivnet_region_peer(&s->region, id);

	/* Values a peer wrote itself: compared, never used as indices. */
	return ivnet_load_relaxed(&e->link.state) == IVNET_LINK_UP &&
	       ivnet_load_relaxed(&e->link.join_epoch) == s->epoch[id];
}

static void show_segment(struct pr *p, const struct ivnetd_segment *s)
{
	const struct ivnet_layout *l = &s->region.layout;
	const struct ivnet_region_hdr *h = ivnet_region_hdr(&s->region);
	char id[17];

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)h->segment_id);
	pr_obj_open(p, NULL);
	pr_str(p, "name", "segment %s", s->cfg.name);
	pr_str(p, "socket", " socket %s", s->cfg.socket_path);
	pr_str(p, "admin", " admin %s", s->cfg.admin_path);
	pr_str(p, "id", " id %s", id);
	pr_u64(p, "size", " size %llu", l->region_size);
	pr_u64(p, "used", " used %llu", l->used_size);
	pr_u64(p, "peers", " peers %llu", s->npeers);
	pr_u64(p, "max_peers", "/%llu", l->max_peers);
	pr_u64(p, "vectors", " vectors %llu", l->vectors);
	pr_u64(p, "slots", " slots %llu", l->slot_count);
	pr_u64(p, "slot_size", "x%llu", l->slot_size);
	pr_u64(p, "max_frame", " max-frame %llu", l->max_frame);
	pr_u64(p, "layout_version", " layout v%llu", IVNET_LAYOUT_VERSION);
	pr_obj_close(p);
	pr_text(p, "\n");
}

/* What the peer advertises on its link line (its own words, shown as read)
 * and the role we gave it (ours: the shared table's copy may be forged). */
static void show_link_offer(struct pr *p, const struct ivnet_peer *e, uint16_t flags)
{
	uint32_t f = ivnet_load_relaxed(&e->link.features);

	pr_u64(p, "mtu", " mtu %llu", ivnet_load_relaxed(&e->link.mtu));
	pr_str(p, "offloads", " offloads %s",
	       (f & IVNET_F_ALL) == IVNET_F_ALL ? "csum,gso"
	       : f & IVNET_F_CSUM		? "csum"
	       : f & IVNET_F_GSO		? "gso"
						: "none");
	pr_str(p, "role", " role %s", flags & IVNET_PEER_F_UPLINK ? "uplink" : "peer");
}

static void show_peer(struct pr *p, const struct ivnetd_segment *s, const struct ivnetd_peer *q)
{
	const struct ivnet_peer *e = ivnet_region_peer(&s->region, q->id);
	uint8_t mac[6];

	ivnetd_peer_mac(s, q->id, mac);
	pr_obj_open(p, NULL);
	pr_str(p, "segment", "%s", s->cfg.name);
	pr_u64(p, "id", " %llu", q->id);
	pr_u64(p, "ivpos", " ivpos %llu", q->ivpos);
	pr_mac(p, "mac", " %s", mac);
	pr_str(p, "state", " %s", "joined");
	pr_u64(p, "epoch", " epoch %llu", s->epoch[q->id]);
	pr_str(p, "link", " link %s", peer_link_up(s, q->id) ? "up" : "down");
	pr_i64(p, "pid", " pid %lld", q->pid);
	pr_u64(p, "uid", " uid %llu", q->uid);
	pr_u64(p, "gid", " gid %llu", q->gid);
	pr_i64(p, "joined_at", " since %lld", q->joined_at);
	if (q->label[0] || p->json)
		pr_str(p, "label", " name %s", q->label[0] ? q->label : "");
	if (q->uuid[0] || p->json)
		pr_str(p, "uuid", " uuid %s", q->uuid[0] ? q->uuid : "");
	show_link_offer(p, e, q->flags);
	pr_obj_close(p);
	pr_text(p, "\n");
}

static const struct pr_counter segment_counters[] = {
	PR_COUNTER(struct ivnetd_counters, joins, " joins %llu"),
	PR_COUNTER(struct ivnetd_counters, leaves, " leaves %llu"),
	PR_COUNTER(struct ivnetd_counters, refused_full, " refused-full %llu"),
	PR_COUNTER(struct ivnetd_counters, refused_perm, " refused-perm %llu"),
	PR_COUNTER(struct ivnetd_counters, refused_error, " refused-error %llu"),
	PR_COUNTER(struct ivnetd_counters, dropped, " dropped %llu"),
	PR_COUNTER(struct ivnetd_counters, control_signals, " control-signals %llu"),
};

static void show_counters(struct pr *p, const struct ivnetd_segment *s)
{
	const struct ivnet_layout *l = &s->region.layout;
	uint32_t a, b;

	pr_obj_open(p, NULL);
	pr_str(p, "segment", "%s", s->cfg.name);
	PR_COUNTERS(p, &s->n, segment_counters);
	pr_text(p, "\n");
	/* Queued slots per ring between joined peers, read from shared memory:
	 * reported as read, modulo the ring size, never trusted further. */
	pr_arr_open(p, "rings");
	for (a = 0; a < l->max_peers; a++) {
		for (b = 0; b < l->max_peers; b++) {
			const struct ivnet_ring_ctrl *c;
			uint32_t queued;

			if (a == b || !s->peer[a] || !s->peer[b])
				continue;
			c = (const void *)((const uint8_t *)s->region.base +
					   ivnet_ring_offset(l, a, b));
			queued = ivnet_load_relaxed(&c->prod.head) -
				 ivnet_load_relaxed(&c->cons.tail);
			if (queued > l->slot_count)
				queued = l->slot_count;
			pr_obj_open(p, NULL);
			pr_u64(p, "from", "  ring %llu", a);
			pr_u64(p, "to", "->%llu", b);
			pr_u64(p, "queued", " queued %llu", queued);
			pr_u64(p, "consumer_armed", " armed %llu",
			       ivnet_load_relaxed(&c->wake.armed) != 0);
			pr_obj_close(p);
			pr_text(p, "\n");
		}
	}
	pr_arr_close(p);
	pr_obj_close(p);
}

static struct ivnetd_segment *find_segment(struct ivnetd *d, const char *name)
{
	int i;

	for (i = 0; i < d->nseg; i++)
		if (!strcmp(d->seg[i].cfg.name, name))
			return &d->seg[i];
	return NULL;
}

static void label_one(struct ivnetd *d, struct ivnetd_segment *s, struct ivnetd_peer *q,
		      const struct ivnetd_ctl_request *req)
{
	if (req->label[0])
		strcpy(q->label, req->label);
	if (req->uuid[0])
		strcpy(q->uuid, req->uuid);
	ivnetd_placement_label(s->pl, q->id, q->label);
	ivnetd_log(d, "label segment=%s peer=%u pid=%d name=%s uuid=%s", s->cfg.name, q->id,
		   (int)q->pid, q->label, q->uuid);
}

/* Every peer that process joined as (one QEMU may hold several devices on a
 * segment); answered like peer list. */
static int label_by_pid(struct ivnetd *d, struct ivnetd_segment *s,
			const struct ivnetd_ctl_request *req, struct pr *p)
{
	uint32_t id, n = 0;

	for (id = 0; id < s->region.layout.max_peers; id++)
		if (s->peer[id] && s->peer[id]->pid == req->pid)
			n++;
	if (!n)
		return pr_error(p, "no peer with pid %d in segment '%s'", (int)req->pid,
				req->segment);
	pr_obj_open(p, NULL);
	pr_arr_open(p, "peers");
	for (id = 0; id < s->region.layout.max_peers; id++) {
		if (!s->peer[id] || s->peer[id]->pid != req->pid)
			continue;
		label_one(d, s, s->peer[id], req);
		show_peer(p, s, s->peer[id]);
	}
	pr_arr_close(p);
	pr_obj_close(p);
	return 0;
}

static int label_peer(struct ivnetd *d, const struct ivnetd_ctl_request *req, struct pr *p)
{
	struct ivnetd_segment *s = find_segment(d, req->segment);
	struct ivnetd_peer *q;

	if (!s)
		return pr_error(p, "no segment '%s'", req->segment);
	if (req->pid)
		return label_by_pid(d, s, req, p);
	q = req->peer_id < s->region.layout.max_peers ? s->peer[req->peer_id] : NULL;
	if (!q)
		return pr_error(p, "no peer with that id in segment '%s'", req->segment);
	label_one(d, s, q, req);
	if (req->qmp[0]) {
		char err[HOST_ERRLEN];

		if (ivnetd_placement_qmp(s->pl, q->id, req->qmp, err, sizeof(err)))
			return pr_error(p, "%s", err);
	}
	show_peer(p, s, q);
	return 0;
}

static int uplink_peer(struct ivnetd *d, const struct ivnetd_ctl_request *req, struct pr *p)
{
	struct ivnetd_segment *s = find_segment(d, req->segment);
	struct ivnetd_peer *q;
	uint16_t flags;

	if (!s)
		return pr_error(p, "no segment '%s'", req->segment);
	q = req->peer_id < s->region.layout.max_peers ? s->peer[req->peer_id] : NULL;
	if (!q)
		return pr_error(p, "no peer with that id in segment '%s'", req->segment);
	flags = q->flags; /* ours: the shared table's copy may be forged */
	flags = req->uplink ? flags | IVNET_PEER_F_UPLINK : flags & ~IVNET_PEER_F_UPLINK;
	ivnetd_peer_set_flags(s, q->id, flags);
	ivnetd_log(d, "uplink segment=%s peer=%u pid=%d %s", s->cfg.name, q->id, (int)q->pid,
		   req->uplink ? "on" : "off");
	show_peer(p, s, q);
	return 0;
}

static int place_set(struct ivnetd *d, const struct ivnetd_ctl_request *req, struct pr *p)
{
	struct ivnetd_segment *s = find_segment(d, req->segment);
	char err[HOST_ERRLEN];

	if (!s)
		return pr_error(p, "no segment '%s'", req->segment);
	if (ivnetd_placement_set(s->pl, &req->place, req->place_keys, err, sizeof(err)))
		return pr_error(p, "%s", err);
	pr_obj_open(p, NULL);
	pr_arr_open(p, "segments");
	ivnetd_placement_show(p, s->pl);
	pr_arr_close(p);
	pr_obj_close(p);
	return 0;
}

static void help(FILE *out)
{
	fputs("requests: [-j] status | [-j] segment show [SEGMENT] | [-j] peer list [SEGMENT] |\n"
	      "          [-j] stats [SEGMENT] | [-j] topology | [-j] placement [show] [SEGMENT] |\n"
	      "          [-j] placement set SEGMENT [policy=none|pack|spread]\n"
	      "               [pin=affinity|cpuset] [cpus=LIST] [sched=fifo:N|rr:N|nice:N] |\n"
	      "          peer label SEGMENT ID|pid=PID [name=NAME] [uuid=UUID] [qmp=PATH] |\n"
	      "          peer uplink SEGMENT ID on|off\n",
	      out);
}

int ivnetd_ctl_answer(struct ivnetd *d, const struct ivnetd_ctl_request *req, FILE *out)
{
	struct pr p;
	int i;

	pr_init(&p, out, req->json);
	if (req->segment[0] && !find_segment(d, req->segment))
		return pr_error(&p, "no segment '%s'", req->segment);
	switch (req->verb) {
	case IVNETD_CTL_HELP:
		help(out);
		return 0;
	case IVNETD_CTL_PEER_LABEL:
		return label_peer(d, req, &p);
	case IVNETD_CTL_PLACEMENT_SET:
		return place_set(d, req, &p);
	case IVNETD_CTL_TOPOLOGY:
		if (!d->topo)
			return pr_error(&p, "the CPU topology could not be read (see the log)");
		ivnetd_topo_show(&p, d->topo);
		return 0;
	case IVNETD_CTL_PEER_UPLINK:
		return uplink_peer(d, req, &p);
	case IVNETD_CTL_STATUS:
		pr_obj_open(&p, NULL);
		pr_str(&p, "daemon", "%s", "ivnetd");
		pr_i64(&p, "pid", " pid %lld", getpid());
		pr_i64(&p, "uptime", " uptime %llds", (int64_t)time(NULL) - d->started_at);
		pr_u64(&p, "segments", " segments %llu", (uint64_t)d->nseg);
		pr_u64(&p, "layout_version", " layout v%llu", IVNET_LAYOUT_VERSION);
		pr_obj_close(&p);
		pr_text(&p, "\n");
		return 0;
	default:
		break;
	}
	pr_obj_open(&p, NULL);
	pr_arr_open(&p, req->verb == IVNETD_CTL_PEER_LIST ? "peers"
			: req->verb == IVNETD_CTL_STATS	  ? "stats"
							  : "segments");
	/* segment show and placement show list segments */
	for (i = 0; i < d->nseg; i++) {
		struct ivnetd_segment *s = &d->seg[i];
		uint32_t id;

		if (req->segment[0] && strcmp(req->segment, s->cfg.name))
			continue;
		if (req->verb == IVNETD_CTL_SEGMENT_SHOW)
			show_segment(&p, s);
		else if (req->verb == IVNETD_CTL_PLACEMENT_SHOW)
			ivnetd_placement_show(&p, s->pl);
		else if (req->verb == IVNETD_CTL_STATS)
			show_counters(&p, s);
		else
			for (id = 0; id < s->region.layout.max_peers; id++)
				if (s->peer[id])
					show_peer(&p, s, s->peer[id]);
	}
	pr_arr_close(&p);
	pr_obj_close(&p);
	return 0;
}

/* --------------------------------------------------------------- socket */

static void answer_line(void *ctx, const char *line, size_t len, FILE *out)
{
	struct ivnetd *d = ctx;
	struct ivnetd_ctl_request req;
	char err[HOST_ERRLEN];

	if (d->cfg.verbose)
		ivnetd_log(d, "control request=%.*s", (int)strcspn(line, "\n"), line);
	if (ivnetd_ctl_parse(line, len, &req, err, sizeof(err)))
		ctl_parse_error(out, line, err);
	else
		ivnetd_ctl_answer(d, &req, out);
}

int ivnetd_ctl_start(struct ivnetd *d)
{
	const struct host_log log = {ivnetd_log_line, d};
	int err = ctl_server_start(&d->ctl, d->cfg.control_path, answer_line, d, &log);

	if (err)
		return err;
	d->ctl_w.kind = IVNETD_W_CONTROL;
	d->ctl_w.fd = d->ctl.epfd;
	return ivnetd_watch_add(d, &d->ctl_w);
}

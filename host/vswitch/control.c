// SPDX-License-Identifier: MIT
/*
 * control.c - the switch's control socket, as ivnetd's: a client connects,
 * writes one request line (grammar in ctl_parse.h), reads the answer until
 * we close (time-outs and limits in host/util/ctl_server.h). Answers are
 * iproute2-style text, or one JSON object after -j, from the same calls
 * (host/util/print.c); errors are "error: REASON" or {"error":"REASON"}.
 * `ivnetctl -s PATH ...` speaks it.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_mempool.h>

#include "ctl_server.h"
#include "host_err.h"
#include "print.h"
#include "vswitch.h"

/* ------------------------------------------------------------- answers */

static void show_status(struct vsw *s, struct pr *p)
{
	unsigned int i, ports = 0;

	for (i = 0; i < VSW_PORTS_MAX; i++)
		ports += s->port[i] != NULL;
	pr_obj_open(p, NULL);
	pr_str(p, "daemon", "%s", "ivnet-vswitch");
	pr_i64(p, "pid", " pid %lld", getpid());
	pr_i64(p, "uptime", " uptime %llds", (int64_t)time(NULL) - s->started_at);
	pr_u64(p, "ports", " ports %llu", ports);
	pr_u64(p, "max_ports", "/%llu", VSW_PORTS_MAX);
	pr_arr_open(p, "lcores");
	pr_text(p, " lcores");
	for (i = 0; i < s->nworkers; i++)
		pr_u64(p, NULL, i ? ",%llu" : " %llu", s->worker[i].lcore);
	pr_arr_close(p);
	pr_u64(p, "fdb_entries", " fdb %llu", vsw_fdb_walk(&s->fdb, NULL, NULL));
	pr_u64(p, "fdb_capacity", "/%llu", vsw_fdb_capacity(&s->fdb));
	pr_u64(p, "aging", " aging %llus", s->cfg.aging_s);
	pr_u64(p, "mbufs_free", " mbufs-free %llu", rte_mempool_avail_count(s->pool));
	pr_obj_close(p);
	pr_text(p, "\n");
}

static void show_port(struct vsw *s, struct pr *p, struct vsw_port *q)
{
	const struct vsw_port_spec *sp = &q->spec;

	pr_obj_open(p, NULL);
	pr_str(p, "name", "%s", sp->name);
	pr_u64(p, "slot", " slot %llu", q->slot);
	pr_str(p, "kind", " %s", vsw_kind_name(sp->kind));
	if (sp->kind == VSW_PORT_VHOST) {
		pr_str(p, "path", " path %s", sp->path);
		pr_str(p, "mode", " mode %s", sp->client ? "client" : "server");
	} else if (sp->kind == VSW_PORT_DPDK) {
		pr_str(p, "dev", " dev %s", sp->dev);
	} else {
		char seg[IVNET_NAME_LEN + 1];
		uint8_t mac[6];
		uint32_t id;

		vsw_ivnet_describe(q, seg, sizeof(seg), &id, mac);
		pr_str(p, "socket", " socket %s", sp->path);
		pr_str(p, "segment", " segment %s", seg);
		pr_u64(p, "peer", " peer %llu", id);
		pr_mac(p, "mac", " mac %s", mac);
		pr_str(p, "role", " role %s", sp->ctl[0] ? "uplink" : "peer");
		pr_u64(p, "peers_up", " peers-up %llu", VSW_READ(s->ivc[q->slot].peers_up));
	}
	if (sp->kind != VSW_PORT_IVNET) {
		struct rte_ether_addr mac;

		pr_u64(p, "port_id", " port-id %llu", q->eth_id);
		if (rte_eth_macaddr_get(q->eth_id, &mac) == 0)
			pr_mac(p, "mac", " mac %s", mac.addr_bytes);
	}
	pr_str(p, "link", " link %s", vsw_port_link_up(q) ? "up" : "down");
	pr_u64(p, "lcore", " lcore %llu", s->worker[q->worker].lcore);
	pr_obj_close(p);
	pr_text(p, "\n");
}

static const struct pr_counter port_ctrs[] = {
	PR_COUNTER(struct vsw_port_counters, rx_packets, " rx %llu"),
	PR_COUNTER(struct vsw_port_counters, rx_bytes, " rx-bytes %llu"),
	PR_COUNTER(struct vsw_port_counters, rx_dropped, " rx-dropped %llu"),
	PR_COUNTER(struct vsw_port_counters, tx_packets, " tx %llu"),
	PR_COUNTER(struct vsw_port_counters, tx_bytes, " tx-bytes %llu"),
	PR_COUNTER(struct vsw_port_counters, tx_dropped, " tx-dropped %llu"),
	PR_COUNTER(struct vsw_port_counters, flooded, " flooded %llu"),
	PR_COUNTER(struct vsw_port_counters, filtered, " filtered %llu"),
};

static const struct pr_counter ivnet_ctrs[] = {
	PR_COUNTER(struct vsw_ivnet_counters, tx_unknown, " tx-unknown %llu"),
	PR_COUNTER(struct vsw_ivnet_counters, tx_full, " tx-full %llu"),
	PR_COUNTER(struct vsw_ivnet_counters, tx_offload, " tx-offload %llu"),
	PR_COUNTER(struct vsw_ivnet_counters, rx_errors, " rx-errors %llu"),
	PR_COUNTER(struct vsw_ivnet_counters, rx_to_self, " rx-to-self %llu"),
};

static const struct pr_counter worker_ctrs[] = {
	PR_COUNTER(struct vsw_worker_counters, forwarded, " forwarded %llu"),
	PR_COUNTER(struct vsw_worker_counters, flooded, " flooded %llu"),
	PR_COUNTER(struct vsw_worker_counters, dropped, " dropped %llu"),
};

static const struct pr_counter fdb_ctrs[] = {
	PR_COUNTER(struct vsw_fdb_counters, learned, " learned %llu"),
	PR_COUNTER(struct vsw_fdb_counters, moved, " moved %llu"),
	PR_COUNTER(struct vsw_fdb_counters, evicted, " evicted %llu"),
	PR_COUNTER(struct vsw_fdb_counters, aged, " aged %llu"),
};

static void port_counters(struct vsw *s, struct pr *p, struct vsw_port *q)
{
	struct vsw_port_counters c;

	vsw_port_counters_sum(s, q->slot, &c);
	pr_obj_open(p, NULL);
	pr_str(p, "name", "%s", q->spec.name);
	PR_COUNTERS(p, &c, port_ctrs);
	if (q->spec.kind == VSW_PORT_IVNET)
		PR_COUNTERS(p, &s->ivc[q->slot], ivnet_ctrs);
	pr_obj_close(p);
	pr_text(p, "\n");
}

static void show_stats(struct vsw *s, struct pr *p)
{
	struct vsw_worker_counters t = {0};
	const struct vsw_fdb_counters *f = &s->fdb.n;
	unsigned int i;

	pr_obj_open(p, NULL);
	pr_arr_open(p, "ports");
	for (i = 0; i < VSW_PORTS_MAX; i++)
		if (s->port[i])
			port_counters(s, p, s->port[i]);
	pr_arr_close(p);
	for (i = 0; i < s->nworkers; i++) {
		t.forwarded += VSW_READ(s->worker[i].n.forwarded);
		t.flooded += VSW_READ(s->worker[i].n.flooded);
		t.dropped += VSW_READ(s->worker[i].n.dropped);
	}
	pr_obj_open(p, "switch");
	pr_text(p, "switch");
	PR_COUNTERS(p, &t, worker_ctrs);
	pr_u64(p, "fdb_entries", " fdb %llu", vsw_fdb_walk(&s->fdb, NULL, NULL));
	PR_COUNTERS(p, f, fdb_ctrs);
	pr_obj_close(p);
	pr_text(p, "\n");
	pr_obj_close(p);
}

struct fdb_print {
	struct vsw *s;
	struct pr *p;
	uint32_t now;
};

static void fdb_entry(void *arg, const uint8_t mac[6], uint16_t slot, uint32_t seen)
{
	struct fdb_print *fp = arg;
	struct vsw_port *q = slot < VSW_PORTS_MAX ? fp->s->port[slot] : NULL;

	pr_obj_open(fp->p, NULL);
	pr_mac(fp->p, "mac", "%s", mac);
	pr_str(fp->p, "port", " port %s", q ? q->spec.name : "-");
	pr_u64(fp->p, "age", " age %llu", fp->now - seen);
	pr_obj_close(fp->p);
	pr_text(fp->p, "\n");
}

static void help(FILE *out)
{
	fputs("requests: [-j] status | [-j] port list | [-j] stats | [-j] fdb show | fdb flush |\n"
	      "          port add NAME vhost path=SOCKET [client=0|1] |\n"
	      "          port add NAME dpdk dev=PCI-ADDRESS|VDEV[,ARGS] |\n"
	      "          port add NAME ivnet socket=SOCKET [ctl=PATH|none] |\n"
	      "          port del NAME | help\n",
	      out);
}

static int answer(struct vsw *s, const struct vsw_request *req, FILE *out)
{
	struct fdb_print fp;
	char err[HOST_ERRLEN];
	struct pr p;
	unsigned int i;

	pr_init(&p, out, req->json);
	switch (req->verb) {
	case VSW_CTL_HELP:
		help(out);
		return 0;
	case VSW_CTL_STATUS:
		show_status(s, &p);
		return 0;
	case VSW_CTL_PORT_LIST:
		pr_obj_open(&p, NULL);
		pr_arr_open(&p, "ports");
		for (i = 0; i < VSW_PORTS_MAX; i++)
			if (s->port[i])
				show_port(s, &p, s->port[i]);
		pr_arr_close(&p);
		pr_obj_close(&p);
		return 0;
	case VSW_CTL_STATS:
		show_stats(s, &p);
		return 0;
	case VSW_CTL_FDB_SHOW:
		fp.s = s;
		fp.p = &p;
		fp.now = __atomic_load_n(&s->now_s, __ATOMIC_RELAXED);
		pr_obj_open(&p, NULL);
		pr_arr_open(&p, "fdb");
		vsw_fdb_walk(&s->fdb, fdb_entry, &fp);
		pr_arr_close(&p);
		pr_obj_close(&p);
		return 0;
	case VSW_CTL_FDB_FLUSH:
		pr_obj_open(&p, NULL);
		pr_u64(&p, "flushed", "flushed %llu\n", vsw_fdb_flush(&s->fdb, -1));
		pr_obj_close(&p);
		return 0;
	case VSW_CTL_PORT_ADD:
		if (vsw_port_add(s, &req->spec, err, sizeof(err)))
			return pr_error(&p, "%s", err);
		show_port(s, &p, vsw_port_find(s, req->spec.name));
		return 0;
	case VSW_CTL_PORT_DEL:
		if (vsw_port_del(s, req->name, err, sizeof(err)))
			return pr_error(&p, "%s", err);
		pr_obj_open(&p, NULL);
		pr_obj_close(&p);
		return 0;
	}
	return pr_error(&p, "unhandled request");
}

/* --------------------------------------------------------------- socket */

static void answer_line(void *ctx, const char *line, size_t len, FILE *out)
{
	struct vsw *s = ctx;
	struct vsw_request req;
	char err[HOST_ERRLEN];

	if (vsw_ctl_parse(line, len, &req, err, sizeof(err))) {
		ctl_parse_error(out, line, err);
		return;
	}
	if (s->cfg.verbose || req.verb == VSW_CTL_PORT_ADD || req.verb == VSW_CTL_PORT_DEL)
		vsw_log(s, "control request=%.*s", (int)strcspn(line, "\n"), line);
	answer(s, &req, out);
}

static void log_line(void *s, const char *line)
{
	vsw_log(s, "%s", line);
}

int vsw_ctl_start(struct vsw *s)
{
	const struct host_log log = {log_line, s};

	return ctl_server_start(&s->ctl, s->cfg.control_path, answer_line, s, &log);
}

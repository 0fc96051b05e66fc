// SPDX-License-Identifier: MIT
/*
 * control.c - the switch's control socket, as ivnetd's: a client connects,
 * writes one request line (grammar in ctl_parse.h), reads the answer until
 * we close. Answers are iproute2-style text, or one JSON object after -j,
 * from the same calls (host/util/print.c); errors are "error: REASON" or
 * {"error":"REASON"}. `ivnetctl -s PATH ...` speaks it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_mempool.h>

#include "ctl_io.h"
#include "print.h"
#include "vswitch.h"

#define LISTEN_TAG UINT64_MAX

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

static void port_counters(struct vsw *s, struct pr *p, struct vsw_port *q)
{
	struct vsw_port_counters c;

	vsw_port_counters_sum(s, q->slot, &c);
	pr_obj_open(p, NULL);
	pr_str(p, "name", "%s", q->spec.name);
	pr_u64(p, "rx_packets", " rx %llu", c.rx_packets);
	pr_u64(p, "rx_bytes", " rx-bytes %llu", c.rx_bytes);
	pr_u64(p, "rx_dropped", " rx-dropped %llu", c.rx_dropped);
	pr_u64(p, "tx_packets", " tx %llu", c.tx_packets);
	pr_u64(p, "tx_bytes", " tx-bytes %llu", c.tx_bytes);
	pr_u64(p, "tx_dropped", " tx-dropped %llu", c.tx_dropped);
	pr_u64(p, "flooded", " flooded %llu", c.flooded);
	pr_u64(p, "filtered", " filtered %llu", c.filtered);
	if (q->spec.kind == VSW_PORT_IVNET) {
		const struct vsw_ivnet_counters *v = &s->ivc[q->slot];

		pr_u64(p, "tx_unknown", " tx-unknown %llu", VSW_READ(v->tx_unknown));
		pr_u64(p, "tx_full", " tx-full %llu", VSW_READ(v->tx_full));
		pr_u64(p, "tx_offload", " tx-offload %llu", VSW_READ(v->tx_offload));
		pr_u64(p, "rx_errors", " rx-errors %llu", VSW_READ(v->rx_errors));
		pr_u64(p, "rx_to_self", " rx-to-self %llu", VSW_READ(v->rx_to_self));
	}
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
	pr_u64(p, "forwarded", " forwarded %llu", t.forwarded);
	pr_u64(p, "flooded", " flooded %llu", t.flooded);
	pr_u64(p, "dropped", " dropped %llu", t.dropped);
	pr_u64(p, "fdb_entries", " fdb %llu", vsw_fdb_walk(&s->fdb, NULL, NULL));
	pr_u64(p, "learned", " learned %llu", VSW_READ(f->learned));
	pr_u64(p, "moved", " moved %llu", VSW_READ(f->moved));
	pr_u64(p, "evicted", " evicted %llu", VSW_READ(f->evicted));
	pr_u64(p, "aged", " aged %llu", VSW_READ(f->aged));
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
	char err[240];
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

int vsw_ctl_start(struct vsw *s)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LISTEN_TAG};
	int fd;

	s->ctl_fd = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	if (strlen(s->cfg.control_path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, s->cfg.control_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(s->cfg.control_path);
	/* it adds and removes ports: owner only */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(s->cfg.control_path, 0600) < 0 || listen(fd, 16) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	s->ctl_fd = fd;
	return 0;
}

static void client_close(struct vsw *s, unsigned int i)
{
	close(s->client[i]->fd);
	free(s->client[i]);
	s->client[i] = NULL;
}

static void accept_client(struct vsw *s)
{
	struct epoll_event ev = {.events = EPOLLIN};
	unsigned int i;
	int fd;

	fd = accept4(s->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < VSW_CTL_CLIENTS_MAX && s->client[i]; i++)
		;
	if (i == VSW_CTL_CLIENTS_MAX || !(s->client[i] = calloc(1, sizeof(*s->client[i])))) {
		vsw_log(s, "control refused reason=too-many-clients");
		close(fd);
		return;
	}
	s->client[i]->fd = fd;
	ev.data.u64 = i;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		client_close(s, i);
}

static void reply(struct vsw *s, struct vsw_ctl_client *c)
{
	struct vsw_request req;
	char err[160], *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		return;
	if (vsw_ctl_parse(c->buf, c->len, &req, err, sizeof(err))) {
		struct pr p;

		pr_init(&p, out, !strncmp(c->buf, "-j", 2));
		pr_error(&p, "%s", err);
	} else {
		if (s->cfg.verbose || req.verb == VSW_CTL_PORT_ADD || req.verb == VSW_CTL_PORT_DEL)
			vsw_log(s, "control request=%.*s", (int)strcspn(c->buf, "\n"), c->buf);
		answer(s, &req, out);
	}
	fclose(out);
	ctl_send_answer(c->fd, text, len);
	free(text);
}

static void client_event(struct vsw *s, unsigned int i)
{
	struct vsw_ctl_client *c = s->client[i];
	char *nl;
	ssize_t n;

	n = recv(c->fd, c->buf + c->len, VSW_CTL_LINE_MAX + 1 - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->len)
			reply(s, c); /* EOF before a newline: answer what came */
		client_close(s, i);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	nl = memchr(c->buf, '\n', c->len);
	if (nl)
		c->len = (size_t)(nl - c->buf) + 1;
	if (nl || c->len > VSW_CTL_LINE_MAX) {
		reply(s, c);
		client_close(s, i);
	}
}

void vsw_ctl_run(struct vsw *s, int timeout_ms)
{
	struct epoll_event ev[8];
	int n, i;

	n = epoll_wait(s->epfd, ev, 8, timeout_ms);
	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == LISTEN_TAG)
			accept_client(s);
		else if (ev[i].data.u64 < VSW_CTL_CLIENTS_MAX && s->client[ev[i].data.u64])
			client_event(s, (unsigned int)ev[i].data.u64);
	}
}

void vsw_ctl_stop(struct vsw *s)
{
	unsigned int i;

	for (i = 0; i < VSW_CTL_CLIENTS_MAX; i++)
		if (s->client[i])
			client_close(s, i);
	if (s->ctl_fd >= 0) {
		close(s->ctl_fd);
		unlink(s->cfg.control_path);
		s->ctl_fd = -1;
	}
	if (s->epfd >= 0)
		close(s->epfd);
	s->epfd = -1;
}

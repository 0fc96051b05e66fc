// SPDX-License-Identifier: MIT
/*
 * port.c - port life cycle, on the control thread: a port is opened,
 * published in the slot table and handed to the least loaded worker; on
 * removal it is unpublished, and closed only after an RCU grace period,
 * when no worker can still be polling it or transmitting to it.
 *
 * Ethernet ports are DPDK devices probed at run time (rte_eal_hotplug_add):
 * vhost-user ports are net_vhost vdevs, uplinks a PCI device or any vdev.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_pci.h>

#include "host_err.h"
#include "vswitch.h"

#define RX_DESC 1024
#define TX_DESC 1024

struct vsw_port *vsw_port_find(struct vsw *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < VSW_PORTS_MAX; i++)
		if (s->port[i] && !strcmp(s->port[i]->spec.name, name))
			return s->port[i];
	return NULL;
}

/* ------------------------------------------------------------ ethdev ports */

static uint16_t eth_rx(struct vsw_port *p, struct rte_mbuf **m, uint16_t n)
{
	return rte_eth_rx_burst(p->eth_id, 0, m, n);
}

static uint16_t eth_tx(struct vsw_port *p, struct rte_mbuf **m, uint16_t n)
{
	return rte_eth_tx_burst(p->eth_id, 0, m, n);
}

static const struct vsw_port_ops eth_ops = {
	.rx = eth_rx,
	.tx = eth_tx,
};

/* Bus, device name and arguments for rte_eal_hotplug_add(). */
static int device_of(const struct vsw_port *p, char *bus, char *name, char *args, char *err,
		     size_t el)
{
	const struct vsw_port_spec *sp = &p->spec;
	size_t first;

	if (sp->kind == VSW_PORT_VHOST) {
		strcpy(bus, "vdev");
		snprintf(name, RTE_DEV_NAME_MAX_LEN, "net_vhost_%s", sp->name);
		snprintf(args, VSW_DEV_MAX + 64, "iface=%s,client=%d,queues=1", sp->path,
			 sp->client);
		return 0;
	}
	first = strcspn(sp->dev, ",");
	if (first >= RTE_DEV_NAME_MAX_LEN) {
		snprintf(err, el, "device name too long");
		return -1;
	}
	snprintf(args, VSW_DEV_MAX + 64, "%s", sp->dev[first] ? sp->dev + first + 1 : "");
	if (vsw_is_pci_addr(sp->dev, first)) {
		struct rte_pci_addr addr;
		char pci[16];

		snprintf(pci, sizeof(pci), "%.*s", (int)first, sp->dev);
		if (rte_pci_addr_parse(pci, &addr)) {
			snprintf(err, el, "bad PCI address %s", pci);
			return -1;
		}
		/* the canonical DDDD:BB:DD.F form: what the PCI bus names it */
		rte_pci_device_name(&addr, name, RTE_DEV_NAME_MAX_LEN);
		strcpy(bus, "pci");
	} else {
		snprintf(name, RTE_DEV_NAME_MAX_LEN, "%.*s", (int)first, sp->dev);
		strcpy(bus, "vdev");
	}
	return 0;
}

/* The ethdev port of a probed device (a vdev's ethdev has its name; a PCI
 * device's first port is found through its device). */
static int find_eth_port(const char *devname, uint16_t *out)
{
	uint16_t id;

	if (rte_eth_dev_get_port_by_name(devname, out) == 0)
		return 0;
	RTE_ETH_FOREACH_DEV(id)
	{
		struct rte_eth_dev_info info;

		if (rte_eth_dev_info_get(id, &info) == 0 && info.device &&
		    !strcmp(rte_dev_name(info.device), devname)) {
			*out = id;
			return 0;
		}
	}
	return -ENODEV;
}

static int eth_setup(struct vsw *s, struct vsw_port *p, char *err, size_t el)
{
	struct rte_eth_conf conf;
	uint16_t nrx = RX_DESC, ntx = TX_DESC, id = p->eth_id;
	int sock = rte_eth_dev_socket_id(id), ret;

	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_configure(id, 1, 1, &conf);
	if (!ret)
		ret = rte_eth_dev_adjust_nb_rx_tx_desc(id, &nrx, &ntx);
	if (ret) {
		snprintf(err, el, "configure: %s", rte_strerror(-ret));
		return ret;
	}
	ret = rte_eth_rx_queue_setup(id, 0, nrx, sock, NULL, s->pool);
	if (!ret)
		ret = rte_eth_tx_queue_setup(id, 0, ntx, sock, NULL);
	if (ret) {
		snprintf(err, el, "queue setup: %s", rte_strerror(-ret));
		return ret;
	}
	ret = rte_eth_dev_start(id);
	if (ret) {
		snprintf(err, el, "start: %s", rte_strerror(-ret));
		return ret;
	}
	p->started = 1;
	/* a switch port takes every address; ports that cannot say so
	 * (vhost) take everything anyway */
	ret = rte_eth_promiscuous_enable(id);
	if (ret && ret != -ENOTSUP)
		vsw_log(s, "port %s: promiscuous mode: %s", p->spec.name, rte_strerror(-ret));
	return 0;
}

int vsw_eth_open(struct vsw *s, struct vsw_port *p, char *err, size_t el)
{
	char args[VSW_DEV_MAX + 64];
	int ret;

	if (device_of(p, p->bus, p->devname, args, err, el))
		return -EINVAL;
	ret = rte_eal_hotplug_add(p->bus, p->devname, args);
	if (ret) {
		snprintf(err, el, "probing %s:%s: %s", p->bus, p->devname, rte_strerror(-ret));
		p->devname[0] = '\0';
		return ret < 0 ? ret : -EIO;
	}
	ret = find_eth_port(p->devname, &p->eth_id);
	if (ret) {
		snprintf(err, el, "%s has no Ethernet port", p->devname);
		goto fail;
	}
	ret = eth_setup(s, p, err, el);
	if (ret)
		goto fail;
	p->ops = &eth_ops;
	return 0;
fail:
	vsw_eth_close(p);
	return ret;
}

void vsw_eth_close(struct vsw_port *p)
{
	if (!p->devname[0])
		return;
	if (p->started)
		rte_eth_dev_stop(p->eth_id);
	p->started = 0;
	/* closing a vdev's port releases it; removing the device then finds
	 * nothing left to release (and unbinds a PCI device's driver) */
	rte_eth_dev_close(p->eth_id);
	rte_eal_hotplug_remove(p->bus, p->devname);
	p->devname[0] = '\0';
}

int vsw_port_link_up(struct vsw_port *p)
{
	struct rte_eth_link link;

	if (p->spec.kind == VSW_PORT_IVNET)
		return !vsw_ivnet_gone(p);
	if (rte_eth_link_get_nowait(p->eth_id, &link))
		return 0;
	return link.link_status == RTE_ETH_LINK_UP;
}

/* ------------------------------------------------------------ publication */

/*
 * Give worker w a new port list with slot added (add) or removed; returns
 * the old list, to be freed after a grace period.
 */
static struct vsw_plist *plist_replace(struct vsw_worker *w, uint16_t slot, int add,
				       struct vsw_plist **old)
{
	struct vsw_plist *cur = w->ports, *nl = malloc(sizeof(*nl));
	unsigned int i;

	*old = NULL;
	if (!nl)
		return NULL;
	nl->n = 0;
	for (i = 0; i < cur->n; i++)
		if (cur->slot[i] != slot)
			nl->slot[nl->n++] = cur->slot[i];
	if (add)
		nl->slot[nl->n++] = slot;
	w->nports = nl->n;
	/* release: a worker that loads the list sees the ports it names */
	__atomic_store_n(&w->ports, nl, __ATOMIC_RELEASE);
	*old = cur;
	return nl;
}

static void grace_period(struct vsw *s)
{
	rte_rcu_qsbr_synchronize(s->qsbr, RTE_QSBR_THRID_INVALID);
}

static struct vsw_worker *least_loaded(struct vsw *s)
{
	struct vsw_worker *best = &s->worker[0];
	unsigned int i;

	for (i = 1; i < s->nworkers; i++)
		if (s->worker[i].nports < best->nports)
			best = &s->worker[i];
	return best;
}

static int conflicts(struct vsw *s, const struct vsw_port_spec *sp, char *err, size_t el)
{
	unsigned int i;

	if (vsw_port_find(s, sp->name)) {
		snprintf(err, el, "port %s exists", sp->name);
		return 1;
	}
	for (i = 0; i < VSW_PORTS_MAX; i++) {
		const struct vsw_port_spec *o = s->port[i] ? &s->port[i]->spec : NULL;

		/* the same segment twice would be a loop; the same socket
		 * twice cannot work */
		if (o && o->kind == sp->kind && sp->kind != VSW_PORT_DPDK &&
		    !strcmp(o->path, sp->path)) {
			snprintf(err, el, "port %s already uses %s", o->name, sp->path);
			return 1;
		}
		if (o && o->kind == VSW_PORT_DPDK && sp->kind == VSW_PORT_DPDK &&
		    strcspn(o->dev, ",") == strcspn(sp->dev, ",") &&
		    !strncmp(o->dev, sp->dev, strcspn(sp->dev, ","))) {
			snprintf(err, el, "port %s already uses that device", o->name);
			return 1;
		}
	}
	return 0;
}

int vsw_port_add(struct vsw *s, const struct vsw_port_spec *sp, char *err, size_t el)
{
	static unsigned int generation;
	struct vsw_plist *old;
	struct vsw_worker *w;
	struct vsw_port *p;
	char ring[RTE_RING_NAMESIZE];
	unsigned int slot, i;
	int ret;

	if (conflicts(s, sp, err, el))
		return -EEXIST;
	for (slot = 0; slot < VSW_PORTS_MAX && s->port[slot]; slot++)
		;
	if (slot == VSW_PORTS_MAX) {
		snprintf(err, el, "no free port slot (at most %d ports)", VSW_PORTS_MAX);
		return -ENOSPC;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, el, "out of memory");
		return -ENOMEM;
	}
	p->slot = (uint16_t)slot;
	p->spec = *sp;
	p->added_at = time(NULL);
	ret = sp->kind == VSW_PORT_IVNET ? vsw_ivnet_open(s, p, err, el)
					 : vsw_eth_open(s, p, err, el);
	if (ret)
		goto free_port;
	snprintf(ring, sizeof(ring), "vsw_txq_%u_%u", slot, generation++);
	p->txq = rte_ring_create(ring, VSW_TXQ_SIZE, rte_socket_id(), RING_F_SC_DEQ);
	if (!p->txq) {
		snprintf(err, el, "tx ring: %s", rte_strerror(rte_errno));
		ret = -ENOMEM;
		goto close_port;
	}
	/* nothing touches this slot's counters until the port is published */
	for (i = 0; i < s->nworkers; i++)
		memset(&s->cnt[i][slot], 0, sizeof(s->cnt[i][slot]));
	memset(&s->ivc[slot], 0, sizeof(s->ivc[slot]));
	w = least_loaded(s);
	p->worker = w->idx;
	/* release: workers that find the port in the table see it whole */
	__atomic_store_n(&s->port[slot], p, __ATOMIC_RELEASE);
	if (!plist_replace(w, p->slot, 1, &old)) {
		__atomic_store_n(&s->port[slot], NULL, __ATOMIC_RELEASE);
		grace_period(s);
		snprintf(err, el, "out of memory");
		ret = -ENOMEM;
		goto free_ring;
	}
	grace_period(s);
	free(old);
	vsw_log(s, "port add name=%s kind=%s slot=%u lcore=%u", sp->name, vsw_kind_name(sp->kind),
		slot, w->lcore);
	return 0;
free_ring:
	rte_ring_free(p->txq);
close_port:
	if (sp->kind == VSW_PORT_IVNET)
		vsw_ivnet_close(p);
	else
		vsw_eth_close(p);
free_port:
	free(p);
	return ret;
}

static void drain(struct rte_ring *r)
{
	struct rte_mbuf *m[VSW_BURST];
	unsigned int n, i;

	while ((n = rte_ring_sc_dequeue_burst(r, (void **)m, VSW_BURST, NULL)) > 0)
		for (i = 0; i < n; i++)
			rte_pktmbuf_free(m[i]);
}

int vsw_port_del(struct vsw *s, const char *name, char *err, size_t el)
{
	struct vsw_port *p = vsw_port_find(s, name);
	struct vsw_plist *old;
	unsigned int flushed;

	if (!p) {
		snprintf(err, el, "no port %s", name);
		return -ENOENT;
	}
	/* unpublish: no new lookups find it ... */
	__atomic_store_n(&s->port[p->slot], NULL, __ATOMIC_RELEASE);
	if (!plist_replace(&s->worker[p->worker], p->slot, 0, &old)) {
		snprintf(err, el, "out of memory");
		__atomic_store_n(&s->port[p->slot], p, __ATOMIC_RELEASE);
		return -ENOMEM;
	}
	/* ... and after the grace period no worker holds it any more */
	grace_period(s);
	free(old);
	flushed = vsw_fdb_flush(&s->fdb, p->slot);
	drain(p->txq);
	rte_ring_free(p->txq);
	if (p->spec.kind == VSW_PORT_IVNET)
		vsw_ivnet_close(p);
	else
		vsw_eth_close(p);
	vsw_log(s, "port del name=%s slot=%u fdb-flushed=%u", p->spec.name, p->slot, flushed);
	free(p);
	return 0;
}

void vsw_port_del_all(struct vsw *s)
{
	unsigned int i;
	char err[HOST_ERRLEN];

	for (i = 0; i < VSW_PORTS_MAX; i++)
		if (s->port[i])
			vsw_port_del(s, s->port[i]->spec.name, err, sizeof(err));
}

void vsw_port_counters_sum(struct vsw *s, uint16_t slot, struct vsw_port_counters *out)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < s->nworkers; i++) {
		const struct vsw_port_counters *c = &s->cnt[i][slot];

		out->rx_packets += VSW_READ(c->rx_packets);
		out->rx_bytes += VSW_READ(c->rx_bytes);
		out->rx_dropped += VSW_READ(c->rx_dropped);
		out->tx_packets += VSW_READ(c->tx_packets);
		out->tx_bytes += VSW_READ(c->tx_bytes);
		out->tx_dropped += VSW_READ(c->tx_dropped);
		out->flooded += VSW_READ(c->flooded);
		out->filtered += VSW_READ(c->filtered);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * vswitch.h - ivnet-vswitch: an L2 switch on DPDK between vhost-user ports
 * (the VMs' virtio-net), uplinks (any DPDK port) and ivnet segments.
 *
 * Threads: the main lcore runs the control socket, port add/del and MAC
 * aging (main.c, control.c, port.c); every other lcore is a forwarding
 * worker (switch.c) that polls the ports it owns, learns, looks up and
 * transmits in bursts. A port is owned by one worker, which alone calls its
 * rx and tx functions; the others hand it frames through its tx ring.
 *
 * Ports come and go while workers run: the slot table and each worker's
 * port list are published with release stores and read under RCU (DPDK's
 * QSBR: a worker reports a quiescent state once per loop, outside any use
 * of a port). Removal unpublishes, waits for a grace period, then closes.
 */
#ifndef VSW_VSWITCH_H
#define VSW_VSWITCH_H

#include <stdint.h>
#include <stdio.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "ctl_parse.h"
#include "ctl_server.h"
#include "fdb.h"
#include "ivnet_region.h"

#define VSW_PORTS_MAX 32
#define VSW_WORKERS_MAX 16
#define VSW_BURST 32
#define VSW_TXQ_SIZE 1024      /* per-port ring of frames from other workers */
#define VSW_FRAME_MAX 9216     /* largest frame a port passes on */
#define VSW_FDB_DEFAULT 4096   /* MACs */
#define VSW_AGING_DEFAULT 300  /* seconds */
#define VSW_MBUFS_DEFAULT 8191 /* a power of two minus one suits mempools */

/* Counters of one port, kept per worker: each row has one writer. */
struct vsw_port_counters {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t rx_dropped; /* invalid frames: runts, group source MACs, offloads */
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t tx_dropped; /* the port or its ring did not take them */
	uint64_t flooded;    /* frames from this port sent to every other port */
	uint64_t filtered;   /* frames for a MAC on this same port */
} __attribute__((aligned(64)));

/* What the ivnet port's owner copies out of libivnet now and then. */
struct vsw_ivnet_counters {
	uint64_t tx_unknown;
	uint64_t tx_full;
	uint64_t tx_offload;
	uint64_t rx_errors;
	uint64_t rx_to_self; /* frames for the switch's own segment MAC: not forwarded */
	uint64_t peers_up;
	uint64_t gone; /* the broker went away */
};

struct vsw_port;

struct vsw_port_ops {
	/* Receive up to n frames (owner worker only). */
	uint16_t (*rx)(struct vsw_port *p, struct rte_mbuf **m, uint16_t n);
	/* Transmit; returns how many were taken (owner worker only). The
	 * rest are still the caller's. */
	uint16_t (*tx)(struct vsw_port *p, struct rte_mbuf **m, uint16_t n);
	/* Called by the owner once per loop when idle; may be NULL. */
	void (*idle)(struct vsw_port *p);
};

struct vsw_ivnet_port;

struct vsw_port {
	uint16_t slot;
	struct vsw_port_spec spec;
	const struct vsw_port_ops *ops;
	unsigned int worker;  /* owner */
	struct rte_ring *txq; /* from other workers: MP enqueue, owner dequeues */
	/* ethdev ports */
	uint16_t eth_id;
	char bus[8];			    /* "vdev" or "pci" */
	char devname[RTE_DEV_NAME_MAX_LEN]; /* for rte_eal_hotplug_remove */
	int started;
	/* ivnet ports */
	struct vsw_ivnet_port *iv;
	int64_t added_at;
};

/* The ports a worker owns: immutable once published, replaced whole. */
struct vsw_plist {
	unsigned int n;
	uint16_t slot[VSW_PORTS_MAX];
};

struct vsw_worker_counters {
	uint64_t loops;
	uint64_t forwarded; /* unicast frames sent to their learned port */
	uint64_t flooded;   /* broadcast, multicast and unknown unicast */
	uint64_t dropped;   /* to a port that is gone, or to ourselves */
} __attribute__((aligned(64)));

struct vsw;

struct vsw_worker {
	struct vsw *sw;
	unsigned int idx;
	unsigned int lcore;
	struct vsw_plist *ports; /* RCU: read once per loop */
	unsigned int nports;	 /* control thread's count, for placement */
	/* per destination slot: frames collected from one received burst */
	uint16_t out_n[VSW_PORTS_MAX];
	struct rte_mbuf *out[VSW_PORTS_MAX][VSW_BURST];
	struct vsw_worker_counters n;
} __attribute__((aligned(64)));

struct vsw_config {
	char control_path[VSW_PATH_MAX];
	uint32_t aging_s; /* 0: never */
	uint32_t fdb_entries;
	uint32_t mbufs;
	uint32_t idle_us; /* sleep this long per loop once idle; 0: always poll */
	int verbose;
	struct vsw_port_spec initial[VSW_PORTS_MAX];
	int n_initial;
};

struct vsw {
	struct vsw_config cfg;
	struct rte_mempool *pool;
	struct vsw_port *port[VSW_PORTS_MAX]; /* RCU: the slot table */
	struct vsw_worker *worker;	      /* nworkers entries */
	unsigned int nworkers;
	struct rte_rcu_qsbr *qsbr;
	struct vsw_fdb fdb;
	/* one row per worker; [worker][slot] */
	struct vsw_port_counters (*cnt)[VSW_PORTS_MAX];
	struct vsw_ivnet_counters ivc[VSW_PORTS_MAX];
	uint32_t now_s;	       /* the switch clock, seconds since start (atomic) */
	int quit;	       /* atomic */
	struct ctl_server ctl; /* host/util/ctl_server.c */
	int64_t started_at;
	uint64_t start_ns;
};

/* main.c */
void vsw_log(struct vsw *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* options.c: the switch's own options (after EAL's and "--"). 0, 1 for
 * help (exit 0), -1 after printing an error. */
int vsw_parse_args(struct vsw_config *cfg, int argc, char **argv);
void vsw_usage(void);

/* port.c: adding and removing ports at run time (control thread). */
int vsw_port_add(struct vsw *s, const struct vsw_port_spec *spec, char *err, size_t errlen);
int vsw_port_del(struct vsw *s, const char *name, char *err, size_t errlen);
void vsw_port_del_all(struct vsw *s);
struct vsw_port *vsw_port_find(struct vsw *s, const char *name);
int vsw_port_link_up(struct vsw_port *p);
/* ethdev ports: open (probe, configure, start) and close */
int vsw_eth_open(struct vsw *s, struct vsw_port *p, char *err, size_t errlen);
void vsw_eth_close(struct vsw_port *p);

/* ivnet_port.c: an ivnet segment as a port. */
int vsw_ivnet_open(struct vsw *s, struct vsw_port *p, char *err, size_t errlen);
void vsw_ivnet_close(struct vsw_port *p);
void vsw_ivnet_describe(const struct vsw_port *p, char *seg, size_t n, uint32_t *id,
			uint8_t mac[6]);
int vsw_ivnet_gone(const struct vsw_port *p);

/* switch.c: the forwarding workers. */
int vsw_worker_main(void *arg); /* arg: its struct vsw_worker */

/* control.c: the control socket (main lcore). */
int vsw_ctl_start(struct vsw *s);

/* Counters added up over workers. */
void vsw_port_counters_sum(struct vsw *s, uint16_t slot, struct vsw_port_counters *out);

/* Relaxed single-writer counter updates (a plain add, no lock prefix). */
#define VSW_ADD(field, v) __atomic_store_n(&(field), (field) + (v), __ATOMIC_RELAXED)
#define VSW_READ(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#endif /* VSW_VSWITCH_H */

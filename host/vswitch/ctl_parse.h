/* SPDX-License-Identifier: MIT */
/*
 * ctl_parse.h - ivnet-vswitch's requests and port specifications, parsed
 * without DPDK or switch state (unit-tested and fuzzed alone).
 *
 * Control requests, one line each (control.c answers them):
 *
 *   [-j] status
 *   [-j] port list
 *   [-j] stats
 *   [-j] fdb show
 *   fdb flush
 *   port add NAME KIND [KEY=VALUE ...]
 *   port del NAME
 *   help
 *
 * A port specification (port add, and the switch's --port option) is
 * NAME KIND [KEY=VALUE ...] with KIND one of
 *
 *   vhost path=SOCKET [client=0|1]   a vhost-user port (net_vhost): a VM's
 *                                    virtio-net; client=1 connects to a
 *                                    socket QEMU serves (reconnecting)
 *   dpdk dev=DEVICE[,ARGS]           any DPDK port as an uplink: a PCI
 *                                    address (an SR-IOV VF or PF bound to
 *                                    vfio-pci) or a vdev (net_tap0,iface=X,
 *                                    net_af_packet0,iface=eth0, net_ring0...)
 *   ivnet socket=SOCKET [ctl=PATH|none]
 *                                    join an ivnet segment as a peer and
 *                                    become its uplink through the broker's
 *                                    control socket (default SOCKET.ctl)
 */
#ifndef VSW_CTL_PARSE_H
#define VSW_CTL_PARSE_H

#include <stddef.h>

#include "ctl_io.h"

#define VSW_NAME_MAX 32
#define VSW_PATH_MAX 108 /* sun_path */
#define VSW_DEV_MAX 256
#define VSW_CTL_LINE_MAX CTL_LINE_MAX

enum vsw_port_kind {
	VSW_PORT_VHOST,
	VSW_PORT_DPDK,
	VSW_PORT_IVNET,
};

struct vsw_port_spec {
	char name[VSW_NAME_MAX];
	enum vsw_port_kind kind;
	char path[VSW_PATH_MAX]; /* vhost: the socket; ivnet: the broker's socket */
	int client;		 /* vhost: connect instead of listening */
	char dev[VSW_DEV_MAX];	 /* dpdk: DEVICE[,ARGS] */
	char ctl[VSW_PATH_MAX];	 /* ivnet: broker control socket; "" for none */
};

enum vsw_verb {
	VSW_CTL_STATUS,
	VSW_CTL_PORT_LIST,
	VSW_CTL_STATS,
	VSW_CTL_FDB_SHOW,
	VSW_CTL_FDB_FLUSH,
	VSW_CTL_PORT_ADD,
	VSW_CTL_PORT_DEL,
	VSW_CTL_HELP,
};

struct vsw_request {
	enum vsw_verb verb;
	int json;
	char name[VSW_NAME_MAX];   /* port del */
	struct vsw_port_spec spec; /* port add */
};

const char *vsw_kind_name(enum vsw_port_kind k);

/* One request line (a trailing newline is allowed). 0, or -1 with a reason. */
int vsw_ctl_parse(const char *line, size_t len, struct vsw_request *req, char *err, size_t errlen);

/* A port specification, words separated by blanks: "NAME KIND K=V ...". */
int vsw_spec_parse(const char *line, struct vsw_port_spec *spec, char *err, size_t errlen);

/* Is s a PCI address (DDDD:BB:DD.F or BB:DD.F)? */
int vsw_is_pci_addr(const char *s, size_t len);

#endif /* VSW_CTL_PARSE_H */

/* SPDX-License-Identifier: MIT */
/*
 * ivlv.h - ivnet-libvirt: puts libvirt domains on ivnet segments.
 *
 * A domain joins a segment through a <shmem> device of model
 * ivshmem-doorbell whose <server path> is the segment's socket: QEMU then
 * joins ivnetd exactly as it joins ivshmem-server. A second one, on the
 * segment's admin socket, gives the guest the broker's own word on the
 * header and peer table (abi/ivnet_shm.h, "admin region"). This tool writes
 * both devices into the persistent definition (and hot-plugs them), pins vCPUs from
 * a CPU list or the broker's placement, lists who is on which segment, and
 * is the libvirt hook that labels peers with domain names.
 *
 * Files, one concept each: main.c (command line, batch), broker.c (ivnetd's
 * control socket), domain.c (libvirt connection and definitions), shmem.c
 * (the device's XML), pin.c (CPU lists, <cputune>, live pinning), label.c
 * (which peer is a domain's QEMU), private.c (two-peer segments for a pair
 * of domains), attach.c, detach.c, list.c, hook.c.
 */
#ifndef IVLV_H
#define IVLV_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/tree.h>

#define IVLV_ERRLEN 512
#define IVLV_NAME_LEN 32 /* segment names, as ivnetd's IVNET_NAME_LEN */
#define IVLV_PATH_LEN 108
#define IVLV_CPUS_MAX 4096
#define IVLV_CTL_TIMEOUT_MS 2000

/* What a command line asks for (main.c fills it). */
struct ivlv_opts {
	const char *uri;     /* NULL: libvirt's default */
	const char *control; /* ivnetd's control socket */
	int json;
	const char *domain;
	const char *segment;
	const char *socket; /* --socket: no broker is asked */
	const char *admin;  /* --admin, with --socket: NULL for SOCKET.admin */
	unsigned vectors;   /* 0: the segment's */
	uint64_t size;	    /* 0: not checked */
	int live, config;
	const char *pin;	  /* NULL, "broker" or a CPU list */
	const char *private_with; /* attach: the other domain of a private pair */
	char **args;		  /* hook: DOMAIN OP SUBOP EXTRA */
	int nargs;
};

/* One process, possibly many commands (batch): the connection is kept. */
struct ivlv {
	virConnectPtr conn;
	char *conn_uri; /* what conn was opened with ("" for the default) */
	FILE *out;
	char err[IVLV_ERRLEN]; /* the failing command's one-line reason */
};

int ivlv_fail(struct ivlv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* broker.c: ivnetd's control socket, one request per connection. */
struct ivlv_segment {
	char name[IVLV_NAME_LEN];
	char socket[IVLV_PATH_LEN];
	char admin[IVLV_PATH_LEN]; /* the admin socket; "": the broker did not say */
	uint64_t size;
	unsigned vectors;
	unsigned max_peers; /* 0: the broker did not say */
};

enum ivlv_policy { IVLV_PIN_NONE, IVLV_PIN_PACK, IVLV_PIN_SPREAD };

struct ivlv_placement {
	enum ivlv_policy policy;
	char cpus[256]; /* a CPU list, as the broker wrote it */
	int node;	/* -1: none */
};

const char *ivlv_control_default(void);
/* The request's answer (malloc'd, NUL-terminated) or NULL with err set. */
char *ivlv_ctl_request(const char *ctl, const char *line, char *err, size_t errlen);
/* Every segment the broker serves; *n set. */
int ivlv_broker_segments(const char *ctl, struct ivlv_segment **segs, int *n, char *err,
			 size_t errlen);
int ivlv_broker_segment(const char *ctl, const char *name, struct ivlv_segment *seg, char *err,
			size_t errlen);
int ivlv_broker_placement(const char *ctl, const char *segment, struct ivlv_placement *pl,
			  char *err, size_t errlen);
/* pids of the segment's peers; returns how many (at most max), or -1. */
int ivlv_broker_peer_pids(const char *ctl, const char *segment, pid_t *pids, int max, char *err,
			  size_t errlen);
int ivlv_broker_label(const char *ctl, const char *segment, pid_t pid, const char *name,
		      const char *uuid, char *err, size_t errlen);
/* Pure parsers of the broker's JSON answers (unit-tested, fuzzable). */
int ivlv_parse_segments(const char *json, struct ivlv_segment **segs, int *n, char *err,
			size_t errlen);
int ivlv_parse_placement(const char *json, const char *segment, struct ivlv_placement *pl,
			 char *err, size_t errlen);

/* domain.c: libvirt. */
int ivlv_connect(struct ivlv *c, const char *uri);
void ivlv_disconnect(struct ivlv *c);
virDomainPtr ivlv_domain(struct ivlv *c, const char *name);
/* Every domain of the connection, by name (malloc'd; free each and it). */
int ivlv_domains(struct ivlv *c, virDomainPtr **doms);
/* The definition (inactive) or the running domain's XML, parsed. */
xmlDocPtr ivlv_domain_xml(struct ivlv *c, virDomainPtr dom, int inactive);
int ivlv_domain_define(struct ivlv *c, virDomainPtr dom, xmlDocPtr doc);
const char *ivlv_libvirt_error(void);

/* The domain a command changes, checked for what it asks (--config: a
 * definition; --live: running), with those XML documents. */
struct ivlv_target {
	virDomainPtr dom;
	xmlDocPtr cfg, run; /* NULL where not asked */
	int config, live;
};

int ivlv_target_open(struct ivlv *c, const struct ivlv_opts *o, struct ivlv_target *t);
void ivlv_target_close(struct ivlv_target *t);
/* "config", "live", "config, live": where a change went. */
const char *ivlv_where(int config, int live);

/* shmem.c: the <shmem> devices. A segment's is named as the segment, its
 * admin device as the segment with IVLV_ADMIN_TAG appended: ':' is no
 * character of a segment name, so neither name can be another segment's. */
#define IVLV_ADMIN_TAG ":admin"
#define IVLV_ADMIN_SUFFIX ".admin" /* ivnetd's default admin socket: SOCKET.admin */
#define IVLV_ADMIN_VECTORS 1	   /* no doorbell goes through the admin device */
#define IVLV_SHMEM_NAME_LEN 256

struct ivlv_shmem {
	xmlNodePtr node;
	char name[IVLV_SHMEM_NAME_LEN];
	char server[IVLV_PATH_LEN + 1];
	unsigned vectors;
	int doorbell; /* model ivshmem-doorbell */
};

xmlNodePtr ivlv_shmem_new(const char *name, const char *server, unsigned vectors);
/* The admin device of segment on socket admin. */
xmlNodePtr ivlv_shmem_admin_new(const char *segment, const char *admin);
/* segment's admin device name into buf (IVLV_SHMEM_NAME_LEN). */
void ivlv_admin_name(const char *segment, char *buf, size_t n);
/* Whether a <shmem> name is an admin device's as ivnet-libvirt names them. */
int ivlv_is_admin_name(const char *name);
/* The device as XML text for virDomain{At,De}tachDeviceFlags (malloc'd). */
char *ivlv_node_xml(xmlNodePtr node);
/* Every <shmem> of the domain document, up to max; returns how many. */
int ivlv_shmem_list(xmlDocPtr doc, struct ivlv_shmem *out, int max);
/* The device that puts the domain on segment name or socket, if any. */
int ivlv_shmem_find(xmlDocPtr doc, const char *name, const char *server, struct ivlv_shmem *out);
xmlNodePtr ivlv_devices(xmlDocPtr doc);

/* private.c: a segment private to two domains. The broker's peer limit of
 * two keeps a third QEMU out; the checks here keep a third definition off. */
#define IVLV_PRIVATE_PEERS 2
/* 0 if the broker limits seg to two peers; else -1 with c->err set. */
int ivlv_private_segment_ok(struct ivlv *c, const struct ivlv_segment *seg);
/* 0 if no domain of the connection but a and b has a device on seg (its
 * name or socket), in its definition or running; else -1 naming it. */
int ivlv_private_no_third(struct ivlv *c, const struct ivlv_segment *seg, virDomainPtr a,
			  virDomainPtr b);
/* 0 unless seg takes two peers and two domains but dom are on it already:
 * dom would be a third, refused by the broker or taking one's place. */
int ivlv_private_room(struct ivlv *c, const struct ivlv_segment *seg, virDomainPtr dom);
/* Whether two handles are the same domain (by UUID). */
int ivlv_same_domain(virDomainPtr a, virDomainPtr b);

/* pin.c: CPU lists and pinning. */
struct ivlv_pin {
	enum ivlv_policy policy;
	unsigned char cpus[IVLV_CPUS_MAX / 8];
	unsigned ncpus; /* CPUs in the list */
};

int ivlv_cpulist_parse(const char *s, unsigned char *map, unsigned max_cpus, char *err,
		       size_t errlen);
void ivlv_cpulist_format(const unsigned char *map, unsigned max_cpus, char *buf, size_t n);
/* The CPUs vCPU i runs on: all of them (pack), the i-th round-robin
 * (spread). */
void ivlv_pin_vcpu(const struct ivlv_pin *pin, unsigned vcpu, unsigned char *map);
/* <cputune>: a <vcpupin> per vCPU and an <emulatorpin>, replacing those
 * there; nvcpus from <vcpu>. */
int ivlv_cputune_set(xmlDocPtr doc, const struct ivlv_pin *pin, char *err, size_t errlen);
int ivlv_pin_live(struct ivlv *c, virDomainPtr dom, const struct ivlv_pin *pin);

/* label.c: tell the broker which peers are the domain's QEMU. */
int ivlv_label_domain(const char *ctl, const char *segment, const char *name, const char *uuid,
		      pid_t qemu_pid, char *err, size_t errlen);
void ivlv_label_word(const char *in, char *out, size_t n);

/* The commands; 0 or -1 with c->err set. */
int ivlv_attach(struct ivlv *c, const struct ivlv_opts *o);
int ivlv_detach(struct ivlv *c, const struct ivlv_opts *o);
int ivlv_list(struct ivlv *c, const struct ivlv_opts *o);
int ivlv_hook(const struct ivlv_opts *o, FILE *in, FILE *log);

#endif /* IVLV_H */

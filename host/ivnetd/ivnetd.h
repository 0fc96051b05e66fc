/* SPDX-License-Identifier: MIT */
/*
 * ivnetd.h - the broker as a library; main.c is a thin shell around it.
 *
 * A daemon serves one or more segments. A segment is one UNIX socket that
 * speaks QEMU's ivshmem-server protocol (ivshmem_proto.h), one shared region
 * formatted with the ivnet layout, and the peer table in that region. One
 * control socket per daemon answers status requests (control.c).
 */
#ifndef IVNETD_H
#define IVNETD_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ctl_server.h"
#include "ivnet_region.h"
#include "placement.h"
#include "topology.h"

#define IVNETD_ALLOW_MAX 16
#define IVNETD_SEGMENTS_MAX 16
#define IVNETD_PATH_MAX 108 /* sun_path */
#define IVNETD_CTL_LINE_MAX CTL_LINE_MAX

struct ivnetd_segment_config {
	char name[IVNET_NAME_LEN];
	char socket_path[IVNETD_PATH_MAX];
	char admin_path[IVNETD_PATH_MAX]; /* empty: socket_path + IVNET_ADMIN_SUFFIX */
	enum ivnet_backing backing;
	char shm_path[256]; /* shm name (-M), or directory (-m) for a file */
	int hugepages;	    /* memfd with MFD_HUGETLB */
	int unsealed;	    /* shm or file backing allowed: every peer is trusted */
	uint64_t size;	    /* bytes; rounded up to a power of two */
	uint32_t vectors;
	uint32_t max_peers;  /* 0: as many as fit, up to IVNETD_DEFAULT_PEERS */
	uint32_t slot_size;  /* 0: default */
	uint32_t max_slots;  /* 0: default */
	int numa_node;	     /* -1: none */
	uint8_t mac_base[6]; /* peer id is added to the last two bytes */
	int mac_base_set;
	uid_t allow_uid[IVNETD_ALLOW_MAX];
	int n_allow_uid;
	gid_t allow_gid[IVNETD_ALLOW_MAX];
	int n_allow_gid;
	int socket_mode; /* -1: leave to the umask */
	gid_t socket_group;
	int socket_group_set;
	struct ivnetd_placement_config place; /* placement.h */
};

#define IVNETD_DEFAULT_PEERS 8u

struct ivnetd_config {
	struct ivnetd_segment_config seg[IVNETD_SEGMENTS_MAX];
	int nseg;
	char control_path[IVNETD_PATH_MAX];
	char log_path[256];
	char pid_file[256];
	int foreground;
	int verbose;
};

/* What epoll hands back: every watched fd's owner starts with one. */
enum ivnetd_watch_kind {
	IVNETD_W_LISTEN,
	IVNETD_W_PEER,
	IVNETD_W_CONTROL, /* the control server's epoll set */
	IVNETD_W_SIGNAL,
	IVNETD_W_TIMER,
	IVNETD_W_ADMIN_LISTEN, /* a segment's admin socket (admin.c) */
	IVNETD_W_ADMIN,	       /* one admin connection */
};

/*
 * Peers and control clients are freed only between epoll batches (a batch
 * may still hold events for an object dropped earlier in it): ivnetd_bury()
 * closes the fd, marks the watch dead (fd -1) and queues the owner, whose
 * first member the watch is, to be freed after the batch.
 */
struct ivnetd_watch {
	enum ivnetd_watch_kind kind;
	int fd;
	struct ivnetd_watch *grave_next;
};

struct ivnetd_segment;

/*
 * admin.c: one connection to a segment's admin socket, with the admin
 * region (ivnet_shm.h) the broker keeps for it alone: a sealed memfd only
 * the broker and that client map.
 */
struct ivnetd_admin {
	struct ivnetd_watch w; /* the client socket */
	struct ivnetd_segment *seg;
	struct ivnetd_admin *next; /* in connection order */
	struct ivnet_admin_hdr *base;
	int memfd;
	pid_t pid; /* SO_PEERCRED: pairs it with the segment peer of this pid */
};

struct ivnetd_admin_listen {
	struct ivnetd_watch w;
	struct ivnetd_segment *seg;
};

struct ivnetd_peer {
	struct ivnetd_watch w; /* the client socket */
	struct ivnetd_segment *seg;
	uint32_t id;		    /* slot in the peer table */
	uint32_t ivpos;		    /* ivshmem id: what QEMU and the device call it */
	int vec[IVNET_VECTORS_MAX]; /* eventfds, one per vector */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int64_t joined_at;  /* CLOCK_REALTIME seconds */
	const char *doomed; /* set: drop at the next reap, for this reason */
	uint16_t flags;	    /* IVNET_PEER_F_*, as set through the control socket */
	char label[64];	    /* set through the control socket (libvirt hook) */
	char uuid[40];
};

struct ivnetd_counters {
	uint64_t joins;
	uint64_t leaves;
	uint64_t refused_full;
	uint64_t refused_perm;
	uint64_t refused_error;
	uint64_t dropped;	  /* misbehaving or unreachable clients */
	uint64_t control_signals; /* control-vector doorbells sent */
};

struct ivnetd_segment {
	struct ivnetd_watch w; /* the listening socket */
	struct ivnetd *d;
	struct ivnetd_segment_config cfg;
	struct ivnet_region region;
	char shm_file[320];	     /* the file behind the region, when there is one */
	struct ivnet_region_hdr hdr; /* the header as we formatted it */
	uint32_t epoch[IVNET_PEERS_MAX];
	uint32_t next_ivpos; /* ivshmem ids are handed out in turn, 0..65535 */
	struct ivnetd_peer *peer[IVNET_PEERS_MAX];
	uint32_t npeers;
	struct ivnetd_counters n;
	struct ivnetd_placement *pl; /* placement.c */
	/* guard.c: an access to the region faulted (it was truncated); the
	 * range is mapped to anonymous pages until the next guard check */
	volatile sig_atomic_t faulted;
	int hdr_tampered;	 /* the header was found rewritten, and not yet found whole */
	uint64_t entry_tampered; /* slots found rewritten, and not yet found whole */
	struct ivnetd_admin_listen admin_w;
	struct ivnetd_admin *admins;
	uint32_t nadmins;
	uint32_t admin_gen; /* bumped at every rewrite of the admin regions */
};

struct ivnetd {
	struct ivnetd_config cfg;
	struct ivnetd_segment seg[IVNETD_SEGMENTS_MAX];
	int nseg;
	int epfd;
	struct ivnetd_watch sig;
	struct ctl_server ctl;
	struct ivnetd_watch ctl_w; /* ctl.epfd */
	struct ivnetd_watch timer; /* placement rescans: place.timer_fd */
	struct ivnetd_topo *topo;  /* NULL if it could not be read */
	struct placement_env place;
	struct ivnetd_watch *grave;
	FILE *log;
	int log_owned;
	int quit;
	int64_t started_at;
};

/* options.c: ivshmem-server's flags plus ivnetd's long options. Returns 0,
 * 1 when the caller should exit 0 (help), or -1 after printing an error. */
int ivnetd_parse_args(struct ivnetd_config *cfg, int argc, char **argv);
void ivnetd_config_defaults(struct ivnetd_config *cfg);
void ivnetd_segment_defaults(struct ivnetd_segment_config *s);
int ivnetd_parse_segment(struct ivnetd_segment_config *s, const char *spec, char *err, size_t n);

/* daemon.c: start (create every region and socket), run, stop. */
int ivnetd_start(struct ivnetd *d, const struct ivnetd_config *cfg);
int ivnetd_run(struct ivnetd *d); /* until quit is set or a signal says so */
int ivnetd_run_once(struct ivnetd *d, int timeout_ms);
void ivnetd_stop(struct ivnetd *d);
int ivnetd_watch_add(struct ivnetd *d, struct ivnetd_watch *w);
void ivnetd_bury(struct ivnetd *d, struct ivnetd_watch *w);

/* log.c: one line per event. */
void ivnetd_log(struct ivnetd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ivnetd_log_open(struct ivnetd *d);
/* A host_log writer (host_log.h) for the parts that serve the daemon. */
void ivnetd_log_line(void *d, const char *line);

/* segment.c: the ivshmem server side of one segment. */
int ivnetd_segment_start(struct ivnetd *d, struct ivnetd_segment *s,
			 const struct ivnetd_segment_config *cfg);
void ivnetd_segment_stop(struct ivnetd_segment *s);
void ivnetd_segment_accept(struct ivnetd_segment *s);
/* How often, at most, the loop puts back a region header a peer rewrote. */
#define IVNETD_RESTORE_MS 100
void ivnetd_segment_restore_header(struct ivnetd_segment *s);
void ivnetd_peer_event(struct ivnetd_peer *p, uint32_t events);
/* A listening socket at path with the segment's mode and group: the fd, or
 * a negative errno. */
int ivnetd_segment_listen(const struct ivnetd_segment_config *c, const char *path);

/*
 * admin.c: the admin socket beside each segment's. ivnetd_admin_sync()
 * rewrites every admin region of the segment from the broker's state; it
 * runs on every peer-table change before the control vectors are rung, so
 * a peer woken by its control doorbell reads the new word.
 */
#define IVNETD_ADMIN_MAX(max_peers) (2u * (max_peers) + 8u)
int ivnetd_admin_default_path(struct ivnetd_segment_config *c);
int ivnetd_admin_start(struct ivnetd_segment *s);
void ivnetd_admin_stop(struct ivnetd_segment *s);
void ivnetd_admin_accept(struct ivnetd_segment *s);
void ivnetd_admin_event(struct ivnetd_admin *a, uint32_t events);
void ivnetd_admin_sync(struct ivnetd_segment *s);

/*
 * guard.c: a region whose backing could not be sealed (-M, -m with
 * --unsealed) survives a peer's truncation. ivnetd_guard() checks the size
 * before the broker touches the region and restores a shrunken one; a fault
 * in between is caught (SIGBUS) and repaired at the next check.
 */
int ivnetd_guard_add(struct ivnetd_segment *s);
void ivnetd_guard_remove(struct ivnetd_segment *s);
void ivnetd_guard(struct ivnetd_segment *s);
void ivnetd_guard_all(struct ivnetd *d);

/* peer.c: the peer table in the region. */
int ivnetd_peer_alloc_id(struct ivnetd_segment *s, uint32_t *id);
uint32_t ivnetd_peer_alloc_ivpos(struct ivnetd_segment *s);
void ivnetd_peer_mac(const struct ivnetd_segment *s, uint32_t id, uint8_t mac[6]);
void ivnetd_peer_publish(struct ivnetd_segment *s, struct ivnetd_peer *p);
void ivnetd_peer_unpublish(struct ivnetd_segment *s, uint32_t id);
void ivnetd_peer_signal_all(struct ivnetd_segment *s, const struct ivnetd_peer *except);
void ivnetd_peer_rewrite_all(struct ivnetd_segment *s);
void ivnetd_peer_set_flags(struct ivnetd_segment *s, uint32_t id, uint16_t flags);
/* The broker's half of slot id: p is its peer, or NULL for an empty slot. */
void ivnetd_peer_admin_of(const struct ivnetd_segment *s, uint32_t id, const struct ivnetd_peer *p,
			  struct ivnet_peer_admin *out);
/* Put back the broker's half of every entry a peer rewrote in the shared
 * table (every IVNETD_RESTORE_MS, with the header). */
void ivnetd_peer_restore_table(struct ivnetd_segment *s);
int ivnetd_peer_allowed(const struct ivnetd_segment_config *c, uid_t uid, gid_t gid);

/* control.c: the control socket. */
enum ivnetd_ctl_verb {
	IVNETD_CTL_STATUS,
	IVNETD_CTL_SEGMENT_SHOW,
	IVNETD_CTL_PEER_LIST,
	IVNETD_CTL_STATS,
	IVNETD_CTL_PEER_LABEL,
	IVNETD_CTL_TOPOLOGY,
	IVNETD_CTL_PLACEMENT_SHOW,
	IVNETD_CTL_PLACEMENT_SET,
	IVNETD_CTL_PEER_UPLINK,
	IVNETD_CTL_HELP, /* the last */
};

struct ivnetd_ctl_request {
	enum ivnetd_ctl_verb verb;
	int json;
	char segment[IVNET_NAME_LEN]; /* empty: every segment */
	uint32_t peer_id;
	pid_t pid; /* peer label by pid (libvirt's hook knows QEMU's pid, not its id): not 0 */
	char label[64];
	char uuid[40];
	char qmp[IVNETD_PL_PATH_MAX];	      /* peer label ... qmp=PATH */
	struct ivnetd_placement_config place; /* placement set: the keys given */
	unsigned place_keys;
	int uplink; /* peer uplink: on (1) or off (0) */
};

/* Parse one request line (pure: no daemon state; fuzzed). Returns 0 or -1
 * with a one-line reason in err. */
int ivnetd_ctl_parse(const char *line, size_t len, struct ivnetd_ctl_request *req, char *err,
		     size_t errlen);
/* Answer a request into out. Returns 0, or -1 if the answer is an error. */
int ivnetd_ctl_answer(struct ivnetd *d, const struct ivnetd_ctl_request *req, FILE *out);
/* The control socket (host/util/ctl_server.c) answering with the above.
 * Returns 0 or a negative errno. */
int ivnetd_ctl_start(struct ivnetd *d);

#endif /* IVNETD_H */

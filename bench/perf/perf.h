/* SPDX-License-Identifier: MIT */
/*
 * perf.h - ivnet-perf internals: options, tests, sessions, results.
 *
 * A test runs once per (message size, repetition). Remote tests (TCP_*,
 * UDP_*, SHM_*) ask an `ivnet-perf -s` server, over a control connection,
 * to run the other end, as netperf asks netserver; local tests (UNIX_*,
 * LIMIT_*) fork or start a thread for it.
 */
#ifndef IVNET_PERF_H
#define IVNET_PERF_H

#include <stdint.h>
#include <sys/socket.h>

#include <ivnet/ivnet.h>
#include "stats.h"

#define PERF_MAX_SIZES 32
#define PERF_MAX_REPS 100
#define PERF_MAX_MSG (64u * 1024u)
#define PERF_DEFAULT_PORT "12866"
#define PERF_ETHERTYPE 0x88b5 /* IEEE local experimental */
#define PERF_ERRLEN 256

struct perf_test;

struct perf_opts {
	const struct perf_test *test;
	const char *host;
	const char *port;
	int family; /* AF_UNSPEC, AF_INET, AF_INET6 */
	double seconds;
	int reps;
	int lcpu, rcpu; /* -1: not pinned */
	int json;
	int banner;
	int verify;
	int zerocopy; /* SHM: receive in place instead of copying out */
	enum ivnet_ep_wait wait;
	unsigned int spin_us;
	const char *segment;
	uint32_t sizes[PERF_MAX_SIZES];
	int nsizes;
	uint32_t resp;	      /* RR: response size; 0: the request size */
	int sndbuf, rcvbuf;   /* local socket buffers (0: the system's) */
	int rsndbuf, rrcvbuf; /* the server's */
};

/* What one end of one run is asked to do (the TEST line). */
struct perf_req {
	char test[32];
	uint32_t size, resp;
	double seconds;
	int verify, zerocopy, cpu, sndbuf, rcvbuf;
	enum ivnet_ep_wait wait;
	unsigned int spin_us;
	char segment[256];
};

/* One run: one size, one repetition. */
struct run_result {
	double elapsed;	   /* seconds measured */
	uint64_t messages; /* messages, frames or transactions completed */
	uint64_t bytes;	   /* payload delivered (both ways for RR) */
	uint64_t sent;	   /* messages the sender sent (UDP: loss = sent - messages) */
	uint64_t checked;  /* bytes verified */
	uint64_t errors;   /* bytes or messages that failed verification */
	struct hist lat;   /* RR: ns per transaction */
};

/* The far end's summary (the RESULT line). */
struct far_result {
	double elapsed;
	uint64_t messages, bytes, checked, errors;
};

struct perf_session {
	const struct perf_opts *o;
	struct perf_req req;
	int ctl;		      /* control connection (-1 for thread-local tests) */
	int data;		      /* data socket, when the test has one */
	struct sockaddr_storage peer; /* the far end of the control connection */
	socklen_t peerlen;
	char host[64]; /* its address as text, for messages */
	/* from the server's OK line */
	int port;
	uint32_t shm_id;
	uint8_t shm_mac[6];
	struct far_result far;
	char err[PERF_ERRLEN];
};

struct perf_test {
	const char *name;
	int rr;		  /* request/response (else stream) */
	int remote;	  /* needs an ivnet-perf server */
	int stream_bytes; /* a byte stream: no message boundaries */
	uint32_t min_size, max_size;
	/* The client end of one run; fills r. 0 or -1 (s->err says why). */
	int (*client)(struct perf_session *s, struct run_result *r);
	/* The server end of one run (remote tests), after the TEST line. */
	int (*server)(struct perf_session *s);
};

const struct perf_test *perf_test_find(const char *name);
extern const struct perf_test perf_tests[];

/* time */
double perf_now(void);
uint64_t perf_now_ns(void);
int perf_pin(int cpu, char *err);

/* control.c: the control connection */
int ctl_connect(struct perf_session *s);
int ctl_send(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ctl_recv(int fd, char *line, size_t len, int timeout_ms);
const char *kv_get(const char *line, const char *key, char *out, size_t len);
int req_format(const struct perf_req *q, char *line, size_t len);
int req_parse(const char *line, struct perf_req *q, char *err);
int far_parse(const char *line, struct far_result *f);
int ctl_result(struct perf_session *s, const struct far_result *f);
int ctl_wait_result(struct perf_session *s, int timeout_ms);
int perf_serve(const char *addr, const char *port, int family, int once);

/* tests, by transport */
int tcp_stream_client(struct perf_session *s, struct run_result *r);
int tcp_stream_server(struct perf_session *s);
int tcp_rr_client(struct perf_session *s, struct run_result *r);
int tcp_rr_server(struct perf_session *s);
int udp_stream_client(struct perf_session *s, struct run_result *r);
int udp_stream_server(struct perf_session *s);
int udp_rr_client(struct perf_session *s, struct run_result *r);
int udp_rr_server(struct perf_session *s);
int unix_stream_client(struct perf_session *s, struct run_result *r);
int unix_rr_client(struct perf_session *s, struct run_result *r);
int shm_stream_client(struct perf_session *s, struct run_result *r);
int shm_stream_server(struct perf_session *s);
int shm_rr_client(struct perf_session *s, struct run_result *r);
int shm_rr_server(struct perf_session *s);
int limit_pingpong_client(struct perf_session *s, struct run_result *r);
int limit_copy_client(struct perf_session *s, struct run_result *r);
int limit_rr_client(struct perf_session *s, struct run_result *r);

/* byte-stream ends shared by TCP and AF_UNIX (sock.c) */
int stream_send(struct perf_session *s, int fd, struct run_result *r);
int stream_recv(struct perf_session *s, int fd, struct far_result *f);
int rr_ask(struct perf_session *s, int fd, struct run_result *r);
int rr_answer(struct perf_session *s, int fd, struct far_result *f);

/* report.c */
struct size_result {
	uint32_t size, resp;
	int n;
	struct run_result *run; /* n of them */
};
void report_text(const struct perf_opts *o, const struct size_result *res, int nres);
void report_json(const struct perf_opts *o, const struct size_result *res, int nres);

#endif

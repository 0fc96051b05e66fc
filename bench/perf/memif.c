// SPDX-License-Identifier: MIT
/*
 * ivnet-perf-memif - the DPDK memif baseline ivnet-perf is compared with,
 * for packets per second and round trip time:
 *
 *   ivnet-perf-memif -t MEMIF_STREAM|MEMIF_RR [-l SECS] [-i REPS] [-T LCPU,RCPU]
 *                    [-j] [-P 0|1] [--verify] [--drop] [--eal 'ARGS']
 *                    [-- [-m SIZES] [-r SIZES]]
 *
 * One process, two lcores, two net_memif ports joined to each other over
 * one (abstract) control socket: port 0 is the memif server, driven by the
 * main lcore on LCPU; port 1 is the client, driven by a worker lcore on
 * RCPU. Both are DPDK's own driver (Debian's librte-net-memif, copy mode),
 * busy-polled, as a DPDK application would use them.
 *
 *   MEMIF_STREAM  LCPU sends bursts of 32 frames of SIZE bytes on port 0;
 *                 RCPU receives them on port 1 and counts them. Rates are
 *                 the receiver's, from its first frame to its last.
 *   MEMIF_RR      LCPU sends one frame, RCPU sends it back, LCPU waits for
 *                 it: the latency of a transaction, as SHM_RR measures it.
 *
 * A SIZE is a whole Ethernet frame (header, ethertype 0x88b5, sequence
 * number, payload), as in SHM_STREAM and SHM_RR, 22 bytes to 64K. A frame
 * is a chain of 2048-byte mbufs, which memif carries as chained 2048-byte
 * descriptors: its port says it takes frames up to 1518 bytes, but the
 * driver chains any length both ways, as VPP's memif does for jumbo frames.
 * The sender retries a full ring, as SHM_STREAM does, so memif should lose
 * nothing; with --drop it drops what the ring does not take, as testpmd
 * does. Either way the receiver counts a gap in the sequence as lost and
 * the report gives sent against received, as for UDP_STREAM. A frame out
 * of order, not ours, or (--verify) with a wrong byte is an error. Without
 * -T, the lcores run on the first two CPUs the process may use.
 *
 * The output is ivnet-perf's (report.c): the same table, the same JSON.
 * No hugepages are needed: EAL runs with --no-huge --no-shconf.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "args.h"
#include "pattern.h"
#include "perf.h"

#define PROG "ivnet-perf-memif"
#define ETH_HDR 14
#define MEMIF_MIN (ETH_HDR + PATTERN_SEQ_LEN)
#define BURST 32
#define SEG_BYTES (RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM) /* an mbuf's data */
#define MAX_SEGS ((PERF_MAX_MSG + SEG_BYTES - 1) / SEG_BYTES)
#define POOL_MBUFS 8191 /* a burst of 64K frames is 1024 mbufs */
#define POOL_CACHE 256
#define RING_DESC 1024
#define NS 1000000000ull
#define LINK_WAIT_NS (10 * NS)
#define STALL_NS (5 * NS)    /* no progress for this long: the run failed */
#define STRAGGLE_NS (1 * NS) /* after the last send: how long a frame may take */
#define EAL_MAX_ARGS 64

static const struct perf_test memif_tests[] = {
	{"MEMIF_STREAM", 0, 0, 0, MEMIF_MIN, PERF_MAX_MSG, NULL, NULL},
	{"MEMIF_RR", 1, 0, 0, MEMIF_MIN, PERF_MAX_MSG, NULL, NULL},
	{NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

struct port {
	const char *name;
	uint16_t id;
	struct rte_mempool *pool;
	struct rte_ether_addr mac;
	int started;
};

/* Port a (memif server) is the main lcore's, port b (client) the worker's. */
struct bench {
	struct port a, b;
	unsigned int worker;
	int eal; /* EAL is up: clean it up */
};

/* One run, shared by the two lcores. */
struct run {
	const struct bench *bn;
	uint32_t size;
	unsigned int nseg; /* mbufs a frame takes */
	int verify;
	uint8_t *scratch[2]; /* --verify: a whole frame, for the main lcore, the worker */
	int drop;	     /* STREAM: drop what a full ring does not take */
	double seconds;
	/* written by the main lcore, read by the worker */
	int done;      /* the sender has stopped; sent is final */
	uint64_t sent; /* STREAM: frames port a's tx took (--drop: offered it) */
	/* the worker's results */
	uint64_t messages, bytes, checked, errors;
	uint64_t t_first, t_last;
	char err[PERF_ERRLEN];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------- frames */

/*
 * Make one frame, port a to port b, of nseg fresh mbufs s[0..nseg): a chain
 * of SEG_BYTES segments. The header and the sequence number are in the
 * first (at least MEMIF_MIN bytes); with --verify, every byte is the
 * pattern's, written whole in scratch and copied in.
 */
static struct rte_mbuf *frame_build(struct run *r, struct rte_mbuf **s, uint64_t seq)
{
	const struct port *from = &r->bn->a, *to = &r->bn->b;
	uint8_t *p = r->verify ? r->scratch[0] : rte_pktmbuf_mtod(s[0], uint8_t *);
	uint32_t left = r->size, off = 0;
	unsigned int i;

	memcpy(p, to->mac.addr_bytes, 6);
	memcpy(p + 6, from->mac.addr_bytes, 6);
	p[12] = PERF_ETHERTYPE >> 8;
	p[13] = PERF_ETHERTYPE & 0xff;
	if (r->verify)
		pattern_fill(p, r->size, ETH_HDR, seq);
	else
		pattern_stamp(p, MEMIF_MIN, ETH_HDR, seq);
	for (i = 0; i < r->nseg; i++) {
		uint16_t len = (uint16_t)(left > SEG_BYTES ? SEG_BYTES : left);

		s[i]->data_len = len;
		if (r->verify)
			memcpy(rte_pktmbuf_mtod(s[i], uint8_t *), p + off, len);
		if (i)
			s[i - 1]->next = s[i];
		off += len;
		left -= len;
	}
	s[0]->nb_segs = (uint16_t)r->nseg;
	s[0]->pkt_len = r->size;
	return s[0];
}

/* The sequence number of a frame that came out of a ring, if it is one of
 * ours of the size the run sends: whatever is in the ring is checked. */
static int frame_seq(const struct rte_mbuf *m, uint32_t size, uint64_t *seq)
{
	const uint8_t *p;

	if (rte_pktmbuf_pkt_len(m) != size || m->data_len < MEMIF_MIN)
		return -1;
	p = rte_pktmbuf_mtod(m, const uint8_t *);
	if (p[12] != (PERF_ETHERTYPE >> 8) || p[13] != (PERF_ETHERTYPE & 0xff))
		return -1;
	*seq = pattern_seq(p, m->data_len, ETH_HDR);
	return 0;
}

/* Check every byte of a received frame (a chain is read into scratch). */
static void frame_verify(const struct run *r, const struct rte_mbuf *m, uint64_t seq,
			 uint8_t *scratch, uint64_t *checked, uint64_t *errors)
{
	const uint8_t *p = rte_pktmbuf_read(m, 0, r->size, scratch);

	*checked += r->size - ETH_HDR;
	*errors += p ? pattern_check(p, r->size, ETH_HDR, seq) : r->size;
}

static void drain(const struct port *p)
{
	struct rte_mbuf *m[BURST];
	uint16_t n;

	while ((n = rte_eth_rx_burst(p->id, 0, m, BURST)) > 0)
		rte_pktmbuf_free_bulk(m, n);
}

/* ------------------------------------------------------------- stream */

/* The worker: receive on port b until every frame sent is accounted for. */
static int stream_rx(void *arg)
{
	struct run *r = arg;
	const struct port *b = &r->bn->b;
	struct rte_mbuf *m[BURST];
	uint64_t next = 0, idle = 0;

	for (;;) {
		uint16_t n = rte_eth_rx_burst(b->id, 0, m, BURST), i;
		uint64_t t = now_ns();

		if (n) {
			if (!r->t_first)
				r->t_first = t;
			r->t_last = t;
			idle = 0;
			for (i = 0; i < n; i++) {
				uint64_t seq;

				if (frame_seq(m[i], r->size, &seq) || seq < next) {
					r->errors++; /* not ours, or out of order */
					continue;
				}
				/* a gap: lost, seen as sent - messages */
				next = seq + 1;
				r->messages++;
				r->bytes += r->size;
				if (r->verify)
					frame_verify(r, m[i], seq, r->scratch[1], &r->checked,
						     &r->errors);
			}
			rte_pktmbuf_free_bulk(m, n);
			continue;
		}
		if (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
			continue;
		if (next >= r->sent)
			break;
		if (!idle)
			idle = t;
		else if (t - idle > STRAGGLE_NS)
			break; /* the rest is lost */
	}
	return 0;
}

/* The main lcore: send on port a for the run's time. */
static int stream_tx(struct run *r, struct run_result *res)
{
	const struct port *a = &r->bn->a;
	struct rte_mbuf *m[BURST], *s[BURST * MAX_SEGS];
	uint64_t seq = 0, t0 = now_ns(), t = t0, moved = t0;
	uint64_t end = t0 + (uint64_t)(r->seconds * 1e9);
	unsigned int n = 0, i, tick = 0;
	int ret = 0, progress = 0;

	for (;;) {
		uint16_t k;

		if (n < BURST && !rte_pktmbuf_alloc_bulk(a->pool, s, (BURST - n) * r->nseg)) {
			for (i = 0; n < BURST; i++)
				m[n++] = frame_build(r, s + i * r->nseg, seq++);
		}
		/* a full ring takes fewer: keep the rest, in order, for next time,
		 * or (--drop) drop it as testpmd does: the receiver sees a gap */
		k = rte_eth_tx_burst(a->id, 0, m, (uint16_t)n);
		if (r->drop && k < n) {
			rte_pktmbuf_free_bulk(m + k, n - k);
			n = k;
		}
		if (k) {
			memmove(m, m + k, (n - k) * sizeof(*m));
			n -= k;
			progress = 1;
		}
		if ((++tick & 15) == 0) {
			t = now_ns();
			if (progress)
				moved = t;
			progress = 0;
			if (t >= end)
				break;
			if (t - moved > STALL_NS) {
				snprintf(r->err, PERF_ERRLEN, "port %s took nothing for %llu s",
					 a->name, STALL_NS / NS);
				ret = -1;
				break;
			}
		}
	}
	rte_pktmbuf_free_bulk(m, n);
	r->sent = seq - n;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	rte_eal_wait_lcore(r->bn->worker);
	res->sent = r->sent;
	res->messages = r->messages;
	res->bytes = r->bytes;
	res->checked = r->checked;
	res->errors = r->errors;
	res->elapsed = (double)(r->t_last - r->t_first) * 1e-9;
	if (!ret && !r->messages) {
		snprintf(r->err, PERF_ERRLEN, "sent %llu frames, none arrived",
			 (unsigned long long)r->sent);
		ret = -1;
	}
	return ret;
}

/* ----------------------------------------------------------------- RR */

/* The worker: send every request on port b back where it came from. */
static int rr_echo(void *arg)
{
	struct run *r = arg;
	const struct port *a = &r->bn->a, *b = &r->bn->b;
	struct rte_mbuf *m[BURST];

	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		uint16_t n = rte_eth_rx_burst(b->id, 0, m, BURST), i, k = 0, sent = 0;

		for (i = 0; i < n; i++) {
			uint8_t *p;
			uint64_t seq;

			if (frame_seq(m[i], r->size, &seq)) {
				r->errors++;
				rte_pktmbuf_free(m[i]);
				continue;
			}
			p = rte_pktmbuf_mtod(m[i], uint8_t *);
			memcpy(p, a->mac.addr_bytes, 6);
			memcpy(p + 6, b->mac.addr_bytes, 6);
			r->messages++;
			m[k++] = m[i];
		}
		while (sent < k && !__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
			sent += rte_eth_tx_burst(b->id, 0, m + sent, (uint16_t)(k - sent));
		rte_pktmbuf_free_bulk(m + sent, k - sent);
	}
	return 0;
}

/* Wait for the answer to seq on port a. */
static int rr_answer_wait(struct run *r, uint64_t seq, struct run_result *res)
{
	const struct port *a = &r->bn->a;
	uint64_t t0 = 0;
	unsigned int empty = 0;

	for (;;) {
		struct rte_mbuf *m;
		uint64_t got;

		if (!rte_eth_rx_burst(a->id, 0, &m, 1)) {
			uint64_t t;

			/* the clock now and then, as ivnet's wait does: a clock
			 * read in the spin slows the wake-up it measures */
			if (++empty & 1023)
				continue;
			t = now_ns();
			if (!t0) {
				t0 = t;
			} else if (t - t0 > STALL_NS) {
				snprintf(r->err, PERF_ERRLEN, "no answer to request %llu",
					 (unsigned long long)seq);
				return -1;
			}
			continue;
		}
		if (frame_seq(m, r->size, &got) || got != seq) {
			res->errors++; /* not the answer we wait for */
			rte_pktmbuf_free(m);
			continue;
		}
		if (r->verify)
			frame_verify(r, m, seq, r->scratch[0], &res->checked, &res->errors);
		rte_pktmbuf_free(m);
		return 0;
	}
}

static int rr_request(struct run *r, struct run_result *res)
{
	const struct port *a = &r->bn->a;
	uint64_t seq = 0, t0 = now_ns(), t = t0, prev = t0;
	uint64_t len = (uint64_t)(r->seconds * 1e9);
	int ret = -1;

	do {
		struct rte_mbuf *s[MAX_SEGS], *m;
		uint64_t w = 0;

		if (rte_pktmbuf_alloc_bulk(a->pool, s, r->nseg)) {
			snprintf(r->err, PERF_ERRLEN, "the mbuf pool of %s is empty", a->name);
			goto out;
		}
		m = frame_build(r, s, seq);
		while (!rte_eth_tx_burst(a->id, 0, &m, 1)) {
			uint64_t tw = now_ns();

			if (!w) {
				w = tw;
			} else if (tw - w > STALL_NS) {
				snprintf(r->err, PERF_ERRLEN, "port %s took nothing for %llu s",
					 a->name, STALL_NS / NS);
				rte_pktmbuf_free(m);
				goto out;
			}
		}
		if (rr_answer_wait(r, seq, res))
			goto out;
		seq++;
		t = now_ns();
		hist_add(&res->lat, t - prev);
		prev = t;
	} while (t - t0 < len);
	ret = 0;
out:
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	rte_eal_wait_lcore(r->bn->worker);
	res->messages = seq;
	res->sent = seq;
	res->bytes = seq * 2 * (uint64_t)r->size;
	res->elapsed = (double)(t - t0) * 1e-9;
	res->errors += r->errors;
	if (!ret && r->messages != seq) {
		snprintf(r->err, PERF_ERRLEN, "%llu requests answered, the echo side saw %llu",
			 (unsigned long long)seq, (unsigned long long)r->messages);
		ret = -1;
	}
	return ret;
}

/* One run of one size on the two lcores. */
static int run_one(const struct bench *bn, const struct perf_opts *o, int drop, uint32_t size,
		   struct run_result *res)
{
	struct run r = {
		.bn = bn,
		.size = size,
		.nseg = (size + SEG_BYTES - 1) / SEG_BYTES,
		.verify = o->verify,
		.drop = drop,
		.seconds = o->seconds,
	};
	int ret;

	hist_init(&res->lat);
	if (r.verify) {
		r.scratch[0] = malloc(size);
		r.scratch[1] = malloc(size);
		if (!r.scratch[0] || !r.scratch[1]) {
			fprintf(stderr, PROG ": out of memory\n");
			ret = -1;
			goto out;
		}
	}
	drain(&bn->a);
	drain(&bn->b);
	ret = rte_eal_remote_launch(o->test->rr ? rr_echo : stream_rx, &r, bn->worker);
	if (ret) {
		fprintf(stderr, PROG ": cannot start lcore %u: %s\n", bn->worker,
			rte_strerror(-ret));
		ret = -1;
		goto out;
	}
	ret = o->test->rr ? rr_request(&r, res) : stream_tx(&r, res);
	drain(&bn->a);
	drain(&bn->b);
	if (ret)
		fprintf(stderr, PROG ": %s size %u: %s\n", o->test->name, size, r.err);
out:
	free(r.scratch[0]);
	free(r.scratch[1]);
	return ret;
}

/* --------------------------------------------------------- EAL, ports */

static int port_open(struct port *p, const char *name, char *err)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	char pool[RTE_MEMPOOL_NAMESIZE];
	int ret;

	p->name = name;
	if (rte_eth_dev_get_port_by_name(name, &p->id)) {
		snprintf(err, PERF_ERRLEN,
			 "no port %s: DPDK's memif driver is missing (Debian: librte-net-memif23) "
			 "or failed (--eal --log-level=pmd.net.memif:debug says why)",
			 name);
		return -1;
	}
	snprintf(pool, sizeof(pool), "ivperf-%s", name);
	p->pool = rte_pktmbuf_pool_create(pool, POOL_MBUFS, POOL_CACHE, 0,
					  SEG_BYTES + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
	if (!p->pool) {
		snprintf(err, PERF_ERRLEN, "mbuf pool for %s: %s", name, rte_strerror(rte_errno));
		return -1;
	}
	ret = rte_eth_dev_info_get(p->id, &info);
	if (ret)
		goto fail;
	memset(&conf, 0, sizeof(conf));
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS; /* frames over 2048 */
	ret = rte_eth_dev_configure(p->id, 1, 1, &conf);
	if (ret)
		goto fail;
	ret = rte_eth_rx_queue_setup(p->id, 0, RING_DESC, SOCKET_ID_ANY, NULL, p->pool);
	if (ret)
		goto fail;
	ret = rte_eth_tx_queue_setup(p->id, 0, RING_DESC, SOCKET_ID_ANY, NULL);
	if (ret)
		goto fail;
	ret = rte_eth_macaddr_get(p->id, &p->mac);
	if (ret)
		goto fail;
	ret = rte_eth_dev_start(p->id);
	if (ret)
		goto fail;
	p->started = 1;
	return 0;
fail:
	snprintf(err, PERF_ERRLEN, "port %s: %s", name, rte_strerror(ret < 0 ? -ret : ret));
	return -1;
}

static int link_is_up(const struct port *p)
{
	struct rte_eth_link l;

	memset(&l, 0, sizeof(l));
	return !rte_eth_link_get_nowait(p->id, &l) && l.link_status;
}

/* The memif handshake runs on EAL's interrupt thread: wait for both links. */
static int links_up(const struct bench *bn, char *err)
{
	uint64_t t0 = now_ns();

	for (;;) {
		if (link_is_up(&bn->a) && link_is_up(&bn->b))
			return 0;
		if (now_ns() - t0 > LINK_WAIT_NS) {
			snprintf(err, PERF_ERRLEN, "the memif ports did not connect in %llu s",
				 LINK_WAIT_NS / NS);
			return -1;
		}
		usleep(10000);
	}
}

static int bench_open(struct bench *bn, const struct perf_opts *o, char *eal_extra, char *err)
{
	char *argv[EAL_MAX_ARGS];
	char lcores[64], prefix[64], vdev0[200], vdev1[200], sock[64];
	char *tok, *save = NULL;
	int argc = 0, ret, out;
	pid_t pid = getpid();

	snprintf(lcores, sizeof(lcores), "0@%d,1@%d", o->lcpu, o->rcpu);
	snprintf(prefix, sizeof(prefix), "ivperf-memif-%d", (int)pid);
	/* an abstract socket (memif's default): nothing to clean up */
	snprintf(sock, sizeof(sock), "/run/ivperf-memif-%d.sock", (int)pid);
	snprintf(vdev0, sizeof(vdev0), "net_memif0,role=server,id=0,socket=%s", sock);
	snprintf(vdev1, sizeof(vdev1), "net_memif1,role=client,id=0,socket=%s", sock);
	argv[argc++] = (char *)PROG;
	argv[argc++] = (char *)"--lcores";
	argv[argc++] = lcores;
	argv[argc++] = (char *)"--no-huge";
	argv[argc++] = (char *)"-m";
	argv[argc++] = (char *)"128";
	argv[argc++] = (char *)"--no-shconf";
	argv[argc++] = (char *)"--file-prefix";
	argv[argc++] = prefix;
	argv[argc++] = (char *)"--no-pci";
	argv[argc++] = (char *)"--no-telemetry";
	argv[argc++] = (char *)"--log-level";
	argv[argc++] = (char *)"warning";
	/*
	 * --no-huge rules out --in-memory (it implies --legacy-mem), so
	 * --no-shconf keeps EAL's files away; without its multi-process
	 * channel the memif probe says it cannot register a callback (for
	 * secondary processes, which we have none of). Quiet while probing.
	 */
	argv[argc++] = (char *)"--log-level";
	argv[argc++] = (char *)"pmd.net.memif:critical";
	/* server first: it creates the socket the client connects to */
	argv[argc++] = (char *)"--vdev";
	argv[argc++] = vdev0;
	argv[argc++] = (char *)"--vdev";
	argv[argc++] = vdev1;
	for (tok = eal_extra ? strtok_r(eal_extra, " ", &save) : NULL; tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (argc == EAL_MAX_ARGS - 1) {
			snprintf(err, PERF_ERRLEN, "too many --eal arguments");
			return -1;
		}
		argv[argc++] = tok;
	}
	argv[argc] = NULL;

	/* EAL logs, and prints its usage, to stdout: keep stdout for the report */
	rte_openlog_stream(stderr);
	fflush(stdout);
	out = dup(STDOUT_FILENO);
	if (out < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		snprintf(err, PERF_ERRLEN, "cannot redirect stdout: %s", strerror(errno));
		if (out >= 0)
			close(out);
		return -1;
	}
	ret = rte_eal_init(argc, argv);
	fflush(stdout);
	dup2(out, STDOUT_FILENO);
	close(out);
	if (ret < 0) {
		snprintf(err, PERF_ERRLEN, "DPDK EAL init failed: %s", rte_strerror(rte_errno));
		return -1;
	}
	bn->eal = 1;
	rte_log_set_level_pattern("pmd.net.memif", RTE_LOG_WARNING);
	bn->worker = rte_get_next_lcore(rte_lcore_id(), 1, 0);
	if (bn->worker >= RTE_MAX_LCORE) {
		snprintf(err, PERF_ERRLEN, "DPDK gave no second lcore");
		return -1;
	}
	if (port_open(&bn->a, "net_memif0", err) || port_open(&bn->b, "net_memif1", err) ||
	    links_up(bn, err))
		return -1;
	return 0;
}

/* EAL makes its runtime directory (/var/run/dpdk/PREFIX) even with
 * --no-shconf, and leaves it, empty, behind. */
static void runtime_dir_remove(void)
{
	const char *dir = rte_eal_get_runtime_dir();
	const char *base = strrchr(dir, '/');
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "ivperf-memif-%d", (int)getpid());
	if (base && !strcmp(base + 1, prefix))
		rmdir(dir);
}

/*
 * Disconnect in order: the client first, then wait (a while) for EAL's
 * interrupt thread to take the server down too. Nothing is closed and
 * rte_eal_cleanup() is not called: in DPDK 22.11 they free and unmap memory
 * that memif's deferred control-channel handlers, still to run on that
 * thread, then write to (a crash at exit, seen under ASan). Everything
 * this process made (anonymous memory, memfd regions, an abstract socket)
 * goes with it; the runtime directory is removed here.
 */
static void bench_close(struct bench *bn)
{
	uint64_t t0 = now_ns();

	if (bn->b.started)
		rte_eth_dev_stop(bn->b.id);
	while (bn->a.started && link_is_up(&bn->a) && now_ns() - t0 < NS)
		usleep(1000);
	if (bn->a.started)
		rte_eth_dev_stop(bn->a.id);
	runtime_dir_remove();
}

/* ------------------------------------------------------------ options */

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " -t MEMIF_STREAM|MEMIF_RR [-l SECS] [-i REPS] [-T LCPU,RCPU]\n"
		   "                        [-j] [-P 0|1] [--verify] [--drop] [--eal 'ARGS']\n"
		   "                        [-- [-m SIZES] [-r SIZES]]\n"
		   "  SIZES: whole Ethernet frames, 64,1514 or 64..64K (doubling), 22..64K\n"
		   "  ARGS: more DPDK EAL arguments, separated by spaces\n");
}

static _Noreturn void bad(const char *what, const char *arg)
{
	fprintf(stderr, PROG ": %s '%s'\n", what, arg);
	exit(2);
}

/* A list (64,1514) or a doubling range (64..1024), as ivnet-perf reads them. */
static void parse_sizes(struct perf_opts *o, const char *arg)
{
	char err[PERF_ERRLEN];

	if (perf_parse_sizes(arg, o->sizes, PERF_MAX_SIZES, &o->nsizes, err, sizeof(err))) {
		fprintf(stderr, PROG ": %s\n", err);
		exit(2);
	}
}

static void parse_cpus(struct perf_opts *o, const char *arg)
{
	if (perf_parse_cpus(arg, &o->lcpu, &o->rcpu))
		bad("bad cpu pair (-T LCPU,RCPU)", arg);
}

/* Without -T: the first two CPUs this process may use (one, if that is all). */
static void default_cpus(struct perf_opts *o)
{
	cpu_set_t set;
	int c, n = 0;

	o->lcpu = o->rcpu = 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (c = 0; c < CPU_SETSIZE && n < 2; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (n++ == 0)
			o->lcpu = o->rcpu = c;
		else
			o->rcpu = c;
	}
}

/* EAL would refuse it with a page of usage: say which. */
static void check_cpus(const struct perf_opts *o)
{
	cpu_set_t set;
	int cpu[2] = {o->lcpu, o->rcpu}, i;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (i = 0; i < 2; i++) {
		if (!CPU_ISSET(cpu[i], &set)) {
			fprintf(stderr, PROG ": cpu %d is not one this process may run on\n",
				cpu[i]);
			exit(2);
		}
	}
}

static const struct perf_test *find_test(const char *name)
{
	const struct perf_test *t;

	for (t = memif_tests; t->name; t++)
		if (!strcasecmp(t->name, name))
			return t;
	return NULL;
}

enum { OPT_VERIFY = 256, OPT_DROP, OPT_EAL, OPT_LIST };

static void parse_opts(struct perf_opts *o, int argc, char **argv, char **eal, int *drop)
{
	static const struct option longs[] = {
		{"verify", no_argument, NULL, OPT_VERIFY}, {"drop", no_argument, NULL, OPT_DROP},
		{"eal", required_argument, NULL, OPT_EAL}, {"list", no_argument, NULL, OPT_LIST},
		{"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
	};
	const char *test = NULL;
	char *end;
	int c, i;

	while ((c = getopt_long(argc, argv, "+t:l:i:T:jP:h", longs, NULL)) != -1) {
		switch (c) {
		case 't':
			test = optarg;
			break;
		case 'l':
			o->seconds = strtod(optarg, &end);
			if (*end || !(o->seconds > 0 && o->seconds <= 86400))
				bad("bad test length (seconds)", optarg);
			break;
		case 'i':
			o->reps = (int)strtol(optarg, &end, 10);
			if ((*end && *end != ',') || o->reps < 1 || o->reps > PERF_MAX_REPS)
				bad("bad repetitions (1..100)", optarg);
			break;
		case 'T':
			parse_cpus(o, optarg);
			break;
		case 'j':
			o->json = 1;
			break;
		case 'P':
			o->banner = strcmp(optarg, "0") != 0;
			break;
		case OPT_VERIFY:
			o->verify = 1;
			break;
		case OPT_DROP:
			*drop = 1;
			break;
		case OPT_EAL:
			*eal = optarg;
			break;
		case OPT_LIST:
			for (i = 0; memif_tests[i].name; i++)
				printf("%s\n", memif_tests[i].name);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (!test) {
		fprintf(stderr, PROG ": which test? (-t MEMIF_STREAM or -t MEMIF_RR)\n");
		exit(2);
	}
	o->test = find_test(test);
	if (!o->test)
		bad("unknown test (MEMIF_STREAM, MEMIF_RR)", test);
	/* ivnet-perf's SHM_ defaults */
	o->nsizes = 1;
	o->sizes[0] = o->test->rr ? 64 : 1514;
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--"))
			bad("unexpected argument", argv[optind]);
		argc -= optind - 1;
		argv += optind - 1;
		optind = 1;
		while ((c = getopt(argc, argv, "m:r:")) != -1) {
			if (c != 'm' && c != 'r') {
				usage(stderr);
				exit(2);
			}
			if (c == 'r' && strchr(optarg, ','))
				bad("MEMIF_RR echoes the request: no response size in", optarg);
			parse_sizes(o, optarg);
		}
		if (optind < argc)
			bad("unexpected argument", argv[optind]);
	}
	for (i = 0; i < o->nsizes; i++) {
		if (o->sizes[i] < o->test->min_size || o->sizes[i] > o->test->max_size) {
			fprintf(stderr, PROG ": %s takes sizes %u..%u\n", o->test->name,
				o->test->min_size, o->test->max_size);
			exit(2);
		}
	}
}

int main(int argc, char **argv)
{
	struct perf_opts o = {
		.seconds = 10,
		.reps = 1,
		.lcpu = -1,
		.rcpu = -1,
		.banner = 1,
	};
	struct bench bn;
	struct size_result *res = NULL;
	char err[PERF_ERRLEN], *eal = NULL;
	int i, k, failed = 0, drop = 0;

	memset(&bn, 0, sizeof(bn));
	parse_opts(&o, argc, argv, &eal, &drop);
	if (o.lcpu < 0)
		default_cpus(&o);
	check_cpus(&o);
	if (bench_open(&bn, &o, eal, err)) {
		fprintf(stderr, PROG ": %s\n", err);
		failed = 1;
		goto out;
	}
	res = calloc((size_t)o.nsizes, sizeof(*res));
	for (i = 0; res && i < o.nsizes && !failed; i++) {
		res[i].size = o.sizes[i];
		res[i].resp = o.test->rr ? o.sizes[i] : 0;
		res[i].run = calloc((size_t)o.reps, sizeof(*res[i].run));
		if (!res[i].run)
			break;
		for (k = 0; k < o.reps; k++) {
			if (run_one(&bn, &o, drop, o.sizes[i], &res[i].run[k])) {
				failed = 1;
				break;
			}
			res[i].n++;
			if (res[i].run[k].errors)
				failed = 1;
		}
	}
	if (!res || (i < o.nsizes && !failed)) {
		fprintf(stderr, PROG ": out of memory\n");
		failed = 1;
		goto out;
	}
	if (o.json)
		report_json(&o, res, o.nsizes);
	else
		report_text(&o, res, o.nsizes);
out:
	for (i = 0; res && i < o.nsizes; i++)
		free(res[i].run);
	free(res);
	bench_close(&bn);
	return failed;
}

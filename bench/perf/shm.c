// SPDX-License-Identifier: MIT
/*
 * shm.c - SHM_STREAM and SHM_RR: process to process through an ivnet
 * segment with libivnet, no kernel on the path. Both ends join the segment
 * given by --segment (ivnetd's socket); the server says which peer it is
 * in its OK line. A size is a whole Ethernet frame: header (ethertype
 * 0x88b5), sequence number, then payload.
 *
 * A unicast ring loses nothing and keeps order, so the receiver counts any
 * gap in the sequence as an error; the last frame of a run (sequence
 * FIN_SEQ) tells the server the run is over.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "perf.h"

#define ETH_HDR 14
#define BURST 32
#define FIN_SEQ UINT64_MAX
#define RESP_SEQ (1ull << 63)
/*
 * How long a receive call waits, in every wait mode, before the caller looks
 * at its control connection. Busy mode waits inside libivnet too, whose spin
 * is store-free; returning here at every empty poll would put calls and
 * stores into the spin (see libivnet's spin_for_work()).
 */
#define RX_WAIT_MS 200

static const char *wait_str(enum ivnet_ep_wait w)
{
	return w == IVNET_WAIT_BLOCK ? "block" : w == IVNET_WAIT_ADAPTIVE ? "adaptive" : "busy";
}

static struct ivnet_ep *shm_open(struct perf_session *s)
{
	char err[IVNET_ERRLEN];
	struct ivnet_ep *ep;
	int ret;

	if (!s->req.segment[0]) {
		snprintf(s->err, PERF_ERRLEN, "SHM tests need --segment SOCKET (ivnetd's socket)");
		return NULL;
	}
	ret = ivnet_ep_open(s->req.segment, &ep, err);
	if (ret) {
		snprintf(s->err, PERF_ERRLEN, "segment %.80s: %.160s", s->req.segment, err);
		return NULL;
	}
	ivnet_ep_set_wait(ep, s->req.wait, s->req.spin_us);
	return ep;
}

static void frame_header(uint8_t *p, const uint8_t *dst, const uint8_t *src)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = PERF_ETHERTYPE >> 8;
	p[13] = PERF_ETHERTYPE & 0xff;
}

static int is_perf_frame(const uint8_t *p, uint32_t len)
{
	return len >= ETH_HDR + PATTERN_SEQ_LEN && p[12] == (PERF_ETHERTYPE >> 8) &&
	       p[13] == (PERF_ETHERTYPE & 0xff);
}

/* Client: join, learn the server's MAC from the OK line, wait until it is up. */
static struct ivnet_ep *shm_connect(struct perf_session *s)
{
	struct ivnet_ep *ep = shm_open(s);

	if (!ep)
		return NULL;
	if (ivnet_ep_wait_peer(ep, s->shm_id, 5000)) {
		snprintf(s->err, PERF_ERRLEN, "the server's endpoint (peer %u) never came up",
			 s->shm_id);
		ivnet_ep_close(ep);
		return NULL;
	}
	return ep;
}

/* Server: join and tell the client where we are. */
static struct ivnet_ep *shm_listen(struct perf_session *s)
{
	struct ivnet_ep *ep = shm_open(s);
	const uint8_t *m;

	if (!ep)
		return NULL;
	m = ivnet_ep_mac(ep);
	if (ctl_send(s->ctl, "OK id=%u mac=%02x:%02x:%02x:%02x:%02x:%02x wait=%s", ivnet_ep_id(ep),
		     m[0], m[1], m[2], m[3], m[4], m[5], wait_str(s->req.wait))) {
		snprintf(s->err, PERF_ERRLEN, "control connection lost");
		ivnet_ep_close(ep);
		return NULL;
	}
	return ep;
}

/* Has the client hung up on the control connection (a run never ends
 * otherwise when it dies before its FIN frame)? */
static int client_gone(struct perf_session *s)
{
	struct pollfd p = {.fd = s->ctl, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* Send one frame, waiting (busy) while the ring is full; 0 or -1 after 5 s. */
static int send_one(struct ivnet_ep *ep, const struct ivnet_frame *f)
{
	double t0 = 0;

	while (!ivnet_ep_send_burst(ep, f, 1)) {
		double t = perf_now();

		if (!t0)
			t0 = t;
		else if (t - t0 > 5)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ receive */

struct rx_state {
	uint64_t next; /* expected sequence number */
	double t0, last;
	int fin;
	struct far_result f;
};

/* Account one received frame (in place or copied). */
static void rx_frame(struct perf_session *s, struct rx_state *st, const uint8_t *p, uint32_t len)
{
	uint64_t seq;

	if (!is_perf_frame(p, len))
		return;
	seq = pattern_seq(p, len, ETH_HDR);
	if (seq == FIN_SEQ) {
		st->fin = 1;
		return;
	}
	if (seq != st->next)
		st->f.errors++; /* lost or reordered: a ring does neither */
	st->next = seq + 1;
	st->f.messages++;
	st->f.bytes += len;
	if (s->req.verify) {
		st->f.checked += len - ETH_HDR;
		/* a frame of another length is wrong whatever its bytes */
		st->f.errors += len != s->req.size ? len : pattern_check(p, len, ETH_HDR, seq);
	}
}

/*
 * Receive up to BURST frames, copied or in place, and account them.
 * Returns how many, or -1 if the segment went away.
 */
static int rx_some(struct perf_session *s, struct ivnet_ep *ep, struct rx_state *st,
		   struct ivnet_rx_buf *b, int timeout_ms)
{
	struct ivnet_rx_frame f[BURST];
	uint64_t before = st->f.messages;
	int n, i;

	if (s->req.zerocopy) {
		n = ivnet_ep_recv_zc(ep, f, NULL, BURST, timeout_ms);
		for (i = 0; i < n; i++)
			rx_frame(s, st, f[i].data, f[i].len);
		ivnet_ep_recv_done(ep);
	} else {
		n = ivnet_ep_recv_burst(ep, b, NULL, BURST, timeout_ms);
		for (i = 0; i < n; i++)
			rx_frame(s, st, b[i].data, b[i].len);
	}
	/* the clock once per burst, not per frame: at 64 B a clock read
	 * costs as much as receiving the frame */
	if (st->f.messages != before) {
		st->last = perf_now();
		if (!before)
			st->t0 = st->last;
	}
	return n;
}

static struct ivnet_rx_buf *rx_bufs(uint32_t size)
{
	struct ivnet_rx_buf *b = calloc(BURST, sizeof(*b));
	int i;

	for (i = 0; b && i < BURST; i++) {
		b[i].cap = size + 1;
		b[i].data = malloc(b[i].cap);
		if (!b[i].data)
			return NULL; /* the process is about to fail anyway */
	}
	return b;
}

static void rx_bufs_free(struct ivnet_rx_buf *b)
{
	int i;

	for (i = 0; b && i < BURST; i++)
		free(b[i].data);
	free(b);
}

int shm_stream_server(struct perf_session *s)
{
	struct ivnet_ep *ep = shm_listen(s);
	struct ivnet_rx_buf *b = rx_bufs(s->req.size);
	struct rx_state st = {0};
	int ret = -1;

	if (!ep || !b) {
		if (ep)
			snprintf(s->err, PERF_ERRLEN, "out of memory");
		goto out;
	}
	while (!st.fin) {
		int n = rx_some(s, ep, &st, b, RX_WAIT_MS);

		if (n < 0) {
			snprintf(s->err, PERF_ERRLEN, "the broker went away");
			goto out;
		}
		if (n == 0 && client_gone(s)) {
			snprintf(s->err, PERF_ERRLEN, "the client left mid-run");
			goto out;
		}
	}
	st.f.elapsed = st.last - st.t0;
	ret = ctl_result(s, &st.f);
out:
	rx_bufs_free(b);
	ivnet_ep_close(ep);
	return ret;
}

int shm_stream_client(struct perf_session *s, struct run_result *r)
{
	uint32_t size = s->req.size, i, head = 0, queued = 0;
	struct ivnet_ep *ep = shm_connect(s);
	struct ivnet_frame f[BURST];
	uint8_t *buf = malloc((size_t)size * BURST);
	uint64_t seq = 0;
	double t0 = perf_now(), t = t0;
	unsigned int tick = 0;
	int ret = -1;

	if (!ep || !buf) {
		if (ep)
			snprintf(s->err, PERF_ERRLEN, "out of memory");
		goto out;
	}
	for (i = 0; i < BURST; i++) {
		uint8_t *p = buf + (size_t)i * size;

		memset(p, 0x5a, size);
		frame_header(p, s->shm_mac, ivnet_ep_mac(ep));
		f[i] = (struct ivnet_frame){.data = p, .len = size};
	}
	/*
	 * f[] is a ring of BURST frames: [head, head + queued) are stamped and
	 * not yet taken. Refill what was taken, send, repeat.
	 */
	for (;;) {
		unsigned int n;

		while (queued < BURST) {
			uint8_t *p = (uint8_t *)f[(head + queued) % BURST].data;

			if (s->req.verify)
				pattern_fill(p, size, ETH_HDR, seq++);
			else
				pattern_stamp(p, size, ETH_HDR, seq++);
			queued++;
		}
		/* send_burst takes a contiguous array: send up to the wrap */
		n = ivnet_ep_send_burst(ep, f + head,
					head + queued > BURST ? BURST - head : queued);
		head = (head + n) % BURST;
		queued -= n;
		if ((++tick & 15) == 0) {
			t = perf_now();
			if (t - t0 >= s->req.seconds)
				break;
		}
	}
	r->sent = seq - queued;
	r->elapsed = t - t0;
	{
		uint8_t fin[ETH_HDR + PATTERN_SEQ_LEN];
		struct ivnet_frame ff = {.data = fin, .len = sizeof(fin)};

		frame_header(fin, s->shm_mac, ivnet_ep_mac(ep));
		pattern_stamp(fin, sizeof(fin), ETH_HDR, FIN_SEQ);
		if (send_one(ep, &ff)) {
			snprintf(s->err, PERF_ERRLEN, "the server stopped receiving");
			goto out;
		}
	}
	if (ctl_wait_result(s, 30000))
		goto out;
	r->messages = s->far.messages;
	r->bytes = s->far.bytes;
	r->checked = s->far.checked;
	r->errors = s->far.errors;
	if (s->far.elapsed > 0)
		r->elapsed = s->far.elapsed;
	if (s->far.messages != r->sent) {
		snprintf(s->err, PERF_ERRLEN, "sent %llu frames, the server got %llu",
			 (unsigned long long)r->sent, (unsigned long long)s->far.messages);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	ivnet_ep_close(ep);
	return ret;
}

/* ----------------------------------------------------------------- RR */

/*
 * Receive one frame, copied into b[0] or in place (--zerocopy: valid until
 * the next receive or ivnet_ep_recv_done()). Returns what the receive call
 * does: 1, 0 (nothing within the wait) or < 0 (the broker went away).
 */
static int rx_one(struct perf_session *s, struct ivnet_ep *ep, struct ivnet_rx_buf *b,
		  const uint8_t **p, uint32_t *len)
{
	struct ivnet_rx_frame zf = {0};
	int n;

	if (s->req.zerocopy) {
		n = ivnet_ep_recv_zc(ep, &zf, NULL, 1, RX_WAIT_MS);
		*p = zf.data;
		*len = zf.len;
	} else {
		n = ivnet_ep_recv_burst(ep, b, NULL, 1, RX_WAIT_MS);
		*p = b[0].data;
		*len = b[0].len;
	}
	return n;
}

int shm_rr_server(struct perf_session *s)
{
	struct ivnet_ep *ep = shm_listen(s);
	uint32_t a = s->req.resp;
	uint8_t *resp = malloc(a);
	struct ivnet_rx_buf *b = rx_bufs(s->req.size);
	struct ivnet_frame out = {.data = resp, .len = a};
	struct far_result fr = {0};
	double t0 = 0;
	int ret = -1, fin = 0;

	if (!ep || !resp || !b) {
		if (ep)
			snprintf(s->err, PERF_ERRLEN, "out of memory");
		goto fail;
	}
	memset(resp, 0xa5, a);
	while (!fin) {
		const uint8_t *p;
		uint32_t len;
		uint64_t seq;
		int n;

		n = rx_one(s, ep, b, &p, &len);
		if (n < 0) {
			snprintf(s->err, PERF_ERRLEN, "the broker went away");
			goto fail;
		}
		if (n == 0) {
			if (client_gone(s)) {
				snprintf(s->err, PERF_ERRLEN, "the client left mid-run");
				goto fail;
			}
			continue;
		}
		if (!is_perf_frame(p, len))
			continue;
		seq = pattern_seq(p, len, ETH_HDR);
		if (seq == FIN_SEQ) {
			fin = 1;
			continue;
		}
		if (!fr.messages)
			t0 = perf_now();
		if (seq != fr.messages)
			fr.errors++;
		if (s->req.verify) {
			fr.checked += len - ETH_HDR;
			fr.errors += len != s->req.size ? len : pattern_check(p, len, ETH_HDR, seq);
		}
		/* answer whoever asked: the request's source MAC */
		frame_header(resp, p + 6, ivnet_ep_mac(ep));
		if (s->req.verify)
			pattern_fill(resp, a, ETH_HDR, seq | RESP_SEQ);
		else
			pattern_stamp(resp, a, ETH_HDR, seq | RESP_SEQ);
		if (s->req.zerocopy)
			ivnet_ep_recv_done(ep);
		if (send_one(ep, &out)) {
			snprintf(s->err, PERF_ERRLEN, "the client stopped receiving");
			goto fail;
		}
		fr.messages++;
	}
	fr.elapsed = fr.messages ? perf_now() - t0 : 0;
	fr.bytes = fr.messages * (uint64_t)(s->req.size + a);
	ret = ctl_result(s, &fr);
fail:
	rx_bufs_free(b);
	free(resp);
	ivnet_ep_close(ep);
	return ret;
}

/* Wait for the response to seq; -1 if none comes within 5 s. */
static int rr_wait(struct perf_session *s, struct ivnet_ep *ep, struct ivnet_rx_buf *b,
		   uint64_t seq, struct run_result *r)
{
	double t0 = 0;

	for (;;) {
		const uint8_t *p;
		uint32_t len;
		int n;

		n = rx_one(s, ep, b, &p, &len);
		if (n < 0)
			return -1;
		if (n == 1 && is_perf_frame(p, len) &&
		    pattern_seq(p, len, ETH_HDR) == (seq | RESP_SEQ)) {
			if (s->req.verify) {
				r->checked += len - ETH_HDR;
				r->errors += len != s->req.resp ? len
								: pattern_check(p, len, ETH_HDR,
										seq | RESP_SEQ);
			}
			return 0;
		}
		if (n == 1) {
			r->errors++; /* not the answer we wait for */
			continue;
		}
		if (!t0) {
			t0 = perf_now();
		} else if (perf_now() - t0 > 5) {
			snprintf(s->err, PERF_ERRLEN, "no response to request %llu",
				 (unsigned long long)seq);
			return -1;
		}
	}
}

int shm_rr_client(struct perf_session *s, struct run_result *r)
{
	uint32_t q = s->req.size;
	struct ivnet_ep *ep = shm_connect(s);
	uint8_t *req = malloc(q);
	struct ivnet_rx_buf *b = rx_bufs(s->req.resp);
	struct ivnet_frame f = {.data = req, .len = q};
	uint64_t seq = 0, t0 = perf_now_ns(), t = t0, prev = t0;
	int ret = -1;

	if (!ep || !req || !b) {
		if (ep)
			snprintf(s->err, PERF_ERRLEN, "out of memory");
		goto out;
	}
	memset(req, 0x5a, q);
	frame_header(req, s->shm_mac, ivnet_ep_mac(ep));
	do {
		if (s->req.verify)
			pattern_fill(req, q, ETH_HDR, seq);
		else
			pattern_stamp(req, q, ETH_HDR, seq);
		if (send_one(ep, &f) || rr_wait(s, ep, b, seq, r)) {
			if (!s->err[0])
				snprintf(s->err, PERF_ERRLEN, "the server stopped answering");
			goto out;
		}
		seq++;
		t = perf_now_ns();
		hist_add(&r->lat, t - prev);
		prev = t;
	} while ((double)(t - t0) * 1e-9 < s->req.seconds);
	ivnet_ep_recv_done(ep);
	r->messages = seq;
	r->sent = seq;
	r->bytes = seq * (uint64_t)(q + s->req.resp);
	r->elapsed = (double)(t - t0) * 1e-9;
	pattern_stamp(req, q, ETH_HDR, FIN_SEQ);
	if (send_one(ep, &f) || ctl_wait_result(s, 30000))
		goto out;
	r->checked += s->far.checked;
	r->errors += s->far.errors;
	if (s->far.messages != seq) {
		snprintf(s->err, PERF_ERRLEN, "%llu requests, the server answered %llu",
			 (unsigned long long)seq, (unsigned long long)s->far.messages);
		goto out;
	}
	ret = 0;
out:
	rx_bufs_free(b);
	free(req);
	ivnet_ep_close(ep);
	return ret;
}

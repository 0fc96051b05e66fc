// SPDX-License-Identifier: MIT
/*
 * ivnet_port.c - an ivnet segment as a switch port: the switch joins the
 * segment as a peer through libivnet and asks the broker to make it the
 * segment's uplink, so that peers send it the frames for MACs outside.
 *
 * The port advertises no offloads: the other ports (virtio-net without
 * TSO, uplinks) could not carry a 64 KiB super-packet or a partial
 * checksum, so the peers finish both before sending to us (the guest
 * driver segments and checksums in software). A frame that still carries
 * offload metadata is dropped and counted.
 *
 * The endpoint is single-threaded: opened and closed on the control thread,
 * used only by the owning worker in between (publication orders the two).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_client.h"
#include "vswitch.h"

#define ADVERTISED_MTU 1500
#define BROKER_TIMEOUT_S 3
#define BROKER_ANSWER_MAX 65536 /* "peer uplink" answers with one peer line */

struct vsw_ivnet_port {
	struct vsw *sw;
	struct ivnet_ep *ep;
	char segment[IVNET_NAME_LEN + 1];
	uint32_t id;
	uint8_t mac[6];
	int gone;	  /* atomic: the broker went away */
	uint32_t snap_at; /* switch clock of the last counter snapshot */
	struct ivnet_rx_buf rb[VSW_BURST];
	struct ivnet_frame fr[VSW_BURST];
	uint8_t bounce[VSW_BURST][VSW_FRAME_MAX]; /* chained mbufs, made contiguous */
};

int vsw_ivnet_gone(const struct vsw_port *p)
{
	return __atomic_load_n(&p->iv->gone, __ATOMIC_RELAXED);
}

void vsw_ivnet_describe(const struct vsw_port *p, char *seg, size_t n, uint32_t *id, uint8_t mac[6])
{
	snprintf(seg, n, "%s", p->iv->segment);
	*id = p->iv->id;
	memcpy(mac, p->iv->mac, 6);
}

static void broker_gone(struct vsw_port *p)
{
	struct vsw_ivnet_port *iv = p->iv;

	if (__atomic_exchange_n(&iv->gone, 1, __ATOMIC_RELAXED))
		return;
	VSW_ADD(iv->sw->ivc[p->slot].gone, 1);
	vsw_log(iv->sw, "port %s: the ivnet broker went away; frames to it are dropped",
		p->spec.name);
}

/* Frames the segment sends us, into fresh mbufs. */
static uint16_t iv_rx(struct vsw_port *p, struct rte_mbuf **m, uint16_t n)
{
	struct vsw_ivnet_port *iv = p->iv;
	struct vsw *s = iv->sw;
	struct vsw_port_counters *c = &s->cnt[p->worker][p->slot];
	uint16_t i, k = 0;
	int got;

	if (__atomic_load_n(&iv->gone, __ATOMIC_RELAXED) || rte_pktmbuf_alloc_bulk(s->pool, m, n))
		return 0;
	for (i = 0; i < n; i++) {
		iv->rb[i].data = rte_pktmbuf_mtod(m[i], void *);
		iv->rb[i].cap = rte_pktmbuf_tailroom(m[i]);
	}
	got = ivnet_ep_recv_burst(iv->ep, iv->rb, NULL, n, 0);
	if (got < 0) {
		broker_gone(p);
		got = 0;
	}
	for (i = 0; i < got; i++) {
		const struct ivnet_rx_buf *b = &iv->rb[i];

		if (b->meta.gso_type != IVNET_GSO_NONE ||
		    (b->meta.flags & IVNET_DESC_F_CSUM_PARTIAL)) {
			/* we advertised no offloads: a peer that ignores it */
			VSW_ADD(c->rx_dropped, 1);
			rte_pktmbuf_free(m[i]);
			continue;
		}
		if (b->len >= 6 && !memcmp(b->data, iv->mac, 6)) {
			/* for the switch itself: it has nothing to say */
			VSW_ADD(s->ivc[p->slot].rx_to_self, 1);
			rte_pktmbuf_free(m[i]);
			continue;
		}
		m[i]->data_len = (uint16_t)b->len;
		m[i]->pkt_len = b->len;
		m[k++] = m[i];
	}
	for (i = (uint16_t)got; i < n; i++)
		rte_pktmbuf_free(m[i]);
	return k;
}

/*
 * Frames for the segment. libivnet copies them into the rings and takes a
 * burst up to the first frame whose ring is full; that frame is dropped
 * (a switch does not wait on one slow peer) and the rest go on. The mbufs
 * of frames that went are put first, those dropped last.
 */
static uint16_t iv_tx(struct vsw_port *p, struct rte_mbuf **m, uint16_t n)
{
	struct vsw_ivnet_port *iv = p->iv;
	struct rte_mbuf *dropped[VSW_BURST];
	uint16_t i, off = 0, sent = 0, nd = 0;

	if (__atomic_load_n(&iv->gone, __ATOMIC_RELAXED))
		return 0;
	for (i = 0; i < n; i++) {
		uint32_t len = rte_pktmbuf_pkt_len(m[i]);
		const void *d =
			len <= VSW_FRAME_MAX ? rte_pktmbuf_read(m[i], 0, len, iv->bounce[i]) : NULL;

		memset(&iv->fr[i], 0, sizeof(iv->fr[i]));
		iv->fr[i].data = d;
		iv->fr[i].len = d ? len : 0; /* libivnet drops and counts a runt */
	}
	while (off < n) {
		unsigned int k = ivnet_ep_send_burst(iv->ep, iv->fr + off, n - off);

		for (i = 0; i < k; i++)
			m[sent++] = m[off + i];
		off = (uint16_t)(off + k);
		if (off < n)
			dropped[nd++] = m[off++];
	}
	memcpy(m + sent, dropped, nd * sizeof(*m));
	return sent;
}

/* Once a second while idle: copy libivnet's counters out for the control
 * thread (the endpoint is ours alone). */
static void iv_idle(struct vsw_port *p)
{
	struct vsw_ivnet_port *iv = p->iv;
	struct vsw_ivnet_counters *c = &iv->sw->ivc[p->slot];
	uint32_t now = __atomic_load_n(&iv->sw->now_s, __ATOMIC_RELAXED);
	struct ivnet_ep_peer peers[IVNET_PEERS_MAX];
	struct ivnet_ep_stats st;
	unsigned int n, i, up = 0;

	if (now == iv->snap_at || __atomic_load_n(&iv->gone, __ATOMIC_RELAXED))
		return;
	iv->snap_at = now;
	if (ivnet_ep_update(iv->ep) == -EPIPE) {
		broker_gone(p);
		return;
	}
	n = ivnet_ep_peers(iv->ep, peers, IVNET_PEERS_MAX);
	for (i = 0; i < n; i++)
		up += peers[i].up;
	ivnet_ep_stats(iv->ep, &st);
	__atomic_store_n(&c->tx_unknown, st.tx_unknown, __ATOMIC_RELAXED);
	__atomic_store_n(&c->tx_full, st.tx_full, __ATOMIC_RELAXED);
	__atomic_store_n(&c->tx_offload, st.tx_offload, __ATOMIC_RELAXED);
	__atomic_store_n(&c->rx_errors, st.rx_errors, __ATOMIC_RELAXED);
	__atomic_store_n(&c->peers_up, up, __ATOMIC_RELAXED);
}

static const struct vsw_port_ops ivnet_ops = {
	.rx = iv_rx,
	.tx = iv_tx,
	.idle = iv_idle,
};

/* The segment's name, from the broker's copy of the header: still bytes from
 * shared memory, checked. */
static int segment_name(struct vsw_ivnet_port *iv, char *err, size_t el)
{
	const struct ivnet_region_hdr *h = ivnet_ep_header(iv->ep);
	size_t i;

	memcpy(iv->segment, h->name, IVNET_NAME_LEN);
	iv->segment[IVNET_NAME_LEN] = '\0';
	for (i = 0; iv->segment[i]; i++) {
		char ch = iv->segment[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')) {
			snprintf(err, el, "the segment's name in its header is not readable");
			return -EPROTO;
		}
	}
	if (!i) {
		snprintf(err, el, "the segment has no name in its header");
		return -EPROTO;
	}
	return 0;
}

/* Ask the broker, on its control socket, to make our peer the uplink. */
static int become_uplink(struct vsw_port *p, char *err, size_t el)
{
	char req[128], *ans = NULL;
	int fd, e;

	snprintf(req, sizeof(req), "peer uplink %s %u on", p->iv->segment, p->iv->id);
	fd = ctl_client_connect(p->spec.ctl, BROKER_TIMEOUT_S * 1000);
	e = fd < 0 ? fd : ctl_client_send(fd, req);
	if (e) {
		snprintf(err, el, "broker control socket %s: %s (ctl=none to skip)", p->spec.ctl,
			 strerror(-e));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	e = ctl_client_answer(fd, BROKER_ANSWER_MAX, &ans, NULL);
	close(fd);
	if (e || !*ans || ctl_answer_is_error(ans)) {
		if (!e)
			ans[strcspn(ans, "\n")] = '\0';
		snprintf(err, el, "the broker refused the uplink: %.200s",
			 !e && *ans ? ans : "no answer");
		free(ans);
		return -EPERM;
	}
	free(ans);
	return 0;
}

int vsw_ivnet_open(struct vsw *s, struct vsw_port *p, char *err, size_t el)
{
	const struct ivnet_ep_opts opts = {.features = 0, .mtu = ADVERTISED_MTU};
	struct vsw_ivnet_port *iv;
	char why[IVNET_ERRLEN];
	int ret;

	iv = calloc(1, sizeof(*iv));
	if (!iv) {
		snprintf(err, el, "out of memory");
		return -ENOMEM;
	}
	iv->sw = s;
	p->iv = iv;
	ret = ivnet_ep_open_opts(p->spec.path, &opts, &iv->ep, why);
	if (ret) {
		snprintf(err, el, "joining %s: %s", p->spec.path, why);
		goto fail;
	}
	/* the switch forwards for others: it never sleeps on doorbells */
	ivnet_ep_set_wait(iv->ep, IVNET_WAIT_BUSY, 0);
	iv->id = ivnet_ep_id(iv->ep);
	memcpy(iv->mac, ivnet_ep_mac(iv->ep), 6);
	ret = segment_name(iv, err, el);
	if (!ret && p->spec.ctl[0])
		ret = become_uplink(p, err, el);
	if (ret)
		goto fail;
	p->ops = &ivnet_ops;
	vsw_log(s, "port %s: segment %s peer %u", p->spec.name, iv->segment, iv->id);
	return 0;
fail:
	vsw_ivnet_close(p);
	return ret;
}

void vsw_ivnet_close(struct vsw_port *p)
{
	if (!p->iv)
		return;
	ivnet_ep_close(p->iv->ep);
	free(p->iv);
	p->iv = NULL;
}

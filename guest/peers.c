// SPDX-License-Identifier: MIT
/*
 * peers.c - who is reachable: the peer table in shared memory, our own
 * link line in it, and the carrier.
 *
 * A peer is up by the rule of abi/ivnet_peer.h: the broker says it joined,
 * its own line says its link is up, and that line belongs to the current
 * join. What the broker says (joined, epoch, MAC, uplink flag, ivpos) comes
 * from a snapshot of our admin region, which no other peer can write; only
 * the link half comes from the shared table (require_admin=0: all of it).
 * The table is rescanned when a control doorbell rings (the broker's on a
 * join or leave, a peer's when its link changes) and once a second in case
 * a doorbell was lost. Values read from the table are copied and compared,
 * never used as indices or lengths.
 */
#include "ivnet.h"

static struct ivnet_peer *entry(struct ivnet_priv *priv, u32 id)
{
	return ivnet_peer_entry(priv->shm, &priv->layout, id);
}

/*
 * The broker's half of entry id: from the last snapshot of the admin region,
 * or with require_admin=0 from the shared table. False unless joined.
 */
static bool broker_half(struct ivnet_priv *priv, u32 id, struct ivnet_peer_admin *out)
{
	struct ivnet_peer *e = entry(priv, id);

	if (priv->admin) {
		*out = priv->vouched[id];
		return out->state == IVNET_PEER_JOINED;
	}
	if (!ivnet_peer_joined(e, &out->epoch))
		return false;
	out->ivpos = ivnet_load_relaxed(&e->admin.ivpos);
	out->flags = ivnet_load_relaxed(&e->admin.flags);
	memcpy(out->mac, e->admin.mac, ETH_ALEN);
	return true;
}

/* Tell every peer our link line changed (their control vector). */
static void announce(struct ivnet_priv *priv)
{
	struct ivnet_peer_admin a;
	u32 id;

	for (id = 0; id < priv->layout.max_peers; id++)
		if (id != priv->self && broker_half(priv, id, &a))
			ivnet_doorbell(priv, a.ivpos, IVNET_VEC_CONTROL);
}

void ivnet_link_set(struct ivnet_priv *priv, bool up)
{
	struct ivnet_peer *e = entry(priv, priv->self);
	u32 join_epoch;

	mutex_lock(&priv->scan_lock);
	ivnet_admin_refresh(priv);
	/* the broker's epoch for our slot, not what a peer may have written */
	join_epoch =
		priv->admin ? priv->vouched[priv->self].epoch : ivnet_load_relaxed(&e->admin.epoch);
	ivnet_peer_link_set_under(e, up, join_epoch, priv->dev->max_mtu, IVNET_F_ALL);
	announce(priv);
	mutex_unlock(&priv->scan_lock);
}

/* Reads one entry; returns whether the peer is up. The link half is the
 * peer's own word from the shared table, checked against the broker's. */
static bool read_peer(struct ivnet_priv *priv, u32 id, u8 *mac, u32 *ivpos, u32 *link_epoch,
		      u32 *features, bool *uplink)
{
	struct ivnet_peer *e = entry(priv, id);
	struct ivnet_peer_admin a;

	if (!broker_half(priv, id, &a))
		return false;
	*ivpos = a.ivpos;
	*uplink = a.flags & IVNET_PEER_F_UPLINK;
	memcpy(mac, a.mac, ETH_ALEN);
	if (!ivnet_peer_link_ok(e, a.epoch))
		return false;
	*link_epoch = ivnet_load_relaxed(&e->link.epoch);
	*features = ivnet_load_relaxed(&e->link.features);
	/* a peer without a unicast address could not be told apart */
	return is_valid_ether_addr(mac);
}

void ivnet_peers_scan(struct ivnet_priv *priv)
{
	bool any = false, kick = false;
	u32 id;

	mutex_lock(&priv->scan_lock);
	if (!READ_ONCE(priv->running))
		goto out;
	ivnet_admin_refresh(priv);
	for (id = 0; id < priv->layout.max_peers; id++) {
		struct ivnet_dev_peer *p = &priv->peer[id];
		u32 link_epoch = 0, features = 0, ivpos = 0;
		u8 mac[ETH_ALEN];
		bool up, uplink = false;

		if (id == priv->self)
			continue;
		up = read_peer(priv, id, mac, &ivpos, &link_epoch, &features, &uplink);
		if (up && (!p->up || link_epoch != p->link_epoch)) {
			/* new, or restarted: what it queued before is stale,
			 * what it sent since is not; the receive context
			 * restarts its ring */
			p->link_epoch = link_epoch;
			ether_addr_copy(p->mac, mac);
			set_bit(id, priv->rx_resync);
			kick = true;
		}
		WRITE_ONCE(p->features, features);
		WRITE_ONCE(p->uplink, uplink);
		WRITE_ONCE(p->ivpos, ivpos);
		if (up != p->up)
			netdev_dbg(priv->dev, "peer %u %s\n", id, up ? "up" : "down");
		WRITE_ONCE(p->up, up);
		any |= up;
	}
	if (any && !netif_carrier_ok(priv->dev))
		netif_carrier_on(priv->dev);
	else if (!any && netif_carrier_ok(priv->dev))
		netif_carrier_off(priv->dev);
	if (kick) {
		if (ivnet_napi) {
			/* process context: the softirq runs at bh enable */
			local_bh_disable();
			napi_schedule(&priv->napi);
			local_bh_enable();
		} else {
			schedule_delayed_work(&priv->rx_retry, 0);
		}
	}
out:
	mutex_unlock(&priv->scan_lock);
}

void ivnet_peer_work(struct work_struct *work)
{
	struct ivnet_priv *priv = container_of(work, struct ivnet_priv, peer_work);

	ivnet_peers_scan(priv);
}

void ivnet_peer_poll(struct work_struct *work)
{
	struct ivnet_priv *priv = container_of(to_delayed_work(work), struct ivnet_priv, peer_poll);

	ivnet_peers_scan(priv);
	schedule_delayed_work(&priv->peer_poll, HZ);
}

struct ivnet_dev_peer *ivnet_peer_by_mac(struct ivnet_priv *priv, const u8 *mac)
{
	u32 id;

	for (id = 0; id < priv->layout.max_peers; id++) {
		struct ivnet_dev_peer *p = &priv->peer[id];

		if (READ_ONCE(p->up) && ether_addr_equal(p->mac, mac))
			return p;
	}
	return NULL;
}

/* Where a unicast frame goes: the peer with that MAC, else an uplink. */
struct ivnet_dev_peer *ivnet_peer_for_dst(struct ivnet_priv *priv, const u8 *mac)
{
	struct ivnet_dev_peer *p = ivnet_peer_by_mac(priv, mac);
	u32 id;

	for (id = 0; !p && id < priv->layout.max_peers; id++)
		if (READ_ONCE(priv->peer[id].up) && READ_ONCE(priv->peer[id].uplink))
			p = &priv->peer[id];
	return p;
}

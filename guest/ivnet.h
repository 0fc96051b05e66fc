/* SPDX-License-Identifier: MIT */
/*
 * ivnet.h - declarations shared by the guest driver's files.
 *
 * One netdev per ivshmem-doorbell device. BAR0 holds the ivshmem registers,
 * BAR1 the MSI-X table (vector 0: control, vector 1: receive), BAR2 the
 * shared region laid out by the broker (abi/ivnet_shm.h). Our peer id is
 * IVPosition. Rings: one to each peer (we produce, from the xmit path under
 * that peer's tx_lock) and one from each peer (we consume, in NAPI or, with
 * napi=0, in the interrupt handler under rx_lock).
 *
 * Transmit queues: 0 for broadcast, multicast and frames to nobody, then one
 * per peer slot (peer id + 1), so that a peer that does not consume stops
 * only its own queue (tx.c).
 */
#ifndef IVNET_GUEST_H
#define IVNET_GUEST_H

#include <linux/etherdevice.h>
#include <linux/hrtimer.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/workqueue.h>

#include "ivnet_admin.h"
#include "ivnet_peer.h"
#include "ivnet_ring.h"

#define IVNET_DRV_NAME "ivnet"
#define IVNET_DRV_VERSION "0.1"

/* ivshmem BAR0 registers (QEMU docs/specs/ivshmem-spec.rst) */
#define IVNET_REG_INTRMASK 0x00
#define IVNET_REG_INTRSTATUS 0x04
#define IVNET_REG_IVPOSITION 0x08
#define IVNET_REG_DOORBELL 0x0c

/* Frames up to this size are copied into one linear skb; larger ones get
 * their headers linear and the rest in page fragments. */
#define IVNET_RX_COPYBREAK 1536
#define IVNET_RX_HDR 256

/* module parameters (main.c) */
extern bool ivnet_napi;
extern bool ivnet_suppress;
extern bool ivnet_xmit_batch;
extern bool ivnet_require_admin;

struct ivnet_peer_stats {
	u64 tx_packets;
	u64 tx_bytes;
	u64 tx_ring_full;   /* frames dropped: no room (broadcast, or a ring that shrank) */
	u64 tx_queue_stops; /* its queue stopped: less room than the largest frame needs */
	u64 tx_stalls;	    /* times it was given up on: stopped IVNET_TX_STALL_NS */
	u64 tx_stall_drops; /* frames dropped while given up on */
	u64 tx_errors;	    /* frames to it that could not be sent (metadata, size) */
	u64 rx_packets;
	u64 rx_bytes;
	u64 rx_dropped;
	u64 rx_invalid; /* offload metadata, length or source MAC refused */
	u64 doorbells;
};

struct ivnet_dev_peer {
	u32 id;		      /* slot in the peer table */
	u32 ivpos;	      /* its ivshmem id: doorbells go there */
	bool up;	      /* joined, its link up, under the current join */
	u8 mac[ETH_ALEN];     /* copied from the table at the last scan */
	u32 link_epoch;	      /* its attach epoch when we resynced its ring */
	u32 features;	      /* IVNET_F_* it accepts */
	bool uplink;	      /* the broker's IVNET_PEER_F_UPLINK: a switch to elsewhere */
	struct ivnet_ring tx; /* us -> it: under tx_lock */
	spinlock_t tx_lock;   /* one producer: its queue's xmit, or the broadcast path */
	bool tx_dirty;	      /* frames reserved but not published (under tx_lock) */
	bool tx_stalled;      /* given up on: its frames are dropped until it has room */
	ktime_t tx_stop_t;    /* when its queue stopped (under tx_wait_lock) */
	struct ivnet_ring rx; /* it -> us: receive context only */
	struct ivnet_peer_stats st;
};

/* An admin device (admin.c), bound by the ivnet-admin driver. */
struct ivnet_admin_dev {
	struct list_head node; /* in admin.c's list, under its lock */
	struct pci_dev *pdev;
	void *base;  /* BAR2: the admin region, IVNET_ADMIN_SIZE bytes */
	bool paired; /* a segment device uses it */
};

struct ivnet_priv {
	struct net_device *dev;
	struct pci_dev *pdev;
	void __iomem *regs;
	void *shm;
	resource_size_t shm_size;
	struct ivnet_layout layout;
	struct ivnet_region_hdr hdr; /* a copy of the header the layout came from */
	/* The broker's word (NULL with require_admin=0: the shared table's).
	 * vouched: its half of the peer table at the last complete snapshot,
	 * vouched_next the buffer a snapshot is taken into; both max_peers
	 * entries, under scan_lock once the device is registered. */
	struct ivnet_admin_dev *admin;
	struct ivnet_peer_admin *vouched;
	struct ivnet_peer_admin *vouched_next;
	u32 self;		     /* our slot */
	u32 ivpos;		     /* our ivshmem id (IVPosition) */
	struct ivnet_dev_peer *peer; /* layout.max_peers entries */
	u32 tx_room;		     /* slots the largest frame may need: below it, stop */
	u32 tx_wake;		     /* free slots that wake a stopped queue */
	u64 tx_bcast_dirty;	     /* peers the broadcast path left dirty (queue 0 only) */
	struct hrtimer tx_wait;	     /* watches the rings of stopped queues */
	spinlock_t tx_wait_lock;     /* tx_stopped, tx_wait_armed, tx_stop_t */
	u64 tx_stopped;		     /* peers whose queue is stopped (bit per id) */
	bool tx_wait_armed;	     /* tx_wait is queued or running and will look again */
	unsigned long rx_resync[BITS_TO_LONGS(IVNET_PEERS_MAX)];
	u32 rx_next; /* round-robin start */
	struct napi_struct napi;
	spinlock_t rx_lock;	/* napi=0: receive in the interrupt handler */
	struct mutex scan_lock; /* one peer-table scan at a time */
	struct work_struct peer_work;
	struct delayed_work peer_poll;
	struct delayed_work rx_retry; /* napi=0: more to receive than one irq takes */
	bool running;
	/* counters not tied to one peer */
	atomic64_t tx_unknown; /* any queue: rare, so an atomic */
	atomic64_t tx_errors;  /* frames too short for an Ethernet header */
	u64 interrupts;
	u64 interrupts_ctrl;
	u64 napi_polls;
	u64 admin_torn; /* admin snapshots torn on every try: previous view kept */
};

/* ethtool reads the device's counters as u64s (ethtool.c) */
static_assert(sizeof(atomic64_t) == sizeof(u64));

/* Validation failures in the ring from p towards us, and in what it sent. */
static inline u64 ivnet_peer_rx_errors(const struct ivnet_dev_peer *p)
{
	const struct ivnet_ring_stats *r = &p->rx.stats;

	return READ_ONCE(p->st.rx_invalid) + READ_ONCE(r->bad_index) + READ_ONCE(r->bad_desc) +
	       READ_ONCE(r->resync);
}

/* Our ring to p: its consumer's index was out of range; frames to p that
 * could not be sent. */
static inline u64 ivnet_peer_tx_errors(const struct ivnet_dev_peer *p)
{
	return READ_ONCE(p->tx.stats.bad_index) + READ_ONCE(p->st.tx_errors);
}

/* admin.c */
extern struct pci_driver ivnet_admin_driver;
bool ivnet_is_admin_region(const void *base, resource_size_t size);
int ivnet_admin_header(struct ivnet_admin_dev *a, struct ivnet_region_hdr *seg);
int ivnet_admin_pair(struct ivnet_priv *priv);
void ivnet_admin_refresh(struct ivnet_priv *priv);

/* device.c */
void ivnet_doorbell(struct ivnet_priv *priv, u32 ivpos, u32 vector);

/* netdev.c */
struct net_device *ivnet_netdev_alloc(struct pci_dev *pdev);
extern const struct net_device_ops ivnet_netdev_ops;

/* peers.c */
void ivnet_peers_scan(struct ivnet_priv *priv);
void ivnet_peer_work(struct work_struct *work);
void ivnet_peer_poll(struct work_struct *work);
void ivnet_link_set(struct ivnet_priv *priv, bool up);
struct ivnet_dev_peer *ivnet_peer_for_dst(struct ivnet_priv *priv, const u8 *mac);
struct ivnet_dev_peer *ivnet_peer_by_mac(struct ivnet_priv *priv, const u8 *mac);

/* tx.c */
#define IVNET_TXQ_SHARED 0 /* broadcast, multicast, nobody's */
static inline u16 ivnet_txq_of(const struct ivnet_dev_peer *p)
{
	return p->id + 1;
}

void ivnet_tx_setup(struct ivnet_priv *priv);
void ivnet_tx_start(struct ivnet_priv *priv);
void ivnet_tx_stop(struct ivnet_priv *priv);
u16 ivnet_select_queue(struct net_device *dev, struct sk_buff *skb, struct net_device *sb_dev);
netdev_tx_t ivnet_xmit(struct sk_buff *skb, struct net_device *dev);
enum hrtimer_restart ivnet_tx_wait(struct hrtimer *t);

/* A peer's queue stays stopped this long at most without the room to wake
 * it returning; then its frames are dropped until it has that room again
 * (a peer that died or crawls loses its own traffic only). */
#define IVNET_TX_STALL_NS (100 * NSEC_PER_MSEC)
#define IVNET_TX_WAIT_NS (50 * NSEC_PER_USEC)

/* rx.c */
int ivnet_poll(struct napi_struct *napi, int budget);
irqreturn_t ivnet_irq_rx(int irq, void *data);
irqreturn_t ivnet_irq_ctrl(int irq, void *data);
void ivnet_rx_retry(struct work_struct *work);

/* ethtool.c */
extern const struct ethtool_ops ivnet_ethtool_ops;

/* selftest.c: the ring library exercised in kernel context at load time. */
int ivnet_selftest(void);

#endif /* IVNET_GUEST_H */

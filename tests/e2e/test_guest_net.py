#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""e2e: ivnet0, the guest driver's network interface, between QEMU guests.

Every test starts its own ivnetd and boots TCG guests with a stock
ivshmem-doorbell device pointed at it; in each guest `insmod /ivnet.ko`
makes ivnet0, addressed 169.254.99.X/24 with X = the guest's peer id + 1.

  pair      two guests: ivnet0 appears, its MAC is the broker's, carrier
            follows the other peer's link; ping both ways at 56, 1400 and
            8000 bytes, and at 60000 after MTU 65535; 50 MiB each way over
            TCP (busybox nc) with md5 checked; iperf3 both ways; ethtool -S
            counters (NAPI polls; one doorbell for many frames to a peer
            whose QEMU is stopped); then the module reloaded with napi=0
            suppress=0 xmit_batch=0: ping, TCP, a doorbell per frame
  three     three guests: after `ip neigh flush`, broadcast ARP from one
            reaches both others, every neighbour table learns the others'
            MACs, ping works between each pair
  restart   a ping loop and a TCP stream from A to B while B restarts: its
            module (A's carrier goes 0 and back to 1, both resume), then
            its QEMU (killed, a new one joins with B's peer id: carrier,
            ping both ways), then the new B leaves and A lives on
  hostile   A and B ping each other while tests/peers/ivnet-hostile scribbles over
            the rings it shares with A and sends A nonsense frames: A shows
            no oops, still answers, counts rx_errors, and ping A<->B works
            afterwards
  flood     two tests/peers/ivnet-hostile --flood-invalid keep their rings to A
            full of invalid 1-slot frames and ring A's doorbell after every
            refill, with A at napi=0 and then napi=1: A still answers on its
            console, B's pings to A get through, A counts the frames it drops,
            no oops, lockup or RCU stall in either guest
  mtu       tests/peers/icmp_probe pings A's ivnet0 with whole IPv4 echo
            requests: 1500 bytes are answered at MTU 1500; 3000 bytes are
            dropped and counted (rx_errors), never answered; at MTU 4000 they
            are answered
  forge     tests/peers/ivnet-hostile --forge-table joins first and, once B is
            up, keeps rewriting the shared peer table and header: the uplink
            flag on itself, B's MAC in its own entry (link epoch bumped),
            JOINED entries with the next ivshmem id and B's MAC in the free
            slots, max_frame 16 in the header. Ping and an md5-checked TCP
            transfer A <-> B, frames to an unknown MAC dropped and counted
            (no uplink), a guest C booted meanwhile gets the broker's slot
            and MAC and pings A and B, carriers stay up, and the forger
            receives no unicast frame that is not its own.
            IVNET_E2E_FORGE_PARAMS adds module parameters (require_admin=0
            must fail it)
  noadmin   a guest without the admin device: insmod makes no ivnet0 and
            dmesg says what it waits for; with require_admin=0 ivnet0
            comes up with the broker's MAC and a warning
  slowpeer  tests/peers/ivnet-hostile --slow-consumer (C) frees two slots of
            A's ring to it every 90 ms: iperf3 A->B alone, then while A
            floods C's MAC with pings, then alone again; with the flood A->B
            keeps at least SLOW_RATIO of its rate; A counts C's stall, no
            ring-full drop towards B; the qdisc is mq with a queue per peer;
            ifdown/ifup with C stalled, then --slow-consumer=rewind (a tail
            that goes ahead, then back) and C leaving: A<->B pings all pass

usage: test_guest_net.py (--initrd FILE | --ko FILE) [--cache DIR]
                         [--only TEST,...] --icmp-probe ICMP_PROBE
                         IVNETD IVNETCTL IVNET_HOSTILE

--initrd: an image from mkinitramfs.sh with /ivnet.ko, -b iperf3 and
-b ethtool (meson builds it); --ko builds one. Exits 0 on success, 1 on a
failure, 77 (skip) only if qemu-system-x86_64 is missing and
IVNET_E2E_REQUIRED is unset. Logs are kept on failure (or with
IVNET_E2E_KEEP=1) in the directory printed at the end. IVNET_E2E_SEED
fixes the hostile peer's seed.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
import guest as gl  # noqa: E402
import ivtest  # noqa: E402
from ivtest import Failure, expect, note, ok, parallel, wait_for  # noqa: E402

REGION = '64M'  # with 4 peers: 1024 slots of 2 KiB per ring
MAX_PEERS = 4
MEM = '512M'
BOOT_TIMEOUT = 180  # three TCG guests on two host cores
CMD_TIMEOUT = 60
SUBNET = '169.254.99'  # IPv4 link-local, never another range
TRANSFER = 50 << 20  # bytes each way in the pair test
SMALL_TRANSFER = 8 << 20  # after the reload with napi=0 etc.
# Doorbell suppression: pings sent to a peer whose QEMU is stopped (so it
# cannot drain or re-arm) may ring it at most this many times in all.
FROZEN_PINGS = 200
FROZEN_MAX_DOORBELLS = 2
HOSTILE_SECONDS = 10
FLOOD_SECONDS = 25  # longer than the soft-lockup and RCU-stall detectors wait

ETHTOOL_KEYS = ('tx_packets', 'rx_packets', 'tx_bytes', 'rx_bytes', 'tx_dropped_unknown',
                'tx_ring_full', 'doorbells', 'interrupts', 'napi_polls', 'rx_errors')
PEER_KEYS = ('rx_packets', 'tx_packets', 'rx_errors')


# ------------------------------------------------------------------ nodes

class Node:
    """A guest on the segment: its QEMU, its peer id, MAC and address."""

    def __init__(self, g, peer):
        self.g = g
        self.id = peer['id']
        self.mac = peer['mac'].lower()
        self.ip = f'{SUBNET}.{self.id + 1}'

    @property
    def name(self):
        return self.g.name

    def run(self, cmd, timeout=CMD_TIMEOUT):
        rc, out = self.g.run(cmd, timeout)
        expect(rc == 0, f'guest {self.name}: {cmd!r} exited {rc}:\n{out}')
        return out

    def rc(self, cmd, timeout=CMD_TIMEOUT):
        return self.g.run(cmd, timeout)

    def sysfs(self, attr):
        out = self.run(f'cat /sys/class/net/ivnet0/{attr}')
        return out.strip().splitlines()[-1].strip()


def boot(broker, kernel, initrd, work, names, stack):
    """Starts one guest per name on the broker's segment; returns Nodes."""
    guests = []
    for n in names:
        g = gl.Guest(n, kernel, initrd, gl.ivshmem_doorbell_args(broker.sock, 2),
                     mem=MEM, workdir=work)
        stack.append(g)
        g.start()
        guests.append(g)
    for g in guests:
        g.wait_ready(BOOT_TIMEOUT)
    nodes = [Node(g, broker.peer_of_pid(g._proc.pid)) for g in guests]
    for nd in nodes:
        note(f'guest {nd.name}: booted in {nd.g.boot_seconds:.1f} s, peer {nd.id}, '
             f'{nd.mac}, {nd.ip}')
    return nodes


def load(nd, params=''):
    """insmod; ivnet0 exists, with the broker's MAC and MTU 1500."""
    rc, out = nd.rc(f'insmod /ivnet.ko {params}'.strip())
    expect(rc == 0, f'guest {nd.name}: insmod /ivnet.ko {params} exited {rc}:\n{out}')
    rc, out = nd.rc('ls /sys/class/net')
    expect('ivnet0' in out.split(), f'guest {nd.name}: no ivnet0 after insmod; '
           f'interfaces: {out.split()}')
    mac = nd.sysfs('address').lower()
    expect(mac == nd.mac, f'guest {nd.name}: ivnet0 MAC {mac}, the broker says {nd.mac}')
    mtu = nd.sysfs('mtu')
    expect(mtu == '1500', f'guest {nd.name}: ivnet0 MTU {mtu} at load, expected 1500')


def link_up(nd):
    nd.run(f'ip addr add {nd.ip}/24 dev ivnet0 && ip link set ivnet0 up')


def unload(nd):
    nd.run('ip link set ivnet0 down; rmmod ivnet')
    rc, out = nd.rc('test -e /sys/class/net/ivnet0')
    expect(rc != 0, f'guest {nd.name}: ivnet0 still there after rmmod')


def wait_carrier(nd, want, timeout=30):
    """Waits (inside the guest) for ivnet0's carrier to read `want`."""
    n = int(timeout / 0.2)
    rc, out = nd.rc(
        f'i=0; while [ $i -lt {n} ]; do '
        f'c=$(cat /sys/class/net/ivnet0/carrier 2>&1); [ "$c" = {want} ] && exit 0; '
        f'usleep 200000; i=$((i + 1)); done; echo "carrier: $c"; exit 1',
        timeout=timeout + CMD_TIMEOUT)
    expect(rc == 0, f'guest {nd.name}: carrier not {want} after {timeout} s ({out.strip()})')


def carrier_stays(nd, want, seconds=1.0):
    """Checks that the carrier reads `want` now and `seconds` later."""
    for _ in range(2):
        c = nd.sysfs('carrier')
        expect(c == str(want), f'guest {nd.name}: carrier {c}, expected {want}')
        time.sleep(seconds)


PING_RE = re.compile(r'(\d+) packets transmitted, (\d+) packets received')


def ping(src, dst, size=56, count=3, timeout=CMD_TIMEOUT):
    """busybox ping from src to dst's address: every reply must come."""
    cmd = f'ping -c {count} -i 0.2 -W 5 -w 30 -s {size} {dst.ip}'
    rc, out = src.rc(cmd, timeout)
    m = PING_RE.search(out)
    expect(m and int(m.group(1)) == count and int(m.group(2)) == count,
           f'{src.name} -> {dst.name}: {cmd!r} exited {rc}:\n{out}')
    rtt = re.search(r'min/avg/max = ([\d./]+)', out)
    return rtt.group(1) if rtt else '?'


def ping_both(a, b, size):
    r1, r2 = parallel(lambda: ping(a, b, size), lambda: ping(b, a, size))
    ok(f'ping -s {size} {a.name} <-> {b.name} (rtt ms min/avg/max {r1} and {r2})')


def ethtool(nd):
    """ethtool -S ivnet0 as a dict of integers."""
    out = nd.run('ethtool -S ivnet0')
    stats = {}
    for line in out.splitlines():
        m = re.match(r'\s*([A-Za-z0-9_.-]+):\s*(-?\d+)\s*$', line)
        if m:
            stats[m.group(1)] = int(m.group(2))
    expect(stats, f'guest {nd.name}: ethtool -S ivnet0 gave no counters:\n{out}')
    return stats


def counter(nd, key):
    st = ethtool(nd)
    expect(key in st, f'guest {nd.name}: ethtool -S ivnet0 has no {key}: {sorted(st)}')
    return st[key]


def check_keys(nd, st, peers):
    want = list(ETHTOOL_KEYS) + [f'peer{p.id}_{k}' for p in peers for k in PEER_KEYS]
    missing = [k for k in want if k not in st]
    expect(not missing, f'guest {nd.name}: ethtool -S ivnet0 lacks {missing}; it has '
           f'{sorted(st)}')


def totals_mismatch(st):
    """The per-peer counters whose peerN_ values do not add up to the total
    of the same name (every per-peer counter is part of its total, and only
    the device's own counters are added to them): a label shifted against
    its value shows here."""
    sums = {}
    for key, value in st.items():
        m = re.match(r'peer\d+_(.+)$', key)
        if m:
            sums[m.group(1)] = sums.get(m.group(1), 0) + value
    expect(sums, f'ethtool -S has no per-peer counters: {sorted(st)}')
    return {k: (st.get(k), v) for k, v in sums.items() if st.get(k) != v}


def pair_mismatch(a, sa, b, sb):
    """Between two honest guests at rest, what one sent to the other is what
    the other received from it (or dropped): each counter's value matches
    its label. Returns the mismatches."""
    bad = {}
    for (x, sx), (y, sy) in (((a, sa), (b, sb)), ((b, sb), (a, sa))):
        for what in ('packets', 'bytes'):
            sent = sx.get(f'peer{y.id}_tx_{what}')
            got = sy.get(f'peer{x.id}_rx_{what}')
            dropped = sy.get(f'peer{x.id}_rx_dropped', 0)
            if what == 'bytes' and dropped:
                continue  # the bytes of a dropped frame are not counted
            if what == 'packets' and got is not None:
                got += dropped
            if sent != got:
                bad[f'{x.name}->{y.name} {what}'] = (sent, got)
    return bad


def check_counters(a, b):
    """The totals of ethtool -S are the sums of their per-peer columns, and
    what A counts as sent to B, B counts as received from A. Read at rest,
    a few times: a frame that arrives between two reads is in one count and
    not yet in the other."""
    for _ in range(5):
        sa, sb = ethtool(a), ethtool(b)
        bad = {f'{a.name} {k}': v for k, v in totals_mismatch(sa).items()}
        bad.update({f'{b.name} {k}': v for k, v in totals_mismatch(sb).items()})
        bad.update(pair_mismatch(a, sa, b, sb))
        if not bad:
            return
        time.sleep(0.5)
    raise Failure(f'ethtool -S counters disagree (total or sent, sum or received): {bad}')


def frozen_receiver(a, b):
    """A pings B FROZEN_PINGS times, fast, while B's QEMU is stopped: B
    armed its ring (if it did) before it froze, so need-wakeup suppression
    rings it once at most; per-frame doorbells ring every time. Returns the
    deltas of A's counters. The stop is a few seconds, far from the guest
    kernel's stall detectors."""
    keys = ('tx_packets', 'doorbells', 'tx_ring_full', 'tx_dropped_unknown')
    s0 = ethtool(a)
    pid = b.g._proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        # no replies can come: ping stops at its deadline (-w)
        a.rc(f'ping -q -c {FROZEN_PINGS} -i 0.01 -w 4 {b.ip}', timeout=CMD_TIMEOUT)
    finally:
        os.kill(pid, signal.SIGCONT)
    s1 = ethtool(a)
    return {k: s1[k] - s0[k] for k in keys}


def port_open(nd, port, timeout=10):
    """Waits until something listens on TCP `port` in the guest (busybox
    nc and iperf3 listen on IPv6 sockets that take IPv4 too)."""
    n = int(timeout / 0.1)
    nd.run(f'i=0; while [ $i -lt {n} ]; do '
           f'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | '
           f'grep -qi ":{port:04X} 0*:0000 0A" && exit 0; '
           f'usleep 100000; i=$((i + 1)); done; echo "nothing listens on {port}"; exit 1',
           timeout=timeout + CMD_TIMEOUT)


# busybox nc half-closes its socket when its stdin ends, and a sending nc
# stops when its socket reads EOF: a listener reading /dev/null (every
# command's stdin) would cut the transfer short. A FIFO opened read-write
# never ends, so the listener sends nothing and closes only when the sender
# has sent everything.
def nc_listen(nd, port, out='/tmp/r'):
    nd.run(f'rm -f {out} /tmp/fifo{port}; mkfifo /tmp/fifo{port}; '
           f'nc -l -p {port} <> /tmp/fifo{port} > {out} 2> /tmp/nc{port}.err & '
           f'echo $! > /tmp/nc{port}.pid')
    port_open(nd, port)


def nc_wait_listener(nd, port, timeout=60):
    n = int(timeout / 0.1)
    rc, out = nd.rc(f'p=$(cat /tmp/nc{port}.pid); i=0; '
                    f'while kill -0 $p 2>/dev/null && [ $i -lt {n} ]; do '
                    f'usleep 100000; i=$((i + 1)); done; '
                    f'! kill -0 $p 2>/dev/null || {{ echo "listener still running"; exit 1; }}; '
                    f'cat /tmp/nc{port}.err', timeout=timeout + CMD_TIMEOUT)
    expect(rc == 0, f'guest {nd.name}: nc listener on {port} did not finish: {out}')


def md5_of(nd, path):
    out = nd.run(f'md5sum {path}; wc -c < {path}', timeout=120)
    m = re.search(r'^([0-9a-f]{32})\s', out, re.M)
    size = re.search(r'^(\d+)\s*$', out, re.M)
    expect(m and size, f'guest {nd.name}: md5sum {path}: {out}')
    return m.group(1), int(size.group(1))


def make_file(nd, nbytes):
    nd.run(f'head -c {nbytes} /dev/urandom > /tmp/f', timeout=300)
    return md5_of(nd, '/tmp/f')


def tcp_both_ways(a, b, nbytes, port=5001):
    """nbytes of random data each way at once over TCP; md5 compared."""
    (ma, sa), (mb, sb) = parallel(lambda: make_file(a, nbytes), lambda: make_file(b, nbytes))
    expect(sa == nbytes and sb == nbytes, f'/tmp/f sizes {sa} and {sb}, expected {nbytes}')
    nc_listen(a, port)
    nc_listen(b, port)
    # Generous: a slow driver under TCG, not a hang, should still pass.
    limit = 120 + nbytes // (64 << 10)
    t0 = time.monotonic()

    def send(src, dst):
        src.run(f'nc {dst.ip} {port} < /tmp/f', timeout=limit)
        return time.monotonic() - t0

    ta, tb = parallel(lambda: send(a, b), lambda: send(b, a))
    for nd, sent_md5, peer in ((b, ma, a), (a, mb, b)):
        nc_wait_listener(nd, port)
        got_md5, got = md5_of(nd, '/tmp/r')
        expect(got == nbytes, f'{peer.name} -> {nd.name}: {got} bytes arrived of {nbytes}')
        expect(got_md5 == sent_md5, f'{peer.name} -> {nd.name}: md5 {got_md5}, sent {sent_md5}')
    for nd in (a, b):
        nd.run('rm -f /tmp/f /tmp/r')
    mb_ = nbytes / 1e6
    ok(f'TCP {nbytes >> 20} MiB each way at once, md5 equal: {a.name} -> {b.name} '
       f'{ta:.1f} s ({mb_ / ta:.1f} MB/s), {b.name} -> {a.name} {tb:.1f} s ({mb_ / tb:.1f} MB/s)')


def iperf3(client, server, seconds=3, port=5201):
    server.run(f'iperf3 -s -1 -D -p {port}')
    port_open(server, port)
    out = client.run(f'iperf3 -c {server.ip} -p {port} -t {seconds} -J',
                     timeout=seconds + CMD_TIMEOUT)
    try:
        j = json.loads(out[out.index('{'):out.rindex('}') + 1])
        sent = j['end']['sum_sent']
        recv = j['end']['sum_received']
    except (ValueError, KeyError) as e:
        raise Failure(f'iperf3 {client.name} -> {server.name}: no result ({e}):\n{out}')
    ok(f'iperf3 {client.name} -> {server.name}: {recv["bits_per_second"] / 1e6:.0f} Mbit/s '
       f'received, {sent["bits_per_second"] / 1e6:.0f} Mbit/s sent, '
       f'{sent.get("retransmits", "?")} retransmits')


def background_pings(src, dst, tag):
    """A loop of single pings, one line (ok/fail) each, that survives
    anything (a ping that cannot send just fails)."""
    src.run(f'(while :; do if ping -c 1 -W 1 {dst.ip} >/dev/null 2>&1; then echo ok; '
            f'else echo fail; fi; usleep 200000; done) > /tmp/{tag}.log 2>&1 & '
            f'echo $! > /tmp/{tag}.pid')


def ping_log(nd, tag, skip=0):
    """(ok, fail) counts of a background_pings log after its first `skip`
    lines, and the number of lines."""
    out = nd.run(f'cat /tmp/{tag}.log')
    lines = [l for l in out.splitlines() if l in ('ok', 'fail')]
    rest = lines[skip:]
    return rest.count('ok'), rest.count('fail'), len(lines)


def stop_background(nd, tag, also=''):
    """Kills a loop started in the background (and, inside that guest, the
    programs named in `also`)."""
    nd.rc(f'kill $(cat /tmp/{tag}.pid) {"$(pidof " + also + ")" if also else ""} '
          '2>/dev/null; true')


def neighbours(nd):
    """{ip: (mac, state)} from ip neigh on ivnet0."""
    out = nd.run('ip neigh show dev ivnet0')
    table = {}
    for line in out.splitlines():
        f = line.split()
        if not f or not f[0].startswith(SUBNET + '.'):
            continue
        mac = f[f.index('lladdr') + 1].lower() if 'lladdr' in f else None
        table[f[0]] = (mac, f[-1])
    return table


# ------------------------------------------------------------------ tests

def test_pair(ctx):
    """Two guests: link, MAC, carrier, MTU, ping, TCP, iperf3, counters."""
    broker = ctx.broker('pair')
    a, b = boot(broker, ctx.kernel, ctx.initrd, ctx.work, ('pair-a', 'pair-b'), ctx.guests)
    expect(len(broker.peers()) == 2, f'broker peers: {broker.peers()}')
    parallel(lambda: load(a), lambda: load(b))
    ok('insmod /ivnet.ko: ivnet0 in both guests, MAC as the broker assigned, MTU 1500')
    info = a.run('ethtool -i ivnet0')
    expect('driver: ivnet' in info and 'bus-info: 0000:' in info and 'layout' in info,
           f'ethtool -i ivnet0 on {a.name}:\n{info}')
    ok('ethtool -i: driver ivnet, its PCI address, the layout version')


    link_up(a)
    carrier_stays(a, 0)
    ok(f'carrier 0 on {a.name} while {b.name} has ivnet0 down')
    link_up(b)
    wait_carrier(a, 1)
    wait_carrier(b, 1)
    ok('carrier 1 on both once both ivnet0 are up')

    for size in (56, 1400, 8000):
        ping_both(a, b, size)

    tcp_both_ways(a, b, TRANSFER)
    iperf3(a, b)
    iperf3(b, a)

    sa, sb = ethtool(a), ethtool(b)
    check_keys(a, sa, [b])
    check_keys(b, sb, [a])
    check_counters(a, b)
    for nd, st, peer in ((a, sa, b), (b, sb, a)):
        summary = ', '.join(f'{k} {st[k]}' for k in ETHTOOL_KEYS)
        note(f'{nd.name}: {summary}')
        # Under bulk traffic a receiver that keeps up sleeps, and is rung,
        # between small batches (under TCG, often): fewer doorbells than
        # packets, not necessarily far fewer. frozen_receiver() is the
        # precise check.
        expect(st['doorbells'] < st['tx_packets'],
               f'{nd.name}: {st["doorbells"]} doorbells for {st["tx_packets"]} tx packets: '
               'suppression should ring fewer')
        expect(st['napi_polls'] > 0, f'{nd.name}: napi_polls is 0 with napi=1')
        expect(st['rx_errors'] == 0, f'{nd.name}: rx_errors {st["rx_errors"]} between '
               'honest peers')
        expect(st[f'peer{peer.id}_rx_packets'] > 0 and st[f'peer{peer.id}_tx_packets'] > 0,
               f'{nd.name}: per-peer counters for peer {peer.id} are 0')
        expect(st['rx_bytes'] >= TRANSFER and st['tx_bytes'] >= TRANSFER,
               f'{nd.name}: rx_bytes {st["rx_bytes"]}, tx_bytes {st["tx_bytes"]} after '
               f'{TRANSFER} bytes each way')
        # At MTU 1500, bulk TCP averaging well above 1514-byte frames means
        # TSO super-packets crossed whole (not cut at 1500, as veth does).
        avg = st['tx_bytes'] / st['tx_packets']
        expect(avg > 2 * 1514, f'{nd.name}: {avg:.0f} bytes per tx frame: bulk TCP was '
               'segmented to the MTU instead of crossing as super-packets')
    ok(f'ethtool -S: doorbells {sa["doorbells"]}/{sa["tx_packets"]} and '
       f'{sb["doorbells"]}/{sb["tx_packets"]} tx packets, napi_polls {sa["napi_polls"]} and '
       f'{sb["napi_polls"]}, no rx_errors; {sa["tx_bytes"] // sa["tx_packets"]} and '
       f'{sb["tx_bytes"] // sb["tx_packets"]} bytes per frame at MTU 1500 (TSO whole)')
    d = frozen_receiver(a, b)
    expect(d['tx_packets'] >= FROZEN_PINGS // 4 and d['tx_ring_full'] == 0,
           f'{a.name} sent {d} while {b.name} was stopped: expected about {FROZEN_PINGS} '
           'frames, none refused')
    expect(d['doorbells'] <= FROZEN_MAX_DOORBELLS,
           f'{a.name} rang {d["doorbells"]} doorbells for {d["tx_packets"]} frames while '
           f'{b.name} was stopped: suppression should ring at most {FROZEN_MAX_DOORBELLS}')
    ok(f'suppression: {d["tx_packets"]} frames to a stopped peer, {d["doorbells"]} doorbell(s)')
    ping_both(a, b, 56)

    for nd in (a, b):
        nd.run('ip link set ivnet0 mtu 65535')
        expect(nd.sysfs('mtu') == '65535', f'{nd.name}: MTU did not become 65535')
        rc, out = nd.rc('ip link set ivnet0 mtu 65536')
        expect(rc != 0 and nd.sysfs('mtu') == '65535',
               f'{nd.name}: MTU 65536 accepted (the limit is 65535): {out}')
    ok('MTU 65535 set on both (65536 refused)')
    ping_both(a, b, 60000)

    # The other receive and transmit paths: per-interrupt receive, a
    # doorbell per frame, one publish per frame. rmmod with the peer up.
    unload(a)
    wait_carrier(b, 0)
    ok(f'rmmod on {a.name}: {b.name} sees carrier 0')
    unload(b)
    params = 'napi=0 suppress=0 xmit_batch=0'
    parallel(lambda: load(a, params), lambda: load(b, params))
    for nd in (a, b):
        got = nd.run('cat /sys/module/ivnet/parameters/napi '
                     '/sys/module/ivnet/parameters/suppress '
                     '/sys/module/ivnet/parameters/xmit_batch').split()
        expect(got[-3:] == ['N', 'N', 'N'], f'{nd.name}: parameters after insmod '
               f'{params}: {got}')
        link_up(nd)
    wait_carrier(a, 1)
    wait_carrier(b, 1)
    for size in (1400, 8000):
        ping_both(a, b, size)
    tcp_both_ways(a, b, SMALL_TRANSFER, port=5002)
    d = frozen_receiver(a, b)
    expect(d['doorbells'] >= d['tx_packets'] > 0,
           f'{a.name} rang {d["doorbells"]} doorbells for {d["tx_packets"]} frames to a '
           'stopped peer with suppress=0: expected one per frame')
    ok(f'suppress=0: {d["tx_packets"]} frames to a stopped peer, {d["doorbells"]} doorbells')
    ping_both(a, b, 56)
    sa, sb = ethtool(a), ethtool(b)
    note(f'{params}: doorbells/tx_packets {sa["doorbells"]}/{sa["tx_packets"]} and '
         f'{sb["doorbells"]}/{sb["tx_packets"]}, napi_polls {sa["napi_polls"]} and '
         f'{sb["napi_polls"]}, interrupts {sa["interrupts"]} and {sb["interrupts"]}')
    ok(f'reloaded with {params}: ping and TCP work')
    for nd in (a, b):
        nd.g.assert_no_oops()
    ok('no oops, BUG or WARN in either guest')


def test_three(ctx):
    """Three guests: broadcast ARP reaches all, neighbour tables, all pairs."""
    broker = ctx.broker('three')
    nodes = boot(broker, ctx.kernel, ctx.initrd, ctx.work,
                 ('three-a', 'three-b', 'three-c'), ctx.guests)
    a, b, c = nodes
    for nd in nodes:
        # No IPv6 on ivnet0: then ARP is all that crosses before the pings,
        # and a peer's receive counter proves a broadcast reached it.
        nd.run('f=/proc/sys/net/ipv6/conf/default/disable_ipv6; [ ! -e $f ] || echo 1 > $f')
    parallel(*[lambda nd=nd: load(nd) for nd in nodes])
    for nd in nodes:
        link_up(nd)
    for nd in nodes:
        wait_carrier(nd, 1)
    ok('three guests: ivnet0 up, carrier 1 on all')

    for nd in nodes:
        nd.run('ip neigh flush dev ivnet0')
    for dst, other in ((b, c), (c, b)):
        before = counter(other, f'peer{a.id}_rx_packets')
        ping(a, dst, count=2)
        after = counter(other, f'peer{a.id}_rx_packets')
        expect(after > before, f'{other.name} got nothing from {a.name} while {a.name} '
               f'resolved {dst.name} (peer{a.id}_rx_packets {before} -> {after}): the '
               'broadcast ARP request did not reach it')
    ok(f'after ip neigh flush: {a.name} pings {b.name} and {c.name}; its ARP broadcasts '
       'reached the third guest each time')

    pairs = [(x, y) for x in nodes for y in nodes if x is not y]
    # Each guest pings the two others (one thread per source guest).
    parallel(*[lambda x=x: [ping(x, y) for y in nodes if y is not x] for x in nodes])
    ok('ping works between each pair, both ways: '
       + ', '.join(f'{x.name}->{y.name}' for x, y in pairs))
    for nd in nodes:
        table = neighbours(nd)
        for other in nodes:
            if other is nd:
                continue
            mac, state = table.get(other.ip, (None, None))
            expect(mac == other.mac and state not in ('FAILED', 'INCOMPLETE'),
                   f'{nd.name}: neighbour {other.ip} is {mac} {state}, expected {other.mac}; '
                   f'table {table}')
    ok('every neighbour table has the two others with their broker MACs')
    for nd in nodes:
        nd.g.assert_no_oops()
    ok('no oops, BUG or WARN in any guest')


def file_size(nd, path):
    out = nd.run(f'wc -c < {path}')
    m = re.search(r'^(\d+)\s*$', out, re.M)
    expect(m, f'guest {nd.name}: wc -c {path}: {out}')
    return int(m.group(1))


def expect_growing(nd, path, what, seconds=3):
    s0 = file_size(nd, path)
    time.sleep(seconds)
    s1 = file_size(nd, path)
    expect(s1 > s0, f'{what}: {path} on {nd.name} stays at {s1} bytes')
    return s1 - s0


def test_restart(ctx):
    """B restarts under traffic from A: its module, then its QEMU."""
    broker = ctx.broker('restart')
    a, b = boot(broker, ctx.kernel, ctx.initrd, ctx.work, ('restart-a', 'restart-b'),
                ctx.guests)
    parallel(lambda: load(a), lambda: load(b))
    link_up(a)
    link_up(b)
    wait_carrier(a, 1)
    wait_carrier(b, 1)
    ping_both(a, b, 56)

    # A TCP stream (about 1 MB/s) and a ping loop from A to B.
    b.run('rm -f /tmp/fifo5003; mkfifo /tmp/fifo5003; '
          'nc -l -p 5003 <> /tmp/fifo5003 > /tmp/stream 2>&1 &')
    port_open(b, 5003)
    # (the loop ends when nc does: head then dies of SIGPIPE)
    a.run(f'(while head -c 65536 /dev/zero; do usleep 50000; done | nc {b.ip} 5003) '
          f'> /dev/null 2>&1 & echo $! > /tmp/stream.pid')
    background_pings(a, b, 'loop')
    wait_for(f'pings from {a.name} to {b.name} to succeed',
             lambda: ping_log(a, 'loop')[0] >= 3, timeout=60, interval=1)
    expect_growing(b, '/tmp/stream', 'the TCP stream')
    ok(f'{a.name} streams TCP to {b.name} and pings it in a loop')

    # 1. B's driver starts afresh (a new link epoch), its QEMU stays.
    unload(b)
    wait_carrier(a, 0)
    _, _, mark = ping_log(a, 'loop')
    load(b)
    link_up(b)
    wait_carrier(a, 1)
    wait_carrier(b, 1)
    wait_for(f'{a.name}\'s ping loop to reach {b.name} again',
             lambda: ping_log(a, 'loop', mark)[0] >= 3, timeout=60, interval=1)
    grew = expect_growing(b, '/tmp/stream', f'the TCP stream after {b.name}\'s module restart')
    ok(f'{b.name}: rmmod, insmod, up: {a.name}\'s carrier went 0 and back to 1, its ping loop '
       f'resumed and the TCP stream goes on ({grew} bytes in 3 s)')

    # 2. B's QEMU is killed; a new one joins.
    old_pid, old_id = b.g._proc.pid, b.id
    b.g.stop()
    broker.wait_gone(old_pid)
    wait_carrier(a, 0)
    _, _, mark = ping_log(a, 'loop')
    ok(f'{b.name}\'s QEMU killed: the broker saw it leave, {a.name}\'s carrier went 0')

    b2 = boot(broker, ctx.kernel, ctx.initrd, ctx.work, ('restart-b2',), ctx.guests)[0]
    if b2.id != old_id:
        note(f'the new QEMU got peer id {b2.id}, not {old_id}: address {b2.ip}')
    load(b2)
    carrier_stays(a, 0)
    ok(f'{b2.name} joined and loaded the module with ivnet0 down: {a.name}\'s carrier '
       'stays 0')
    link_up(b2)
    wait_carrier(a, 1)
    wait_carrier(b2, 1)
    ok(f'{b2.name}\'s ivnet0 up: carrier 1 on both')
    # A QEMU that saw peer id N leave and a new QEMU join as N again must
    # ring the new one (QEMU 7.2's ivshmem frees a leaving peer's eventfd
    # array, then reuses it for the next peer with that id).
    reused = (f' ({b2.name} has peer id {old_id} again: if the doorbells of '
              f'{a.name}\'s QEMU to that id are lost, see QEMU\'s ivshmem '
              'close_peer_eventfds())') if b2.id == old_id else ''
    if b2.id == old_id:
        # Same id, same MAC, same address: A's loop needs nothing from us.
        try:
            wait_for(f'{a.name}\'s ping loop to reach {b2.name}',
                     lambda: ping_log(a, 'loop', mark)[0] >= 3, timeout=60, interval=1)
        except Failure as e:
            raise Failure(f'{e}{reused}')
        oks, fails, _ = ping_log(a, 'loop', mark)
        ok(f'{a.name}\'s ping loop resumed by itself ({fails} failed while {b.name} was away, '
           f'{oks} ok since)')
    stop_background(a, 'loop')
    stop_background(a, 'stream', also='nc')
    rc, out = a.rc('echo alive')
    expect(rc == 0 and 'alive' in out, f'{a.name} does not answer: {out}')
    if b2.id != old_id:
        a.run('ip neigh flush dev ivnet0')
    ping_both(a, b2, 56)
    ping_both(a, b2, 8000)
    st = ethtool(a)
    note(f'{a.name}: ' + ', '.join(f'{k} {st[k]}' for k in ETHTOOL_KEYS if k in st))
    ok(f'{a.name} survived {b.name}\'s QEMU restart: ping works both ways')

    # 3. The new B leaves too: A (its QEMU and its kernel) must not mind.
    pid = b2.g._proc.pid
    b2.g.stop()
    broker.wait_gone(pid)
    try:
        wait_carrier(a, 0)
    except gl.GuestError as e:
        raise Failure(f'{a.name} died when {b2.name} left{reused}:\n{e}')
    for nd in (a, b2):
        nd.g.assert_no_oops()
    ok(f'{b2.name}\'s QEMU stopped as well: {a.name} answers, carrier 0; no oops, BUG or WARN')


def test_hostile(ctx):
    """A hostile peer scribbles over the rings it shares with A."""
    broker = ctx.broker('hostile')
    a, b = boot(broker, ctx.kernel, ctx.initrd, ctx.work, ('hostile-a', 'hostile-b'),
                ctx.guests)
    parallel(lambda: load(a), lambda: load(b))
    link_up(a)
    link_up(b)
    wait_carrier(a, 1)
    wait_carrier(b, 1)
    ping_both(a, b, 56)
    background_pings(a, b, 'ab')
    background_pings(b, a, 'ba')

    seed = int(os.environ.get('IVNET_E2E_SEED') or random.getrandbits(32))
    argv = [ctx.hostile, broker.sock, '--target', str(a.id), '--target-ip', a.ip,
            '--seconds', str(HOSTILE_SECONDS), '--seed', str(seed)]
    note('running ' + ' '.join(argv))
    h = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []
    try:
        # A sample while it lasts: per-peer counters may go with the peer.
        time.sleep(HOSTILE_SECONDS * 0.6)
        samples.append(('during', ethtool(a)))
        out, err = h.communicate(timeout=HOSTILE_SECONDS + 120)
    finally:
        if h.poll() is None:
            h.kill()
            h.communicate()
    expect(h.returncode == 0 and 'Sanitizer' not in err,
           f'ivnet-hostile exited {h.returncode}:\n{out}{err[-3000:]}')
    try:
        summary = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failure(f'ivnet-hostile printed no summary:\n{out}{err[-3000:]}')
    hid = summary['self']
    expect(summary['scribbles'] > 0 and summary['frames'] > 0,
           f'ivnet-hostile did nothing: {summary}')
    ok(f'ivnet-hostile (peer {hid}, seed {seed}) attacked {a.name} for {HOSTILE_SECONDS} s: '
       f'{summary["scribbles"]} scribbles, {summary["frames"]} nonsense frames, '
       f'{summary["doorbells"]} doorbells')

    rc, out = a.rc('echo alive', timeout=120)
    expect(rc == 0 and 'alive' in out, f'{a.name} does not answer after the attack: {out}')
    a.g.assert_no_oops()
    b.g.assert_no_oops()
    ok(f'{a.name} answers; no oops, BUG or WARN in either guest')

    samples.append(('after', ethtool(a)))
    seen = [(when, st.get('rx_errors', 0), st.get(f'peer{hid}_rx_errors', 0),
             st.get(f'peer{hid}_rx_packets', '?')) for when, st in samples]
    expect(any(e > 0 or pe > 0 for _, e, pe, _ in seen),
           f'{a.name} counted no rx_errors (nor peer{hid}_rx_errors) under attack: {seen}')
    ok(f'{a.name} counted the attack: ' + ', '.join(
        f'{when} rx_errors {e}, peer{hid}_rx_errors {pe} (peer{hid}_rx_packets {pk})'
        for when, e, pe, pk in seen))

    ab, ba = ping_log(a, 'ab'), ping_log(b, 'ba')
    note(f'pings during the attack: {a.name}->{b.name} {ab[0]} ok {ab[1]} failed, '
         f'{b.name}->{a.name} {ba[0]} ok {ba[1]} failed')
    stop_background(a, 'ab')
    stop_background(b, 'ba')
    # The hostile peer's nonsense includes ARP: A's neighbour table may
    # hold lies, which is Ethernet's problem, not the driver's.
    for nd in (a, b):
        nd.run('ip neigh flush dev ivnet0')
    wait_carrier(a, 1)
    ping_both(a, b, 56)
    ping_both(a, b, 1400)
    a.g.assert_no_oops()
    ok(f'ping {a.name} <-> {b.name} works after the attack')


def flood_round(ctx, broker, a, b, params):
    """One flood against A loaded with `params`; B is the honest peer."""
    parallel(lambda: load(a, params), lambda: load(b))
    link_up(a)
    link_up(b)
    wait_carrier(a, 1)
    wait_carrier(b, 1)
    ping_both(a, b, 56)
    before = counter(a, 'rx_errors')
    argv = [ctx.hostile, broker.sock, '--target', str(a.id), '--flood-invalid',
            '--seconds', str(FLOOD_SECONDS)]
    note('running twice: ' + ' '.join(argv))
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        time.sleep(FLOOD_SECONDS * 0.2)
        t = time.monotonic()
        rc, out = a.rc('echo alive', timeout=CMD_TIMEOUT)
        expect(rc == 0 and 'alive' in out,
               f'{a.name} ({params}) does not answer during the flood: {out!r}')
        alive_s = time.monotonic() - t
        during = ping(b, a, 56, count=3)
        still = all(p.poll() is None for p in procs)
        res = [p.communicate(timeout=FLOOD_SECONDS + 120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    expect(still, f'an ivnet-hostile ended before the checks during the flood: {res}')
    frames = []
    for p, (out, err) in zip(procs, res):
        expect(p.returncode == 0 and 'Sanitizer' not in err,
               f'ivnet-hostile --flood-invalid exited {p.returncode}:\n{out}{err[-3000:]}')
        try:
            frames.append(json.loads(out.strip().splitlines()[-1])['frames'])
        except (ValueError, IndexError, KeyError):
            raise Failure(f'ivnet-hostile printed no summary:\n{out}{err[-3000:]}')
    expect(all(f > 0 for f in frames), f'an ivnet-hostile queued no frames: {frames}')
    for nd in (a, b):
        nd.g.assert_no_oops()
    errors = counter(a, 'rx_errors') - before
    expect(errors > 0, f'{a.name} counted no rx_errors under the flood')
    ping_both(a, b, 1400)
    ok(f'{a.name} ({params}) under two floods of {frames} invalid frames: answered in '
       f'{alive_s:.1f} s, ping from {b.name} (rtt {during}), {errors} rx_errors; '
       'no oops, lockup or stall')
    unload(a)
    unload(b)


def test_flood(ctx):
    """Two peers flood A with invalid frames and doorbells, napi=0 then napi=1."""
    broker = ctx.broker('flood')
    a, b = boot(broker, ctx.kernel, ctx.initrd, ctx.work, ('flood-a', 'flood-b'),
                ctx.guests)
    flood_round(ctx, broker, a, b, 'napi=0')
    flood_round(ctx, broker, a, b, 'napi=1')


def probe(ctx, broker, a, size, count=3):
    """icmp_probe joins the segment and sends `count` IPv4 echo requests of
    `size` bytes (whole, in one frame each, no offload metadata) to A's
    ivnet0; returns its summary ({"id", "sent", "replies"})."""
    argv = [ctx.icmp_probe, broker.sock, '--peer', str(a.id), '--to', a.ip,
            '--from', f'{SUBNET}.200', '--size', str(size), '--count', str(count)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    expect(r.returncode == 0 and 'Sanitizer' not in r.stderr,
           f'icmp_probe exited {r.returncode}:\n{r.stdout}{r.stderr[-3000:]}')
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failure(f'icmp_probe printed no summary:\n{r.stdout}{r.stderr[-3000:]}')


def test_mtu(ctx):
    """Frames above the receiver's MTU are dropped and counted, not delivered."""
    broker = ctx.broker('mtu')
    (a,) = boot(broker, ctx.kernel, ctx.initrd, ctx.work, ('mtu-a',), ctx.guests)
    load(a)
    link_up(a)
    fits = probe(ctx, broker, a, 1500)
    expect(fits['replies'] == fits['sent'],
           f'{a.name} answered {fits["replies"]} of {fits["sent"]} pings of 1500 bytes (its MTU)')
    ok(f'{a.name} answers whole 1500-byte IPv4 pings from a libivnet peer: {fits}')
    before = counter(a, 'rx_errors')
    big = probe(ctx, broker, a, 3000)
    after = counter(a, 'rx_errors')
    expect(big['replies'] == 0,
           f'{a.name} answered {big["replies"]} pings of 3000 bytes at MTU 1500: a frame '
           'above the MTU reached its stack')
    expect(after - before >= big['sent'],
           f'{a.name} counted {after - before} rx_errors for {big["sent"]} frames above its MTU')
    ok(f'3000-byte frames at MTU 1500: none delivered, {after - before} rx_errors counted')
    a.run('ip link set ivnet0 mtu 4000')
    big = probe(ctx, broker, a, 3000)
    expect(big['replies'] == big['sent'],
           f'{a.name} at MTU 4000 answered {big["replies"]} of {big["sent"]} 3000-byte pings')
    ok('with ivnet0 at MTU 4000 the same pings are answered')
    a.g.assert_no_oops()


# ------------------------------------------------------------------ forge

FORGE_TRANSFER = 4 << 20  # bytes each way under the forger
FORGE_VICTIM = 2  # the forger joins first (slot 0): the guests get 1 and 2
FORGE_UNKNOWN_IP, FORGE_UNKNOWN_MAC = f'{SUBNET}.201', '02:00:5e:00:00:c9'


def start_forger(ctx, broker):
    """ivnet-hostile --forge-table, joined before any guest: slot 0, ahead of
    its victim (slot FORGE_VICTIM) in every scan of the table. It forges
    once the victim is up and goes on until told to stop (SIGTERM)."""
    err = open(os.path.join(ctx.work, 'forge-hostile.err'), 'w')
    argv = [ctx.hostile, broker.sock, '--forge-table', '--target', str(FORGE_VICTIM),
            '--wait', '900', '--seconds', '100000']
    note('running ' + ' '.join(argv))
    h = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
    err.close()
    broker.peer_of_pid(h.pid)
    return h


def stop_forger(ctx, h):
    """SIGTERM; its summary (it must have run until then)."""
    alive = h.poll() is None
    if alive:
        h.send_signal(signal.SIGTERM)
    out, _ = h.communicate(timeout=60)
    with open(os.path.join(ctx.work, 'forge-hostile.err')) as f:
        err = f.read()
    expect(alive and h.returncode == 0 and 'Sanitizer' not in err,
           f'ivnet-hostile --forge-table stopped early or failed ({h.returncode}):\n{out}'
           f'{err[-3000:]}')
    try:
        line = next(ln for ln in out.splitlines() if ln.startswith('{"forge"'))
        s = json.loads(line)['forge']
        # unicast it received for the victim, and for the MAC it claimed as
        # a forged uplink's
        return {'rounds': s['rounds'], 'rx_victim': s['rx_target'],
                'rx_misrouted': s['rx_target'] + s['rx_unknown']}
    except (ValueError, StopIteration, KeyError):
        raise Failure(f'ivnet-hostile --forge-table printed no summary:\n{out}{err[-3000:]}')


def soft(bad, what, fn):
    """Runs one check; a Failure is noted in `bad` and the next check runs."""
    try:
        fn()
        ok(what)
    except Failure as e:
        bad.append(f'{what}: {e}')
        note(f'FAILED {what}: {e}')


def forge_unknown_unicast(a):
    """A frame to a MAC nobody has: dropped (no uplink here), counted."""
    before = counter(a, 'tx_dropped_unknown')
    a.run(f'arp -i ivnet0 -s {FORGE_UNKNOWN_IP} {FORGE_UNKNOWN_MAC}')  # busybox: no ip neigh add
    a.rc(f'ping -c 5 -i 0.2 -W 1 {FORGE_UNKNOWN_IP}')
    after = counter(a, 'tx_dropped_unknown')
    expect(after - before >= 5, f'{a.name}: {after - before} of 5 frames to an unknown MAC '
           'counted as dropped: they went to a forged uplink')


def forge_late_joiner(ctx, broker, params, bad):
    """A guest booted while the table and header are forged gets its own
    slot and MAC (load() checks the broker's) and reaches the others."""
    (c,) = boot(broker, ctx.kernel, ctx.initrd, ctx.work, ('forge-c',), ctx.guests)
    try:
        load(c, params)
    except Failure as e:
        bad.append(f'{c.name} joining under the forger: {e}')
        return None
    link_up(c)
    soft(bad, f'{c.name} (slot {c.id}, {c.mac}) has carrier', lambda: wait_carrier(c, 1))
    return c


def forge_checks(ctx, broker, params):
    """Boots A and B (B the victim), then checks what the forger could
    change; returns the failed checks and the nodes."""
    x, y = boot(broker, ctx.kernel, ctx.initrd, ctx.work, ('forge-a', 'forge-b'), ctx.guests)
    a, b = sorted((x, y), key=lambda nd: nd.id)
    expect(b.id == FORGE_VICTIM, f'guests got slots {a.id} and {b.id}, expected the '
           f'victim at {FORGE_VICTIM}')
    parallel(lambda: load(a, params), lambda: load(b, params))
    for nd in (a, b):
        link_up(nd)
    wait_carrier(a, 1)
    wait_carrier(b, 1)
    log = os.path.join(ctx.work, 'forge-hostile.err')
    wait_for('the forger to start', lambda: 'attacking' in open(log).read(), timeout=60)
    time.sleep(3)  # forged rounds, link epoch bumps, rescans in both guests
    bad = []
    soft(bad, f'ping {a.name} <-> {b.name} under the forger', lambda: ping_both(a, b, 56))
    soft(bad, f'TCP {a.name} <-> {b.name}, md5 checked, under the forger',
         lambda: tcp_both_ways(a, b, FORGE_TRANSFER))
    soft(bad, f'{a.name}: unknown unicast dropped, not sent to a forged uplink',
         lambda: forge_unknown_unicast(a))
    c = forge_late_joiner(ctx, broker, params, bad)
    if c:
        soft(bad, f'ping {c.name} <-> {a.name}', lambda: ping_both(c, a, 56))
        soft(bad, f'ping {c.name} <-> {b.name}', lambda: ping_both(c, b, 56))
    for nd in (a, b):
        soft(bad, f'{nd.name} keeps its carrier', lambda nd=nd: carrier_stays(nd, 1))
    return bad, [a, b] + ([c] if c else [])


def test_forge(ctx):
    """A peer forging the shared peer table and header changes nothing."""
    params = os.environ.get('IVNET_E2E_FORGE_PARAMS', '')
    broker = ctx.broker('forge')
    h = start_forger(ctx, broker)
    try:
        bad, nodes = forge_checks(ctx, broker, params)
    except BaseException:
        h.kill()
        h.communicate()
        raise
    summary = stop_forger(ctx, h)
    note(f'forger: {summary}')
    expect(summary['rounds'] > 0, f'the forger forged nothing: {summary}')
    if summary['rx_misrouted'] or summary['rx_victim']:
        bad.append(f'the forger received {summary["rx_misrouted"]} unicast frames not for it '
                   f'({summary["rx_victim"]} for the victim)')
    expect(not bad, 'the forged table or header was believed:\n  ' + '\n  '.join(bad))
    ok(f'{summary["rounds"]} forging rounds: no unicast reached the forger, traffic and '
       'carriers as before, a late joiner took its own slot and MAC')
    for nd in nodes:
        nd.g.assert_no_oops()


def test_noadmin(ctx):
    """Without its admin device the driver waits, saying why; require_admin=0
    works without one."""
    broker = ctx.broker('noadmin')
    g = gl.Guest('noadmin', ctx.kernel, ctx.initrd,
                 gl.ivshmem_doorbell_args(broker.sock, 2, admin=False), mem=MEM,
                 workdir=ctx.work)
    ctx.guests.append(g)
    g.start()
    g.wait_ready(BOOT_TIMEOUT)
    nd = Node(g, broker.peer_of_pid(g._proc.pid))
    nd.run('insmod /ivnet.ko')
    rc, out = nd.rc('test -e /sys/class/net/ivnet0')
    expect(rc != 0, f'{nd.name}: ivnet0 without an admin device (the shared table believed)')
    dmesg = nd.run('dmesg')
    expect('waits for the admin device of IVPosition' in dmesg and 'require_admin=0' in dmesg,
           f'{nd.name}: no word on the missing admin device:\n' +
           '\n'.join(l for l in dmesg.splitlines() if 'ivnet' in l))
    ok(f'{nd.name}: no ivnet0 without the admin device; dmesg says what it waits for')
    nd.run('rmmod ivnet')
    load(nd, 'require_admin=0')
    expect('not vouched for' in nd.run('dmesg'),
           f'{nd.name}: require_admin=0 loaded without a warning')
    link_up(nd)
    ok(f'{nd.name}: require_admin=0: ivnet0 with the broker\'s MAC, and a warning')
    unload(nd)
    g.assert_no_oops()
SLOW_SECONDS = 6  # each iperf3 run of the slowpeer group
# A->B with the slow peer flooded, against A->B alone: without per-peer
# queues it falls to a few percent; TCG's noise stays well within this.
SLOW_RATIO = 0.5
SLOW_ADDR = f'{SUBNET}.250'  # an address behind the slow peer (a static ARP entry)
# Ping loops from A to SLOW_ADDR: a few fast ones fill A's ring to the slow
# peer, then one keeps it full (30 frames a second, more than the two slots
# it frees every 90 ms) at little cost to A's one vCPU.
SLOW_FILL = (3, 0.01)
SLOW_KEEP = (1, 0.03)


def iperf3_mbps(client, server, seconds, port=5201):
    """iperf3 client -> server; the Mbit/s the server received."""
    server.run(f'iperf3 -s -1 -D -p {port}')
    port_open(server, port)
    out = client.run(f'iperf3 -c {server.ip} -p {port} -t {seconds} -J',
                     timeout=seconds + CMD_TIMEOUT)
    try:
        j = json.loads(out[out.index('{'):out.rindex('}') + 1])
        return j['end']['sum_received']['bits_per_second'] / 1e6
    except (ValueError, KeyError) as e:
        raise Failure(f'iperf3 {client.name} -> {server.name}: no result ({e}):\n{out}')


def slow_peer(ctx, broker, a, mode):
    """Starts ivnet-hostile --slow-consumer[=mode] against A; returns its
    process and its broker entry once A's ivnet0 sees it."""
    opt = '--slow-consumer' + (f'={mode}' if mode else '')
    argv = [ctx.hostile, broker.sock, '--target', str(a.id), opt, '--seconds', '900']
    note('running ' + ' '.join(argv))
    h = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx.procs.append(h)
    c = broker.peer_of_pid(h.pid)
    a.run(f'arp -i ivnet0 -s {SLOW_ADDR} {c["mac"]}')
    return h, c


def slow_peer_end(h):
    """SIGTERM, then its summary; it must have freed slots of A's ring."""
    h.terminate()
    out, err = h.communicate(timeout=60)
    expect(h.returncode == 0 and 'Sanitizer' not in err,
           f'ivnet-hostile --slow-consumer exited {h.returncode}:\n{out}{err[-3000:]}')
    try:
        summary = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failure(f'ivnet-hostile printed no summary:\n{out}{err[-3000:]}')
    expect(summary['slow_freed'] > 0, f'the slow peer freed nothing: {summary}')
    return summary


def slow_flood(a, loops=None):
    """(n, interval): n loops of pings from A to SLOW_ADDR (behind the slow
    peer), one every interval seconds each, none answered; None stops them."""
    stop_background(a, 'slow', also='ping')
    if not loops:
        return
    n, interval = loops
    a.run(f'for i in $(seq {n}); do (while :; do ping -q -i {interval} -s 1000 -w 30 '
          f'{SLOW_ADDR}; done) > /dev/null 2>&1 & echo $!; done > /tmp/slow.pid')


def slow_fill(a, cid):
    """Fills A's ring to the slow peer, then keeps it full. Full is where A
    stops that peer's queue (tx_queue_stops) or, without a queue per peer,
    where a frame finds no room (tx_ring_full)."""
    def full():
        st = ethtool(a)
        return st.get(f'peer{cid}_tx_queue_stops', 0) + st.get(f'peer{cid}_tx_ring_full', 0)

    slow_flood(a, SLOW_FILL)
    wait_for(f'{a.name} to fill its ring to the slow peer', full, timeout=120, interval=1)
    slow_flood(a, SLOW_KEEP)
    time.sleep(1)


def slowpeer_measure(ctx, a, b, c):
    """A->B alone, with A flooding the slow peer C, alone again. Returns
    (alone, with) in Mbit/s."""
    alone1 = iperf3_mbps(a, b, SLOW_SECONDS, 5210)
    slow_fill(a, c['id'])
    s0 = ethtool(a)
    with_ = iperf3_mbps(a, b, SLOW_SECONDS, 5211)
    s1 = ethtool(a)
    slow_flood(a)
    alone2 = iperf3_mbps(a, b, SLOW_SECONDS, 5212)
    alone = (alone1 + alone2) / 2
    keys = [k for k in s1 if k.startswith(f'peer{c["id"]}_tx') or k == 'interrupts']
    note(f'A->B: {alone1:.0f} and {alone2:.0f} Mbit/s alone, {with_:.0f} Mbit/s while A '
         f'floods the slow peer: ratio {with_ / alone:.2f}; meanwhile '
         + ', '.join(f'{k} +{s1[k] - s0.get(k, 0)}' for k in keys))
    return alone, with_


def test_slowpeer(ctx):
    """A slow consumer stalls only its own traffic from A, not A->B."""
    broker = ctx.broker('slowpeer')
    a, b = boot(broker, ctx.kernel, ctx.initrd, ctx.work, ('slow-a', 'slow-b'), ctx.guests)
    parallel(lambda: load(a), lambda: load(b))
    link_up(a)
    link_up(b)
    wait_carrier(a, 1)
    wait_carrier(b, 1)
    ping_both(a, b, 56)
    h, c = slow_peer(ctx, broker, a, None)
    cid = c['id']
    alone, with_ = slowpeer_measure(ctx, a, b, c)
    expect(with_ >= SLOW_RATIO * alone,
           f'A->B fell to {with_:.0f} Mbit/s while A flooded the slow peer, from {alone:.0f} '
           f'alone (ratio {with_ / alone:.2f}, at least {SLOW_RATIO} expected): one slow '
           'peer stalls the sender\'s traffic to the others')
    ok(f'A->B {with_:.0f} Mbit/s while A floods a slow peer, {alone:.0f} alone '
       f'(ratio {with_ / alone:.2f} >= {SLOW_RATIO})')

    st = ethtool(a)
    keys = [f'peer{cid}_tx_stalls', f'peer{cid}_tx_stall_drops', f'peer{b.id}_tx_ring_full',
            f'peer{b.id}_tx_stalls', f'peer{cid}_tx_queue_stops']
    expect(all(k in st for k in keys), f'{a.name}: ethtool -S lacks some of {keys}')
    got = {k: st[k] for k in keys}
    expect(st[f'peer{cid}_tx_stalls'] > 0 and st[f'peer{cid}_tx_stall_drops'] > 0,
           f'{a.name} did not give up on the slow peer {cid}: {got}')
    expect(st[f'peer{b.id}_tx_ring_full'] == 0 and st[f'peer{b.id}_tx_stalls'] == 0,
           f'{a.name} found its ring to {b.name} full: {got}')
    expect(not totals_mismatch(st), f'{a.name}: totals disagree: {totals_mismatch(st)}')
    ok(f'{a.name} counted the slow peer: ' + ', '.join(f'{k} {v}' for k, v in got.items()))
    qdisc = a.run('tc qdisc show dev ivnet0')
    queues = a.run('ls /sys/class/net/ivnet0/queues').split()
    ntx = len([q for q in queues if q.startswith('tx-')])
    expect('qdisc mq' in qdisc and ntx == MAX_PEERS + 1,
           f'{a.name}: {ntx} tx queues, qdisc {qdisc!r}: expected mq over {MAX_PEERS + 1}')
    ok(f'{a.name}: qdisc mq over {ntx} tx queues (one per peer slot and one shared)')

    slowpeer_churn(ctx, broker, a, b, h, c)


def slowpeer_churn(ctx, broker, a, b, h, c):
    """ifdown/ifup with the slow peer stalled; its rewinding variant; it
    leaving while its queue is stopped: A<->B pings pass throughout."""
    slow_fill(a, c['id'])
    a.run('ip link set ivnet0 down; ip link set ivnet0 up')
    wait_carrier(a, 1)
    ping_both(a, b, 1400)
    ok(f'{a.name}: ifdown/ifup while flooding the stalled peer; ping {a.name} <-> {b.name}')
    slow_peer_end(h)
    h, c = slow_peer(ctx, broker, a, 'rewind')
    slow_flood(a, SLOW_KEEP)
    time.sleep(3)
    ping_both(a, b, 8000)
    summary = slow_peer_end(h)
    broker.wait_gone(h.pid)
    ping_both(a, b, 56)
    slow_flood(a)
    for nd in (a, b):
        nd.g.assert_no_oops()
    ok(f'a slow peer whose tail goes back ({summary["slow_rewinds"]} times) and leaves: '
       f'ping {a.name} <-> {b.name} works; no oops, BUG or WARN in either guest')


TESTS = {
    'pair': test_pair,
    'three': test_three,
    'restart': test_restart,
    'hostile': test_hostile,
    'flood': test_flood,
    'mtu': test_mtu,
    'forge': test_forge,
    'noadmin': test_noadmin,
    'slowpeer': test_slowpeer,
}


class Context:
    def __init__(self, args, kernel, initrd, work):
        self.ivnetd = args.ivnetd
        self.ivnetctl = args.ivnetctl
        self.hostile = args.ivnet_hostile
        self.icmp_probe = args.icmp_probe
        self.kernel = kernel
        self.initrd = initrd
        self.work = work
        self.guests = []
        self.brokers = []
        self.procs = []  # test peers started with subprocess.Popen

    def broker(self, name):
        br = ivtest.Broker(self.ivnetd, self.ivnetctl, self.work, name, '-n', '2',
                           '--max-peers', str(MAX_PEERS), size=REGION,
                           log=os.path.join(self.work, f'{name}-ivnetd.log'))
        self.brokers.append(br)
        return br

    def cleanup(self):
        """Stops every test peer and guest, then every broker (whose exit
        is checked)."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.procs = []
        for g in self.guests:
            g.stop()
        self.guests = []
        errors = []
        for br in self.brokers:
            try:
                br.stop()
            except Failure as e:
                errors.append(str(e))
        self.brokers = []
        if errors:
            raise Failure('; '.join(errors))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument('--initrd', help='initramfs with /ivnet.ko, iperf3 and ethtool')
    src.add_argument('--ko', help='ivnet.ko: build an initramfs around it')
    ap.add_argument('--cache', help='directory for the extracted guest kernel')
    ap.add_argument('--only', help='comma-separated tests: ' + ','.join(TESTS))
    ap.add_argument('ivnetd')
    ap.add_argument('ivnetctl')
    ap.add_argument('ivnet_hostile')
    ap.add_argument('--icmp-probe', required=True, help='tests/peers/icmp_probe')
    args = ap.parse_args()
    names = args.only.split(',') if args.only else list(TESTS)
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        ap.error(f'unknown tests {unknown}; there are {list(TESTS)}')

    gl.skip_without_qemu()

    work = tempfile.mkdtemp(prefix='ivnet-e2e-net-', dir=os.environ.get('IVNET_E2E_TMPDIR'))
    failed = []
    t0 = time.monotonic()
    try:
        kernel = gl.prepare_kernel(gl.find_kernel(), args.cache or work)
        if args.initrd:
            initrd = os.path.abspath(args.initrd)
        else:
            ko = os.path.join(work, 'ivnet.ko')
            shutil.copyfile(args.ko, ko)
            initrd = gl.build_initramfs(os.path.join(work, 'initramfs.cpio.gz'),
                                        modules=[ko], programs=['iperf3', 'ethtool'])
        print(f'kernel {kernel}\ninitrd {initrd}\nwork {work}', flush=True)
        for name in names:
            ctx = Context(args, kernel, initrd, work)
            t = time.monotonic()
            print(f'--- {name}: {TESTS[name].__doc__}', flush=True)
            try:
                try:
                    TESTS[name](ctx)
                finally:
                    ctx.cleanup()
                print(f'PASS {name} ({time.monotonic() - t:.1f} s)', flush=True)
            except Failure as e:
                failed.append(name)
                print(f'FAIL {name} ({time.monotonic() - t:.1f} s): {e}', flush=True)
            except Exception:  # a bug here, or an answer we did not foresee
                traceback.print_exc()
                failed.append(name)
                print(f'FAIL {name} ({time.monotonic() - t:.1f} s): exception', flush=True)
    except Exception:  # set-up failed, or a bug here: report, do not skip
        traceback.print_exc()
        failed.append('setup')
    keep = failed or os.environ.get('IVNET_E2E_KEEP')
    print(f'{"FAILED " + " ".join(failed) if failed else "ok"} in '
          f'{time.monotonic() - t0:.1f} s; logs '
          + (f'kept in {work}' if keep else 'removed'), flush=True)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    ivtest.run(main)

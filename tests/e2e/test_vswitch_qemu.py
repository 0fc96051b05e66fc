#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""e2e: a QEMU guest's traffic to the outside through ivnet-vswitch.

One TCG guest with two interfaces, both ending on the switch:
  - eth0, a virtio-net on -netdev vhost-user (memory backend share=on),
    on a vhost-user port of the switch;
  - ivnet0, the ivnet driver on an ivnetd segment that the switch has
    joined as its uplink.
The switch runs in a network namespace of ours, where its net_tap uplink
is; the namespace holds 169.254.60.1 and 169.254.61.1 on the TAP. The guest
pings 169.254.60.1 through eth0 (virtio-net -> vhost-user -> switch -> TAP)
and 169.254.61.1 through ivnet0 (a unicast frame for a MAC outside the
segment goes to the uplink peer, the switch, which forwards it to the TAP;
the replies come back the same ways).

usage: test_vswitch_qemu.py --initrd FILE --cache DIR IVNET_VSWITCH IVNETCTL IVNETD
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import guest  # noqa: E402
import ivtest  # noqa: E402
from ivtest import fail, ok, wait_for  # noqa: E402
from vswlib import Netns, Switch  # noqa: E402

MEM = '256M'
GUEST_MAC = '52:54:00:12:34:56'


def qemu_args(vhost_sock, ivnet_sock):
    return ['-object', f'memory-backend-memfd,id=mem,size={MEM},share=on',
            '-numa', 'node,memdev=mem',
            '-chardev', f'socket,id=vu,path={vhost_sock}',
            '-netdev', 'vhost-user,id=n0,chardev=vu',
            # vectors=0: legacy interrupts. QEMU 7.2 under TCG crashes in
            # msix_set_vector_notifiers() when vhost starts on an MSI-X
            # virtio device (there is no irqfd to hand vectors to).
            '-device', f'virtio-net-pci,netdev=n0,mac={GUEST_MAC},vectors=0,romfile=',
            *guest.ivshmem_doorbell_args(ivnet_sock, 2)]


def ping(g, addr):
    rc, out = g.run(f'ping -c 3 -W 10 {addr}', timeout=120)
    if rc != 0:
        fail(f'guest: ping {addr} failed:\n{out}')
    return out.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--initrd', required=True)
    ap.add_argument('--cache', required=True)
    ap.add_argument('vswitch')
    ap.add_argument('ivnetctl')
    ap.add_argument('ivnetd')
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix='ivnet-e2e-vsw-')
    tag = f'vswe{os.getpid() % 100000}'
    tap = f'{tag}t'
    vhost_sock = os.path.join(tmp, 'vm.sock')
    kernel = guest.prepare_kernel(guest.find_kernel(), a.cache)
    ns = Netns(tag)
    broker = sw = g = None
    passed = False
    try:
        broker = ivtest.Broker(a.ivnetd, a.ivnetctl, tmp, 'e2e', '-n', '2')
        ivnet_sock = broker.sock
        if broker.peers() != []:
            fail(f'peers on a new segment: {broker.peers()}')
        sw = Switch(a.vswitch, a.ivnetctl, tmp, netns=ns, ports=[
            f'vm vhost path={vhost_sock}', f'up dpdk dev=net_tap0,iface={tap}',
            f'seg ivnet socket={ivnet_sock}'])
        ns.run('ip', 'link', 'set', tap, 'up')
        ns.run('ip', 'addr', 'add', '169.254.60.1/24', 'dev', tap)
        ns.run('ip', 'addr', 'add', '169.254.61.1/24', 'dev', tap)
        g = guest.Guest('vsw', kernel, a.initrd, qemu_args(vhost_sock, ivnet_sock),
                        mem=MEM, workdir=tmp)
        g.start()
        g.wait_ready(timeout=180)
        wait_for('the guest on vhost-user', lambda: sw.ports()['vm']['link'] == 'up')
        g.run_ok('ip link set eth0 up && ip addr add 169.254.60.2/24 dev eth0')
        ok(f'eth0 (virtio-net on vhost-user): {ping(g, "169.254.60.1")}')
        fdb = sw.fdb()
        if fdb.get(GUEST_MAC) != 'vm':
            fail(f'the guest MAC was not learned on its port: {fdb}')

        g.run_ok('insmod /ivnet.ko && ip link set ivnet0 up && '
                 'ip addr add 169.254.61.2/24 dev ivnet0')
        peers = wait_for('guest and switch on the segment',
                         lambda: (lambda p: p if p and len(p) == 2 else None)(
                             broker.peers()))
        if sorted(p['role'] for p in peers) != ['peer', 'uplink']:
            fail(f'segment peers: {peers}')
        ok(f'ivnet0 (the segment, the switch its uplink): {ping(g, "169.254.61.1")}')
        n = sw.counters()
        if n['seg']['rx_packets'] < 3 or n['seg']['tx_packets'] < 3 or \
                n['vm']['rx_packets'] < 3 or n['up']['tx_packets'] < 6:
            fail(f'switch counters: {n}')
        g.assert_no_oops()
        g.stop()
        g = None
        sw.stop()
        sw = None
        ok('the switch stops cleanly after the guest')
        broker.stop()
        passed = True
    finally:
        if g:
            g.stop()
        if sw:
            sw.kill()
            print(sw.log_text()[-4000:])
        if broker:
            broker.kill()
        ns.delete()
        if passed:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f'logs kept in {tmp}')
    return 0


if __name__ == '__main__':
    ivtest.run(main)

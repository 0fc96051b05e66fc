#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/demo's main act: ivnetd and two QEMU guests on one segment, with
traffic between them through ivnet0 (QEMU TCG here; KVM where it works).

usage: demo_guests.py BUILD_DIR
"""
import os
import sys
import tempfile
import time

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'lib'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import guest  # noqa: E402
import ivtest  # noqa: E402


def step(msg):
    print(f'\n== {msg}', flush=True)


def main():
    build = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix='ivnet-demo-')
    ivnetctl = os.path.join(build, 'tools', 'ivnetctl')
    kernel = guest.prepare_kernel(guest.find_kernel(), os.path.join(build, 'tests', 'e2e'))
    initrd = guest.build_initramfs(os.path.join(tmp, 'initramfs.cpio.gz'),
                                   [os.path.join(build, 'guest', 'ivnet.ko')],
                                   ['iperf3', 'ethtool'])
    step(f'ivnetd -F -S {tmp}/demo.sock -l 64M')
    broker = ivtest.Broker(os.path.join(build, 'host', 'ivnetd', 'ivnetd'), ivnetctl, tmp, 'demo',
                           size='64M')
    sock = broker.sock
    guests = []
    try:
        step('two QEMU guests with -device ivshmem-doorbell,vectors=2 on that socket, and one '
             "with vectors=1 on its .admin socket (the broker's admin region)")
        guests = [guest.Guest(n, kernel, initrd, guest.ivshmem_doorbell_args(sock, 2),
                              mem='512M', workdir=tmp) for n in ('a', 'b')]
        for g in guests:
            g.start()
        for i, g in enumerate(guests):
            g.wait_ready()
            g.run_ok(f'insmod /ivnet.ko && ip link set ivnet0 up && ip link set ivnet0 mtu 65535 '
                     f'&& ip addr add 169.254.99.{i + 1}/24 dev ivnet0')
            print(f'guest {g.name}: ' + ' '.join(g.run_ok('ip -o addr show dev ivnet0').split()[1:4]))
        time.sleep(1.5)
        step('ivnetctl peer list')
        print(broker.ctl('peer', 'list').stdout, end='')
        step('a -> b: ping -c 3 -s 1400, then -s 60000')
        for size in (1400, 60000):
            out = guests[0].run_ok(f'ping -c 3 -s {size} 169.254.99.2', timeout=60)
            print(out.strip().splitlines()[-1])
        step('iperf3 -c b -t 5 (TCP through shared memory, no TAP, no bridge)')
        guests[1].run_ok('iperf3 -s -D')
        time.sleep(0.5)
        out = guests[0].run_ok('iperf3 -c 169.254.99.2 -t 5', timeout=60)
        print('\n'.join(l for l in out.splitlines() if 'sender' in l or 'receiver' in l))
        step('ethtool -S ivnet0 on a (doorbells are VM exits; suppression keeps them rare)')
        out = guests[0].run_ok('ethtool -S ivnet0')
        keep = ('tx_packets', 'tx_bytes', 'rx_packets', 'doorbells', 'interrupts', 'napi_polls',
                'tx_ring_full', 'rx_errors')
        print('\n'.join(l for l in out.splitlines() if l.split(':')[0].strip() in keep))
        stats = broker.ctl_json('stats')
        print(f"broker: {stats['stats'][0]['joins']} joins, "
              f"{stats['stats'][0]['control_signals']} control signals")
        for g in guests:
            g.assert_no_oops()
    finally:
        for g in guests:
            g.stop()
        broker.stop()
    return 0


if __name__ == '__main__':
    ivtest.run(main)

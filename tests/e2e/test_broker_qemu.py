#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""e2e: stock QEMU ivshmem-doorbell devices attach to ivnetd unchanged.

Two TCG guests boot with `-device ivshmem-doorbell` pointed at ivnetd. From
the broker: both are peers, listed with their QEMU's pid. From each guest:
the device is 1af4:1110 rev 1, BAR2 is the region's size, and IVPosition
(BAR0 + 8) is the id the broker gave it. When a QEMU exits, the broker sees
it leave and the other stays.

usage: test_broker_qemu.py --initrd FILE --cache DIR IVNETD IVNETCTL
"""
import argparse
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
import guest  # noqa: E402
import ivtest  # noqa: E402
from ivtest import fail, ok, wait_for  # noqa: E402

REGION = 16 << 20
ADMIN_BAR2 = 16 << 10  # IVNET_ADMIN_SIZE


# In the guest: find the ivshmem device, enable it, print what we check.
PROBE = r'''
for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor)" = 0x1af4 ] && [ "$(cat $d/device)" = 0x1110 ] || continue
  echo 1 > $d/enable
  set -- $(sed -n 1p $d/resource); bar0=$1
  set -- $(sed -n 3p $d/resource); echo "bar2 $(( $2 - $1 + 1 ))"
  echo "revision $(cat $d/revision)"
  echo "ivposition $(( $(devmem $(( bar0 + 8 )) 32) ))"
done
'''


def probe(g):
    """The segment's device; the admin device beside it (a 16 KiB BAR2, see
    guest.ivshmem_doorbell_args) must be there too."""
    out = g.run_ok(PROBE)
    devs, cur = [], {}
    for line in out.splitlines():
        if line.count(' ') != 1:
            continue
        k, v = line.split()
        if k == 'bar2':
            cur = {}
            devs.append(cur)
        cur[k] = int(v, 0)
    seg = [d for d in devs if d.get('bar2') != ADMIN_BAR2]
    if len(seg) != 1 or set(seg[0]) != {'bar2', 'revision', 'ivposition'}:
        fail(f'guest {g.name}: not one segment ivshmem device:\n{out}')
    if len(devs) != 2:
        fail(f'guest {g.name}: no admin device beside the segment\'s:\n{out}')
    return seg[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--initrd', required=True)
    ap.add_argument('--cache', required=True)
    ap.add_argument('ivnetd')
    ap.add_argument('ivnetctl')
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix='ivnet-e2e-broker-')
    kernel = guest.prepare_kernel(guest.find_kernel(), a.cache)
    broker = ivtest.Broker(a.ivnetd, a.ivnetctl, tmp, 'e2e', '-n', '2', size=REGION)
    try:
        guests = [guest.Guest(n, kernel, a.initrd, guest.ivshmem_doorbell_args(broker.sock, 2),
                              workdir=tmp) for n in ('a', 'b')]
        try:
            for g in guests:
                g.start()
            for g in guests:
                g.wait_ready()
            peers = wait_for('two peers', lambda: len(broker.peers()) == 2 and broker.peers(),
                             timeout=30)
            by_pid = {p['pid']: p for p in peers}
            for g in guests:
                p = by_pid.get(g._proc.pid)
                if not p:
                    fail(f'QEMU pid {g._proc.pid} not in the peer list {peers}')
                v = probe(g)
                if v['bar2'] != REGION:
                    fail(f'guest {g.name}: BAR2 is {v["bar2"]} bytes, region {REGION}')
                if v['revision'] != 1:
                    fail(f'guest {g.name}: revision {v["revision"]}')
                if v['ivposition'] != p['ivpos']:
                    fail(f'guest {g.name}: IVPosition {v["ivposition"]}, broker ivpos '
                         f'{p["ivpos"]}')
                ok(f'guest {g.name}: QEMU pid {g._proc.pid} is peer {p["id"]} '
                   f'(ivpos {p["ivpos"]}, {p["mac"]}), BAR2 {v["bar2"]}, '
                   f'IVPosition {v["ivposition"]}')
            gone = guests[0]
            pid = gone._proc.pid
            gone.stop()
            left = wait_for('the broker to see QEMU leave',
                            lambda: (lambda p: p if len(p) == 1 else None)(broker.peers()),
                            timeout=30)
            if left[0]['pid'] != guests[1]._proc.pid:
                fail(f'wrong peer left: {left}')
            if f'pid={pid} uid=' not in broker.log_text().split('leave ', 1)[-1]:
                fail('no leave line for the exited QEMU in the log')
            probe(guests[1])  # the other guest's device still answers
            for g in guests[1:]:
                g.assert_no_oops()
            ok('QEMU exit seen as a leave; the other guest is unaffected')
        finally:
            for g in guests:
                g.stop()
    finally:
        broker.stop()
    return 0


if __name__ == '__main__':
    ivtest.run(main)

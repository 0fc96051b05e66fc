#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""e2e: ivnetd places a QEMU TCG guest's vCPU threads.

One two-vCPU guest (-name ...,debug-threads=on, as libvirt starts QEMU, and a
QMP socket) joins a segment with placement spread over two CPUs: each vCPU
thread ("CPU n/TCG") gets a CPU of its own, the other QEMU threads the
domain, as the kernel reports (/proc/PID/task/TID/status); QMP's
query-cpus-fast and the thread names agree; the guest keeps running. When
QEMU exits, its peer, and with the cpuset mechanism its cgroup, are gone.

usage: test_placement_qemu.py --mechanism affinity|cpuset --initrd FILE --cache DIR
                              IVNETD IVNETCTL
With cpuset, the host needs cgroup v2 with the cpuset controller; without,
the test says why and exits 77 (test_placement_cgroup.py covers the
mechanism inside a guest).
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
import guest  # noqa: E402
import ivtest  # noqa: E402
from ivtest import CG_ROOT, allowed, cpulist, cpuset_reason, fail, llc_of, ok  # noqa: E402


def wait_for(what, pred, timeout=60.0):
    """ivtest.wait_for, a thread that is not there (yet) or a half-written
    answer counting as not yet."""
    return ivtest.wait_for(what, pred, timeout, ignore=(OSError, ValueError, KeyError))


def threads(pid):
    out = {}
    for t in os.listdir(f'/proc/{pid}/task'):
        with open(f'/proc/{pid}/task/{t}/comm') as f:
            out[int(t)] = f.read().strip()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mechanism', choices=('affinity', 'cpuset'), required=True)
    ap.add_argument('--initrd', required=True)
    ap.add_argument('--cache', required=True)
    ap.add_argument('ivnetd')
    ap.add_argument('ivnetctl')
    a = ap.parse_args()
    mech = a.mechanism
    if mech == 'cpuset' and cpuset_reason():
        ivtest.skip(f'the cpuset mechanism needs cgroup v2 with cpuset: {cpuset_reason()}')
    # two CPUs we may use that share a last-level cache: one domain
    mine = os.sched_getaffinity(0)
    pair = next((sorted(llc_of(c) & mine)[:2] for c in sorted(mine)
                 if len(llc_of(c) & mine) >= 2), None)
    if not pair:
        ivtest.skip(f'needs two CPUs in one LLC domain, may use {sorted(mine)}')
    lo, hi = pair

    tmp = tempfile.mkdtemp(prefix='ivnet-e2e-place-')
    qmp = os.path.join(tmp, 'qmp-0.sock')  # peer 0: the pattern's %i
    parent = f'{CG_ROOT}/ivnet-e2e-{os.getpid()}'
    extra = ['--pin', mech] + (['--cgroup', parent] if mech == 'cpuset' else [])
    kernel = guest.prepare_kernel(guest.find_kernel(), a.cache)
    broker = ivtest.Broker(a.ivnetd, a.ivnetctl, tmp, 'pl', '--placement', 'spread',
                           '--placement-cpus', f'{lo},{hi}', '--qmp',
                           os.path.join(tmp, 'qmp-%i.sock'), *extra)

    def placement():
        return broker.ctl_json('placement')['segments'][0]

    try:
        qemu_args = [*guest.ivshmem_doorbell_args(broker.sock, 2),
                     '-name', 'guest,debug-threads=on',
                     '-qmp', f'unix:{qmp},server=on,wait=off']
        g = guest.Guest('pl', kernel, a.initrd, qemu_args, workdir=tmp, smp=2)
        with g:
            g.wait_ready()
            qpid = g._proc.pid

            def peer():
                return next((p for p in placement()['peers'] if p['pid'] == qpid), None)

            wait_for('QMP to name both vCPUs', lambda: peer() and peer()['vcpus'] == 2 and
                     peer()['qmp'] == qmp and peer()['found_by'] == 'qmp')
            names = threads(qpid)
            vcpus = {t: n for t, n in names.items() if n.startswith('CPU ')}
            if sorted(vcpus.values()) != ['CPU 0/TCG', 'CPU 1/TCG']:
                fail(f'QEMU vCPU threads: {names}')
            want = {t: ({lo} if n == 'CPU 0/TCG' else {hi}) if t in vcpus else {lo, hi}
                    for t, n in names.items()}
            wait_for('vCPU threads on their CPUs, the rest on the domain',
                     lambda: {t: allowed(qpid, t) for t in want} == want)
            listed = {t['tid']: t for t in peer()['threads']}
            for t, n in vcpus.items():
                e = listed.get(t)
                if not e or e['name'] != n or e['vcpu'] != int(n.split()[1].split('/')[0]) or \
                        cpulist(e['cpus']) != want[t] or e['mechanism'] != mech:
                    fail(f'placement lists {e} for {n} ({t}); QMP and names must agree')
            if peer()['error']:
                fail(f'placement error: {peer()["error"]}')
            ok(f'QEMU {qpid}: CPU 0/TCG on {lo}, CPU 1/TCG on {hi}, {len(names) - 2} '
               f'other threads on {lo},{hi} ({mech}); QMP agrees with the names')
            cg = peer()['cgroup']
            if mech == 'cpuset':
                with open(f'/proc/{qpid}/cgroup') as f:
                    if f'{CG_ROOT}{f.read().split("::", 1)[1].strip()}' != cg:
                        fail(f'QEMU not in its cgroup {cg}')
            out = g.run_ok('cat /sys/devices/system/cpu/online; echo alive')
            if 'alive' not in out:
                fail(f'guest unresponsive after placement: {out}')
            g.assert_no_oops()
        wait_for('QEMU peer gone', lambda: not placement()['peers'])
        if mech == 'cpuset':
            wait_for('QEMU cgroup removed', lambda: not os.path.exists(cg))
        ok('QEMU exit: peer unplaced' + (', cgroup removed' if mech == 'cpuset' else ''))
    finally:
        broker.stop()
    if mech == 'cpuset' and os.path.exists(parent):
        fail(f'{parent} left behind')
    if not os.environ.get('IVNET_E2E_KEEP'):
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    ivtest.run(main)

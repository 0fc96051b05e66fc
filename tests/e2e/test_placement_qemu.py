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
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest  # noqa: E402

CG_ROOT = '/sys/fs/cgroup'


def fail(msg):
    print(f'FAIL: {msg}', flush=True)
    sys.exit(1)


def wait_for(what, pred, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = pred()
        except (OSError, ValueError, KeyError):
            v = None
        if v:
            return v
        time.sleep(0.1)
    fail(f'timed out waiting for {what}')


def cpulist(text):
    out = set()
    for part in filter(None, text.strip().split(',')):
        lo, _, hi = part.partition('-')
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def allowed(pid, tid):
    with open(f'/proc/{pid}/task/{tid}/status') as f:
        for line in f:
            if line.startswith('Cpus_allowed_list:'):
                return cpulist(line.split(':', 1)[1])
    raise ValueError('no Cpus_allowed_list')


def threads(pid):
    out = {}
    for t in os.listdir(f'/proc/{pid}/task'):
        with open(f'/proc/{pid}/task/{t}/comm') as f:
            out[int(t)] = f.read().strip()
    return out


def llc_of(cpu):
    """The CPUs sharing cpu's last-level cache, as sysfs says."""
    best, shared = 0, {cpu}
    base = f'/sys/devices/system/cpu/cpu{cpu}/cache'
    for idx in os.listdir(base) if os.path.isdir(base) else []:
        try:
            level = int(open(f'{base}/{idx}/level').read())
            kind = open(f'{base}/{idx}/type').read().strip()
            if kind != 'Instruction' and level > best:
                best, shared = level, cpulist(open(f'{base}/{idx}/shared_cpu_list').read())
        except (OSError, ValueError):
            pass
    return shared


def cpuset_reason():
    try:
        with open(f'{CG_ROOT}/cgroup.controllers') as f:
            ctrl = f.read().split()
    except OSError:
        return f'no cgroup v2 at {CG_ROOT} (cgroup v1 or a hybrid setup)'
    if 'cpuset' not in ctrl:
        return f'cgroup v2 at {CG_ROOT} offers no cpuset controller'
    return None


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
        print(f'SKIP: the cpuset mechanism needs cgroup v2 with cpuset: {cpuset_reason()}',
              flush=True)
        return 77
    # two CPUs we may use that share a last-level cache: one domain
    mine = os.sched_getaffinity(0)
    pair = next((sorted(llc_of(c) & mine)[:2] for c in sorted(mine)
                 if len(llc_of(c) & mine) >= 2), None)
    if not pair:
        print(f'SKIP: needs two CPUs in one LLC domain, may use {sorted(mine)}', flush=True)
        return 77
    lo, hi = pair

    tmp = tempfile.mkdtemp(prefix='ivnet-e2e-place-')
    sock = os.path.join(tmp, 'ivnet.sock')
    ctlp = sock + '.ctl'
    qmp = os.path.join(tmp, 'qmp-0.sock')  # peer 0: the pattern's %i
    parent = f'{CG_ROOT}/ivnet-e2e-{os.getpid()}'
    extra = ['--pin', mech] + (['--cgroup', parent] if mech == 'cpuset' else [])
    kernel = guest.prepare_kernel(guest.find_kernel(), a.cache)
    broker = subprocess.Popen([a.ivnetd, '-F', '-S', sock, '-l', '16M', '--name', 'pl',
                               '--log', os.path.join(tmp, 'ivnetd.log'), '--placement',
                               'spread', '--placement-cpus', f'{lo},{hi}', '--qmp',
                               os.path.join(tmp, 'qmp-%i.sock'), *extra],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def placement():
        out = subprocess.run([a.ivnetctl, '-s', ctlp, '-j', 'placement'],
                             capture_output=True, text=True, timeout=10)
        if out.returncode:
            fail(f'ivnetctl placement: {out.stdout}{out.stderr}')
        return json.loads(out.stdout)['segments'][0]

    try:
        wait_for('ivnetd', lambda: os.path.exists(ctlp) or broker.poll() is not None)
        if broker.poll() is not None:
            fail(f'ivnetd exited: {broker.stderr.read()}')
        qemu_args = [*guest.ivshmem_doorbell_args(sock, 2),
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
            print(f'ok: QEMU {qpid}: CPU 0/TCG on {lo}, CPU 1/TCG on {hi}, {len(names) - 2} '
                  f'other threads on {lo},{hi} ({mech}); QMP agrees with the names',
                  flush=True)
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
        print('ok: QEMU exit: peer unplaced' + (', cgroup removed' if mech == 'cpuset' else ''),
              flush=True)
    finally:
        broker.terminate()
        _, err = broker.communicate(timeout=30)
        if broker.returncode != 0 or 'Sanitizer' in err:
            fail(f'ivnetd exit {broker.returncode}: {err[-2000:]}')
    if mech == 'cpuset' and os.path.exists(parent):
        fail(f'{parent} left behind')
    if not os.environ.get('IVNET_E2E_KEEP'):
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

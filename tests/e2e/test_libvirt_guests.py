#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""e2e: two libvirt domains put on an ivnet segment with ivnet-libvirt.

A private virtlogd and libvirtd (libvirtd.py: own mount namespace, so the
host's libvirt is untouched) run TCG domains (type='qemu') booting Debian's
kernel directly with the test initramfs, ACPI on (PCI hot-plug needs it),
their serial consoles on unix sockets. ivnet's qemu hook (the build's
tools/libvirt/qemu-hook.in) is installed in that libvirtd's hooks/qemu.d.

  1. ivnetd serves segment lve; domains A and B are defined, neither on it
  2. `ivnet-libvirt attach A --segment lve` (A is shut off: definition)
  3. A and B start; the hook labels A's peer (QEMU's pid file)
  4. `ivnet-libvirt attach B --segment lve --live --config --pin 0`: hot-
     plugged (the guest sees the device through ACPI), in B's definition,
     vCPU and emulator pinned live and in <cputune>; attach labels B's peer
  5. ivnet0 in both guests: ping A->B and B->A
  6. `ivnetctl peer list` names both domains, with their UUIDs and pids;
     `ivnet-libvirt list -j` agrees with libvirt
  7. `ivnet-libvirt detach B --segment lve --live --config`: the guest lets
     the device go (ivnet0 disappears), libvirt's live XML and definition
     lose it, the broker sees B leave; A is destroyed and detached too
  8. no oops in either guest

usage: test_libvirt_guests.py --initrd FILE IVNETD IVNETCTL IVNET_LIBVIRT HOOK_SCRIPT

Exits 77 (skip) if this machine cannot run a private libvirtd (not root,
libvirt not installed, no mount namespaces) or QEMU is missing, unless
IVNET_E2E_REQUIRED is set. Logs (consoles, libvirtd, QEMU, ivnetd) are kept
on failure, or with IVNET_E2E_KEEP=1, in the directory printed at the end.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from xml.sax.saxutils import quoteattr, escape

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
import guest as gl  # noqa: E402
import ivtest  # noqa: E402
from ivtest import Failure, expect, ok, parallel, wait_for  # noqa: E402
import libvirtd as lvd  # noqa: E402

SEGMENT = 'lve'
SUBNET = '169.254.77'  # IPv4 link-local, never another range
BOOT_TIMEOUT = 180  # two TCG guests on two host cores
IVSHMEM_ID = ('0x1af4', '0x1110')  # vendor, device of ivshmem


def domain_xml(name, kernel, initrd, console):
    return f'''<domain type='qemu'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(kernel)}</kernel>
    <initrd>{escape(initrd)}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 IVNET_GUEST={escape(name)}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='maximum' check='none'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='unix'>
      <source mode='bind' path={quoteattr(console)}/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
'''


class Env:
    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.sock = os.path.join(tmp, f'{SEGMENT}.sock')
        self.ctl = self.sock + '.ctl'
        self.ivnetd = None
        self.lv = None

    def start_ivnetd(self):
        self.ivnetd = ivtest.Broker(self.args.ivnetd, self.args.ivnetctl, self.tmp, SEGMENT,
                                    preexec_fn=gl._die_with_parent)

    def peers(self):
        return self.ivnetd.peers()

    def ivlv(self, *args):
        out = subprocess.run([self.args.ivnet_libvirt, '-c', self.lv.uri, '--control',
                              self.ctl, *args], capture_output=True, text=True, timeout=120)
        print(f'$ ivnet-libvirt {" ".join(args)}\n{out.stdout}{out.stderr}', end='',
              flush=True)
        expect(out.returncode == 0 and 'Sanitizer' not in out.stderr,
               f'ivnet-libvirt {args} exited {out.returncode}: {out.stderr}')
        return out.stdout

    def xml(self, domain, inactive=False):
        return self.lv.virsh('dumpxml', *(['--inactive'] if inactive else []), domain).stdout

    def stop(self):
        if self.lv:
            self.lv.stop()
        if self.ivnetd:
            self.ivnetd.stop()


def shmem_devices(xml):
    return re.findall(r"<shmem name='([^']*)'>.*?</shmem>", xml, re.S)


def has_ivshmem(g):
    out = g.run('cat /sys/bus/pci/devices/*/vendor /sys/bus/pci/devices/*/device')[1]
    return IVSHMEM_ID[0] in out.split() and IVSHMEM_ID[1] in out.split()


def ivnet_up(g, addr):
    g.run_ok('insmod /ivnet.ko')
    g.run_ok(f'ip link set ivnet0 up && ip addr add {addr}/24 dev ivnet0')


def carrier(g):
    rc, out = g.run('cat /sys/class/net/ivnet0/carrier')
    return rc == 0 and out.strip() == '1'


def scenario(env, kernel, initrd):
    lv, tmp = env.lv, env.tmp
    names = {'a': 'ivnet-lv-a', 'b': 'ivnet-lv-b'}
    consoles = {k: os.path.join(tmp, f'{k}.console') for k in names}
    for k, name in names.items():
        path = os.path.join(tmp, f'{name}.xml')
        with open(path, 'w') as f:
            f.write(domain_xml(name, kernel, initrd, consoles[k]))
        lv.virsh('define', path)
    a, b = names['a'], names['b']
    uuid = {n: lv.virsh('domuuid', n).stdout.strip() for n in names.values()}

    out = env.ivlv('attach', a, '--segment', SEGMENT)
    expect(f'{a}: attached to segment {SEGMENT} (socket {env.sock}, 2 vectors; '
           f'admin {env.sock}.admin; config)' in out, f'attach A output: {out}')
    xml = env.xml(a, inactive=True)
    expect(shmem_devices(xml) == [SEGMENT, f'{SEGMENT}:admin'] and
           "<model type='ivshmem-doorbell'/>" in xml and
           f"<server path='{env.sock}'/>" in xml and
           f"<server path='{env.sock}.admin'/>" in xml and
           "<msi vectors='2' ioeventfd='on'/>" in xml, f'A definition:\n{xml}')
    expect(env.ivlv('attach', a, '--segment', SEGMENT) ==
           f'{a}: already attached to segment {SEGMENT} (config): left as it is\n',
           'attach A again')
    ok('attach to a shut-off domain writes the <shmem> device; again, it is left alone')

    ga, gb = parallel(lambda: lv.start_guest(a, consoles['a']),
                      lambda: lv.start_guest(b, consoles['b']))
    boot = parallel(lambda: ga.wait_ready(BOOT_TIMEOUT), lambda: gb.wait_ready(BOOT_TIMEOUT))
    ok(f'both domains booted ({boot[0]:.1f} s, {boot[1]:.1f} s)')
    pid = {n: lv.qemu_pid(n) for n in names.values()}
    expect(all(pid.values()), f'QEMU pids: {pid}')
    peers = env.peers()
    expect([(p['pid'], p['label'], p['uuid']) for p in peers] == [(pid[a], a, uuid[a])],
           f'after A started, the hook labelled its peer: {peers}')
    expect(has_ivshmem(ga) and not has_ivshmem(gb), 'A has the device, B not yet')
    ok('the hook labelled A\'s peer with its name and UUID')

    out = env.ivlv('attach', b, '--segment', SEGMENT, '--live', '--config', '--pin', '0')
    expect(f'{b}: attached to segment {SEGMENT} (socket {env.sock}, 2 vectors; '
           f'admin {env.sock}.admin; config, live)' in out and f'{b}: vCPUs pinned to 0 (pack), emulator to 0 (config, live)' in out,
           'attach B output')
    for inactive in (False, True):
        xml = env.xml(b, inactive)
        expect(shmem_devices(xml) == [SEGMENT, f'{SEGMENT}:admin'] and
               f"<server path='{env.sock}'/>" in xml and
               f"<server path='{env.sock}.admin'/>" in xml and
               "<vcpupin vcpu='0' cpuset='0'/>" in xml and "<emulatorpin cpuset='0'/>" in xml,
               f'B {"definition" if inactive else "live XML"}:\n{xml}')
    wait_for('B\'s guest to see the hot-plugged device', lambda: has_ivshmem(gb))
    affinity = lv.virsh('vcpupin', b, '--live').stdout
    expect(re.search(r'^\s*0\s+0\s*$', affinity, re.M), f'live vcpupin: {affinity}')
    ok('attach --live hot-plugs B (the guest sees it), --config keeps it, --pin pins it')

    parallel(lambda: ivnet_up(ga, f'{SUBNET}.1'), lambda: ivnet_up(gb, f'{SUBNET}.2'))
    wait_for('carrier in both guests', lambda: carrier(ga) and carrier(gb))
    ga.run_ok(f'ping -c 3 -W 5 {SUBNET}.2', timeout=60)
    gb.run_ok(f'ping -c 3 -W 5 {SUBNET}.1', timeout=60)
    ok('ivnet0 pings A->B and B->A')

    peers = sorted((p['label'], p['uuid'], p['pid']) for p in env.peers())
    expect(peers == sorted([(a, uuid[a], pid[a]), (b, uuid[b], pid[b])]),
           f'peer list names both domains: {peers}')
    text = subprocess.run([env.args.ivnetctl, '-s', env.ctl, 'peer', 'list'],
                          capture_output=True, text=True, timeout=30).stdout
    expect(f'name {a} uuid {uuid[a]}' in text and f'name {b} uuid {uuid[b]}' in text,
           f'ivnetctl peer list:\n{text}')
    rows = json.loads(env.ivlv('-j', 'list'))['attachments']
    expect([(r['domain'], r['segment'], r['socket'], r['config'], r['live'], r['state'])
            for r in rows] == [(a, SEGMENT, env.sock, True, True, 'running'),
                               (b, SEGMENT, env.sock, True, True, 'running')],
           f'ivnet-libvirt list: {rows}')
    ok('ivnetctl peer list shows both domain names and UUIDs; ivnet-libvirt list agrees')

    out = env.ivlv('detach', b, '--segment', SEGMENT, '--live', '--config')
    expect(f'{b}: detached from segment {SEGMENT} (config, live)' in out, 'detach B output')
    expect(shmem_devices(env.xml(b)) == [] and shmem_devices(env.xml(b, True)) == [],
           'B\'s device is gone from its live XML and its definition')
    wait_for('B to leave the segment', lambda: [p['pid'] for p in env.peers()] == [pid[a]])
    wait_for('ivnet0 to go from B\'s guest', lambda: gb.run('ip link show ivnet0')[0] != 0)
    wait_for('A to lose carrier', lambda: not carrier(ga))
    ok('detach --live --config: the guest let the device go, the XML has none, B left')

    ga.assert_no_oops()
    gb.assert_no_oops()
    ok('no oops in either guest')

    lv.virsh('destroy', a)
    out = env.ivlv('detach', a, '--segment', SEGMENT)
    expect(f'{a}: detached from segment {SEGMENT} (config)' in out, 'detach A output')
    expect(shmem_devices(env.xml(a, True)) == [], 'A\'s definition has no device')
    expect(json.loads(env.ivlv('-j', 'list')) == {'attachments': []}, 'list is empty')
    ok('detach of a shut-off domain: the definition has no device left')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--initrd', required=True)
    ap.add_argument('ivnetd')
    ap.add_argument('ivnetctl')
    ap.add_argument('ivnet_libvirt')
    ap.add_argument('hook')
    args = ap.parse_args()

    why = lvd.missing() or (None if shutil.which(gl.QEMU) else f'no {gl.QEMU}')
    if why:
        ivtest.skip(why, 'IVNET_E2E_REQUIRED')
    # The bzImage, not guest.py's faster PVH boot: a PVH-booted guest finds
    # no ACPI tables, and PCI hot-plug needs them.
    kernel = gl.find_kernel()
    base = os.environ.get('IVNET_E2E_TMPDIR') or None
    # short: the console and ivnetd sockets live here (sun_path is 108 bytes)
    tmp = tempfile.mkdtemp(prefix='ivnet-lve-', dir=base)
    env = Env(args, tmp)
    status = 1
    try:
        env.start_ivnetd()
        env.lv = lvd.Libvirtd(os.path.join(tmp, 'lv'), hooks={'ivnet': args.hook}).start()
        ok('private virtlogd and libvirtd are up, ivnet\'s hook installed')
        scenario(env, kernel, os.path.abspath(args.initrd))
        status = 0
    except Failure as e:
        print(f'FAIL: {e}', flush=True)
    except Exception:  # noqa: B902 - reported, then the logs are kept
        traceback.print_exc()
    finally:
        try:
            env.stop()
        except Failure as e:
            print(f'FAIL: {e}', flush=True)
            status = 1
    if status or os.environ.get('IVNET_E2E_KEEP') == '1':
        print(f'logs: {tmp} (libvirtd: lv/libvirtd.log, QEMU: lv/log/qemu/, consoles: '
              f'lv/*-console.log)', flush=True)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == '__main__':
    ivtest.run(main)

#!/usr/bin/env python3
"""e2e: ivnet.ko in a real guest kernel, and the ivshmem device in a guest.

    test_kmod_selftest.py --initrd FILE [--cache DIR]   (what meson runs)
    test_kmod_selftest.py --ko FILE [--cache DIR]       (builds the image)

Case kmod: boot a guest; `insmod /ivnet.ko` succeeds, runs the ring
self-test in kernel context ("ivnet: selftest: ok" in dmesg), lsmod lists
the module, rmmod removes it, and the kernel reports no oops/BUG/WARN.

Case ivshmem: boot a guest with an ivshmem-plain device backed by a 4 MiB
file; the guest sees PCI 1af4:1110 with a 4 MiB BAR2, reads what the host
wrote at the start of the file and writes a word the host then reads back.

Exits 0 on success, 1 on failure, 77 (skip) only if qemu-system-x86_64 is
missing and IVNET_E2E_REQUIRED is unset. Logs are kept on failure (or with
IVNET_E2E_KEEP=1) in the directory printed at the end.
"""

import argparse
import os
import random
import shutil
import struct
import sys
import tempfile
import time
import traceback

# The harness sits next to this file; importing it must not leave a
# __pycache__ in the source tree.
sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
import guest as gl  # noqa: E402
import ivtest  # noqa: E402
from ivtest import Failure, expect  # noqa: E402

BOOT_TIMEOUT = 120
CMD_TIMEOUT = 60
MEM_SIZE = 4 << 20
# ivshmem's PCI ids (Red Hat, Inc. / Inter-VM shared memory).
IVSHMEM_VENDOR, IVSHMEM_DEVICE = '0x1af4', '0x1110'


def lsmod_has(g, module):
    out = g.run_ok('lsmod')
    return any(line.split()[:1] == [module] for line in out.splitlines())


def case_kmod(kernel, initrd, work):
    with gl.Guest('kmod', kernel, initrd, workdir=work) as g:
        print(f'kmod: booted in {g.wait_ready(BOOT_TIMEOUT):.1f} s', flush=True)
        # The self-test runs inside insmod; under TCG it takes about a second.
        rc, out = g.run('insmod /ivnet.ko', timeout=CMD_TIMEOUT)
        expect(rc == 0, f'insmod /ivnet.ko exited {rc}:\n{out}')
        dmesg = g.run_ok('dmesg')
        expect('ivnet: selftest: ok' in dmesg,
               "dmesg has no 'ivnet: selftest: ok':\n"
               + '\n'.join(l for l in dmesg.splitlines() if 'ivnet' in l))
        expect(lsmod_has(g, 'ivnet'), 'lsmod does not list ivnet after insmod')
        rc, out = g.run('rmmod ivnet')
        expect(rc == 0, f'rmmod ivnet exited {rc}:\n{out}')
        expect(not lsmod_has(g, 'ivnet'), 'lsmod still lists ivnet after rmmod')
        g.assert_no_oops()


def case_ivshmem(kernel, initrd, work):
    mem = os.path.join(work, 'ivshmem.mem')
    # Fresh random words, so a stale file or a zeroed BAR cannot pass.
    host_words = [random.getrandbits(32) | 1 for _ in range(2)]
    guest_word = random.getrandbits(32) | 1
    with open(mem, 'wb') as f:
        f.write(struct.pack('<II', *host_words))
        f.truncate(MEM_SIZE)
    args = gl.ivshmem_plain_args(mem, size='4M')
    with gl.Guest('ivshmem', kernel, initrd, args, workdir=work) as g:
        print(f'ivshmem: booted in {g.wait_ready(BOOT_TIMEOUT):.1f} s', flush=True)
        out = g.run_ok('for d in /sys/bus/pci/devices/*; do '
                       'echo "$d $(cat $d/vendor) $(cat $d/device)"; done')
        devs = [l.split()[0] for l in out.splitlines()
                if l.split()[1:] == [IVSHMEM_VENDOR, IVSHMEM_DEVICE]]
        expect(len(devs) == 1, f'expected one PCI {IVSHMEM_VENDOR}:'
               f'{IVSHMEM_DEVICE}, guest has:\n{out}')
        dev = devs[0]
        # sysfs "resource": one "start end flags" line per BAR; BAR2 is
        # the shared memory.
        bar2 = g.run_ok(f'sed -n 3p {dev}/resource').split()
        start, end = int(bar2[0], 16), int(bar2[1], 16)
        expect(end - start + 1 == MEM_SIZE,
               f'BAR2 is {end - start + 1:#x} bytes, expected {MEM_SIZE:#x}')
        # No driver claims the BAR yet, so /dev/mem may reach it
        # (STRICT_DEVMEM only guards claimed regions).
        got = [int(g.run_ok(f'devmem {start + 4 * i:#x} 32'), 16) for i in range(2)]
        expect(got == host_words, f'guest read {[hex(w) for w in got]} from '
               f'BAR2, host wrote {[hex(w) for w in host_words]}')
        g.run_ok(f'devmem {start + 8:#x} 32 {guest_word:#x}')
        with open(mem, 'rb') as f:
            f.seek(8)
            seen, = struct.unpack('<I', f.read(4))
        expect(seen == guest_word, f'host read {seen:#x} from the file, guest '
               f'wrote {guest_word:#x}')
        g.assert_no_oops()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument('--initrd', help='initramfs holding /ivnet.ko')
    src.add_argument('--ko', help='ivnet.ko: build an initramfs around it')
    ap.add_argument('--cache', help='directory for the extracted guest kernel')
    args = ap.parse_args()

    gl.skip_without_qemu()

    work = tempfile.mkdtemp(prefix='ivnet-e2e-kmod-',
                            dir=os.environ.get('IVNET_E2E_TMPDIR'))
    failed = []
    t0 = time.monotonic()
    try:
        kernel = gl.prepare_kernel(gl.find_kernel(), args.cache or work)
        if args.initrd:
            initrd = os.path.abspath(args.initrd)
        else:
            # The image stores a module under its file name; the cases load
            # /ivnet.ko whatever file they were given.
            ko = os.path.join(work, 'ivnet.ko')
            shutil.copyfile(args.ko, ko)
            initrd = gl.build_initramfs(os.path.join(work, 'initramfs.cpio.gz'),
                                        modules=[ko])
        print(f'kernel {kernel}\ninitrd {initrd}', flush=True)
        for name, case in (('kmod', case_kmod), ('ivshmem', case_ivshmem)):
            t = time.monotonic()
            try:
                case(kernel, initrd, work)
                print(f'PASS {name} ({time.monotonic() - t:.1f} s)', flush=True)
            except Failure as e:
                failed.append(name)
                print(f'FAIL {name}: {e}', flush=True)
    except Exception:  # set-up failed (kernel, image): report, do not skip
        traceback.print_exc()
        failed.append('setup')
    keep = failed or os.environ.get('IVNET_E2E_KEEP')
    print(f'{"FAILED " + " ".join(failed) if failed else "ok"} in '
          f'{time.monotonic() - t0:.1f} s; logs '
          + (f'kept in {work}' if keep else 'removed'))
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    ivtest.run(main)

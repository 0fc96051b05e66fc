#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""e2e: placement's cpuset mechanism on a pure cgroup v2 system, whatever the
host has. A two-vCPU TCG guest boots Debian's kernel with ivnetd, ivnetctl and
vcpu_tool in its image and runs placement_cgroup_guest.sh: peers' threads in
per-peer and per-vCPU cgroups on the planned CPUs, restored and removed when
they leave, are killed, or the daemon stops.

usage: test_placement_cgroup.py --initrd FILE --cache DIR
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
sys.path.insert(0, HERE)
import guest  # noqa: E402
import ivtest  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--initrd', required=True)
    ap.add_argument('--cache', required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='ivnet-e2e-cgroup-')
    kernel = guest.prepare_kernel(guest.find_kernel(), a.cache)
    # ASan's shadow wants room: 512 MiB
    with guest.Guest('cg', kernel, a.initrd, workdir=tmp, smp=2, mem='512M') as g:
        g.wait_ready()
        rc, out = g.run('sh /usr/local/bin/placement_cgroup_guest.sh', timeout=300)
        sys.stdout.write(out)
        ivtest.expect(rc == 0 and 'FAIL' not in out,
                      f'the guest script exited {rc}; logs in {tmp}')
        g.assert_no_oops()
    if not os.environ.get('IVNET_E2E_KEEP'):
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    ivtest.run(main)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A region no peer can shrink under the others (issue 14, finding 2).

Every peer is handed the region's fd, and a POSIX shm object or a file
cannot be sealed: a peer could ftruncate() it and every mapping of the lost
range faults (the broker's, the other QEMUs'). So:

1. ivnetd refuses -M and -m (and shm=/dir= segment keys) with one line
   naming why, unless --unsealed says every peer is trusted;
2. the default memfd is sealed: a raw client's ftruncate() fails with EPERM,
   and the next peer joins;
3. with -M --unsealed, a raw client truncates the region: the broker logs
   the tamper, restores the size, answers stats and peer list, and two
   fresh endpoints join and exchange verified frames;
4. the --hugepages memfd is sealed too, and -m on a hugetlbfs mount with
   --unsealed is restored like 3 (when hugepages can be reserved).

usage: test_seal.py IVNETD IVNETCTL EP_TOOL [PART...]
(parts: refusals memfd shm dir hugepages hugetlbfs; default all)
"""
import errno
import fcntl
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivtest  # noqa: E402
from ivtest import expect, fail, ok, wait_for  # noqa: E402

IVNETD, IVNETCTL, EP_TOOL = sys.argv[1:4]
PARTS = sys.argv[4:] or ["refusals", "memfd", "shm", "dir", "hugepages", "hugetlbfs"]
TMP = tempfile.mkdtemp(prefix="ivnet-seal-")
SHM = f"/ivnet-seal-{os.getpid()}"
F_GET_SEALS = getattr(fcntl, "F_GET_SEALS", 1034)
SEALS = 0x0001 | 0x0002 | 0x0004  # F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW


def Broker(name, *extra, **kw):
    return ivtest.Broker(IVNETD, IVNETCTL, TMP, name, *extra, **kw)




class RawClient:
    """A peer that speaks the protocol like QEMU and keeps the region fd:
    version, its id, then the fd (the message with id -1)."""

    def __init__(self, broker):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(broker.sock)
        self.fds = []
        for want in ("version", "id", "region"):
            v, fd = ivtest.ivshmem_msg(self.sock)
            if fd is not None:
                self.fds.append(fd)
            if want == "region":
                expect(v == -1 and fd is not None, f"third message: {v} {fd}")
                self.shm = fd

    def truncate(self, size):
        """ftruncate() the region fd: None, or the errno it failed with."""
        try:
            os.ftruncate(self.shm, size)
        except OSError as e:
            return e.errno
        return None

    def close(self):
        self.sock.close()
        for fd in self.fds:
            os.close(fd)
        self.fds = []


class Endpoint:
    """An ep_tool process: it streams verified frames to every peer up."""

    def __init__(self, broker):
        self.proc = ivtest.spawn([EP_TOOL, broker.sock, "--report-ms", "100"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.joined = self.wait("joined", lambda ev: True)

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                pass

    def wait(self, kind, pred, timeout=30):
        def one():
            try:
                ev = self.lines.get(timeout=0.2)
            except queue.Empty:
                expect(self.proc.poll() is None, f"ep_tool exited {self.proc.returncode}: "
                       f"{self.proc.stderr.read()}")
                return None
            expect(ev["event"] != "error", f"ep_tool error: {ev}")
            return ev if ev["event"] == kind and pred(ev) else None
        return wait_for(f"ep_tool '{kind}'", one, timeout, interval=0)

    def rx_from(self, other, frames=100):
        """Waits until frames verified frames from other arrived."""
        self.wait("report", lambda ev: ev["rx"].get(str(other.joined["id"]), 0) >= frames)

    def stop(self):
        ivtest.stop_proc(self.proc)
        expect(self.proc.returncode == 0, f"ep_tool exit {self.proc.returncode}")


def refused(name, *args):
    """ivnetd with these options must exit non-zero, saying why on stderr."""
    b = Broker(name, *args, expect_fail=True)
    err = b.err_text()
    expect(b.proc.returncode != 0, f"ivnetd {' '.join(args)}: exit 0")
    for words in ("cannot be sealed", "--unsealed", "--hugepages"):
        expect(words in err, f"ivnetd {' '.join(args)}: no '{words}' in its reason: {err!r}")
    expect(len(err.strip().splitlines()) == 1, f"more than one line: {err!r}")
    expect(not os.path.exists(f"/dev/shm{SHM}"), "refused, yet the shm object exists")


def test_refusals():
    refused("r-shm", "-M", SHM)
    refused("r-dir", "-m", TMP)
    refused("r-seg-shm", "--segment", f"name=s1,socket={TMP}/s1.sock,shm={SHM}")
    refused("r-seg-dir", "--segment", f"name=s2,socket={TMP}/s2.sock,dir={TMP}")
    expect(not [f for f in os.listdir(TMP) if f.startswith("ivnet-")],
           "refused, yet a region file was left in the directory")


def expect_sealed(b):
    """A raw client cannot shrink or grow the region; the next peer joins."""
    a = RawClient(b)
    seals = fcntl.fcntl(a.shm, F_GET_SEALS)
    expect(seals & SEALS == SEALS, f"seals {seals:#x}, want {SEALS:#x} at least")
    size = os.fstat(a.shm).st_size
    # half: a hugetlb file takes only whole huge pages, so EINVAL would say nothing
    e = a.truncate(size // 2)
    expect(e == errno.EPERM, f"ftruncate to {size // 2}: {os.strerror(e) if e else 'succeeded'}")
    expect(os.fstat(a.shm).st_size == size, "the size changed")
    c = RawClient(b)
    expect(os.fstat(c.shm).st_size == size, "the next peer got another size")
    c.close()
    a.close()
    wait_for("no peers", lambda: b.peers() == [])


def test_memfd_sealed():
    b = Broker("memfd")
    try:
        expect_sealed(b)
    finally:
        b.stop()


def tampered(b, n):
    return b.log_text().count("tamper segment=") >= n


def test_unsealed_survives(backing, name, cut=4096):
    """-M or -m with --unsealed: a peer truncates to cut bytes (hugetlbfs
    takes whole huge pages only), then to 0; the broker restores."""
    b = Broker(name, *backing, "--unsealed")
    raw = []
    try:
        a, c = RawClient(b), RawClient(b)
        raw = [a, c]
        size = os.fstat(a.shm).st_size
        expect(a.truncate(cut) is None, "ftruncate refused on an unsealed region")
        # stats reads the ring between the two joined peers, peer list their table lines
        for req in (("stats",), ("peer", "list")):
            out = b.ctl(*req)
            expect(b.proc.poll() is None,
                   f"ivnetd died ({b.proc.returncode}) answering {' '.join(req)} after the "
                   f"truncation:\n{b.err_text()[-2000:]}")
            expect(out.returncode == 0, f"{' '.join(req)}: {out.stdout}{out.stderr}")
        expect(tampered(b, 1), f"no tamper line in the log:\n{b.log_text()}")
        expect(os.fstat(a.shm).st_size == size, f"size not restored: {os.fstat(a.shm).st_size}")
        expect(a.truncate(0) is None, "second ftruncate refused")
        e1 = Endpoint(b)
        expect(b.proc.poll() is None, f"ivnetd died at the join after the truncation "
               f"({b.proc.returncode}):\n{b.err_text()[-2000:]}")
        e2 = Endpoint(b)
        e1.rx_from(e2)
        e2.rx_from(e1)
        expect(tampered(b, 2), f"second truncation not logged:\n{b.log_text()}")
        ivtest.note(next(line for line in b.log_text().splitlines() if "tamper" in line))
        e1.stop()
        e2.stop()
        a.close()
        c.close()
        wait_for("no peers", lambda: b.peers() == [])
    finally:
        for r in raw:
            r.close()  # the fds keep a hugetlbfs mount busy
        b.stop()


def test_hugepages_sealed():
    with ivtest.hugepages() as reserved:
        if not reserved:
            ivtest.note("skip: cannot reserve hugepages here (--hugepages not checked)")
            return False
        b = Broker("huge", "--hugepages")
        try:
            expect_sealed(b)
        finally:
            b.stop()
    return True


def test_hugetlbfs():
    """-m on a hugetlbfs mount of our own, the backing -m is meant for."""
    with ivtest.hugepages() as reserved:
        if not reserved:
            ivtest.note("skip: cannot reserve hugepages here (-m on hugetlbfs not checked)")
            return False
        mnt = tempfile.mkdtemp(prefix="hugetlbfs-", dir=TMP)
        out = subprocess.run(["mount", "-t", "hugetlbfs", "none", mnt], capture_output=True,
                             text=True)
        if out.returncode != 0:
            ivtest.note(f"skip: cannot mount hugetlbfs ({out.stderr.strip()})")
            return False
        try:
            test_unsealed_survives(("-m", mnt), "hfs", cut=2 << 20)
        finally:
            ivtest.kill_spawned()  # after a failure: nothing may hold the mount
            if subprocess.run(["umount", mnt]).returncode != 0:
                subprocess.run(["umount", "-l", mnt])
    return True


def main():
    parts = {
        "refusals": (test_refusals, "-M and -m refused without --unsealed, with the reason"),
        "memfd": (test_memfd_sealed, "default memfd sealed: ftruncate EPERM, the next peer joins"),
        "shm": (lambda: test_unsealed_survives(("-M", SHM), "shm"),
                "-M --unsealed: truncation logged and restored, stats, joins, frames go on"),
        "dir": (lambda: test_unsealed_survives(("-m", TMP), "dir"),
                "-m --unsealed: the same on a file"),
        "hugepages": (test_hugepages_sealed, "--hugepages memfd sealed"),
        "hugetlbfs": (test_hugetlbfs, "-m on hugetlbfs --unsealed: truncation restored too"),
    }
    try:
        for name in PARTS:
            fn, what = parts[name]
            if fn() is not False:
                ok(what)
    finally:
        ivtest.kill_spawned()  # a refused -M that was not refused made the object
        if os.path.exists(f"/dev/shm{SHM}"):
            os.unlink(f"/dev/shm{SHM}")
        shutil.rmtree(TMP, ignore_errors=True)

if __name__ == "__main__":
    ivtest.run(main)

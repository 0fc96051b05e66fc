#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A header a peer keeps rewriting (issue 14, finding 4).

Every peer maps the region writable, header included. A raw client (a peer
that speaks the protocol like QEMU and keeps the region fd) rewrites the
header in a tight loop while endpoints join:

1. vectors=3 on a 2-vector segment: a join either succeeds or is refused
   naming `vectors` (never left waiting for a vector that never comes);
2. the geometry of a region half the size, consistent in itself: a join
   either succeeds or is refused naming `region_size`.

Each time, once the writer stops, the broker puts the header back on its
own (no join needed), logs `tamper segment=NAME header rewritten: restored`
once, and two fresh endpoints join and exchange verified frames.

usage: test_header.py IVNETD IVNETCTL EP_TOOL
"""
import json
import mmap
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivtest  # noqa: E402
from ivtest import expect, ok, wait_for  # noqa: E402

IVNETD, IVNETCTL, EP_TOOL = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="ivnet-header-")
VECTORS = 0x1c
GEOMETRY = (0x10, 0x54)  # region_size .. ring_slots_off: all but magic and state
TAMPER_S = 3


def Broker(name, *extra, **kw):
    return ivtest.Broker(IVNETD, IVNETCTL, TMP, name, *extra, **kw)




class RawClient:
    """Version, id, then the region fd, mapped; the vectors are left unread."""

    def __init__(self, broker):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(broker.sock)
        for _ in range(3):
            v, fd = ivtest.ivshmem_msg(self.sock)
        expect(v == -1 and fd is not None, f"third message: {v} {fd}")
        self.mm = mmap.mmap(fd, os.fstat(fd).st_size)
        os.close(fd)

    def header(self, lo=0, hi=0x54):
        return bytes(self.mm[lo:hi])

    def close(self):
        self.mm.close()
        self.sock.close()


def ep_run(broker, seconds):
    """An ep_tool for `seconds`: its JSON events and exit code."""
    p = subprocess.run([EP_TOOL, broker.sock, "--seconds", str(seconds), "--report-ms", "200"],
                       capture_output=True, text=True, timeout=60)
    evs = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    ivtest.sanitizer_clean(p.stderr, "ep_tool")
    return evs, p.returncode, p.stderr


def join_while(raw, lo, forged, field):
    """Rewrite [lo, lo+len(forged)) in a tight loop while an ep_tool joins."""
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            raw.mm[lo:lo + len(forged)] = forged

    t = threading.Thread(target=writer)
    t.start()
    try:
        evs, rc, err = ep_run(raw.broker, 1)
    finally:
        stop.set()
        t.join()
    errors = [e["what"] for e in evs if e["event"] == "error"]
    if rc == 0:
        ok(f"a join while {field} was rewritten succeeded")
        return
    expect(any(f"bad {field}" in w for w in errors),
           f"a join while {field} was rewritten failed without naming it (exit {rc}): "
           f"{errors} {err[-2000:]}")
    ok(f"a join while {field} was rewritten was refused: {errors[0]}")


def exchange(b):
    """Two fresh endpoints join and receive each other's frames."""
    results = ivtest.parallel(lambda: ep_run(b, 2), lambda: ep_run(b, 2))
    for evs, rc, err in results:
        expect(rc == 0, f"ep_tool exit {rc}: {evs} {err[-2000:]}")
        rx = [e for e in evs if e["event"] == "report" and any(e["rx"].values())]
        expect(rx, f"ep_tool received nothing: {evs}")


def tampered_then_restored(b, raw, lo, forged, field):
    good = raw.header()
    raw.broker = b
    join_while(raw, lo, forged, field)
    raw.mm[lo:lo + len(forged)] = forged  # left rewritten, and no join follows
    wait_for("the broker to restore the header", lambda: raw.header() == good, timeout=10)
    line = f"tamper segment={b.name} header rewritten: restored"
    wait_for("the tamper line", lambda: line in b.log_text(), timeout=10)
    exchange(b)
    ok(f"{field}: header restored ({line}), two endpoints exchange frames")


def test_vectors():
    b = Broker("hdrvec")
    raw = RawClient(b)
    try:
        tampered_then_restored(b, raw, VECTORS, struct.pack("<I", 3), "vectors")
    finally:
        raw.close()
    b.stop()


def test_half_geometry():
    small = Broker("hdrhalf", size="8M")
    raw_small = RawClient(small)
    forged = raw_small.header(*GEOMETRY)
    raw_small.close()
    small.stop()
    b = Broker("hdrfull", size="16M")
    raw = RawClient(b)
    try:
        expect(raw.header(*GEOMETRY) != forged, "the halved geometry is the same")
        tampered_then_restored(b, raw, GEOMETRY[0], forged, "region_size")
    finally:
        raw.close()
    b.stop()


def main():
    try:
        test_vectors()
        test_half_geometry()
    finally:
        ivtest.kill_spawned()
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    ivtest.run(main)

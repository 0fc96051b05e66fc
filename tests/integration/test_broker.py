#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ivnetd integration tests: a real ivnetd on a temporary socket, real
libivnet endpoints (ep_tool), raw protocol clients acting as QEMU, and
ivnetctl -j for what the broker says.

usage: test_broker.py IVNETD IVNETCTL EP_TOOL
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivtest  # noqa: E402
from ivtest import fail, ok, wait_for  # noqa: E402

IVNETD, IVNETCTL, EP_TOOL = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="ivnet-it-")
VECTORS = 2


def Broker(name, *extra, **kw):
    return ivtest.Broker(IVNETD, IVNETCTL, TMP, name, *extra, **kw)


def Endpoint(broker, *extra):
    """An ep_tool endpoint on broker's segment (ivtest.EpTool)."""
    return ivtest.EpTool(EP_TOOL, broker.sock, *extra)


# ------------------------------------------------------- raw protocol client

def recv_msg(sock, timeout=5):
    """One protocol message: (value, fd or None), within timeout seconds."""
    return ivtest.ivshmem_msg(sock, timeout)


class RawClient:
    """Speaks the client side the way QEMU's ivshmem device does."""

    def __init__(self, broker, read_setup=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(broker.sock)
        self.fds = []
        if read_setup:
            self.setup()

    def setup(self, others=0):
        v, fd = recv_msg(self.sock)
        if v != 0 or fd is not None:
            fail(f"first message must be version 0 without fd, got {v} {fd}")
        self.id, fd = recv_msg(self.sock)
        if not 0 <= self.id <= 65535 or fd is not None:
            fail(f"second message must be our id without fd, got {self.id} {fd}")
        v, self.shm = recv_msg(self.sock)
        if v != -1 or self.shm is None:
            fail(f"third message must be -1 with the shm fd, got {v} {self.shm}")
        self.fds.append(self.shm)
        self.size = os.fstat(self.shm).st_size
        self.vectors = {}
        # others' vectors, then ours: ours complete the setup
        while len(self.vectors.get(self.id, [])) < VECTORS:
            v, fd = recv_msg(self.sock)
            if fd is None:
                fail(f"setup message for peer {v} without an eventfd")
            self.fds.append(fd)
            self.vectors.setdefault(v, []).append(fd)
        return self

    def close(self):
        self.sock.close()
        for fd in self.fds:
            os.close(fd)
        self.fds = []


# ------------------------------------------------------------------- tests

def test_protocol(b):
    """The QEMU protocol to the byte: order, ids, fds, joins and leaves."""
    a = RawClient(b)
    if a.size != 16 << 20:
        fail(f"shm fd size {a.size}")
    if list(a.vectors) != [a.id] or len(a.vectors[a.id]) != VECTORS:
        fail(f"first client's vectors: {a.vectors}")
    c = RawClient(b)
    ids = list(c.vectors)
    if ids != [a.id, c.id] or any(len(v) != VECTORS for v in c.vectors.values()):
        fail(f"second client must see the first's vectors, then its own: {ids}")
    # the first is told of the second: its id once per vector, with eventfds
    for _ in range(VECTORS):
        v, fd = recv_msg(a.sock)
        if v != c.id or fd is None:
            fail(f"join announcement: {v} {fd}")
        a.fds.append(fd)
    # the first's control vector was rung for the table change
    ctl = a.vectors[a.id][0]
    os.set_blocking(ctl, False)
    if struct.unpack("<Q", os.read(ctl, 8))[0] < 1:
        fail("control vector not signalled on join")
    c.close()
    v, fd = recv_msg(a.sock)
    if v != c.id or fd is not None:
        fail(f"leave announcement must be the id without fd: {v} {fd}")
    a.close()
    wait_for("no peers", lambda: b.peers() == [])


def test_mesh(b):
    """Three endpoints, every pair, every payload verified; ctl agrees."""
    # one endpoint per receive mode
    eps = [Endpoint(b, "--mode", m) for m in ("busy", "block", "adaptive")]
    for e in eps:
        for o in eps:
            if o is not e:
                wait_for(f"traffic {o.id}->{e.id}", lambda: e.rx_from(o) > 2000)
    peers = {p["id"]: p for p in b.peers()}
    if sorted(peers) != sorted(e.id for e in eps):
        fail(f"peer list {peers} vs endpoints {[e.id for e in eps]}")
    for e in eps:
        p = peers[e.id]
        if (p["mac"], p["pid"], p["link"], p["state"]) != (e.joined["mac"], e.proc.pid,
                                                           "up", "joined"):
            fail(f"peer {p} does not match endpoint {e.joined}")
    macs = {p["mac"] for p in peers.values()}
    if len(macs) != 3 or any(int(m[:2], 16) & 1 for m in macs):
        fail(f"MACs must be distinct unicast: {macs}")
    seg = b.ctl_json("segment", "show")["segments"][0]
    if seg["peers"] != 3 or seg["size"] != 16 << 20 or seg["vectors"] != VECTORS:
        fail(f"segment show: {seg}")
    for e in eps:
        r = e.report()
        if any(r["bcast"].get(str(o.id), 0) == 0 for o in eps if o is not e):
            fail(f"endpoint {e.id} got no broadcast from someone: {r}")
    return eps


def test_kill_and_restart(b, eps):
    """SIGKILL one endpoint mid-transfer: the others see it leave and keep
    going; a new one takes its id with a new epoch and traffic resumes."""
    victim, a, c = eps
    old = {p["id"]: p for p in b.peers()}[victim.id]
    victim.kill()
    wait_for("broker sees the leave", lambda: victim.id not in {p["id"] for p in b.peers()})
    for e in (a, c):
        wait_for("survivor drops the dead peer", lambda: victim.id not in e.report()["up"])
    base = (a.rx_from(c), c.rx_from(a))
    wait_for("survivors keep exchanging",
             lambda: a.rx_from(c) > base[0] + 2000 and c.rx_from(a) > base[1] + 2000)
    if "reason=hangup" not in b.log_text():
        fail("no leave line in the log")

    fresh = Endpoint(b)
    if fresh.id != victim.id:
        fail(f"restarted endpoint got slot {fresh.id}, expected {victim.id}")
    new = {p["id"]: p for p in b.peers()}[fresh.id]
    if new["epoch"] <= old["epoch"] or new["pid"] != fresh.proc.pid:
        fail(f"rejoin must bump the epoch: {old} -> {new}")
    if new["mac"] != old["mac"]:
        fail(f"the slot's MAC must stay: {old} -> {new}")
    # a new ivshmem id: QEMU must never see a departed peer's id reused
    if new["ivpos"] == old["ivpos"]:
        fail(f"ivshmem id reused at once: {old} -> {new}")
    for e in (a, c):
        before = e.rx_from(fresh)
        wait_for("traffic with the restarted peer",
                 lambda: e.rx_from(fresh) > before + 2000 and fresh.rx_from(e) > 2000)
    return [fresh, a, c]


def test_hostile_clients(b, eps):
    """Garbage bytes, half-finished setups and a connection flood are
    dropped; the endpoints never notice."""
    g = RawClient(b)
    g.sock.sendall(b"GARBAGE\x00\xff" * 10)
    wait_for("garbage client dropped", lambda: g.id not in {p["ivpos"] for p in b.peers()})
    g.close()
    for _ in range(50):  # connect and vanish before reading the setup
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(b.sock)
        s.close()
    for _ in range(50):  # read part of the setup, then vanish
        r = RawClient(b, read_setup=False)
        recv_msg(r.sock)
        r.close()
    flood = []
    for _ in range(40):  # more than the table holds
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(b.sock)
        flood.append(s)
    wait_for("table full", lambda: len(b.peers()) == 8)
    if "reason=segment-full" not in b.log_text():
        fail("no segment-full refusal logged")
    for s in flood:
        s.close()
    wait_for("flood gone", lambda: len(b.peers()) == 3)
    if "reason=sent-data" not in b.log_text():
        fail("garbage client's drop not logged")
    a, c = eps[1], eps[2]
    before = a.rx_from(c)
    wait_for("traffic unaffected", lambda: a.rx_from(c) > before + 2000)
    for e in eps:
        if e.proc.poll() is not None:
            fail("an endpoint died during the hostile-client test")


def test_join_leave_cycles(b, n=1000):
    """Many joins and leaves: no descriptor (or, at exit, memory) leaks."""
    start_fds = b.fds()
    for _ in range(n):
        RawClient(b).close()
    wait_for("all cycles processed", lambda: b.ctl_json("stats")["stats"][0]["leaves"] >= n)
    wait_for("descriptors back to where they were", lambda: b.fds() == start_fds, timeout=5)


def test_allow_list():
    b = Broker("allow", "--allow-uid", "54321", "--allow-gid", "54321")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(b.sock)
    s.settimeout(5)
    if s.recv(8) != b"":
        fail("a client outside the allow-list got a setup")
    s.close()
    out = subprocess.run([EP_TOOL, b.sock, "--seconds", "1"], capture_output=True, text=True)
    if out.returncode != 1 or "refused" not in out.stdout:
        fail(f"endpoint outside the allow-list: {out.stdout}")
    if "reason=not-allowed" not in b.log_text():
        fail("refusal not logged")
    b.stop()


def test_reopen_log():
    log = os.path.join(TMP, "hup.log")
    b = Broker("hup", log=log)
    os.rename(log, log + ".1")
    b.proc.send_signal(signal.SIGHUP)
    wait_for("log reopened", lambda: os.path.exists(log))
    RawClient(b).close()
    wait_for("events in the new log", lambda: "join segment=hup" in open(log).read())
    b.stop()


def test_hugepages_numa_and_mode():
    """A hugetlb memfd region bound to NUMA node 0; socket permissions."""
    with ivtest.hugepages() as reserved:
        if not reserved:
            ivtest.note("skip: cannot reserve hugepages here")
            return
        b = Broker("huge", "--hugepages", "--numa-node", "0", "--socket-mode", "0660")
        mode = os.stat(b.sock).st_mode & 0o777
        if mode != 0o660:
            fail(f"socket mode {oct(mode)}")
        c = RawClient(b)
        st = os.fstat(c.shm)
        if st.st_blksize < 2 << 20:
            fail(f"region is not on hugepages (block size {st.st_blksize})")
        maps = open(f"/proc/{b.proc.pid}/numa_maps").read()
        if not any("bind:0" in line and "huge" in line for line in maps.splitlines()):
            fail(f"region not bound to node 0:\n{maps}")
        c.close()
        b.stop()


def test_daemon_mode():
    """Without -F: detaches, writes the pid file, removes it on SIGTERM."""
    sock = os.path.join(TMP, "daemon.sock")
    pidf = os.path.join(TMP, "daemon.pid")
    log = os.path.join(TMP, "daemon.log")
    out = subprocess.run([IVNETD, "-S", sock, "-l", "4M", "-p", pidf, "--log", log],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        fail(f"daemon start: {out.stderr}")
    pid = int(wait_for("pid file", lambda: os.path.exists(pidf) and open(pidf).read().strip()))
    if not os.path.exists(f"/proc/{pid}"):
        fail("pid file names no live process")
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sock)
    if recv_msg(c)[0] != 0:
        fail("daemonised broker does not speak")
    c.close()
    os.kill(pid, signal.SIGTERM)

    def gone():
        # re-parented to pid 1, which may be slow (or fail) to reap it
        try:
            return open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] in "ZX"
        except OSError:
            return True
    wait_for("daemon exit", gone)
    if os.path.exists(pidf) or os.path.exists(sock):
        fail("pid file or socket left behind")


def test_ctl_errors(b):
    out = b.ctl("peer", "list", "nosuch")
    if out.returncode != 1 or not out.stdout.startswith("error: no segment"):
        fail(f"unknown segment: {out.returncode} {out.stdout}")
    out = b.ctl("-j", "frobnicate")
    if out.returncode != 1 or "error" not in json.loads(out.stdout):
        fail(f"bad request in JSON: {out.stdout}")
    text = b.ctl("peer", "list").stdout
    if len(text.splitlines()) != len(b.peers()):
        fail(f"text peer list: {text}")


def test_label(b, eps):
    """peer label by id and by pid (what libvirt's hook knows: QEMU's pid)."""
    a, c = eps[0], eps[1]
    uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    out = b.ctl_json("peer", "label", "it", f"pid={a.proc.pid}", "name=vm-a", f"uuid={uuid}")
    if [(p["id"], p["pid"], p["label"], p["uuid"]) for p in out["peers"]] != \
            [(a.id, a.proc.pid, "vm-a", uuid)]:
        fail(f"label by pid answer: {out}")
    out = b.ctl_json("peer", "label", "it", str(c.id), "name=vm-c")
    if (out["id"], out["label"], out["uuid"]) != (c.id, "vm-c", ""):
        fail(f"label by id answer: {out}")
    labels = {p["id"]: (p["label"], p["uuid"]) for p in b.peers()}
    want = {e.id: ("", "") for e in eps}
    want.update({a.id: ("vm-a", uuid), c.id: ("vm-c", "")})
    if labels != want:
        fail(f"labels in peer list: {labels}, expected {want}")
    text = b.ctl("peer", "list").stdout
    if f"name vm-a uuid {uuid}" not in text:
        fail(f"text peer list lacks the label: {text}")
    # a process that is not a peer, and a segment that does not exist
    for args, err in ((["it", f"pid={os.getpid()}", "name=x"], "no peer with pid"),
                      (["nosuch", f"pid={a.proc.pid}", "name=x"], "no segment")):
        out = b.ctl("peer", "label", *args)
        if out.returncode != 1 or not out.stdout.startswith(f"error: {err}"):
            fail(f"label {args}: {out.returncode} {out.stdout}")
    if "label segment=it peer=%d pid=%d name=vm-a" % (a.id, a.proc.pid) not in b.log_text():
        fail("no label line in the log")


def main():
    b = Broker("it")
    try:
        for name, fn in [("protocol", lambda: test_protocol(b))]:
            fn()
            ok(name)
        eps = test_mesh(b)
        ok("mesh")
        eps = test_kill_and_restart(b, eps)
        ok("kill and restart")
        test_hostile_clients(b, eps)
        ok("hostile clients")
        test_ctl_errors(b)
        ok("control errors")
        test_label(b, eps)
        ok("peer label by id and by pid")
        for e in eps:
            e.stop()
        wait_for("endpoints gone", lambda: b.peers() == [])
        test_join_leave_cycles(b)
        ok("1000 join/leave cycles, no descriptor leak")
    finally:
        err = b.stop()
    ok("clean SIGTERM shutdown, no sanitizer report")
    test_allow_list()
    ok("allow-list")
    test_reopen_log()
    ok("SIGHUP reopens the log")
    test_hugepages_numa_and_mode()
    ok("hugepages, NUMA binding, socket mode")
    test_daemon_mode()
    ok("daemon mode with pid file")
    del err


if __name__ == "__main__":
    ivtest.run(main)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The control socket against clients that misbehave (issue 14, finding 6):
requests that fill the line buffer, a client that never reads a large
answer, clients that connect and say nothing. Raw sockets, so that each
client does exactly the wrong thing; the sanitizer build's report of an
overflow fails Broker.stop().

ivnet-vswitch serves the same socket (host/util/ctl_server.c): with
--vswitch, its line bound and idle clients are tried as well.

usage: test_ctlsock.py IVNETD IVNETCTL [--vswitch VSWITCH] [TEST ...]
       (TEST: line, slow, idle, deadline, vswitch)
"""
import json
import os
import select
import shutil
import socket
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivtest  # noqa: E402
from ivtest import expect, fail, ok, note, wait_for  # noqa: E402

IVNETD, IVNETCTL = sys.argv[1:3]
ARGS = sys.argv[3:]
VSWITCH = ARGS[1] if ARGS[:1] == ["--vswitch"] else None
ARGS = ARGS[2:] if VSWITCH else ARGS
TMP = tempfile.mkdtemp(prefix="ivnet-ctl-")
LINE_MAX = 1024  # CTL_LINE_MAX
CLIENTS_MAX = 32  # CTL_CLIENTS_MAX
GENEROUS = 30.0  # seconds a client waits for what must come


def Broker(name, timeout_ms, *extra):
    env = dict(os.environ, IVNET_CTL_TIMEOUT_MS=str(timeout_ms))
    return ivtest.Broker(IVNETD, IVNETCTL, TMP, name, *extra, size="1G", env=env)


def connect(path, timeout=GENEROUS):
    """Connected once there is room in the listen backlog (a blocking
    connect), then reads and writes time out."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(timeout)
    return s


def read_all(s):
    """Everything until the server closes (or the socket times out)."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            fail(f"no end of answer after {s.gettimeout():g} s ({len(out)} bytes so far)")
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def ask(path, data, half_close=True):
    """data on a new connection; the whole answer, decoded."""
    with connect(path) as s:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError as e:
            fail(f"the server closed before taking a {len(data)}-byte request: {e}")
        return read_all(s).decode(errors="replace")


def test_line_bound(b, path=None, daemon="ivnetd"):
    """(a) The line buffer's bound: exactly LINE_MAX is a request, one byte
    more is refused, and nothing is written past the buffer."""
    path = path or b.ctlp
    pad = b"status" + b" " * (LINE_MAX - len("status"))
    ans = ask(path, pad)
    expect(ans.startswith(f"{daemon} pid"), f"{LINE_MAX}-byte status at EOF: {ans!r}")
    ans = ask(path, pad + b"\n")
    expect(ans.startswith(f"{daemon} pid"), f"{LINE_MAX}-byte status and newline: {ans!r}")
    ans = ask(path, b"x" * LINE_MAX)
    expect(ans.startswith("error: unknown request"), f"{LINE_MAX} bytes of x: {ans!r}")
    for data in (b"x" * (LINE_MAX + 1), pad + b" \n", b"-j " + b"x" * (LINE_MAX * 4)):
        ans = ask(path, data, half_close=False)
        expect(ans.startswith("error: request too long") or
               ans.startswith('{"error":"request too long'),
               f"{len(data)}-byte request: {ans[:80]!r}")
    expect(ask(path, b"status\n").startswith(f"{daemon} pid"),
           "the daemon stopped answering after long requests")
    ok(f"requests of {LINE_MAX} bytes answered, of {LINE_MAX + 1} and more refused")


PEERS = 64  # IVNET_PEERS_MAX: -j stats lists the n * (n - 1) rings


def two_full_segments(name, timeout_ms):
    """A broker of two segments for PEERS peers each (the rings' memory is
    sparse, never touched)."""
    second = os.path.join(TMP, f"{name}2.sock")
    b = Broker(name, timeout_ms, "--max-peers", str(PEERS), "--segment",
               f"name={name}2,socket={second},size=1G,peers={PEERS}")
    return b, (b.sock, second)


def join_raw_peers(b, sockets):
    """PEERS connections to each segment socket, each a joined peer that
    reads nothing (the broker's messages wait in its socket)."""
    peers = [connect(path) for path in sockets for _ in range(PEERS)]
    wait_for(f"{len(peers)} peers joined", lambda: len(b.peers()) == len(peers))
    return peers


def test_slow_reader(b, big):
    """(b) A client that asks for a large answer and never reads does not
    hold the others: status is answered while that answer waits."""
    slow = connect(b.ctlp)
    slow.sendall(b"-j stats\n")
    r, _, _ = select.select([slow], [], [], GENEROUS)
    expect(r, "the large answer never started")
    ans = ask(b.ctlp, b"status\n")
    expect(ans.startswith("ivnetd pid"), f"status while a client does not read: {ans!r}")
    got = read_all(slow)
    slow.close()
    try:
        stats = json.loads(got)
    except ValueError:
        fail(f"the unread answer was cut at {len(got)} bytes of at least {big}")
    expect(len(got) >= big, f"answer of {len(got)} bytes, expected at least {big}")
    expect(len(stats["stats"][0]["rings"]) > 0, "stats without rings")
    ok(f"status answered while a {len(got)}-byte answer waited unread; it came whole")


def test_idle_clients(b, timeout_ms, path=None, daemon="ivnetd"):
    """(c) 32 clients that say nothing do not lock out the 33rd: it is
    answered at once or when they time out, and they are closed."""
    path = path or b.ctlp
    idle = [connect(path) for _ in range(CLIENTS_MAX)]
    ans = ask(path, b"status\n")
    expect(ans.startswith(f"{daemon} pid"), f"the 33rd client's status: {ans!r}")
    for s in idle:
        expect(read_all(s) == b"", "an idle client was sent something")
        s.close()
    wait_for("the idle clients' time-out in the log",
             lambda: "reason=request-timeout" in b.log_text())
    ok(f"{CLIENTS_MAX} idle clients timed out ({timeout_ms} ms); the next one was answered")


def test_reader_deadline(b, big):
    """A client that never takes its answer is dropped at the deadline,
    and its slot serves again."""
    slow = connect(b.ctlp)
    slow.sendall(b"-j stats\n")
    wait_for("the unread answer's deadline in the log",
             lambda: "reason=answer-timeout" in b.log_text())
    got = read_all(slow)
    slow.close()
    expect(len(got) < big, f"the whole answer ({len(got)} bytes) though never read")
    expect(b.ctl_ok(), "status after a client was dropped")
    ok(f"an unread answer dropped at its deadline after {len(got)} bytes")


def with_broker(name, timeout_ms, test, full=False):
    """test(broker, ...) on a broker of its own, stopped and checked after
    (a sanitizer report fails the stop); with full, two segments of
    joined peers and the size of their -j stats answer as well."""
    b, sockets = two_full_segments(name, timeout_ms)
    peers = []
    try:
        if not full:
            return test(b)
        peers = join_raw_peers(b, sockets)
        big = len(b.ctl("-j", "stats").stdout)
        note(f"-j stats with {len(peers)} peers: {big} bytes")
        expect(big > 1 << 18, f"-j stats is {big} bytes: too small to fill a socket")
        test(b, big)
    finally:
        for p in peers:
            p.close()
        if sys.exc_info()[0]:
            b.kill()
        b.stop()


def test_vswitch():
    """ivnet-vswitch's control socket: the same bound, the same time-out."""
    from vswlib import Switch  # DPDK's side, only when there is a switch

    os.environ["IVNET_CTL_TIMEOUT_MS"] = "1000"
    sw = Switch(VSWITCH, IVNETCTL, TMP, [], lcores="0@0,1@0", name="ctlsw")
    try:
        test_line_bound(sw, sw.ctl, "ivnet-vswitch")
        test_idle_clients(sw, 1000, sw.ctl, "ivnet-vswitch")
    except BaseException:
        sw.kill()
        raise
    sw.stop()


TESTS = {
    "line": lambda: with_broker("line", 60000, test_line_bound),
    "slow": lambda: with_broker("slow", 60000, test_slow_reader, full=True),
    "idle": lambda: with_broker("idle", 1000, lambda b: test_idle_clients(b, 1000)),
    "deadline": lambda: with_broker("deadline", 1000, test_reader_deadline, full=True),
    "vswitch": test_vswitch,
}


def main():
    """All the tests, or those named after the binaries."""
    try:
        for name in ARGS or [t for t in TESTS if t != "vswitch" or VSWITCH]:
            TESTS[name]()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    ivtest.run(main)

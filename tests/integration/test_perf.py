#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ivnet-perf integration tests: the benchmark's correctness, never its
timings. A real `ivnet-perf -s` on a free loopback port and a real ivnetd
segment on a temporary socket:

  - every test runs with --verify and -j: the JSON's shape, and for each
    test the exact relation between what was moved and what was checked
    (SHM_STREAM over libivnet at 64..64K: every byte after the Ethernet
    header of every frame); SHM tests copied and in place, in every wait mode
  - fake servers (this file, speaking control.c's protocol) that corrupt
    TCP_RR responses, short-change a TCP_STREAM or answer nonsense: the client
    must say so and exit non-zero; fake clients that send the real server
    corrupted bytes: it must count them
  - bad options exit 2 with one line naming the problem
  - hostile control connections cost the server a child each, never its
    service; clients (and a server child) that die mid-run leave nothing
    hanging

usage: test_perf.py IVNETD IVNET_PERF
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivtest  # noqa: E402
from ivtest import fail, ok, sanitizer_clean, spawn, wait_for  # noqa: E402

IVNETD, PERF = sys.argv[1:3]
TMP = tempfile.mkdtemp(prefix="ivnet-perf-it-")
HOST = "127.0.0.1"

TESTS = ["TCP_STREAM", "TCP_RR", "UDP_STREAM", "UDP_RR", "SHM_STREAM", "SHM_RR",
         "UNIX_STREAM", "UNIX_RR", "LIMIT_PINGPONG", "LIMIT_RR", "LIMIT_COPY"]
NO_PAYLOAD = ("LIMIT_PINGPONG", "LIMIT_COPY")  # --verify is refused: nothing to check
ETH_HDR = 14
SEQ_LEN = 8
RESP_SEQ = 1 << 63


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def children(pid):
    """Live children of pid (the server's per-connection children)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in "ZX":
            out.append(int(d))
    return out


def Broker():
    """An ivnetd segment for the SHM tests."""
    return ivtest.Broker(IVNETD, None, TMP, f"perf{os.getpid()}", "-n", "2", size="64M")


class Server:
    """ivnet-perf -s on a free loopback port."""

    def __init__(self):
        self.log = os.path.join(TMP, "server.log")
        self.err = open(self.log, "w")
        for _ in range(10):
            self.port = free_port()
            self.proc = spawn([PERF, "-s", "-L", HOST, "-p", str(self.port)],
                              stdout=subprocess.DEVNULL, stderr=self.err)
            wait_for("ivnet-perf -s listening", lambda: self.proc.poll() is not None or
                     "listening on port" in self.log_text())
            if self.proc.poll() is None:
                return
        fail(f"ivnet-perf -s never listened: {self.log_text()}")

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def children(self):
        return children(self.proc.pid)

    def alive(self):
        if self.proc.poll() is not None:
            fail(f"the server died ({self.proc.returncode}): {self.log_text()[-2000:]}")

    def stop(self):
        self.alive()
        wait_for("the server's children to finish", lambda: not self.children())
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        self.err.close()
        sanitizer_clean(self.log_text(), "ivnet-perf -s (or a child)")


def perf(port, *args, rc=0, timeout=180):
    """Run the client; check its exit status; return (stdout, stderr)."""
    argv = [PERF, "-H", HOST, "-p", str(port), *args]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail(f"hung: {' '.join(argv)}")
    sanitizer_clean(out.stderr, " ".join(argv))
    if rc is not None and out.returncode != rc:
        fail(f"{' '.join(argv)}: exit {out.returncode}, not {rc}\n{out.stdout}{out.stderr}")
    return out.stdout, out.stderr


# ------------------------------------------------------------ JSON shape

def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return (isinstance(v, (int, float))) and not isinstance(v, bool)


def need(d, key, kind, where):
    if key not in d:
        fail(f"{where}: no '{key}' in {json.dumps(d)[:400]}")
    ok = {"int": is_int, "num": is_num, "str": lambda v: isinstance(v, str),
          "bool": lambda v: isinstance(v, bool), "list": lambda v: isinstance(v, list),
          "dict": lambda v: isinstance(v, dict)}[kind](d[key])
    if not ok:
        fail(f"{where}: '{key}' is {d[key]!r}, not {kind}")
    return d[key]


def summary(r, key, where):
    s = need(r, key, "dict", where)
    lo, med, hi = (need(s, k, "num", f"{where}.{key}") for k in ("min", "median", "max"))
    if not 0 <= lo <= med <= hi:
        fail(f"{where}.{key}: not 0 <= min <= median <= max: {s}")
    return s


def check_json(doc, test, sizes, reps=2, resp=None, segment=None, wait="busy", zerocopy=False,
               verify=True):
    """Every key with its type, and the relations that hold whatever the
    timing; returns the results."""
    rr = "_RR" in test or test == "LIMIT_PINGPONG"
    remote = test.split("_")[0] in ("TCP", "UDP", "SHM")
    w = test
    if need(doc, "test", "str", w) != test or need(doc, "type", "str", w) != \
            ("rr" if rr else "stream"):
        fail(f"{w}: test/type {doc['test']} {doc['type']}")
    if remote:
        need(doc, "host", "str", w)
        if need(doc, "port", "str", w) == "":
            fail(f"{w}: empty port")
    elif "host" in doc:
        fail(f"{w}: a local test names a host")
    if segment:
        if need(doc, "segment", "str", w) != segment or need(doc, "wait", "str", w) != wait \
                or need(doc, "zerocopy", "bool", w) != zerocopy:
            fail(f"{w}: segment/wait/zerocopy: {doc}")
    need(doc, "local_cpu", "int", w)
    need(doc, "remote_cpu", "int", w)
    need(doc, "seconds", "num", w)
    if need(doc, "reps", "int", w) != reps or need(doc, "verify", "bool", w) != verify:
        fail(f"{w}: reps/verify {doc['reps']} {doc['verify']}")
    results = need(doc, "results", "list", w)
    if [need(r, "size", "int", w) for r in results] != sizes:
        fail(f"{w}: sizes {[r['size'] for r in results]}, not {sizes}")
    for r in results:
        w = f"{test} size {r['size']}"
        if need(r, "runs", "int", w) != reps:
            fail(f"{w}: {r['runs']} runs")
        if summary(r, "elapsed_s", w)["min"] <= 0:
            fail(f"{w}: elapsed {r['elapsed_s']}")
        summary(r, "bits_per_sec", w)
        summary(r, "packets_per_sec", w)
        msgs = need(r, "messages", "int", w)
        sent = need(r, "sent", "int", w)
        if msgs <= 0 or sent < msgs:
            fail(f"{w}: messages {msgs} sent {sent}")
        v = need(r, "verify", "dict", w)
        need(v, "checked_bytes", "int", w)
        if need(v, "errors", "int", w) != 0:
            fail(f"{w}: verify errors: {r}")
        if rr:
            want = resp if resp else r["size"]
            if need(r, "response_size", "int", w) != want:
                fail(f"{w}: response size {r['response_size']}, not {want}")
            summary(r, "transactions_per_sec", w)
            lat = need(r, "latency_ns", "dict", w)
            keys = ["min", "p50", "p90", "p99", "p99.9", "max"]
            vals = [need(lat, k, "int", w) for k in keys]
            if need(lat, "samples", "int", w) <= 0 or vals != sorted(vals) or vals[0] <= 0:
                fail(f"{w}: latency {lat}")
            if not vals[0] <= need(lat, "mean", "num", w) <= vals[-1]:
                fail(f"{w}: latency mean {lat}")
        elif "response_size" in r or "latency_ns" in r:
            fail(f"{w}: a stream test with RR figures: {r}")
    return results


def check_verified(test, results, resp=None):
    """What --verify checked, exactly, from what was moved."""
    for r in results:
        q, a = r["size"], (resp or r["size"])
        n, sent, got = r["messages"], r["sent"], r["verify"]["checked_bytes"]
        if test in ("TCP_STREAM", "UNIX_STREAM"):
            # every byte of the stream, at the far end; nothing lost
            ok = n == sent and got == sent * q
        elif test in ("TCP_RR", "UNIX_RR"):
            # each request at the far end, each response here
            ok = n == sent and got == n * (q + a)
        elif test == "UDP_STREAM":
            ok = got == n * q
        elif test == "UDP_RR":
            # responses here; requests there, of which some may have been
            # answered too late to count
            ok = n * (q + a) <= got <= sent * q + n * a
        elif test == "SHM_STREAM":
            # every frame's bytes after the Ethernet header
            ok = n == sent and got == n * (q - ETH_HDR)
        elif test == "SHM_RR":
            ok = n == sent and got == n * (q - ETH_HDR + a - ETH_HDR)
        elif test == "LIMIT_RR":
            # each answer starts with its request's bytes, compared here
            ok = n == sent and got == n * min(q, a)
        else:
            fail(f"{test}: checked bytes with --verify, which it refuses")
        if not ok:
            fail(f"{test} size {q}: checked {got} bytes of {n} messages ({sent} sent)")


def run_json(port, test, *args, sizes, reps=2, resp=None, segment=None, wait="busy",
             zerocopy=False, secs="0.2", verify=True):
    argv = ["-t", test, "-l", secs, "-i", str(reps), "-j"]
    if verify:
        argv.append("--verify")
    if segment:
        argv += ["--segment", segment, "--wait", wait]
        if zerocopy:
            argv.append("--zerocopy")
    out, _ = perf(port, *argv, *args)
    try:
        doc = json.loads(out)
    except ValueError:
        fail(f"{test}: not JSON: {out[:500]}")
    res = check_json(doc, test, sizes, reps, resp, segment, wait.split(":")[0], zerocopy, verify)
    if verify:
        check_verified(test, res, resp)
    return res


def test_all_tests(srv, seg):
    for t in TESTS:
        s = seg if t.startswith("SHM_") else None
        run_json(srv.port, t, "--", "-m", "64,1500", sizes=[64, 1500], segment=s,
                 verify=t not in NO_PAYLOAD)
    ok("every test with --verify, JSON shape and checked bytes")
    # sizes: a doubling range, one that ends off the doubling, suffixes;
    # RR with its own response size
    run_json(srv.port, "UNIX_STREAM", "--", "-m", "64..256", sizes=[64, 128, 256], reps=1)
    run_json(srv.port, "LIMIT_COPY", "--", "-m", "100..300", sizes=[100, 200, 300], reps=1,
             verify=False)
    run_json(srv.port, "LIMIT_RR", "--", "-r", "60,1000", sizes=[60], resp=1000, reps=1)
    run_json(srv.port, "TCP_STREAM", "--", "-m", "1K,2k,64", sizes=[1024, 2048, 64], reps=1)
    run_json(srv.port, "TCP_RR", "--", "-r", "64,1000", sizes=[64], resp=1000, reps=1)
    run_json(srv.port, "UDP_RR", "--", "-r", "100,8", sizes=[100], resp=8, reps=1)
    run_json(srv.port, "SHM_RR", "--", "-r", "64,1514", sizes=[64], resp=1514, reps=1,
             segment=seg)
    run_json(srv.port, "UDP_STREAM", "--", "-m", "65507", sizes=[65507], reps=1)
    # without --verify nothing is checked, and the figures are still whole
    res = run_json(srv.port, "TCP_RR", sizes=[1], reps=1, verify=False)
    if res[0]["verify"]["checked_bytes"] != 0:
        fail(f"checked bytes without --verify: {res}")
    # default sizes
    run_json(srv.port, "SHM_STREAM", sizes=[1514], reps=1, segment=seg)
    run_json(srv.port, "UNIX_RR", sizes=[1], reps=1)
    # pinned: the cpus are reported
    cpu = min(os.sched_getaffinity(0))
    out, _ = perf(srv.port, "-t", "UNIX_RR", "-l", "0.1", "-j", "-T", f"{cpu},{cpu}")
    doc = json.loads(out)
    if (doc["local_cpu"], doc["remote_cpu"]) != (cpu, cpu):
        fail(f"-T {cpu},{cpu}: {doc['local_cpu']},{doc['remote_cpu']}")
    ok("size lists, ranges, suffixes, response sizes, defaults, -T")


def test_shm_modes(srv, seg):
    for t in ("SHM_STREAM", "SHM_RR"):
        for wait in ("busy", "block", "adaptive", "adaptive:5"):
            for zc in (False, True):
                run_json(srv.port, t, "--", "-m", "64,1500", sizes=[64, 1500], segment=seg,
                         wait=wait, zerocopy=zc)
    ok("SHM tests copied and in place, busy/block/adaptive")
    sizes = [64 << i for i in range(11)]
    for zc in (False, True):
        res = run_json(srv.port, "SHM_STREAM", "--", "-m", "64..64K", sizes=sizes, reps=1,
                       segment=seg, zerocopy=zc)
        total = sum(r["verify"]["checked_bytes"] for r in res)
        ok(f"SHM_STREAM 64..64K{' zerocopy' if zc else ''}: "
           f"{total} bytes checked, every one")


def test_text(srv, seg):
    out, _ = perf(srv.port, "-t", "SHM_RR", "--segment", seg, "--verify", "-l", "0.1",
                  "--", "-m", "64,128")
    lines = out.splitlines()
    if not lines[0].startswith("IVNET-PERF SHM_RR TEST") or "verify" not in lines[0]:
        fail(f"banner: {out}")
    rows = [ln for ln in lines if ln.split() and ln.split()[0] in ("64", "128")]
    if len(rows) != 2 or not all(r.endswith(" ok") for r in rows):
        fail(f"text rows: {out}")
    out, _ = perf(srv.port, "-t", "TCP_STREAM", "-P", "0", "-l", "0.1")
    if out.startswith("IVNET-PERF") or "16384" not in out:
        fail(f"-P 0: {out}")
    ok("text report")


# ------------------------------------------------------------ fake servers

# pattern.h, written again: the fakes must not share the code they test.

def seq_mix(seq):
    """What of a sequence number the payload bytes depend on."""
    return sum(seq.to_bytes(8, "little")) & 0xff


def pattern_byte(seq, off):
    return (seq_mix(seq) * 0x9d + ((((off + 1) * 0x9e3779b97f4a7c15) & (2**64 - 1)) >> 56)) & 0xff


_fill_cache = {}


def pattern_fill(length, seq):
    """pattern.c's message pattern: the sequence number (little-endian) when
    there is room, then bytes that depend on (seq, offset)."""
    key = (length, seq_mix(seq))
    body = _fill_cache.get(key)
    if body is None:
        body = bytes(pattern_byte(seq, i) for i in range(length))
        _fill_cache[key] = body
    if length >= SEQ_LEN:
        return bytearray(seq.to_bytes(8, "little") + body[SEQ_LEN:])
    return bytearray(body)


def recv_line(sock):
    line = b""
    while not line.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            return None
        line += c
    return line.decode().strip()


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        c = sock.recv(n - len(buf))
        if not c:
            if buf:
                raise RuntimeError("short message")
            return None
        buf += c
    return bytes(buf)


class FakeServer:
    """Accepts control connections and hands each to handler(ctl, request)
    in a thread; what the handler learns goes in self.seen."""

    def __init__(self, handler):
        self.handler = handler
        self.seen = []
        self.errors = []
        self.lsock = socket.socket()
        self.lsock.bind((HOST, 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.threads = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, c):
        try:
            c.settimeout(30)
            line = recv_line(c)
            words = line.split()
            if words[0] != "TEST":
                raise RuntimeError(f"not a TEST line: {line}")
            req = dict(w.split("=", 1) for w in words[1:])
            self.handler(self, c, req)
        except Exception as e:  # reported by close()
            self.errors.append(repr(e))
        finally:
            c.close()

    def data_listen(self, c):
        ds = socket.socket()
        ds.bind((HOST, 0))
        ds.listen(1)
        ds.settimeout(30)
        c.sendall(f"OK port={ds.getsockname()[1]}\n".encode())
        d, _ = ds.accept()
        ds.close()
        d.settimeout(30)
        return d

    def close(self):
        self.lsock.close()
        for t in self.threads:
            t.join(30)
        if self.errors:
            fail(f"fake server: {self.errors}")


def rr_fake(corrupt_every, short_result=False):
    """A TCP_RR far end: checks each request as ivnet-perf's server does and
    answers with the response pattern, one byte flipped every corrupt_every
    transactions (at a different offset each time, sequence number included);
    the RESULT line reports honestly unless short_result."""
    def handler(fs, c, req):
        q, a = int(req["size"]), int(req["resp"])
        d = fs.data_listen(c)
        seq = req_errors = flipped = want_errors = 0
        while True:
            m = recv_exact(d, q)
            if m is None:
                break
            req_errors += sum(x != y for x, y in zip(m, pattern_fill(q, seq)))
            resp = pattern_fill(a, seq | RESP_SEQ)
            if corrupt_every and seq % corrupt_every == 1:
                at = (seq * 7) % a
                resp[at] ^= 0x20
                flipped += 1
                # a wrong sequence number is 8 bad bytes (pattern.c)
                want_errors += SEQ_LEN if at < SEQ_LEN <= a else 1
            d.sendall(resp)
            seq += 1
        d.close()
        n = seq - 1 if short_result else seq
        c.sendall(f"RESULT elapsed=0.1 messages={n} bytes={n * (q + a)} checked={seq * q} "
                  f"errors=0\n".encode())
        fs.seen.append({"transactions": seq, "req_errors": req_errors, "flipped": flipped,
                        "want_errors": want_errors, "q": q, "a": a})
    return handler


def stream_fake(shortfall):
    """A TCP_STREAM far end that checks the stream and reports shortfall
    bytes fewer than it got."""
    def handler(fs, c, req):
        size = int(req["size"])
        d = fs.data_listen(c)
        total = bad = 0
        while True:
            m = d.recv(65536)
            if not m:
                break
            bad += sum(x != pattern_byte(0x5a5a5a5a5a5a5a5a, total + i)
                       for i, x in enumerate(m)) if total < 1 << 20 else 0
            total += len(m)
        d.close()
        got = total - shortfall
        c.sendall(f"RESULT elapsed=0.1 messages={got // size} bytes={got} checked={total} "
                  f"errors=0\n".encode())
        fs.seen.append({"total": total, "bad": bad})
    return handler


def line_fake(answer):
    """Answers the TEST line with `answer` (nothing: hangs up)."""
    def handler(fs, c, req):
        if answer:
            c.sendall(answer.encode())
        fs.seen.append(req)
    return handler


def test_fake_servers():
    # an honest fake first: the Python model of the pattern agrees with C's
    fs = FakeServer(rr_fake(0))
    out, _ = perf(fs.port, "-t", "TCP_RR", "--verify", "-l", "0.3", "-j", "--", "-r", "64,100")
    fs.close()
    s = fs.seen[0]
    r = json.loads(out)["results"][0]
    if s["req_errors"] or r["verify"]["errors"] or r["messages"] != s["transactions"]:
        fail(f"honest fake: {s} {r}")
    # corrupted responses: counted exactly, reported, exit 1
    for rr_args, as_json in ((["-r", "64,100"], True), (["-r", "32"], False)):
        fs = FakeServer(rr_fake(5))
        args = ["-t", "TCP_RR", "--verify", "-l", "0.3", *(["-j"] if as_json else []),
                "--", *rr_args]
        out, err = perf(fs.port, *args, rc=1)
        fs.close()
        s = fs.seen[0]
        if s["flipped"] == 0 or s["req_errors"]:
            fail(f"corrupting fake: {s}")
        if as_json:
            r = json.loads(out)["results"][0]
            if r["verify"]["errors"] != s["want_errors"] or r["messages"] != s["transactions"]:
                fail(f"corrupted responses: {s['want_errors']} bad bytes sent, "
                     f"client says {r['verify']}")
        elif "FAILED" not in out:
            fail(f"text report of corrupted responses: {out}")
    ok("corrupted TCP_RR responses are counted byte for byte, exit 1")
    # the far end got fewer bytes than were sent
    fs = FakeServer(stream_fake(1))
    out, err = perf(fs.port, "-t", "TCP_STREAM", "--verify", "-l", "0.2", "-j", rc=1)
    fs.close()
    s = fs.seen[0]
    if s["bad"]:
        fail(f"TCP_STREAM pattern: {s['bad']} bytes differ from the Python model")
    if f"sent {s['total']} bytes, the far end got {s['total'] - 1}" not in err:
        fail(f"short-changed TCP_STREAM: {err}")
    # fewer transactions answered than asked
    fs = FakeServer(rr_fake(0, short_result=True))
    _, err = perf(fs.port, "-t", "TCP_RR", "-l", "0.2", rc=1)
    fs.close()
    n = fs.seen[0]["transactions"]
    if f"{n} transactions asked, the far end answered {n - 1}" not in err:
        fail(f"short RR result: {err}")
    # refusals and nonsense
    for answer, want in (("ERR no such luck\n", "server: no such luck"),
                         ("HELLO\n", "unexpected answer from the server"),
                         ("OK\n", "unexpected answer from the server"),
                         ("OK port=0\n", "unexpected answer from the server"),
                         ("OK port=70000\n", "unexpected answer from the server"),
                         ("OK port=12x\n", "unexpected answer from the server"),
                         ("OK port=-5\n", "unexpected answer from the server"),
                         ("OKAY port=5000\n", "unexpected answer from the server"),
                         ("OK id=64 mac=02:00:00:00:00:01\n",
                          "unexpected answer from the server"),
                         ("OK id=1 mac=02:00:00:00:00:0102\n",
                          "unexpected answer from the server"),
                         ("OK id=1 mac=02:00:zz:00:00:01\n",
                          "unexpected answer from the server"),
                         ("", "did not answer")):
        fs = FakeServer(line_fake(answer))
        _, err = perf(fs.port, "-t", "UDP_STREAM", "-l", "0.2", rc=1)
        fs.close()
        if want not in err or len(err.strip().splitlines()) != 1:
            fail(f"answer {answer!r}: {err}")

    def bad_result(fs, c, req):
        d = fs.data_listen(c)
        while d.recv(65536):
            pass
        d.close()
        c.sendall(b"RESULT elapsed=nan messages=-1 bytes=x\n")
    fs = FakeServer(bad_result)
    _, err = perf(fs.port, "-t", "TCP_STREAM", "-l", "0.2", rc=1)
    fs.close()
    if "malformed result" not in err:
        fail(f"malformed RESULT: {err}")
    ok("short-changed streams and RR, refusals, nonsense answers: exit 1, "
       "one clear line")


# ------------------------------------------------------------ fake clients

class FakeClient:
    """One control session with the real server: the TEST line, its OK."""

    def __init__(self, srv, **req):
        self.ctl = socket.create_connection((HOST, srv.port), timeout=30)
        self.ctl.sendall(request_line(**req))
        ok = recv_line(self.ctl)
        if not ok or not ok.startswith("OK port="):
            fail(f"server refused {req}: {ok!r}")
        self.port = int(ok.split("=")[1])

    def result(self):
        line = recv_line(self.ctl)
        self.ctl.close()
        if not line or not line.startswith("RESULT "):
            fail(f"no RESULT: {line!r}")
        return {k: float(v) if k == "elapsed" else int(v)
                for k, v in (w.split("=") for w in line.split()[1:])}


def flipped(b, at, bit=0x10):
    b = bytearray(b)
    b[at] ^= bit
    return b


def expect_result(what, res, **want):
    for k, v in want.items():
        if callable(v) and not v(res[k]) or not callable(v) and res[k] != v:
            fail(f"{what}: the server's {k} is {res[k]} ({res})")


def test_server_verify(srv):
    """The server's --verify, fed known corruptions by a client written
    here: each is counted, exactly where the count is defined."""
    # TCP_STREAM: a byte stream; one flipped byte is one error
    fc = FakeClient(srv, name="TCP_STREAM", size="1000", verify="1")
    d = socket.create_connection((HOST, fc.port), timeout=30)
    stream = bytearray(pattern_byte(0x5a5a5a5a5a5a5a5a, i) for i in range(20000))
    for at in (0, 999, 1000, 12345, 19999):
        stream[at] ^= 0x01
    d.sendall(stream)
    d.shutdown(socket.SHUT_WR)
    expect_result("TCP_STREAM", fc.result(), bytes=20000, messages=20, checked=20000, errors=5)
    d.close()
    # TCP_RR: every request checked; a wrong sequence number is 8 bad bytes
    fc = FakeClient(srv, name="TCP_RR", size="64", resp="100", verify="1")
    d = socket.create_connection((HOST, fc.port), timeout=30)
    bad = {3: 20, 5: 3, 7: 63}  # seq: the byte flipped
    for seq in range(10):
        m = pattern_fill(64, seq)
        d.sendall(flipped(m, bad[seq]) if seq in bad else m)
        resp = recv_exact(d, 100)
        if resp != pattern_fill(100, seq | RESP_SEQ):
            fail(f"TCP_RR response {seq} differs from the pattern")
    d.shutdown(socket.SHUT_WR)
    expect_result("TCP_RR", fc.result(), messages=10, checked=640, errors=1 + 8 + 1)
    d.close()
    # UDP_STREAM: a flipped byte, a short and a long datagram
    fc = FakeClient(srv, name="UDP_STREAM", size="100", verify="1")
    d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    d.connect((HOST, fc.port))
    for seq in range(10):
        m = pattern_fill(100, seq)
        d.send({2: flipped(m, 50), 4: m[:50], 6: m + b"x"}.get(seq, m))
        time.sleep(0.01)
    fc.ctl.sendall(b"STOP sent=10\n")
    expect_result("UDP_STREAM", fc.result(), messages=10, checked=1000 - 50 + 1,
                  errors=1 + 50 + 101)
    d.close()
    # UDP: the receiver takes the sequence number from the datagram; a
    # flipped byte in it, any byte, must still show
    for name in ("UDP_STREAM", "UDP_RR"):
        for at in range(SEQ_LEN):
            fc = FakeClient(srv, name=name, size="100", verify="1")
            d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            d.connect((HOST, fc.port))
            d.send(flipped(pattern_fill(100, 1000 + at), at))
            if name == "UDP_RR":
                d.settimeout(30)
                d.recv(200)
            fc.ctl.sendall(b"STOP sent=1\n")
            expect_result(f"{name}, sequence number byte {at} flipped", fc.result(),
                          messages=1, errors=lambda e: e > 0)
            d.close()
    srv.alive()
    ok("the server's --verify counts corrupted bytes from a fake client")


# ------------------------------------------------------------ options

def test_options(seg):
    dead = free_port()  # nothing listens there: a run that starts fails fast
    cases = [
        (["-t", "NOSUCH"], "unknown test 'NOSUCH'"),
        ([], "which test"),
        (["-t", "TCP_RR", "--", "-m", "12x"], "bad size '12x'"),
        (["-t", "TCP_RR", "--", "-m", "0"], "bad size '0'"),
        (["-t", "TCP_RR", "--", "-m", "65537"], "bad size '65537'"),
        (["-t", "TCP_RR", "--", "-m", "18014398509481985K"], "bad size '18014398509481985K'"),
        (["-t", "TCP_RR", "--", "-m", "256..64"], "bad size range '256..64'"),
        (["-t", "TCP_RR", "--", "-m", ",".join(["64"] * 33)], "too many sizes"),
        (["-t", "TCP_RR", "--", "-r", "64,0"], "bad response size '0'"),
        (["-t", "UDP_STREAM", "--", "-m", "65536"], "UDP_STREAM takes sizes 1..65507"),
        (["-t", "UDP_RR", "--", "-r", "64,65508"], "UDP_RR takes sizes 1..65507"),
        (["-t", "SHM_STREAM", "--segment", seg, "--", "-m", "10"],
         "SHM_STREAM takes sizes 22..65536"),
        (["-t", "SHM_RR", "--segment", seg, "--", "-r", "64,21"], "SHM_RR takes sizes 22.."),
        (["-t", "SHM_STREAM"], "SHM_STREAM needs --segment"),
        (["-t", "SHM_RR", "--", "-m", "64"], "SHM_RR needs --segment"),
        (["-t", "TCP_RR", "--segment", "a b"], "bad segment socket path 'a b'"),
        (["-t", "UDP_RR", "--verify", "--", "-r", "4"],
         "UDP_RR takes sizes 8..65507 with --verify"),
        (["-t", "UDP_STREAM", "--verify", "--", "-m", "7"], "UDP_STREAM takes sizes 8..65507"),
        (["-t", "TCP_RR", "-T", "x"], "bad cpu pair 'x'"),
        (["-t", "TCP_RR", "-T", "0,"], "bad cpu pair '0,'"),
        (["-t", "TCP_RR", "-T", "-1"], "bad cpu pair '-1'"),
        (["-t", "TCP_RR", "-T", "0,100000"], "bad cpu pair '0,100000'"),
        (["-t", "TCP_RR", "-T", "4294967296"], "bad cpu pair '4294967296'"),
        (["-t", "TCP_RR", "-T", "0,4294967297"], "bad cpu pair '0,4294967297'"),
        (["-t", "TCP_RR", "--wait", "spin"], "bad wait mode 'spin'"),
        (["-t", "TCP_RR", "--wait", "busyx"], "bad wait mode 'busyx'"),
        (["-t", "TCP_RR", "--wait", "adaptive:x"], "bad spin time in 'adaptive:x'"),
        (["-t", "TCP_RR", "-l", "0"], "bad test length '0'"),
        (["-t", "TCP_RR", "-l", "-1"], "bad test length '-1'"),
        (["-t", "TCP_RR", "-l", "1s"], "bad test length '1s'"),
        (["-t", "TCP_RR", "-i", "0"], "bad repetitions '0'"),
        (["-t", "TCP_RR", "-i", "101"], "bad repetitions '101'"),
        (["-t", "TCP_RR", "-i", "4294967297"], "bad repetitions '4294967297'"),
        (["-t", "TCP_RR", "stray"], "unexpected argument 'stray'"),
        (["-t", "TCP_RR", "--", "-m", "64", "stray"], "unexpected argument 'stray'"),
        (["-t", "TCP_RR", "--", "-s", "12q"], "bad socket buffer size '12q'"),
        (["-t", "TCP_RR", "-P", "2"], "bad banner switch '2'"),
        (["-t", "TCP_RR", "-P", "yes"], "bad banner switch 'yes'"),
        (["-t", "LIMIT_PINGPONG", "--verify"], "LIMIT_PINGPONG has no payload to check"),
        (["-t", "LIMIT_COPY", "--verify"], "LIMIT_COPY has no payload to check"),
    ]
    for args, want in cases:
        _, err = perf(dead, *args, rc=2, timeout=30)
        lines = err.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("ivnet-perf: ") or want not in lines[0]:
            fail(f"{args}: want one line with {want!r}, got {err!r}")
    out, _ = perf(dead, "--list")
    if out.split() != TESTS:
        fail(f"--list: {out}")
    for h in ("-h", "--help"):
        out, _ = perf(dead, h)
        if not out.startswith("usage:") or not all(t in out for t in TESTS):
            fail(f"{h}: {out}")
    # an unknown option: usage on stderr, exit 2
    out, err = perf(dead, "--frobnicate", rc=2)
    if "usage:" not in err:
        fail(f"unknown option: {err}")
    # a well-formed run with nobody to talk to: exit 1, one line
    _, err = perf(dead, "-t", "TCP_RR", "-l", "0.1", rc=1)
    if "cannot reach ivnet-perf -s" not in err:
        fail(f"no server: {err}")
    ok(f"{len(cases)} bad options exit 2 with one line naming the problem; "
       "--list, -h")


# ------------------------------------------------------------ server robustness

def exchange(port, data, wait=15):
    """Send data on a control connection; the server's answer line, or None
    if it hung up without one."""
    s = socket.create_connection((HOST, port), timeout=wait)
    try:
        s.sendall(data)
        return recv_line(s)
    except OSError:  # reset, broken pipe (it stopped reading), timeout
        return None
    finally:
        s.close()


def request_line(**kw):
    req = {"name": "TCP_RR", "size": "64", "resp": "64", "seconds": "1", "verify": "0",
           "zerocopy": "0", "cpu": "-1", "sndbuf": "0", "rcvbuf": "0", "wait": "busy",
           "spin": "50", "segment": "-"}
    req.update(kw)
    return ("TEST " + " ".join(f"{k}={v}" for k, v in req.items() if v is not None)
            + "\n").encode()


def open_silent(srv):
    """Clients that say nothing, or half a line, or ask and never open their
    data connection: each costs a child until its timeout (10 s), never the
    service. Opened first, so that the timeouts pass while other tests run."""
    silent = [socket.create_connection((HOST, srv.port)) for _ in range(3)]
    silent[1].sendall(b"TEST name=TCP")
    silent[2].sendall(request_line(seconds="5"))
    wait_for("a child per connection", lambda: len(srv.children()) >= 3)
    return silent


def test_server_robustness(srv, seg, silent):
    cases = [
        (b"garbage\n", "not a TEST line"),
        (b"\x00\xff\xfe\x01\n", "not a TEST line"),
        (b"\n", "not a TEST line"),
        (b"TEST\n", "not a TEST line"),
        (b"TEST \n", "no test name"),
        (request_line(name="NOSUCH"), "unknown test NOSUCH"),
        (request_line(name="UNIX_RR"), "unknown test UNIX_RR"),
        (request_line(name="LIMIT_COPY"), "unknown test LIMIT_COPY"),
        (request_line(size="0"), "bad or missing size"),
        (request_line(size="65537"), "bad or missing size"),
        (request_line(size="99999999999999999999999"), "bad or missing size"),
        (request_line(size="-5"), "bad or missing size"),
        (request_line(size=None), "bad or missing size"),
        (request_line(resp="70000"), "bad or missing resp"),
        (request_line(verify="2"), "bad or missing verify"),
        (request_line(cpu="100000"), "bad or missing cpu"),
        (request_line(sndbuf="-1"), "bad or missing sndbuf"),
        (request_line(spin="99999999999"), "bad or missing spin"),
        (request_line(seconds="0"), "bad seconds"),
        (request_line(seconds="1e9"), "bad seconds"),
        (request_line(seconds="nan"), "bad seconds"),
        (request_line(wait="spin"), "bad wait mode"),
        (request_line(segment=None), "bad or missing segment"),
        (request_line(name="UDP_STREAM", size="65536"), "UDP_STREAM takes sizes"),
        (request_line(name="UDP_RR", resp="65508"), "UDP_RR takes sizes"),
        (request_line(name="SHM_STREAM", size="21", segment=seg), "SHM_STREAM takes sizes"),
        (request_line(name="SHM_RR", segment="-"), "SHM tests need --segment"),
        (request_line(name="SHM_RR", segment=os.path.join(TMP, "nosuch.sock")), "segment "),
        (request_line(name="SHM_STREAM", segment="/dev/null"), "segment "),
        (b"TEST name=" + b"X" * 200 + b" size=1\n", "no test name"),
    ]
    for data, want in cases:
        ans = exchange(srv.port, data)
        if ans is None or not ans.startswith("ERR ") or want not in ans:
            fail(f"{data[:80]!r}: answer {ans!r}, want ERR ... {want}")
    # over-long lines: refused (ERR) or hung up on
    for data in (b"A" * 5000 + b"\n", b"TEST " + b"size=64 " * 200 + b"\n",
                 b"\xff" * 100000):
        ans = exchange(srv.port, data)
        if ans is not None and not ans.startswith("ERR "):
            fail(f"over-long line: answer {ans!r}")
    srv.alive()
    # and it still serves, while the silent ones still hang on
    run_json(srv.port, "TCP_RR", sizes=[1], reps=2)
    run_json(srv.port, "SHM_RR", sizes=[64], reps=1, segment=seg)
    # the silent ones time out, each child exits
    for i, s in enumerate(silent):
        s.settimeout(30)
        try:
            ans = recv_line(s)
            if i == 2 and ans and ans.startswith("OK port="):
                ans = recv_line(s)
        except OSError:
            ans = None
        if ans is not None and not ans.startswith("ERR "):
            fail(f"silent client {i}: {ans!r}")
        if i == 2 and (ans is None or "never opened its data connection" not in ans):
            fail(f"client that never opened its data connection: {ans!r}")
        s.close()
    wait_for("every child to exit", lambda: not srv.children(), timeout=30)
    srv.alive()
    # a flood of connections: 32 children at most, the rest told it is busy
    flood = [socket.create_connection((HOST, srv.port), timeout=15) for _ in range(32)]
    wait_for("32 children", lambda: len(srv.children()) == 32, timeout=30)
    ans = exchange(srv.port, request_line())
    if ans is None or not ans.startswith("ERR busy: 32 tests running"):
        fail(f"connection 33: {ans!r}")
    for c in flood:
        c.close()
    wait_for("the flood's children to exit", lambda: not srv.children(), timeout=30)
    run_json(srv.port, "TCP_RR", sizes=[1], reps=1)
    srv.alive()
    ok(f"{len(cases) + 6} hostile control connections refused, a flood told the "
       "server is busy, the server serves on")


# ------------------------------------------------------------ deaths

def test_deaths(srv, seg):
    # a client killed mid-run: the server's child notices and exits
    for test, extra in (("SHM_STREAM", []), ("SHM_STREAM", ["--zerocopy"]),
                        ("SHM_RR", ["--wait", "block"]), ("SHM_RR", ["--wait", "adaptive"]),
                        ("TCP_STREAM", []), ("TCP_RR", []), ("UDP_STREAM", []), ("UDP_RR", [])):
        seg_args = ["--segment", seg] if test.startswith("SHM_") else []
        before = set(srv.children())
        c = spawn([PERF, "-H", HOST, "-p", str(srv.port), "-t", test, "-l", "30", "--verify",
                   *seg_args, *extra, "--", "-m", "64"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_for(f"{test}'s server child",
                 lambda: c.poll() is not None or set(srv.children()) - before)
        time.sleep(0.5)
        if c.poll() is not None:
            fail(f"{test} client ended early: {c.stderr.read()}")
        c.kill()
        c.wait()
        wait_for(f"{test}: the server's child to exit after its client died",
                 lambda: not srv.children(), timeout=20)
    srv.alive()
    log = srv.log_text()
    if "the client left mid-run" not in log:
        fail(f"the server did not say why its SHM child gave up: {log[-2000:]}")
    # a server child killed mid-run: the client gives up with a message
    # instead of waiting for its 30 s
    for test, extra in (("SHM_RR", []), ("TCP_RR", []), ("TCP_STREAM", [])):
        seg_args = ["--segment", seg] if test.startswith("SHM_") else []
        c = spawn([PERF, "-H", HOST, "-p", str(srv.port), "-t", test, "-l", "30", *seg_args,
                   *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(f"{test}'s server child", lambda: c.poll() is not None or srv.children())
        time.sleep(0.5)
        kids = srv.children()
        if c.poll() is not None or not kids:
            fail(f"{test} client ended early: {c.communicate()}")
        for k in kids:
            os.kill(k, signal.SIGKILL)
        try:
            _, err = c.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            fail(f"{test}: the client hangs after its server died")
        if c.returncode != 1 or len(err.strip().splitlines()) != 1:
            fail(f"{test} after its server died: exit {c.returncode}: {err}")
    srv.alive()
    # nothing is left over, and runs work as before
    run_json(srv.port, "SHM_STREAM", sizes=[1514], reps=1, segment=seg)
    run_json(srv.port, "SHM_RR", sizes=[64], reps=1, segment=seg, zerocopy=True)
    ok("clients and server children killed mid-run: the other end exits")


def main():
    t0 = time.monotonic()
    try:
        b = Broker()
        seg = b.sock
        srv = Server()
        silent = open_silent(srv)
        test_options(seg)
        test_all_tests(srv, seg)
        test_shm_modes(srv, seg)
        test_text(srv, seg)
        test_fake_servers()
        test_server_verify(srv)
        test_server_robustness(srv, seg, silent)
        test_deaths(srv, seg)
        srv.stop()
        b.stop()
        ok(f"clean shutdown, no sanitizer report ({time.monotonic() - t0:.0f} s)")
    finally:
        # the server's children first: they are ours too, and outlive it
        for p in ivtest.SPAWNED:
            for kid in children(p.pid) if p.poll() is None else []:
                try:
                    os.kill(kid, signal.SIGKILL)
                except OSError:
                    pass
        ivtest.kill_spawned()
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    ivtest.run(main)

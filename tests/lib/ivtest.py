# SPDX-License-Identifier: MIT
"""ivtest: what the integration and e2e scripts share (standard library only).

One failure semantics: a failed check raises Failure; run(main), each
script's top level, prints "FAIL: why" and exits 1, or exits 77 after
skip() said why the test cannot run here, or with main()'s return value.
Anything else (a bug in a script) ends in Python's traceback, exit 1.

- expect(), fail(), ok(), note(), skip(): checks and progress lines
- wait_for(): a predicate polled under a deadline
- parallel(): one callable per thread, results in order
- spawn(), stop_proc(), kill_spawned(): processes started here, stopped by
  their handle (so by their pid), never by name
- sanitizer_clean(): a process's output free of ASan/UBSan reports
- cpulist(), allowed(), llc_of(), cpuset_reason(): CPUs and cgroups, as
  the kernel reports them (the placement tests)
- hugepages(): huge pages reserved for a with block, the count put back
- EpTool: a tests/peers/ep_tool endpoint, its JSON events read in the
  background
- Broker: a real ivnetd on a socket in a work directory, asked through
  ivnetctl, stopped with SIGTERM and checked for a clean exit
"""
import array
import contextlib
import json
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

SKIP = 77  # meson's (and automake's) exit status for a skipped test
SANITIZER = ("Sanitizer", "runtime error")


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def ok(msg):
    print(f"ok: {msg}", flush=True)


def note(msg):
    print(f"    {msg}", flush=True)


def skip(why, required_env=None):
    """Exits 77 saying why the test cannot run here; a failure instead when
    the environment variable required_env is set (the test must run)."""
    if required_env and os.environ.get(required_env):
        raise Failure(f"{why} ({required_env} is set)")
    print(f"SKIP: {why}", flush=True)
    raise SystemExit(SKIP)


def run(main):
    """A script's top level: main()'s status (None is 0), or 1 with one
    FAIL line (and the failure it interrupted, if any) for a Failure."""
    try:
        status = main()
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        if isinstance(e.__context__, Failure):
            print(f"      (while failing with: {e.__context__})", flush=True)
        status = 1
    finally:
        kill_spawned()
    sys.exit(status or 0)


def wait_for(what, pred, timeout=60.0, interval=0.1, ignore=()):
    """pred()'s first true value, polled every interval seconds; Failure
    naming what after timeout seconds. Exceptions of the types in ignore
    count as not yet (the last one is named on timeout)."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
        except ignore as e:
            v, last = None, e
        if v:
            return v
        if time.monotonic() >= end:
            raise Failure(f"timed out after {timeout:g} s waiting for {what}"
                          + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def parallel(*calls):
    """Runs the callables in threads; returns their results in order, or
    raises the first exception."""
    results = [None] * len(calls)
    errors = [None] * len(calls)

    def one(i, c):
        try:
            results[i] = c()
        except BaseException as e:  # noqa: B902 - re-raised below
            errors[i] = e

    threads = [threading.Thread(target=one, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        if e:
            raise e
    return results


# ------------------------------------------------------------ processes

SPAWNED = []  # every process started through spawn(), killed at the end


def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    SPAWNED.append(p)
    return p


def stop_proc(proc, timeout=30):
    """SIGTERM, then SIGKILL after timeout seconds; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def kill_spawned():
    """SIGKILL to whatever spawn() started that still runs."""
    for p in SPAWNED:
        if p.poll() is None:
            p.kill()
            p.wait()


def sanitizer_clean(text, who, markers=SANITIZER):
    for bad in markers:
        if bad in text:
            fail(f"{who}: sanitizer report:\n{text[-4000:]}")


def read_text(path):
    """A file's text; empty if it is not there (yet)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


@contextlib.contextmanager
def hugepages(n=16):
    """Reserves n more huge pages for the with block; yields whether at
    least half could be (a machine may have no memory for them), and puts
    the count back after."""
    nr = "/proc/sys/vm/nr_hugepages"
    before = int(read_text(nr))
    with open(nr, "w") as f:
        f.write(str(before + n))
    try:
        yield int(read_text(nr)) >= before + n // 2
    finally:
        with open(nr, "w") as f:
            f.write(str(before))


# ------------------------------------------------------ CPUs and cgroups

CG_ROOT = "/sys/fs/cgroup"


def cpulist(text):
    """'0-2,5' -> {0, 1, 2, 5}"""
    out = set()
    for part in filter(None, text.strip().split(",")):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def allowed(pid, tid):
    """Where the kernel lets thread tid of pid run."""
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return cpulist(line.split(":", 1)[1])
    raise ValueError("no Cpus_allowed_list")


def llc_of(cpu):
    """The CPUs sharing cpu's last-level cache, as sysfs says."""
    best, shared = 0, {cpu}
    base = f"/sys/devices/system/cpu/cpu{cpu}/cache"
    for idx in os.listdir(base) if os.path.isdir(base) else []:
        try:
            level = int(read_text(f"{base}/{idx}/level"))
            kind = read_text(f"{base}/{idx}/type").strip()
            if kind != "Instruction" and level > best:
                best, shared = level, cpulist(read_text(f"{base}/{idx}/shared_cpu_list"))
        except ValueError:
            pass
    return shared


def cpuset_reason():
    """Why the cpuset mechanism cannot work here, or None."""
    try:
        with open(f"{CG_ROOT}/cgroup.controllers") as f:
            ctrl = f.read().split()
    except OSError:
        return f"no cgroup v2 at {CG_ROOT} (cgroup v1 or a hybrid setup)"
    if "cpuset" not in ctrl:
        return f"cgroup v2 at {CG_ROOT} offers no cpuset controller ({' '.join(ctrl)})"
    if os.geteuid() != 0:
        return "not root: cannot make cgroups"
    return None


# --------------------------------------------------------------- broker

class EpTool:
    """An ep_tool process on SOCK (extra: its options); its JSON lines are
    collected in the background, errors fail the test."""

    def __init__(self, ep_tool, sock, *extra):
        self.proc = spawn([ep_tool, sock, "--report-ms", "100", *extra],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.errors = []
        threading.Thread(target=self._read, daemon=True).start()
        self.joined = self.next_event("joined")

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev["event"] == "error":
                self.errors.append(ev)
            self.lines.put(ev)

    def next_event(self, kind, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                ev = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            if ev["event"] == "error":
                fail(f"endpoint {self.proc.pid} error: {ev}")
            if ev["event"] == kind:
                return ev
        fail(f"no '{kind}' from endpoint {self.proc.pid} (exit {self.proc.poll()}): "
             f"{self.proc.stderr.read() if self.proc.poll() is not None else ''}")

    def reports(self):
        """Every report since the last call (at least one)."""
        out = [self.next_event("report")]
        while not self.lines.empty():
            ev = self.lines.get()
            if ev["event"] == "error":
                fail(f"endpoint {self.proc.pid} error: {ev}")
            if ev["event"] == "report":
                out.append(ev)
        return out

    def report(self):
        """The newest report."""
        return self.reports()[-1]

    @property
    def id(self):
        return self.joined["id"]

    def rx_from(self, other):
        """Verified frames received from other so far."""
        return self.report()["rx"].get(str(other.id), 0)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        if self.errors:
            fail(f"endpoint {self.proc.pid} errors: {self.errors}")
        sanitizer_clean(self.proc.stderr.read(), f"ep_tool {self.proc.pid}")


class Broker:
    """A real ivnetd in the foreground: segment NAME on WORKDIR/NAME.sock
    (its control socket beside it, .ctl), size bytes, its log in
    WORKDIR/NAME.log (or log), stderr in WORKDIR/NAME.err; extra are more
    ivnetd options, wrap a command line it runs under. Ready once its
    sockets are there and the control socket answers (through ivnetctl,
    unless that is None); with expect_fail, it is waited for instead (it
    must exit by itself)."""

    def __init__(self, ivnetd, ivnetctl, workdir, name, *extra, size="16M", log=None,
                 wrap=(), expect_fail=False, **popen):
        self.ivnetctl, self.name = ivnetctl, name
        self.sock = os.path.join(workdir, f"{name}.sock")
        self.ctlp = self.sock + ".ctl"
        self.log = log or os.path.join(workdir, f"{name}.log")
        self.errp = os.path.join(workdir, f"{name}.err")
        self.stopped = False
        argv = [*wrap, ivnetd, "-F", "-S", self.sock, "-l", str(size), "--name", name,
                "--log", self.log, *extra]
        with open(self.errp, "w") as err:
            self.proc = spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=err, **popen)
        if expect_fail:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                fail(f"ivnetd {' '.join(extra)}: still running, should have refused")
            self.stopped = True
            return
        wait_for(f"ivnetd {name} to answer on {self.ctlp}",
                 lambda: self.proc.poll() is not None or self.ready())
        if self.proc.poll() is not None:
            self.stopped = True
            fail(f"ivnetd exited {self.proc.returncode}: {self.err_text()}\n{self.log_text()}")

    def ctl(self, *args, timeout=30):
        """ivnetctl ARGS on the control socket, as it ran."""
        return subprocess.run([self.ivnetctl, "-s", self.ctlp, *args], capture_output=True,
                              text=True, timeout=timeout)

    def ctl_json(self, *args):
        """ivnetctl -j ARGS: its answer; Failure if it exits non-zero."""
        out = self.ctl("-j", *args)
        expect(out.returncode == 0, f"ivnetctl {' '.join(args)}: {out.stdout}{out.stderr}")
        return json.loads(out.stdout)

    def ready(self):
        return os.path.exists(self.sock) and os.path.exists(self.ctlp) and \
            (self.ivnetctl is None or self.ctl_ok())

    def ctl_ok(self):
        return self.ctl("status").returncode == 0

    def peers(self):
        return self.ctl_json("peer", "list")["peers"]

    def peer_of_pid(self, pid, timeout=30):
        """The broker's entry for the peer with this pid, once it is there."""
        return wait_for(f"pid {pid} in the peer list",
                        lambda: next((p for p in self.peers() if p["pid"] == pid), None),
                        timeout)

    def wait_gone(self, pid, timeout=30):
        wait_for(f"the broker to see pid {pid} leave",
                 lambda: all(p["pid"] != pid for p in self.peers()), timeout)

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def log_text(self):
        return read_text(self.log)

    def err_text(self):
        return read_text(self.errp)

    def stop(self, timeout=30):
        """SIGTERM; Failure unless it exits 0 within timeout seconds with no
        sanitizer report. Returns its stderr."""
        if self.stopped:
            return self.err_text()
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail(f"ivnetd {self.name} did not stop on SIGTERM")
        err = self.err_text()
        sanitizer_clean(err, f"ivnetd {self.name}")
        expect(self.proc.returncode == 0, f"ivnetd exit {self.proc.returncode}: {err[-3000:]}")
        return err

    def kill(self):
        """After a failure: no checks, only gone."""
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def ivshmem_msg(sock, timeout=None):
    """One message of the ivshmem-server protocol (8 bytes, little-endian,
    at most one fd): (value, fd or None). A short read raises EOFError (the
    server closed), a message with more than one fd ValueError."""
    if timeout is not None:
        sock.settimeout(timeout)
    fds = array.array("i")
    data, anc, _, _ = sock.recvmsg(8, socket.CMSG_LEN(4 * fds.itemsize))
    if len(data) != 8:
        raise EOFError(f"short message: {data!r}")
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    if len(fds) > 1:
        raise ValueError("more than one fd in a message")
    return struct.unpack("<q", data)[0], (fds[0] if fds else None)

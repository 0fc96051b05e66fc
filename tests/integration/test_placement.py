#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Placement integration tests: a real ivnetd places real processes (vcpu_tool,
whose threads are named like QEMU's vCPU threads, and ep_tool endpoints),
and the kernel is asked where each thread may run
(/proc/PID/task/TID/status Cpus_allowed_list), while joined and after the
peer left.

usage: test_placement.py --mechanism affinity|cpuset IVNETD IVNETCTL VCPU_TOOL EP_TOOL

With --mechanism cpuset the test needs cgroup v2 with the cpuset controller
at /sys/fs/cgroup; where it is absent it says why and exits 77 (skip).
"""
import argparse
import json
import os
import queue
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
from ivtest import CG_ROOT, allowed, cpulist, cpuset_reason, fail, llc_of  # noqa: E402
from ivtest import ok, spawn  # noqa: E402

A = None
TMP = tempfile.mkdtemp(prefix="ivnet-place-")


def wait_for(what, pred, timeout=60.0):
    """ivtest.wait_for, a thread or process that is not there (yet) or a
    half-written answer counting as not yet."""
    return ivtest.wait_for(what, pred, timeout, ignore=(OSError, ValueError, KeyError, IndexError))


def task_stat(pid, tid):
    """(nice, rt_priority, policy) of a thread, from its stat line."""
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): nice is field 19, rt_priority 40, policy 41
    return int(fields[16]), int(fields[37]), int(fields[38])


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


ONLINE = cpulist(open("/sys/devices/system/cpu/online").read())
BASE = allowed(os.getpid(), os.getpid())  # what our children start with


class Broker(ivtest.Broker):
    def __init__(self, name, *extra, **kw):
        super().__init__(A.ivnetd, A.ivnetctl, TMP, name, *extra, **kw)

    def placement(self):
        segs = self.ctl_json("placement")["segments"]
        if len(segs) != 1 or segs[0]["segment"] != self.name:
            fail(f"placement lists {segs}")
        return segs[0]

    def peer(self, pid):
        for p in self.placement()["peers"]:
            if p["pid"] == pid:
                return p
        return None


class Tool:
    """A vcpu_tool process; its JSON lines are read in the background."""

    def __init__(self, broker, *extra):
        self.proc = spawn([A.vcpu_tool, broker.sock, *extra], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ev = self.next_event("joined")
        self.id, self.pid, self.threads = ev["id"], ev["pid"], ev["threads"]

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                pass

    def next_event(self, kind, timeout=20):
        try:
            ev = self.lines.get(timeout=timeout)
        except queue.Empty:
            fail(f"vcpu_tool: no '{kind}' (exit {self.proc.poll()})")
        if ev["event"] != kind:
            fail(f"vcpu_tool: {ev} instead of '{kind}'")
        return ev

    def tid(self, name):
        return self.threads[name]

    def masks(self):
        return {n: allowed(self.pid, t) for n, t in self.threads.items()}

    def leave(self):
        self.proc.send_signal(signal.SIGUSR1)
        self.next_event("left")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        if self.proc.returncode not in (0, -signal.SIGKILL):
            fail(f"vcpu_tool exit {self.proc.returncode}: {self.proc.stderr.read()}")


def pin(*extra):
    return ["--pin", A.mechanism, *extra]


def check_threads_listed(b, tool, want):
    """ivnetctl -j placement lists every thread of tool with the CPUs the
    kernel reports and the mechanism; want maps names to planned CPUs."""
    peer = b.peer(tool.pid)
    if not peer or peer["id"] != tool.id:
        fail(f"peer {tool.id} (pid {tool.pid}) not in placement: {b.placement()}")
    listed = {t["tid"]: t for t in peer["threads"]}
    for name, tid in tool.threads.items():
        t = listed.get(tid)
        if not t:
            fail(f"thread {name} ({tid}) not listed: {peer}")
        if t["name"] != (name if name != "main" else "vcpu_tool") or \
                t["mechanism"] != A.mechanism:
            fail(f"thread {name}: listed as {t}")
        if cpulist(t["cpus"]) != want[name] or cpulist(t["cpus"]) != allowed(tool.pid, tid):
            fail(f"thread {name}: listed cpus {t['cpus']}, planned {want[name]}, "
                 f"kernel {allowed(tool.pid, tid)}")
    return peer


# ------------------------------------------------------------------ tests

def test_topology(b):
    """ivnetctl -j topology says what sysfs says."""
    t = b.ctl_json("topology")
    if cpulist(t["online"]) != ONLINE:
        fail(f"topology online {t['online']} vs {ONLINE}")
    cores = set()
    for c in ONLINE:
        with open(f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list") as f:
            cores.add(frozenset(cpulist(f.read()) & ONLINE))
    if {frozenset(cpulist(c["cpus"])) for c in t["cores"]} != cores:
        fail(f"cores {t['cores']} vs sysfs {cores}")
    covered = set()
    for llc in t["llcs"]:
        s = cpulist(llc["cpus"])
        if s & covered or llc["level"] < 1:
            fail(f"LLC domains overlap or have no level: {t['llcs']}")
        covered |= s
    if covered != ONLINE:
        fail(f"LLC domains cover {covered}, not {ONLINE}")
    text = b.ctl("topology").stdout
    if not text.startswith("cpus ") or "llc 0 level" not in text:
        fail(f"text topology: {text}")


def test_pack(one):
    """pack on one CPU: every thread there while joined; each thread's own
    affinity back after the leave (CPU 1's was set by the thread itself)."""
    b = Broker(f"pack-{A.mechanism}", "--placement", "pack", "--placement-cpus", str(one),
               *pin())
    tool = Tool(b, "--vcpus", "2", "--others", "1", "--affinity", f"1={min(ONLINE)}")
    # what each thread had before the join (the join places at once)
    before = {n: BASE for n in tool.threads}
    before["CPU 1/TCG"] = {min(ONLINE)}
    cg_before = cgroup_of(tool.pid)
    want = {n: {one} for n in tool.threads}
    wait_for("every thread on the packed CPU", lambda: tool.masks() == want)
    seg = b.placement()
    if (seg["policy"], seg["mechanism"], seg["cpus"], seg["domain"]) != (
            "pack", A.mechanism, str(one), str(one)):
        fail(f"segment placement {seg}")
    peer = check_threads_listed(b, tool, want)
    names = {t: n for n, t in tool.threads.items()}
    prev = {names[t["tid"]]: cpulist(t["previous"]) for t in peer["threads"]}
    if prev != before:
        fail(f"previous masks {prev} vs before {before}")
    if A.mechanism == "cpuset":
        check_cgroup_while_placed(b, tool, peer)
    tool.leave()
    wait_for("every thread's own affinity back", lambda: tool.masks() == before)
    wait_for("peer gone from placement", lambda: b.peer(tool.pid) is None)
    if A.mechanism == "cpuset":
        check_cgroup_after(tool, peer, cg_before)
    tool.stop()
    if "unplace segment=" not in b.log_text():
        fail("no unplace line in the log")
    b.stop()


def test_spread_replan(cpus):
    """spread: a CPU per vCPU, peers in id order; when the first peer leaves,
    the second moves up to the first CPU (live re-placement)."""
    lo, hi = cpus
    b = Broker(f"spread-{A.mechanism}", "--placement", "spread", "--placement-cpus",
               f"{lo},{hi}", *pin())
    t1 = Tool(b, "--vcpus", "1", "--others", "1")
    t2 = Tool(b, "--vcpus", "1", "--others", "1")
    if (t1.id, t2.id) != (0, 1):
        fail(f"peer ids {t1.id} {t2.id}")
    dom = {lo, hi}
    w1 = {"main": dom, "CPU 0/TCG": {lo}, "worker-0": dom}
    w2 = {"main": dom, "CPU 0/TCG": {hi}, "worker-0": dom}
    wait_for("both placed", lambda: t1.masks() == w1 and t2.masks() == w2)
    check_threads_listed(b, t1, w1)
    p2 = check_threads_listed(b, t2, w2)
    before1 = {n: BASE for n in t1.threads}
    t1.leave()
    w2["CPU 0/TCG"] = {lo}
    wait_for("the second peer's vCPU moved to the first CPU", lambda: t2.masks() == w2)
    wait_for("the first peer's threads restored", lambda: t1.masks() == before1)
    check_threads_listed(b, t2, w2)
    if A.mechanism == "cpuset":
        # the vCPU's own threaded cgroup follows the plan
        tid = t2.tid("CPU 0/TCG")
        if not cgroup_of(t2.pid).endswith(f"peer1.{t2.pid}"):
            fail(f"second peer's cgroup {cgroup_of(t2.pid)}")
        wait_for("vCPU in its threaded cgroup",
                 lambda: open(f"/proc/{t2.pid}/task/{tid}/cgroup").read().strip().endswith(
                     f"peer1.{t2.pid}/vcpu0"))
        cpus_file = os.path.join(p2["cgroup"], "vcpu0", "cpuset.cpus")
        wait_for("vcpu0 cgroup on the first CPU",
                 lambda: cpulist(open(cpus_file).read()) == {lo})
    t2.leave()
    wait_for("second peer restored", lambda: t2.masks() == {n: BASE for n in t2.threads})
    t1.stop()
    t2.stop()
    b.stop()


def test_late_threads(one):
    """QEMU's order: join first, vCPU threads later. The rescan places them;
    what they get back is what the main thread had."""
    b = Broker(f"late-{A.mechanism}", "--placement", "pack", "--placement-cpus", str(one),
               *pin())
    tool = Tool(b, "--vcpus", "2", "--others", "0", "--join-first")
    wait_for("late vCPU threads placed",
             lambda: tool.masks() == {n: {one} for n in tool.threads})
    wait_for("both vCPUs seen", lambda: b.peer(tool.pid)["vcpus"] == 2 and
             b.peer(tool.pid)["found_by"] == "names")
    tool.leave()
    wait_for("restored to the main thread's mask",
             lambda: tool.masks() == {n: BASE for n in tool.threads})
    tool.stop()
    b.stop()


def test_plain_endpoints(cpus):
    """Processes without vCPU threads are placed whole: two libivnet
    endpoints, one CPU each under spread, still exchanging traffic."""
    lo, hi = cpus
    b = Broker(f"plain-{A.mechanism}", "--placement", "spread", "--placement-cpus",
               f"{lo},{hi}", *pin())
    eps = [spawn([A.ep_tool, b.sock, "--report-ms", "100"], stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        ids = [json.loads(e.stdout.readline())["id"] for e in eps]
        by_id = dict(zip(ids, eps))
        for pid_order, cpu in zip(sorted(ids), (lo, hi)):
            p = by_id[pid_order].pid
            wait_for(f"endpoint {pid_order} on CPU {cpu}",
                     lambda: all(allowed(p, int(t)) == {cpu}
                                 for t in os.listdir(f"/proc/{p}/task")))
        # traffic both ways while placed (ep_tool checks every frame)
        for e, other in ((eps[0], ids[1]), (eps[1], ids[0])):
            wait_for("traffic", lambda: json.loads(e.stdout.readline()).get("rx", {})
                     .get(str(other), 0) > 1000)
        # a whole process gets the one CPU with one vCPU-less unit
        tool = Tool(b, "--vcpus", "0", "--others", "3")
        cpu = lo  # units: endpoints 0 and 1, then this process: wraps to the first CPU
        wait_for("multi-threaded plain process on one CPU",
                 lambda: tool.masks() == {n: {cpu} for n in tool.threads})
        tool.stop()
    finally:
        for e in eps:
            e.terminate()
            e.wait(timeout=20)
    b.stop()


def test_sched():
    """nice and SCHED_FIFO on the vCPU threads only, put back after the leave;
    the log warns that real-time priority can starve the host."""
    b = Broker(f"sched-{A.mechanism}", "--placement", "pack", "--sched", "nice:5", *pin())
    tool = Tool(b, "--vcpus", "2", "--others", "1")
    vc = [tool.tid("CPU 0/TCG"), tool.tid("CPU 1/TCG")]
    wait_for("vCPU threads niced", lambda: all(task_stat(tool.pid, t)[0] == 5 for t in vc))
    if task_stat(tool.pid, tool.tid("worker-0"))[0] != 0:
        fail("a non-vCPU thread was niced")
    out = b.ctl("-j", "placement", "set", b.name, "sched=fifo:1")
    if out.returncode:
        fail(f"placement set sched: {out.stdout}")
    wait_for("vCPU threads SCHED_FIFO 1",
             lambda: all(task_stat(tool.pid, t)[1:] == (1, 1) for t in vc))
    wait_for("nice put back when the policy changed",
             lambda: all(task_stat(tool.pid, t)[0] == 0 for t in vc))
    if "real-time priority" not in b.log_text():
        fail("no real-time warning in the log")
    tool.leave()
    wait_for("SCHED_OTHER back", lambda: all(task_stat(tool.pid, t) == (0, 0, 0) for t in vc))
    tool.stop()
    b.stop()


def test_set_at_runtime(one):
    """placement set: none -> pack -> none on a running segment; bad sets are
    refused and change nothing."""
    b = Broker(f"set-{A.mechanism}", *pin())
    tool = Tool(b, "--vcpus", "1", "--others", "1")
    seg = b.placement()
    if seg["policy"] != "none" or seg["peers"][0]["threads"]:
        fail(f"nothing should be placed: {seg}")
    out = b.ctl("-j", "placement", "set", b.name, "policy=pack", f"cpus={one}")
    if out.returncode or json.loads(out.stdout)["segments"][0]["policy"] != "pack":
        fail(f"placement set pack: {out.stdout}")
    wait_for("placed after set", lambda: tool.masks() == {n: {one} for n in tool.threads})
    bad = b.ctl("placement", "set", b.name, "cpus=1023")
    if bad.returncode != 1 or "not all online" not in bad.stdout:
        fail(f"offline CPU accepted: {bad.stdout}")
    bad = b.ctl("placement", "set", b.name, "policy=scatter")
    if bad.returncode != 1 or not bad.stdout.startswith("error: bad setting"):
        fail(f"bad policy accepted: {bad.stdout}")
    if tool.masks() != {n: {one} for n in tool.threads}:
        fail("a refused set changed the placement")
    out = b.ctl("placement", "set", b.name, "policy=none")
    if out.returncode:
        fail(f"placement set none: {out.stdout}")
    wait_for("restored after set none", lambda: tool.masks() == {n: BASE for n in tool.threads})
    tool.stop()
    b.stop()


class FakeQmp:
    """A QMP server on a unix socket, answering query-cpus-fast with the
    given (cpu-index, thread-id) pairs, or misbehaving as asked."""

    def __init__(self, path, cpus=(), mode="good"):
        self.path, self.cpus, self.mode = path, cpus, mode
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.served = 0
        self.done = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.done:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                self._one(c)
            except OSError:
                pass
            finally:
                c.close()
                self.served += 1

    def _one(self, c):
        f = c.makefile("rwb", buffering=0)
        f.write(b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, '
                b'"capabilities": ["oob"]}}\r\n')
        if self.mode == "silent":
            time.sleep(5)
            return
        f.readline()
        f.write(b'{"return": {}}\r\n')
        f.readline()
        f.write(b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}\r\n')
        if self.mode == "garbage":
            f.write(b'{"return": [{"cpu-index": 0, "thread-id": 12x}]}\r\n')
        elif self.mode == "huge":
            f.write(b'{"return": "' + b"A" * 70000)
        else:
            cpus = ", ".join(f'{{"cpu-index": {i}, "qom-path": "/machine/cpu[{i}]", '
                             f'"thread-id": {t}, "props": {{"core-id": {i}}}}}'
                             for i, t in self.cpus)
            f.write(f'{{"return": [{cpus}]}}\r\n'.encode())

    def close(self):
        self.done = True
        self.sock.close()
        os.unlink(self.path)


def test_qmp(cpus):
    """vCPU threads named otherwise are found through QMP query-cpus-fast
    (a --qmp pattern, tried until the socket appears); lying or broken QMP
    replies are refused with a reason and change nothing."""
    lo, hi = cpus
    pattern = os.path.join(TMP, "qmp-%p.sock")
    b = Broker(f"qmp-{A.mechanism}", "--placement", "spread", "--placement-cpus",
               f"{lo},{hi}", "--qmp", pattern, *pin())
    tool = Tool(b, "--vcpus", "2", "--others", "1", "--names", "plain")
    # QEMU's cpu-index 0 is the thread named vcpu-1 here: names do not count
    q = FakeQmp(pattern.replace("%p", str(tool.pid)),
                [(0, tool.tid("vcpu-1")), (1, tool.tid("vcpu-0"))])
    dom = {lo, hi}
    want = {"main": dom, "vcpu-1": {lo}, "vcpu-0": {hi}, "worker-0": dom}
    wait_for("vCPUs placed by QMP's word", lambda: tool.masks() == want)
    peer = check_threads_listed(b, tool, want)
    if peer["vcpus"] != 2 or peer["qmp"] != q.path or peer["found_by"] != "qmp":
        fail(f"QMP peer {peer}")
    q.close()
    label = ["peer", "label", b.name, str(tool.id)]
    cases = [("garbage", [], "QMP reply:"),
             ("huge", [], "longer than 64 KiB"),
             ("good", [(0, os.getpid())], "not a thread of pid"),
             ("good", [(0, tool.tid("vcpu-0")), (0, tool.tid("vcpu-1"))], "listed twice"),
             ("silent", [], "no reply in time")]
    for i, (mode, cpus_, why) in enumerate(cases):
        path = os.path.join(TMP, f"bad{i}.qmp")
        bad = FakeQmp(path, cpus_, mode)
        out = b.ctl(*label, f"qmp={path}")
        bad.close()
        if out.returncode != 1 or why not in out.stdout:
            fail(f"QMP {mode} {cpus_}: expected '{why}', got {out.returncode} {out.stdout}")
        if tool.masks() != want:
            fail(f"a refused QMP reply changed the placement: {tool.masks()}")
    unreachable = b.ctl(*label, f"qmp={os.path.join(TMP, 'nobody.qmp')}")
    if unreachable.returncode != 1 or "unreachable" not in unreachable.stdout:
        fail(f"unreachable QMP: {unreachable.stdout}")
    tool.leave()
    wait_for("restored", lambda: tool.masks() == {n: BASE for n in tool.threads})
    tool.stop()
    b.stop()


def region_maps(pid):
    """numa_maps lines of the broker's region (a memfd named after it)."""
    with open(f"/proc/{pid}/numa_maps") as f:
        return [l for l in f if "memfd:" in l or "/memfd" in l]


def test_memory():
    """The region's pages are locked and bound to the plan's node; a
    MEMLOCK limit is a warning unless --mlock require."""
    b = Broker("mem", "--placement", "pack")
    with open(f"/proc/{b.proc.pid}/status") as f:
        vmlck = [int(l.split()[1]) for l in f if l.startswith("VmLck:")][0]
    if vmlck < 16 << 10:
        fail(f"region not locked: VmLck {vmlck} kB")
    seg = b.placement()
    if seg["locked"] != 16 << 20:
        fail(f"placement says locked {seg['locked']}")
    if seg["node"] >= 0:
        maps = region_maps(b.proc.pid)
        if not any(f"bind:{seg['node']}" in l for l in maps):
            fail(f"region not bound to node {seg['node']}: {maps}")
    b.stop()
    setpriv, prlimit = shutil.which("setpriv"), shutil.which("prlimit")
    if not (setpriv and prlimit):
        ivtest.note("no setpriv/prlimit: MEMLOCK limit not tried")
        return
    # without CAP_IPC_LOCK (dropped from the bounding set: root's exec keeps
    # only what it holds) and a 64 KiB limit
    wrap = [setpriv, "--bounding-set", "-ipc_lock", prlimit, "--memlock=65536:65536"]
    b = Broker("memwarn", "--placement", "pack", wrap=wrap)
    if "cannot lock the region" not in b.log_text() or "RLIMIT_MEMLOCK is 65536" \
            not in b.log_text():
        fail(f"no MEMLOCK warning: {b.log_text()}")
    if b.placement()["locked"] != 0:
        fail("says locked without a lock")
    b.stop()
    b = Broker("memreq", "--placement", "pack", "--mlock", "require", wrap=wrap,
               expect_fail=True)
    if b.proc.returncode == 0 or \
            "error segment=memreq: cannot lock the region" not in b.log_text():
        fail(f"--mlock require must refuse to start: rc {b.proc.returncode} {b.log_text()}")


def test_bad_options():
    b = Broker("bad1", "--placement", "scatter", expect_fail=True)
    if b.proc.returncode != 2 or "bad value for placement: 'scatter'" not in b.err_text():
        fail(f"bad policy: {b.proc.returncode} {b.err_text()}")
    b = Broker("bad2", "--placement", "pack", "--placement-cpus", "1023", expect_fail=True)
    if b.proc.returncode != 1 or "not all online" not in b.log_text():
        fail(f"offline core set: {b.proc.returncode} {b.log_text()}")
    b = Broker("bad3", "--segment", f"socket={TMP}/b3.sock,placement=pack,cpus=0,1023",
               expect_fail=True)
    if b.proc.returncode != 1 or "not all online" not in b.log_text():
        fail(f"--segment cpus list: {b.proc.returncode} {b.log_text()}")
    if not cpuset_reason():
        return
    b = Broker("bad4", "--placement", "pack", "--pin", "cpuset", expect_fail=True)
    if b.proc.returncode != 1 or "pin=affinity" not in b.log_text():
        fail(f"cpuset without cgroup v2 cpuset must say so: {b.log_text()}")


# ---------------------------------------------------------------- cgroups

PARENT = f"{CG_ROOT}/ivnet-test-{os.getpid()}"


def check_cgroup_while_placed(b, tool, peer):
    cg = peer["cgroup"]
    seg_dir = b.placement()["cgroup"]
    if not cg.startswith(seg_dir + "/") or not seg_dir.startswith(PARENT + "/"):
        fail(f"peer cgroup {cg} not under {seg_dir} under {PARENT}")
    if f"{CG_ROOT}{cgroup_of(tool.pid)}" != cg:
        fail(f"process in {cgroup_of(tool.pid)}, placement says {cg}")
    if cpulist(open(os.path.join(cg, "cpuset.cpus")).read()) != \
            cpulist(peer["threads"][0]["planned"]) | cpulist(b.placement()["domain"]):
        fail("peer cgroup's cpuset.cpus is not the domain")


def check_cgroup_after(tool, peer, cg_before):
    wait_for("process back in its cgroup", lambda: cgroup_of(tool.pid) == cg_before)
    wait_for("peer cgroup removed", lambda: not os.path.exists(peer["cgroup"]))


def test_cgroup_exit(one):
    """A placed process that dies: its cgroup goes once it is reaped; the
    segment's cgroup and the parent made for it go when ivnetd stops."""
    b = Broker("cgexit", "--placement", "pack", "--placement-cpus", str(one), *pin())
    tool = Tool(b, "--vcpus", "1", "--others", "0")
    wait_for("placed", lambda: b.peer(tool.pid) and b.peer(tool.pid)["cgroup"])
    cg = b.peer(tool.pid)["cgroup"]
    seg_dir = b.placement()["cgroup"]
    tool.proc.kill()
    tool.proc.wait()
    wait_for("cgroup of the killed process removed", lambda: not os.path.exists(cg))
    b.stop()
    if os.path.exists(seg_dir) or os.path.exists(PARENT):
        fail(f"cgroups left behind: {seg_dir} {PARENT}")


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--mechanism", choices=("affinity", "cpuset"), required=True)
    ap.add_argument("ivnetd")
    ap.add_argument("ivnetctl")
    ap.add_argument("vcpu_tool")
    ap.add_argument("ep_tool")
    A = ap.parse_args()
    if A.mechanism == "cpuset":
        why = cpuset_reason()
        if why:
            ivtest.skip(f"the cpuset mechanism needs cgroup v2 with cpuset: {why}")
        global pin

        def pin(*extra):  # noqa: F811 - every broker of this run uses the test parent
            return ["--pin", "cpuset", "--cgroup", PARENT, *extra]
    # two CPUs we may use that share a last-level cache: one domain
    pair = next((sorted(llc_of(c) & BASE)[:2] for c in sorted(BASE)
                 if len(llc_of(c) & BASE) >= 2), None)
    if not pair:
        ivtest.skip(f"needs two CPUs this process may use in one LLC domain (allowed {BASE})")
    lo, hi = pair
    try:
        if A.mechanism == "affinity":
            b = Broker("topo")
            test_topology(b)
            b.stop()
            ok("topology matches sysfs")
        test_pack(hi)
        ok(f"pack on CPU {hi}, restored after leave ({A.mechanism})")
        test_spread_replan((lo, hi))
        ok(f"spread, live re-placement when a peer leaves ({A.mechanism})")
        test_late_threads(hi)
        ok(f"threads born after the join placed by the rescan ({A.mechanism})")
        test_plain_endpoints((lo, hi))
        ok(f"plain processes placed whole, traffic flows ({A.mechanism})")
        test_sched()
        ok(f"nice and SCHED_FIFO on vCPUs, restored ({A.mechanism})")
        test_set_at_runtime(hi)
        ok(f"placement set none/pack/none at run time ({A.mechanism})")
        if A.mechanism == "affinity":
            test_qmp((lo, hi))
            ok("QMP query-cpus-fast, hostile replies refused")
            test_memory()
            ok("region locked and bound; MEMLOCK limit warned or refused")
            test_bad_options()
            ok("bad placement options refused")
        else:
            test_cgroup_exit(hi)
            ok("cgroups removed after exit and stop")
    finally:
        ivtest.kill_spawned()
        if A.mechanism == "cpuset" and os.path.isdir(PARENT):
            # only after a failure: never leave our cgroups behind
            for root, dirs, _ in os.walk(PARENT, topdown=False):
                for d in dirs:
                    try:
                        os.rmdir(os.path.join(root, d))
                    except OSError:
                        pass
            try:
                os.rmdir(PARENT)
            except OSError:
                pass
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    ivtest.run(main)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ivnet-vswitch integration tests, no VMs: dpdk-testpmd with net_virtio_user
stands in for each guest's virtio-net, a net_tap uplink lives in a network
namespace of ours (the switch runs in it, so the TAP is created there),
where a raw socket counts what comes out. ivnetctl asks the switch.

 1. ports, control requests and their errors;
 2. A (txonly, to B's MAC) -> B (macswap, echoes to A), C (rxonly), uplink:
    the first frames flood to B, C and the uplink; once B's echo is learned
    only B gets A's frames and only A gets B's: C and the uplink none;
 3. B's testpmd restarts: the vhost-user port reconnects, traffic resumes;
 4. a port added at run time in client mode (testpmd is the vhost-user
    server), its peer restarted (reconnects), then removed while traffic
    flows;
 5. MAC aging once traffic stops;
 6. a clean SIGTERM stop, no sanitizer report, no socket left behind.

usage: test_vswitch.py IVNET_VSWITCH IVNETCTL
"""
import json
import os
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import ivtest  # noqa: E402
from ivtest import fail, ok, wait_for  # noqa: E402
from vswlib import Capture, Netns, Switch, Testpmd  # noqa: E402

VSWITCH, IVNETCTL = sys.argv[1:3]
TMP = tempfile.mkdtemp(prefix="ivnet-vsw-")
TAG = f"vsw{os.getpid() % 100000}"
TAP = f"{TAG}t"
MAC = {n: f"02:00:00:5e:00:{i:02x}" for i, n in enumerate("abcd", start=0x0a)}
AGING = 4


def sock(name):
    return os.path.join(TMP, f"{name}.sock")


def test_control(sw):
    ports = sw.ports()
    if sorted(ports) != ["a", "b", "c", "up"]:
        fail(f"ports at start: {ports}")
    if ports["a"]["kind"] != "vhost" or ports["a"]["mode"] != "server" or \
            ports["up"]["kind"] != "dpdk" or ports["up"]["link"] != "up":
        fail(f"port details: {ports}")
    st = sw.ctl_json("status")
    if st["ports"] != 4 or st["lcores"] != [1] or st["aging"] != AGING:
        fail(f"status: {st}")
    text = sw.ctl_run("port", "list").stdout.splitlines()
    if len(text) != 4 or not text[0].startswith("a slot 0 vhost path "):
        fail(f"text port list: {text}")
    for args, why in [(["port", "add", "x", "vhost", f"path={sock('a')}"], "already uses"),
                      (["port", "add", "a", "vhost", "path=/tmp/other"], "exists"),
                      (["port", "add", "y", "dpdk", "dev=net_nosuch0"], "probing"),
                      (["port", "add", "z", "tap"], "unknown port kind"),
                      (["port", "del", "nosuch"], "no port"),
                      (["frobnicate"], "unknown request")]:
        out = sw.ctl_run(*args)
        if out.returncode != 1 or not out.stdout.startswith("error: ") or why not in out.stdout:
            fail(f"{args}: expected an error with '{why}', got {out.returncode} {out.stdout}")
    if "error" not in json.loads(sw.ctl_run("port", "del", "nosuch", json_out=True).stdout):
        fail("JSON error")
    if len(sw.ports()) != 4:
        fail("a failed port add left something behind")


def delta(before, after, name, key="tx_packets"):
    return after[name][key] - before[name][key]


def test_learning(sw, cap):
    c = Testpmd(TMP, sock("c"), MAC["c"], "rxonly")
    b = Testpmd(TMP, sock("b"), MAC["b"], "macswap")
    wait_for("testpmd C and B", lambda: c.started() and b.started())
    a = Testpmd(TMP, sock("a"), MAC["a"], "txonly", peer=MAC["b"])
    wait_for("A's frames at B and B's echoes at A",
             lambda: (lambda n: n["b"]["tx_packets"] > 1000 and
                      n["a"]["tx_packets"] + n["a"]["tx_dropped"] > 1000)(sw.counters()),
             timeout=120)
    fdb = sw.fdb()
    if fdb.get(MAC["a"]) != "a" or fdb.get(MAC["b"]) != "b":
        fail(f"fdb: {fdb}")
    n0 = sw.counters()
    if n0["c"]["tx_packets"] < 1 or n0["up"]["tx_packets"] < 1:
        fail(f"A's first frames did not flood to C and the uplink: {n0}")
    seen = wait_for("A's frames at the uplink's far side",
                    lambda: cap.counts().get(MAC["a"], 0))
    # learned: from now on A's frames go to B alone
    time.sleep(1)
    n1 = sw.counters()
    time.sleep(2)
    n2 = sw.counters()
    if delta(n1, n2, "b") <= 0 or delta(n1, n2, "a") + delta(n1, n2, "a", "tx_dropped") <= 0:
        fail(f"traffic stopped: {n1} {n2}")
    if delta(n1, n2, "c") or delta(n1, n2, "up") or \
            delta(n1, n2, "a", "flooded") or delta(n1, n2, "b", "flooded"):
        fail(f"still flooding after learning: {n1} -> {n2}")
    if cap.counts().get(MAC["a"], 0) > n2["up"]["tx_packets"] or seen < 1:
        fail(f"the uplink's far side saw more of A than the switch sent it: {seen}")
    ok(f"learning: {n2['a']['rx_packets']} frames from A, flooded "
       f"{n2['a']['flooded']} before B's echo was learned; C and the uplink got none after")
    return a, b, c


def test_reconnect(sw, a, b):
    b.stop()
    wait_for("B's link down", lambda: sw.ports()["b"]["link"] == "down")
    before = sw.counters()
    b = Testpmd(TMP, sock("b"), MAC["b"], "macswap")
    wait_for("B's link up again", lambda: sw.ports()["b"]["link"] == "up")
    wait_for("A's frames reach the restarted B",
             lambda: delta(before, sw.counters(), "b") > 1000, timeout=120)
    ok("a restarted virtio-user reconnects and traffic resumes")
    return b


def test_runtime_port(sw):
    # testpmd is the vhost-user server here; the switch connects (client=1)
    d = Testpmd(TMP, sock("d"), MAC["d"], "rxonly", server=True)
    wait_for("testpmd D's socket", lambda: os.path.exists(sock("d")))
    p = sw.ctl_json("port", "add", "d", "vhost", f"path={sock('d')}", "client=1")
    if p["name"] != "d" or p["mode"] != "client":
        fail(f"port add: {p}")
    wait_for("D's link up", lambda: sw.ports()["d"]["link"] == "up")
    # forget everything: A's next frames flood until B's echo is learned
    # again; D gets some of them (again and again, as the first flood may
    # come before D's queues are enabled)
    wait_for("flooded frames at D", lambda: sw.ctl_json("fdb", "flush") and
             sw.counters()["d"]["tx_packets"] > 0)
    d.stop()
    wait_for("D's link down", lambda: sw.ports()["d"]["link"] == "down")
    before = sw.counters()["d"]["tx_packets"]
    d = Testpmd(TMP, sock("d"), MAC["d"], "rxonly", server=True)
    wait_for("D's link up after its restart (the switch reconnects)",
             lambda: sw.ports()["d"]["link"] == "up")
    wait_for("frames at the restarted D", lambda: sw.ctl_json("fdb", "flush") and
             sw.counters()["d"]["tx_packets"] > before)
    out = sw.ctl_run("port", "del", "d")
    if out.returncode or out.stdout:
        fail(f"port del: {out.returncode} {out.stdout}")
    if "d" in sw.ports():
        fail("port d still listed")
    d.stop()
    ok("run-time port add (vhost client mode), reconnect, delete under traffic")


def test_aging(sw, *pmds):
    rx = [p.stop() for p in pmds]
    wait_for("MACs aged out", lambda: not sw.fdb(), timeout=AGING * 10)
    st = sw.ctl_json("stats")["switch"]
    if st["aged"] < 2:
        fail(f"aging: {st}")
    ok(f"MAC aging ({st['aged']} aged); testpmd received {rx}")
    return rx


def main():
    ns = Netns(TAG)
    sw = cap = None
    try:
        sw = Switch(VSWITCH, IVNETCTL, TMP, netns=ns, extra=["--aging", str(AGING)],
                    ports=[f"a vhost path={sock('a')}", f"b vhost path={sock('b')}",
                           f"c vhost path={sock('c')}", f"up dpdk dev=net_tap0,iface={TAP}"])
        ns.run("ip", "link", "set", TAP, "up")
        cap = Capture(ns, TAP)
        test_control(sw)
        ok("ports and control requests")
        a, b, c = test_learning(sw, cap)
        b = test_reconnect(sw, a, b)
        test_runtime_port(sw)
        rx = test_aging(sw, a, b, c)
        if rx[1] <= 0 or rx[2] <= 0:
            fail(f"testpmd B and C received nothing: {rx}")
        sw.stop()
        sw = None
        for s in "abc":
            if os.path.exists(sock(s)):
                fail(f"vhost-user socket {s} left behind")
        ok("clean SIGTERM stop, no sanitizer report")
    finally:
        Testpmd.kill_all()
        if cap:
            cap.stop()
        if sw:
            sw.kill()
            print(sw.log_text()[-4000:])
        ns.delete()
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    ivtest.run(main)

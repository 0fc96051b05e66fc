#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ivnet-libvirt against libvirt's test driver, a real ivnetd and a fake one.

libvirt's test driver keeps its domains in memory, per connection: a
sequence of commands that must see each other's changes runs as one batch
(`ivnet-libvirt -b -`, one connection). The domains come from a driver file
(test:///PATH): vm1 running with 2 vCPUs, vm2 shut off, vm3 running and
transient. The driver's node has CPUs 0-7, of which 0, 2 and 4 are online. The test driver cannot hot-plug devices, so
--live attaches are only checked for their errors here (tests/e2e does the
rest with QEMU).

  attach/list/detach  config attach to a running and a shut-off domain, two
                      segments on one domain (each device with its admin
                      device, the broker's admin socket, a custom admin=
                      included), list -j and text, detach (of both: a second
                      detach finds nothing)
  idempotence         the same attach twice is reported and exits 0; other
                      settings for an attached segment (or its admin device)
                      are an error; a definition with the segment's device
                      but no admin device (an attachment from before admin
                      devices) gets the admin device
  errors              unknown domain, broker not running (no socket, and
                      connection refused), unknown segment, --size not a
                      power of two or not the segment's, too few vectors,
                      libvirt connection refused, transient --config, --live
                      on a shut-off domain, hot-plug unsupported (nothing
                      changed), detach of what is not attached, bad input
  private             attach --private-with: a pair on a real ivnetd's two-peer
                      segment (both definitions, admin devices too, list
                      shows the pair, idempotent); a third domain refused,
                      with or without --private-with, or with only an admin
                      device on the segment; a multi-peer segment refused; a third
                      raw client refused by ivnetd itself (log, counter, EOF)
  pin                 --pin CPULIST into <cputune>; --pin broker from a fake
                      ivnetd's placement (pack, spread, none) and the error
                      of an ivnetd without placement
  hook                the installed hook script labels a fake QEMU's peer on
                      a real ivnetd (found through the segment socket's .ctl,
                      or IVNET_CTL), and skips admin devices silently (by
                      name, or by the broker's admin socket); other events
                      do nothing; a dead, hung or absent broker and bad XML
                      never fail it

usage: test_libvirt.py IVNET_LIBVIRT IVNETD IVNETCTL HOOK_SCRIPT
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivtest  # noqa: E402
from ivtest import fail, ok, sanitizer_clean, spawn, wait_for  # noqa: E402

IVLV, IVNETD, IVNETCTL, HOOK = sys.argv[1:5]
TMP = tempfile.mkdtemp(prefix="ivnet-lvt-")
UUID1 = "11111111-2222-3333-4444-555555555551"
NODE_XML = """<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads>
       <active>4</active><mhz>2000</mhz><model>x86_64</model></cpu>
  <memory>8388608</memory>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>vm1</name><uuid>%s</uuid><memory>262144</memory><vcpu>2</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>vm2</name><uuid>11111111-2222-3333-4444-555555555552</uuid>
    <memory>262144</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>vm3</name><uuid>11111111-2222-3333-4444-555555555553</uuid>
    <memory>262144</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
    <test:transient/>
  </domain>
</node>
""" % UUID1
NODE = os.path.join(TMP, "node.xml")
URI = "test://" + NODE
HANG = object()
# A second driver file, for what needs devices there from the start: old1
# attached to lvb before admin devices (no admin device), adm1 with only the
# admin device of the two-peer segment lvp.
NODE2_XML = """<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads>
       <active>4</active><mhz>2000</mhz><model>x86_64</model></cpu>
  <memory>8388608</memory>
  <domain type='test'><name>old1</name><memory>262144</memory><vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os><devices>
    <shmem name='lvb'><model type='ivshmem-doorbell'/><server path='{sock_b}'/>
      <msi vectors='4' ioeventfd='on'/></shmem></devices>
  </domain>
  <domain type='test'><name>adm1</name><memory>262144</memory><vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os><devices>
    <shmem name='lvp:admin'><model type='ivshmem-doorbell'/>
      <server path='{sock_p}.admin'/><msi vectors='1'/></shmem></devices>
  </domain>
  <domain type='test'><name>new1</name><memory>262144</memory><vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
  </domain>
</node>
"""
NODE2 = os.path.join(TMP, "node2.xml")
URI2 = "test://" + NODE2


def run(*args, stdin=None, env=None, exe=IVLV):
    p = subprocess.run([exe, *args], input=stdin, capture_output=True, text=True,
                       timeout=120, env=env)
    sanitizer_clean(p.stderr, f"{os.path.basename(exe)} {args}")
    return p.returncode, p.stdout, p.stderr


def batch(ctl, *lines, force=False, uri=URI):
    """Lines run over one connection; returns rc, stdout lines, stderr."""
    args = ["-c", uri, "--control", ctl] + (["--force"] if force else []) + ["-b", "-"]
    rc, out, err = run(*args, stdin="\n".join(lines) + "\n")
    return rc, out.splitlines(), err


def lists(out):
    """The `list -j` answers among a batch's output, in order."""
    return [json.loads(l)["attachments"] for l in out if l.startswith("{")]


def expect_error(rc, err, want, code=1):
    lines = err.splitlines()
    if rc != code or len(lines) != 1 or want not in lines[0]:
        fail(f"expected exit {code} and one line with {want!r}, got {rc}: {err!r}")


class Broker(ivtest.Broker):
    """A real ivnetd: segment lva (16M, 2 vectors, its admin socket the
    default lva.sock.admin) and lvb (8M, 4, admin socket lvb-adm.sock)."""

    def __init__(self):
        self.sock_b = os.path.join(TMP, "lvb.sock")
        self.adm_b = os.path.join(TMP, "lvb-adm.sock")
        super().__init__(IVNETD, IVNETCTL, TMP, "lva",
                         "--segment", f"name=lvb,socket={self.sock_b},admin={self.adm_b},"
                         "size=8M,vectors=4")
        self.adm = self.sock + ".admin"


class FakeBroker:
    """A control socket with canned answers (HANG: accept, never answer);
    records the request lines it got."""

    def __init__(self, path, answers):
        self.path, self.answers, self.requests, self.held = path, answers, [], []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)
        self.srv.settimeout(0.1)
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                continue
            conn.settimeout(5)
            data = b""
            try:
                while b"\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            line = data.decode(errors="replace").strip()
            self.requests.append(line)
            ans = self.answers.get(line, '{"error":"unknown request \'%s\' (try: help)"}\n'
                                   % line.split()[-1] if line else "")
            if ans is HANG:
                self.held.append(conn)
                continue
            try:
                conn.sendall(ans.encode())
            finally:
                conn.close()

    def close(self):
        self.stopping = True
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.srv.close()
        os.unlink(self.path)


# ---------------------------------------------------------------- tests

def test_attach_list_detach(b):
    rc, out, err = batch(b.ctlp, "attach vm1 --segment lva", "attach vm2 --segment lva --config",
                         "attach vm1 --segment lvb", "list -j", "list",
                         "detach vm1 --segment lva", "list -j", "detach vm1 --segment lvb",
                         "detach vm2 --segment lva", "list -j")
    if rc or err:
        fail(f"batch: {rc} {err}")
    # the admin sockets are the broker's: lvb's custom admin= honoured
    want = [f"vm1: attached to segment lva (socket {b.sock}, 2 vectors; admin {b.adm}; config)",
            f"vm2: attached to segment lva (socket {b.sock}, 2 vectors; admin {b.adm}; config)",
            f"vm1: attached to segment lvb (socket {b.sock_b}, 4 vectors; admin {b.adm_b}; "
            "config)"]
    if out[:3] != want:
        fail(f"attach output: {out[:3]}")
    first, after, empty = lists(out)
    rows = [(a["domain"], a["segment"], a["socket"], a["vectors"], a["admin"], a["config"],
             a["live"], a["state"]) for a in first]
    if rows != [("vm1", "lva", b.sock, 2, b.adm, True, False, "running"),
                ("vm1", "lvb", b.sock_b, 4, b.adm_b, True, False, "running"),
                ("vm2", "lva", b.sock, 2, b.adm, True, False, "shutoff")]:
        fail(f"list: {first}")
    if first[0]["uuid"] != UUID1 or first[0]["cputune"] != {"vcpupin": [], "emulatorpin": ""}:
        fail(f"list uuid/cputune: {first[0]}")
    text = [l for l in out if l.startswith("vm") and " segment " in l and ":" not in l]
    if text != [f"vm1 segment lva socket {b.sock} vectors 2 admin {b.adm} config state running",
                f"vm1 segment lvb socket {b.sock_b} vectors 4 admin {b.adm_b} config state "
                "running",
                f"vm2 segment lva socket {b.sock} vectors 2 admin {b.adm} config state shutoff"]:
        fail(f"text list: {text}")
    if [(a["domain"], a["segment"]) for a in after] != [("vm1", "lvb"), ("vm2", "lva")]:
        fail(f"list after a detach: {after}")
    if empty != []:
        fail(f"list after detaching everything: {empty}")
    if "vm1: detached from segment lva (config)" not in out:
        fail(f"detach output: {out}")
    # detach took both devices: a second finds neither, and an attach
    # afterwards writes both again
    rc, out, err = batch(b.ctlp, "attach vm2 --segment lvb", "detach vm2 --segment lvb",
                         "attach vm2 --segment lvb", "detach vm2 --segment lvb",
                         "detach vm2 --segment lvb")
    expect_error(rc, err, "-:5: vm2 is not attached to segment lvb (config)")
    if out[2] != out[0] or "admin" not in out[0]:
        fail(f"attach after a detach: {out}")
    # a fresh connection has the driver file's state again: nothing attached
    rc, out, err = run("-c", URI, "-j", "list")
    if rc or json.loads(out) != {"attachments": []}:
        fail(f"fresh list: {rc} {out} {err}")


def test_idempotence(b):
    rc, out, err = batch(b.ctlp, "attach vm2 --segment lvb", "attach vm2 --segment lvb",
                         "attach vm2 --segment lvb --vectors 4 --config", "list -j")
    if rc or err:
        fail(f"repeated attach: {rc} {err}")
    if out[1:3] != ["vm2: already attached to segment lvb (config): left as it is"] * 2:
        fail(f"repeated attach output: {out}")
    if [(a["domain"], a["segment"], a["vectors"], a["admin"]) for a in lists(out)[0]] != \
            [("vm2", "lvb", 4, b.adm_b)]:
        fail(f"one device after three attaches: {lists(out)}")
    # the same segment with other settings, or its socket under another name
    for line, want in (
            ("attach vm2 --segment lvb --vectors 8",
             f"-:2: vm2 is already attached (config) as shmem 'lvb' on socket {b.sock_b} "
             f"with 4 vectors, not as 'lvb' on {b.sock_b} with 8: detach it first"),
            (f"attach vm2 --segment other --socket {b.sock_b} --vectors 4",
             "vm2 is already attached (config) as shmem 'lvb'"),
            # the admin device's socket under another segment's admin device
            (f"attach vm2 --segment other --socket /run/other.sock --admin {b.adm_b}",
             f"vm2 is already attached (config) as shmem 'lvb:admin' on socket {b.adm_b} "
             f"with 1 vectors, not as 'other:admin' on {b.adm_b} with 1: detach it first")):
        rc, out, err = batch(b.ctlp, "attach vm2 --segment lvb", line, "list -j")
        expect_error(rc, err, want)
        if len(out) != 1:
            fail(f"a batch goes on after an error without --force: {out}")
    rc, out, err = batch(b.ctlp, "attach vm2 --segment lvb", "detach vm2 --segment lvb",
                         "detach vm2 --segment lvb")
    expect_error(rc, err, "-:3: vm2 is not attached to segment lvb (config)")
    # attached before admin devices: the admin device is added, once
    rc, out, err = batch(b.ctlp, "list -j", "attach old1 --segment lvb", "list -j",
                         "attach old1 --segment lvb", "detach old1 --segment lvb",
                         "detach old1 --segment lvb", uri=URI2)
    expect_error(rc, err, "-:6: old1 is not attached to segment lvb (config)")
    before, after = lists(out)
    if [(a["domain"], a["admin"]) for a in before] != [("old1", "")] or \
            [(a["domain"], a["vectors"], a["admin"]) for a in after] != [("old1", 4, b.adm_b)]:
        fail(f"list before and after the admin device was added: {before} {after}")
    want = [f"old1: on segment lvb already: its admin device added (admin {b.adm_b}; config)",
            "old1: already attached to segment lvb (config): left as it is",
            "old1: detached from segment lvb (config)"]
    if [l for l in out if not l.startswith("{")] != want:
        fail(f"attach to a definition without the admin device: {out}")


def test_errors(b):
    sock_only = ["-c", URI, "--control", b.ctlp]
    cases = [
        (["attach", "nosuch", "--segment", "lva"], "ivnet-libvirt: no domain 'nosuch'"),
        (["detach", "nosuch", "--segment", "lva"], "ivnet-libvirt: no domain 'nosuch'"),
        (["attach", "vm1", "--segment", "zz"],
         f"segment 'zz': ivnetd at {b.ctlp} has no segment 'zz' (it serves: lva, lvb)"),
        (["attach", "vm1", "--segment", "lva", "--size", "3M"],
         "ivnet-libvirt: --size 3M is not a power of two (an ivshmem BAR must be)"),
        (["attach", "vm1", "--segment", "lva", "--size", "24M"], "not a power of two"),
        (["attach", "vm1", "--segment", "lva", "--size", "32M"],
         "segment 'lva' is 16M, not 32M (--size)"),
        (["attach", "vm1", "--segment", "lva", "--size", "lots"], "bad --size 'lots'"),
        (["attach", "vm1", "--segment", "lvb", "--vectors", "2"],
         "segment 'lvb' needs at least 4 vectors (--vectors 2)"),
        (["attach", "vm1", "--segment", "lva", "--vectors", "1"], "bad --vectors '1'"),
        (["attach", "vm1", "--segment", "a b"], "bad segment name 'a b'"),
        (["attach", "vm1", "--segment", "lva", "--socket", "rel.sock"],
         "--socket needs an absolute path"),
        (["attach", "vm3", "--segment", "lva"],
         "vm3 is transient: it has no definition to change (use --live)"),
        (["attach", "vm2", "--segment", "lva", "--live"], "vm2 is not running (--live)"),
        (["attach", "vm1", "--segment", "lva", "--live"],
         "vm1: cannot hot-plug the device: this function is not supported by the "
         "connection driver: virDomainAttachDeviceFlags"),
        (["detach", "vm1", "--segment", "lva", "--live"],
         "vm1 is not attached to segment lva (live)"),
        (["attach", "vm1", "--segment", "lva", "--pin", "0-8"],
         "--pin: CPU 8 is not on this host (CPUs 0-7)"),
        (["attach", "vm1", "--segment", "lva", "--pin", "2-3"], "--pin: CPU 3 is offline"),
        (["attach", "vm1", "--segment", "lva", "--pin", "1-"], "--pin: bad CPU list '1-'"),
    ]
    for args, want in cases:
        rc, out, err = run(*sock_only, *args)
        expect_error(rc, err, want)
        if out:
            fail(f"{args}: printed {out!r} on failure")
    # nothing changes when the hot-plug half fails
    rc, out, err = batch(b.ctlp, "attach vm1 --segment lva --live --config", "list -j",
                         force=True)
    expect_error(rc, err, "virDomainAttachDeviceFlags")
    if lists(out) != [[]]:
        fail(f"a failed --live --config attach changed the definition: {out}")

    # the broker is not running: no socket, then a socket nobody listens on
    dead = os.path.join(TMP, "dead.ctl")
    rc, _, err = run("-c", URI, "--control", dead, "attach", "vm1", "--segment", "lva")
    expect_error(rc, err, f"segment 'lva': its broker is not running (ivnetd control socket "
                          f"{dead}: No such file or directory)")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(dead)
    s.close()
    rc, _, err = run("-c", URI, "--control", dead, "attach", "vm1", "--segment", "lva")
    expect_error(rc, err, f"its broker is not running (ivnetd control socket {dead}: "
                          f"Connection refused)")
    # IVNET_CTL is the default control socket
    env = dict(os.environ, IVNET_CTL=dead)
    rc, _, err = run("-c", URI, "attach", "vm1", "--segment", "lva", env=env)
    expect_error(rc, err, f"control socket {dead}: Connection refused")
    # libvirt refuses the connection
    uri = f"qemu+unix:///system?socket={dead}"
    rc, _, err = run("-c", uri, "list")
    expect_error(rc, err, f"ivnet-libvirt: cannot connect to libvirt at '{uri}': ")
    if "Connection refused" not in err:
        fail(f"libvirt's reason missing: {err}")
    os.unlink(dead)
    # the shape of the command line: exit 2, one line
    for args in ([], ["frobnicate"], ["attach", "vm1"], ["list", "extra"],
                 ["list", "--segment", "lva"], ["attach", "vm1", "--segment", "lva", "--bogus"]):
        rc, out, err = run("-c", URI, *args)
        if rc != 2 or len(err.splitlines()) != 1 or out:
            fail(f"usage error {args}: {rc} {out!r} {err!r}")
    rc, out, _ = run("--help")
    if rc != 0 or "attach DOMAIN --segment NAME" not in out:
        fail(f"--help: {rc} {out}")
    # --socket needs no broker: its admin socket is ivnetd's default, or --admin
    for extra, adm in (([], "/run/ivnet/x.sock.admin"), (["--admin", "/run/a"], "/run/a")):
        rc, out, err = run("-c", URI, "--control", dead, "attach", "vm2", "--segment", "x",
                           "--socket", "/run/ivnet/x.sock", *extra)
        if rc or f"vm2: attached to segment x (socket /run/ivnet/x.sock, 2 vectors; admin " \
                 f"{adm}; config)" not in out:
            fail(f"--socket {extra}: {rc} {out} {err}")
    for args, want, code in (
            (["--admin", "/run/a"], "--admin goes with --socket", 2),
            (["--socket", "/run/x.sock", "--admin", "rel"], "--admin needs an absolute path", 1),
            (["--socket", "/run/x.sock", "--admin", "/run/x.sock"],
             "segment 'x': its admin socket is its socket /run/x.sock", 1),
            (["--socket", "/" + "s" * 102], "give --admin PATH", 1)):
        rc, out, err = run("-c", URI, "--control", dead, "attach", "vm2", "--segment", "x",
                           *args)
        expect_error(rc, err, want, code)
    # a broker that names no admin socket (older than admin regions), or a
    # relative one: refused, nothing changed
    seg = os.path.join(TMP, "na.sock")
    ctl = os.path.join(TMP, "na.ctl")
    for admin, want in ((None, f"segment 'na': ivnetd at {ctl} names no admin socket"),
                        ("rel.admin", "segment 'na': its admin socket 'rel.admin' is relative"),
                        ("\u001b", "has an invalid admin socket")):
        entry = {"name": "na", "socket": seg, "size": 1 << 24, "vectors": 2}
        if admin is not None:
            entry["admin"] = admin
        fake = FakeBroker(ctl, {"-j segment show": json.dumps({"segments": [entry]})})
        try:
            rc, out, err = batch(ctl, "attach vm1 --segment na", "list -j", force=True)
        finally:
            fake.close()
        expect_error(rc, err, want)
        if lists(out) != [[]]:
            fail(f"a refused admin socket changed the definition: {out}")


class PairBroker(ivtest.Broker):
    """A real ivnetd: segment lvm (as many peers as fit) and lvp (two)."""

    def __init__(self):
        self.sock_p = os.path.join(TMP, "lvp.sock")
        super().__init__(IVNETD, IVNETCTL, TMP, "lvm",
                         "--segment", f"name=lvp,socket={self.sock_p},size=4M,peers=2")


def test_private_attach(pb):
    rc, out, err = batch(pb.ctlp, "attach vm1 --segment lvp --private-with vm2",
                         "attach vm1 --segment lvp --private-with vm2", "list -j", "list")
    if rc or err:
        fail(f"private attach: {rc} {err}")
    adm = pb.sock_p + ".admin"
    want = [f"vm1: attached to segment lvp (socket {pb.sock_p}, 2 vectors; admin {adm}; config)",
            f"vm2: attached to segment lvp (socket {pb.sock_p}, 2 vectors; admin {adm}; config)",
            "segment lvp: private to vm1 and vm2 (it takes 2 peers)",
            "vm1: already attached to segment lvp (config): left as it is",
            "vm2: already attached to segment lvp (config): left as it is",
            "segment lvp: private to vm1 and vm2 (it takes 2 peers)"]
    if out[:6] != want:
        fail(f"private attach output: {out}")
    rows = [(a["domain"], a["segment"], a["socket"], a["admin"], a["config"], a["private"],
             a["private_with"]) for a in lists(out)[0]]
    if rows != [("vm1", "lvp", pb.sock_p, adm, True, True, "vm2"),
                ("vm2", "lvp", pb.sock_p, adm, True, True, "vm1")]:
        fail(f"list of a private pair: {rows}")
    text = [l for l in out if l.startswith("vm") and " segment " in l and ":" not in l]
    if text != [f"vm1 segment lvp socket {pb.sock_p} vectors 2 admin {adm} config state "
                "running private-with vm2",
                f"vm2 segment lvp socket {pb.sock_p} vectors 2 admin {adm} config state "
                "shutoff private-with vm1"]:
        fail(f"text list of a private pair: {text}")


def test_private_refused(pb):
    peers = pb.ctl_json("segment", "show", "lvm")["segments"][0]["max_peers"]
    pair = "attach vm1 --segment lvp --private-with vm2"
    for lines, want in (
            ([pair, "attach vm3 --segment lvp --private-with vm1 --live"],
             "-:2: segment lvp cannot be private to vm3 and vm1: vm2 (config) is on it too: "
             "detach it first"),
            ([pair, "attach vm3 --segment lvp --live"],
             "-:2: segment lvp takes 2 peers and vm1 (config) and vm2 (config) are on it: "
             "vm3 would be a third (detach one first)"),
            (["attach vm1 --segment lvm --private-with vm2"],
             f"-:1: segment lvm takes up to {peers} peers: a private pair needs a two-peer "
             "segment (ivnetd --segment name=lvm,socket=...,peers=2)"),
            (["attach vm1 --segment lvp --private-with vm1"],
             "-:1: --private-with names vm1 itself: a private pair is two domains"),
            (["attach vm1 --segment lvp --private-with nosuch"], "-:1: no domain 'nosuch'")):
        rc, out, err = batch(pb.ctlp, *lines, "list -j", force=True)
        expect_error(rc, err, want)
        changed = [a["domain"] for a in lists(out)[0]]
        if changed != (["vm1", "vm2"] if lines[0] == pair else []):
            fail(f"{lines[-1]}: changed {changed}")
    # a domain with only lvp's admin device is on it too: a third
    adm = pb.sock_p + ".admin"
    rc, out, err = batch(pb.ctlp, "attach new1 --segment lvp --private-with old1", "list -j",
                         uri=URI2, force=True)
    expect_error(rc, err, "-:1: segment lvp cannot be private to new1 and old1: adm1 (config) "
                          "is on it too: detach it first")
    if [a["domain"] for a in lists(out)[0] if a["segment"] == "lvp"]:
        fail(f"a refused private attach changed {lists(out)}")
    # that domain itself may be one of the pair: its admin device is the one
    # attach writes, left as it is
    rc, out, err = batch(pb.ctlp, "attach adm1 --segment lvp --private-with new1", "list -j",
                         uri=URI2)
    rows = [(a["domain"], a["admin"], a["private_with"]) for a in lists(out)[0]
            if a["segment"] == "lvp"]
    if rc or err or rows != [("adm1", adm, "new1"), ("new1", adm, "adm1")] or \
            out[0] != f"adm1: attached to segment lvp (socket {pb.sock_p}, 2 vectors; admin " \
                      f"{adm}; config)":
        fail(f"private attach of a domain with the admin device: {rc} {out} {err}")
    rc, out, err = run("-c", URI, "--control", pb.ctlp, "attach", "vm1", "--segment", "lvp",
                       "--private-with", "vm2", "--socket", pb.sock_p)
    if rc != 2 or len(err.splitlines()) != 1 or "not with --socket" not in err or out:
        fail(f"--private-with --socket: {rc} {out!r} {err!r}")


def test_third_peer(pb):
    """What keeps a third QEMU out, whatever the definitions say: ivnetd."""
    two = [spawn([sys.executable, "-c", FAKE_QEMU, pb.sock_p]) for _ in range(2)]
    wait_for("two peers on lvp", lambda: {p["pid"] for p in pb.peers()
                                          if p["segment"] == "lvp"} == {q.pid for q in two})
    third = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    third.settimeout(30)
    third.connect(pb.sock_p)
    if third.recv(4096) != b"":
        fail("a third peer of a two-peer segment got an answer, not a closed connection")
    third.close()
    line = f"refuse segment=lvp pid={os.getpid()} "
    wait_for("ivnetd's refusal in its log", lambda: line in pb.log_text())
    if not any(line in l and l.endswith("reason=segment-full")
               for l in pb.log_text().splitlines()):
        fail(f"refusal reason: {pb.log_text()}")
    stats = next(s for s in pb.ctl_json("stats")["stats"] if s["segment"] == "lvp")
    if stats["refused_full"] != 1:
        fail(f"refused_full: {stats}")
    for q in two:
        q.kill()
        q.wait()


def test_private(b):
    pb = PairBroker()
    test_private_attach(pb)
    test_private_refused(pb)
    test_third_peer(pb)
    pb.stop()


def test_pin(b):
    rc, out, err = batch(b.ctlp, "attach vm1 --segment lva --pin 0,2", "list -j",
                         "attach vm1 --segment lva --pin 4", "list -j")
    if rc or err:
        fail(f"--pin: {rc} {err}")
    if out[1] != "vm1: vCPUs pinned to 0,2 (pack), emulator to 0,2 (config)":
        fail(f"--pin output: {out}")
    first, second = lists(out)
    if first[0]["cputune"] != {"vcpupin": [{"vcpu": 0, "cpuset": "0,2"},
                                           {"vcpu": 1, "cpuset": "0,2"}],
                               "emulatorpin": "0,2"}:
        fail(f"cputune after --pin 0,2: {first}")
    # attached already: the pinning is still applied, and replaces the old
    if out[3] != "vm1: already attached to segment lva (config): left as it is" or \
            second[0]["cputune"]["emulatorpin"] != "4" or \
            [p["cpuset"] for p in second[0]["cputune"]["vcpupin"]] != ["4", "4"]:
        fail(f"re-pin: {out}")

    seg = os.path.join(TMP, "pl.sock")
    segments = json.dumps({"segments": [{"name": "pl", "socket": seg, "admin": seg + ".admin",
                                         "id": "00", "size": 16 << 20, "used": 1, "peers": 0,
                                         "max_peers": 8, "vectors": 2}]}) + "\n"

    def placement(policy, cpus):
        return json.dumps({"segments": [
            {"segment": "other", "policy": "pack", "mechanism": "affinity", "cpus": "0",
             "node": 0, "peers": []},
            {"segment": "pl", "policy": policy, "mechanism": "cpuset", "cpus": cpus,
             "node": 0, "peers": [0, 1]}]}) + "\n"

    ctl = os.path.join(TMP, "fake.ctl")
    for answer, want_out, want_pins in (
            (placement("spread", "2,4"), "vm1: vCPUs pinned to 2,4 (spread), emulator to 2,4",
             (["2", "4"], "2,4")),
            (placement("pack", "0,2,4"), "vm1: vCPUs pinned to 0,2,4 (pack), emulator to 0,2,4",
             (["0,2,4", "0,2,4"], "0,2,4")),
            (placement("none", ""), "vm1: the broker's placement of pl is 'none': not pinned",
             ([], ""))):
        fake = FakeBroker(ctl, {"-j segment show": segments, "-j placement": answer})
        try:
            rc, out, err = batch(ctl, "attach vm1 --segment pl --pin broker", "list -j")
        finally:
            fake.close()
        if rc or err or want_out not in "\n".join(out):
            fail(f"--pin broker ({answer}): {rc} {out} {err}")
        tune = lists(out)[0][0]["cputune"]
        if ([p["cpuset"] for p in tune["vcpupin"]], tune["emulatorpin"]) != want_pins:
            fail(f"--pin broker cputune: {tune}, expected {want_pins}")
        # attach asks for the segment and the placement; list, for the
        # segments' peer limits (is any private?)
        if fake.requests != ["-j segment show", "-j placement", "-j segment show"]:
            fail(f"requests to the broker: {fake.requests}")
    # an ivnetd without placement, a placement without the segment, or bad CPUs
    for answer, want in (
            (None, "--pin broker: this ivnetd has no placement (it answers 'unknown request'): "
                   "pin with --pin CPULIST"),
            ("error: unknown request 'placement' (try: help)\n", "this ivnetd has no placement"),
            (placement("pack", "0").replace('"pl"', '"px"'),
             "--pin broker: ivnetd has no placement for segment 'pl'"),
            (placement("pack", "0-9"),
             "the broker's placement: CPU 9 is not on this host (CPUs 0-7)"),
            (placement("spread", "0-1"), "the broker's placement: CPU 1 is offline"),
            ("{not json", "not a JSON object")):
        answers = {"-j segment show": segments}
        if answer is not None:
            answers["-j placement"] = answer
        fake = FakeBroker(ctl, answers)
        try:
            rc, out, err = batch(ctl, "attach vm1 --segment pl --pin broker", "list -j",
                                 force=True)
        finally:
            fake.close()
        expect_error(rc, err, want)
        if lists(out) != [[]]:
            fail(f"a failed --pin broker changed the definition: {out}")


FAKE_QEMU = ("import socket, sys, time\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "s.connect(sys.argv[1])\n"
             "time.sleep(600)\n")


def domain_xml(name, uuid, *servers, admins=()):
    """servers: segment devices s0, s1, ...; admins: (name, path) devices."""
    dev = "".join(f"<shmem name='s{i}'><model type='ivshmem-doorbell'/>"
                  f"<server path='{p}'/><msi vectors='2'/></shmem>"
                  for i, p in enumerate(servers))
    dev += "".join(f"<shmem name='{n}'><model type='ivshmem-doorbell'/>"
                   f"<server path='{p}'/><msi vectors='1'/></shmem>" for n, p in admins)
    return (f"<domain type='kvm' id='7'><name>{name}</name><uuid>{uuid}</uuid>"
            f"<devices><shmem name='plain'><model type='ivshmem-plain'/></shmem>{dev}"
            f"</devices></domain>")


def test_hook(b):
    uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    qemu = spawn([sys.executable, "-c", FAKE_QEMU, b.sock, "-name", "guest=vm x", "-uuid", uuid])
    qemu_b = spawn([sys.executable, "-c", FAKE_QEMU, b.sock_b, "-uuid", uuid])
    wait_for("fake QEMUs joined", lambda: {p["pid"] for p in b.peers()} >= {qemu.pid,
                                                                           qemu_b.pid})
    env = {k: v for k, v in os.environ.items() if k != "IVNET_CTL"}
    env["IVNET_CTL"] = os.path.join(TMP, "nothing-here.ctl")
    # admin devices as attach writes them: skipped, never "not labelled"
    xml = domain_xml("vm x", uuid, b.sock, b.sock_b,
                     admins=(("lva:admin", b.adm), ("lvb:admin", b.adm_b)))

    # events other than started/reconnect/attach: nothing asked, nothing said
    for op in ("prepare", "start", "stopped", "release", "migrate", "restore"):
        rc, out, err = run("vm x", op, "begin", "-", stdin=xml, env=env, exe=HOOK)
        if rc or out or err:
            fail(f"hook {op}: {rc} {out!r} {err!r}")
    if any(p["label"] for p in b.peers()):
        fail(f"labelled on a non-start event: {b.peers()}")

    # started: lva's broker is found as its socket + .ctl; lvb's socket has
    # no .ctl beside it and IVNET_CTL points nowhere: not labelled, said so
    rc, out, err = run("vm x", "started", "begin", "-", stdin=xml, env=env, exe=HOOK)
    if rc or out or err.strip() != f"ivnet hook: vm x: no running ivnetd serves {b.sock_b}: " \
                                   "not labelled":
        fail(f"hook started: {rc} {out!r} {err!r}")
    peers = {p["pid"]: p for p in b.peers()}
    if (peers[qemu.pid]["label"], peers[qemu.pid]["uuid"]) != ("vm_x", uuid) or \
            peers[qemu_b.pid]["label"]:
        fail(f"labels after started: {peers}")
    # with IVNET_CTL naming the broker, lvb's peer is found too (reconnect)
    # (an admin device by another name is known by the broker's admin socket)
    env["IVNET_CTL"] = b.ctlp
    xml = domain_xml("vm x", uuid, b.sock, b.sock_b, admins=(("mine", b.adm_b),))
    rc, out, err = run("vm x", "reconnect", "begin", "-", stdin=xml, env=env, exe=HOOK)
    if rc or out or err:
        fail(f"hook reconnect: {rc} {out!r} {err!r}")
    peers = {p["pid"]: p for p in b.peers()}
    if (peers[qemu_b.pid]["segment"], peers[qemu_b.pid]["label"]) != ("lvb", "vm_x"):
        fail(f"labels after reconnect: {peers}")

    # a domain whose QEMU is not on the segment: said, exit 0
    rc, _, err = run("vm-y", "started", "begin", "-", stdin=domain_xml("vm-y", UUID1, b.sock),
                     env=env, exe=HOOK)
    if rc or f"no peer of segment 'lva' is a QEMU with -uuid {UUID1}" not in err:
        fail(f"hook for a domain with no peer: {rc} {err!r}")
    # no broker at all, bad XML, no stdin: exit 0, one line
    for args, stdin, want in (
            (["vm-z", "started", "begin", "-"], domain_xml("vm-z", uuid, "/nonexistent/x.sock"),
             "no running ivnetd serves /nonexistent/x.sock"),
            (["vm-z", "started", "begin", "-"], "<domain><name>", "does not parse"),
            (["vm-z", "started", "begin", "-"], "", "does not parse")):
        rc, out, err = run(*args, stdin=stdin, env=env, exe=HOOK)
        if rc or want not in err or len(err.splitlines()) != 1:
            fail(f"hook {stdin[:20]!r}: {rc} {err!r}")

    # a hung broker (accepts, never answers) cannot hold the hook
    seg = os.path.join(TMP, "hung.sock")
    fake = FakeBroker(seg + ".ctl", {"-j segment show": HANG})
    try:
        rc, _, err = run("vm-h", "started", "begin", "-", stdin=domain_xml("vm-h", uuid, seg),
                         env=env, exe=HOOK)
    finally:
        fake.close()
    if rc or "no running ivnetd serves" not in err or fake.requests != ["-j segment show"]:
        fail(f"hook with a hung broker: {rc} {err!r} {fake.requests}")

    # what the hook asks, to the letter, from a broker that says so
    seg = os.path.join(TMP, "rec.sock")
    fake = FakeBroker(seg + ".ctl", {
        "-j segment show": json.dumps({"segments": [{"name": "rec", "socket": seg,
                                                     "size": 1 << 24, "vectors": 2}]}),
        "-j peer list rec": json.dumps({"peers": [{"pid": 1}, {"pid": qemu.pid},
                                                  {"pid": qemu.pid}]}),
        f"peer label rec pid={qemu.pid} name=vm-r uuid={uuid}": "rec 0 ... name vm-r\n"})
    try:
        rc, out, err = run("vm-r", "started", "begin", "-", stdin=domain_xml("vm-r", uuid, seg),
                           env=env, exe=HOOK)
    finally:
        fake.close()
    if rc or err or fake.requests != ["-j segment show", "-j peer list rec",
                                      f"peer label rec pid={qemu.pid} name=vm-r uuid={uuid}"]:
        fail(f"hook requests: {rc} {err!r} {fake.requests}")
    for p in (qemu, qemu_b):
        p.kill()
        p.wait()


def main():
    with open(NODE, "w") as f:
        f.write(NODE_XML)
    b = Broker()
    with open(NODE2, "w") as f:
        f.write(NODE2_XML.format(sock_b=b.sock_b, sock_p=os.path.join(TMP, "lvp.sock")))
    for name, fn in (("attach, list, detach", test_attach_list_detach),
                     ("idempotence", test_idempotence),
                     ("errors", test_errors),
                     ("private", test_private),
                     ("pin", test_pin),
                     ("hook", test_hook)):
        fn(b)
        ok(name)
    b.stop()
    shutil.rmtree(TMP, ignore_errors=True)
    ok("ivnetd stopped cleanly, no sanitizer report")


if __name__ == "__main__":
    ivtest.run(main)

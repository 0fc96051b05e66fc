#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The broker's vouched peer table (issue 14, findings 3 and 4).

Every peer maps the segment writable, the broker's half of the peer table
and the header included. The broker serves each peer an admin region of
its own on SOCK.admin, and libivnet takes the broker's word from there.

1. The admin socket, as a raw client sees it: a sealed 16 KiB memfd, the
   header as formatted, every entry as the broker knows it (MACs and ivpos
   as `ivnetctl peer list` says), self_ivpos the id of the same process on
   the segment socket; rewritten (seq moved) when that peer leaves.
2. ivnet-hostile --forge-table rewrites, every millisecond, the uplink flag
   (ours on, the true uplink's off), the victim's MAC into its own entry,
   a JOINED entry under the next ivshmem id, and the header's geometry,
   while endpoints stream (A also to an unknown MAC): every endpoint's peer
   list shows the true MACs and the true uplink; unicast to the victim's
   MAC reaches the victim and never the hostile peer; unknown unicast
   reaches the true uplink and never the hostile peer; a peer that joins
   during the forgery gets its own slot and MAC; the broker logs the
   tamper lines.

usage: test_admin.py IVNETD IVNETCTL EP_TOOL IVNET_HOSTILE
"""
import fcntl
import json
import mmap
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivtest  # noqa: E402
from ivtest import expect, fail, ok, wait_for  # noqa: E402

IVNETD, IVNETCTL, EP_TOOL, HOSTILE = sys.argv[1:5]
TMP = tempfile.mkdtemp(prefix="ivnet-admin-")
ADMIN_SIZE = 16384
ADMIN_MAGIC = 0x4d444154454e5649
READY = 0x52454459
NO_IVPOS = 0xffffffff
F_GET_SEALS = 1034
SEALS = 0x1 | 0x2 | 0x4  # F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW
FORGE_S = 8


def Endpoint(broker, *extra):
    """An ep_tool endpoint on broker's segment (ivtest.EpTool)."""
    return ivtest.EpTool(EP_TOOL, broker.sock, *extra)


def connect(path):
    """Version, id, fd of an ivshmem-protocol socket: (socket, id, fd)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    v, _ = ivtest.ivshmem_msg(s, 10)
    expect(v == 0, f"{path}: protocol version {v}")
    pid, _ = ivtest.ivshmem_msg(s, 10)
    v, fd = ivtest.ivshmem_msg(s, 10)
    expect(v == -1 and fd is not None, f"{path}: third message {v} {fd}")
    return s, pid, fd


def admin_hdr(mm):
    magic, ver, hsize, rsize, state, seq, poff, self_ivpos = struct.unpack_from("<QIIQIIQI",
                                                                               mm, 0)
    return dict(magic=magic, version=ver, hdr_size=hsize, region_size=rsize, state=state,
                seq=seq, peers_off=poff, self_ivpos=self_ivpos)


def admin_entry(mm, i):
    state, epoch, mac, flags, ivpos = struct.unpack_from("<II6sHI", mm, 4096 + 64 * i)
    return dict(state=state, epoch=epoch, mac=":".join(f"{b:02x}" for b in mac), flags=flags,
                ivpos=ivpos)


def test_admin_socket(b):
    seg, ivpos, seg_fd = connect(b.sock)
    adm, _, fd = connect(b.sock + ".admin")
    try:
        expect(os.fstat(fd).st_size == ADMIN_SIZE, f"admin size {os.fstat(fd).st_size}")
        seals = fcntl.fcntl(fd, F_GET_SEALS)
        expect(seals & SEALS == SEALS, f"admin memfd seals {seals:#x}")
        mm = mmap.mmap(fd, ADMIN_SIZE)
        h = admin_hdr(mm)
        expect(h["magic"] == ADMIN_MAGIC and h["state"] == READY and h["region_size"] ==
               ADMIN_SIZE and h["peers_off"] == 4096 and h["seq"] % 2 == 0, f"admin header {h}")
        expect(h["self_ivpos"] == ivpos, f"self_ivpos {h['self_ivpos']}, our id {ivpos}")
        with open(f"/proc/self/fd/{seg_fd}", "rb") as f:
            shared = f.read(256)
        expect(bytes(mm[0x40:0x40 + 0x60]) == shared[:0x60], "the header copy differs")
        me = b.peer_of_pid(os.getpid())
        e = admin_entry(mm, me["id"])
        expect(e["state"] == 1 and e["ivpos"] == ivpos and e["mac"] == me["mac"] and
               e["epoch"] == me["epoch"], f"our entry {e}, broker says {me}")
        seq = h["seq"]
        seg.close()
        b.wait_gone(os.getpid())
        wait_for("the admin region to say we left",
                 lambda: admin_entry(mm, me["id"])["state"] == 0 and
                 admin_hdr(mm)["self_ivpos"] == NO_IVPOS)
        expect(admin_hdr(mm)["seq"] != seq, "seq did not move")
        mm.close()
    finally:
        seg.close()
        adm.close()
        os.close(fd)
        os.close(seg_fd)


def check_reports(name, ep, reports, truth, uplink):
    """Every peer list an endpoint reported shows the broker's MACs and uplink."""
    for r in reports:
        for pid, mac in r["macs"].items():
            expect(int(pid) in truth and truth[int(pid)] == mac,
                   f"{name}: peer {pid} has MAC {mac}, the broker says {truth.get(int(pid))}")
        want = [] if ep.id == uplink else [uplink]  # a list of the others
        expect(r["uplinks"] == want, f"{name}: uplinks {r['uplinks']}, not {want}")


def test_forgery(b):
    u = Endpoint(b, "--uplink")
    out = b.ctl("peer", "uplink", b.name, str(u.id), "on")
    expect(out.returncode == 0, f"peer uplink: {out.stdout}{out.stderr}")
    a = Endpoint(b, "--unknown")
    v = Endpoint(b)
    eps = {"uplink": u, "A": a, "victim": v}
    hostile = ivtest.spawn([HOSTILE, b.sock, "--forge-table", "--target", str(v.id),
                            "--seconds", str(FORGE_S)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    newcomer = None
    try:
        hp = b.peer_of_pid(hostile.pid)
        wait_for("the hostile peer to forge", lambda: "tamper segment=%s peer=" % b.name in
                 b.log_text())
        time.sleep(1)  # the forgery in full swing
        newcomer = Endpoint(b)
        mine = b.peer_of_pid(newcomer.proc.pid)
        expect(newcomer.id == mine["id"] and newcomer.joined["mac"] == mine["mac"],
               f"the newcomer took slot {newcomer.id} ({newcomer.joined['mac']}), "
               f"the broker gave it {mine['id']} ({mine['mac']})")
        eps["newcomer"] = newcomer
        for name, ep in eps.items():
            expect(ep.proc.poll() is None and not ep.errors,
                   f"{name} (peer {ep.id}) died: {ep.errors}")
        truth = {p["id"]: p["mac"] for p in b.peers()}
        for _ in range(10):
            for name, ep in eps.items():
                check_reports(name, ep, ep.reports(), truth, u.id)
            time.sleep(0.3)
        hostile.wait(timeout=FORGE_S + 30)
        expect(hostile.returncode == 0, f"ivnet-hostile exit {hostile.returncode}: "
               f"{hostile.stderr.read()}")
        forge = next(json.loads(line)["forge"] for line in hostile.stdout
                     if line.startswith('{"forge"'))
        ivtest.note(f"hostile peer: {forge}")
        expect(forge["rounds"] > 100, f"the hostile peer forged only {forge['rounds']} times")
        expect(forge["rx_target"] == 0, f"the hostile peer got {forge['rx_target']} frames "
               f"for the victim's MAC")
        expect(forge["rx_unknown"] == 0, f"the hostile peer got {forge['rx_unknown']} "
               f"unknown-unicast frames")
        ra, rv, ru = a.reports()[-1], v.reports()[-1], u.reports()[-1]
        expect(rv["rx"].get(str(a.id), 0) > 0, f"the victim got nothing from A: {rv}")
        expect(ru["unknown"].get(str(a.id), 0) > 0, f"the uplink got no unknown unicast: {ru}")
        expect(ra["tx"] > 0, f"A sent nothing: {ra}")
        log = b.log_text()
        expect("tamper segment=%s header rewritten: restored" % b.name in log,
               "no header tamper line")
        expect("tamper segment=%s peer=%d table entry rewritten: restored" % (b.name, hp["id"])
               in log, "no table tamper line for the hostile peer's entry")
    finally:
        if hostile.poll() is None:
            hostile.kill()
            hostile.wait()
    for ep in eps.values():
        ep.stop()


def main():
    b = ivtest.Broker(IVNETD, IVNETCTL, TMP, "adm")
    try:
        test_admin_socket(b)
        ok("admin socket: a sealed region of our own, the broker's word, self_ivpos")
        test_forgery(b)
        ok("a forged peer table and header change nothing an endpoint does")
    except BaseException:
        b.kill()
        raise
    b.stop()
    ok("clean shutdown, no sanitizer report")


if __name__ == "__main__":
    try:
        ivtest.run(main)
    finally:
        ivtest.kill_spawned()
        shutil.rmtree(TMP, ignore_errors=True)

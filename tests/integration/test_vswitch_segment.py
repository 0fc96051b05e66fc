#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An ivnet segment as a port of ivnet-vswitch: ivnetd serves a segment, the
switch joins it (and becomes its uplink through ivnetd's control socket),
and a libivnet endpoint on the segment (vsw_seg_peer) exchanges frames with
a virtio-user port of the switch, whose testpmd echoes them (macswap).

Checks: ivnetd lists the switch's peer as the uplink, advertising no
offloads and MTU 1500; the endpoint's frames to the outside MAC reach the
virtio-user port through the switch and every echo comes back; a GSO frame
is refused by libivnet before it reaches the switch; the switch's counters
agree; the switch leaves the segment cleanly; ivnetd stops cleanly. The
switch runs two workers, one per port, so frames also cross between workers
(through the port's tx ring).

usage: test_vswitch_segment.py IVNET_VSWITCH IVNETCTL IVNETD VSW_SEG_PEER
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import ivtest  # noqa: E402
from ivtest import fail, ok, wait_for  # noqa: E402
from vswlib import Switch, Testpmd  # noqa: E402

VSWITCH, IVNETCTL, IVNETD, SEG_PEER = sys.argv[1:5]
TMP = tempfile.mkdtemp(prefix="ivnet-vswseg-")
MAC_A = "02:00:00:5e:01:0a"
FRAMES = 64


def main():
    broker = sw = None
    try:
        broker = ivtest.Broker(IVNETD, IVNETCTL, TMP, "seg", "--max-peers", "4", size="4M")
        sock = broker.sock
        if broker.peers() != []:
            fail(f"peers on a new segment: {broker.peers()}")
        # two forwarding lcores (on one CPU): the ports land on different
        # workers, so every frame crosses from one worker to the other
        sw = Switch(VSWITCH, IVNETCTL, TMP, lcores="0@0,1@1,2@1", ports=[
            f"a vhost path={os.path.join(TMP, 'a.sock')}", f"seg ivnet socket={sock}"])
        port = sw.ports()["seg"]
        if port["lcore"] == sw.ports()["a"]["lcore"]:
            fail(f"both ports on one worker: {sw.ports()}")
        if port["segment"] != "seg" or port["role"] != "uplink" or port["link"] != "up":
            fail(f"segment port: {port}")
        peers = broker.peers()
        if len(peers) != 1 or peers[0]["role"] != "uplink" or \
                peers[0]["offloads"] != "none" or peers[0]["mtu"] != 1500 or \
                peers[0]["id"] != port["peer"]:
            fail(f"the switch as ivnetd sees it: {peers}")
        ok("the switch joined the segment as its uplink, no offloads")

        a = Testpmd(TMP, os.path.join(TMP, "a.sock"), MAC_A, "macswap")
        wait_for("testpmd A", lambda: a.started() and sw.ports()["a"]["link"] == "up")
        out = subprocess.run([SEG_PEER, sock, MAC_A, str(FRAMES)], capture_output=True,
                             text=True, timeout=300)
        if out.returncode != 0:
            fail(f"vsw_seg_peer: {out.stdout} {out.stderr}")
        res = json.loads(out.stdout)
        if res["echoed"] != FRAMES or res["tx_offload"] != 1 or res["uplink"] != port["peer"]:
            fail(f"vsw_seg_peer: {res}")
        n = sw.counters()
        if n["seg"]["rx_packets"] < FRAMES or n["a"]["tx_packets"] < FRAMES or \
                n["a"]["rx_packets"] < FRAMES or n["seg"]["tx_packets"] < FRAMES or \
                n["seg"]["rx_dropped"]:
            fail(f"switch counters: {n}")
        ok(f"{FRAMES} frames segment -> switch -> virtio-user and back "
           f"({res['resent']} resent); a GSO frame refused for the uplink")
        a.stop()
        sw.stop()
        sw = None
        wait_for("the switch left the segment", lambda: broker.peers() == [])
        ok("the switch left the segment on SIGTERM")
        broker.stop()
    finally:
        Testpmd.kill_all()
        if sw:
            sw.kill()
            print(sw.log_text()[-4000:])
        if broker:
            broker.kill()
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    ivtest.run(main)

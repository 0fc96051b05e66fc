# SPDX-License-Identifier: MIT
"""What the ivnet-vswitch tests share (Python 3 standard library only):

- Switch: ivnet-vswitch on --no-huge memory (nothing to configure), asked
  through ivnetctl; optionally inside a network namespace, where its
  net_tap uplink then lives.
- Testpmd: dpdk-testpmd with a net_virtio_user port standing in for a
  guest's virtio-net on one of the switch's vhost-user sockets.
- Netns and Capture: a namespace of our own, and a raw-socket frame
  counter inside it.

Failures raise ivtest.Failure (tests/lib/ivtest.py).

Every DPDK process gets its own --file-prefix; its runtime directory is
removed when it stops. Only processes started here are ever signalled.
"""
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from ivtest import fail, sanitizer_clean, stop_proc, wait_for  # noqa: E402

TESTPMD = shutil.which("dpdk-testpmd") or "/usr/bin/dpdk-testpmd"
# --no-huge: memfd-backed memory that vhost-user can share, no hugepages
# needed; --single-file-segments: one fd for it (vhost-user takes at most 8).
EAL_MEM = ["--no-huge", "-m", "256", "--single-file-segments", "--no-shconf",
           "--no-telemetry", "--no-pci", "--log-level=lib.vhost.*:warning",
           "--log-level=pmd.net.virtio.*:warning"]
# searched for in the switch's log, which holds DPDK's output as well
SANITIZER = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def runtime_dir(prefix):
    return os.path.join("/var/run/dpdk", prefix)


class Netns:
    def __init__(self, name):
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True)
        # no IPv6 chatter (router solicitations, MLD) from the uplink's side
        self.run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        self.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.run("ip", "link", "set", "lo", "up")

    def cmd(self, *args):
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args, check=True):
        return subprocess.run(self.cmd(*args), check=check, capture_output=True, text=True)

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


class Switch:
    """ivnet-vswitch: worker lcore on CPU 1, control on CPU 0."""

    def __init__(self, exe, ivnetctl, tmp, ports, extra=(), netns=None, lcores="0@0,1@1",
                 name="sw"):
        self.ivnetctl = ivnetctl
        self.ctl = os.path.join(tmp, f"{name}.ctl")
        self.log = os.path.join(tmp, f"{name}.log")
        self.prefix = f"ivsw{os.getpid()}{name}"
        args = [exe, *EAL_MEM, f"--file-prefix={self.prefix}", f"--lcores={lcores}", "--",
                "-c", self.ctl, *extra]
        for p in ports:
            args += ["-p", p]
        if netns:
            args = netns.cmd(*args)
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_for("switch ready", lambda: self.proc.poll() is not None or self.ready())
        if self.proc.poll() is not None:
            fail(f"ivnet-vswitch exited {self.proc.returncode}:\n{self.log_text()}")

    def ready(self):
        return "ready control=" in self.log_text()

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def ctl_run(self, *args, json_out=False):
        argv = [self.ivnetctl, "-s", self.ctl] + (["-j"] if json_out else []) + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def ctl_json(self, *args):
        out = self.ctl_run(*args, json_out=True)
        if out.returncode != 0:
            fail(f"ivnetctl {' '.join(args)}: {out.stdout}{out.stderr}")
        return json.loads(out.stdout)

    def ports(self):
        return {p["name"]: p for p in self.ctl_json("port", "list")["ports"]}

    def counters(self):
        return {p["name"]: p for p in self.ctl_json("stats")["ports"]}

    def fdb(self):
        return {e["mac"]: e["port"] for e in self.ctl_json("fdb", "show")["fdb"]}

    def stop(self):
        """Clean stop on SIGTERM, no sanitizer report: else the test fails."""
        rc = stop_proc(self.proc)
        self.logf.close()
        shutil.rmtree(runtime_dir(self.prefix), ignore_errors=True)
        text = self.log_text()
        sanitizer_clean(text, "ivnet-vswitch", SANITIZER)
        if rc != 0:
            fail(f"ivnet-vswitch exit {rc}:\n{text[-6000:]}")
        if os.path.exists(self.ctl):
            fail("control socket left behind")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(runtime_dir(self.prefix), ignore_errors=True)


class Testpmd:
    """A guest's virtio-net: net_virtio_user on a vhost-user socket."""

    count = 0
    live = []

    def __init__(self, tmp, sock, mac, mode, peer=None, server=False, lcores="0@0,1@0",
                 extra=(), vdevs=None, mbufs=2048):
        """vdevs: other devices instead of the virtio-user port (e.g. two
        net_vhost ports for plain io forwarding)."""
        Testpmd.count += 1
        Testpmd.live.append(self)
        self.prefix = f"ivtp{os.getpid()}n{Testpmd.count}"
        self.log = os.path.join(tmp, f"testpmd-{self.prefix}.log")
        if vdevs is None:
            vdev = f"net_virtio_user0,path={sock},mac={mac},queues=1"
            vdevs = [vdev + (",server=1" if server else "")]
        args = [TESTPMD, *EAL_MEM, f"--file-prefix={self.prefix}", f"--lcores={lcores}",
                *[f"--vdev={v}" for v in vdevs], "--", f"--forward-mode={mode}",
                "--stats-period=1", "--auto-start", f"--total-num-mbufs={mbufs}",
                "--nb-cores=1", *extra]
        if peer:
            args.append(f"--eth-peer=0,{peer}")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def started(self):
        if self.proc.poll() is not None:
            fail(f"testpmd exited {self.proc.returncode}:\n{self.log_text()[-3000:]}")
        return "packet forwarding - ports=" in self.log_text()

    def stop(self):
        """Stops it; returns its total RX-packets."""
        if self in Testpmd.live:
            Testpmd.live.remove(self)
        stop_proc(self.proc)
        self.logf.close()
        shutil.rmtree(runtime_dir(self.prefix), ignore_errors=True)
        rx = 0
        text = self.log_text()
        marker = text.rfind("Accumulated forward statistics")
        if marker >= 0:
            for line in text[marker:].splitlines():
                if "RX-packets:" in line:
                    rx = int(line.split("RX-packets:")[1].split()[0])
                    break
        return rx

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(runtime_dir(self.prefix), ignore_errors=True)

    def rx_pps(self):
        """Its periodic statistics: packets received per second, summed
        over its ports, one sample per print."""
        samples = []
        for line in self.log_text().splitlines():
            if "Port statistics ====" in line:
                samples.append(0)
            elif "Rx-pps:" in line and samples:
                samples[-1] += int(line.split("Rx-pps:")[1].split()[0])
        return samples

    @staticmethod
    def kill_all():
        for p in Testpmd.live:
            p.kill()
        Testpmd.live.clear()


CAPTURE = r"""
import json, socket, sys, threading
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
counts, lock = {}, threading.Lock()
def rx():
    while True:
        try:
            f, addr = s.recvfrom(65536)
        except OSError:  # the TAP went away with the switch
            return
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        src = ":".join("%02x" % b for b in f[6:12])
        with lock:
            counts[src] = counts.get(src, 0) + 1
threading.Thread(target=rx, daemon=True).start()
print("ready", flush=True)
for line in sys.stdin:
    with lock:
        print(json.dumps(counts), flush=True)
"""


class Capture:
    """Frames arriving at IFACE in a namespace (from the switch's side),
    counted by source MAC."""

    def __init__(self, netns, iface):
        self.proc = subprocess.Popen(netns.cmd(sys.executable, "-c", CAPTURE, iface),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            fail("capture did not start")

    def counts(self):
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self):
        self.proc.stdin.close()
        stop_proc(self.proc, timeout=5)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""libivnet as a user gets it: `meson install --destdir` of this build, the
example (lib/examples/ping.c) compiled outside the tree with nothing but
`cc ... $(pkg-config --cflags --libs libivnet)`, and two instances of it on
a real ivnetd's segment, one echoing, one sending frames and checking every
byte that comes back. Also: the installed headers and library show the API
only (no ring internals, no region or protocol symbols).

  test_install.py BUILD_DIR IVNETD EXAMPLE_C SANITIZE
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD, IVNETD, EXAMPLE, SANITIZE = sys.argv[1:5]
FRAMES = 300


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def run(argv, env=None, check=True, timeout=120):
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        fail(f"{' '.join(argv)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p


def install(dest):
    """The build's install tree under dest; the .pc's directory and the lib's."""
    run(["meson", "install", "-C", BUILD, "--destdir", dest, "--no-rebuild", "--quiet"],
        timeout=300)
    pcs = glob.glob(os.path.join(dest, "**", "pkgconfig", "libivnet.pc"), recursive=True)
    if len(pcs) != 1:
        fail(f"expected one installed libivnet.pc, found {pcs}")
    pcdir = os.path.dirname(pcs[0])
    libdir = os.path.dirname(pcdir)
    if not os.path.exists(os.path.join(libdir, "libivnet.so.0")):
        fail(f"no libivnet.so.0 beside the .pc in {libdir}: {os.listdir(libdir)}")
    return pcdir, libdir


def pkg_config(pcdir, dest):
    # The .pc names the build's prefix; the sysroot puts it under dest.
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_SYSROOT_DIR=dest)
    flags = run(["pkg-config", "--cflags", "--libs", "libivnet"], env=env).stdout.split()
    if not any(f.startswith("-livnet") for f in flags):
        fail(f"pkg-config gives no -livnet: {flags}")
    return flags


def check_headers(dest):
    inc = glob.glob(os.path.join(dest, "**", "include", "ivnet"), recursive=True)
    if len(inc) != 1:
        fail(f"expected one include/ivnet, found {inc}")
    names = sorted(os.listdir(inc[0]))
    if "ivnet.h" not in names:
        fail(f"no ivnet.h installed: {names}")
    leaked = [n for n in names if "ring" in n or "region" in n or "proto" in n]
    if leaked:
        fail(f"internal headers installed: {leaked}")


def compile_example(dest, flags, out):
    """The example with only pkg-config's flags (and the build's sanitizer,
    since the installed library is instrumented with it)."""
    san = [] if SANITIZE == "none" else [f"-fsanitize={SANITIZE}"]
    cc = os.environ.get("CC", "cc")
    run([cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror", *san, EXAMPLE, "-o", out, *flags])
    needed = run(["readelf", "-d", out]).stdout
    if "libivnet.so.0" not in needed:
        fail(f"the example does not link libivnet.so.0:\n{needed}")
    # A symbol the library keeps local must not link from outside.
    probe = os.path.join(dest, "probe.c")
    with open(probe, "w") as f:
        f.write("int ivnet_proto_send(int, long long, int);\n"
                "int main(void) { return ivnet_proto_send(-1, 0, -1); }\n")
    p = run([cc, *san, probe, "-o", probe + ".out", *flags], check=False)
    if p.returncode == 0:
        fail("ivnet_proto_send links from outside: the version script does not hide it")
    return san


def start_broker(tmp):
    sock = os.path.join(tmp, "seg.sock")
    err = open(os.path.join(tmp, "ivnetd.err"), "w+")
    proc = subprocess.Popen([IVNETD, "-F", "-S", sock, "-l", "16M", "--max-peers", "4",
                             "--name", f"inst{os.getpid()}", "--log",
                             os.path.join(tmp, "ivnetd.log")],
                            stdout=subprocess.DEVNULL, stderr=err)
    end = time.monotonic() + 20
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > end:
            err.seek(0)
            fail(f"ivnetd did not come up: {err.read()}")
        time.sleep(0.05)
    return proc, sock, err


def stop(proc, name):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        fail(f"{name} did not stop")


def exchange(ping, sock, libdir):
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    echo = subprocess.Popen([ping, sock, "echo", str(FRAMES)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        p = run([ping, sock, "ping", str(FRAMES)], env=env, check=False, timeout=120)
        e_out, e_err = echo.communicate(timeout=30)
    finally:
        if echo.poll() is None:
            echo.kill()
            echo.wait()
    if p.returncode != 0:
        fail(f"ping: exit {p.returncode}\n{p.stdout}{p.stderr}\necho: {e_err if echo.returncode is not None else ''}")
    if echo.returncode != 0:
        fail(f"echo: exit {echo.returncode}\n{e_out}{e_err}")
    if f"{FRAMES} frames" not in p.stdout:
        fail(f"ping's report: {p.stdout!r}")
    for out in (p.stderr, e_err):
        if "Sanitizer" in out or "runtime error" in out:
            fail(f"sanitizer report:\n{out}")
    print(p.stdout.strip())


def main():
    tmp = tempfile.mkdtemp(prefix="ivnet-install-")
    try:
        dest = os.path.join(tmp, "dest")
        pcdir, libdir = install(dest)
        check_headers(dest)
        flags = pkg_config(pcdir, dest)
        ping = os.path.join(tmp, "ivnet-ping")
        compile_example(dest, flags, ping)
        proc, sock, err = start_broker(tmp)
        try:
            exchange(ping, sock, libdir)
        finally:
            stop(proc, "ivnetd")
        err.seek(0)
        text = err.read()
        if proc.returncode != 0 or "Sanitizer" in text:
            fail(f"ivnetd exit {proc.returncode}: {text[-2000:]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()

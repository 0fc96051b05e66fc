#!/usr/bin/env python3
"""A private libvirtd for the e2e tests, and consoles of its domains as
guest.py Guests (Python 3 standard library only).

    with Libvirtd(workdir, hooks={'ivnet': hook_script}) as lv:
        lv.virsh('define', xml_file)
        g = lv.start_guest('a', console_path)   # started paused, resumed
        g.wait_ready(); g.run('uname -r')

libvirtd runs as root, as the system daemon, but in a mount namespace of
its own where /etc/libvirt, /run, /var/lib/libvirt, /var/cache/libvirt and
/var/log/libvirt are directories under WORKDIR: its configuration, sockets,
pid files, hooks, domain definitions and QEMU logs are all there, and the
host's (and any system libvirtd's) are untouched. virtlogd runs in the same
namespace. qemu.conf turns off what a test machine cannot give or a test
needs not: the security drivers (AppArmor), cgroups, per-domain mount
namespaces, file ownership changes. Both daemons are children of the test
and die with it (PR_SET_PDEATHSIG); domains are destroyed and undefined,
and any QEMU left is killed by the pid in its pid file.

Clients reach it at URI = qemu:///system?socket=WORKDIR/run/libvirt/libvirt-sock.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import guest as gl
from ivtest import Failure  # tests/lib, on the path through guest

LIBVIRTD_CONF = 'listen_tls = 0\nlisten_tcp = 0\nlog_outputs = "3:stderr"\n'
VIRTLOGD_CONF = 'log_outputs = "3:stderr"\n'
QEMU_CONF = '''security_driver = "none"
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
namespaces = [ ]
'''
# where libvirtd looks, and the WORKDIR directory that takes its place
BINDS = (('etc', '/etc/libvirt'), ('run', '/run'), ('lib', '/var/lib/libvirt'),
         ('cache', '/var/cache/libvirt'), ('log', '/var/log/libvirt'))


class LibvirtError(Failure):
    pass


def missing():
    """Why a private libvirtd cannot run here, or None."""
    if os.geteuid() != 0:
        return 'not root'
    for prog in ('libvirtd', 'virtlogd', 'virsh', 'unshare', 'nsenter'):
        if not shutil.which(prog):
            return f'no {prog} (apt-get install libvirt-daemon-system libvirt-clients)'
    for _, target in BINDS:
        if not os.path.isdir(target):
            return f'no {target} to mount over (apt-get install libvirt-daemon-system)'
    r = subprocess.run(['unshare', '-m', 'true'], capture_output=True)
    if r.returncode:
        return 'no mount namespaces here (unshare -m failed)'
    return None


class Libvirtd:
    def __init__(self, workdir, hooks=None):
        self.workdir = workdir
        self.hooks = hooks or {}
        self.uri = f'qemu:///system?socket={workdir}/run/libvirt/libvirt-sock'
        self.virtlogd = None
        self.libvirtd = None
        self.guests = []
        self._logs = []

    def path(self, *p):
        return os.path.join(self.workdir, *p)

    def _write(self, rel, text, mode=0o644):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'w') as f:
            f.write(text)
        os.chmod(p, mode)

    def start(self):
        for d, _ in BINDS:
            os.makedirs(self.path(d), exist_ok=True)
        self._write('etc/libvirtd.conf', LIBVIRTD_CONF)
        self._write('etc/virtlogd.conf', VIRTLOGD_CONF)
        self._write('etc/qemu.conf', QEMU_CONF)
        for name, script in self.hooks.items():
            os.makedirs(self.path('etc/hooks/qemu.d'), exist_ok=True)
            shutil.copy(script, self.path('etc/hooks/qemu.d', name))
            os.chmod(self.path('etc/hooks/qemu.d', name), 0o755)
        mounts = ' && '.join(f'mount --bind {self.path(d)} {t}' for d, t in BINDS)
        # virtlogd first, in a new mount namespace; libvirtd joins it
        self.virtlogd = self._spawn(
            ['unshare', '-m', '--propagation', 'private', 'sh', '-c',
             f'{mounts} && exec virtlogd -f /etc/libvirt/virtlogd.conf'], 'virtlogd.log')
        self._wait('virtlogd', self.path('run/libvirt/virtlogd-sock'), self.virtlogd)
        self.libvirtd = self._spawn(
            ['nsenter', '-t', str(self.virtlogd.pid), '-m', 'libvirtd', '-f',
             '/etc/libvirt/libvirtd.conf'], 'libvirtd.log')
        self._wait('libvirtd', self.path('run/libvirt/libvirt-sock'), self.libvirtd)
        end = time.monotonic() + 60
        while self.virsh('version', check=False).returncode:
            if time.monotonic() > end or self.libvirtd.poll() is not None:
                raise LibvirtError(f'libvirtd does not answer: {self.log_tail("libvirtd.log")}')
            time.sleep(0.2)
        return self

    def _spawn(self, argv, log):
        f = open(self.path(log), 'wb')
        self._logs.append(f)
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                preexec_fn=gl._die_with_parent)

    def _wait(self, what, sock, proc, timeout=60):
        end = time.monotonic() + timeout
        while not os.path.exists(sock):
            if proc.poll() is not None or time.monotonic() > end:
                raise LibvirtError(f'{what} did not start: '
                                   f'{self.log_tail(what + ".log")}')
            time.sleep(0.1)

    def log_tail(self, name, lines=30):
        try:
            with open(self.path(name), errors='replace') as f:
                return '\n'.join(f.read().splitlines()[-lines:])
        except OSError:
            return ''

    def virsh(self, *args, check=True, timeout=120):
        r = subprocess.run(['virsh', '-q', '-c', self.uri, *args], capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode:
            raise LibvirtError(f'virsh {" ".join(args)}: {r.stderr.strip()}')
        return r

    def qemu_pid(self, domain):
        try:
            with open(self.path('run/libvirt/qemu', domain + '.pid')) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def qemu_log(self, domain):
        return self.path('log/qemu', domain + '.log')

    def start_guest(self, domain, console):
        """Starts a defined domain paused, connects to its serial console (a
        unix socket libvirt has QEMU listen on), then resumes it: the
        console misses nothing of the boot."""
        self.virsh('start', '--paused', domain)
        g = LibvirtGuest(domain, console, self.qemu_log(domain), self.workdir)
        self.guests.append(g)
        g.start()
        self.virsh('resume', domain)
        return g

    def stop(self):
        for g in self.guests:
            g.stop()
        if self.libvirtd and self.libvirtd.poll() is None:
            r = self.virsh('list', '--all', '--name', check=False, timeout=60)
            for dom in r.stdout.split():
                self.virsh('destroy', dom, check=False, timeout=60)
                self.virsh('undefine', dom, check=False, timeout=60)
        # a QEMU libvirtd could not take down: by its pid file, nothing else
        qemu_run = self.path('run/libvirt/qemu')
        for f in os.listdir(qemu_run) if os.path.isdir(qemu_run) else ():
            if f.endswith('.pid'):
                pid = self.qemu_pid(f[:-4])
                if pid and _is_qemu(pid):
                    os.kill(pid, signal.SIGKILL)
        for p in (self.libvirtd, self.virtlogd):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for f in self._logs:
            f.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _is_qemu(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return b'qemu-system' in f.read().split(b'\0')[0]
    except OSError:
        return False


class _Console:
    """What guest.Guest needs of a Popen, over a console socket."""

    def __init__(self, sock):
        self.sock = sock
        self.stdin = sock.makefile('wb')
        self.stdout = self

    def fileno(self):
        return self.sock.fileno()

    def poll(self):
        return None


class LibvirtGuest(gl.Guest):
    """A libvirt domain's serial console, driven like a guest.py Guest
    (wait_ready, run, run_ok, assert_no_oops). QEMU's own messages are
    libvirt's log of the domain."""

    def __init__(self, name, console, qemu_log, workdir):
        super().__init__(name, None, None, workdir=workdir)
        self.console = console
        self.qemu_log = qemu_log
        self._sock = None

    def start(self):
        self._log = open(self.console_log, 'wb')
        self._cmdlog = open(self.commands_log, 'w')
        end = time.monotonic() + 30
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.console)
                break
            except OSError:
                s.close()
                if time.monotonic() > end:
                    raise gl.GuestError(f'guest {self.name}: no console at {self.console}')
                time.sleep(0.1)
        self._sock = s
        self._proc = _Console(s)
        self._started_at = time.monotonic()
        self._reader = threading.Thread(target=self._read_console,
                                        name=f'console-{self.name}', daemon=True)
        self._reader.start()
        return self

    def stop(self):
        if self._sock:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._reader:
            self._reader.join(5)
        if self._proc:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        if self._sock:
            self._sock.close()
            self._sock = None
        for f in (self._log, self._cmdlog):
            if f and not f.closed:
                f.close()

#!/usr/bin/env python3
"""QEMU guests for ivnet's end-to-end tests (Python 3 standard library only).

A Guest boots Debian's kernel (the one ivnet.ko is built against) with the
busybox initramfs from mkinitramfs.sh under TCG, and drives the command loop
of guest-init.sh over the serial console:

    with Guest('a', find_kernel(), initrd, workdir=tmp) as g:
        g.wait_ready()
        rc, out = g.run('insmod /ivnet.ko')
        g.assert_no_oops()

Everything the guest prints is kept in WORKDIR/NAME-console.log, QEMU's own
messages in NAME-qemu.log and the commands sent in NAME-commands.log.

Run by hand (see README.md):  python3 guest.py --initrd FILE [--cmd CMD]...
"""

import argparse
import base64
import ctypes
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

try:
    import lzma
except ImportError:  # Python built without it: boot the bzImage
    lzma = None

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
import ivtest  # noqa: E402

QEMU = 'qemu-system-x86_64'
READY = b'IVNET-GUEST-READY'

# Kernel messages that mean the guest kernel went wrong. Chosen to not match
# a clean boot (the command line's "panic=-1" is why "panic" alone is not).
OOPS_PATTERNS = re.compile(
    r'BUG:|Oops|general protection|Call Trace|Kernel panic|'
    r'WARNING: CPU:|UBSAN:|KASAN:|kernel BUG|RIP: |'
    r'soft lockup|hard LOCKUP|self-detected stall|detected stalls on CPU|blocked for more than')

# Longest request line: the tty's canonical line buffer holds 4095
# characters; stay far below it.
CHUNK = 1024


class GuestError(ivtest.Failure):
    """The guest did not boot, answer, or behave."""


def skip_without_qemu():
    """Exits 77 where QEMU is missing; fails instead with IVNET_E2E_REQUIRED."""
    if not shutil.which(QEMU):
        ivtest.skip(f'{QEMU} not found (apt-get install qemu-system-x86)', 'IVNET_E2E_REQUIRED')


def kernel_version():
    """Version of the newest /usr/src/linux-headers-*-amd64: the kernel the
    module is built against, hence the kernel the guests must boot."""
    best = None
    try:
        names = os.listdir('/usr/src')
    except OSError:
        return None
    for d in names:
        m = re.fullmatch(r'linux-headers-(.*-amd64)', d)
        if m:
            # Like sort -V (what guest/meson.build uses): numbers compare
            # as numbers.
            key = [(0, int(x), '') if x.isdigit() else (1, 0, x)
                   for x in re.split(r'[.-]', m.group(1))]
            if best is None or key > best[0]:
                best = (key, m.group(1))
    return best[1] if best else None


def find_kernel():
    """Path of the guest kernel: $IVNET_E2E_KERNEL, else the
    /boot/vmlinuz-VERSION matching the newest linux-headers-*-amd64."""
    env = os.environ.get('IVNET_E2E_KERNEL')
    if env:
        return env
    ver = kernel_version()
    if not ver:
        raise GuestError('no /usr/src/linux-headers-*-amd64 '
                         '(apt-get install linux-headers-amd64)')
    path = '/boot/vmlinuz-' + ver
    if not os.path.exists(path):
        raise GuestError(f'no {path}: the guest kernel must match the module '
                         f'(apt-get install linux-image-amd64 linux-image-{ver})')
    return path


def prepare_kernel(vmlinuz, cache_dir):
    """Returns a kernel that boots faster under TCG, cached in cache_dir.

    Debian's bzImage spends ~3.5 s of a ~7 s TCG boot decompressing itself
    (XZ) in emulated code. Its payload is an ELF vmlinux with a PVH entry
    note, which QEMU can boot directly: decompress it once on the host with
    lzma. Falls back to the bzImage if that is not what we find."""
    st = os.stat(vmlinuz)
    name = f'vmlinux-{os.path.basename(vmlinuz)}-{st.st_size}-{int(st.st_mtime)}'
    out = os.path.join(cache_dir, name)
    if os.path.exists(out):
        return out
    if lzma is None:
        return vmlinuz
    try:
        with open(vmlinuz, 'rb') as f:
            data = f.read()
        start = data.find(b'\xfd7zXZ\x00')
        if start < 0:
            return vmlinuz
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
    except (OSError, EOFError, lzma.LZMAError):
        return vmlinuz
    # QEMU boots an ELF kernel only through its Xen PVH entry note.
    if not _has_pvh_note(elf):
        return vmlinuz
    os.makedirs(cache_dir, exist_ok=True)
    # Tests may run in parallel: write privately, publish atomically.
    tmp = f'{out}.tmp.{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(elf)
    os.replace(tmp, out)
    # 60+ MB each: drop the ones extracted from earlier builds of the image.
    prefix = f'vmlinux-{os.path.basename(vmlinuz)}-'
    for old in os.listdir(cache_dir):
        if old.startswith(prefix) and old != name and '.tmp.' not in old:
            os.unlink(os.path.join(cache_dir, old))
    return out


def _has_pvh_note(elf):
    """Whether an ELF64 image has a XEN_ELFNOTE_PHYS32_ENTRY (18) note."""
    if elf[:4] != b'\x7fELF' or elf[4] != 2:  # ELF64 only
        return False
    phoff, = struct.unpack_from('<Q', elf, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', elf, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            '<IIQQQQ', elf, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        off, end = p_offset, p_offset + p_filesz
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from('<III', elf, off)
            name = elf[off + 12:off + 12 + namesz]
            if name.rstrip(b'\0') == b'Xen' and ntype == 18:
                return True
            off += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def build_initramfs(out, modules=(), programs=(), kmods=()):
    """Builds (or reuses, if newer than everything it is made of) an
    initramfs with mkinitramfs.sh; see that script for the arguments."""
    script = os.path.join(HERE, 'mkinitramfs.sh')
    inputs = [script, os.path.join(HERE, 'guest-init.sh'), *modules]
    for p in programs:
        inputs.append(shutil.which(p) or p)
    if os.path.exists(out):
        built = os.path.getmtime(out)
        if all(os.path.exists(i) and os.path.getmtime(i) < built for i in inputs):
            return out
    argv = [script, '-o', out]
    for m in modules:
        argv += ['-m', m]
    for p in programs:
        argv += ['-b', p]
    for k in kmods:
        argv += ['-k', k]
    subprocess.run(argv, check=True)
    return out


def ivshmem_plain_args(mem_path, size='4M', ident='ivm'):
    """QEMU arguments for an ivshmem-plain device backed by a shared file."""
    return ['-object', f'memory-backend-file,id={ident},mem-path={mem_path},'
                       f'size={size},share=on',
            '-device', f'ivshmem-plain,memdev={ident}']


def ivshmem_doorbell_args(socket_path, vectors=2, ident='ivs', admin=True):
    """QEMU arguments for an ivshmem-doorbell device served by a broker
    (ivshmem-server protocol) on a unix socket and, with admin, the second
    device that carries the broker's admin region for it (served on the
    socket's path + '.admin'; ivnet.ko needs it unless require_admin=0)."""
    args = ['-chardev', f'socket,path={socket_path},id={ident}',
            '-device', f'ivshmem-doorbell,chardev={ident},vectors={vectors}']
    if admin:
        args += ['-chardev', f'socket,path={socket_path}.admin,id={ident}adm',
                 '-device', f'ivshmem-doorbell,chardev={ident}adm,vectors=1']
    return args


def _die_with_parent():
    # If the test is killed outright (meson's timeout, ^C twice), no Python
    # cleanup runs: make the kernel kill QEMU instead of leaving it behind.
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _sigterm_to_exit(signum, frame):
    # SIGTERM (meson's timeout) becomes SystemExit, so `with Guest(...)`
    # blocks stop their guests and logs are flushed.
    raise SystemExit(128 + signum)


class Guest:
    """One QEMU/TCG guest running guest-init.sh's command loop."""

    def __init__(self, name, kernel, initrd, extra_qemu_args=(), mem='256M',
                 workdir=None, append='', cpu='max', qemu=QEMU, smp=1):
        self.name = name
        self.kernel = kernel
        self.initrd = initrd
        self.extra_qemu_args = list(extra_qemu_args)
        self.mem = mem
        self.workdir = workdir or tempfile.mkdtemp(prefix=f'ivnet-e2e-{name}-')
        self.append = append
        self.cpu = cpu
        self.smp = smp
        self.qemu = qemu
        self.console_log = os.path.join(self.workdir, f'{name}-console.log')
        self.qemu_log = os.path.join(self.workdir, f'{name}-qemu.log')
        self.commands_log = os.path.join(self.workdir, f'{name}-commands.log')
        self.boot_seconds = None
        self._proc = None
        self._reader = None
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._log = None
        self._cmdlog = None
        self._qemu_err = None
        self._started_at = None
        self._echo = os.environ.get('IVNET_E2E_CONSOLE') == '1'

    # -- life cycle -------------------------------------------------------

    def qemu_argv(self):
        # quiet: the boot log over the emulated UART costs time; warnings
        # and worse still reach the console (see guest-init.sh).
        # panic=-1 with -no-reboot: a panicking guest ends QEMU at once.
        append = f'console=ttyS0 quiet panic=-1 IVNET_GUEST={self.name}'
        for extra in (self.append, os.environ.get('IVNET_E2E_APPEND')):
            if extra:
                append += ' ' + extra
        return [self.qemu, '-accel', 'tcg', '-cpu', self.cpu, '-smp', str(self.smp),
                '-m', self.mem, '-nodefaults', '-no-user-config',
                '-nographic', '-no-reboot', '-monitor', 'none',
                # signal=off: a stray ^C byte on the pipe must reach the
                # guest, not kill QEMU.
                '-chardev', 'stdio,id=con,signal=off', '-serial', 'chardev:con',
                '-kernel', self.kernel, '-initrd', self.initrd,
                '-append', append, *self.extra_qemu_args]

    def start(self):
        if self._proc:
            return self
        os.makedirs(self.workdir, exist_ok=True)
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
            signal.signal(signal.SIGTERM, _sigterm_to_exit)
        self._log = open(self.console_log, 'wb')
        self._cmdlog = open(self.commands_log, 'w')
        self._qemu_err = open(self.qemu_log, 'wb')
        argv = self.qemu_argv()
        self._cmdlog.write('# ' + ' '.join(argv) + '\n')
        self._cmdlog.flush()
        self._started_at = time.monotonic()
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE,
                                      stderr=self._qemu_err,
                                      preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_console,
                                        name=f'console-{self.name}', daemon=True)
        self._reader.start()
        return self

    def _read_console(self):
        fd = self._proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b''
            with self._cond:
                if not data:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._buf += data
                self._log.write(data)
                self._log.flush()
                if self._echo:
                    sys.stderr.buffer.write(data)
                    sys.stderr.flush()
                self._cond.notify_all()

    def stop(self):
        """Kills QEMU (the guest has nothing worth a clean shutdown) and
        closes the logs. Safe to call more than once."""
        p = self._proc
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p and p.stdin:
            try:
                p.stdin.close()
            except OSError:
                pass
        if self._reader:
            self._reader.join(5)
        for f in (self._log, self._cmdlog, self._qemu_err):
            if f and not f.closed:
                f.close()
        if p and p.stdout:
            p.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def alive(self):
        return bool(self._proc) and self._proc.poll() is None and not self._eof

    # -- console ----------------------------------------------------------

    @property
    def console_text(self):
        """Everything the guest printed so far, as text."""
        with self._cond:
            data = bytes(self._buf)
        return data.decode('utf-8', 'replace').replace('\r', '')

    def _wait_for(self, pattern, start, timeout, what):
        """Waits until regex `pattern` (bytes) matches the console output
        from offset `start`; returns the match."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = pattern.search(self._buf, start)
                if m:
                    return m
                if self._eof:
                    raise GuestError(self._failure(f'QEMU exited while {what}'))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GuestError(self._failure(
                        f'timed out after {timeout:g} s {what}'))
                self._cond.wait(min(left, 1.0))

    def _failure(self, msg):
        rc = self._proc.poll() if self._proc else None
        if rc is not None:
            msg += f' (QEMU exit status {rc})'
        try:
            with open(self.qemu_log, 'rb') as f:
                err = f.read().decode('utf-8', 'replace').strip()
        except OSError:
            err = ''
        tail = '\n'.join(self.console_text.splitlines()[-40:])
        return (f'guest {self.name}: {msg}\n'
                + (f'--- QEMU said:\n{err}\n' if err else '')
                + f'--- last console lines ({self.console_log}):\n{tail}')

    def wait_ready(self, timeout=120):
        """Waits for the boot to reach the command loop and for the loop to
        answer; returns the boot time in seconds."""
        self._wait_for(re.compile(re.escape(READY)), 0, timeout, 'booting')
        self.boot_seconds = time.monotonic() - self._started_at
        left = max(10.0, timeout - self.boot_seconds)
        rc, out = self.run('echo alive', timeout=left)
        if rc != 0 or out.strip() != 'alive':
            raise GuestError(self._failure(f'command loop broken: {rc} {out!r}'))
        return self.boot_seconds

    # -- commands ---------------------------------------------------------

    def _send(self, line):
        try:
            self._proc.stdin.write(line.encode() + b'\n')
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise GuestError(self._failure('cannot write to the console')) from None

    def run(self, cmd, timeout=60):
        """Runs shell command `cmd` in the guest (a fresh busybox sh, stdin
        /dev/null, stderr merged into stdout); returns (exit status, output).
        Raises GuestError if the guest dies or does not answer in time."""
        if not self._proc:
            raise GuestError(f'guest {self.name}: not started')
        marker = 'IVNET-' + uuid.uuid4().hex[:16]
        self._cmdlog.write(f'$ {cmd}\n')
        self._cmdlog.flush()
        with self._cond:
            start = len(self._buf)
        b64 = base64.b64encode(cmd.encode()).decode()
        for i in range(0, len(b64), CHUNK):
            self._send('c ' + b64[i:i + CHUNK])
        self._send('r ' + marker)
        mk = re.escape(marker.encode())
        # Kernel messages may land anywhere, so markers are matched inside
        # lines, not as whole lines.
        begin = self._wait_for(re.compile(mk + rb':begin\r?\n'), start, timeout,
                               f'starting {cmd!r}')
        end = self._wait_for(re.compile(rb'\r?\n?' + mk + rb':end:(\d+)'),
                             begin.end(), timeout, f'running {cmd!r}')
        with self._cond:
            raw = bytes(self._buf[begin.end():end.start()])
        out = raw.decode('utf-8', 'replace').replace('\r', '')
        if out and not out.endswith('\n'):
            out += '\n'
        rc = int(end.group(1))
        self._cmdlog.write(f'# rc={rc}\n')
        self._cmdlog.flush()
        return rc, out

    def run_ok(self, cmd, timeout=60):
        """run() that raises GuestError unless the command exits 0; returns
        its output."""
        rc, out = self.run(cmd, timeout)
        if rc != 0:
            raise GuestError(f'guest {self.name}: {cmd!r} exited {rc}:\n{out}')
        return out

    # -- kernel health ----------------------------------------------------

    def oops_lines(self, text=None):
        """Lines of the console (or of `text`) that report a kernel bug."""
        if text is None:
            text = self.console_text
        return [l for l in text.splitlines() if OOPS_PATTERNS.search(l)]

    def assert_no_oops(self):
        """Raises GuestError if the console or, when the guest still
        answers, its kernel log shows an oops, BUG, WARN, panic, lockup or
        RCU stall. The
        console only gets warnings and worse (`quiet`, dmesg -n 5); dmesg
        has everything."""
        bad = self.oops_lines()
        if self.alive:
            rc, out = self.run('dmesg', timeout=30)
            bad += [f'dmesg: {l}' for l in self.oops_lines(out)]
        if bad:
            raise GuestError(f'guest {self.name}: kernel reported problems '
                             f'(see {self.console_log}):\n' + '\n'.join(bad[:40]))


def main():
    ap = argparse.ArgumentParser(
        description='Boot one ivnet e2e guest by hand. Without --cmd, gives an '
                    'interactive shell on the console (QEMU: Ctrl-A x quits).')
    ap.add_argument('--kernel', help='guest kernel (default: as find_kernel())')
    ap.add_argument('--initrd', help='initramfs (default: build one from --ko/-b)')
    ap.add_argument('--ko', action='append', default=[], help='module for the image')
    ap.add_argument('-b', dest='programs', action='append', default=[],
                    help='program for the image (e.g. iperf3)')
    ap.add_argument('--ivshmem-plain', metavar='FILE',
                    help='add an ivshmem-plain device backed by FILE (4 MiB)')
    ap.add_argument('--workdir', help='logs and built files (default: a temp dir)')
    ap.add_argument('--cmd', action='append', default=[], help='command to run')
    args = ap.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix='ivnet-guest-')
    os.makedirs(workdir, exist_ok=True)
    kernel = prepare_kernel(args.kernel or find_kernel(), workdir)
    initrd = args.initrd or build_initramfs(
        os.path.join(workdir, 'initramfs.cpio.gz'), args.ko, args.programs)
    extra = ivshmem_plain_args(args.ivshmem_plain) if args.ivshmem_plain else []
    g = Guest('guest', kernel, initrd, extra, workdir=workdir)
    if not args.cmd:
        argv = g.qemu_argv()
        # Hand the console to the user: a real shell instead of the loop,
        # and QEMU's monitor mux so Ctrl-A x exits.
        argv[argv.index('-append') + 1] += ' IVNET_SHELL=1'
        i = argv.index('-chardev')
        argv[i:i + 4] = ['-serial', 'mon:stdio']
        argv[argv.index('-monitor'):argv.index('-monitor') + 2] = []
        os.execvp(argv[0], argv)
    with g:
        print(f'booted in {g.wait_ready():.1f} s; logs in {workdir}', file=sys.stderr)
        status = 0
        for c in args.cmd:
            rc, out = g.run(c, timeout=300)
            sys.stdout.write(out)
            print(f'[{c!r} exited {rc}]', file=sys.stderr)
            status = status or rc
    return status


if __name__ == '__main__':
    sys.exit(main())

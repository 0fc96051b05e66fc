#!/bin/sh
# /init of the e2e guests (busybox initramfs built by mkinitramfs.sh).
#
# Sets the guest up, prints a ready banner, then serves commands from the
# serial console for tests/e2e/guest.py. Protocol, one line per request:
#   c BASE64     append a chunk of the next command (base64 keeps quotes,
#                newlines and long commands intact through the tty)
#   r MARKER     run the command gathered so far; prints "MARKER:begin",
#                its output, then "MARKER:end:RC"
# Commands run in a child shell with stdin from /dev/null, so they can
# neither read the requests meant for this loop nor end it by `exit`; state
# (cd, variables) does not carry over from one command to the next.
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run

# The image has no /dev/console node (making one needs root at build time),
# so the kernel started us without stdio: take the console from devtmpfs.
exec </dev/console >/dev/console 2>&1

# The kernel passes unknown name=value boot arguments to init as
# environment variables: guest.py sets IVNET_GUEST to the guest's name.
hostname "${IVNET_GUEST:-guest}"
ip link set lo up

if [ -f /etc/ivnet-modules ]; then
	while IFS= read -r m; do
		insmod "$m" || echo "init: insmod $m failed"
	done </etc/ivnet-modules
fi

# By hand (guest.py without --cmd): a shell with job control on the serial
# port instead of the loop; leaving it powers the guest off.
if [ -n "${IVNET_SHELL:-}" ]; then
	echo "ivnet e2e guest $(hostname): exit or Ctrl-D powers off, Ctrl-A x kills QEMU"
	setsid cttyhack sh -l
	poweroff -f
fi

# Requests arrive base64'd: echoing them back is noise on the console.
stty -echo
# `quiet` keeps boot fast, but WARN()s and their call traces (default level)
# must still reach the console, where the harness looks for them.
dmesg -n 5

# Debian's busybox sh runs its own applets before searching PATH, so a
# program added with mkinitramfs.sh -b (iputils ping, say) would lose to the
# same-named applet: a function of that name, defined before each command,
# makes the program win in commands typed here (not for programs run through
# another program, e.g. `timeout 5 ping`: give the full path there).
prelude=/etc/ivnet-prelude.sh
: >"$prelude"
for f in /usr/local/bin/*; do
	n=${f##*/}
	case $n in *[!A-Za-z0-9_]*) continue ;; esac
	[ -x "$f" ] && echo "$n() { $f \"\$@\"; }" >>"$prelude"
done

echo "IVNET-GUEST-READY $(uname -r)"
cmd=/tmp/.ivnet-cmd
while IFS= read -r line; do
	case $line in
	"c "*)
		printf '%s' "${line#c }" >>"$cmd.b64"
		;;
	"r "*)
		m=${line#r }
		base64 -d "$cmd.b64" >"$cmd" 2>/dev/null || : >"$cmd"
		rm -f "$cmd.b64"
		echo "$m:begin"
		sh -c ". $prelude; . $cmd" </dev/null 2>&1
		echo "$m:end:$?"
		;;
	esac
done
# The console never gives EOF; if it did, ending init panics the kernel and
# -no-reboot makes QEMU exit, which the harness reports.
echo "init: console closed"

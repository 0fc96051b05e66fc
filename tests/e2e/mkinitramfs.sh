#!/bin/sh
# mkinitramfs.sh -o OUT [-i INIT] [-m FILE.ko]... [-b PROGRAM]... [-k KMOD]... [-r KVER]
#
# Builds the e2e guests' root file system: a gzip'd newc cpio archive holding
# busybox (from busybox-static, so the base image needs no libc), /init
# (guest-init.sh next to this script unless -i), and:
#   -m FILE.ko   a module file, stored as /BASENAME (e.g. /ivnet.ko), not loaded
#   -b PROGRAM   a program (name on PATH, or a path), stored in /usr/local/bin
#                (ahead of busybox on the guest's PATH) with its shared
#                libraries (the ldd closure) at their host paths
#   -k KMOD      a module of the guest kernel, with the modules it depends on,
#                from /lib/modules/KVER; /init loads them in order at boot
#   -r KVER      guest kernel version for -k (default: the newest
#                /usr/src/linux-headers-*-amd64, the tree ivnet.ko is built
#                against)
# Anything asked for that is missing is an error: nothing is left out
# silently. The archive is deterministic (sorted names, fixed owner and
# times, gzip -n), so the same inputs give the same bytes, and it is written
# atomically, so a build system can cache it.
set -eu

die() {
	echo "mkinitramfs: $*" >&2
	exit 1
}
usage() {
	echo "usage: $0 -o OUT [-i INIT] [-m FILE.ko]... [-b PROGRAM]... [-k KMOD]... [-r KVER]" >&2
	exit 2
}

umask 022
stage=$(mktemp -d "${TMPDIR:-/tmp}/ivnet-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
trap 'exit 1' INT TERM

# copy_file SRC DEST: copies through symlinks, so the image holds a regular
# file under the name asked for (e.g. /lib64/ld-linux-x86-64.so.2).
copy_file() {
	mkdir -p "$stage$(dirname "$2")"
	cp -L "$1" "$stage$2"
}

add_program() {
	path=$(command -v "$1") || die "program $1 not found"
	case $path in /*) ;; *) die "$1 is a shell builtin, not a program" ;; esac
	copy_file "$path" "/usr/local/bin/$(basename "$path")"
	# ldd prints "name => /path (addr)" or "/path (addr)"; the vDSO has no
	# path. ldd fails on a static program: then there is nothing to copy.
	libs=$(ldd "$path" 2>/dev/null) || libs=
	printf '%s\n' "$libs" |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
		while IFS= read -r lib; do copy_file "$lib" "$lib"; done
}

# Files are copied while the options are read, so paths with spaces work.
out='' init=$(dirname "$0")/guest-init.sh kver='' kmods=
while getopts o:i:m:b:k:r: opt; do
	case $opt in
	o) out=$OPTARG ;;
	i) init=$OPTARG ;;
	m)
		[ -f "$OPTARG" ] || die "no module file $OPTARG"
		cp "$OPTARG" "$stage/$(basename "$OPTARG")"
		;;
	b) add_program "$OPTARG" ;;
	k) kmods="$kmods $OPTARG" ;;
	r) kver=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
if [ -z "$out" ] || [ $# -ne 0 ]; then
	usage
fi

busybox=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
# A dynamically linked busybox would need libc in the image as well.
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked (apt-get install busybox-static)"
fi
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"
[ -r "$init" ] || die "no init script $init"

for d in bin sbin usr/bin usr/sbin usr/local/bin dev proc sys tmp run etc root; do
	mkdir -p "$stage/$d"
done
cp "$busybox" "$stage/bin/busybox"
cp "$init" "$stage/init"
chmod 755 "$stage/init"
# Applet links made here rather than by `busybox --install` at boot: boot
# does less work. Programs added with -b live in /usr/local/bin, so a
# same-named applet (ping, ip) does not clash with them.
for applet in $("$busybox" --list-full); do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done

if [ -n "$kmods" ]; then
	[ -n "$kver" ] || kver=$(find /usr/src -maxdepth 1 -name 'linux-headers-*-amd64' |
		sort -V | tail -n 1 | sed 's|.*/linux-headers-||')
	[ -n "$kver" ] || die "no kernel version: give -r KVER or install linux-headers-amd64"
	[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver (apt-get install linux-image-$kver)"
	list=$stage/etc/ivnet-modules
	: >"$list"
	for m in $kmods; do
		# --show-depends prints "insmod PATH" lines in load order (and
		# "builtin NAME" for what is compiled in: nothing to load).
		deps=$(modprobe -S "$kver" --show-depends "$m") || die "no kernel module $m for $kver"
		for f in $(printf '%s\n' "$deps" | awk '$1 == "insmod" { print $2 }'); do
			grep -qx "$f" "$list" && continue
			copy_file "$f" "$f"
			echo "$f" >>"$list"
		done
	done
fi

# Fixed times and owner, sorted names, gzip without name or time: the
# archive depends only on the files' contents and modes.
find "$stage" -exec touch -h -d @0 {} +
tmp=$out.tmp.$$
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$tmp"
mv -f "$tmp" "$out"

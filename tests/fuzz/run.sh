#!/bin/sh
# run.sh SRCROOT OUTDIR TARGET [libFuzzer args...]: build one libFuzzer
# target with clang (ASan + UBSan) and run it on its seed corpus.
#
#   tests/fuzz/run.sh . /tmp/fuzz ctl -max_total_time=60
#   tests/fuzz/run.sh . /tmp/fuzz region -runs=100000
#
# Targets: ctl (control requests, --segment and size parsers), region
# (region validation and ring consumption over fuzzed shared memory), qmp
# (QMP replies as QEMU, or anything on that socket, may send them),
# vswctl (ivnet-vswitch's control requests and port specifications),
# ctlserver (the control server's loop, its clients socketpairs).
set -eu
src=$1 out=$2 target=$3
shift 3
# libivnet's public headers (<ivnet/ivnet.h>), for the sources that name them
export CPATH="$src/lib/include${CPATH:+:$CPATH}"
case $target in
ctl) files="$src/host/ivnetd/ctl_parse.c $src/host/util/ctl_io.c $src/host/ivnetd/options.c $src/host/util/size.c $src/host/placement/placement_config.c $src/host/util/cpus.c" ;;
region) files="$src/abi/ivnet_layout.c $src/abi/ivnet_ring.c" ;;
qmp) files="$src/host/placement/qmp.c" ;;
vswctl) files="$src/host/vswitch/ctl_parse.c $src/host/util/ctl_io.c" ;;
ctlserver) files="$src/host/util/ctl_server.c $src/host/util/ctl_io.c $src/host/util/print.c $src/host/util/unix_socket.c $src/host/util/host_log.c" ;;
*) echo "run.sh: unknown target $target (ctl, region, qmp, vswctl, ctlserver)" >&2; exit 2 ;;
esac
mkdir -p "$out/corpus-$target"
cp "$src/tests/fuzz/corpus/$target/"* "$out/corpus-$target/" 2>/dev/null || true
clang -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$src/abi" -I"$src/lib" -I"$src/host" -I"$src/host/util" \
	-I"$src/host/ivnetd" -I"$src/host/placement" -o "$out/fuzz_$target" \
	"$src/tests/fuzz/fuzz_$target.c" $files
cd "$out"
exec "./fuzz_$target" -max_len=8192 "$@" "corpus-$target"

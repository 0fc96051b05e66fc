#!/bin/sh
# kbuild.sh KDIR SRCROOT OUTDIR KO: build guest/ivnet.ko out of tree through
# Kbuild, without writing into the source tree: guest/ and common/ are copied
# into OUTDIR, which Kbuild then builds as M=OUTDIR/guest; the module is copied to KO.
set -eu
kdir=$1 src=$2 out=$3 ko=$4
mkdir -p "$out/guest" "$out/common"
cp "$src"/guest/Kbuild "$src"/guest/*.c "$src"/guest/*.h "$out/guest/"
cp "$src"/common/*.c "$src"/common/*.h "$out/common/"
make -s -C "$kdir" M="$out/guest" modules
cp "$out/guest/ivnet.ko" "$ko"

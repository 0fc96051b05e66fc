#!/bin/sh
# kbuild.sh KDIR SRCROOT OUTDIR KO: build ivnet.ko out of tree through Kbuild
# without writing into the source tree. The module is exactly guest/ and abi/:
# guest/ is copied to OUTDIR and abi/ to OUTDIR/abi, Kbuild builds M=OUTDIR,
# and the module is copied to KO.
set -eu
kdir=$1 src=$2 out=$3 ko=$4
rm -rf "$out"
mkdir -p "$out/abi"
cp "$src"/guest/Kbuild "$src"/guest/*.c "$src"/guest/*.h "$out/"
cp "$src"/abi/*.c "$src"/abi/*.h "$out/abi/"
make -s -C "$kdir" M="$out" modules
cp "$out/ivnet.ko" "$ko"

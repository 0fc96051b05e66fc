#!/usr/bin/env bash
# bench/perf/callgrind.sh BUILD_DIR: instructions per frame on libivnet's
# send and receive paths, counted by callgrind (repeatable, whatever the
# machine is doing). ivnet-framecost passes frames between two endpoints in
# one thread; callgrind counts only inside ivnet_ep_send_burst or
# ivnet_ep_{recv_burst,recv_zc} (inclusive), divided by the frames moved.
set -euo pipefail
build=$(cd "${1:-build/release}" && pwd)
n=${N:-20000}
tmp=$(mktemp -d)
"$build/host/ivnetd/ivnetd" -F -S "$tmp/seg.sock" -l 16M -n 2 2>"$tmp/ivnetd.log" &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -S "$tmp/seg.sock" ] && break; sleep 0.05; done

count() { # FUNCTION ARGS...: instructions inside FUNCTION per frame
	local fn=$1
	shift
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --toggle-collect="$fn" \
		"$build/bench/ivnet-framecost" "$tmp/seg.sock" -n "$n" "$@" >"$tmp/out" 2>"$tmp/vg.log"
	local frames ir
	frames=$(awk '{print $2}' "$tmp/out")
	ir=$(callgrind_annotate "$tmp/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
	awk -v ir="$ir" -v f="$frames" 'BEGIN { printf "%.1f", ir / f }'
}

printf '%-6s %-6s %-9s %14s %14s\n' size burst receive "send instr/fr" "recv instr/fr"
for size in 64 1514; do
	for burst in 1 32; do
		for mode in copy zerocopy; do
			z=()
			fn=ivnet_ep_recv_burst
			if [ "$mode" = zerocopy ]; then z=(-z); fn=ivnet_ep_recv_zc; fi
			s=$(count ivnet_ep_send_burst -b "$burst" -s "$size" "${z[@]}")
			r=$(count "$fn" -b "$burst" -s "$size" "${z[@]}")
			printf '%-6s %-6s %-9s %14s %14s\n' "$size" "$burst" "$mode" "$s" "$r"
		done
	done
done

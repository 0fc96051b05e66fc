#!/bin/sh
# placement_cgroup_guest.sh - the cpuset mechanism of ivnetd's placement on
# a pure cgroup v2 system: run inside an e2e guest (test_placement_cgroup.py
# puts it, ivnetd, ivnetctl and vcpu_tool in the image and boots two vCPUs).
# It needs nothing from the host's cgroup setup, so the mechanism is tested
# on any host. Prints "ok: ..." lines; the first failure prints "FAIL: ..."
# and exits 1.
set -u
log=/tmp/ivnetd.log
fail() {
	echo "FAIL: $*"
	echo "--- ivnetd log:"
	cat $log
	exit 1
}
# up to 20 s for a shell condition
until_true() {
	i=0
	while ! eval "$1"; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "timed out: $1"
		sleep 0.1
	done
}
mask() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$1/task/$2/status; }
cgroup() { sed -n 's/^0:://p' /proc/$1/task/${2:-$1}/cgroup; }
tid() {
	for t in /proc/$1/task/*; do
		[ "$(cat $t/comm)" = "$2" ] && echo ${t##*/} && return
	done
}

mount -t cgroup2 none /sys/fs/cgroup || fail "cannot mount cgroup2"
grep -qw cpuset /sys/fs/cgroup/cgroup.controllers || fail "no cpuset in cgroup v2"
[ "$(cat /sys/devices/system/cpu/online)" = 0-1 ] || fail "needs CPUs 0-1"
[ ! -e /sys/fs/cgroup/ivnet ] || fail "/sys/fs/cgroup/ivnet exists already"

# The default parent, /sys/fs/cgroup/ivnet: made, then removed at the end.
# In the foreground: its stderr (a sanitizer's report) stays ours.
ivnetd -F -S /tmp/p.sock -l 4M --name seg --placement spread --placement-cpus 0,1 \
	--pin cpuset --log $log 2>/tmp/ivnetd.err &
d=$!
until_true '[ -S /tmp/p.sock.ctl ] || ! kill -0 $d 2>/dev/null'
kill -0 $d 2>/dev/null || fail "ivnetd: $(cat /tmp/ivnetd.err)"

segcg=/sys/fs/cgroup/ivnet/seg.$d
[ -d $segcg ] || fail "no segment cgroup $segcg"
grep -qw cpuset /sys/fs/cgroup/ivnet/cgroup.subtree_control || fail "cpuset not enabled below ivnet"

# t1: one vCPU that had put itself on CPU 1 (what it must get back)
vcpu_tool /tmp/p.sock --vcpus 1 --others 1 --affinity 0=1 >/tmp/t1.out 2>&1 &
t1=$!
until_true 'grep -q joined /tmp/t1.out'
vcpu_tool /tmp/p.sock --vcpus 1 --others 1 >/tmp/t2.out 2>&1 &
t2=$!
until_true 'grep -q joined /tmp/t2.out'
grep -q '"id":0' /tmp/t1.out || fail "t1 is not peer 0: $(cat /tmp/t1.out)"
c1=$(tid $t1 "CPU 0/TCG")
c2=$(tid $t2 "CPU 0/TCG")
w1=$(tid $t1 worker-0)
until_true '[ "$(mask $t1 $c1)" = 0 ] && [ "$(mask $t2 $c2)" = 1 ]'
[ "$(mask $t1 $w1)" = 0-1 ] && [ "$(mask $t1 $t1)" = 0-1 ] || fail "t1's other threads not on the domain"
[ "$(cgroup $t1)" = /ivnet/seg.$d/peer0.$t1 ] || fail "t1 in $(cgroup $t1)"
[ "$(cgroup $t1 $c1)" = /ivnet/seg.$d/peer0.$t1/vcpu0 ] || fail "t1's vCPU in $(cgroup $t1 $c1)"
[ "$(cat $segcg/peer0.$t1/vcpu0/cgroup.type)" = threaded ] || fail "vcpu0 cgroup not threaded"
[ "$(cat $segcg/peer0.$t1/vcpu0/cpuset.cpus)" = 0 ] || fail "vcpu0 cpuset.cpus"
[ "$(cat $segcg/peer1.$t2/vcpu0/cpuset.cpus)" = 1 ] || fail "t2's vcpu0 cpuset.cpus"
ivnetctl -s /tmp/p.sock.ctl -j placement | grep -q "\"tid\":$c1,\"name\":\"CPU 0/TCG\",\"vcpu\":0,\"cpus\":\"0\",\"planned\":\"0\",\"mechanism\":\"cpuset\"" ||
	fail "placement does not list t1's vCPU: $(ivnetctl -s /tmp/p.sock.ctl -j placement)"
echo "ok: spread: each vCPU in its threaded cgroup on its own CPU, the rest on the domain"

# t1 leaves, alive: back to its cgroup and its own affinity; t2 moves up
kill -USR1 $t1
until_true '[ "$(cgroup $t1)" = / ]'
until_true '[ "$(mask $t1 $c1)" = 1 ] && [ "$(mask $t1 $w1)" = 0-1 ]'
until_true '[ ! -e $segcg/peer0.$t1 ]'
until_true '[ "$(mask $t2 $c2)" = 0 ] && [ "$(cat $segcg/peer1.$t2/vcpu0/cpuset.cpus)" = 0 ]'
echo "ok: leave restores cgroup and affinity, removes the cgroup; the other peer re-placed"

# t2 killed: its cgroup goes once it is reaped
kill -KILL $t2
wait $t2
until_true '[ ! -e $segcg/peer1.$t2 ]'
echo "ok: a killed peer's cgroup is removed"

# none, then pack through the control socket
ivnetctl -s /tmp/p.sock.ctl placement set seg policy=pack cpus=1 >/dev/null || fail "placement set pack"
vcpu_tool /tmp/p.sock --vcpus 2 --others 0 >/tmp/t3.out 2>&1 &
t3=$!
until_true 'grep -q joined /tmp/t3.out'
until_true '[ "$(mask $t3 $(tid $t3 "CPU 1/TCG"))" = 1 ] && [ "$(mask $t3 $t3)" = 1 ]'
[ "$(cat $(ls -d $segcg/peer*.$t3)/cpuset.cpus)" = 1 ] || fail "pack cgroup cpuset.cpus"
ls -d $segcg/peer*.$t3/vcpu* >/dev/null 2>&1 && fail "pack needs no per-vCPU cgroups"
ivnetctl -s /tmp/p.sock.ctl placement set seg policy=none >/dev/null || fail "placement set none"
until_true '[ "$(cgroup $t3)" = / ] && [ "$(mask $t3 $t3)" = 0-1 ]'
ls -d $segcg/peer* >/dev/null 2>&1 && fail "cgroup left after policy=none"
echo "ok: placement set pack then none moves the process in and out"

kill $t1 $t3
wait $t1 $t3
kill $d
wait $d || fail "ivnetd exit status $?: $(cat /tmp/ivnetd.err)"
[ ! -e /sys/fs/cgroup/ivnet ] || fail "/sys/fs/cgroup/ivnet left behind: $(find /sys/fs/cgroup/ivnet -type d)"
grep -q Sanitizer /tmp/ivnetd.err && fail "sanitizer: $(cat /tmp/ivnetd.err)"
echo "ok: ivnetd stop removes the cgroups it made"

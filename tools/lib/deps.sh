# shellcheck shell=bash
# Sourced by tools/test, tools/demo and .ci/run: installs, with apt-get, the
# Debian packages ivnet needs. Runs apt-get only when something is missing.

IVNET_PACKAGES=(
	build-essential meson ninja-build pkg-config
	libnuma-dev
	dpdk libdpdk-dev
	clang libclang-rt-14-dev
	linux-headers-amd64 kmod
	python3
	qemu-system-x86 busybox-static cpio linux-image-amd64 iperf3 iputils-ping ethtool
	libvirt-dev libxml2-dev libjansson-dev
	libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
	# ivnet-vswitch (libdpdk-dev), dpdk-testpmd for its tests (dpdk-dev), ip netns
	libdpdk-dev dpdk-dev iproute2
	gnuplot-nox valgrind
)

ivnet_install_deps() {
	local missing=() p
	for p in "${IVNET_PACKAGES[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "ivnet: installing ${missing[*]}"
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

#!/usr/bin/env bash
# Installs what lmtrace needs to build, test and run its demo, from Debian's
# packages (Debian 12 / Ubuntu). Does nothing when everything is there.
#   build: clang llvm bpftool libbpf libelf zlib, jansson (QMP's JSON),
#          libmicrohttpd (Prometheus /metrics), gcc-multilib (the lab guest)
#   tests: qemu-system-x86 (the lab), curl (HTTP client), tmux (live view),
#          librsvg2-bin (renders report charts), util-linux (setpriv),
#          libclang-rt-14-dev (libFuzzer, for the recording-reader fuzz test),
#          prometheus (promtool: t_fleet checks and unit-tests the alerting
#          rules; Debian's package also enables a Prometheus server on :9090,
#          `systemctl disable --now prometheus` if it is not wanted), python3
#          (t_fleet's metric-name check), jq (t_lab_check reads lmtrace check's JSON),
#          systemd (systemd-analyze: t_fleet verifies the unit; a Debian 12
#          container has no systemd package),
#          libvirt-dev (libvirt's C API: the libvirt client, built only when present),
#          libvirt-daemon-system (libvirtd and virtlogd: tests/lab/libvirt_lab.sh's real libvirt),
#          libvirt-clients (virsh: the tests' reference readings and the lab's migrations)
# A test that lacks one of these skips, and a skip fails in CI.
set -eu
pkgs="make gcc gcc-multilib clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
      libjansson-dev libmicrohttpd-dev qemu-system-x86 curl tmux librsvg2-bin util-linux
      libclang-rt-14-dev ca-certificates prometheus python3 jq systemd
      libvirt-dev libvirt-daemon-system libvirt-clients"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing — install them as root: apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing

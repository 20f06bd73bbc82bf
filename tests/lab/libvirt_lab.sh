#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# libvirt_lab.sh: a real libvirt on this machine, without systemd, for the tests
# of lmtrace's libvirt client (tests/system/t_libvirt_client.sh). As root.
#
#   libvirt_lab.sh start DIR [--type qemu|kvm] [--name NAME] [--mem MIB]
#                            [--cmdline 'wss=MIB rate=MIB/s ...'] [--port PORT]
#   libvirt_lab.sh stop DIR
#
# start: makes Debian's libvirt run QEMU as root (/etc/libvirt/qemu.conf:
# user, group = "root", namespaces = [ ]; changed once, each change said),
# starts virtlogd and libvirtd (qemu:///system), defines and starts a domain
# of the given type (qemu: TCG, the default here, as there is no /dev/kvm;
# kvm on a KVM host) that boots the lab's bare-metal guest (make guest) with
# the given command line, no disk, no NIC; and a second libvirtd, a
# migration destination on this same machine, in a private mount namespace
# (its own /etc/libvirt copy with another host_uuid, its own /run/libvirt,
# state, cache and logs), listening on 127.0.0.1:PORT (TCP, no auth).
# DIR/lab.env then says DOMAIN, SRC_URI, DST_URI, MIGRATE_URI (the QEMU
# stream's), SERIAL (the guest's console log) and the pids. A live migration:
#   virsh -c "$SRC_URI" migrate --live "$DOMAIN" "$DST_URI" --migrateuri "$MIGRATE_URI"
# stop: destroys the domain on both daemons, then stops by pid everything
# start started (QEMUs, both libvirtd, virtlogd), each bounded in time.
# start stops what it started if it fails. Each step is bounded (timeout).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
OUTPUT=${OUTPUT:-$top/.output}
case $OUTPUT in /*) ;; *) OUTPUT=$top/$OUTPUT ;; esac
T=20	# seconds: the bound on each virsh call and each wait

die() { echo "libvirt_lab: $*" >&2; exit 1; }
say() { echo "libvirt_lab: $*" >&2; }
vsh() { timeout "$T" virsh -q -c "$@"; }

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# waitfor SECONDS CMD...: until CMD succeeds, or fail after SECONDS
waitfor() {
	local n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# setconf FILE KEY VALUE: KEY = VALUE in FILE, once (a commented default stays)
setconf() {
	local f=$1 k=$2 v=$3
	if grep -qxF "$k = $v" "$f"; then return 0; fi
	if grep -q "^$k *=" "$f"; then
		sed -i "s|^$k *=.*|$k = $v|" "$f"
	else
		printf '%s = %s\n' "$k" "$v" >>"$f"
	fi
	say "$f: set $k = $v"
}

# stop_pid PID WHAT: TERM, then KILL after 5 s
stop_pid() {
	local p=$1 n=50
	alive "$p" || return 0
	kill "$p" 2>/dev/null
	while alive "$p" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	alive "$p" && { say "$2 (pid $p) ignored TERM: KILL"; kill -9 "$p" 2>/dev/null; }
	return 0
}

domain_xml() { # TYPE NAME MEM CMDLINE SERIAL
	local bios=""
	[ -r /usr/share/qemu/qboot.rom ] && bios="<loader type='rom' readonly='yes'>/usr/share/qemu/qboot.rom</loader>"
	cat <<EOF
<domain type='$1'>
  <name>$2</name>
  <memory unit='MiB'>$3</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    $bios
    <kernel>$OUTPUT/guest/guest.elf</kernel>
    <cmdline>$4</cmdline>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'><source path='$5' append='on'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# The destination daemon's /etc/libvirt: a copy with its own identity and a TCP listener.
dst_conf() { # DIR PORT
	local etc=$1/dst-etc uuid
	rm -rf "$etc" && cp -a /etc/libvirt "$etc" || return 1
	uuid=$(cat /proc/sys/kernel/random/uuid)
	{
		echo "host_uuid = \"$uuid\""
		echo 'listen_tcp = 1'
		echo 'listen_tls = 0'
		echo 'auth_tcp = "none"'
		echo "tcp_port = \"$2\""
		echo 'listen_addr = "127.0.0.1"'
	} >>"$etc/libvirtd.conf"
	echo 'stdio_handler = "file"' >>"$etc/qemu.conf"
	mkdir -p "$1/dst-run" "$1/dst-lib" "$1/dst-cache" "$1/dst-log"
}

start_dst() { # DIR PORT
	local d=$1
	dst_conf "$d" "$2" || return 1
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m sh -c 'set -e
		mount --make-rprivate /
		mount --bind "$1/dst-etc" /etc/libvirt
		mount --bind "$1/dst-run" /run/libvirt
		mount --bind "$1/dst-lib" /var/lib/libvirt/qemu
		mount --bind "$1/dst-cache" /var/cache/libvirt/qemu
		mount --bind "$1/dst-log" /var/log/libvirt
		exec libvirtd --listen -d --pid-file "$1/dst-libvirtd.pid"' sh "$d" || return 1
	waitfor "$T" test -s "$d/dst-libvirtd.pid" || return 1
	echo "DST_LIBVIRTD=$(cat "$d/dst-libvirtd.pid")" >>"$d/lab.env"
	waitfor "$T" vsh "qemu+tcp://127.0.0.1:$2/system" version >/dev/null
}

start_src() { # DIR
	local d=$1 p
	for p in /run/libvirt/libvirtd.pid /run/libvirtd.pid /run/libvirt/virtlogd.pid /run/virtlogd.pid; do
		if [ -s "$p" ] && alive "$(cat "$p")"; then
			die "a libvirt daemon already runs (pid $(cat "$p"), $p): the lab starts its own; stop it first"
		fi
	done
	setconf /etc/libvirt/qemu.conf user '"root"'
	setconf /etc/libvirt/qemu.conf group '"root"'
	setconf /etc/libvirt/qemu.conf namespaces '[ ]'
	mkdir -p /run/libvirt
	virtlogd -d -p "$d/virtlogd.pid" || return 1
	waitfor "$T" test -s "$d/virtlogd.pid" || return 1
	echo "VIRTLOGD=$(cat "$d/virtlogd.pid")" >>"$d/lab.env"
	libvirtd -d --pid-file "$d/libvirtd.pid" || return 1
	waitfor "$T" test -s "$d/libvirtd.pid" || return 1
	echo "SRC_LIBVIRTD=$(cat "$d/libvirtd.pid")" >>"$d/lab.env"
	waitfor "$T" vsh qemu:///system version >/dev/null
}

start_domain() { # DIR TYPE NAME MEM CMDLINE
	local d=$1 pid
	domain_xml "$2" "$3" "$4" "$5" "$d/serial.log" >"$d/domain.xml"
	vsh qemu:///system define "$d/domain.xml" >/dev/null || return 1
	vsh qemu:///system start "$3" >/dev/null || return 1
	waitfor "$T" test -s "/run/libvirt/qemu/$3.pid" || return 1
	pid=$(cat "/run/libvirt/qemu/$3.pid")
	echo "QEMU_PID=$pid" >>"$d/lab.env"
	# the guest is up once it has filled its working set
	waitfor 60 grep -q 'lm-guest: filled' "$d/serial.log" ||
		{ say "the guest did not report its fill in 60 s: $(tail -n 2 "$d/serial.log" 2>/dev/null)"; return 1; }
}

cmd_start() {
	local d=$1 type=qemu name=lmlab-lv mem=128 cmdline='wss=32 rate=0' port=16510
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--type) type=$2 ;;
		--name) name=$2 ;;
		--mem) mem=$2 ;;
		--cmdline) cmdline=$2 ;;
		--port) port=$2 ;;
		*) die "unknown option $1 (see the top of $0)" ;;
		esac
		shift 2 || die "$1 needs a value"
	done
	[ "$(id -u)" = 0 ] || die "needs root"
	for c in virsh libvirtd virtlogd unshare qemu-system-x86_64; do
		command -v "$c" >/dev/null || die "no $c (tests/install-deps.sh installs libvirt-daemon-system, libvirt-clients, qemu-system-x86)"
	done
	[ -r "$OUTPUT/guest/guest.elf" ] || die "no $OUTPUT/guest/guest.elf: make guest"
	mkdir -p "$d" && d=$(cd "$d" && pwd) || die "cannot make $d"
	: >"$d/serial.log"
	cat >"$d/lab.env" <<EOF
DOMAIN=$name
SRC_URI=qemu:///system
DST_URI=qemu+tcp://127.0.0.1:$port/system
MIGRATE_URI=tcp://127.0.0.1:$((port + 1))
SERIAL=$d/serial.log
EOF
	if start_src "$d" && start_dst "$d" "$port" && start_domain "$d" "$type" "$name" "$mem" "$cmdline"; then
		say "up: domain $name ($type, pid $(sed -n 's/^QEMU_PID=//p' "$d/lab.env")), source qemu:///system, destination qemu+tcp://127.0.0.1:$port/system"
		return 0
	fi
	say "start failed; stopping what it started"
	cmd_stop "$d"
	exit 1
}

cmd_stop() {
	local d=$1 name dst pids=() p
	[ -f "$d/lab.env" ] || return 0
	name=$(sed -n 's/^DOMAIN=//p' "$d/lab.env")
	dst=$(sed -n 's/^DST_LIBVIRTD=//p' "$d/lab.env")
	# the QEMUs of the domain on both sides, by their pid files (the destination's through its namespace)
	for p in "/run/libvirt/qemu/$name.pid" ${dst:+"/proc/$dst/root/run/libvirt/qemu/$name.pid"}; do
		[ -s "$p" ] && pids+=("$(cat "$p")")
	done
	p=$(sed -n 's/^QEMU_PID=//p' "$d/lab.env") && [ -n "$p" ] && pids+=("$p")
	alive "$dst" && vsh "$(sed -n 's/^DST_URI=//p' "$d/lab.env")" destroy "$name" >/dev/null 2>&1
	if alive "$(sed -n 's/^SRC_LIBVIRTD=//p' "$d/lab.env")"; then
		vsh qemu:///system destroy "$name" >/dev/null 2>&1
		vsh qemu:///system undefine "$name" >/dev/null 2>&1
	fi
	for p in "${pids[@]}"; do
		# only a QEMU: a pid file left behind may name a reused pid
		grep -q qemu "/proc/$p/comm" 2>/dev/null && stop_pid "$p" QEMU
	done
	stop_pid "$dst" "the destination libvirtd"
	stop_pid "$(sed -n 's/^SRC_LIBVIRTD=//p' "$d/lab.env")" libvirtd
	stop_pid "$(sed -n 's/^VIRTLOGD=//p' "$d/lab.env")" virtlogd
	rm -f "$d/lab.env"
}

case ${1:-} in
start) [ $# -ge 2 ] || die "usage: $0 start DIR [options]"; d=$2; shift 2; cmd_start "$d" "$@" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; cmd_stop "$2" ;;
*) die "usage: $0 start DIR [--type qemu|kvm] [--name NAME] [--mem MIB] [--cmdline ARGS] [--port PORT] | stop DIR" ;;
esac

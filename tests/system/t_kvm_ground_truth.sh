#!/usr/bin/env bash
# lmtrace against an exact ground truth: kvm_gt (tests/kvm_gt/kvm_gt.c) is a tiny
# VMM on /dev/kvm whose guest dirties a known set of pages per round and
# sends a known number of bytes over loopback TCP, harvesting the dirty log
# the way QEMU's migration does. lmtrace -j -p <its pid> must report exactly
# its rounds and dirty pages, its RAM size at the start, an end, and the
# bytes within 0.1 %. Cases: plain GET, manual protect (GET + CLEAR), manual
# protect ending in a repeated completion sync without CLEAR (0 new pages;
# then again with 50 new pages written before it), and a 128 GiB sparse
# slot (sampled counting: flagged, within 1 % + 2 pages), and a 16 MiB slot logged
# from creation and never toggled, like QEMU's VGA VRAM (its size is only
# in the kernel: lmtrace never sees its SET). The default round schedule
# includes an empty round and one that rewrites the previous round's pages.
# Ports 47100-47199 belong to this test. LM_ATTACH_TIMEOUT (seconds, default
# 15) bounds the wait for lmtrace's "Tracing" line.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
attach_timeout=${LM_ATTACH_TIMEOUT:-15}

require_root
require_kvm
[ -x "$GT" ] || die "$GT missing (run make test)"
[ -x "$LMTRACE" ] || die "$LMTRACE missing (run make)"

tmp=$(mktemp -d /tmp/lmtrace-kvm-gt.XXXXXX) || die "mktemp"
started=()
cleanup() {
	local p
	for p in "${started[@]}"; do
		kill -TERM "$p" 2>/dev/null # timeout -k passes it on, then KILLs
	done
	rm -rf "$tmp"
}
at_exit cleanup


dead() { ! kill -0 "$1" 2>/dev/null; }

show() { echo "--- $1:"; sed 's/^/    /' "$1"; }

# Stops this case's processes: timeout(1) passes TERM on to its command and
# sends KILL 5 s later (-k) if it is still there (lmtrace blocks TERM while
# it loads its BPF programs).
stop_case() {
	local p
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null
	done
}

# run_case NAME PORT LMTRACE_PORT_ARG COMPARE_ARGS -- KVM_GT_ARGS...
run_case() {
	local name=$1 port=$2 lm_port=$3 cmp_args=$4
	shift 5
	local truth=$tmp/$name.truth lmout=$tmp/$name.lmtrace lmerr=$tmp/$name.lmtrace.err
	local gt_err=$tmp/$name.kvm_gt.err gt_timeout lm_timeout vm_pid rc lm_rc

	echo "=== $name: kvm_gt --wait-signal --port $port $*"
	: >"$truth"
	: >"$lmerr"
	timeout -k 5 120 "$GT" --wait-signal --port "$port" "$@" >"$truth" 2>"$gt_err" &
	gt_timeout=$!
	started+=("$gt_timeout")
	if ! wait_for 30 grep -q '^ready pid=' "$truth" || dead "$gt_timeout"; then
		fail "$name: kvm_gt did not become ready"; show "$gt_err"
		stop_case "$gt_timeout"; return 1
	fi
	vm_pid=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$truth")

	# shellcheck disable=SC2086 # lm_port is empty or "--port N"
	timeout -k 5 150 "$LMTRACE" -j -p "$vm_pid" $lm_port >"$lmout" 2>"$lmerr" &
	lm_timeout=$!
	started+=("$lm_timeout")
	wait_for "$attach_timeout" eval "grep -q Tracing '$lmerr' || dead $lm_timeout"
	if ! grep -q Tracing "$lmerr"; then
		if dead "$lm_timeout"; then
			fail "$name: lmtrace exited before it was tracing"
		else
			fail "$name: lmtrace did not print 'Tracing' within $attach_timeout s"
		fi
		show "$lmerr"; stop_case "$gt_timeout" "$lm_timeout"; return 1
	fi

	kill -USR1 "$vm_pid"
	wait "$gt_timeout"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$name: kvm_gt exited with $rc$([ "$rc" -eq 124 ] && echo ' (timeout)')"
		show "$gt_err"; stop_case "$lm_timeout"; return 1
	fi

	# lmtrace stops by itself when the traced process exits (SIGINT
	# otherwise: timeout(1) passes it on to lmtrace).
	if ! lmtrace_stops "$lm_timeout" 15; then
		fail "$name: see above"
		show "$lmerr"; show "$lmout"; return 1
	fi
	wait "$lm_timeout"
	lm_rc=$?
	show "$truth"
	show "$lmout"
	show "$lmerr"
	[ "$lm_rc" -eq 0 ] || { fail "$name: lmtrace exited with $lm_rc"; return 1; }
	# shellcheck disable=SC2086 # cmp_args is empty or "--sampled"
	if ! "$GT" --compare $cmp_args "$truth" "$lmout"; then
		fail "$name: lmtrace disagrees with the ground truth"; return 1
	fi
	ok "$name matches the ground truth"
}

# Each case that fails says FAIL (and the test goes on to the next case).
# --hooks always: the dirty-log hooks see logging switched on, so every
# round is exact, round 1 included.
run_case plain  47101 "--hooks always --port 47101" "" -- --mode plain
run_case manual 47102 "--hooks always --port 47102" "" -- --mode manual
# No --port: lmtrace must find the connection by itself.
run_case repeat 47103 "--hooks always" "" -- --mode manual --repeat
run_case repeat-writes 47105 "--hooks always --port 47105" "" -- --mode manual --repeat \
	--repeat-writes 50
run_case prelogged 47106 "--hooks always --port 47106" "" -- --mode manual --repeat \
	--prelogged-slot-mib 16
# Kernels without sock:sock_send_length (5.19-6.2): bytes through sendmsg(),
# the socket found from its fd; with and without --port.
run_case sendmsg 47107 "--hooks always --no-send-tracepoint" "" -- --mode manual --repeat
run_case sendmsg-port 47108 "--hooks always --no-send-tracepoint --port 47108" "" -- --mode plain
run_case huge   47104 "--hooks always --port 47104" "--sampled" -- --mode manual --repeat \
	--huge-slot-gib 128 --rounds 10,1000,5000
# The default, hooks on demand: attached once a reading of KVM's memslots
# shows logging on, so the initial sync may run unseen (round 1 made from
# KVM's logged pages, its bytes counted in round 2); every page count stays
# exact. Without --port, bytes the stream sent before lmtrace read the
# switch are counted at its next send: at most one round late (kvm_gt sends
# its bulk in one burst and then waits for the next sync).
run_case on-demand 47109 "--port 47109" "" -- --mode plain
run_case on-demand-manual 47110 "" "--bytes-lag" -- --mode manual --repeat --prelogged-slot-mib 16
finish "all cases match the ground truth"

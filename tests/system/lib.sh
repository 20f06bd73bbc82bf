#!/usr/bin/env bash
# Shared by tests/system/t_*.sh (sourced after `set -u`): the paths every test uses,
# the usual skips, and small helpers. Run from the repository root.
cd "${LM_TOP:-$(dirname "${BASH_SOURCE[1]}")/../..}" || exit 1
OUTPUT=${OUTPUT:-.output}
case $OUTPUT in /*) ;; *) OUTPUT=$PWD/$OUTPUT ;; esac
LMTRACE=${LMTRACE:-$OUTPUT/lmtrace}
# shellcheck disable=SC2034 # used by the tests that source this
GT=${LM_KVM_GT:-$OUTPUT/tests/kvm_gt}	# t_sanitize.sh: the sanitized build

require_root() {
	[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (BPF and /dev/kvm)"; exit 77; }
}

require_kvm() {
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] ||
		{ echo "skip: no usable /dev/kvm"; exit 77; }
}

failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
ok() { echo "ok: $*"; }

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# lmtrace_stops PID [SECONDS]: PID is an lmtrace started with -p (or the
# timeout(1) around one) whose VMM has exited: it must stop by itself within
# SECONDS (default 10). If not, prints "FAIL: lmtrace still running N s after
# its VMM exited", interrupts it (SIGINT, TERM 5 s later) and returns 1.
lmtrace_stops() {
	local pid=$1 secs=${2:-10}
	wait_for "$secs" eval "! kill -0 $pid 2>/dev/null" && return 0
	echo "FAIL: lmtrace still running $secs s after its VMM exited (interrupting it)"
	kill -INT "$pid" 2>/dev/null
	wait_for 5 eval "! kill -0 $pid 2>/dev/null" || kill -TERM "$pid" 2>/dev/null
	return 1
}

# expect NAME WANT_RC PATTERN -- COMMAND...: exit code and a stderr line
# matching PATTERN; counts failures in $failures, files in $tmp, each command
# bounded by $expect_timeout seconds (default 20).
expect() {
	local name=$1 want=$2 pattern=$3 rc
	shift 4
	timeout -k 2 "${expect_timeout:-20}" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -Eq -- "$pattern" "$tmp/err"; then
		echo "FAIL $name: exit $rc (want $want), stderr:"
		sed 's/^/    /' "$tmp/err"
		failures=$((failures + 1))
	else
		echo "ok   $name: exit $rc, $(grep -E -- "$pattern" "$tmp/err" | head -n 1)"
	fi
}

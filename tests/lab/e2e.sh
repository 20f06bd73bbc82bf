# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Sourced by tests/system/t_lab_*.sh: run one lmlab migration with lmtrace attached
# (before `migrate`, or some seconds after it), then compare with lmcheck.
# Everything started here is stopped by pid on exit, pass or fail. Passing,
# failing and skipping as every system test does (tests/system/lib.sh: ok,
# fail, die, skip, finish); a harness failure here dies.

LM_TOP=${LM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
export LM_TOP
# shellcheck source=../system/lib.sh
. "$LM_TOP/tests/system/lib.sh"
out_dir=$OUTPUT	# lib.sh made it absolute
LMLAB=$out_dir/lab/lmlab
LMCHECK=$out_dir/lab/lmcheck
GUEST=$out_dir/guest/guest.elf

lab_requirements() {
	[ "$(id -u)" = 0 ] || skip "needs root (BPF, /dev/kvm)"
	require_kvm
	need qemu-system-x86_64 qemu-system-x86
	[ -x "$LMLAB" ] && [ -x "$LMCHECK" ] && [ -r "$GUEST" ] ||
		skip "the lab is not built (make lab)"
	if [ "${1:-}" != no-lmtrace ]; then
		[ -x "$LMTRACE" ] || skip "lmtrace is not built ($LMTRACE)"
	fi
}

lab_pid='' trace_pid='' during_pid='' work=''
traced_qmp=''	# lmtrace ran with --qmp: lmcheck must then see what it read
# shellcheck disable=SC2034 # attach_ts is for the tests' lmcheck --late
attach_ts=''
src_pid='' tracer_qmp=''	# set from lmlab's --ready file
lab_cleanup() {
	local p
	for p in $during_pid $trace_pid $lab_pid; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $during_pid $trace_pid $lab_pid; do
		wait_exit "$p" 5 || kill -KILL "$p" 2>/dev/null
	done
	[ -n "$work" ] && [ -z "${KEEP:-}" ] && rm -rf "$work"
}

# wait_exit PID SECONDS: 0 once PID is gone, 1 if it is still there.
wait_exit() {
	local _
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# wait_file FILE SECONDS PID: until FILE exists; fails if PID died first.
wait_file() {
	local _
	for _ in $(seq $(($2 * 10))); do
		[ -e "$1" ] && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

start_lmtrace() {
	# LMTRACE_QMP=1: lmtrace also reads QEMU's parameters over the tracer's QMP socket.
	# LMTRACE_ARGS: more options (words), e.g. --no-send-tracepoint.
	# shellcheck disable=SC2086
	"$LMTRACE" -j -p "$src_pid" ${LMTRACE_QMP:+--qmp "$tracer_qmp"} ${LMTRACE_ARGS:-} \
		>"$work/trace.jsonl" 2>"$work/trace.err" &
	trace_pid=$!
	traced_qmp=${LMTRACE_QMP:+1}
	local _
	for _ in $(seq 200); do
		# attach_ts: when lmtrace said it traces (Unix s), for lmcheck --late
		# shellcheck disable=SC2034
		grep -q Tracing "$work/trace.err" && { attach_ts=$(date +%s.%N); return 0; }
		kill -0 "$trace_pid" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/  lmtrace: /' "$work/trace.err"
	die "lmtrace did not print 'Tracing' within 20 s (still loading its BPF programs, or it failed: see above)"
}

# lab_e2e PORT LATE_SECONDS [lmlab options...]
#   LATE_SECONDS = 0: lmtrace attaches before `migrate`; else that long after.
#   @WORK@ in an option stands for the test's work directory.
#   A function during_migration, if defined, runs in the background from
#   `migrate` until lmlab exits; before_migration, if defined, runs once
#   lmtrace traces, before `migrate` (LATE_SECONDS 0 only).
# Leaves $work/lab.jsonl and $work/trace.jsonl; exits on a harness failure.
lab_e2e() {
	local port=$1 late=$2
	shift 2
	work=$(mktemp -d /tmp/lmlab-e2e.XXXXXX)
	at_exit lab_cleanup
	set -- "${@//@WORK@/$work}"	# lmlab options may name files in $work
	"$LMLAB" "$@" --port "$port" --ready "$work/ready" --go "$work/go" \
		--out "$work/lab.jsonl" 2>"$work/lab.err" &
	lab_pid=$!
	if ! wait_file "$work/ready" 90 "$lab_pid"; then
		cat "$work/lab.err"
		die "the lab did not get ready"
	fi
	. "$work/ready"
	echo "source QEMU pid $src_pid (lmlab $*)"
	if [ "$late" = 0 ]; then
		start_lmtrace
		if declare -F before_migration >/dev/null; then
			before_migration
		fi
		touch "$work/go"
	else
		touch "$work/go"
		sleep "$late"
		start_lmtrace
	fi
	# A test may act while the migration runs: define during_migration.
	if declare -F during_migration >/dev/null; then
		during_migration &
		during_pid=$!
	fi
	wait "$lab_pid"
	lab_rc=$?
	if [ -n "${during_pid:-}" ]; then
		kill "$during_pid" 2>/dev/null
		wait "$during_pid" 2>/dev/null
		during_pid=
	fi
	lab_pid=
	sed 's/^/  /' "$work/lab.err"
	[ "$lab_rc" = 0 ] || die "lmlab exited with $lab_rc"
	# The source QEMU is gone now (lmlab reaps it before exiting): lmtrace must
	# notice and finish on its own.
	if ! wait_exit "$trace_pid" 10; then
		kill -INT "$trace_pid"
		wait_exit "$trace_pid" 5
		sed 's/^/  lmtrace: /' "$work/trace.err" | tail -n 20
		die "lmtrace still running 10 s after its VMM exited (interrupted it)"
	fi
	wait "$trace_pid"
	trace_rc=$?
	trace_pid=
	sed 's/^/  lmtrace: /' "$work/trace.err" | tail -n 20
	[ "$trace_rc" = 0 ] || die "lmtrace exited with $trace_rc"
	grep '"type":"result"' "$work/lab.jsonl"
}

lab_check() {
	"$LMCHECK" --lab "$work/lab.jsonl" --trace "$work/trace.jsonl" ${traced_qmp:+--expect-qmp} "$@"
}

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# `make demo`: one real QEMU/KVM live migration on this machine, watched live
# by lmtrace, then what lmtrace concluded next to what QEMU itself reported.
#   tests/lab/demo.sh deps          install missing build/run dependencies (Debian/Ubuntu)
#   tests/lab/demo.sh run [SCENARIO] stuck (default), converge, autoconverge, zero
set -u
cd "$(dirname "$0")/../.." || exit 1
OUTPUT=${OUTPUT:-.output}

deps() {
	# The project's one list of packages; does nothing when all are there.
	tests/install-deps.sh || { echo "demo: installing the dependencies failed" >&2; exit 1; }
}

# Whatever is still running when the demo ends (done, failed or Ctrl-C), by pid.
stop_all() {
	local pid
	for pid in $trace_pid $lab_pid; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	[ -n "${work:-}" ] && rm -rf "$work"
}

run() {
	local scenario=${1:-stuck} bound src_pid=
	[ "$(id -u)" = 0 ] || { echo "demo: run it as root (BPF and /dev/kvm)" >&2; exit 1; }
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "demo: /dev/kvm is not usable: the demo needs KVM" >&2; exit 1; }
	case $scenario in
	stuck) bound=20; what="whose guest rewrites 256 MiB at 64 MiB/s while the link carries 32 MiB/s: it cannot converge" ;;
	converge) bound=40; what="whose guest rewrites 256 MiB at 4 MiB/s on a 32 MiB/s link: it converges" ;;
	autoconverge) bound=60; what="like stuck, but QEMU's auto-converge throttles the guest (90 %) until it converges" ;;
	zero) bound=20; what="whose guest wrote only 8 MiB: mostly zero pages, done at once" ;;
	*) echo "demo: unknown DEMO=$scenario (stuck, converge, autoconverge, zero)" >&2; exit 2 ;;
	esac

	work=$(mktemp -d /tmp/lmtrace-demo.XXXXXX)
	lab_pid='' trace_pid=''
	trap 'stop_all' EXIT
	trap 'exit 130' INT TERM

	cat <<MSG

== lmtrace demo: $scenario ==
Two QEMUs on this machine migrate over 127.0.0.1: a source QEMU $what.
lmtrace attaches to the source QEMU before the migration starts and says,
live, from the kernel alone, whether it will converge. (${bound} s at most)

MSG
	"$OUTPUT/lab/lmlab" -s "$scenario" --bound "$bound" --port 47300 \
		--ready "$work/ready" --go "$work/go" --out "$work/lab.jsonl" 2>"$work/lab.err" &
	lab_pid=$!
	local _
	for _ in $(seq 900); do
		[ -e "$work/ready" ] && break
		kill -0 "$lab_pid" 2>/dev/null || { cat "$work/lab.err"; exit 1; }
		sleep 0.1
	done
	[ -e "$work/ready" ] || { cat "$work/lab.err"; echo "demo: the lab did not start" >&2; exit 1; }
	. "$work/ready"
	echo "source QEMU pid $src_pid is up; its guest has filled its memory. Starting:"
	echo "  $OUTPUT/lmtrace -p $src_pid"
	echo
	# The live view on this terminal; a recording on the side for the conclusion.
	"$OUTPUT/lmtrace" -p "$src_pid" -d $((bound + 30)) -w "$work/demo.lmt" 2> >(tee "$work/trace.err" >&2) &
	trace_pid=$!
	for _ in $(seq 600); do
		grep -q Tracing "$work/trace.err" 2>/dev/null && break
		kill -0 "$trace_pid" 2>/dev/null || { echo "demo: lmtrace stopped (see above)" >&2; exit 1; }
		sleep 0.1
	done
	touch "$work/go"
	wait "$lab_pid"; lab_pid=
	wait "$trace_pid"; trace_pid=

	echo
	echo "== What QEMU itself reported =="
	sed -n 's/^lmlab: \(migration [0-9]* \(completed\|cancelled\|failed\).*\|downtime .*\|.* still to send .*\)/  \1/p' "$work/lab.err"
	echo "== What lmtrace concluded (replayed from its recording) =="
	"$OUTPUT/lmtrace" -r "$work/demo.lmt" -j 2>/dev/null >"$work/replay.jsonl"
	awk -F'"ts":' '/"type":"migration"/ && /"event":"start"/ && !start { split($2, a, ","); start = a[1] }
		/"type":"verdict"/ && !first && start { split($2, a, ","); first = a[1]
			match($0, /"verdict":"[^"]*"/); v = substr($0, RSTART + 11, RLENGTH - 12)
			printf "  first verdict %.1f s after the migration started: %s\n", first - start, v }' \
		"$work/replay.jsonl"
	# the verdict changes, then where it ended (the last sample's estimate)
	sed -n 's/.*"type":"verdict".*"verdict":"\([^"]*\)".*"reason":"\([^"]*\)".*/  \1: \2/p' \
		"$work/replay.jsonl" | tail -n 2
	sed -n 's/.*"type":"sample".*"verdict":"\([^"]*\)".*"reason":"\([^"]*\)".*/  at the end, \1: \2/p' \
		"$work/replay.jsonl" | tail -n 1
	echo
	echo "Try another: make demo DEMO=converge (or autoconverge, zero)."
}

case ${1:-} in
deps) deps ;;
run) shift; run "$@" ;;
*) echo "usage: $0 deps | run [SCENARIO]" >&2; exit 2 ;;
esac

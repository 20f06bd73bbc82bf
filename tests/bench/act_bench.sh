#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# --act throttle against QEMU's own auto-converge, on the same lab scenarios in
# the same invocation: each scenario runs once with stock auto-converge
# (QEMU 7.2's defaults: 20 % at its trigger, +10 % at each later one, up to
# 99 %) and once with the same settings and `lmtrace --act throttle --apply`.
# The numbers come from QEMU (tests/bench/act_summary.py reads lmlab's polls).
#
#   tests/bench/act_bench.sh [SCENARIO...]     (root, /dev/kvm, QEMU; make lab)
#
# Run it under the lab lock, as `make bench-act` does:
#   flock /tmp/lmtrace-lab.lock tests/bench/act_bench.sh
# Every migration is bounded (BOUND_S, default 90 s); the whole run takes
# 8-12 minutes here (QEMU start and guest fill included).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
case ${OUTPUT:-.output} in /*) out=${OUTPUT} ;; *) out=$top/${OUTPUT:-.output} ;; esac
bound=${BOUND_S:-90}
port=${ACT_BENCH_PORT:-47500}

# name | lmlab options. Working sets of 96 MiB on a 32 MiB/s link keep each
# migration under a minute; pace=spin is a CPU-bound writer (a throttle of p
# slows it to 1-p, as the model assumes), pace=hlt a timer-paced one.
all_scenarios=(
	"stationary-48|-s stuck --wss 96 --rate 48 --pace spin"
	"stationary-96|-s stuck --wss 96 --rate 96 --pace spin"
	"random-64|-s stuck --wss 96 --rate 64 --pattern random --pace spin"
	"timer-64|-s stuck --wss 96 --rate 64 --pace hlt"
	"converging|-s converge"
)

[ "$(id -u)" = 0 ] || { echo "act_bench: needs root" >&2; exit 1; }
[ -x "$out/lab/lmlab" ] && [ -x "$out/lmtrace" ] || { echo "act_bench: build first: make lab" >&2; exit 1; }
work=$(mktemp -d /tmp/act-bench.XXXXXX)
lab_pid='' trace_pid=''
cleanup() {
	local p
	for p in $trace_pid $lab_pid; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# run_one DIR WITH_LMTRACE LMLAB-ARGS...: one migration; leaves DIR/lab.jsonl (and trace.jsonl)
run_one() {
	local d=$1 with=$2 _
	shift 2
	mkdir -p "$d"
	port=$((port + 2))
	"$out/lab/lmlab" "$@" --auto-converge --bound "$bound" --port "$port" --ready "$d/ready" \
		--go "$d/go" --out "$d/lab.jsonl" 2>"$d/lab.err" &
	lab_pid=$!
	for _ in $(seq 900); do
		[ -e "$d/ready" ] && break
		kill -0 "$lab_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -e "$d/ready" ] || { cat "$d/lab.err"; echo "act_bench: the lab did not get ready" >&2; return 1; }
	# shellcheck disable=SC1091 # src_pid=, tracer_qmp= from lmlab
	. "$d/ready"
	# shellcheck disable=SC2154
	if [ "$with" = 1 ]; then
		"$out/lmtrace" -p "$src_pid" -j --qmp "$tracer_qmp" --act throttle --apply \
			>"$d/trace.jsonl" 2>"$d/trace.err" &
		trace_pid=$!
		for _ in $(seq 300); do
			grep -q "Tracing started" "$d/trace.err" 2>/dev/null && break
			kill -0 "$trace_pid" 2>/dev/null || { cat "$d/trace.err"; return 1; }
			sleep 0.1
		done
	fi
	touch "$d/go"
	wait "$lab_pid"
	lab_pid=
	if [ -n "$trace_pid" ]; then
		for _ in $(seq 100); do kill -0 "$trace_pid" 2>/dev/null || break; sleep 0.1; done
		kill -INT "$trace_pid" 2>/dev/null
		wait "$trace_pid"
		trace_pid=
	fi
	local files=("$d/lab.jsonl")
	[ "$with" = 1 ] && files+=("$d/trace.jsonl")
	python3 "$top/tests/bench/act_summary.py" "${files[@]}" >"$d/summary.json"
}

want=("$@")
printf '%-14s %-8s %8s %6s %9s %9s %9s  %s\n' scenario run total_s steps max_pct lost_cpu_s downtime "converged / lmtrace's actions"
for sc in "${all_scenarios[@]}"; do
	name=${sc%%|*}
	args=${sc#*|}
	if [ ${#want[@]} -gt 0 ] && ! printf '%s\n' "${want[@]}" | grep -qx "$name"; then
		continue
	fi
	for mode in stock lmtrace; do
		d=$work/$name-$mode
		# shellcheck disable=SC2086
		run_one "$d" "$([ $mode = lmtrace ] && echo 1 || echo 0)" $args || exit 1
		python3 - "$name" "$mode" "$d/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[3]))
f = lambda v, fmt: (fmt % v) if v is not None else "-"
print("%-14s %-8s %8s %6d %9s %9.1f %9s  %s%s" % (sys.argv[1], sys.argv[2], f(s["total_s"], "%.1f"),
      s["throttle_steps"], f(s["max_throttle_pct"], "%d"), s["lost_cpu_s"], f(s["downtime_ms"], "%d"),
      "yes" if s["converged"] else "no (" + s["status"] + ")",
      (" / " + (", ".join(s["actions"]) or "none")) if "actions" in s else ""))
PY
		cp "$d/summary.json" "$work/$name-$mode.summary.json"
	done
done
[ -n "${ACT_BENCH_OUT:-}" ] && cat "$work"/*.summary.json >"$ACT_BENCH_OUT"
exit 0

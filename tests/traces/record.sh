#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Record one real lab migration with lmtrace attached before `migrate`, and
# write the regression trace NAME.lmrec plus NAME.lmrec.expect (expectations
# from QEMU's own query-migrate numbers, never from lmtrace's).
#
#   tests/traces/record.sh NAME PORT [--apply-recommended [--closed-loop]] [--qmp] -- LMLAB-ARGS...
#
# --qmp                lmtrace also reads QEMU's parameters (cap, downtime
#                      limit, throttle) over lmlab's spare QMP socket.
# --apply-recommended  when lmtrace first says not-converging, apply its
#                      recommended throttle over a third QMP socket (QEMU 7.2:
#                      cpu-throttle-initial = max-cpu-throttle = pct, increment
#                      99, so auto-converge's next trigger lands on pct from
#                      any lower value). Give lmlab --throttle 1 --throttle-at
#                      9999 so auto-converge is on and holds 1 % until then.
# --closed-loop        and again whenever lmtrace, two syncs into the applied
#                      throttle, still says not-converging with a higher one.
# Run as root, one at a time. Leaves the lab log in NAME.lab.jsonl.tmp only
# with KEEP=1.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/${OUTPUT:-.output}
name=$1 port=$2
shift 2
apply=0 use_qmp=0 repeat=
while [ $# -gt 0 ]; do
	case $1 in
	--apply-recommended) apply=1 ;;
	--closed-loop) repeat=--repeat ;;
	--qmp) use_qmp=1 ;;
	--) shift; break ;;
	*) echo "record.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
dest=$top/tests/traces/$name.lmrec
work=$(mktemp -d /tmp/lmrec.XXXXXX)
lab_pid= trace_pid= watch_pid=
cleanup() {
	local p
	for p in $watch_pid $trace_pid $lab_pid; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# A third QMP socket per QEMU (lmlab holds one, lmtrace --qmp the other):
# the wrapper execs QEMU, so the socket is named after QEMU's pid.
cat >"$work/qemu.sh" <<EOF
#!/bin/sh
exec qemu-system-x86_64 "\$@" -qmp unix:$work/extra-\$\$.qmp,server=on,wait=off
EOF
chmod +x "$work/qemu.sh"

"$out/lab/lmlab" "$@" --qemu "$work/qemu.sh" --port "$port" --ready "$work/ready" \
	--go "$work/go" --out "$work/lab.jsonl" 2>"$work/lab.err" &
lab_pid=$!
for _ in $(seq 900); do
	[ -e "$work/ready" ] && break
	kill -0 "$lab_pid" 2>/dev/null || break
	sleep 0.1
done
[ -e "$work/ready" ] || { cat "$work/lab.err"; echo "record.sh: the lab did not get ready" >&2; exit 1; }
. "$work/ready"
# loopback: the stop phase runs uncapped at ~2 GB/s (see below)
sbw=${SWITCHOVER_BW:-2000000000}
targs=(-p "$src_pid" -j -w "$work/rec.lmrec" --switchover-bandwidth "$sbw")
[ "$use_qmp" = 1 ] && targs+=(--qmp "$tracer_qmp")
"$out/lmtrace" "${targs[@]}" >"$work/trace.jsonl" 2>"$work/trace.err" &
trace_pid=$!
for _ in $(seq 300); do
	grep -q Tracing "$work/trace.err" 2>/dev/null && break
	kill -0 "$trace_pid" 2>/dev/null || { cat "$work/trace.err"; exit 1; }
	sleep 0.1
done
if [ "$apply" = 1 ]; then
	python3 "$top/tests/traces/apply_throttle.py" "$work/trace.jsonl" "$work/extra-$src_pid.qmp" $repeat \
		>"$work/apply.log" 2>&1 &
	watch_pid=$!
fi
touch "$work/go"
wait "$lab_pid"; lab_rc=$?; lab_pid=
for _ in $(seq 100); do kill -0 "$trace_pid" 2>/dev/null || break; sleep 0.1; done
kill -INT "$trace_pid" 2>/dev/null
wait "$trace_pid"; trace_pid=
[ -n "$watch_pid" ] && { kill "$watch_pid" 2>/dev/null; wait "$watch_pid" 2>/dev/null; watch_pid=; cat "$work/apply.log"; }
sed 's/^/  lab: /' "$work/lab.err" | grep -v '^  lab: *$' | tail -n 8
[ "$lab_rc" = 0 ] || { echo "record.sh: lmlab exited with $lab_rc" >&2; exit 1; }
cp "$work/rec.lmrec" "$dest"
# Every lab migration runs on loopback: its stop phase (cap lifted) runs at the
# loopback TCP rate, ~2.1 GB/s measured here with a plain socket copy.
python3 "$top/tests/traces/lab2expect.py" "$work/lab.jsonl" --switchover-bw "$sbw" \
	$([ "$apply" = 1 ] && echo --applied "$work/apply.log") >"$dest.expect"
[ -n "${KEEP:-}" ] && cp "$work/lab.jsonl" "$top/tests/traces/$name.lab.jsonl.tmp"
echo "wrote $dest ($(stat -c %s "$dest") bytes) and $dest.expect:"
cat "$dest.expect"

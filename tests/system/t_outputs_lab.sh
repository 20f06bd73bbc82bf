#!/usr/bin/env bash
# The outputs on a real QEMU live migration (the lab, tests/lab/lmlab.c,
# scenario "converge"): lmtrace traces the source QEMU with --csv, -w and
# --prom-file. Checked: the recording replays to the live CSV byte for byte;
# the textfile ends with the migration ended, its rounds equal QEMU's
# dirty-sync-count, and exactly one verdict set; the report of the recording
# renders (rsvg-convert) with the end and the predicted switchover marked.
# What the numbers should be is the estimator's and the tracer's tests' job.
# Ports 47490-47499 belong to this test.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
LMLAB=$OUTPUT/lab/lmlab
GUEST=$OUTPUT/guest/guest.elf

require_root
require_kvm
need qemu-system-x86_64 qemu-system-x86
need rsvg-convert librsvg2-bin
[ -x "$LMLAB" ] && [ -r "$GUEST" ] || skip "the lab is not built (make test builds it)"
[ -x "$LMTRACE" ] || die "$LMTRACE missing (run make)"

tmp=$(mktemp -d /tmp/lmtrace-t-outputs-lab.XXXXXX) || die "mktemp"
lab_pid='' lm_pid=''
cleanup() {
	local p
	for p in $lm_pid $lab_pid; do
		kill -TERM "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
at_exit cleanup
port=
for p in $(seq 47490 2 47498); do # lmlab uses PORT and PORT+1
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null ||
		{ port=$p; break; }
done
[ -n "$port" ] || die "no free port pair in 47490-47499"

# lmlab bounds its QEMUs itself (the scenario's bound) and kills them by pid.
"$LMLAB" -s converge --port "$port" --ready "$tmp/ready" --go "$tmp/go" --out "$tmp/lab.jsonl" \
	--guest "$GUEST" -q 2>"$tmp/lab.err" &
lab_pid=$!
wait_for 90 eval '[ -e "$tmp/ready" ] || ! kill -0 $lab_pid 2>/dev/null'
[ -e "$tmp/ready" ] || { cat "$tmp/lab.err"; die "the lab did not get ready"; }
# shellcheck disable=SC1091 # written by lmlab: src_pid=, dst_pid=, ...
. "$tmp/ready"
src_pid=${src_pid:?lmlab wrote no src_pid}
timeout 120 "$LMTRACE" -p "$src_pid" --csv -w "$tmp/rec.lmrec" --prom-file "$tmp/lmtrace.prom" \
	>"$tmp/live.csv" 2>"$tmp/lm.err" &
lm_pid=$!
wait_for 30 grep -q Tracing "$tmp/lm.err" || { cat "$tmp/lm.err"; die "lmtrace did not start tracing"; }
touch "$tmp/go"
wait "$lab_pid"
rc=$?
lab_pid=
[ "$rc" -eq 0 ] || fail "lmlab exited $rc: $(tail -3 "$tmp/lab.err")"
# lmtrace stops by itself when the source QEMU exits (lmlab reaped it)
if lmtrace_stops "$lm_pid" 20; then
	wait "$lm_pid"
	rc=$?
	[ "$rc" -eq 0 ] || fail "lmtrace exited $rc: $(cat "$tmp/lm.err")"
else
	wait "$lm_pid"	# lmtrace_stops said FAIL
fi
lm_pid=
grep -q '"status":"completed"' "$tmp/lab.jsonl" || fail "the migration did not complete: $(tail -1 "$tmp/lab.jsonl")"

"$LMTRACE" -r "$tmp/rec.lmrec" --csv >"$tmp/replay.csv" 2>"$tmp/replay.err" || fail "replay: $(cat "$tmp/replay.err")"
if [ "$(wc -l <"$tmp/live.csv")" -gt 5 ] && cmp -s "$tmp/live.csv" "$tmp/replay.csv"; then
	ok "replay of the recording = the live CSV, byte for byte ($(wc -l <"$tmp/live.csv") lines)"
else
	fail "replay differs from live"; diff "$tmp/live.csv" "$tmp/replay.csv" | head
fi

syncs=$(sed -n 's/.*"type":"result".*"dirty_sync_count":\([0-9]*\).*/\1/p' "$tmp/lab.jsonl")
metric() { sed -n "s/^$1{pid=\"$src_pid\",[^}]*} \\([0-9.e+-]*\\)$/\\1/p" "$tmp/lmtrace.prom"; }
[ "$(metric lmtrace_migrating)" = 0 ] && ok "textfile: the migration ended" || fail "textfile: lmtrace_migrating $(metric lmtrace_migrating)"
[ -n "$syncs" ] && [ "$(metric lmtrace_rounds_total)" = "$syncs" ] &&
	ok "textfile: lmtrace_rounds_total $syncs = QEMU's dirty-sync-count" ||
	fail "textfile rounds $(metric lmtrace_rounds_total), QEMU dirty-sync-count ${syncs:-?}"
[ "$(grep -c "^lmtrace_verdict{pid=\"$src_pid\",.*} 1$" "$tmp/lmtrace.prom")" -eq 1 ] &&
	ok "textfile: one current verdict" || fail "textfile: not exactly one current verdict"

if "$LMTRACE" report "$tmp/rec.lmrec" -o "$tmp/chart.svg" 2>"$tmp/report.err" &&
   rsvg-convert "$tmp/chart.svg" -o "$tmp/chart.png" 2>>"$tmp/report.err" && [ -s "$tmp/chart.png" ]; then
	ok "report rendered: $(stat -c %s "$tmp/chart.png") bytes of PNG"
else
	fail "report: $(cat "$tmp/report.err")"
fi
grep -q 'class="migration-end"' "$tmp/chart.svg" || fail "chart: no migration end"
grep -q 'class="dirty" d="M' "$tmp/chart.svg" || fail "chart: no dirty-rate steps"
vcol=$(head -1 "$tmp/live.csv" | tr , '\n' | grep -nx verdict | cut -d: -f1)
verdict=$(tail -1 "$tmp/live.csv" | awk -F, -v c="$vcol" '{ print $c }')
if [ "$verdict" = converging ]; then
	grep -q '<line class="predicted-switchover"' "$tmp/chart.svg" && ok "chart marks the predicted switchover" ||
		fail "converging, but no predicted switchover on the chart"
fi

finish "all lab output checks passed"

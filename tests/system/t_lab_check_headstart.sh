#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# timeout: 300
# The head start: `lmtrace check -j` of a VM, then its migration traced with
# --head-start: the first firm verdict comes within 1 s of the start, marked
# from_check, agrees with QEMU's outcome, and gives way to the migration's
# own estimate once its rounds come (from_check false from round 2 on). A
# check older than --head-start's age gives no head start: the first verdict
# then waits for the rounds. A recording replays to the same records.
# Ports 47330-47339 belong to this test.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
need jq

work=$(mktemp -d /tmp/lmlab-headstart.XXXXXX)
cleanup() {
	local p
	for p in $trace_pid $lab_pid; do kill -TERM "$p" 2>/dev/null; done
	for p in $trace_pid $lab_pid; do wait_exit "$p" 5 || kill -KILL "$p" 2>/dev/null; done
	[ -z "${KEEP:-}" ] && rm -rf "$work"
}
at_exit cleanup

# run NAME PORT HEAD_START_ARG [SECONDS_BEFORE_MIGRATE]: check, trace, migrate.
run() {
	local name=$1 port=$2 hs=$3 wait_s=${4:-0} d=$work/$1
	mkdir -p "$d"
	"$LMLAB" -s converge -q --port "$port" --ready "$d/ready" --go "$d/go" --out "$d/lab.jsonl" \
		2>"$d/lab.err" &
	lab_pid=$!
	wait_file "$d/ready" 90 "$lab_pid" || { cat "$d/lab.err"; die "$name: lab not ready"; }
	. "$d/ready"
	"$LMTRACE" check -j -p "$src_pid" --qmp "$tracer_qmp" >"$d/check.json" 2>"$d/check.err" ||
		{ cat "$d/check.err"; die "$name: lmtrace check failed"; }
	"$LMTRACE" -j -i 0.2 -p "$src_pid" --qmp "$tracer_qmp" --head-start "$d/check.json$hs" \
		-w "$d/trace.lmrec" >"$d/trace.jsonl" 2>"$d/trace.err" &
	trace_pid=$!
	for _ in $(seq 100); do grep -q 'Tracing started' "$d/trace.err" && break; sleep 0.1; done
	grep -q 'Tracing started' "$d/trace.err" || { cat "$d/trace.err"; die "$name: lmtrace did not start"; }
	sleep "$wait_s"
	touch "$d/go"
	wait "$lab_pid" || { cat "$d/lab.err"; die "$name: lmlab failed"; }
	lab_pid=''
	wait_exit "$trace_pid" 10 || fail "$name: lmtrace did not stop after its VMM"
	trace_pid=''
	echo "$name: check $(jq -c '{verdict, confidence, total_s}' "$d/check.json");" \
	     "QEMU $(jq -c 'select(.type == "result") | {status, total_time_ms}' "$d/lab.jsonl")"
}

# first_firm FILE: "SECONDS_AFTER_START FROM_CHECK VERDICT" of the first firm verdict record.
first_firm() {
	jq -rs '(map(select(.type == "migration" and .event == "start"))[0].ts) as $t0 |
		map(select(.type == "verdict" and (.verdict == "converging" or .verdict == "not-converging")))[0] |
		"\(.ts - $t0) \(.from_check) \(.verdict)"' "$1"
}

run head-start 47330 ""
read -r after from verdict < <(first_firm "$work/head-start/trace.jsonl")
echo "with the check: first firm verdict $verdict ${after} s after the start, from_check $from"
[ "$from" = true ] || fail "the first firm verdict is not marked from_check"
awk -v a="$after" 'BEGIN { exit !(a >= 0 && a <= 1.0) }' || fail "first firm verdict $after s after the start (over 1 s)"
[ "$(jq -r 'select(.type == "result") | .status' "$work/head-start/lab.jsonl")" = completed ] ||
	fail "the converge scenario did not complete"
[ "$verdict" = converging ] || fail "the check's verdict $verdict, QEMU completed the migration"
# from round 2 on the migration's own rounds speak
late=$(jq -s '[.[] | select(.type == "sample" and .rounds >= 2 and .from_check == true)] | length' \
	"$work/head-start/trace.jsonl")
[ "$late" = 0 ] || fail "$late samples from round 2 on still say from_check"
own=$(jq -s '[.[] | select(.type == "sample" and .rounds >= 2 and .migrating)] | length' \
	"$work/head-start/trace.jsonl")
[ "$own" -ge 1 ] || fail "no sample from round 2 on to check"
"$LMTRACE" replay -j "$work/head-start/trace.lmrec" >"$work/replay.jsonl" 2>/dev/null ||
	fail "the recording does not replay"
diff <(grep -v '"type":"message"' "$work/head-start/trace.jsonl") \
     <(grep -v '"type":"message"' "$work/replay.jsonl") >/dev/null ||
	fail "the replay differs from the live records"
ok "head start: replay identical, from_check only before round 2"

# a check older than the age given: no head start
run expired 47335 ",1" 2
read -r after from verdict < <(first_firm "$work/expired/trace.jsonl")
echo "expired check: first firm verdict $verdict ${after} s after the start, from_check $from"
[ "$from" = false ] || fail "an expired check still gave the verdict"
awk -v a="$after" 'BEGIN { exit !(a > 1.0) }' || fail "a first firm verdict at $after s without a head start?"
finish "ok: head start within 1 s; none from an expired check"

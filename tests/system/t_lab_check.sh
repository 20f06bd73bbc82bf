#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# timeout: 900
# lmtrace check against real migrations with the same link and limit
# (32 MiB/s, 300 ms), from clearly converging to clearly stuck (a large
# working set written faster than the link, and a small one rewritten
# within the shortest window, where the check knows the short-window rate
# only as a lower bound):
#  - the check's verdict matches QEMU's outcome (no not-converging for a
#    migration that completes; no converging for one cancelled at the bound),
#    and its predicted total time is within 20 % of QEMU's total-time for
#    those that complete;
#  - a concurrently running lmtrace reports the check's windows as
#    dirty-rate measurements (its page counts as the check's, and within
#    3 % of what the guest wrote), and exactly one migration;
#  - during the stuck migration, a second check refuses to run (exit 1,
#    saying a migration is in progress).
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
need jq

before_migration() {
	"$LMTRACE" check -j -p "$src_pid" --qmp "$tracer_qmp" --bandwidth 32M --downtime-limit 300 \
		>"$work/check.json" 2>"$work/check.err"
	echo "check exit $?" >>"$work/check.err"
	echo "check: $(cat "$work/check.json")"
}

# check_against_qemu EXPECTED_STATUS [rewrites]: the check's verdict and time against
# lmlab's result. rewrites: the guest rewrites pages within a window, so its
# count of writes is no count of unique pages for lmcheck to compare with.
check_against_qemu() {
	local want=$1 rewrites=${2:-} verdict total status qemu_s nwin
	grep -q 'check exit 0' "$work/check.err" || { cat "$work/check.err"; die "lmtrace check failed"; }
	verdict=$(jq -r .verdict "$work/check.json")
	total=$(jq -r .total_s "$work/check.json")
	nwin=$(jq '.windows | length' "$work/check.json")
	status=$(jq -r 'select(.type == "result") | .status' "$work/lab.jsonl")
	qemu_s=$(jq -r 'select(.type == "result") | .total_time_ms / 1000' "$work/lab.jsonl")
	echo "check: $verdict, total ${total} s; QEMU: $status in $qemu_s s"
	[ "$status" = "$want" ] || fail "QEMU's migration ended $status, the scenario expects $want"
	case $status in
	completed)
		[ "$verdict" != not-converging ] || fail "not-converging for a migration that completed"
		awk -v p="$total" -v q="$qemu_s" 'BEGIN { e = (p - q) / q; printf "total time error %+.1f %%\n", 100 * e
			exit !(p != "null" && e >= -0.2 && e <= 0.2) }' ||
			fail "predicted total ${total} s, QEMU took $qemu_s s (over 20 %)" ;;
	cancelled)
		[ "$verdict" != converging ] || fail "converging for a migration QEMU had to cancel" ;;
	esac
	# the concurrent lmtrace: the windows are dirty-rate measurements, one migration
	if [ -n "$rewrites" ]; then
		lab_check --bytes-tolerance 1 || fail "lmcheck: lmtrace's trace differs from QEMU's"
	else
		lab_check --bytes-tolerance 1 --expect-dirty-rate "$nwin" || fail "lmcheck: lmtrace's trace differs"
	fi
	jq -r '.windows[].dirty_pages' "$work/check.json" >"$work/check.pages"
	jq -r 'select(.type == "dirty_rate") | .dirty_pages' "$work/trace.jsonl" >"$work/trace.pages"
	paste "$work/check.pages" "$work/trace.pages" | awk '{ if ($1 != $2) bad = 1; print "window pages: check", $1, "lmtrace", $2 }
		END { exit bad }' || fail "the check's window counts differ from lmtrace's dirty-rate records"
}

echo "=== converge: 4 MiB/s over 256 MiB"
( lab_e2e 47400 0 -s converge
  check_against_qemu completed
  [ "$(jq -r .verdict "$work/check.json")" = converging ] || fail "converge: not said converging" ) ||
	fail "converge"

echo "=== converge at 16 MiB/s: half the link, many syncs"
( lab_e2e 47410 0 -s converge --rate 16 --bound 40
  check_against_qemu completed ) || fail "rate 16"

echo "=== stuck on a small working set: 32 MiB rewritten at 64 MiB/s (within one window)"
( lab_e2e 47415 0 -s stuck --wss 32 --bound 12
  check_against_qemu cancelled rewrites ) || fail "small wss"

echo "=== stuck: 64 MiB/s over 256 MiB, and a check during the migration"
during_migration() {
	sleep 3
	"$LMTRACE" check -p "$src_pid" --qmp "$tracer_qmp" >"$work/during.out" 2>"$work/during.err"
	echo "exit $?" >>"$work/during.err"
}
( lab_e2e 47420 0 -s stuck --bound 20
  check_against_qemu cancelled
  [ "$(jq -r .verdict "$work/check.json")" = not-converging ] || fail "stuck: not said not-converging"
  cat "$work/during.err"
  grep -q 'exit 1' "$work/during.err" || fail "the check during a migration did not exit 1"
  grep -q 'migration is in progress' "$work/during.err" || fail "the check during a migration did not say why"
  [ ! -s "$work/during.out" ] || fail "the check during a migration printed a result" ) ||
	fail "stuck"
finish "every check matched QEMU's outcome"

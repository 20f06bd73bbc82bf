#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# QEMU's monitor stalls (here: the source QEMU stopped with SIGSTOP for 3 s,
# 3 s into a migration, then continued): lmtrace with --qmp keeps sampling at
# its interval through the stall, says QMP went slow and came back, and
# reads QEMU's parameters again; the migration is still followed to its end.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
during_migration() {
	sleep 3
	kill -STOP "$src_pid"
	echo "source QEMU stopped at $(date +%s.%N)"
	sleep 3
	kill -CONT "$src_pid"
	echo "source QEMU continued at $(date +%s.%N)"
}
LMTRACE_QMP=1 lab_e2e 47370 0 -s converge
grep -q '"status":"completed"' "$work/lab.jsonl" || fail "the migration did not complete"
# samples every second through the stall: no gap much over the interval
gap=$(grep '"type":"sample"' "$work/trace.jsonl" | sed 's/.*"ts":\([0-9.]*\).*/\1/' |
	awk 'NR > 1 && $1 - p > g { g = $1 - p } { p = $1 } END { printf "%.2f", g }')
echo "largest gap between samples: $gap s"
awk -v g="$gap" 'BEGIN { exit !(g < 1.6) }' || fail "sampling stalled with QMP: a $gap s gap"
grep -q '"message":"QMP is slow' "$work/trace.jsonl" || fail "lmtrace did not say QMP went slow"
grep -q '"message":"QMP answers again' "$work/trace.jsonl" || fail "lmtrace did not say QMP came back"
lab_check --expect-verdict converging --no-false-alarm || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "QMP stall: as QEMU says"

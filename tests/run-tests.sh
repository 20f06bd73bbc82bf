#!/usr/bin/env bash
# Runs every test serially and prints one line per test and a closing
# "N passed, N failed, N skipped" line.
#   unit tests:  $OUTPUT/tests/test_*     (built by make from tests/unit/test_*.c)
#   system tests: tests/system/t_*.sh      (real kernel, BPF, /dev/kvm, QEMU)
# A test exits 0 on success, 77 to skip (printing a one-line reason), else fails.
# TESTS="pattern" runs only the tests whose name matches the shell pattern.
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-.output}
export OUTPUT LMTRACE="$PWD/$OUTPUT/lmtrace" LM_TOP="$PWD"
logdir=$OUTPUT/test-logs
mkdir -p "$logdir"
pass=0 fail=0 skip=0 failed=()
for t in "$OUTPUT"/tests/test_* tests/system/t_*.sh; do
	[ -e "$t" ] || continue
	case $t in *.d) continue ;; esac	# make's dependency files
	name=$(basename "$t" .sh)
	case "$name" in ${TESTS:-*}) ;; *) continue ;; esac
	start=$(date +%s.%N)
	"$t" >"$logdir/$name.log" 2>&1 </dev/null
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	case $rc in
	0)  pass=$((pass + 1)); printf 'PASS %-40s %6ss\n' "$name" "$secs" ;;
	77) skip=$((skip + 1)); printf 'SKIP %-40s %s\n' "$name" "$(tail -n 1 "$logdir/$name.log")" ;;
	*)  fail=$((fail + 1)); failed+=("$name"); printf 'FAIL %-40s %6ss (exit %d)\n' "$name" "$secs" "$rc"
	    sed 's/^/    | /' "$logdir/$name.log" | tail -n 40 ;;
	esac
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]} (logs in $logdir)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

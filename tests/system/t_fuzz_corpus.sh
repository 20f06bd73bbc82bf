#!/usr/bin/env bash
# The recording fuzz targets (tests/fuzz/, built by make test when libFuzzer
# is installed) over the committed corpus, then a few seconds of fuzzing
# each: a regression check that every seed still reads cleanly and that
# nothing found so far crashes again. Longer runs: make fuzz / fuzz-replay.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
secs=${FUZZ_SMOKE_SECONDS:-5}

targets=()
for t in fuzz_record fuzz_record_nocrc fuzz_replay; do
	[ -x "$OUTPUT/fuzz/$t" ] && targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || skip "no fuzz targets built (needs clang's libFuzzer: libclang-rt-14-dev)"

tmp=$(mktemp -d /tmp/lmtrace-t-fuzz.XXXXXX) || die "mktemp"
at_exit 'rm -rf "$tmp"'
for t in "${targets[@]}"; do
	mkdir -p "$tmp/$t"
	# the corpus as is, then new inputs into a scratch directory
	if ! "$OUTPUT/fuzz/$t" -runs=0 tests/fuzz/corpus >"$tmp/$t.seeds.log" 2>&1; then
		fail "$t crashes on the committed corpus"; tail -30 "$tmp/$t.seeds.log"; continue
	fi
	if "$OUTPUT/fuzz/$t" -max_total_time="$secs" -max_len=8192 -close_fd_mask=3 -print_final_stats=1 \
		-artifact_prefix="$tmp/" "$tmp/$t" tests/fuzz/corpus >"$tmp/$t.log" 2>&1; then
		ok "$t: $(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t.log") runs in $secs s, no crash"
	else
		fail "$t found a crash:"; tail -30 "$tmp/$t.log"
		ls "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-* 2>/dev/null | head -3
	fi
done
finish "every fuzz target read the corpus and fuzzed $secs s without a crash"

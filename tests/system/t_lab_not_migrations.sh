#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# What is not a migration must not look like one, nor disturb the one that runs:
#  - calc-dirty-rate (dirty-bitmap mode, 1 s) before a real migration: one
#    dirty-rate record whose pages match what the guest wrote in the window
#    (3 %), exactly one migration, rounds and bytes as QEMU says, and its
#    first verdict on the link's real rate;
#  - a VNC client that QEMU sends screens to and that leaves 10 s into a
#    migration that cannot converge: its bytes are not the migration's (1 %),
#    its leaving ends nothing, the end is QEMU's cancel at the bound.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements

echo "=== calc-dirty-rate, then a migration"
( lab_e2e 47350 0 -s converge --calc-dirty-rate 1
  grep -q '"event":"dirty-rate"' "$work/lab.jsonl" || fail "the lab did not measure a dirty rate"
  lab_check --bytes-tolerance 1 --expect-dirty-rate 1 --expect-verdict converging --no-false-alarm ||
	fail "calc-dirty-rate: lmcheck: lmtrace's trace differs from QEMU's"
  # the first verdict's link rate: the migration's own, not diluted by the probe's window
  first=$(grep '"type":"verdict"' "$work/trace.jsonl" | grep -v '"verdict":"unknown"' | head -n 1)
  rate=$(grep -o '"reason":"[^"]*' <<<"$first" | grep -o 'at [0-9.]* MiB/s' | head -n 1 | grep -o '[0-9.]*')
  echo "first verdict: $first"
  awk -v r="${rate:-0}" 'BEGIN { exit !(r >= 28 && r <= 36) }' ||
	fail "first verdict's rate ${rate:-none} MiB/s, the link carries 32" ) ||
	fail "calc-dirty-rate"

echo "=== a VNC client leaving mid-migration"
( lab_e2e 47360 0 -s stuck --bound 16 --vnc-client --vnc-close-at 10
  grep -q '"status":"cancelled"' "$work/lab.jsonl" || fail "the stuck migration was not cancelled at the bound"
  lab_check --bytes-tolerance 1 ) || fail "vnc"
finish "neither was taken for a migration"

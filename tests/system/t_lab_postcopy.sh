#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Postcopy started mid-migration (a guest that pre-copy cannot converge,
# switched 4 s in), lmtrace attached before `migrate` without QMP: rounds and
# bytes against QEMU's, a postcopy phase record from the kernel's signals,
# no pre-copy downtime claimed, end completed.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
lab_e2e 47310 0 -s stuck --postcopy-after 4
grep -q '"status":"completed"' "$work/lab.jsonl" || fail "the postcopy migration did not complete"
grep -q '"status":"postcopy-active"' "$work/lab.jsonl" || fail "QEMU never said postcopy-active"
phase=$(grep '"type":"phase"' "$work/trace.jsonl" | grep '"phase":"postcopy"' | head -n 1)
[ -n "$phase" ] || { cat "$work/trace.jsonl" | grep -v '"sample"' | tail -20; fail "no postcopy phase record"; }
echo "ok   $phase"
grep -q '"by":"kernel"' <<<"$phase" || fail "the postcopy phase should come from the kernel here"
end=$(grep '"type":"migration"' "$work/trace.jsonl" | grep '"event":"end"' | tail -n 1)
grep -q '"reason":"completed"' <<<"$end" || fail "end: $end"
last=$(grep '"type":"sample"' "$work/trace.jsonl" | tail -n 1)
grep -q '"measured_downtime_ms":null' <<<"$last" || fail "a pre-copy downtime was claimed: $last"
grep -q '"phase":"postcopy"' <<<"$last" || fail "last sample not in postcopy: $last"
lab_check --bytes-tolerance 1 || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "postcopy: as QEMU says"

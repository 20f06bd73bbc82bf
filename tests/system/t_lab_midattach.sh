#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lmtrace attached 3 s into a converging migration: it must say it came late,
# count only the syncs it saw, and still report the end and the bytes since.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
lab_e2e 47260 3 -s converge
grep -q '"status":"completed"' "$work/lab.jsonl" || fail "the migration did not complete"
lab_check --late "$attach_ts" || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "attached late: as QEMU says"

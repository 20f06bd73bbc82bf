#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A migration that cannot converge (guest 64 MiB/s over 256 MiB, 32 MiB/s
# link), cancelled at its bound, lmtrace attached before `migrate`. Its rounds
# saturate the working set: QEMU's dirty-pages-rate leaves out what was still
# unsent, and lmcheck checks that this explains the difference.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
lab_e2e 47230 0 -s stuck
grep -q '"status":"cancelled"' "$work/lab.jsonl" || fail "the stuck scenario was not cancelled at its bound"
lab_check --expect-verdict not-converging || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "stuck: as QEMU says"

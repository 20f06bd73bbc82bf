#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A short migration of mostly zero pages (8 MiB written in a 256 MiB guest):
# done in well under a second, lmtrace attached before `migrate`.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
lab_e2e 47250 0 -s zero
grep -q '"status":"completed"' "$work/lab.jsonl" || fail "the zero scenario did not complete"
lab_check || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "zero pages: as QEMU says"

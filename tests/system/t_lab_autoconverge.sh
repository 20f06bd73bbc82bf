#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The stuck migration saved by auto-converge (throttle from 90 %), lmtrace
# attached before `migrate`.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
LMTRACE_QMP=1 lab_e2e 47240 0 -s autoconverge	# and lmtrace --qmp: it must see the throttle
grep -q '"status":"completed"' "$work/lab.jsonl" || fail "auto-converge did not save the migration within its bound"
lab_check || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "auto-converge: as QEMU says"

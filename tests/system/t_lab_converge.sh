#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A migration that converges (guest 4 MiB/s over 256 MiB, 32 MiB/s link),
# lmtrace attached before `migrate`: rounds, bytes and dirty pages per round
# against QEMU's own numbers and the guest's.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
LMTRACE_QMP=1 lab_e2e 47220 0 -s converge	# and lmtrace --qmp on the tracer socket
grep -q '"status":"completed"' "$work/lab.jsonl" || fail "the converge scenario did not complete"
lab_check --expect-verdict converging --no-false-alarm || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "converge: as QEMU says"

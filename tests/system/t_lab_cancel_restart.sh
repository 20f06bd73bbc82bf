#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A migration cancelled after 3 s and started again on the same VM (to a
# fresh destination): lmtrace must report two migrations, the first ended as
# cancelled, and count each one's rounds from 1 again.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
lab_e2e 47270 0 -s converge --cancel-at 3 --restart
grep -q '"status":"completed","attempts":2' "$work/lab.jsonl" ||
	fail "the restarted migration did not complete"
lab_check || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "cancel and restart: as QEMU says"

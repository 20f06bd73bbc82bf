#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# --act postcopy on a migration that cannot converge (postcopy-ram on both
# sides, lmlab never switching by itself): lmtrace starts postcopy, and QEMU
# completes with bytes sent in postcopy (its postcopy-bytes; the switch can
# end between two of lmlab's polls, uncapped on loopback).
set -u
# shellcheck source=lab/act_e2e.sh
. "$(dirname "$0")/../lab/act_e2e.sh"
lab_requirements
ACT_ARGS="--act postcopy --apply"

lab_e2e 47322 0 -s stuck --wss 96 --rate 64 --pace spin --bound 30 --postcopy-after 999
act_summary
actions "$work/trace.jsonl"
actions "$work/trace.jsonl" | grep -q '^postcopy 0 applied' || fail "lmtrace did not start postcopy"
pc=$(python3 - "$work/lab.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "result":
        print(r.get("postcopy-bytes") or 0 if r.get("postcopy_started_s") is None else -1)
PY
)
[ "$pc" -gt 0 ] || fail "QEMU sent no bytes in a postcopy lmtrace started (postcopy-bytes $pc)"
echo "QEMU: $pc bytes sent in postcopy"
[ "$(summary_key status)" = completed ] || fail "the migration did not complete"
echo "why: $(action_why postcopy)"
finish "ok: postcopy started by lmtrace, completed"

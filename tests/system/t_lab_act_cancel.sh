#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# --act cancel --give-up-after 8 on a migration nothing allowed can save (no
# throttle policy, no auto-converge): lmtrace cancels it after 8 s and well
# before the lab's own 40 s bound; QEMU says cancelled.
set -u
# shellcheck source=lab/act_e2e.sh
. "$(dirname "$0")/../lab/act_e2e.sh"
lab_requirements
ACT_ARGS="--act cancel --give-up-after 8 --apply"

lab_e2e 47318 0 -s stuck --wss 96 --rate 64 --pace spin --bound 40
act_summary
actions "$work/trace.jsonl"
grep '"type":"result"' "$work/lab.jsonl" | grep -q '"status":"cancelled","attempts":1,"cancelled_by_bound":false' ||
	fail "the migration was not cancelled before the lab's bound"
actions "$work/trace.jsonl" | grep -q '^cancel 0 applied' || fail "no applied cancel in lmtrace's records"
why=$(action_why cancel)
echo "why: $why"
case $why in *"--give-up-after 8 s"*"throttle not allowed"*) ;; *) fail "the reason does not say why" ;; esac
# QEMU's polls: the last active one came after 8 s and well before the bound
last=$(python3 - "$work/lab.jsonl" <<'PY'
import json, sys
t0 = last = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "lab" and r.get("event") == "migrate":
        t0 = r["ts"]
    if r.get("type") == "poll" and r.get("status") == "active":
        last = r["ts"]
print("%.1f" % (last - t0))
PY
)
echo "active for $last s"
python3 -c "import sys; sys.exit(0 if 8 <= $last <= 25 else 1)" || fail "cancelled at $last s, not soon after 8 s"
finish "ok: cancelled after $last s"

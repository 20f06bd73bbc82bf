#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# --max-throttle 30 on a guest that needs about 60 %: lmtrace may hold QEMU's
# throttle at 30 % at most (QEMU's own auto-converge, on, would go further),
# says that 30 % is not enough, and once the lab cancels the migration at its
# bound gives QEMU's parameters back (query-migrate-parameters after = before).
set -u
# shellcheck source=lab/act_e2e.sh
. "$(dirname "$0")/../lab/act_e2e.sh"
lab_requirements
ACT_ARGS="--act throttle --apply --max-throttle 30"

lab_e2e 47314 0 -s stuck --wss 96 --rate 64 --pace spin --auto-converge --bound 30 --linger 3
act_summary
actions "$work/trace.jsonl"
max=$(summary_key max_throttle_pct)
[ "$max" -le 30 ] || fail "QEMU's throttle reached $max %, above --max-throttle 30"
[ "$max" -gt 0 ] || fail "no throttle was applied at all"
why=$(action_why throttle)
echo "why: $why"
case $why in *"30 % is not enough"*) ;; *) fail "the reason does not say that 30 % is not enough" ;; esac
[ "$(summary_key status)" = cancelled ] || fail "expected the lab to cancel at its bound"
actions "$work/trace.jsonl" | grep -q '^release 0 applied' || fail "lmtrace did not release after the cancel"
params_restored || fail "QEMU's parameters after the cancel differ from those before it"
finish "ok: throttle held at $max % (bound 30), reason given, released after the cancel"

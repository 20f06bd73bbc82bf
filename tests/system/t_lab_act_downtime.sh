#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# --act downtime on a small working set rewritten at full speed (12 MiB at
# 32 MiB/s, 300 ms: stuck, hundreds of syncs without help): lmtrace raises
# downtime-limit to what a switchover at the next sync needs, within
# --max-downtime 1500, and QEMU completes with its downtime within that
# bound; afterwards QEMU's limit is 300 ms again.
set -u
# shellcheck source=lab/act_e2e.sh
. "$(dirname "$0")/../lab/act_e2e.sh"
lab_requirements
ACT_ARGS="--act downtime --max-downtime 1500 --apply"

lab_e2e 47320 0 -s stuck --wss 12 --rate max --pace spin --bound 30 --linger 3
act_summary
actions "$work/trace.jsonl"
[ "$(summary_key status)" = completed ] || fail "the migration did not complete"
limit=$(actions "$work/trace.jsonl" | awk '$1 == "downtime" && $3 == "applied" { print $2; exit }')
[ -n "$limit" ] || die "no downtime limit applied"
echo "why: $(action_why downtime)"
[ "$limit" -le 1500 ] || fail "limit $limit ms above --max-downtime 1500"
dt=$(summary_key downtime_ms)
[ "$dt" -le 1500 ] || fail "QEMU's downtime $dt ms above --max-downtime 1500"
[ "$(summary_key throttle_steps)" = 0 ] || fail "a throttle moved without the throttle policy"
params_restored || fail "QEMU's parameters after the migration differ from those before it"
finish "ok: limit $limit ms applied, completed with $dt ms downtime, limit given back"

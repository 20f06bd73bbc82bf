#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lmtrace --act throttle --apply on a migration that cannot converge alone: a
# CPU-bound guest writing 64 MiB/s over 96 MiB on a 32 MiB/s link, QEMU's
# auto-converge on with its defaults (stock needs 5-6 steps here). lmtrace
# must make it converge with one throttle step (QEMU's polls say how many),
# give QEMU's parameters back once it completed (query-migrate-parameters
# after = before), and a replay of its recording must decide the same.
set -u
# shellcheck source=lab/act_e2e.sh
. "$(dirname "$0")/../lab/act_e2e.sh"
lab_requirements
ACT_ARGS="--act throttle --apply"

lab_e2e 47310 0 -s stuck --wss 96 --rate 64 --pace spin --auto-converge --bound 60 --linger 3
act_summary
actions "$work/trace.jsonl"
[ "$(summary_key status)" = completed ] || fail "the migration did not complete within 60 s"
steps=$(summary_key throttle_steps)
[ "$steps" = 1 ] || fail "QEMU's throttle rose $steps times, not once"
[ "$(actions "$work/trace.jsonl" | grep -c '^throttle .* applied')" = 1 ] ||
	fail "lmtrace did not apply exactly one throttle"
actions "$work/trace.jsonl" | grep -q '^release 0 applied' || fail "lmtrace did not release the throttle"
params_restored || fail "QEMU's parameters after the migration differ from those before it"
replay_same || fail "the replay decided otherwise than live"
# the counters, as Prometheus gets them (promtool's lint must be clean)
"$LMTRACE" replay "$work/rec.lmrec" --prom-file "$work/lmtrace.prom" >/dev/null 2>&1
grep '^lmtrace_actions' "$work/lmtrace.prom"
grep -q '^lmtrace_actions_applied_total{.*action="throttle"} 1$' "$work/lmtrace.prom" ||
	fail "lmtrace_actions_applied_total does not count the one throttle"
promtool check metrics <"$work/lmtrace.prom" >"$work/lint" 2>&1 && [ ! -s "$work/lint" ] ||
	{ cat "$work/lint"; fail "promtool check metrics"; }
finish "ok: converged with one step; parameters restored; replay decides the same"

# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Sourced by tests/system/t_lab_act_*.sh: e2e.sh's harness with lmtrace
# --act (ACT_ARGS, and a recording in $work/rec.lmrec), and the checks those
# tests share. Every number checked comes from QEMU (lmlab's polls, its
# query-migrate-parameters before and after), except lmtrace's own records.
# shellcheck source=e2e.sh
. "$(dirname "${BASH_SOURCE[0]}")/e2e.sh"

ACT_ARGS=${ACT_ARGS:-}
eval "e2e_$(declare -f start_lmtrace)"
# shellcheck disable=SC2034,SC2154 # read by e2e.sh's start_lmtrace; work is e2e.sh's
start_lmtrace() {
	LMTRACE_QMP=1
	LMTRACE_ARGS="$ACT_ARGS -w $work/rec.lmrec --switchover-bandwidth 2000000000"
	e2e_start_lmtrace
}

# act_summary: QEMU's numbers for the run (JSON: total_s, throttle_steps, max_throttle_pct, ...).
act_summary() {
	python3 "$LM_TOP/tests/bench/act_summary.py" "$work/lab.jsonl" "$work/trace.jsonl"
}

# summary_key KEY: one value of act_summary.
summary_key() {
	act_summary | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

# actions FILE: lmtrace's action records, one "action value outcome round" line each.
actions() {
	python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("type") == "action":
        print(r["action"], r["value"], r["outcome"], r["round"])
PY
}

# action_why ACTION: the "why" of lmtrace's first record of that action.
action_why() {
	python3 - "$work/trace.jsonl" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "action" and r["action"] == sys.argv[2]:
        print(r["why"])
        break
PY
}

# params_restored: QEMU's throttle and downtime parameters after the end (and
# the linger) equal those before migrate. Prints both.
params_restored() {
	python3 - "$work/lab.jsonl" <<'PY'
import json, sys
keys = ("cpu-throttle-initial", "cpu-throttle-increment", "max-cpu-throttle", "downtime-limit")
seen = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "params":
        seen[r["when"]] = {k: r["reply"].get(k) for k in keys}
print("before:", seen.get("before"))
print("after: ", seen.get("after"))
sys.exit(0 if seen.get("before") and seen.get("before") == seen.get("after") else 1)
PY
}

# replay_same: replaying the recording decides exactly what was decided live.
replay_same() {
	"$LMTRACE" replay "$work/rec.lmrec" -j >"$work/replay.jsonl" 2>"$work/replay.err" ||
		{ cat "$work/replay.err"; return 1; }
	actions "$work/trace.jsonl" >"$work/live.actions"
	actions "$work/replay.jsonl" >"$work/replay.actions"
	if ! cmp -s "$work/live.actions" "$work/replay.actions" ||
	   grep -q "not what this policy decides" "$work/replay.jsonl"; then
		echo "live:"; cat "$work/live.actions"; echo "replay:"; cat "$work/replay.actions"
		return 1
	fi
}

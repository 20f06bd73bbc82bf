#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The dirty-log hooks are attached only while a VM has dirty logging on.
# One lmtrace following every VMM (no -p) sees, in a row: a calc-dirty-rate
# window, a migration cancelled after 3 s, its restart (completed) and then
# a second lab's migration (completed). The ground truth for "attached" is
# the kernel's: lmtrace's own fds, read every 50 ms from /proc/PID/fdinfo
# (a perf link on the sys_enter_ioctl tracepoint). Checked against lmlab's
# records of each migration (QEMU's query-migrate):
#  - never attached before the first window, nor once each session is over
#    (1.5 s of grace: two readings and the end's settling time);
#  - attached through each session from 0.5 s after it began to its end;
#  - lmtrace reports the three migrations, their ends, and for each as many
#    rounds as QEMU's dirty-sync-count, and the window as a dirty-rate
#    measurement.
# Ports 47280-47299 belong to this test.
# timeout: 240
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
need python3

work=$(mktemp -d /tmp/lmlab-hooks.XXXXXX)
sampler_pid=''
cleanup() {
	local p
	for p in $sampler_pid $lab_pid $trace_pid; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $sampler_pid $lab_pid $trace_pid; do
		wait_exit "$p" 5 || kill -KILL "$p" 2>/dev/null
	done
	[ -z "${KEEP:-}" ] && rm -rf "$work"
}
at_exit cleanup

"$LMTRACE" -j >"$work/trace.jsonl" 2>"$work/trace.err" &
trace_pid=$!
for _ in $(seq 200); do
	grep -q 'Tracing started' "$work/trace.err" && break
	kill -0 "$trace_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q 'Tracing started' "$work/trace.err" || { cat "$work/trace.err"; die "lmtrace did not start"; }

# "time attached" lines: attached = lmtrace holds a sys_enter_ioctl link.
sample() {
	while kill -0 "$trace_pid" 2>/dev/null; do
		echo "$(date +%s.%N) $(grep -ls 'tp_name:[[:space:]]*sys_enter_ioctl' /proc/"$trace_pid"/fdinfo/* | wc -l)"
		sleep 0.05
	done
}
sample >"$work/samples" &
sampler_pid=$!

# Each lab starts once lmtrace follows its source QEMU (found every second).
run_lab() { # NAME lmlab-options...
	local name=$1
	shift
	"$LMLAB" "$@" -q --ready "$work/$name.ready" --go "$work/$name.go" \
		--out "$work/$name.jsonl" 2>"$work/$name.err" &
	lab_pid=$!
	wait_file "$work/$name.ready" 90 "$lab_pid" || { cat "$work/$name.err"; die "lab $name not ready"; }
	. "$work/$name.ready"
	for _ in $(seq 50); do
		grep -q "Tracing pid $src_pid " "$work/trace.err" && break
		sleep 0.1
	done
	grep -q "Tracing pid $src_pid " "$work/trace.err" || fail "lmtrace did not find the source QEMU $src_pid"
	touch "$work/$name.go"
	wait "$lab_pid" || { cat "$work/$name.err"; die "lmlab $name failed"; }
	lab_pid=''
}
run_lab a -s converge --calc-dirty-rate 1 --cancel-at 3 --restart --port 47280
sleep 3	# nothing logs: the hooks stay off
run_lab b -s converge --port 47290
sleep 2	# the last end settles, the hooks go
kill -INT "$trace_pid"
wait_exit "$trace_pid" 10 || fail "lmtrace did not stop on SIGINT"
trace_pid=''
wait "$sampler_pid" 2>/dev/null
sampler_pid=''
sed 's/^/  lmtrace: /' "$work/trace.err"

python3 - "$work" <<'EOF' || fail "the hooks were not attached only while a VM logged (see the FAIL lines above)"
import json, sys
work = sys.argv[1]
fails = 0
def check(ok, msg):
    global fails
    print(("ok   " if ok else "FAIL ") + msg)
    fails += 0 if ok else 1

samples = [(float(t), int(n) > 0) for t, n in (l.split() for l in open(f"{work}/samples"))]
check(len(samples) > 300, f"{len(samples)} samples of lmtrace's links (more than 300)")

# Dirty-logging sessions as QEMU reports them: [start, end] per lab and attempt.
sessions, src_pids = [], []
for lab in ("a", "b"):
    recs = [json.loads(l) for l in open(f"{work}/{lab}.jsonl")]
    for r in recs:
        if r.get("event") == "ready":
            src_pids.append(r["src_pid"])
        if r.get("event") == "calc-dirty-rate":
            sessions.append(("dirty-rate", r["ts"], r["ts"] + r["calc_time_s"], None))
        if r.get("event") == "migrate":
            a = r["attempt"]
            end = [p for p in recs if p.get("type") == "poll" and p.get("attempt") == a
                   and p["status"] in ("completed", "cancelled", "failed")]
            syncs = [p["dirty-sync-count"] for p in recs if p.get("type") == "poll" and p.get("attempt") == a]
            check(bool(end), f"lab {lab} attempt {a}: QEMU reports an end")
            if end:
                sessions.append((f"{lab}{a}:{end[0]['status']}", r["ts"], end[0]["ts"], max(syncs)))
sessions.sort(key=lambda s: s[1])
check(len(sessions) == 4, f"{len(sessions)} dirty-logging sessions in the labs (a window and 3 migrations)")

GRACE = 1.5
def attached_between(t0, t1):
    return [a for t, a in samples if t0 <= t <= t1]
first = sessions[0][1] if sessions else samples[-1][0]
before = attached_between(samples[0][0], first - 0.05)
check(len(before) > 10 and not any(before),
      f"not attached before the first session ({sum(before)} of {len(before)} samples)")
for i, (name, t0, t1, _) in enumerate(sessions):
    during = attached_between(t0 + 0.5, t1 - 0.05)
    check(during and all(during), f"{name}: attached from 0.5 s after it began to its end "
          f"({sum(during)} of {len(during)} samples)")
    nxt = sessions[i + 1][1] if i + 1 < len(sessions) else samples[-1][0] + 1
    after = attached_between(t1 + GRACE, nxt - 0.05)
    check(after and not any(after) or nxt - t1 <= GRACE + 0.1,
          f"{name}: detached {GRACE} s after its end until the next session "
          f"({sum(after)} of {len(after)} samples attached)")

# What lmtrace said about the source QEMUs.
out = [json.loads(l) for l in open(f"{work}/trace.jsonl") if l.startswith("{")]
starts = [o for o in out if o.get("type") == "migration" and o["event"] == "start" and o["pid"] in src_pids]
ends = [o["reason"] for o in out if o.get("type") == "migration" and o["event"] == "end" and o["pid"] in src_pids]
check(len(starts) == 3, f"lmtrace: {len(starts)} migration starts on the source QEMUs (3)")
check(ends == ["cancelled", "completed", "completed"], f"lmtrace: ends {ends}")
rates = [o for o in out if o.get("type") == "dirty_rate" or o.get("event") == "dirty-rate"]
check(len(rates) == 1, f"lmtrace: {len(rates)} dirty-rate measurement (1)")
# rounds per migration: the highest round number between its start and end
rounds, cur = [], None
for o in out:
    if o.get("pid") not in src_pids:
        continue
    if o.get("type") == "migration" and o["event"] == "start":
        cur = 0
    elif o.get("type") == "round" and cur is not None:
        cur = max(cur, o["round"])
    elif o.get("type") == "migration" and o["event"] == "end" and cur is not None:
        rounds.append(cur)
        cur = None
qemu = [s[3] for s in sessions if s[0] != "dirty-rate"]
check(rounds == qemu, f"lmtrace rounds per migration {rounds}, QEMU's dirty-sync-count {qemu}")
sys.exit(1 if fails else 0)
EOF
finish "the hooks followed dirty logging"

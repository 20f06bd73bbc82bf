#!/usr/bin/env bash
# The outputs on real traces: kvm_gt (the ground-truth VMM, tests/kvm_gt/kvm_gt.c)
# runs a migration-like sequence of dirty-log rounds, 800 ms apart, twice.
# 1. lmtrace -j -w --listen --prom-file: /metrics scraped with curl during the
#    run shows the rounds going up; the recording replayed with -r gives the
#    live JSON byte for byte; the textfile's final lmtrace_rounds_total equals
#    the rounds in the JSON.
# 2. lmtrace in a real terminal (tmux): the live view is redrawn in place
#    while it runs, and its last headline is the verdict of its recording.
# 3. lmtrace -j -w killed with SIGKILL mid-migration: the recording replays
#    (exit 0) with a "cut short" warning, and its JSON is a prefix of what
#    the killed lmtrace had printed, with rounds in it.
# Ports 47470-47499 belong to this test.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_kvm
need curl
need tmux
[ -x "$GT" ] || die "$GT missing (run make test)"
[ -x "$LMTRACE" ] || die "$LMTRACE missing (run make)"

tmp=$(mktemp -d /tmp/lmtrace-t-outputs-live.XXXXXX) || die "mktemp"
tmux_sock=lmtrace-t-outputs-live-$$
gt_timeout='' lm_timeout=''
cleanup() {
	[ -n "$gt_timeout" ] && kill -TERM "$gt_timeout" 2>/dev/null
	[ -n "$lm_timeout" ] && kill -TERM "$lm_timeout" 2>/dev/null
	tmux -L "$tmux_sock" kill-server 2>/dev/null # SIGHUP stops the lmtrace inside
	rm -rf "$tmp"
}
at_exit cleanup
free_port() { # FIRST LAST
	local p
	for p in $(seq "$1" "$2"); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}
gt_port=$(free_port 47470 47484) && http_port=$(free_port 47485 47499) ||
	die "no free ports in 47470-47499"

start_gt() { # PORT: starts kvm_gt, sets gt_timeout and vm_pid
	: >"$tmp/truth"
	timeout 120 "$GT" --wait-signal --port "$1" --mode manual --repeat --round-gap-ms 800 \
		>"$tmp/truth" 2>"$tmp/gt.err" &
	gt_timeout=$!
	wait_for 30 grep -q '^ready pid=' "$tmp/truth" || { cat "$tmp/gt.err"; die "kvm_gt not ready"; }
	vm_pid=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$tmp/truth")
}
finish_gt() {
	local rc
	wait "$gt_timeout"
	rc=$?
	gt_timeout=
	[ "$rc" -eq 0 ] || fail "kvm_gt exited $rc: $(cat "$tmp/gt.err")"
}
rounds_of() { sed -n "s/^lmtrace_rounds_total{pid=\"$vm_pid\",[^}]*} \([0-9]*\)$/\1/p" "$1"; }

# --- 1: JSON, recording, HTTP and textfile on one live trace
start_gt "$gt_port"
timeout 150 "$LMTRACE" -j -p "$vm_pid" --port "$gt_port" -w "$tmp/rec1.lmrec" \
	--listen "127.0.0.1:$http_port" --prom-file "$tmp/lmtrace.prom" >"$tmp/live.json" 2>"$tmp/lm.err" &
lm_timeout=$!
if ! wait_for 30 grep -q Tracing "$tmp/lm.err"; then
	cat "$tmp/lm.err"; die "lmtrace did not start tracing"
fi
curl -s "http://127.0.0.1:$http_port/metrics" >"$tmp/scrape0.txt"
kill -USR1 "$vm_pid"
last='' rounds_seen=()
while kill -0 "$lm_timeout" 2>/dev/null && kill -0 "$gt_timeout" 2>/dev/null; do
	curl -s "http://127.0.0.1:$http_port/metrics" >"$tmp/scrape.txt"
	r=$(rounds_of "$tmp/scrape.txt")
	[ -n "$r" ] && [ "$r" != "$last" ] && rounds_seen+=("$r") && last=$r
	sleep 0.2
done
finish_gt
if lmtrace_stops "$lm_timeout" 10; then
	wait "$lm_timeout"
	rc=$?
	[ "$rc" -eq 0 ] || fail "lmtrace -j exited $rc: $(cat "$tmp/lm.err")"
else
	wait "$lm_timeout"	# lmtrace_stops said FAIL
fi
lm_timeout=''

grep -q '^# TYPE lmtrace_verdict gauge$' "$tmp/scrape0.txt" && ok "/metrics answered before the migration started" ||
	fail "no /metrics before the migration started"
[ "${#rounds_seen[@]}" -ge 3 ] && ok "/metrics during the run: lmtrace_rounds_total went ${rounds_seen[*]}" ||
	fail "/metrics during the run: rounds seen: ${rounds_seen[*]:-none}"
"$LMTRACE" -r "$tmp/rec1.lmrec" -j >"$tmp/replay.json" 2>"$tmp/replay.err" || fail "replay: $(cat "$tmp/replay.err")"
if [ -s "$tmp/live.json" ] && cmp -s "$tmp/live.json" "$tmp/replay.json"; then
	ok "replay of the recording = the live JSON, byte for byte ($(wc -l <"$tmp/live.json") lines)"
else
	fail "replay differs from live"; diff "$tmp/live.json" "$tmp/replay.json" | head -10
fi
json_rounds=$(grep -c "\"pid\":$vm_pid,\"type\":\"round\"" "$tmp/live.json")
prom_rounds=$(rounds_of "$tmp/lmtrace.prom")
[ "$json_rounds" -gt 2 ] && [ "${prom_rounds:-x}" = "$json_rounds" ] &&
	ok "--prom-file: lmtrace_rounds_total $prom_rounds = rounds in the JSON" ||
	fail "--prom-file rounds ${prom_rounds:-absent}, JSON $json_rounds"

# --- 2: the live view in a real terminal
start_gt "$gt_port"
: >"$tmp/lm.err"
tmux -L "$tmux_sock" -f /dev/null new-session -d -x 100 -y 40 \
	"TERM=xterm-256color timeout 150 '$LMTRACE' -p $vm_pid --port $gt_port -w '$tmp/rec2.lmrec' \
	 2>'$tmp/lm.err'; echo LMTRACE-EXIT=\$?; sleep 60"
pane() { tmux -L "$tmux_sock" capture-pane -p >"$tmp/pane.txt" 2>/dev/null; }
if ! wait_for 30 grep -q Tracing "$tmp/lm.err"; then
	cat "$tmp/lm.err"; pane; cat "$tmp/pane.txt"; die "lmtrace did not start tracing in tmux"
fi
kill -USR1 "$vm_pid"
frames=0
: >"$tmp/pane.prev"
for _ in $(seq 100); do
	pane
	grep -q LMTRACE-EXIT "$tmp/pane.txt" && break
	if ! cmp -s "$tmp/pane.txt" "$tmp/pane.prev" && grep -q "pid $vm_pid" "$tmp/pane.txt"; then
		frames=$((frames + 1))
		cp "$tmp/pane.txt" "$tmp/pane.prev"
	fi
	sleep 0.2
done
finish_gt
wait_for 20 eval 'pane; grep -q LMTRACE-EXIT "$tmp/pane.txt"' || fail "lmtrace still running 20 s after its VMM exited"
grep -q "LMTRACE-EXIT=0" "$tmp/pane.txt" || fail "lmtrace in tmux: $(grep LMTRACE-EXIT "$tmp/pane.txt") $(cat "$tmp/lm.err")"
[ "$frames" -ge 3 ] && ok "live view redrawn in place: $frames different frames seen" ||
	fail "live view: only $frames different frames"
grep -q "dirty MiB/s" "$tmp/pane.txt" && grep -q "(final)" "$tmp/pane.txt" || fail "final frame incomplete"
verdict=$("$LMTRACE" -r "$tmp/rec2.lmrec" -j 2>/dev/null |
	sed -n "s/.*\"pid\":$vm_pid,\"type\":\"summary\".*\"verdict\":\"\([a-z-]*\)\".*/\1/p")
case $verdict in
converging) head=CONVERGING ;; marginal) head=MARGINAL ;; not-converging) head="NOT CONVERGING" ;;
*) head="NOT ENOUGH DATA" ;;
esac
if [ -n "$verdict" ] && grep -A1 "pid $vm_pid" "$tmp/pane.txt" | grep -q "$head"; then
	ok "the live view's last headline is its recording's verdict: $verdict"
else
	fail "live view vs recording verdict (${verdict:-none})"
fi
sed 's/^/    | /' "$tmp/pane.txt" | head -16

# --- 3: a killed lmtrace leaves a recording that replays up to its last block
start_gt "$gt_port"
"$LMTRACE" -j -p "$vm_pid" --port "$gt_port" -w "$tmp/rec3.lmrec" >"$tmp/killed.json" 2>"$tmp/lm.err" &
lm_timeout=$!
if ! wait_for 30 grep -q Tracing "$tmp/lm.err"; then
	cat "$tmp/lm.err"; die "lmtrace did not start tracing"
fi
kill -USR1 "$vm_pid"
# a few rounds (800 ms apart), and more than one 2 s block period
wait_for 20 eval '[ "$(grep -c "\"type\":\"round\"" "$tmp/killed.json")" -ge 5 ]' ||
	fail "no 5 rounds within 20 s"
kill -KILL "$lm_timeout"
wait "$lm_timeout" 2>/dev/null
lm_timeout=''
finish_gt
"$LMTRACE" -r "$tmp/rec3.lmrec" -j >"$tmp/killed-replay.json" 2>"$tmp/replay.err"
rc=$?
grep -v -e '"type":"summary"' -e 'cut short' "$tmp/killed-replay.json" >"$tmp/killed-replay.body"
n=$(wc -l <"$tmp/killed-replay.body")
rounds=$(grep -c '"type":"round"' "$tmp/killed-replay.body")
if [ "$rc" -eq 0 ] && grep -q 'cut short' "$tmp/killed-replay.json" && [ "$rounds" -ge 1 ] &&
   head -n "$n" "$tmp/killed.json" | cmp -s - "$tmp/killed-replay.body"; then
	ok "killed lmtrace: the recording replays $n of $(wc -l <"$tmp/killed.json") live lines ($rounds rounds), with a warning"
else
	fail "replay of a killed lmtrace's recording: exit $rc, $n lines, $rounds rounds: $(cat "$tmp/replay.err")"
	diff "$tmp/killed.json" "$tmp/killed-replay.json" | head
fi

finish "all live output checks passed"

#!/usr/bin/env bash
# Bad input gets one clear line on stderr and the right exit code, never a
# hang: a pid that does not exist, a process that is not a VMM, a usage error,
# no privileges (run as nobody), and a VMM that exits while traced (lmtrace
# then stops by itself with a summary and exit 0).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_kvm

tmp=$(mktemp -d /tmp/lmtrace-errors.XXXXXX) || exit 1
chmod 755 "$tmp"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0

# expect NAME WANT_RC PATTERN -- COMMAND...: exit code and a stderr line matching PATTERN.
expect() {
	local name=$1 want=$2 pattern=$3 rc
	shift 4
	timeout -k 2 20 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -Eq -- "$pattern" "$tmp/err"; then
		echo "FAIL $name: exit $rc (want $want), stderr:"
		sed 's/^/    /' "$tmp/err"
		failures=$((failures + 1))
	else
		echo "ok   $name: exit $rc, $(grep -E -- "$pattern" "$tmp/err" | head -n 1)"
	fi
}

# A pid that is free: past pid_max, never in use.
nopid=$(($(cat /proc/sys/kernel/pid_max) + 1))
expect "no such process" 1 "pid $nopid: no such process" -- "$LMTRACE" -p "$nopid"

sleep 30 & pids+=("$!")
expect "not a VMM" 1 "pid $!.*is not a VMM" -- "$LMTRACE" -p "$!"

expect "bad interval" 2 "invalid interval" -- "$LMTRACE" -i abc
expect "bad pid" 2 "invalid pid" -- "$LMTRACE" -p 12x
expect "bad bandwidth" 2 "invalid bandwidth" -- "$LMTRACE" --bandwidth fast
expect "qmp needs one pid" 2 "--qmp needs exactly one" -- "$LMTRACE" --qmp /nonexistent
expect "missing recording" 1 "nonexistent.lmt" -- "$LMTRACE" -r "$tmp/nonexistent.lmt"

# No privileges: as nobody, lmtrace may neither read a root VMM's fds nor load BPF.
if command -v setpriv >/dev/null; then
	cp "$LMTRACE" "$tmp/lmtrace" && chmod 755 "$tmp/lmtrace"
	"$GT" --wait-signal >"$tmp/gt.out" 2>&1 & gt=$!; pids+=("$gt")
	wait_for 10 grep -q '^ready' "$tmp/gt.out" ||
		{ echo "FAIL: kvm_gt not ready in 10 s"; cat "$tmp/gt.out"; failures=$((failures + 1)); }
	expect "no privileges, -p" 1 "run lmtrace as root" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/lmtrace" -p "$gt"
	expect "no privileges, all VMMs" 1 "run lmtrace as root|refused|permission" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/lmtrace" -d 1
	kill "$gt" 2>/dev/null
else
	echo "FAIL: setpriv (util-linux) is missing"; failures=$((failures + 1))
fi

# A VMM that exits mid-trace: lmtrace notices, prints its summary, exits 0.
"$GT" --wait-signal --linger-ms 0 >"$tmp/gt.out" 2>&1 & gt=$!; pids+=("$gt")
# It opens /dev/kvm before it says ready.
wait_for 10 grep -q '^ready' "$tmp/gt.out" ||
	{ echo "FAIL: kvm_gt not ready in 10 s"; cat "$tmp/gt.out"; failures=$((failures + 1)); }
timeout -k 2 30 "$LMTRACE" -j -p "$gt" >"$tmp/trace.jsonl" 2>"$tmp/trace.err" & lm=$!; pids+=("$lm")
wait_for 20 grep -q Tracing "$tmp/trace.err" ||
	{ echo "FAIL: lmtrace did not say Tracing in 20 s"; cat "$tmp/trace.err"; failures=$((failures + 1)); }
kill -USR1 "$gt"; sleep 0.3; kill -KILL "$gt"; wait "$gt" 2>/dev/null
if lmtrace_stops "$lm" 10; then
	wait "$lm"; rc=$?
else
	wait "$lm"; rc="still running"
fi
if [ "$rc" = 0 ] && grep -q "pid $gt exited" "$tmp/trace.err" &&
   grep -q '"type":"summary"' "$tmp/trace.jsonl"; then
	echo "ok   VMM killed mid-trace: exit 0, '$(grep exited "$tmp/trace.err")', summary written"
else
	echo "FAIL VMM killed mid-trace: exit $rc"; sed 's/^/    /' "$tmp/trace.err"
	failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all error cases behave"

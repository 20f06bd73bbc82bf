#!/usr/bin/env bash
# Bad input gets one clear line on stderr and the right exit code, never a
# hang: a pid that does not exist, a process that is not a VMM (one with a
# hostile -name too), a usage error,
# no privileges (run as nobody), and a VMM that exits while traced (lmtrace
# then stops by itself with a summary and exit 0). The last two need
# /dev/kvm (kvm_gt is the VMM): without it they are a skip at the end.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root

tmp=$(mktemp -d /tmp/lmtrace-errors.XXXXXX) || die "mktemp"
chmod 755 "$tmp"
pids=()
# their children too: the hostile -name process is a bash waiting on a sleep
at_exit 'pkill -P "$(IFS=,; echo "${pids[*]}")" 2>/dev/null; kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"'

# A pid that is free: past pid_max, never in use.
nopid=$(($(cat /proc/sys/kernel/pid_max) + 1))
expect "no such process" 1 "pid $nopid: no such process" -- "$LMTRACE" -p "$nopid"

sleep 30 & pids+=("$!")
expect "not a VMM" 1 "pid $!.*is not a VMM" -- "$LMTRACE" -p "$!"

# QEMU's -name comes from whoever started the VMM: shown sanitised, on one line,
# with no escape sequence reaching the terminal (",," is QEMU's comma).
bash -c 'sleep 30; :' -name $'guest=a\e[2Jb\nc,,d\xff,debug-threads=on' & pids+=("$!")
expect "hostile -name" 1 "pid $! \(a\?\[2Jb\?c,d\?\) is not a VMM" -- "$LMTRACE" -p "$!"
if grep -q $'\e' "$tmp/err"; then
	fail "hostile -name: an escape character reached stderr"
fi

expect "bad interval" 2 "invalid interval" -- "$LMTRACE" -i abc
expect "bad pid" 2 "invalid pid" -- "$LMTRACE" -p 12x
expect "bad bandwidth" 2 "invalid bandwidth" -- "$LMTRACE" --bandwidth fast
# Numbers: finite and within the range the help states, which the message repeats.
for a in nan inf -inf 0.0001 1e400 3601 0x; do
	expect "interval $a" 2 "invalid interval '$a': give 0.05 to 3600 seconds" -- "$LMTRACE" -i "$a"
done
for a in 0 -1 nan inf 1e-400; do
	expect "duration $a" 2 "invalid duration '$a': give a positive number of seconds" -- "$LMTRACE" -d "$a"
done
for a in 0 0.5 3600001 nan inf; do
	expect "downtime limit $a" 2 "invalid downtime limit '$a': give 1 to 3600000 ms" -- \
		"$LMTRACE" --downtime-limit "$a"
done
for a in 1e400G 1e300G 1048577G nan infM -1M 0.5 0; do
	expect "bandwidth $a" 2 "invalid bandwidth '$a': give 1 byte/s to 1048576G" -- "$LMTRACE" --bandwidth "$a"
done
expect "switchover bandwidth 1e400G" 2 "invalid switchover bandwidth '1e400G': give 1 byte/s to 1048576G" -- \
	"$LMTRACE" --switchover-bandwidth 1e400G
for a in 0 65536 -1 80x; do
	expect "port $a" 2 "invalid port '$a': give 1 to 65535" -- "$LMTRACE" --port "$a"
done
# The bounds themselves are accepted (a replay: no tracing needed).
if [ -x "$OUTPUT/tests/lm_synth" ] && "$OUTPUT/tests/lm_synth" both "$tmp/ok.lmrec"; then
	for args in "-i 0.05 --bandwidth 1 --downtime-limit 1 --port 1" \
		    "-i 3600 -d 1e9 --bandwidth 1048576G --switchover-bandwidth 1048576G --downtime-limit 3600000 --port 65535"; do
		# shellcheck disable=SC2086 # the options split on purpose
		expect "bounds accepted: $args" 0 "replay uses the settings recorded live" -- \
			"$LMTRACE" -r "$tmp/ok.lmrec" -j $args
	done
else
	fail "$OUTPUT/tests/lm_synth missing (make $OUTPUT/tests/lm_synth)"
fi
expect "qmp needs one pid" 2 "--qmp needs exactly one" -- "$LMTRACE" --qmp /nonexistent
# --act writes to a VM only over its QMP socket, and only when asked and bounded.
expect "act without qmp" 2 "--act acts over QEMU's QMP socket" -- "$LMTRACE" -p 1 --act throttle
expect "unknown act policy" 2 "unknown --act policy 'slow'" -- \
	"$LMTRACE" -p 1 --qmp /nonexistent --act throttle,slow
expect "apply without act" 2 "--apply carries out --act's actions" -- \
	"$LMTRACE" -p 1 --qmp /nonexistent --apply
expect "cancel without give-up" 2 "--act cancel needs --give-up-after" -- \
	"$LMTRACE" -p 1 --qmp /nonexistent --act cancel
expect "downtime without max" 2 "--act downtime needs --max-downtime" -- \
	"$LMTRACE" -p 1 --qmp /nonexistent --act downtime
expect "max-throttle range" 2 "invalid --max-throttle '100': give 1 to 99" -- \
	"$LMTRACE" -p 1 --qmp /nonexistent --act throttle --max-throttle 100
expect "act in replay" 2 "--act does not apply" -- "$LMTRACE" replay /nonexistent --act throttle
expect "missing recording" 1 "nonexistent.lmt" -- "$LMTRACE" -r "$tmp/nonexistent.lmt"
# --head-start: a check of the traced VM, else a clear refusal before tracing.
expect "head start without -p" 2 "--head-start is for a VM lmtrace traces" -- \
	"$LMTRACE" --head-start /nonexistent
expect "head start file missing" 1 "--head-start $tmp/none.json: No such file" -- \
	"$LMTRACE" -p 1 --head-start "$tmp/none.json"
echo '{"type":"check","ts":1,"pid":42,"ram_bytes":1,"windows":[{"window_s":1,"dirty_pages":1}]}' \
	>"$tmp/other.json"
expect "head start of another pid" 1 "no .lmtrace check -j. result for pid 1 \(only for other pids\)" -- \
	"$LMTRACE" -p 1 --head-start "$tmp/other.json"
expect "head start age range" 2 "invalid --head-start age '0'" -- \
	"$LMTRACE" -p 1 --head-start "$tmp/other.json,0"
# Numbers no check writes are refused, never cast (a cast of 1e300 to an integer is undefined).
for bad in '"ts":1e300' '"ram_bytes":-5' '"ram_bytes":1e300' \
	'"windows":[{"window_s":1e300,"dirty_pages":1}]' '"windows":[{"window_s":1,"dirty_pages":10000000000}]' \
	'"windows":[{"window_s":1,"dirty_pages":-1}]'; do
	printf '{"type":"check","ts":1,"pid":1,"ram_bytes":1,"windows":[{"window_s":1,"dirty_pages":1}],%s}\n' \
		"$bad" >"$tmp/range.json"
	expect "head start with $bad" 1 "the check of pid 1 measured nothing usable .*out of range" -- \
		"$LMTRACE" -p 1 --head-start "$tmp/range.json"
done

require_kvm "the no-privileges and VMM-exit cases did not run"

# No privileges: as nobody, lmtrace may neither read a root VMM's fds nor load BPF.
if command -v setpriv >/dev/null; then
	cp "$LMTRACE" "$tmp/lmtrace" && chmod 755 "$tmp/lmtrace"
	"$GT" --wait-signal >"$tmp/gt.out" 2>&1 & gt=$!; pids+=("$gt")
	wait_for 10 grep -q '^ready' "$tmp/gt.out" ||
		{ fail "kvm_gt not ready in 10 s"; cat "$tmp/gt.out"; }
	expect "no privileges, -p" 1 "run lmtrace as root" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/lmtrace" -p "$gt"
	expect "no privileges, all VMMs" 1 "run lmtrace as root|refused|permission" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/lmtrace" -d 1
	kill "$gt" 2>/dev/null
else
	fail "setpriv (util-linux) is missing"
fi

# A VMM that exits mid-trace: lmtrace notices, prints its summary, exits 0.
"$GT" --wait-signal --linger-ms 0 >"$tmp/gt.out" 2>&1 & gt=$!; pids+=("$gt")
# It opens /dev/kvm before it says ready.
wait_for 10 grep -q '^ready' "$tmp/gt.out" ||
	{ fail "kvm_gt not ready in 10 s"; cat "$tmp/gt.out"; }
timeout -k 2 30 "$LMTRACE" -j -p "$gt" >"$tmp/trace.jsonl" 2>"$tmp/trace.err" & lm=$!; pids+=("$lm")
wait_for 20 grep -q Tracing "$tmp/trace.err" ||
	{ fail "lmtrace did not say Tracing in 20 s"; cat "$tmp/trace.err"; }
kill -USR1 "$gt"; sleep 0.3; kill -KILL "$gt"; wait "$gt" 2>/dev/null
if lmtrace_stops "$lm" 10; then
	wait "$lm"; rc=$?
else
	wait "$lm"; rc="still running"
fi
if [ "$rc" = 0 ] && grep -q "pid $gt exited" "$tmp/trace.err" &&
   grep -q '"type":"summary"' "$tmp/trace.jsonl"; then
	ok "VMM killed mid-trace: exit 0, '$(grep exited "$tmp/trace.err")', summary written"
else
	fail "VMM killed mid-trace: exit $rc"; sed 's/^/    /' "$tmp/trace.err"
fi

finish "all error cases behave"

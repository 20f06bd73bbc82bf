#!/usr/bin/env bash
# Runs every test serially and prints one line per test and a closing
# "N passed, N failed, N skipped" line (CI's tooling reads that line: keep it).
#   unit tests:   $OUTPUT/tests/test_*     (built by make from tests/unit/test_*.c)
#   system tests: tests/system/t_*.sh      (real kernel, BPF, /dev/kvm, QEMU)
# A test exits 0 on success, 77 to skip, anything else fails.
# TESTS="pattern..." runs only the tests whose name matches one of the shell
# patterns (separated by spaces or |), e.g. TESTS='test_* t_kvm_*'.
#
# Skips. A skipping test ends its output with one line "skip: WHAT IS MISSING"
# (e.g. "skip: no promtool"). The machines CI runs on have everything, so a
# skip is a failure, printed "SKIP→FAIL name: reason", unless
# LMTRACE_ALLOW_SKIP=1 is set (a developer without root) and CI is not:
# CI=true (as .ci/run sets it) ignores LMTRACE_ALLOW_SKIP. Even then a skip
# whose last line does not say what is missing fails. Every skip's reason is
# repeated before the closing line.
# One skip counts as a skip everywhere, CI too: "no KVM on this machine"
# (lib.sh's require_kvm), and only when this runner sees it is true: no
# /dev/kvm and no kvm misc device, a kernel that offers no KVM at all. That
# is hardware the machine lacks, like a missing accelerator; those tests are
# listed as not run, loudly, before the closing line. A /dev/kvm that exists
# but does not work is a failure.
#
# Timeouts. Each test runs under `timeout -k 10 LIMIT` in a session of its own
# (setsid): LIMIT is 300 s for a system test and 120 s for a unit test, or N
# from a "# timeout: N" line in the test script ("// timeout: N" in
# tests/unit/NAME.c for a unit test). A timeout is a failure that says so.
# When a test ends, however it ends, whatever it started that is still
# running (in its session, or carrying its run's LMTRACE_TEST_RUN marker in
# its environment: that also catches what left the session, like a tmux
# server) is stopped by pid, TERM then KILL, and named in the output.
set -u
cd "$(dirname "$0")/.." || exit 1
OUTPUT=${OUTPUT:-.output}
export OUTPUT LMTRACE="$PWD/$OUTPUT/lmtrace" LM_TOP="$PWD"
logdir=$OUTPUT/test-logs
mkdir -p "$logdir"

SYSTEM_LIMIT=300 UNIT_LIMIT=120
allow_skip=0
if [ "${CI:-}" = true ]; then
	[ "${LMTRACE_ALLOW_SKIP:-}" = 1 ] && echo "note: CI=true: LMTRACE_ALLOW_SKIP=1 is ignored, every skip fails"
elif [ "${LMTRACE_ALLOW_SKIP:-}" = 1 ]; then
	allow_skip=1
fi

# shellcheck source=system/kvm.sh
. tests/system/kvm.sh
kvm_absent=0
if ! kernel_offers_kvm; then
	kvm_absent=1
	echo "note: $(kvm_skip_reason): the tests that need it do not run"
fi
# kvm_only_reason REASON: every part of the skip's reason (parts joined by
# "; ") says the machine has no KVM, and it has none.
kvm_only_reason() {
	local part
	[ "$kvm_absent" = 1 ] || return 1
	while IFS= read -r part; do
		case $part in "$KVM_ABSENT"*) ;; *) return 1 ;; esac
	done < <(printf '%s\n' "$1" | sed 's/; /\n/g')
}

# limit_of TEST NAME: the test's timeout in seconds.
limit_of() {
	local n
	case $1 in
	*.sh) n=$(sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' "$1" | head -n 1)
	      echo "${n:-$SYSTEM_LIMIT}" ;;
	*)    n=$(sed -n 's@^// timeout: \([0-9][0-9]*\)$@\1@p' "tests/unit/$2.c" 2>/dev/null | head -n 1)
	      echo "${n:-$UNIT_LIMIT}" ;;
	esac
}

IFS='| ' read -ra patterns <<<"${TESTS:-*}"
selected() {
	local p
	for p in "${patterns[@]}"; do
		# shellcheck disable=SC2254 # a pattern
		case $1 in $p) return 0 ;; esac
	done
	return 1
}

# show_failure LOG: the lines that say what failed (a long test's failing
# case may be far from its end), then the log's tail.
show_failure() {
	local fails
	fails=$(grep -nE '^[[:space:]]*FAIL' "$1" | head -n 20)
	if [ -n "$fails" ]; then
		echo "    what failed (line: text):"
		printf '%s\n' "$fails" | sed 's/^/    ! /'
	fi
	sed 's/^/    | /' "$1" | tail -n 40
}

# A skip's reason names what is missing: "skip: " and a word like these.
reason_ok() {
	printf '%s\n' "$1" | grep -Eiq '^skip:.*(^|[^a-z])(no|not|needs?|missing|without|lacks?|cannot|unavailable)([^a-z]|$)'
}

# leftovers SID TOKEN: live processes in session SID or with LMTRACE_TEST_RUN=TOKEN
# in their environment, this runner excepted.
leftovers() {
	{ ps -e -o pid=,sid=,stat= | awk -v s="$1" '$2 == s && $3 !~ /^Z/ { print $1 }'
	  grep -lsz "^LMTRACE_TEST_RUN=$2\$" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
	} | sort -un | grep -vx -e "$$" -e "$BASHPID"
}

# stop_leftovers SID TOKEN: stops them (TERM, KILL after 3 s), says which.
stop_leftovers() {
	local pids p _
	pids=$(leftovers "$1" "$2")
	[ -n "$pids" ] || return 0
	for p in $pids; do
		printf '    (left running: pid %s: %s)\n' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"
	done
	# shellcheck disable=SC2086 # a list of pids
	kill -TERM $pids 2>/dev/null
	for _ in $(seq 30); do
		pids=$(leftovers "$1" "$2")
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	echo "    (still there after TERM: KILL ${pids//$'\n'/ })"
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
}

cur_sid='' cur_token=''
interrupted() {
	[ -n "$cur_sid" ] && stop_leftovers "$cur_sid" "$cur_token"
	echo "interrupted"
	exit 130
}
trap interrupted INT TERM HUP

pass=0 fail=0 skip=0 failed=() skipped=() skip_failed=() timed_out=() no_kvm=()
for t in "$OUTPUT"/tests/test_* tests/system/t_*.sh; do
	[ -e "$t" ] || continue
	case $t in *.d) continue ;; esac	# make's dependency files
	name=$(basename "$t" .sh)
	selected "$name" || continue
	limit=$(limit_of "$t" "$name")
	log=$logdir/$name.log
	token=$$-$name-$RANDOM$RANDOM
	start=$(date +%s.%N)
	# A background job of this (non-interactive) shell leads no process group,
	# so setsid(1) makes the session in place: the job's pid is the session id.
	LMTRACE_TEST_RUN=$token setsid timeout -k 10 "$limit" "$t" >"$log" 2>&1 </dev/null &
	cur_sid=$! cur_token=$token
	{ wait "$cur_sid"; } 2>/dev/null	# no "Killed" notice from the shell
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	left=$(stop_leftovers "$cur_sid" "$token")
	cur_sid=''
	[ -n "$left" ] && printf '%s\n' "$left" >>"$log"
	# timeout(1): 124 after TERM, 137 when it had to KILL; a test's own 124 ends early.
	if { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } &&
	   awk -v s="$secs" -v l="$limit" 'BEGIN { exit !(s >= l) }'; then
		fail=$((fail + 1)); failed+=("$name"); timed_out+=("$name")
		printf 'FAIL %-40s %6ss (timed out: stopped after its %s s limit)\n' "$name" "$secs" "$limit"
		show_failure "$log"
	elif [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)); printf 'PASS %-40s %6ss\n' "$name" "$secs"
		[ -n "$left" ] && printf '%s\n' "$left"
	elif [ "$rc" -eq 77 ]; then
		reason=$(grep -v '^[[:space:]]*$' "$log" | grep -v '^    (left running\|^    (still there' | tail -n 1)
		if reason_ok "$reason"; then
			reason=${reason#skip:} said=1
			reason=${reason# }
		else
			reason="it did not say what is missing (a skipping test ends with 'skip: what is missing'; its last line: ${reason:-none})"
			said=0
		fi
		if [ "$said" = 1 ] && kvm_only_reason "$reason"; then
			skip=$((skip + 1)); no_kvm+=("$name")
			printf 'SKIP %-40s %s\n' "$name" "$reason"
			[ -n "$left" ] && printf '%s\n' "$left"
		elif [ "$allow_skip" = 1 ] && [ "$said" = 1 ]; then
			skip=$((skip + 1)); skipped+=("$name: $reason")
			printf 'SKIP %-40s %s\n' "$name" "$reason"
			[ -n "$left" ] && printf '%s\n' "$left"
		else
			fail=$((fail + 1)); failed+=("$name"); skip_failed+=("$name: $reason")
			printf 'SKIP→FAIL %s: %s\n' "$name" "$reason"
			[ -n "$left" ] && printf '%s\n' "$left"
		fi
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL %-40s %6ss (exit %d)\n' "$name" "$secs" "$rc"
		show_failure "$log"
	fi
done
for s in "${skipped[@]}"; do echo "skipped (LMTRACE_ALLOW_SKIP=1): $s"; done
if [ ${#no_kvm[@]} -gt 0 ]; then
	echo "NOT RUN, this machine's kernel offers no KVM (${#no_kvm[@]} tests, in whole or in part): ${no_kvm[*]}"
	echo "(they need a machine with a working /dev/kvm to say anything about lmtrace's KVM tracing)"
fi
if [ ${#skip_failed[@]} -gt 0 ]; then
	for s in "${skip_failed[@]}"; do echo "skipped, so failed: $s"; done
	if [ "${CI:-}" = true ]; then
		echo "(CI=true: every test must run here; a skip means this machine lacks something CI needs)"
	else
		echo "(a skip counts as a failure; LMTRACE_ALLOW_SKIP=1 allows one that says what is missing, outside CI)"
	fi
fi
[ ${#timed_out[@]} -eq 0 ] || echo "timed out: ${timed_out[*]}"
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]} (logs in $logdir)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

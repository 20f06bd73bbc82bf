#!/usr/bin/env bash
# Shared by tests/system/t_*.sh (sourced after `set -u`): the paths every test uses,
# the one way a test passes, fails or skips, and small helpers. Run from the
# repository root (this file goes there).
#
# Passing, failing, skipping: every test does it with these, and nothing else.
#   ok MSG             prints "ok: MSG"
#   fail MSG           prints "FAIL: MSG" and records it; the test goes on (to
#                      report every broken thing at once) and ends failed
#   die MSG            fail MSG, then exit now: what follows cannot run
#   check MSG CMD...   runs CMD: ok MSG if it succeeds, else fail MSG
#   expect ...         a command's exit code and stderr line (below)
#   skip REASON        prints "skip: REASON" and exits 77 now; REASON says what
#                      is missing ("no promtool", "needs root"): tests/run-tests.sh
#                      counts a skip as a failure unless allowed, never in CI
#   skip_at_end REASON the rest of the test still runs, then it ends as a skip
#                      (when nothing failed): for a part that cannot run here
#   need TOOL [PACKAGE]  skip "no TOOL" when TOOL is not installed
#   at_exit CMD        runs CMD when the test (or the subshell that called
#                      at_exit) exits, however it exits; use it, never `trap EXIT`
#   finish [MSG]       the end: exit 1 if anything failed, 77 if something was
#                      skipped, else prints MSG and exits 0
# The exit trap enforces it: a test that recorded a FAIL exits 1 whatever
# exit code it gives (exit 0, or a skip's 77), and one that exits non-zero
# without saying FAIL gets a FAIL line naming its exit code. Failures are
# recorded in a file, so a fail in a subshell or a pipeline counts too.
cd "${LM_TOP:-$(dirname "${BASH_SOURCE[1]}")/../..}" || exit 1
OUTPUT=${OUTPUT:-.output}
case $OUTPUT in /*) ;; *) OUTPUT=$PWD/$OUTPUT ;; esac
LMTRACE=${LMTRACE:-$OUTPUT/lmtrace}
# shellcheck disable=SC2034 # used by the tests that source this
GT=${LM_KVM_GT:-$OUTPUT/tests/kvm_gt}	# t_sanitize.sh: the sanitized build

_lm_main=$BASHPID
# made by the first fail (a test that never fails leaves nothing behind)
_lm_fails=${TMPDIR:-/tmp}/lmtrace-test-$_lm_main-$RANDOM$RANDOM.fails
_lm_skips=() _lm_skip_now='' _lm_exit_cmds=()

ok() { echo "ok: $*"; }
fail() {
	echo "FAIL: $*"
	printf '%s\n' "$*" >>"$_lm_fails"
}
die() {
	fail "$@"
	exit 1
}
check() {
	local msg=$1
	shift
	if "$@"; then ok "$msg"; else fail "$msg"; fi
}
# failures: how many FAILs were recorded so far (subshells included).
failures() { if [ -e "$_lm_fails" ]; then echo $(($(wc -l <"$_lm_fails"))); else echo 0; fi; }
skip() {
	_lm_skip_now=$*
	# the exit trap prints it last, after the cleanups; a subshell has no trap
	[ "$BASHPID" = "$_lm_main" ] || echo "skip: $*"
	exit 77
}
skip_at_end() {
	echo "(skipped, the test goes on: $*)"
	_lm_skips+=("$*")
}
need() {
	command -v "$1" >/dev/null || skip "no $1 (apt-get install ${2:-$1}; tests/install-deps.sh installs it)"
}
at_exit() {
	local c
	for c in "${_lm_exit_cmds[@]}"; do
		[ "$c" = "$BASHPID:$*" ] && return 0
	done
	_lm_exit_cmds+=("$BASHPID:$*")
	# a subshell does not inherit the trap: it runs its own cleanups
	[ "$BASHPID" = "$_lm_main" ] || trap _lm_on_exit EXIT
}
finish() {
	local n
	n=$(failures)
	[ "$n" -eq 0 ] || { echo "$n check(s) failed"; exit 1; }
	[ ${#_lm_skips[@]} -eq 0 ] || exit 77	# the exit trap says why, last
	[ $# -eq 0 ] || echo "$*"
	exit 0
}

_lm_skip_line() {
	local r s=''
	for r in "${_lm_skips[@]}"; do s=${s:+$s; }$r; done
	echo "skip: $s"
}
_lm_on_exit() {
	local rc=$? c i n
	# cleanups, last registered first, those of this (sub)shell only
	for ((i = ${#_lm_exit_cmds[@]} - 1; i >= 0; i--)); do
		c=${_lm_exit_cmds[i]}
		[ "${c%%:*}" = "$BASHPID" ] && eval "${c#*:}"
	done
	[ "$BASHPID" = "$_lm_main" ] || exit "$rc"
	n=$(failures)
	rm -f "$_lm_fails"
	if [ "$n" -gt 0 ]; then
		[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || echo "$n check(s) failed"
		[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || rc=1
		exit "$rc"
	fi
	case $rc in
	0)  [ ${#_lm_skips[@]} -eq 0 ] && exit 0
	    _lm_skip_line	# the last line: what is missing
	    exit 77 ;;
	77) [ -z "$_lm_skip_now" ] || _lm_skips=("$_lm_skip_now" "${_lm_skips[@]}")
	    [ ${#_lm_skips[@]} -eq 0 ] || _lm_skip_line
	    exit 77 ;;
	*)  echo "FAIL: exit $rc"
	    exit "$rc" ;;
	esac
}
trap _lm_on_exit EXIT

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (BPF and /dev/kvm)"
}

# have_kvm, kernel_offers_kvm, kvm_skip_reason and KVM_ABSENT, shared with the runner
# shellcheck source=kvm.sh
. tests/system/kvm.sh	# lib.sh runs from the repository root
# require_kvm [WHAT]: a usable /dev/kvm, or a skip when the kernel offers
# none (WHAT: what did not run, when part of the test already did), or a
# failure when it offers one this test cannot use.
require_kvm() {
	have_kvm && return 0
	kernel_offers_kvm || skip "$(kvm_skip_reason)${1:+: $1}"
	[ "$(id -u)" -eq 0 ] || skip "needs root (/dev/kvm)"
	die "the kernel offers KVM, but /dev/kvm is not usable: $(ls -l "${LM_DEV_KVM:-/dev/kvm}" 2>&1)"
}

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# lmtrace_stops PID [SECONDS]: PID is an lmtrace started with -p (or the
# timeout(1) around one) whose VMM has exited: it must stop by itself within
# SECONDS (default 10). If not, fails "lmtrace still running N s after its
# VMM exited", interrupts it (SIGINT, TERM 5 s later) and returns 1.
lmtrace_stops() {
	local pid=$1 secs=${2:-10}
	wait_for "$secs" eval "! kill -0 $pid 2>/dev/null" && return 0
	fail "lmtrace still running $secs s after its VMM exited (interrupting it)"
	kill -INT "$pid" 2>/dev/null
	wait_for 5 eval "! kill -0 $pid 2>/dev/null" || kill -TERM "$pid" 2>/dev/null
	return 1
}

# expect NAME WANT_RC PATTERN -- COMMAND...: exit code and a stderr line
# matching PATTERN, else fail NAME; files in $tmp (out, err), each command
# bounded by $expect_timeout seconds (default 20).
expect() {
	local name=$1 want=$2 pattern=$3 rc
	shift 4
	# shellcheck disable=SC2154 # tmp: the test's scratch directory
	timeout -k 2 "${expect_timeout:-20}" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -Eq -- "$pattern" "$tmp/err"; then
		fail "$name: exit $rc (want $want), stderr:"
		sed 's/^/    /' "$tmp/err"
	else
		ok "$name: exit $rc, $(grep -E -- "$pattern" "$tmp/err" | head -n 1)"
	fi
}

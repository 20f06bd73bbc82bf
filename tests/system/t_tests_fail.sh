#!/usr/bin/env bash
# The tests can fail. Each case breaks, on purpose, what a test checks and
# wants it red: an exit that is neither 0 nor 77, and a "FAIL: " line saying
# what broke. A test that passes or skips on the broken thing fails this one.
#  1. The convention (lib.sh) and tests/run-tests.sh, in a scratch copy of
#     tests/: a FAIL recorded in a subshell, in a pipeline, before `exit 0`,
#     before a skip, or followed by die, ends the test with 1; an exit that is
#     neither 0 nor 77 says FAIL; the runner reports each as FAIL, a skip as
#     SKIP→FAIL under CI=true, and a unit test (tests/unit/unit.h) with a
#     failed ASSERT, or none at all, as FAIL with its FAIL line listed. The
#     one skip CI allows, "no KVM on this machine", counts as a skip only on
#     a machine whose kernel offers no KVM, and only alone: where the kernel
#     offers KVM it is a failure, and so is require_kvm without /dev/kvm.
#  2. Real tests against a broken lmtrace (a wrapper around the real one):
#     t_outputs when lmtrace -j says another verdict than its CSV, t_fleet
#     when --prom-file loses the lmtrace_migrating family, t_errors and
#     t_check_errors when a usage error exits 1 instead of 2; and
#     t_fuzz_corpus with a fuzz target that crashes on the corpus.
# What is broken in each case, and how every other test was seen red once:
# tests/README.md.
# timeout: 300
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need cc gcc
need python3
[ -x "$LMTRACE" ] || die "$LMTRACE missing (run make)"
[ -x "$OUTPUT/tests/lm_synth" ] || die "$OUTPUT/tests/lm_synth missing (run make test)"
REAL=$LMTRACE

tmp=$(mktemp -d /tmp/lmtrace-t-tests-fail.XXXXXX) || die "mktemp"
at_exit 'rm -rf "$tmp"'

# red NAME PATTERN LOG RC: the broken test exited RC with LOG; it must have
# failed (not 0, not 77) with a line "FAIL: ...PATTERN...".
red() {
	local name=$1 pattern=$2 log=$3 rc=$4 line
	line=$(grep -E -m 1 "^FAIL: .*$pattern" "$log")
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$line" ]; then
		ok "$name went red (exit $rc): $line"
	else
		fail "$name did not go red as it should (exit $rc, want a FAIL line matching /$pattern/); its output:"
		sed 's/^/    | /' "$log" | tail -n 30
	fi
}

# ---- 1. the convention and the runner, in a scratch tree
repo=$tmp/repo
mkdir -p "$repo/tests/system" "$repo/out/tests"
cp tests/run-tests.sh "$repo/tests/"
cp tests/system/lib.sh tests/system/kvm.sh "$repo/tests/system/"
mutant() { # NAME BODY: a system test sourcing lib.sh
	printf '#!/usr/bin/env bash\nset -u\n. "$(dirname "$0")/lib.sh"\n%s\n' "$2" >"$repo/tests/system/$1.sh"
	chmod +x "$repo/tests/system/$1.sh"
}
mutant t_m_pass        'ok "fine"; finish "passed"'
mutant t_m_fail        'fail "broken on purpose"; ok "later"; finish "passed"'
mutant t_m_subshell    '( fail "broken in a subshell"; exit 0 ); finish "passed"'
mutant t_m_pipeline    'echo x | while read -r _; do fail "broken in a pipeline"; done; finish "passed"'
mutant t_m_exit0       'fail "broken, then exit 0"; exit 0'
mutant t_m_then_skip   'fail "broken, then a skip"; skip "no reason to skip"'
mutant t_m_die         'die "broken, died"; echo "not reached"; finish "passed"'
mutant t_m_exit3       'ok "fine"; exit 3'
mutant t_m_skip        'skip "no such tool (on purpose)"'
mutant t_m_skip_at_end 'skip_at_end "no such tool (on purpose)"; ok "the rest ran"; finish "passed"'
cat >"$tmp/unit_fail.c" <<'EOF'
#include "unit.h"
int main(void)
{
	ASSERT_EQ(1 + 1, 3, "one plus one, broken on purpose");
	ASSERT_TRUE(1, "a passing check");
	return unit_done("test_m_fail");
}
EOF
cat >"$tmp/unit_none.c" <<'EOF'
#include "unit.h"
int main(void) { return unit_done("test_m_none"); }
EOF
for u in fail none; do
	cc -Itests/unit -o "$repo/out/tests/test_m_$u" "$tmp/unit_$u.c" -lm 2>"$tmp/cc.err" ||
		die "cc unit_$u.c: $(cat "$tmp/cc.err")"
done
"$repo/out/tests/test_m_fail" >"$tmp/unit.log" 2>&1
red "a unit test with a failed ASSERT" "one plus one, broken on purpose: got 2, expected 3" "$tmp/unit.log" $?
"$repo/out/tests/test_m_none" >"$tmp/unit.log" 2>&1
red "a unit test with no check" "no check ran" "$tmp/unit.log" $?

# the runner, as CI runs it: every line it prints for these
(cd "$repo" && env -u LM_TOP -u LMTRACE CI=true LMTRACE_ALLOW_SKIP=1 OUTPUT=out TESTS='test_m_* t_m_*' \
	timeout -k 5 120 tests/run-tests.sh) >"$tmp/runner.log" 2>&1
rc=$?
sed 's/^/    | /' "$tmp/runner.log" | grep -v '^    |     |' | head -n 60
[ "$rc" -ne 0 ] || fail "the runner exited 0 with failing tests"
runner_says() { # NAME PATTERN: the runner's output has a line matching PATTERN
	grep -Eq -- "$2" "$tmp/runner.log" && ok "runner: $1" || fail "runner: $1: no line /$2/"
}
for t in t_m_fail t_m_subshell t_m_pipeline t_m_exit0 t_m_then_skip t_m_die t_m_exit3 test_m_fail test_m_none; do
	runner_says "$t is FAIL" "^FAIL $t "
done
runner_says "t_m_pass is PASS" "^PASS t_m_pass "
runner_says "a skip fails under CI=true" "^SKIP→FAIL t_m_skip: no such tool \(on purpose\)$"
runner_says "a skip at the end fails under CI=true" "^SKIP→FAIL t_m_skip_at_end: no such tool \(on purpose\)$"
runner_says "a FAIL in a subshell is listed" "! [0-9]+:FAIL: broken in a subshell"
runner_says "a unit test's failed ASSERT is listed" "! [0-9]+:FAIL: .*one plus one, broken on purpose"
runner_says "its closing line" "^1 passed, 11 failed, 0 skipped$"

# The one skip CI allows, "no KVM on this machine", played on a machine
# without KVM and on one whose kernel offers it (LM_DEV_KVM, LM_PROC_MISC).
mutant t_k_nokvm     'require_kvm "on purpose"; ok "not reached"; finish "passed"'
mutant t_k_nokvm_end 'skip_at_end "$KVM_ABSENT (on purpose)"; ok "the rest ran"; finish "passed"'
mutant t_k_mixed     'skip_at_end "$KVM_ABSENT (on purpose)"; skip_at_end "no such tool (on purpose)"; finish "passed"'
mutant t_k_fake      'skip "$KVM_ABSENT, it says (on purpose)"'
echo "232 kvm" >"$tmp/misc-kvm"
kvm_runner() { # LOG PROC_MISC: the runner on the t_k_* tests, as CI runs it, /dev/kvm missing
	(cd "$repo" && env -u LM_TOP -u LMTRACE CI=true OUTPUT=out TESTS='t_k_*' \
		LM_DEV_KVM="$tmp/no-such-kvm" LM_PROC_MISC="$2" timeout -k 5 120 tests/run-tests.sh) >"$1" 2>&1
}
kvm_runner "$tmp/nokvm.log" /dev/null
rc=$?
sed 's/^/    | /' "$tmp/nokvm.log" | grep -v '^    |     |' | head -n 20
kvm_says() { # NAME PATTERN LOG
	grep -Eq -- "$2" "$3" && ok "runner, $1" || fail "runner, $1: no line /$2/"
}
kvm_says "no KVM: require_kvm is a skip" "^SKIP t_k_nokvm +no KVM on this machine.*: on purpose$" "$tmp/nokvm.log"
kvm_says "no KVM: a skip at the end is a skip" "^SKIP t_k_nokvm_end +no KVM on this machine \(on purpose\)$" "$tmp/nokvm.log"
kvm_says "no KVM: another skip beside it still fails" "^SKIP→FAIL t_k_mixed: " "$tmp/nokvm.log"
kvm_says "no KVM: the tests not run are listed" "^NOT RUN, this machine's kernel offers no KVM \(3 tests" "$tmp/nokvm.log"
kvm_says "no KVM: its closing line" "^0 passed, 1 failed, 3 skipped$" "$tmp/nokvm.log"
[ "$rc" -ne 0 ] || fail "the runner exited 0 with t_k_mixed failing"
kvm_runner "$tmp/kvm.log" "$tmp/misc-kvm"
rc=$?
sed 's/^/    | /' "$tmp/kvm.log" | grep -v '^    |     |' | head -n 20
if [ "$(id -u)" -eq 0 ]; then
	kvm_says "KVM offered, /dev/kvm missing: require_kvm fails" "^FAIL t_k_nokvm " "$tmp/kvm.log"
	kvm_says "KVM offered: the failure says why" "FAIL: the kernel offers KVM, but /dev/kvm is not usable" "$tmp/kvm.log"
fi
kvm_says "KVM offered: a skip that claims no KVM fails" "^SKIP→FAIL t_k_fake: " "$tmp/kvm.log"
kvm_says "KVM offered: a no-KVM skip at the end fails" "^SKIP→FAIL t_k_nokvm_end: " "$tmp/kvm.log"
[ "$rc" -ne 0 ] || fail "the runner exited 0 on a machine that offers KVM with KVM tests skipped"

# ---- 2. real tests against a broken lmtrace
# wrapper NAME BODY: an lmtrace that runs the real one ($REAL) and breaks something
wrapper() {
	printf '#!/usr/bin/env bash\nREAL=%q\n%s\n' "$REAL" "$2" >"$tmp/$1"
	chmod +x "$tmp/$1"
}
# its JSON says marginal where it says converging; its CSV stays true
wrapper lmtrace-json-verdict '
for a; do
	if [ "$a" = -j ]; then
		set -o pipefail
		"$REAL" "$@" | sed "s/\"verdict\":\"converging\"/\"verdict\":\"marginal\"/g"
		exit
	fi
done
exec "$REAL" "$@"'
LMTRACE=$tmp/lmtrace-json-verdict timeout -k 5 120 tests/system/t_outputs.sh >"$tmp/t_outputs.log" 2>&1
red "t_outputs with JSON verdicts the CSV does not have" "CSV says converging, JSON marginal" "$tmp/t_outputs.log" $?

# its Prometheus textfile loses a metric family the rules use
wrapper lmtrace-no-migrating '
"$REAL" "$@"
rc=$?
prev=
for a; do
	[ "$prev" = --prom-file ] && sed -i "/lmtrace_migrating/d" "$a"
	prev=$a
done
exit $rc'
LMTRACE=$tmp/lmtrace-no-migrating timeout -k 5 120 tests/system/t_fleet.sh >"$tmp/t_fleet.log" 2>&1
red "t_fleet with lmtrace_migrating gone from the textfile" "names" "$tmp/t_fleet.log" $?

# usage errors exit 1, like runtime errors
wrapper lmtrace-usage-exit-1 '
"$REAL" "$@"
rc=$?
[ "$rc" -eq 2 ] && exit 1
exit $rc'
if [ "$(id -u)" -eq 0 ]; then
	LMTRACE=$tmp/lmtrace-usage-exit-1 timeout -k 5 200 tests/system/t_errors.sh >"$tmp/t_errors.log" 2>&1
	red "t_errors with usage errors exiting 1" "bad interval: exit 1 \(want 2\)" "$tmp/t_errors.log" $?
else
	skip_at_end "t_errors' case needs root (not here)"
fi
if [ "$(id -u)" -eq 0 ] && command -v qemu-system-x86_64 >/dev/null; then
	LMTRACE=$tmp/lmtrace-usage-exit-1 timeout -k 5 120 tests/system/t_check_errors.sh >"$tmp/t_check_errors.log" 2>&1
	red "t_check_errors with usage errors exiting 1" "no VM: exit 1 \(want 2\)" "$tmp/t_check_errors.log" $?
else
	skip_at_end "t_check_errors' case needs root and qemu-system-x86_64 (not here)"
fi

# fuzz targets that crash on every input
mkdir -p "$tmp/fuzz-out/fuzz"
for t in fuzz_record fuzz_record_nocrc fuzz_replay; do
	printf '#!/bin/sh\necho "==1==ERROR: libFuzzer: deadly signal (a crash made on purpose)"\nexit 77\n' \
		>"$tmp/fuzz-out/fuzz/$t"
	chmod +x "$tmp/fuzz-out/fuzz/$t"
done
OUTPUT=$tmp/fuzz-out timeout -k 5 60 tests/system/t_fuzz_corpus.sh >"$tmp/t_fuzz_corpus.log" 2>&1
red "t_fuzz_corpus with crashing fuzz targets" "fuzz_record crashes on the committed corpus" "$tmp/t_fuzz_corpus.log" $?

finish "every broken thing was caught: the tests can fail"

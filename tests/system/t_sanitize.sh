#!/usr/bin/env bash
# The sanitizer build ($OUTPUT/san/, tests/sanitize/sanitize.mk: clang with
# AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer) must stay
# silent while
#  1. every unit test runs from it, and passes;
#  2. san_replay (tests/sanitize/san_replay.c) replays every recording in
#     tests/traces/ and tests/fuzz/corpus/ through every sink and the report,
#     the traces also through a new recording that must replay the same;
#  3. t_errors, t_outputs and t_kvm_ground_truth pass with lmtrace and kvm_gt
#     from it: lmtrace's BPF session, its error exits, its HTTP server under
#     malformed requests, the ground truth's exact counts.
# Every sanitizer report is written to a file (log_path), so that one from a
# process a test expects to fail (t_errors) still fails this test.
# timeout: 400
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
SAN=$OUTPUT/san

if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-"$(uname -m)".a >/dev/null 2>&1; then
	skip "no clang sanitizer runtime (apt-get install libclang-rt-14-dev)"
fi
for p in "$SAN/san_replay" "$SAN/lmtrace" "$SAN/kvm_gt" "$SAN/tests/test_vmtrack"; do
	[ -x "$p" ] || die "$p missing (make sanitize; make test builds it)"
done

tmp=$(mktemp -d /tmp/lmtrace-t-sanitize.XXXXXX) || die "mktemp"
at_exit 'rm -rf "$tmp"'
mkdir -m 1777 "$tmp/reports"	# t_errors runs lmtrace as nobody too
# A report goes to reports/sanitizer.PID, whichever sanitizer made it.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:log_path=$tmp/reports/sanitizer"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$tmp/reports/sanitizer"

# reports WHAT: fails if a sanitizer wrote a report since the last call, and shows it.
reports() {
	local f n=0
	for f in "$tmp"/reports/*; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		echo "--- $(basename "$f") (a sanitizer report during $1):"
		sed 's/^/    /' "$f" | head -n 60
		mv "$f" "$tmp/seen.$(basename "$f")"
	done
	[ "$n" -eq 0 ] || fail "$1: $n sanitizer report(s)"
}

# --- 1. the unit tests
for t in "$SAN"/tests/test_*; do
	case $t in *.d) continue ;; esac
	name=$(basename "$t")
	if timeout -k 5 200 "$t" >"$tmp/$name.log" 2>&1 </dev/null; then
		ok "unit test $name: $(tail -n 1 "$tmp/$name.log")"
	else
		fail "unit test $name exited $?:"; tail -n 30 "$tmp/$name.log"
	fi
	reports "$name"
done

# --- 2. every recording through every sink
traces=(tests/traces/*.lmrec) corpus=(tests/fuzz/corpus/*)
if timeout -k 5 120 "$SAN/san_replay" --valid "${traces[@]}" >"$tmp/traces.log" 2>&1; then
	ok "san_replay: ${#traces[@]} traces replayed, re-recorded, replayed again and drawn"
else
	fail "san_replay on tests/traces:"; grep -v ': replay ok' "$tmp/traces.log" | tail -n 30
fi
reports "san_replay of tests/traces"
if timeout -k 5 120 "$SAN/san_replay" "${corpus[@]}" >"$tmp/corpus.log" 2>&1; then
	ok "san_replay: ${#corpus[@]} fuzz corpus inputs through every sink"
else
	fail "san_replay on tests/fuzz/corpus:"; tail -n 30 "$tmp/corpus.log"
fi
reports "san_replay of tests/fuzz/corpus"

# --- 3. system tests with the sanitized lmtrace and kvm_gt
for t in t_errors t_outputs t_kvm_ground_truth; do
	LMTRACE=$SAN/lmtrace LM_KVM_GT=$SAN/kvm_gt timeout -k 10 250 "tests/system/$t.sh" \
		>"$tmp/$t.log" 2>&1 </dev/null
	rc=$?
	case $rc in
	0)  ok "$t with the sanitized lmtrace and kvm_gt: $(tail -n 1 "$tmp/$t.log")" ;;
	77) last=$(tail -n 1 "$tmp/$t.log")
	    case $last in	# keep the no-KVM reason first: the runner allows only that one
	    "skip: $KVM_ABSENT"*) skip_at_end "$(kvm_skip_reason): $t did not run with the sanitized build" ;;
	    *) skip_at_end "$t did not run with the sanitized build ($last)" ;;
	    esac ;;
	*)  fail "$t with the sanitized lmtrace and kvm_gt exited $rc:"; tail -n 40 "$tmp/$t.log" ;;
	esac
	reports "$t"
done

finish "no sanitizer report"

#!/usr/bin/env bash
# The overhead benchmark (tests/bench/bench.sh, `make bench`) in its tiny
# mode, so it cannot rot: it must finish, print every section, produce every
# number (as "key value" results), see lmtrace's BPF programs run, use
# lmtrace's sampled counting for the 128 GiB slot and exact counting below
# it, measure its handlers' run time (BPF_ENABLE_STATS), and leave the
# kernel.bpf_stats_enabled sysctl alone. Timings are printed by the bench,
# never checked here. Ports 47560-47599 (--port-base 47550).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_kvm

tmp=$(mktemp -d /tmp/lmbench-smoke.XXXXXX) || die "mktemp"
at_exit 'rm -rf "$tmp"'

stats_before=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null)
OUTPUT=$OUTPUT timeout -k 10 240 tests/bench/bench.sh --quick --port-base 47550 \
	--results "$tmp/results" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ "$rc" -eq 77 ] && skip "$(tail -n 1 "$tmp/out")"
[ "$rc" -eq 0 ] || die "bench.sh --quick exited with $rc$([ "$rc" -eq 124 ] && echo ' (timeout)')"
# Others may set it meanwhile (a concurrent test); the bench must not clear it.
[ "$stats_before" = 1 ] && [ "$(cat /proc/sys/kernel/bpf_stats_enabled)" != 1 ] &&
	fail "kernel.bpf_stats_enabled was 1 before the bench and 0 after: the bench must not write it"

for section in "1. Dirtying throughput" "2. Sync burst time" "3. QEMU migration" "4. BPF handler cost"; do
	grep -q "^$section" "$tmp/out" || fail "no section '$section' in the output"
done

keys="throughput.kvm_gt.base.pages_per_s throughput.kvm_gt.lm.pages_per_s"
for gib in 0 1 16 64 128; do
	for k in base.median_ms lm.median_ms lm.max_ms added_ms count_ms_per_sync \
		 exit_handler_ms_per_sync lmtrace_sync_ms bitmap_bytes slots sampled_rounds fixed_us_per_get; do
		keys="$keys sync.$gib.$k"
	done
done
for p in handle_kvm_ioctl_enter handle_kvm_ioctl_exit handle_sock_send_length; do
	keys="$keys bpf.$p.events bpf.$p.ns_per_event"
done
keys="$keys lmtrace.cpu_pct"
lab_skipped=''
if grep -q '^3. QEMU migration: skipped' "$tmp/out"; then
	# A partial skip: reported as a skip at the end (tests/run-tests.sh decides).
	lab_skipped=$(grep -m 1 '^bench: the lab is not available' "$tmp/out")
	echo "(no lab here: its numbers are not checked)"
else
	keys="$keys throughput.lab.base.pages_per_s throughput.lab.lm.pages_per_s"
	for what in total downtime syncs; do
		keys="$keys migration.$what.base.median migration.$what.lm.median"
		keys="$keys migration.$what.base.spread migration.$what.lm.spread"
	done
	keys="$keys migration.count_us_per_sync migration.exit_handler_us_per_sync migration.lmtrace_sync_ms"
fi
missing=0
for k in $keys; do
	v=$(awk -v k="$k" '$1 == k { print $2 }' "$tmp/results")
	if ! printf '%s' "$v" | grep -Eq '^-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?$'; then
		echo "no number for $k (got '${v}')"
		missing=$((missing + 1))
	fi
done
[ "$missing" -eq 0 ] || die "$missing numbers missing"

num() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/results"; }
[ "$(num bpf.handle_kvm_ioctl_exit.events)" -gt 0 ] || fail "lmtrace's ioctl-exit handler never ran"
awk -v v="$(num bpf.handle_kvm_ioctl_exit.ns_per_event)" 'BEGIN { exit !(v > 0) }' ||
	fail "no run time measured for the ioctl-exit handler (BPF_ENABLE_STATS did not work?)"
[ "$(num bpf.handle_sock_send_length.events)" -gt 0 ] || fail "lmtrace's send handler never ran"
[ "$(num sync.128.sampled_rounds)" -gt 0 ] || fail "the 128 GiB slot was not counted by sampling"
[ "$(num sync.64.sampled_rounds)" -eq 0 ] || fail "the 64 GiB slot was sampled, not counted exactly"
[ "$(num sync.64.bitmap_bytes)" -gt 2000000 ] || fail "the 64 GiB case had a $(num sync.64.bitmap_bytes)-byte bitmap"
echo "every number present ($(echo "$keys" | wc -w) checked)"
[ -z "$lab_skipped" ] || skip_at_end "the bench's QEMU parts did not run (${lab_skipped#bench: })"
finish "PASS"

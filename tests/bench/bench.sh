#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# lmtrace's overhead, in one run: every number as
#     baseline / with lmtrace = ratio   (ratio = with lmtrace ÷ baseline)
# 1. dirtying throughput: kvm_gt's loop (guest writes, sync, send) and the lab
#    guest's achieved write rate during a migration;
# 2. each sync burst (KVM_GET_DIRTY_LOG over all slots, timed by kvm_gt) for
#    bitmaps from 2.6 KiB to 32 MiB (82 MiB to 1 TiB of slots; above 64 GiB
#    lmtrace samples), with lmtrace's counting time per sync (count_ns from
#    its vm_counters map) and the ioctl-exit handler's cost per sync;
# 3. a real QEMU migration's total time and downtime (lab, converging);
# 4. each BPF handler's kernel cost per event (run_time_ns / run_cnt, with
#    run-time stats on through BPF_ENABLE_STATS while lm_bpfstats runs: the
#    kernel.bpf_stats_enabled switch, counted per holder, so the sysctl is
#    never written and concurrent runs cannot turn it off under each other);
# 5. what other processes pay: an unrelated process's getppid() and ioctl()
#    with lmtrace following every VMM, without a migration and while one
#    logs and syncs (tests/bench/bench_host.sh), and lmtrace's idle CPU.
# This is a benchmark: nothing here asserts a timing. The machine is shared,
# so read the numbers with the load average printed at the top and bottom.
#
# Usage: tests/bench/bench.sh [--quick] [--reps N] [--no-lab] [--results FILE] [--port-base P]
#                             [--sections LIST] [--sync-sizes LIST]
#   --quick      tiny mode (few rounds, no 1 TiB slot, the lab's "zero"
#                scenario, short bounds): every number, less trust; used by
#                t_bench_smoke.sh
#   --reps N     lab migrations per side (default 3)
#   --no-lab     skip the parts that need QEMU (1b, 3)
#   --results F  also write every number as "key value" lines to F
#   --sections L run only these sections, e.g. "2 5" (default: 1 2 3 4 5)
#   --sync-sizes L section 2's slot sizes in GiB, e.g. "16 64"
#   --port-base P  the lab's destination ports P+20, P+21, P+40, P+41
#                (default 47500; the smoke test uses 47550). kvm_gt takes any
#                free port.
# Needs root and /dev/kvm; QEMU and `make lab` for 1b and 3.
set -u
cd "${LM_TOP:-$(dirname "$0")/../..}" || exit 1
OUTPUT=${OUTPUT:-.output}
case $OUTPUT in /*) ;; *) OUTPUT=$PWD/$OUTPUT ;; esac
LMTRACE=${LMTRACE:-$OUTPUT/lmtrace}
GT=$OUTPUT/tests/kvm_gt
STATS=$OUTPUT/tests/lm_bpfstats
LMLAB=$OUTPUT/lab/lmlab
GUEST=$OUTPUT/guest/guest.elf

quick=0 reps=3 lab=1 results_out= port_base=47500 sections="1 2 3 4 5" sizes_arg=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--reps) reps=${2:-}; shift ;;
	--no-lab) lab=0 ;;
	--results) results_out=${2:-}; shift ;;
	--port-base) port_base=${2:-}; shift ;;
	--sections) sections=${2:-}; shift ;;
	--sync-sizes) sizes_arg=${2:-}; shift ;;
	*) echo "usage: $0 [--quick] [--reps N] [--no-lab] [--results FILE] [--port-base P]" >&2; exit 2 ;;
	esac
	shift
done
case $reps in '' | *[!0-9]* | 0) echo "bench: --reps needs a positive number" >&2; exit 2 ;; esac
case $port_base in '' | *[!0-9]*) echo "bench: --port-base needs a port number" >&2; exit 2 ;; esac

[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (BPF, /dev/kvm)" >&2; exit 77; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "bench: no usable /dev/kvm" >&2; exit 77; }
for f in "$LMTRACE" "$GT" "$STATS" "$OUTPUT/tests/syscall_cost"; do
	[ -x "$f" ] || { echo "bench: $f is missing: run make bench (or make all test)" >&2; exit 1; }
done
if [ "$lab" = 1 ] && { [ ! -x "$LMLAB" ] || [ ! -r "$GUEST" ] || ! command -v qemu-system-x86_64 >/dev/null; }; then
	echo "bench: the lab is not available (make lab, qemu-system-x86_64): skipping 1b and 3"
	lab=0
fi

tmp=$(mktemp -d /tmp/lmbench.XXXXXX) || exit 1
. "$(dirname "$0")/bench_lib.sh"
. "$(dirname "$0")/bench_host.sh"
want() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }
cleanup() {
	stop "${started[@]}"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
: >"$tmp/results"
: >"$tmp/progs.sum"
: >"$tmp/progs.idle"
: >"$tmp/lm.cpu"

if [ "$quick" = 1 ]; then
	host_pairs=2 tp_rounds=30 tp_reps=1 sync_rounds=5 sync_sizes="0 1 16 64 128" lab_scenario=zero lab_max_bound=3 reps=1
else
	host_pairs=5 tp_rounds=300 tp_reps=3 sync_rounds=30 sync_sizes="0 1 16 64 128 1024" lab_scenario=converge lab_max_bound=8
fi
[ -n "$sizes_arg" ] && sync_sizes=$sizes_arg
repeat_list() { yes "$2" | head -n "$1" | paste -sd, -; }

say "lmtrace overhead benchmark ($(date -u '+%F %T UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
say "Each line: baseline / with lmtrace = ratio (with lmtrace ÷ baseline). Nothing is asserted."
say "Other processes share this machine: ratios near 1.0 are within its noise."

section_took() { note "this section took $((SECONDS - section_t0)) s"; section_t0=$SECONDS; }
section_t0=$SECONDS
if want 1; then
# ---- 1a. kvm_gt's loop: guest writes 1000 pages, sync (GET+CLEAR), send ----
say ""
say "1. Dirtying throughput"
tp_args=(--mode manual --huge-slot-gib 16 --rounds "$(repeat_list "$tp_rounds" 1000)" --round-gap-ms 0
	 --dup-pct 0 --linger-ms 0)
for i in $(seq "$tp_reps"); do
	for side in base lm; do
		gt_start "tp-$side-$i" "${tp_args[@]}"
		[ "$side" = lm ] && lm_start "tp-$side-$i" "$vm_pid"
		t0=$(now_ns)
		kill -USR1 "$vm_pid"
		gt_finish "tp-$side-$i"
		t1=$(now_ns)
		[ "$side" = lm ] && lm_finish "tp-$side-$i"
		pages=$(grep '"summary"' "$tmp/tp-$side-$i.gt" | jnum dirty_pages)
		calc "$pages / (($t1 - $t0) / 1e9)" '%.0f\n' >>"$tmp/tp-$side.pages_per_s"
	done
done
read -r _ bmin bmed _ bmax < <(list_stats <"$tmp/tp-base.pages_per_s")
read -r _ lmin lmed _ lmax < <(list_stats <"$tmp/tp-lm.pages_per_s")
res throughput.kvm_gt.base.pages_per_s "$bmed"
res throughput.kvm_gt.lm.pages_per_s "$lmed"
ratio_line "kvm_gt pages/s, median of $tp_reps" "$bmed" "$lmed" "[$bmin-$bmax] / [$lmin-$lmax]"
note "kvm_gt: $tp_rounds rounds of 1000 new pages each, a 16 GiB + 82 MiB guest, 4 KiB sent per page"

# ---- 1b. the lab guest writing as fast as it can while it is migrated ----
if [ "$lab" = 1 ]; then
	: >"$tmp/max-base.pages_per_s"
	: >"$tmp/max-lm.pages_per_s"
	max_reps=$((reps < 2 ? reps : 2))	# keeps the whole bench near 4 minutes
	for i in $(seq "$max_reps"); do
		for side in base lm; do
			lab_run "max-$side-$i" $((port_base + 20)) "$side" -s stuck --rate max --bandwidth 128 \
				--bound "$lab_max_bound" || continue
			l=$(grep '"type":"result"' "$tmp/max-$side-$i.lab")
			printf '%s\n' "$l" | jnum guest_rate_pages_s | xargs printf '%.0f\n' >>"$tmp/max-$side.pages_per_s"
			printf '%s\n' "$l" | jnum dirty_sync_count >>"$tmp/max-$side.syncs"
		done
	done
	read -r _ bmin bmed _ bmax < <(list_stats <"$tmp/max-base.pages_per_s")
	read -r _ lmin lmed _ lmax < <(list_stats <"$tmp/max-lm.pages_per_s")
	res throughput.lab.base.pages_per_s "$bmed"
	res throughput.lab.lm.pages_per_s "$lmed"
	ratio_line "lab guest pages/s while migrated, median of $max_reps" "$bmed" "$lmed" "[$bmin-$bmax] / [$lmin-$lmax]"
	note "lab: guest rate=max over 256 MiB, 320 MiB RAM, 128 MiB/s cap, cancelled after $lab_max_bound s;" \
		"syncs per run $(sort -n "$tmp/max-base.syncs" 2>/dev/null | xargs) / $(sort -n "$tmp/max-lm.syncs" 2>/dev/null | xargs)"
else
	note "lab guest throughput: skipped (no lab)"
fi

fi

if want 2; then
# ---- 2. sync bursts by bitmap size ----
section_took
# the cost of a sync with the hooks attached (on demand they attach ~0.1 s
# after logging comes on, when this schedule's first syncs have run)
lm_args="--hooks always"
say ""
say "2. Sync burst time, kvm_gt (manual protect, GET+CLEAR per slot; median ms of $sync_rounds syncs, round 1 excluded)"
say "   (kvm_gt's huge slot comes in whole GiB: the 512 MiB / 16 KiB point lies between the first two lines)"
say "   per sync with lmtrace: +added ms | lmtrace's counting (count_ns) | ioctl-exit handler (bpf_stats) | lmtrace's own sync_ms"
for gib in $sync_sizes; do
	n=$sync_rounds
	[ "$gib" -ge 1024 ] && n=5	# its setup and kvm_gt's own checks take seconds
	sync_args=(--mode manual --huge-slot-gib "$gib" --rounds "$(repeat_list "$n" 100)"
		   --round-gap-ms 10 --dup-pct 0)
	name=sync-$gib
	gt_start "$name-base" "${sync_args[@]}" --linger-ms 0
	kill -USR1 "$vm_pid"
	poll_s=0.1 wait_until 60 grep -q '"summary"' "$tmp/$name-base.gt"	# as with lmtrace
	gt_finish "$name-base"

	gt_start "$name-lm" "${sync_args[@]}" --linger-ms 1500
	lm_start "$name-lm" "$vm_pid"
	lm_cpu_mark
	stats_start
	A=$(snap)
	sleep 0.5
	B=$(snap "$vm_pid")
	kill -USR1 "$vm_pid"
	poll_s=0.1 wait_until 60 grep -q '"summary"' "$tmp/$name-lm.gt" || die "kvm_gt ($name-lm) did not finish"
	C=$(snap "$vm_pid")
	lm_cpu_note
	gt_finish "$name-lm"
	lm_finish "$name-lm"
	stats_stop
	accumulate "$tmp/progs.sum" "$B" "$C"
	accumulate "$tmp/progs.idle" "$A" "$B"

	ram=$(grep '"summary"' "$tmp/$name-base.gt" | jnum ram_bytes)
	rounds=$(grep '"summary"' "$tmp/$name-lm.gt" | jnum rounds)
	slots=$(grep '"round":1,' "$tmp/$name-lm.gt" | jnum slots)
	read -r _ _ base_med _ _ < <(grep '"round"' "$tmp/$name-base.gt" | grep -v '"round":1,' |
		sed -n 's/.*"sync_ms":\([0-9.]*\).*/\1/p' | list_stats)
	read -r _ _ lm_med _ lm_max < <(grep '"round"' "$tmp/$name-lm.gt" | grep -v '"round":1,' |
		sed -n 's/.*"sync_ms":\([0-9.]*\).*/\1/p' | list_stats)
	read -r _ _ own_med _ _ < <(grep '"type":"round"' "$tmp/$name-lm.lm" | grep -v '"round":1,' |
		sed -n 's/.*"sync_ms":\([0-9.]*\).*/\1/p' | list_stats)
	count_ns=$(( $(printf '%s' "$C" | jnum count_ns) - $(printf '%s' "$B" | jnum count_ns) ))
	gets=$(( $(printf '%s' "$C" | jnum get_calls) - $(printf '%s' "$B" | jnum get_calls) ))
	count_ms=$(calc "$count_ns / ($rounds - 1) / 1e6" %.3f)
	read -r exit_ns _ < <(per_sync_ns "$A" "$B" "$C" handle_kvm_ioctl_exit "$rounds" "$gets")
	exit_ms=$(calc "$exit_ns / 1e6" %.3f)
	sampled=$(grep -c '"type":"round".*"sampled":true' "$tmp/$name-lm.lm")
	added=$(calc "$lm_med - $base_med" %.3f)
	if [ "$gib" = 0 ]; then
		label="$(calc "$ram / 1048576" %.0f) MiB"
	else
		label="$(calc "$ram / 1073741824" %.2f) GiB"
	fi
	label="$label in $slots slots, bitmap $(calc "$ram / 32768 / 1024" %.1f) KiB"
	[ "$sampled" -gt 0 ] && label="$label, sampled"
	ratio_line "$label" "$base_med" "$lm_med" \
		"+$added | $count_ms | $exit_ms | $lm_med/$own_med"
	res "sync.$gib.base.median_ms" "$base_med"
	res "sync.$gib.lm.median_ms" "$lm_med"
	res "sync.$gib.lm.max_ms" "$lm_max"
	res "sync.$gib.added_ms" "$added"
	res "sync.$gib.count_ms_per_sync" "$count_ms"
	res "sync.$gib.exit_handler_ms_per_sync" "$exit_ms"
	res "sync.$gib.lmtrace_sync_ms" "$own_med"
	res "sync.$gib.bitmap_bytes" "$(calc "$ram / 32768" %.0f)"
	res "sync.$gib.slots" "$slots"
	res "sync.$gib.sampled_rounds" "$sampled"
	res "sync.$gib.fixed_us_per_get" "$(calc "($exit_ms - $count_ms) * 1000 / $slots" %.1f)"
done
lm_args=
say "   ioctl-exit handler per GET beyond counting, 82 MiB case (counting ~0 there): $(r sync.0.fixed_us_per_get) us"
say "   budget: <= 1 ms added per sync for a 64 GiB guest: added $(r sync.64.added_ms) ms (median), $(calc "$(r sync.64.lm.max_ms) - $(r sync.64.base.median_ms)") ms (worst sync)"

fi

if want 3; then
# ---- 3. a real QEMU migration, interleaved repetitions ----
section_took
say ""
if [ "$lab" = 1 ]; then
	say "3. QEMU migration (lab scenario '$lab_scenario', $reps run(s) each side, interleaved): median [min-max]"
	for f in total downtime syncs status; do
		: >"$tmp/mig-base.$f"
		: >"$tmp/mig-lm.$f"
	done
	for f in exit_ns count_ns gets own_sync; do
		: >"$tmp/mig-lm.$f"
	done
	for i in $(seq "$reps"); do
		for side in base lm; do
			if ! lab_run "mig-$side-$i" $((port_base + 40)) "$side" -s "$lab_scenario"; then
				echo failed >>"$tmp/mig-$side.status"
				continue
			fi
			l=$(grep '"type":"result"' "$tmp/mig-$side-$i.lab")
			printf '%s\n' "$l" | jnum total_time_ms >>"$tmp/mig-$side.total"
			printf '%s\n' "$l" | jnum downtime_ms >>"$tmp/mig-$side.downtime"
			printf '%s\n' "$l" | jnum dirty_sync_count >>"$tmp/mig-$side.syncs"
			printf '%s\n' "$l" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' >>"$tmp/mig-$side.status"
			if [ "$side" = lm ]; then
				syncs=$(printf '%s\n' "$l" | jnum dirty_sync_count)
				C=$(cat "$tmp/mig-lm-$i.snapC")
				gets=$(printf '%s' "$C" | jnum get_calls)
				count_ns=$(printf '%s' "$C" | jnum count_ns)
				if [ -n "$gets" ]; then
					per_sync_ns "$(cat "$tmp/mig-lm-$i.snapA")" "$(cat "$tmp/mig-lm-$i.snapB")" \
						"$C" handle_kvm_ioctl_exit "$syncs" "$gets" >>"$tmp/mig-lm.exit_ns"
					# round 1 is not counted: its syncs - 1 bursts were
					calc "$count_ns / ($syncs - 1)" '%.0f\n' >>"$tmp/mig-lm.count_ns"
					calc "$gets / $syncs" '%.1f\n' >>"$tmp/mig-lm.gets"
				fi
				grep '"type":"round"' "$tmp/mig-lm-$i.lm" | grep -v '"round":1,' |
					sed -n 's/.*"sync_ms":\([0-9.]*\).*/\1/p' >>"$tmp/mig-lm.own_sync"
			fi
		done
	done
	for what in total downtime syncs; do
		read -r _ bmin bmed _ bmax < <(list_stats <"$tmp/mig-base.$what")
		read -r _ lmin lmed _ lmax < <(list_stats <"$tmp/mig-lm.$what")
		ratio_line "$what$([ "$what" = syncs ] || echo ' ms')" "$bmed" "$lmed" "[$bmin-$bmax] / [$lmin-$lmax]"
		res "migration.$what.base.median" "$bmed"
		res "migration.$what.lm.median" "$lmed"
		res "migration.$what.base.spread" "$(calc "$bmax - $bmin" %g)"
		res "migration.$what.lm.spread" "$(calc "$lmax - $lmin" %g)"
	done
	say "   status: base $(sort "$tmp/mig-base.status" | uniq -c | xargs), with lmtrace $(sort "$tmp/mig-lm.status" | uniq -c | xargs)"
	read -r _ _ emed _ _ < <(cut -d' ' -f1 "$tmp/mig-lm.exit_ns" | list_stats)
	read -r _ _ eunc _ _ < <(cut -d' ' -f2 "$tmp/mig-lm.exit_ns" | list_stats)
	read -r _ _ cmed _ _ < <(list_stats <"$tmp/mig-lm.count_ns")
	read -r _ _ gmed _ _ < <(list_stats <"$tmp/mig-lm.gets")
	read -r _ _ omed _ _ < <(list_stats <"$tmp/mig-lm.own_sync")
	say "   with lmtrace, per sync ($gmed GETs): counting $(calc "$cmed / 1000" %.1f) us (count_ns)," \
	    "ioctl-exit handler $(calc "$emed / 1000" %.1f) +- $(calc "$eunc / 1000" %.0f) us (bpf_stats, others' ioctls subtracted);" \
	    "lmtrace's sync_ms $omed ms (medians, rounds >= 2)"
	res "migration.count_us_per_sync" "$(calc "$cmed / 1000" %.1f)"
	res "migration.exit_handler_us_per_sync" "$(calc "$emed / 1000" %.1f)"
	res "migration.lmtrace_sync_ms" "$omed"
else
	say "3. QEMU migration: skipped (no lab)"
fi

fi

if want 4 && { want 2 || want 3; }; then
# ---- 4. BPF handlers, summed over every traced window above ----
[ "$lab" = 1 ] && section_took
say ""
say "4. BPF handler cost per event (bpf_stats run_time_ns / run_cnt): over every traced window above, and"
say "   over the 0.5 s before each traced run (only other processes' events, which each handler filters out)"
sum_progs() { awk '{ rt[$1] += $2; n[$1] += $3 } END { for (p in rt) printf "%s %d %d\n", p, rt[p], n[p] }' "$1" | sort; }
sum_progs "$tmp/progs.idle" >"$tmp/progs.idle.sum"
sum_progs "$tmp/progs.sum" | while read -r p rt n; do
	read -r _ irt in < <(awk -v p="$p" '$1 == p' "$tmp/progs.idle.sum")
	idle="-"
	[ "${in:-0}" -gt 0 ] && idle=$(calc "$irt / $in" %.0f)
	if [ "$n" -gt 0 ]; then
		printf '  %-30s %9d events %6.0f ns/event %9.3f ms total | filtered out: %s ns/event\n' \
			"$p" "$n" "$(calc "$rt / $n" %.1f)" "$(calc "$rt / 1e6" %.3f)" "$idle"
		res "bpf.$p.ns_per_event" "$(calc "$rt / $n" %.1f)"
	else
		printf '  %-30s %9d events (not attached on this kernel, or never fired)\n' "$p" 0
	fi
	res "bpf.$p.events" "$n"
	[ "$idle" != - ] && res "bpf.$p.filtered_ns_per_event" "$idle"
done
read -r wall cpu attach n < <(awk '{ w += $1; c += $2; a += $3 } END { printf "%.1f %.2f %.2f %d\n", w, c, a, NR }' "$tmp/lm.cpu")
say "  lmtrace's own process: $cpu s of CPU (user+sys) while tracing for $wall s = $(calc "100 * $cpu / $wall" %.2f) % of one CPU;"
say "  loading and attaching its programs took $(calc "$attach / $n" %.2f) s of CPU per start ($n starts)"
res "lmtrace.attach_cpu_s" "$(calc "$attach / $n" %.2f)"
res "lmtrace.cpu_pct" "$(calc "100 * $cpu / $wall" %.2f)"
say "  per sync: section 2 (kvm_gt) and 3 (QEMU); counting the bitmap (count_ns) is most of it for big slots,"
say "  the rest is a fixed cost per GET (its ring-buffer event)."
fi

want 5 && bench_host "$host_pairs"

say ""
say "done ($(date -u '+%T UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg))"
[ -n "$results_out" ] && cp "$tmp/results" "$results_out"
exit 0

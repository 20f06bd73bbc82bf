# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Sourced by bench.sh: section 5, what the rest of the host pays. An
# unrelated process's system calls (syscall_cost: median ns per getppid()
# and per ioctl(FIONREAD)), in alternating pairs without and with lmtrace
# following every VMM (service mode, no -p), (a) with a VM that is not
# migrating and (b) while a VM's dirty logging is on and it syncs every
# 100 ms (kvm_gt); and lmtrace's own CPU while it waits.

SYSCALL_COST=$OUTPUT/tests/syscall_cost

# svc_start NAME [lmtrace options]: lmtrace following every VMM; sets svc_pid.
svc_start() {
	local name=$1
	shift
	: >"$tmp/$name.svc.err"
	"$LMTRACE" -j -d 300 "$@" >"$tmp/$name.svc" 2>"$tmp/$name.svc.err" &
	svc_pid=$!
	started+=("$svc_pid")
	wait_until 30 eval "grep -q 'Tracing started' '$tmp/$name.svc.err' || ! kill -0 $svc_pid" &&
		grep -q 'Tracing started' "$tmp/$name.svc.err" || die "lmtrace ($name) did not start"
	sleep 0.3	# its first readings of the VMs' logging are done
}
svc_stop() {
	kill -INT "$svc_pid" 2>/dev/null
	wait_gone "$svc_pid" 10 || kill -KILL "$svc_pid" 2>/dev/null
	wait "$svc_pid" 2>/dev/null
}

# cost FILE-PREFIX: one syscall_cost run appended to PREFIX.getppid / .ioctl.
cost() {
	local out
	out=$("$SYSCALL_COST" 21 50000) || die "syscall_cost failed"
	printf '%s\n' "$out" | awk '$1 == "getppid_ns" { print $2 }' >>"$1.getppid"
	printf '%s\n' "$out" | awk '$1 == "ioctl_ns" { print $2 }' >>"$1.ioctl"
}

# cost_lines LABEL BASE WITH KEY: a ratio line per call, medians of the pairs.
cost_lines() {
	local call bmin bmed bmax wmin wmed wmax
	for call in getppid ioctl; do
		read -r _ bmin bmed _ bmax < <(list_stats <"$2.$call")
		read -r _ wmin wmed _ wmax < <(list_stats <"$3.$call")
		ratio_line "$1: $call() ns" "$bmed" "$wmed" "[$bmin-$bmax] / [$wmin-$wmax]"
		res "host.$4.$call.base_ns" "$bmed"
		res "host.$4.$call.lm_ns" "$wmed"
	done
}

bench_host() {
	local pairs=$1 i side idle_s ticks0 ticks1 hz
	say ""
	say "5. What other processes pay per system call (median ns of 21 batches of 50000 calls;"
	say "   $pairs alternating pairs, median of the pairs [min-max]); lmtrace follows every VMM (no -p)"
	gt_start host-idle --mode manual --rounds 10 --round-gap-ms 100
	for i in $(seq "$pairs"); do
		cost "$tmp/idle-base"
		svc_start "idle-$i"
		cost "$tmp/idle-lm"
		svc_stop
		svc_start "idle-always-$i" --hooks always
		cost "$tmp/idle-always"
		svc_stop
	done
	kill -USR1 "$vm_pid"
	gt_finish host-idle
	cost_lines "(a) no migration, hooks on demand" "$tmp/idle-base" "$tmp/idle-lm" idle
	cost_lines "(a) no migration, --hooks always" "$tmp/idle-base" "$tmp/idle-always" idle_always
	for i in $(seq "$pairs"); do
		for side in base lm; do
			gt_start "host-mig-$side-$i" --mode manual --rounds "$(repeat_list 40 100)" \
				--round-gap-ms 100 --linger-ms 0
			[ "$side" = lm ] && svc_start "mig-$i"
			kill -USR1 "$vm_pid"
			sleep 0.5	# logging on, first syncs; the hooks attach
			cost "$tmp/mig-$side"
			gt_finish "host-mig-$side-$i"
			[ "$side" = lm ] && svc_stop
		done
	done
	cost_lines "(b) dirty logging on, syncs every 100 ms" "$tmp/mig-base" "$tmp/mig-lm" migrating
	note "(b) runs kvm_gt's logging and syncs on both sides; with lmtrace its ioctl hooks are attached"
	# lmtrace's own CPU while it follows an idle VM: readings every 100 ms, a tick a second
	idle_s=10
	[ "$quick" = 1 ] && idle_s=3
	gt_start host-cpu --mode manual --rounds 10 --round-gap-ms 100
	svc_start cpu
	hz=$(getconf CLK_TCK)
	ticks0=$(awk '{ print $14 + $15 }' "/proc/$svc_pid/stat")
	sleep "$idle_s"
	ticks1=$(awk '{ print $14 + $15 }' "/proc/$svc_pid/stat")
	svc_stop
	kill -USR1 "$vm_pid"
	gt_finish host-cpu
	res host.idle_cpu_pct "$(calc "100 * ($ticks1 - $ticks0) / $hz / $idle_s" %.2f)"
	say "  lmtrace following an idle VM: $(r host.idle_cpu_pct) % of one CPU over $idle_s s" \
	    "($(calc "($ticks1 - $ticks0) / $hz" %.2f) s of CPU)"
}

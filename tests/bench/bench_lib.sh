# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Sourced by tests/bench/bench.sh: starting and stopping what the bench runs
# (kvm_gt, lmtrace, lm_bpfstats, lmlab, all by pid), reading their JSON lines
# with sed/awk, and printing "baseline / with lmtrace = ratio" lines.
# Expects OUTPUT-derived paths (GT, LMTRACE, STATS, LMLAB) and $tmp set.

started=()	# pids to stop on exit
gt_tpid= vm_pid= lm_pid= lab_tpid= src_pid=

say() { printf '%s\n' "$*"; }
note() { printf '   (%s)\n' "$*"; }
die() { echo "bench: $*" >&2; exit 1; }
now_ns() { date +%s%N; }
alive() { kill -0 "$1" 2>/dev/null; }

# wait_until SECONDS COMMAND...: polls every $poll_s (default 20 ms); 1 on
# timeout. Polls that run while something is measured run on both sides.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep "${poll_s:-0.02}"
	done
}

# wait_gone PID SECONDS: 0 once PID has exited.
wait_gone() {
	local pid=$1
	wait_until "$2" eval "! kill -0 $pid 2>/dev/null"
}

# stop PID...: TERM, then KILL after 5 s; by pid only.
stop() {
	local p
	for p in "$@"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	for p in "$@"; do
		[ -n "$p" ] && { wait_gone "$p" 5 || kill -KILL "$p" 2>/dev/null; }
	done
}

# ---- numbers ----

# calc 'awk expression' [FORMAT]: prints the value (default %.3f).
calc() { awk "BEGIN { printf \"${2:-%.3f}\", $1 }"; }

# jnum KEY: the first "KEY":number on stdin's first matching line.
jnum() { sed -n "s/.*\"$1\":\(-\{0,1\}[0-9][0-9.e+-]*\).*/\1/p" | head -n 1; }

# list_stats: reads numbers (one a line); prints "n min median mean max".
list_stats() {
	sort -g | awk '{ v[NR] = $1; s += $1 }
		END { if (!NR) { print "0 nan nan nan nan"; exit }
		      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%d %g %g %g %g\n", NR, v[1], m, s / NR, v[NR] }'
}

# prog_field SNAPSHOT NAME FIELD: one program's counter in an lm_bpfstats line.
prog_field() {
	printf '%s\n' "$1" | awk -v n="$2" -v f="$3" 'BEGIN { RS = "[{]\"id\"" }
		index($0, "\"name\":\"" n "\"") && match($0, "\"" f "\":[0-9]+") {
			s = substr($0, RSTART, RLENGTH); sub(/.*:/, "", s); print s; exit }'
}

# prog_names SNAPSHOT: the program names in an lm_bpfstats line.
prog_names() { printf '%s\n' "$1" | grep -o '"name":"[^"]*"' | sed 's/"name":"\(.*\)"/\1/'; }

# Results: "key value" lines, for --results and the smoke test.
res() { printf '%s %s\n' "$1" "$2" >>"$tmp/results"; }
r() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/results"; }

# ratio_line LABEL BASE WITH [NOTE]: "LABEL  BASE / WITH = WITH÷BASE".
ratio_line() {
	local r
	r=$(awk -v b="$2" -v w="$3" 'BEGIN { if (b + 0 > 0 && w != "") printf "%.3f", w / b; else print "n/a" }')
	printf '  %-46s %11s / %-11s = %6s%s\n' "$1" "$2" "$3" "$r" "${4:+  $4}"
}

# ---- processes ----

# gt_start NAME KVM_GT_ARGS...: kvm_gt waiting for SIGUSR1; sets gt_tpid
# (its timeout(1) wrapper) and vm_pid. Output in $tmp/NAME.gt. Its receiver
# takes any free port: lmtrace finds the connection by itself.
gt_start() {
	local name=$1
	shift
	: >"$tmp/$name.gt"
	timeout -k 5 90 "$GT" --wait-signal "$@" >"$tmp/$name.gt" 2>"$tmp/$name.gt.err" &
	gt_tpid=$!
	started+=("$gt_tpid")
	if ! wait_until 30 grep -q '^ready pid=' "$tmp/$name.gt"; then
		sed 's/^/  kvm_gt: /' "$tmp/$name.gt.err" >&2
		die "kvm_gt ($name) did not get ready"
	fi
	vm_pid=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$tmp/$name.gt")
}

# gt_finish NAME: waits for kvm_gt to exit; fails the bench if it failed.
gt_finish() {
	local rc
	wait "$gt_tpid"
	rc=$?
	[ "$rc" -eq 0 ] || { sed 's/^/  kvm_gt: /' "$tmp/$1.gt.err" >&2; die "kvm_gt ($1) exited with $rc"; }
}

# lm_start NAME VMPID: lmtrace -j on VMPID, bounded by -d, with $lm_args; sets lm_pid.
lm_start() {
	# shellcheck disable=SC2086 # lm_args are words
	"$LMTRACE" -j -d 180 ${lm_args:-} -p "$2" >"$tmp/$1.lm" 2>"$tmp/$1.lm.err" &
	lm_pid=$!
	started+=("$lm_pid")
	if ! wait_until 30 eval "grep -q Tracing '$tmp/$1.lm.err' 2>/dev/null || ! kill -0 $lm_pid 2>/dev/null" ||
	   ! grep -q Tracing "$tmp/$1.lm.err"; then
		sed 's/^/  lmtrace: /' "$tmp/$1.lm.err" >&2
		die "lmtrace ($1) did not start tracing"
	fi
}

# lm_finish NAME: after its VMM exited, lmtrace must stop by itself with a
# summary record; the bench fails if it does not.
lm_finish() {
	if ! wait_gone "$lm_pid" 10; then
		kill -INT "$lm_pid" 2>/dev/null
		wait_gone "$lm_pid" 5 || kill -KILL "$lm_pid" 2>/dev/null
		sed 's/^/  lmtrace: /' "$tmp/$1.lm.err" >&2
		die "lmtrace ($1) still running 10 s after its VMM exited (interrupted it)"
	fi
	wait "$lm_pid" 2>/dev/null
	grep -q '"type":"summary"' "$tmp/$1.lm" || die "lmtrace ($1) wrote no summary record"
}

# lm_cpu_mark after lmtrace attached, lm_cpu_note later: appends "wall_s
# cpu_s attach_cpu_s" to $tmp/lm.cpu, lmtrace's own user+sys CPU time while
# it traced (after loading its programs) and what loading them took.
lm_ticks() { awk '{ print $14 + $15 }' "/proc/$lm_pid/stat" 2>/dev/null; }
lm_cpu_mark() {
	lm_t0=$(now_ns)
	lm_ticks0=$(lm_ticks)
}
lm_cpu_note() {
	local ticks hz
	ticks=$(lm_ticks) || return 0
	hz=$(getconf CLK_TCK)
	printf '%s %s %s\n' "$(calc "($(now_ns) - $lm_t0) / 1e9")" "$(calc "($ticks - $lm_ticks0) / $hz")" \
		"$(calc "$lm_ticks0 / $hz")" >>"$tmp/lm.cpu"
}

# stats_start: lm_bpfstats holding lmtrace's programs (coprocess STATCO).
stats_start() {
	coproc STATCO { "$STATS" "$lm_pid"; }
	started+=("$STATCO_PID")
	local ready=
	read -r -t 10 ready <&"${STATCO[0]}"
	case $ready in *'"ready":true'*) ;; *) die "lm_bpfstats could not hold lmtrace's programs" ;; esac
	case $ready in *'"stats":true'*) ;; *) say "  (BPF run-time stats are off: handler costs read 0)" ;; esac
}

# snap [VMPID]: one lm_bpfstats line (programs, and VMPID's counters).
snap() {
	local line=
	printf '%s\n' "${1:-}" >&"${STATCO[1]}"
	read -r -t 10 line <&"${STATCO[0]}"
	printf '%s\n' "$line"
}

stats_stop() {
	local pid=$STATCO_PID
	exec {STATCO[1]}>&-
	wait_gone "$pid" 5 || kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# delta A B NAME FIELD: B's counter minus A's for program NAME.
delta() {
	local a b
	a=$(prog_field "$1" "$3" "$4")
	b=$(prog_field "$2" "$3" "$4")
	echo $(( ${b:-0} - ${a:-0} ))
}

# accumulate FILE A B: adds the B-A deltas of every program to FILE.
accumulate() {
	local n
	for n in $(prog_names "$3"); do
		printf '%s %s %s\n' "$n" "$(delta "$2" "$3" "$n" run_time_ns)" \
			"$(delta "$2" "$3" "$n" run_cnt)" >>"$1"
	done
}

# per_sync_ns A B C PROG SYNCS CALLS: PROG's cost per sync in the window B..C,
# where A..B (no syncs) gives the cost of the other ioctls/sends on the host
# that the program filters out; CALLS of the window's events are the VMM's own.
# Prints "ns uncertainty_ns", the latter if the others' events cost 10 % more
# or less in B..C than in A..B (it grows with the window's length).
per_sync_ns() {
	local idle_rt idle_cnt rt cnt
	idle_rt=$(delta "$1" "$2" "$4" run_time_ns)
	idle_cnt=$(delta "$1" "$2" "$4" run_cnt)
	rt=$(delta "$2" "$3" "$4" run_time_ns)
	cnt=$(delta "$2" "$3" "$4" run_cnt)
	awk -v ir="$idle_rt" -v ic="$idle_cnt" -v r="$rt" -v c="$cnt" -v s="$5" -v k="$6" 'BEGIN {
		idle = ic > 0 ? ir / ic : 0; other = c - k; if (other < 0) other = 0
		v = (r - other * idle) / s; if (v < 0) v = 0; printf "%.0f %.0f\n", v, 0.1 * other * idle / s }'
}

# lab_run NAME PORT base|lm LMLAB_ARGS...: one lmlab migration, lmtrace
# attached before `migrate` when lm. Leaves $tmp/NAME.lab (records) and, for
# lm, lm_bpfstats snapshots in $tmp/NAME.snapX: A and B (0.5 s apart, before
# `migrate`: the cost of other processes' events), C at the migration's end
# with the source's counters, D after lmtrace exited. Returns 1 if the migration itself
# failed (lmlab's own exit status), after showing why.
lab_run() {
	local name=$1 port=$2 mode=$3 d=$tmp/$1.dir rc
	shift 3
	mkdir -p "$d"
	timeout -k 5 120 "$LMLAB" "$@" --port "$port" --dir "$d" --ready "$d/ready" --go "$d/go" \
		--out "$tmp/$name.lab" 2>"$tmp/$name.lab.err" &
	lab_tpid=$!
	started+=("$lab_tpid")
	if ! wait_until 90 eval "[ -e '$d/ready' ] || ! kill -0 $lab_tpid 2>/dev/null" || [ ! -e "$d/ready" ]; then
		sed 's/^/  lmlab: /' "$tmp/$name.lab.err" >&2
		die "the lab ($name) did not get ready"
	fi
	src_pid=$(sed -n 's/^src_pid=\([0-9]*\).*/\1/p' "$d/ready")
	if [ "$mode" = lm ]; then
		lm_start "$name" "$src_pid"
		lm_cpu_mark
		stats_start
		snap >"$tmp/$name.snapA"
		sleep 0.5
		snap "$src_pid" >"$tmp/$name.snapB"
	fi
	touch "$d/go"
	# At the migration's end the source QEMU still runs (lmlab checks the
	# destination first): lmtrace's counters for it are still there. The
	# same polling runs without lmtrace, so both sides pay for it.
	poll_s=0.1 wait_until 150 eval "grep -Eq '\"status\":\"(completed|cancelled|failed)\"' \
		'$tmp/$name.lab' || ! kill -0 $lab_tpid 2>/dev/null"
	if [ "$mode" = lm ]; then
		snap "$src_pid" >"$tmp/$name.snapC"
		lm_cpu_note
	fi
	wait "$lab_tpid"
	rc=$?
	if [ "$mode" = lm ]; then
		lm_finish "$name"
		snap >"$tmp/$name.snapD"	# lmtrace is gone, its programs are held
		stats_stop
		accumulate "$tmp/progs.sum" "$(cat "$tmp/$name.snapB")" "$(cat "$tmp/$name.snapD")"
		accumulate "$tmp/progs.idle" "$(cat "$tmp/$name.snapA")" "$(cat "$tmp/$name.snapB")"
	fi
	if [ "$rc" -ne 0 ] || ! grep -q '"type":"result"' "$tmp/$name.lab"; then
		say "  (lmlab $name exited with $rc: this run is left out)"
		tail -n 8 "$tmp/$name.lab.err" | sed 's/^/     lmlab: /'
		return 1
	fi
}

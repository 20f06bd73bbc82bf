#!/usr/bin/env bash
# lmtrace as a host service, following every VMM (no -p) for as long as it runs:
#  1. turnover: 300 VMM processes (kvm_gt, each a short "migration") start and
#     exit, four at a time; each is traced and, once gone, leaves /metrics
#     and the textfile within an interval; lmtrace's RSS and open fds stay
#     flat (printed as it goes); then, with idle VMMs only, lmtrace's own CPU
#     stays under 1 % of a core;
#  2. a closed pipe (lmtrace -j | head -1) ends lmtrace within an interval,
#     exit 1, saying why;
#  3. SIGHUP ends it like SIGINT: a summary, and a recording that replays to
#     its end with no warning;
#  4. --vm follows only the VMs it names (QEMU -name, UUID, else the command
#     name: kvm_gt here).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_kvm
need promtool prometheus
need curl
tmp=$(mktemp -d /tmp/lmtrace-service.XXXXXX) || die "mktemp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
at_exit cleanup
port=47580
TOTAL=${SOAK_VMMS:-300}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
nfds() { ls "/proc/$1/fd" | wc -l; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# the pids of exited processes that still have series: /metrics, or the textfile
gone_pids() {
	local p
	{ curl -s --max-time 2 "http://127.0.0.1:$port/metrics"; cat "$tmp/lmtrace.prom"; } |
		sed -n 's/^lmtrace_migrating{pid="\([0-9]*\)".*/\1/p' | sort -u |
		while read -r p; do kill -0 "$p" 2>/dev/null || echo "$p"; done
}

# ---- 1. turnover
"$LMTRACE" --rows --listen "127.0.0.1:$port" --prom-file "$tmp/lmtrace.prom" \
	>"$tmp/svc.out" 2>"$tmp/svc.err" &
svc=$!
pids+=("$svc")
wait_for 20 grep -q 'Tracing started' "$tmp/svc.err" || { cat "$tmp/svc.err"; die "lmtrace did not start"; }
echo "lmtrace pid $svc following every VMM; $TOTAL VMMs to come and go"
started=0 rss0='' fds0='' rss='' fds='' gone_left=0
step=$((TOTAL / 3 / 4 * 4))	# three looks at lmtrace on the way, at whole batches of four
while [ "$started" -lt "$TOTAL" ]; do
	batch=()
	for _ in 1 2 3 4; do
		timeout 30 "$GT" --rounds 10,20 --round-gap-ms 400 --linger-ms 700 >/dev/null 2>&1 &
		batch+=("$!")
		started=$((started + 1))
	done
	wait "${batch[@]}" 2>/dev/null
	if [ $((started % step)) -eq 0 ]; then
		sleep 1.5	# an interval and a half: the exited ones must be gone by now
		left=$(gone_pids | grep -c . || true)
		[ "$left" -eq 0 ] || gone_left=$((gone_left + 1))
		rss=$(rss_kb "$svc") fds=$(nfds "$svc")
		echo "after $started VMMs: lmtrace RSS ${rss} KiB, ${fds} fds; exited VMs still in /metrics or the textfile: $left"
		[ -n "$rss0" ] || { rss0=$rss; fds0=$fds; }
	fi
done
traced=$(grep -c 'Tracing pid' "$tmp/svc.err")
echo "lmtrace traced $traced of the $TOTAL VMMs"
[ "$traced" -ge $((TOTAL * 95 / 100)) ] && ok "traced $traced VMMs of $TOTAL" || fail "traced only $traced VMMs of $TOTAL"
[ "$gone_left" -eq 0 ] && ok "exited VMs left /metrics and the textfile within an interval" ||
	fail "series of exited VMs stayed ($gone_left of the checks)"
[ "$rss" -le $((rss0 + 2048)) ] && ok "RSS flat: ${rss0} -> ${rss} KiB" || fail "RSS grew: ${rss0} -> ${rss} KiB"
[ "$fds" -le $((fds0 + 2)) ] && ok "fds flat: ${fds0} -> ${fds}" || fail "fds grew: ${fds0} -> ${fds}"
grep -q 'warning' "$tmp/svc.out" && fail "warnings while following VMMs: $(grep warning "$tmp/svc.out" | head -3)"

# idle VMMs only: lmtrace's own CPU
for _ in 1 2 3; do
	"$GT" --wait-signal >/dev/null 2>&1 &
	pids+=("$!")
done
sleep 3
t0=$(cpu_ticks "$svc")
sleep 10
t1=$(cpu_ticks "$svc")
hz=$(getconf CLK_TCK)
awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "lmtrace CPU with 3 idle VMMs: %.2f %% of a core\n", 100 * d / hz / 10 }'
[ $((t1 - t0)) -le $((hz / 10)) ] && ok "under 1 % of a core between migrations" ||
	fail "lmtrace used $((t1 - t0)) ticks of $((hz * 10)) in 10 s idle"
# what Prometheus would scrape, and the textfile, are valid exposition
curl -s --max-time 2 "http://127.0.0.1:$port/metrics" >"$tmp/scrape.prom"
for f in "$tmp/scrape.prom" "$tmp/lmtrace.prom"; do
	grep -q '^lmtrace_verdict{' "$f" || fail "$f: no VM in it (3 idle VMMs run)"
	promtool check metrics <"$f" >"$tmp/promtool.out" 2>&1 && ok "promtool check metrics: $(basename "$f")" ||
		fail "promtool check metrics $(basename "$f"): $(cat "$tmp/promtool.out")"
done
kill -INT "$svc"
wait_for 10 eval '! kill -0 '"$svc"' 2>/dev/null' || fail "lmtrace did not stop on SIGINT"

# ---- 2. a closed pipe
"$GT" --wait-signal >"$tmp/gt.ready" 2>/dev/null &
gt=$!
pids+=("$gt")
wait_for 20 grep -q '^ready pid=' "$tmp/gt.ready" || die "kvm_gt not ready"
start=$(date +%s.%N)
timeout 20 "$LMTRACE" -j -p "$gt" 2>"$tmp/pipe.err" | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
[ "$rc" -eq 1 ] && grep -q 'writing output failed' "$tmp/pipe.err" &&
	ok "lmtrace -j | head -1: exit 1 after ${took} s, saying: $(grep 'writing output' "$tmp/pipe.err")" ||
	fail "lmtrace -j | head -1: exit $rc after ${took} s: $(cat "$tmp/pipe.err")"
awk -v t="$took" 'BEGIN { exit !(t < 5) }' || fail "lmtrace took ${took} s to notice the closed pipe"

# ---- 3. SIGHUP
"$LMTRACE" -j -p "$gt" -w "$tmp/hup.lmrec" >"$tmp/hup.json" 2>"$tmp/hup.err" &
lm=$!
wait_for 20 grep -q 'Tracing started' "$tmp/hup.err"
sleep 1.5
kill -HUP "$lm"
wait "$lm"
rc=$?
[ "$rc" -eq 0 ] && ok "SIGHUP: exit 0" || fail "SIGHUP: exit $rc"
grep -q '"type":"summary"' "$tmp/hup.json" && ok "SIGHUP: a summary" || fail "SIGHUP: no summary"
"$LMTRACE" replay "$tmp/hup.lmrec" -j >"$tmp/hup.replay" 2>"$tmp/hup.replay.err"
rc=$?
[ "$rc" -eq 0 ] && ! grep -qi 'cut short\|warning' "$tmp/hup.replay" "$tmp/hup.replay.err" &&
	ok "SIGHUP: the recording replays to its end" ||
	fail "SIGHUP: replay exit $rc: $(cat "$tmp/hup.replay.err") $(grep -i warning "$tmp/hup.replay")"

# ---- 4. --vm
for pattern in 'no-such-vm' 'kvm_g*'; do
	"$LMTRACE" --rows -d 2.5 --vm "$pattern" >/dev/null 2>"$tmp/vm.err"
	grep -q "Tracing pid $gt " "$tmp/vm.err" && seen=1 || seen=0
	case $pattern in
	no-such-vm) [ "$seen" -eq 0 ] && ok "--vm $pattern: kvm_gt not followed" || fail "--vm $pattern followed kvm_gt" ;;
	*) [ "$seen" -eq 1 ] && ok "--vm $pattern: kvm_gt followed" || fail "--vm $pattern did not follow kvm_gt: $(cat "$tmp/vm.err")" ;;
	esac
done
kill -USR1 "$gt" 2>/dev/null

finish "service mode as expected"

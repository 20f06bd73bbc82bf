#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The lab guest on its own: it boots from QEMU's multiboot loader, fills its
# working set, reports what it writes (never more than asked: its pacing
# only lets it fall behind), stays idle at rate=0, and refuses a working set
# that does not fit in its RAM.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements no-lmtrace
work=$(mktemp -d /tmp/lmlab-guest.XXXXXX)
qemu_pid=
cleanup() {
	if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null; fi
	rm -rf "$work"
}
at_exit cleanup

# qboot boots in ~0.3 s where SeaBIOS takes 4-11 s here (as lmlab does).
bios=()
[ -r /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)

# run_guest MEM_MIB APPEND REPORTS: until REPORTS progress lines or an error (60 s at most)
run_guest() {
	: >"$work/serial"
	timeout 60 qemu-system-x86_64 -enable-kvm -m "$1" -display none -monitor none -nic none \
		"${bios[@]}" -serial "file:$work/serial" -kernel "$GUEST" -append "$2" 2>"$work/qemu.err" &
	qemu_pid=$!
	local _ start
	start=$(date +%s.%N)
	for _ in $(seq 600); do
		[ "$(grep -c 't_ms=' "$work/serial")" -ge "$3" ] && break
		grep -q 'lm-guest: error' "$work/serial" && break
		kill -0 "$qemu_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null; qemu_pid=
	echo "guest '$2' in $1 MiB: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
	sed 's/^/  | /' "$work/serial"
}

serial_has() { grep -qE "$1" "$work/serial" || fail "no line matching '$1'"; }

run_guest 64 "wss=32 rate=16 pattern=seq" 4
serial_has '^lm-guest: config wss_mib=32 wss_pages=8192 rate_pages_s=4096 pattern=seq pace=hlt mem_mib=6[34] tsc_khz=[1-9][0-9]* clock=(kvmclock|pit)$'
serial_has '^lm-guest: filled 8192 pages in [0-9]+ ms$'
# Progress: pages_written grows, and never runs ahead of rate x time.
awk -F'[ =]' '/t_ms=/ { t = $3; p = $5
	if (n++ && p <= last) { print "FAIL: pages_written did not grow"; bad = 1 }
	if (n == 1) { t0 = t; p0 = p } last = p }
	END { if (n < 3) { print "FAIL: fewer than 3 reports"; exit 1 }
	      rate = (last - p0) * 1000 / (t - t0)
	      printf "achieved %.0f pages/s of 4096 requested (ratio %.3f)\n", rate, rate / 4096
	      if (rate > 4096 * 1.02) { print "FAIL: the guest wrote faster than asked"; bad = 1 }
	      if (rate <= 0) { print "FAIL: the guest wrote nothing"; bad = 1 }
	      exit bad }' "$work/serial" || fail "the guest's progress reports (see above)"

run_guest 64 "wss=16 rate=0" 2
serial_has 'rate_pages_s=0 pattern=seq pace=hlt'
# no reports would pass the next check too
[ "$(grep -c 't_ms=' "$work/serial")" -ge 2 ] || fail "the idle guest reported fewer than 2 times"
grep 't_ms=' "$work/serial" | grep -qv 'pages_written=0 ' && fail "an idle guest wrote pages"

run_guest 64 "wss=100 rate=1" 1
serial_has '^lm-guest: error: wss=100 MiB does not fit'

finish "guest checks passed"

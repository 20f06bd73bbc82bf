#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# timeout: 300
# lmtrace's libvirt client (user/trace/libvirt.c, run by tests/lab/lm_libvirt_probe)
# against a real libvirt (tests/lab/libvirt_lab.sh: libvirtd without systemd, a
# domain booting the lab's guest under TCG, a second libvirtd as a migration
# destination on this machine). Every number the client reads is checked
# against a reference that does not come from it: virsh (migrate-getmaxdowntime,
# migrate-getspeed, dominfo, domuuid, domjobinfo) and the domain's pid file and
# the QEMU's own command line; what it sets is read back with virsh. Errors (no
# such domain, no libvirt at the URI, a domain that does not run, an action no
# migration allows, a pid that is no domain's) are one line, exit 1, nothing
# changed; a name with control characters comes back sanitised, libvirt's
# message quoting it too. Then a real libvirt migration, capped by the client's own speed
# setting: its job stats while it runs (the iteration counts up, the remaining
# memory shrinks within a pass, a dirty rate), cross-checked with domjobinfo,
# and the client's abort cancels it: the domain still runs on the source only.
# A second migration, post-copy allowed: the client sets its downtime limit
# (virsh reads it back) and switches it to post-copy; it completes on the
# destination.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
need virsh libvirt-clients
need libvirtd libvirt-daemon-system
need qemu-system-x86_64 qemu-system-x86
PROBE=$OUTPUT/lab/lm_libvirt_probe
pkg-config --exists libvirt || skip "no libvirt-dev (apt-get install libvirt-dev; tests/install-deps.sh installs it): the libvirt client is not built"
[ -x "$PROBE" ] || die "$PROBE missing (make lab)"
[ -r "$OUTPUT/guest/guest.elf" ] || die "$OUTPUT/guest/guest.elf missing (make guest)"

tmp=$(mktemp -d /tmp/lmtrace-libvirt.XXXXXX) || die "mktemp"
mig=
at_exit 'rm -rf "$tmp"'
at_exit 'tests/lab/libvirt_lab.sh stop "$tmp/lab"'
at_exit '[ -n "$mig" ] && kill "$mig" 2>/dev/null'
# shellcheck disable=SC2034 # read by expect (lib.sh)
expect_timeout=30
# The guest dirties 32 MiB/s over 48 MiB (TCG writes it at ~8 MiB/s here): at
# an 8 MiB/s cap the migration cannot converge, so it is still running when aborted.
timeout -k 5 150 tests/lab/libvirt_lab.sh start "$tmp/lab" --type qemu --mem 128 \
	--cmdline 'wss=48 rate=32' >"$tmp/lab.log" 2>&1 ||
	{ sed 's/^/    /' "$tmp/lab.log"; die "the libvirt lab did not start"; }
# shellcheck source=/dev/null # DOMAIN SRC_URI DST_URI MIGRATE_URI QEMU_PID
. "$tmp/lab/lab.env"
ok "lab up: $(tail -n 1 "$tmp/lab.log" | sed 's/^libvirt_lab: up: //')"

vsh() { timeout 20 virsh -q -c "$SRC_URI" "$@"; }
# probe ARGS...: the client's key=value lines in $tmp/kv (exit 0 wanted)
probe() { timeout -k 2 30 "$PROBE" "$@" >"$tmp/kv" 2>"$tmp/perr" || { fail "probe $*: $(cat "$tmp/perr")"; return 1; }; }
kv() { sed -n "s/^$1=//p" "$tmp/kv"; }
same() { # WHAT GOT WANT (the client's reading and its reference, or the reverse)
	if [ -n "$2" ] && [ "$2" = "$3" ]; then ok "$1: $2"; else fail "$1: got '$2', want '$3'"; fi
}

# --- what the client reads, against virsh, the pid file and /proc
probe -n "$DOMAIN" read
same "name" "$(kv name)" "$DOMAIN"
same "UUID (virsh domuuid)" "$(kv uuid)" "$(vsh domuuid "$DOMAIN")"
uuid=$(kv uuid)
same "downtime limit, ms (virsh migrate-getmaxdowntime)" "$(kv downtime_limit_ms)" "$(vsh migrate-getmaxdowntime "$DOMAIN")"
speed=$(vsh migrate-getspeed "$DOMAIN")
# libvirt's "no cap" is INT64_MAX bytes/s in MiB/s; the estimator's is 0
[ "$speed" = 8796093022207 ] && want=0 || want=$((speed * 1048576))
same "bandwidth cap, bytes/s (virsh migrate-getspeed: $speed MiB/s)" "$(kv max_bandwidth_bytes_per_s)" "$want"
same "RAM, bytes (virsh dominfo: Max memory KiB x 1024)" "$(kv ram_bytes)" \
	"$(($(vsh dominfo "$DOMAIN" | sed -n 's/^Max memory: *\([0-9]*\) KiB/\1/p') * 1024))"
same "no job (virsh domjobinfo: $(vsh domjobinfo "$DOMAIN" | sed -n 's/^Job type: *\([^ ]*\).*/\1/p'))" "$(kv job_type)" none
same "QEMU status with no migration: none (LM_QEMU_NONE)" "$(kv qemu_status)" 1
same "throttle with no migration" "$(kv throttle_pct)" 0

pidfile=$(cat "/run/libvirt/qemu/$DOMAIN.pid")
probe -n "$DOMAIN" pid
same "QEMU pid by name (the pid file)" "$(kv pid)" "$pidfile"
if tr '\0' '\n' <"/proc/$pidfile/cmdline" | grep -qixF -- "$uuid"; then
	ok "pid $pidfile is a QEMU with -uuid $uuid"
else
	fail "pid $pidfile's command line has no -uuid $uuid"
fi
same "QEMU pid, the only process with -uuid $uuid (pgrep)" "$(pgrep -f -- "-uuid $uuid" | tr '\n' ' ' | sed 's/ $//')" "$pidfile"
probe -p "$pidfile" read
same "domain by QEMU pid" "$(kv name)" "$DOMAIN"
probe -u "${uuid^^}" pid
same "QEMU pid by UUID (upper case)" "$(kv pid)" "$pidfile"

# --- set through the client, read back with virsh (and by the client)
probe -n "$DOMAIN" set-downtime 1234
same "downtime limit set to 1234 ms, virsh reads" "$(vsh migrate-getmaxdowntime "$DOMAIN")" 1234
probe -n "$DOMAIN" read
same "downtime limit read back" "$(kv downtime_limit_ms)" 1234
probe -n "$DOMAIN" set-speed $((50 * 1048576 + 4096))
same "speed set to 50 MiB/s + 4 KiB (rounded down to MiB/s)" "$(kv max_bandwidth_bytes_per_s)" $((50 * 1048576))
same "speed, virsh migrate-getspeed (MiB/s)" "$(vsh migrate-getspeed "$DOMAIN")" 50
probe -n "$DOMAIN" read
same "speed read back, bytes/s" "$(kv max_bandwidth_bytes_per_s)" $((50 * 1048576))

# --- errors: one line, exit 1, nothing changed
before() { echo "$(vsh migrate-getmaxdowntime "$DOMAIN") $(vsh migrate-getspeed "$DOMAIN") $(vsh domstate "$DOMAIN") $(vsh domjobinfo "$DOMAIN" | head -n 1)"; }
unchanged() {
	local now
	now=$(before)
	if [ "$now" = "$state" ]; then ok "$1: nothing changed ($now)"; else fail "$1: was '$state', now '$now'"; fi
}
# expect, and stderr is that one line
expect1() {
	expect "$@"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$1: $(wc -l <"$tmp/err") lines on stderr, want one"
}
state=$(before)
expect1 "no such domain" 1 "^error: no domain nosuch-lmtrace on qemu:///system: .*virsh list --all" -- \
	"$PROBE" -n nosuch-lmtrace read
expect1 "no such UUID" 1 "^error: no domain with UUID 00000000-0000-0000-0000-000000000001" -- \
	"$PROBE" -u 00000000-0000-0000-0000-000000000001 set-downtime 5
expect1 "no libvirt at the URI" 1 "^error: cannot connect to qemu\+unix:///system\?socket=$tmp/none.sock: .*libvirtd not running\? start it" -- \
	"$PROBE" -c "qemu+unix:///system?socket=$tmp/none.sock" -n "$DOMAIN" set-downtime 5
expect1 "a pid that is no domain's QEMU" 1 "^error: no running domain of qemu:///system has QEMU pid $$" -- \
	"$PROBE" -p $$ set-downtime 5
expect1 "a speed below libvirt's unit" 1 "^error: a migration speed of 1000 bytes/s .*libvirt takes 1 MiB/s" -- \
	"$PROBE" -n "$DOMAIN" set-speed 1000
expect1 "post-copy with no migration" 1 "^error: cannot switch domain $DOMAIN's migration to post-copy: .*outgoing migration" -- \
	"$PROBE" -n "$DOMAIN" postcopy
expect1 "abort with no job" 1 "^error: cannot abort the job of domain $DOMAIN: .*no job" -- \
	"$PROBE" -n "$DOMAIN" abort
expect1 "the destination's QEMU pid (a remote URI)" 1 "^error: no domain $DOMAIN on qemu\+tcp://.*virsh list --all" -- \
	"$PROBE" -c "$DST_URI" -n "$DOMAIN" pid
# libvirt echoes a name back in its message: neither copy reaches the terminal raw
expect1 "a name with control characters" 1 "^error: no domain lm\?\[31mred\?x on .*matching name 'lm\?\[31mred\?x'" -- \
	"$PROBE" -n "$(printf 'lm\033[31mred\001x')" read
if LC_ALL=C grep -q '[[:cntrl:]]' "$tmp/err"; then fail "a control character on stderr: $(cat -A "$tmp/err")"
else ok "no control character on stderr"; fi
unchanged "after the errors"
# a domain that is defined but not running
sed -e "s|<name>$DOMAIN</name>|<name>$DOMAIN-off</name>|" -e '/<uuid>/d' "$tmp/lab/domain.xml" >"$tmp/off.xml"
vsh define "$tmp/off.xml" >/dev/null || fail "cannot define $DOMAIN-off"
at_exit 'timeout 20 virsh -q -c qemu:///system undefine "$DOMAIN-off" >/dev/null 2>&1'
for c in read pid "set-downtime 500" "set-speed 1048576" postcopy abort; do
	# shellcheck disable=SC2086 # c is a command and its value
	expect1 "a domain that does not run: $c" 1 "^error: domain $DOMAIN-off is not running \(virsh start $DOMAIN-off\)" -- \
		"$PROBE" -n "$DOMAIN-off" $c
done
same "$DOMAIN-off still shut off" "$(vsh domstate "$DOMAIN-off")" "shut off"

# --- a real migration, capped by the client's setting; its job read while it runs
probe -n "$DOMAIN" set-downtime 300
probe -n "$DOMAIN" set-speed $((8 * 1048576))
same "cap for the migration, virsh migrate-getspeed" "$(vsh migrate-getspeed "$DOMAIN")" 8
timeout -k 5 90 virsh -q -c "$SRC_URI" migrate --live "$DOMAIN" "$DST_URI" --migrateuri "$MIGRATE_URI" \
	>"$tmp/migrate.out" 2>&1 &
mig=$!
t0=$SECONDS
: >"$tmp/polls"
crossed=
# every 0.5 s, up to 40 s, until the third iteration: t status iteration remaining dirty_rate processed
while [ $((SECONDS - t0)) -lt 40 ] && kill -0 "$mig" 2>/dev/null; do
	timeout 20 "$PROBE" -n "$DOMAIN" read >"$tmp/kv" 2>"$tmp/perr" || { fail "read during the migration: $(cat "$tmp/perr")"; break; }
	echo "$((SECONDS - t0)) $(kv qemu_status) $(kv memory_iteration) $(kv memory_remaining) $(kv memory_dirty_rate) $(kv memory_processed) $(kv outgoing_migration) $(kv page_size)" >>"$tmp/polls"
	if [ -z "$crossed" ] && [ "$(kv memory_iteration)" -ge 1 ]; then
		# domjobinfo's numbers between two readings of the client
		a=$(kv memory_processed) total=$(kv memory_total)
		vsh domjobinfo "$DOMAIN" >"$tmp/jobinfo"
		timeout 20 "$PROBE" -n "$DOMAIN" read >"$tmp/kv" 2>/dev/null
		b=$(kv memory_processed)
		crossed="$a $b $total"
	fi
	[ "$(kv memory_iteration)" -ge 3 ] && break
	sleep 0.5
done
sed 's/^/    poll: /' "$tmp/polls"
mib() { sed -n "s/^$1: *\([0-9.]*\) MiB/\1/p" "$tmp/jobinfo" | awk '{ printf "%d", $1 * 1048576 }'; }
if [ -n "$crossed" ]; then
	read -r a b total <<<"$crossed"
	v=$(mib "Memory processed") vt=$(mib "Memory total")
	# domjobinfo prints MiB to 3 decimals: +-1 KiB
	if [ "$v" -ge $((a - 1024)) ] && [ "$v" -le $((b + 1024)) ]; then
		ok "memory processed: virsh domjobinfo's $v B between the client's $a and $b"
	else
		fail "memory processed: virsh domjobinfo's $v B not between the client's $a and $b"
	fi
	d=$((vt - total))
	if [ "${d#-}" -le 1024 ]; then ok "memory total: client $total B, virsh $vt B"; else fail "memory total: client $total B, virsh $vt B"; fi
	same "the job is an outgoing migration (virsh: $(sed -n 's/^Operation: *//p' "$tmp/jobinfo"))" \
		"$(sed -n 's/^Operation: *//p' "$tmp/jobinfo")" "Outgoing migration"
else
	fail "no reading of the job in its first iteration"
fi
awk '
	{ n++; if ($7 == 1 && $2 == 3) active++; if ($3 > maxit) maxit = $3; if (NR > 1 && $3 < last_it) back = 1
	  if ($3 == last_it && $4 < last_rem && $3 >= 1) shrink++
	  if ($5 > 0) dirty = $5; if ($8 != 4096) page = $8; last_it = $3; last_rem = $4 }
	END { printf "%d %d %d %d %d %d %d\n", n, active, maxit, back, shrink, dirty, page }' "$tmp/polls" >"$tmp/sum"
read -r n active maxit back shrink dirty page <"$tmp/sum"
check "$active of $n readings: an outgoing migration, QEMU status active (3 or more wanted)" [ "$active" -ge 3 ]
check "the iteration counts up to $maxit (3 wanted), back: $back (0 wanted)" [ "$maxit" -ge 3 -a "$back" = 0 ]
check "the remaining memory shrank $shrink times within an iteration (3 wanted)" [ "$shrink" -ge 3 ]
check "dirty rate $dirty pages/s ($((dirty * 4096 / 1024)) KiB/s) once pages were resent (above 0 wanted)" [ "$dirty" -gt 0 ]
if [ "$page" = 0 ]; then ok "page size 4096 in every reading"; else fail "a reading with page size $page"; fi

# --- the client aborts it: the domain runs on the source only
probe -n "$DOMAIN" abort
if wait_for 20 eval '! kill -0 "$mig" 2>/dev/null'; then
	wait "$mig"
	rc=$? mig=
	if [ "$rc" -ne 0 ] && grep -qi 'cancel\|abort' "$tmp/migrate.out"; then
		ok "virsh migrate ended $((SECONDS - t0)) s in: exit $rc, $(head -n 1 "$tmp/migrate.out")"
	else
		fail "virsh migrate after the abort: exit $rc, $(head -n 2 "$tmp/migrate.out")"
	fi
else
	fail "virsh migrate still running 20 s after the abort"
fi
same "no job after the abort (virsh domjobinfo)" "$(vsh domjobinfo "$DOMAIN" | sed -n 's/^Job type: *\([^ ]*\).*/\1/p')" None
same "the domain still runs on the source" "$(vsh domstate "$DOMAIN")" running
same "no domain on the destination" "$(timeout 20 virsh -q -c "$DST_URI" list --all --name | grep -c .)" 0
probe -n "$DOMAIN" read
same "the client reads no migration after it" "$(kv qemu_status) $(kv job_type)" "1 none"

# --- a second migration, post-copy allowed: the client sets its downtime limit while it
# runs, then switches it to post-copy (capped at 8 MiB/s too, so the switch is seen)
timeout -k 5 90 virsh -q -c "$SRC_URI" migrate --live --postcopy --postcopy-bandwidth 8 "$DOMAIN" \
	"$DST_URI" --migrateuri "$MIGRATE_URI" >"$tmp/migrate.out" 2>&1 &
mig=$!
t0=$SECONDS
iteration() { timeout 20 "$PROBE" -n "$DOMAIN" read >"$tmp/kv" 2>/dev/null && [ "$(kv memory_iteration)" -ge 1 ]; }
wait_for 20 iteration || fail "the second migration did not start its first pass in 20 s"
probe -n "$DOMAIN" set-downtime 444
same "downtime limit set during the migration, virsh reads" "$(vsh migrate-getmaxdowntime "$DOMAIN")" 444
probe -n "$DOMAIN" postcopy
postcopy() { timeout 20 "$PROBE" -n "$DOMAIN" read >"$tmp/kv" 2>/dev/null && [ "$(kv qemu_status)" = 4 ]; }
if wait_for 5 postcopy; then
	ok "the client reads QEMU status postcopy (4) after its switch (domain state $(kv state), reason $(kv reason): paused, post-copy)"
else
	fail "no reading of status postcopy within 5 s of the switch: $(tr '\n' ' ' <"$tmp/kv")"
fi
if wait_for 40 eval '! kill -0 "$mig" 2>/dev/null'; then
	wait "$mig"
	rc=$? mig=
	if [ "$rc" -eq 0 ]; then
		ok "the post-copy migration completed $((SECONDS - t0)) s after it began"
	else
		fail "the post-copy migration: exit $rc, $(head -n 2 "$tmp/migrate.out")"
	fi
else
	fail "the post-copy migration still running 40 s after it began"
fi
same "the domain runs on the destination" "$(timeout 20 virsh -q -c "$DST_URI" domstate "$DOMAIN")" running
same "the source's domain is shut off" "$(vsh domstate "$DOMAIN")" "shut off"
expect1 "the client on the source's shut-off domain" 1 "^error: domain $DOMAIN is not running" -- \
	"$PROBE" -n "$DOMAIN" read
finish "the libvirt client reads, sets and acts as virsh says"

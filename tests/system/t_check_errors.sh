#!/usr/bin/env bash
# lmtrace check on bad input: one clear line on stderr and the right exit
# code, never a hang: usage errors (2), a QMP socket that is not there, one
# served by another process than -p's, and a QEMU that answers QMP but runs
# no KVM VM (1).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
need qemu-system-x86_64 qemu-system-x86
[ -x "$LMTRACE" ] || die "$LMTRACE missing (run make)"

tmp=$(mktemp -d /tmp/lmtrace-check-errors.XXXXXX) || die "mktemp"
qemu_pid=
at_exit '[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null; rm -rf "$tmp"'
expect_timeout=30	# a check may wait on QEMU

expect "no VM" 2 "which VM" -- "$LMTRACE" check
expect "-p alone" 2 "go together" -- "$LMTRACE" check -p 1
expect "bad pair" 2 "PID=SOCKET" -- "$LMTRACE" check 12ab
expect "bad pid" 2 "invalid pid" -- "$LMTRACE" check x=/tmp/s
expect "bad bandwidth" 2 "invalid bandwidth" -- "$LMTRACE" check -p 1 --qmp /tmp/s --bandwidth 1e300G
expect "bad limit" 2 "invalid downtime limit" -- "$LMTRACE" check -p 1 --qmp /tmp/s --downtime-limit 0
expect "bad probe" 2 "invalid --max-probe" -- "$LMTRACE" check -p 1 --qmp /tmp/s --max-probe 0.5
expect "no socket" 1 "cannot open QMP socket $tmp/none" -- "$LMTRACE" check -p 1 --qmp "$tmp/none"

# QEMU with no accelerator VM: QMP answers, but there is no KVM VM to measure.
qemu-system-x86_64 -M none -accel tcg -display none -nodefaults -qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
	>"$tmp/qemu.log" 2>&1 &
qemu_pid=$!
wait_for 5 test -S "$tmp/qmp.sock" || fail "QEMU made no QMP socket in 5 s: $(cat "$tmp/qemu.log")"
# Another process's socket: the check would log one VM's pages and count another's.
expect "socket of another process" 1 "served by pid $qemu_pid, not by pid $$" -- \
	"$LMTRACE" check -p $$ --qmp "$tmp/qmp.sock"
expect "not a VMM" 1 "not a VMM|tracer stopped" -- "$LMTRACE" check -p "$qemu_pid" --qmp "$tmp/qmp.sock"
finish "every bad input was refused clearly"

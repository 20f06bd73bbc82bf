#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lmlab's variants, QEMU alone (no lmtrace): each migrates and QEMU's own
# records show the variant at work. unix and multifd transports, xbzrle on
# a small hot working set (which makes it converge), a switch to postcopy,
# calc-dirty-rate before migrating, a VNC client that QEMU sends a screen to.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements no-lmtrace
work=$(mktemp -d /tmp/lmlab-variants.XXXXXX)
lab_pid=
cleanup() {
	if [ -n "$lab_pid" ]; then kill "$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null; fi
	rm -rf "$work"
}
at_exit cleanup

# variant NAME PORT lmlab-options...: one migration into $work/NAME.jsonl; it must complete.
variant() {
	local name=$1 port=$2
	shift 2
	timeout 120 "$LMLAB" "$@" --port "$port" --out "$work/$name.jsonl" 2>"$work/$name.err" &
	lab_pid=$!
	wait "$lab_pid" || { lab_pid=; sed 's/^/  | /' "$work/$name.err"; die "$name: lmlab failed"; }
	lab_pid=
	result=$(grep '"type":"result"' "$work/$name.jsonl")
	echo "$name: $result"
	case $result in *'"status":"completed"'*'"dest_running":true'*) ;;
	*) sed 's/^/  | /' "$work/$name.err"; fail "$name: did not complete with the guest running on the destination" ;;
	esac
}

# num FILE PATTERN KEY: the number after "KEY": on the last line matching PATTERN.
num() {
	grep -- "$2" "$1" | tail -n 1 | grep -o "\"$3\":[0-9.]*" | head -n 1 | cut -d: -f2
}

variant unix 47400 -s zero --transport unix
grep -q '"uri":"unix:' "$work/unix.jsonl" || fail "unix: not migrated over a UNIX socket"

variant multifd 47410 -s zero --transport multifd --multifd-channels 2
[ "$(num "$work/multifd.jsonl" '"type":"poll"' multifd-bytes)" -gt 0 ] || fail "multifd: no multifd-bytes"

# 32 MiB rewritten at 64 MiB/s on a 32 MiB/s link: stuck without xbzrle, done in ~2 s with it.
variant xbzrle 47420 -s stuck --wss 32 --xbzrle --bound 20
[ "$(num "$work/xbzrle.jsonl" '"type":"poll"' pages)" -gt 0 ] || fail "xbzrle: no page was xbzrle-encoded"

variant postcopy 47430 -s stuck --postcopy-after 2
grep -q '"event":"postcopy-start"' "$work/postcopy.jsonl" || fail "postcopy: never switched"
[ "$(num "$work/postcopy.jsonl" '"type":"result"' postcopy-bytes)" -gt 0 ] || fail "postcopy: no postcopy-bytes"

variant calc 47440 -s zero --calc-dirty-rate 1
rate=$(grep '"event":"dirty-rate"' "$work/calc.jsonl")
case $rate in *'"status":"measured"'*) ;; *) fail "calc: no measured dirty rate" ;; esac
case $rate in *'"mode":"dirty-bitmap"'*) ;; *) fail "calc: not in dirty-bitmap mode" ;; esac

variant vnc 47450 -s zero --vnc-client
grep -q '"event":"vnc-connect".*"width":[1-9]' "$work/vnc.jsonl" || fail "vnc: no handshake"
[ "$(num "$work/vnc.jsonl" '"event":"vnc-close"' updates)" -ge 1 ] || fail "vnc: no framebuffer update received"
finish "PASS"

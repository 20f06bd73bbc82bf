#!/usr/bin/env bash
# Which hooks lmtrace attaches, and that a missing optional one never fails
# it: on this kernel fentry and kprobes are refused, so the bitmap source must
# be chosen and said; the dirty-ring counter (tp_btf or tracepoint) must load
# and attach even though ring mode cannot run here; --no-fentry/--no-kprobe
# take the fallbacks directly.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
failures=0
check() { # NAME PATTERN FILE
	if grep -Eq -- "$2" "$3"; then echo "ok   $1"; else
		echo "FAIL $1: no /$2/ in:"; sed 's/^/    /' "$3"; failures=$((failures + 1)); fi
}
tmp=$(mktemp -d /tmp/lmtrace-sources.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

for flags in "" "--no-fentry" "--no-fentry --no-kprobe"; do
	# shellcheck disable=SC2086 # the flags are words
	timeout -k 2 30 "$LMTRACE" -j -d 1 $flags >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 0 ] || { echo "FAIL lmtrace ${flags:-(no flags)} exited $rc"; cat "$tmp/err"; failures=$((failures + 1)); }
	check "${flags:-default}: says its dirty-page source" "dirty pages: KVM_GET_DIRTY_LOG bitmap popcount" "$tmp/err"
	check "${flags:-default}: dirty-ring counter attached" "dirty ring: kvm_dirty_ring_push" "$tmp/err"
	check "${flags:-default}: migration bytes from sock_send_length" "bytes: sock:sock_send_length" "$tmp/err"
done
# Forced sendmsg fallback: said, and per socket.
timeout -k 2 30 "$LMTRACE" -j -d 1 --no-send-tracepoint >"$tmp/out" 2>"$tmp/err" ||
	{ echo "FAIL lmtrace --no-send-tracepoint exited $?"; cat "$tmp/err"; failures=$((failures + 1)); }
check "--no-send-tracepoint: bytes from sendmsg/sendto per socket" "bytes: sendmsg\(\)/sendto\(\) per socket" "$tmp/err"
check "the end: TCP states and the fd table" "end: TCP state changes, UNIX sockets leaving" "$tmp/err"
# Here fentry is refused (EPERM) and kprobes are compiled out: the fallback is said.
if [ ! -e /sys/bus/event_source/devices/kprobe ]; then
	check "no kprobes here: no intra-round source claimed" "no fentry/kprobe here" "$tmp/err"
fi
[ "$failures" -eq 0 ] || exit 1
echo "sources as expected"

#!/usr/bin/env bash
# Which hooks lmtrace attaches, and that a missing optional one never fails
# it: on this kernel fentry and kprobes are refused, so the bitmap source must
# be chosen and said; the dirty-ring counter (tp_btf or tracepoint) must load
# and attach even though ring mode cannot run here; --no-fentry/--no-kprobe
# take the fallbacks directly; the ioctl hooks (syscall tracepoints here)
# are attached only while a VM logs, unless --hooks always.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
said() { # NAME PATTERN FILE
	if grep -Eq -- "$2" "$3"; then ok "$1"; else
		fail "$1: no /$2/ in:"; sed 's/^/    /' "$3"; fi
}
tmp=$(mktemp -d /tmp/lmtrace-sources.XXXXXX) || die "mktemp"
at_exit 'rm -rf "$tmp"'

for flags in "" "--no-fentry" "--no-fentry --no-kprobe"; do
	# shellcheck disable=SC2086 # the flags are words
	timeout -k 2 30 "$LMTRACE" -j -d 1 $flags >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 0 ] || { fail "lmtrace ${flags:-(no flags)} exited $rc"; cat "$tmp/err"; }
	said "${flags:-default}: says its dirty-page source" "dirty pages: KVM_GET_DIRTY_LOG bitmap popcount" "$tmp/err"
	said "${flags:-default}: dirty-ring counter attached" "dirty ring: kvm_dirty_ring_push" "$tmp/err"
	said "${flags:-default}: migration bytes from sock_send_length" "bytes: sock:sock_send_length" "$tmp/err"
done
# Forced sendmsg fallback: said, and per socket.
timeout -k 2 30 "$LMTRACE" -j -d 1 --no-send-tracepoint >"$tmp/out" 2>"$tmp/err" ||
	{ fail "lmtrace --no-send-tracepoint exited $?"; cat "$tmp/err"; }
said "--no-send-tracepoint: bytes from sendmsg/sendto per socket" "bytes: sendmsg\(\)/sendto\(\) per socket" "$tmp/err"
said "the end: TCP states and the fd table" "end: TCP state changes, UNIX sockets leaving" "$tmp/err"
# Here fentry is refused (EPERM) and kprobes are compiled out: the fallback is said.
if [ ! -e /sys/bus/event_source/devices/kprobe ]; then
	said "no kprobes here: no intra-round source claimed" "no fentry/kprobe here" "$tmp/err"
fi
# The ioctl hooks: which kind the load plan took is said; here fentry and
# kprobes are refused, so syscall tracepoints, attached on demand. The
# kernel's own record (lmtrace's link fds) shows none attached with no VM
# logging, and both attached with --hooks always.
if [ ! -e /sys/bus/event_source/devices/kprobe ]; then
	said "no kprobes here: ioctl hooks are syscall tracepoints on demand" \
		"seen by syscalls:sys_enter/exit_ioctl, attached only while" "$tmp/err"
fi
ioctl_links() { # PID: its perf links on the sys_enter/exit_ioctl tracepoints
	grep -ls 'tp_name:[[:space:]]*sys_e[a-z]*_ioctl' /proc/"$1"/fdinfo/* 2>/dev/null | wc -l
}
# An idle VM of its own (kvm_gt waits for a signal): other VMMs on the
# machine may be migrating.
require_kvm "the ioctl hooks with an idle VM were not checked"
"$GT" --wait-signal --rounds 2 >"$tmp/gt" 2>"$tmp/gt.err" &
gt=$!
for _ in $(seq 100); do grep -q '^ready pid=' "$tmp/gt" && break; sleep 0.1; done
vm=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$tmp/gt")
[ -n "$vm" ] || { cat "$tmp/gt.err"; die "kvm_gt did not get ready"; }
for mode in on-demand always; do
	"$LMTRACE" -j -d 5 -p "$vm" --hooks "$mode" >"$tmp/out" 2>"$tmp/err" &
	lm=$!
	for _ in $(seq 100); do grep -q 'Tracing started' "$tmp/err" && break; sleep 0.1; done
	sleep 0.3
	n=$(ioctl_links "$lm")
	kill -INT "$lm"; wait "$lm"
	want=0
	[ "$mode" = always ] && want=2
	if [ "$n" = "$want" ]; then ok "--hooks $mode, no migration: $n ioctl tracepoint links"
	else fail "--hooks $mode, no migration: $n ioctl tracepoint links, $want expected"; fi
done
kill -USR1 "$vm"
wait "$gt"
finish "sources as expected"

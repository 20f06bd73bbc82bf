#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A dry run never writes to QMP. lmtrace's QMP socket here is a proxy that
# records every command (tests/lab/qmp_proxy.py): --act throttle without
# --apply must send nothing but qmp_capabilities and query-* commands, still
# decide and record its action (outcome dry-run), and QEMU's throttle must
# stay at 0. The proxy is not QEMU (SO_PEERCRED names it), so --apply through
# it must be refused before anything is sent. A replay decides the same.
set -u
# shellcheck source=lab/act_e2e.sh
. "$(dirname "$0")/../lab/act_e2e.sh"
lab_requirements
proxy_pid=''
ACT_ARGS="--act throttle"

eval "act_$(declare -f start_lmtrace)"
# shellcheck disable=SC2154 # src_pid and tracer_qmp come from lmlab's ready file
start_lmtrace() {
	python3 "$LM_TOP/tests/lab/qmp_proxy.py" "$work/proxy.qmp" "$tracer_qmp" "$work/qmp.log" &
	proxy_pid=$!
	wait_file "$work/proxy.qmp" 10 "$proxy_pid" || die "the QMP proxy did not start"
	tracer_qmp=$work/proxy.qmp
	"$LMTRACE" -p "$src_pid" --qmp "$tracer_qmp" --act throttle --apply -d 2 \
		>"$work/apply.out" 2>"$work/apply.err"
	rc=$?
	sed 's/^/  refused: /' "$work/apply.err" | grep -v Tracing
	[ "$rc" = 1 ] && grep -q "acts only on a VM it is sure it identified" "$work/apply.err" ||
		fail "--apply through a socket QEMU does not serve was not refused (exit $rc)"
	act_start_lmtrace
}
eval "e2e_$(declare -f lab_cleanup)"
lab_cleanup() {
	[ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
	e2e_lab_cleanup
}

lab_e2e 47316 0 -s stuck --wss 96 --rate 64 --pace spin --bound 20
actions "$work/trace.jsonl"
actions "$work/trace.jsonl" | grep -q '^throttle [0-9]* dry-run' || fail "no dry-run throttle decided"
echo "commands lmtrace sent:"
python3 - "$work/qmp.log" <<'PY' || fail "a write command went to QMP"
import collections, json, sys
seen = collections.Counter(json.loads(l).get("execute") for l in open(sys.argv[1]) if l.strip())
for cmd, n in sorted(seen.items()):
    print("  %-28s %d" % (cmd, n))
bad = [c for c in seen if not (c == "qmp_capabilities" or c.startswith("query-"))]
sys.exit(1 if bad or not seen else 0)
PY
[ "$(summary_key max_throttle_pct)" = 0 ] || fail "QEMU's throttle moved during a dry run"
replay_same || fail "the replay decided otherwise than live"
finish "ok: dry run decided, recorded, wrote nothing; --apply refused on an unidentified socket"

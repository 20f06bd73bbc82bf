#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The bytes fallback for kernels without sock:sock_send_length (5.19-6.2),
# forced with --no-send-tracepoint, on a real converging migration: lmtrace
# must still find the migration's connection by itself (no --port), count
# its bytes against QEMU's, and see it close (end completed, downtime).
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
LMTRACE_ARGS=--no-send-tracepoint lab_e2e 47300 0 -s converge
grep -q '"status":"completed"' "$work/lab.jsonl" || fail "the converge scenario did not complete"
grep -q 'sendmsg()/sendto() per socket' "$work/trace.err" || fail "lmtrace did not say it counts through sendmsg"
lab_check --bytes-tolerance 1 --expect-verdict converging --no-false-alarm || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "sendmsg fallback: as QEMU says"

#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lmtrace on the transports and features real migrations use, each a real
# QEMU migration checked by lmcheck against QEMU's own numbers (rounds ==
# dirty-sync-count, end as QEMU says, bytes within 1 % of `transferred`):
#   unix:    a UNIX socket (KubeVirt's way): no TCP state to see its end
#   multifd: a main connection plus two channels carrying the pages
#   xbzrle:  the same stream, compressed resends
# No --port: lmtrace must find the migration's stream(s) by itself.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements

run() { # NAME PORT lmlab-options...
	local name=$1 port=$2
	shift 2
	echo "=== $name"
	( lab_e2e "$port" 0 -s converge "$@"
	  grep -q '"status":"completed"' "$work/lab.jsonl" || fail "$name: QEMU did not complete"
	  lab_check --bytes-tolerance 1 --expect-verdict converging --no-false-alarm ) ||
		fail "$name"
}
run unix 47320 --transport unix
run multifd 47330 --transport multifd --multifd-channels 2
run xbzrle 47340 --xbzrle
finish "all transports as QEMU says"

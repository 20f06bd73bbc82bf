#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lmtrace's throttle recommendation applied to a migration that cannot
# converge: a CPU-bound guest (pace=spin) writing 64 MiB/s over 256 MiB on a
# 32 MiB/s link. As soon as lmtrace says not-converging with a throttle, the
# lab holds QEMU's vCPU throttle there (auto-converge applies it at its next
# trigger); the migration must then complete, and lmtrace end on converging.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements

during_migration() {
	local pct
	while :; do
		pct=$(sed -n 's/.*"verdict":"not-converging".*"throttle_pct":\([0-9][0-9.]*\).*/\1/p' \
			"$work/trace.jsonl" 2>/dev/null | head -n 1)
		if [ -n "$pct" ]; then
			echo "lmtrace recommends a ${pct} % throttle: applying it"
			echo "$pct" >"$work/throttle.tmp" && mv "$work/throttle.tmp" "$work/throttle"
			return
		fi
		sleep 0.2
	done
}

lab_e2e 47290 0 -s stuck --pace spin --bound 60 --throttle-file @WORK@/throttle
[ -e "$work/throttle" ] || fail "lmtrace never recommended a throttle for a migration that cannot converge"
grep '"event":"throttle"' "$work/lab.jsonl"
grep -q '"status":"completed"' "$work/lab.jsonl" ||
	fail "the migration did not complete within 60 s with lmtrace's $(cat "$work/throttle") % throttle"
# lmtrace's conclusion once QEMU has switched over.
lab_check --expect-verdict converging || fail "lmcheck: lmtrace's trace differs from QEMU's"
finish "lmtrace's throttle made it converge"

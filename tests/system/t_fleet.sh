#!/usr/bin/env bash
# The fleet artefacts (README "Run it as a service"): the Prometheus rules and
# their unit tests, the Grafana dashboard, the systemd unit and `make install`.
# No root, BPF or /dev/kvm: the metrics come from replaying a recording with
# the real binary. promtool (Debian's prometheus package), python3 and
# systemd-analyze (Debian's systemd package) are required:
# tests/install-deps.sh installs them; without one the test skips, which is a
# failure in CI.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

RULES=doc/prometheus/lmtrace.rules.yml
RULES_TEST=tests/prometheus/lmtrace.rules.test.yml
DASHBOARD=doc/grafana/lmtrace-dashboard.json
UNIT=doc/systemd/lmtrace.service
TRACE=tests/traces/lab-converge-4MiBps.lmrec

need promtool prometheus
need python3
need systemd-analyze systemd
[ -x "$LMTRACE" ] || die "no $LMTRACE: run make first"

tmp=$(mktemp -d /tmp/lmtrace-fleet.XXXXXX) || die "mktemp"
at_exit 'rm -rf "$tmp"'

# run NAME COMMAND...: ok with COMMAND's last line, or FAIL with its output.
run() {
	local name=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		ok "$name: $(grep -v '^\s*$' "$tmp/out" | tail -n 1)"
	else
		fail "$name (exit $?):"
		sed 's/^/    /' "$tmp/out"
	fi
}

# The metric families, from the real binary.
if "$LMTRACE" replay "$TRACE" --prom-file "$tmp/lmtrace.prom" >/dev/null 2>"$tmp/err"; then
	ok "replay wrote $(grep -c '^# TYPE ' "$tmp/lmtrace.prom") metric families"
else
	die "lmtrace replay $TRACE --prom-file: $(cat "$tmp/err")"
fi
# promtool check metrics prints its lint findings and exits 0 on some of them
if promtool check metrics <"$tmp/lmtrace.prom" >"$tmp/lint" 2>&1 && [ ! -s "$tmp/lint" ]; then
	ok "promtool check metrics: clean"
else
	fail "promtool check metrics:"
	sed 's/^/    /' "$tmp/lint"
fi

run "promtool check rules $RULES" promtool check rules "$RULES"
run "promtool test rules $RULES_TEST" promtool test rules "$RULES_TEST"
groups=$(grep -c '^  - name:' "$RULES_TEST")
evals=$(grep -c 'eval_time:' "$RULES_TEST")
alerts=$(grep -o 'alert: [A-Za-z]*' "$RULES" | sort -u | awk '{ print $2 }')
for a in $alerts; do
	grep -q "alertname: $a\$" "$RULES_TEST" || fail "alert $a has no test in $RULES_TEST"
done
ok "$groups test groups, $evals evaluations, every alert tested ($(echo "$alerts" | wc -w) alerts)"

# Names: only what the binary exports (plus up), in rules, tests and dashboard.
if python3 tests/prometheus/check_names.py "$tmp/lmtrace.prom" "$RULES" "$RULES_TEST" \
	"$DASHBOARD" "$tmp" >"$tmp/names" 2>&1; then
	ok "names: $(head -n 1 "$tmp/names")"
else
	fail "names:"
	sed 's/^/    /' "$tmp/names"
fi
# the line-by-line YAML reading must have seen every rule promtool saw
want=$(promtool check rules "$RULES" 2>&1 | sed -n 's/.*SUCCESS: \([0-9]*\) rules found.*/\1/p')
got=$(sed -n 's/^rules_exprs=//p' "$tmp/names")
if [ -z "$want" ] || [ "$want" != "$got" ]; then
	fail "check_names.py read ${got:-no} expressions, promtool ${want:-no} rules"
fi
# and it must refuse a name lmtrace does not export
sed 's/lmtrace_migrating == 1/lmtrace_no_such_metric_total == 1/' "$RULES" >"$tmp/bad.rules.yml"
mkdir -p "$tmp/bad.d"
if ! python3 tests/prometheus/check_names.py "$tmp/lmtrace.prom" "$tmp/bad.rules.yml" "$RULES_TEST" \
	"$DASHBOARD" "$tmp/bad.d" >"$tmp/bad" 2>&1 && grep -q 'FAIL:.*lmtrace_no_such_metric_total' "$tmp/bad"; then
	ok "names: an invented metric is refused"
else
	fail "names: check_names.py accepted lmtrace_no_such_metric_total"
fi

# The dashboard: JSON, panels, and queries that parse as PromQL.
if python3 -m json.tool "$DASHBOARD" >/dev/null 2>"$tmp/err"; then
	ok "dashboard: JSON with $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["panels"]))' "$DASHBOARD") panels"
else
	fail "dashboard: $(cat "$tmp/err")"
fi
if [ -f "$tmp/dashboard.rules.yml" ]; then
	run "dashboard queries parse" promtool check rules "$tmp/dashboard.rules.yml"
else
	fail "dashboard queries: check_names.py wrote none"
fi

# The unit: the hardening the README promises, and systemd's own check.
for want in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	'CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH' \
	'AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH' \
	Restart=on-failure 'ExecStart=/usr/local/sbin/lmtrace --listen 127.0.0.1:'; do
	grep -q "^$want" "$UNIT" || fail "unit: no line starting with $want"
done
promdir=$(sed -n 's/^ExecStart=.*--prom-file \([^ ]*\)\/[^/ ]*\.prom .*/\1/p' "$UNIT")
if [ -n "$promdir" ] && grep -Eq "^ReadWritePaths=-?$promdir\$" "$UNIT"; then
	ok "unit: hardening present, --prom-file's directory $promdir writable"
else
	fail "unit: --prom-file's directory ($promdir) not in ReadWritePaths"
fi
# verify wants the ExecStart binary to exist: point it at the one built
mkdir -p "$tmp/unit"
printf '[Service]\nExecStart=/bin/true\n' >"$tmp/unit/probe.service"
sed "s|/usr/local/sbin/lmtrace|$LMTRACE|" "$UNIT" >"$tmp/unit/lmtrace.service"
if ! systemd-analyze verify --man=no "$tmp/unit/probe.service" >"$tmp/out" 2>&1; then
	skip_at_end "systemd-analyze verify cannot run here ($(head -n 1 "$tmp/out")): the unit was checked by the lines above only"
elif systemd-analyze verify --man=no "$tmp/unit/lmtrace.service" >"$tmp/out" 2>&1 &&
	[ ! -s "$tmp/out" ]; then
	# verify warns about unknown keys but exits 0: silence is the pass
	exposure=$(systemd-analyze security --offline=true "$tmp/unit/lmtrace.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	ok "systemd-analyze verify: clean${exposure:+ (security exposure $exposure)}"
else
	fail "systemd-analyze verify $UNIT:"
	sed 's/^/    /' "$tmp/out"
fi

# make install puts the unit next to the binary, ExecStart following PREFIX.
if make -s install DESTDIR="$tmp/dest" PREFIX=/usr OUTPUT="$OUTPUT" >"$tmp/out" 2>&1; then
	u=$tmp/dest/usr/lib/systemd/system/lmtrace.service
	if [ -x "$tmp/dest/usr/sbin/lmtrace" ] && [ -f "$tmp/dest/usr/share/man/man8/lmtrace.8" ] &&
		grep -q '^ExecStart=/usr/sbin/lmtrace ' "$u" 2>/dev/null; then
		ok "make install PREFIX=/usr: binary, man page, $u"
	else
		fail "make install PREFIX=/usr: missing files or ExecStart not /usr/sbin/lmtrace"
		(cd "$tmp/dest" && find . -type f) | sed 's/^/    /'
	fi
else
	fail "make install:"
	sed 's/^/    /' "$tmp/out"
fi

finish "all fleet checks passed"

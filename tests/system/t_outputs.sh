#!/usr/bin/env bash
# The outputs through the real lmtrace binary, without root or BPF: a
# recording of a model migration (lm_synth) replayed with -r into JSON and
# CSV that agree, a corrupt and a truncated recording (clean error with the
# offset, no crash), the live view in a real terminal (tmux, capture-pane),
# Prometheus over HTTP probed with curl and with raw malformed requests while
# lmtrace replays from a FIFO it is still reading, --prom-file, a recording
# with hostile VM names through every format (strict parsers, promtool), and
# `lmtrace report` rendered to PNG by rsvg-convert. A missing tool (curl, tmux,
# rsvg-convert, python3, promtool) is a skip, so a failure in CI.
# Ports 47450-47499 belong to this test.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
SYNTH=$OUTPUT/tests/lm_synth

need curl
need tmux
need rsvg-convert librsvg2-bin
need python3
[ -x "$LMTRACE" ] || die "$LMTRACE missing (run make)"
[ -x "$SYNTH" ] || die "$SYNTH missing (run make test)"

tmp=$(mktemp -d /tmp/lmtrace-t-outputs.XXXXXX) || die "mktemp"
tmux_sock=lmtrace-t-outputs-$$
lm_pid=
cleanup() {
	[ -n "$lm_pid" ] && kill "$lm_pid" 2>/dev/null
	tmux -L "$tmux_sock" kill-server 2>/dev/null
	rm -rf "$tmp"
}
at_exit cleanup

rec=$tmp/both.lmrec
"$SYNTH" both "$rec" || die "lm_synth"

# --- replay: JSON and CSV, which must tell the same story
"$LMTRACE" -r "$rec" -j >"$tmp/a.json" 2>"$tmp/a.err" || fail "-r -j exited $?: $(cat "$tmp/a.err")"
"$LMTRACE" -r "$rec" -j >"$tmp/b.json" 2>/dev/null || fail "second -r -j exited $?"
if cmp -s "$tmp/a.json" "$tmp/b.json" && [ -s "$tmp/a.json" ]; then
	ok "replay is deterministic ($(wc -l <"$tmp/a.json") JSON lines)"
else
	fail "two replays of one recording differ"
fi
"$LMTRACE" -r "$rec" --csv >"$tmp/a.csv" 2>/dev/null || fail "-r --csv exited $?"
cols=$(head -1 "$tmp/a.csv" | awk -F, '{ print NF }')
bad=$(awk -F, -v n="$cols" 'NR > 1 && NF != n' "$tmp/a.csv" | wc -l)
rows=$(($(wc -l <"$tmp/a.csv") - 1))
if [ "$cols" -ge 20 ] && [ "$bad" -eq 0 ] && [ "$rows" -gt 40 ]; then
	ok "CSV: $cols columns, $rows rows, all complete"
else
	fail "CSV: $cols columns, $rows rows, $bad incomplete"
fi
# final verdict per pid, from the JSON summaries; the CSV's last line per pid agrees
verdict_of() { sed -n "s/.*\"pid\":$1,\"type\":\"summary\".*\"verdict\":\"\([a-z-]*\)\".*/\1/p" "$tmp/a.json"; }
v1=$(verdict_of 4242) v2=$(verdict_of 4343)
[ -n "$v1" ] && [ -n "$v2" ] || fail "no verdicts in the JSON summaries"
vcol=$(head -1 "$tmp/a.csv" | tr , '\n' | grep -nx verdict | cut -d: -f1)
for pv in "4242 $v1" "4343 $v2"; do
	set -- $pv
	last=$(awk -F, -v p="$1" -v c="$vcol" '$2 == p { v = $c } END { print v }' "$tmp/a.csv")
	[ "$last" = "$2" ] && ok "pid $1: CSV and JSON agree: $2" || fail "pid $1: CSV says $last, JSON $2"
done

# --- damaged recordings: a clear message naming the offset, exit 1, no crash
size=$(stat -c %s "$rec")
head -c $((size / 2)) "$rec" >"$tmp/cut.lmrec"
cp "$rec" "$tmp/flip.lmrec"
printf '\x5a' | dd of="$tmp/flip.lmrec" bs=1 seek=$((size - 30)) conv=notrunc 2>/dev/null
for f in cut flip; do
	"$LMTRACE" -r "$tmp/$f.lmrec" -j >/dev/null 2>"$tmp/$f.err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q offset "$tmp/$f.err"; then
		ok "$f recording: exit 1, $(head -1 "$tmp/$f.err")"
	else
		fail "$f recording: exit $rc, stderr: $(cat "$tmp/$f.err")"
	fi
done

# --- the live view in a real terminal
tmux -L "$tmux_sock" -f /dev/null new-session -d -x 100 -y 40 \
	"TERM=xterm-256color '$LMTRACE' -r '$rec'; echo LMTRACE-EXIT=\$?; sleep 60"
for _ in $(seq 100); do
	tmux -L "$tmux_sock" capture-pane -p >"$tmp/pane.txt" 2>/dev/null
	grep -q LMTRACE-EXIT "$tmp/pane.txt" && break
	sleep 0.1
done
headline() { case $1 in converging) echo CONVERGING ;; marginal) echo MARGINAL ;;
	not-converging) echo "NOT CONVERGING" ;; *) echo "NOT ENOUGH DATA" ;; esac; }
if grep -q "LMTRACE-EXIT=0" "$tmp/pane.txt" && grep -q "(final)" "$tmp/pane.txt" &&
   grep -q "dirty MiB/s" "$tmp/pane.txt" && grep -q "ETA s" "$tmp/pane.txt" &&
   grep -A1 "pid 4242" "$tmp/pane.txt" | grep -q "$(headline "$v1")" &&
   grep -A1 "pid 4343" "$tmp/pane.txt" | grep -q "$(headline "$v2")" &&
   grep -q "[▁▂▃▄▅▆▇█]" "$tmp/pane.txt"; then
	ok "live view in tmux: both blocks, headlines $v1 / $v2, unit headers, sparklines"
else
	fail "live view in tmux"; sed 's/^/    | /' "$tmp/pane.txt"
fi
tmux -L "$tmux_sock" kill-server 2>/dev/null

# --- Prometheus: lmtrace replays from a FIFO we keep open, so it stays up
port=
for p in $(seq 47450 47469); do
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || die "no free port in 47450-47469"
mkfifo "$tmp/fifo"
"$LMTRACE" -r "$tmp/fifo" --rows --listen "127.0.0.1:$port" --prom-file "$tmp/lmtrace.prom" \
	>"$tmp/rows.txt" 2>"$tmp/lm.err" &
lm_pid=$!
exec 4>"$tmp/fifo"
cat "$rec" >&4
url=http://127.0.0.1:$port/metrics
# replayed to the end: both migrations have ended
for _ in $(seq 100); do
	curl -sf "$url" 2>/dev/null | grep -q '^lmtrace_migrating{pid="4343",vm="vm-stuck"} 0$' && break
	sleep 0.1
done
code=$(curl -s -o "$tmp/metrics.txt" -w '%{http_code} %{content_type}' "$url")
if [ "$code" = "200 text/plain; version=0.0.4; charset=utf-8" ] &&
   grep -q "^lmtrace_verdict{pid=\"4242\",vm=\"vm-converging\",verdict=\"$v1\"} 1$" "$tmp/metrics.txt" &&
   grep -q "^lmtrace_verdict{pid=\"4343\",vm=\"vm-stuck\",verdict=\"$v2\"} 1$" "$tmp/metrics.txt" &&
   [ "$(grep -c '^lmtrace_verdict{.*} 1$' "$tmp/metrics.txt")" -eq 2 ] &&
   grep -q '^# TYPE lmtrace_rounds_total counter$' "$tmp/metrics.txt" &&
   grep -q '^lmtrace_tx_bytes_total{pid="4242",vm="vm-converging"} [0-9]' "$tmp/metrics.txt"; then
	ok "curl GET /metrics: $code, verdicts agree with the JSON"
else
	fail "GET /metrics: $code"; head -20 "$tmp/metrics.txt"
fi
bad=$(grep -v '^#' "$tmp/metrics.txt" | grep -cv '^lmtrace_[a-z_]*{pid="[0-9]*",vm="[^"]*"\(,[a-z]*="[^"]*"\)\?} [-0-9.e+]*$')
[ "$bad" -eq 0 ] && ok "every series line well formed" || fail "$bad malformed series lines"
if cmp -s "$tmp/metrics.txt" "$tmp/lmtrace.prom"; then
	ok "--prom-file holds what /metrics serves"
else
	fail "--prom-file differs from /metrics"; diff "$tmp/metrics.txt" "$tmp/lmtrace.prom" | head
fi
ls "$tmp"/lmtrace.prom.tmp* >/dev/null 2>&1 && fail "temporary prom file left behind"
check_code() { # EXPECTED DESCRIPTION CURL-ARGS...
	local want=$1 what=$2 got
	shift 2
	got=$(curl -s -o /dev/null -w '%{http_code}' "$@")
	[ "$got" = "$want" ] && ok "$what: $got" || fail "$what: $got, expected $want"
}
check_code 404 "GET /" "http://127.0.0.1:$port/"
check_code 404 "GET /metrics/extra" "$url/extra"
check_code 405 "POST /metrics" -X POST -d x=1 "$url"
check_code 405 "PUT /metrics" -X PUT "$url"
check_code 200 "HEAD /metrics" -I "$url"
curl -s -D - -o /dev/null -X DELETE "$url" | grep -qi '^Allow: GET, HEAD' && ok "405 names the allowed methods" ||
	fail "no Allow header on 405"
# raw malformed requests, each on a new connection: the status it must get, or
# "closed": no reply, the connection closed by the server (bytes that are no
# request line leave it waiting for one until its 10 s idle timeout). A
# connection still open 15 s later is a failure, whatever was expected.
raw() { # EXPECTED BYTES (printf format)
	local want=$1 req=$2 rc line t0=$SECONDS
	if ! exec 5<>"/dev/tcp/127.0.0.1/$port"; then
		fail "malformed request ${req:0:24}...: cannot connect"; return
	fi
	# The server may answer and close before a long request is all written:
	# the write then fails with EPIPE, which must not kill this script.
	# shellcheck disable=SC2059 # the request is a printf format on purpose
	( trap '' PIPE; printf "$req" >&5 ) 2>/dev/null
	timeout 15 head -c 200 <&5 >"$tmp/raw.out"
	rc=$?
	exec 5<&-
	line=$(head -n 1 "$tmp/raw.out")
	line=${line%$'\r'}
	if [ -z "$line" ] && [ "$rc" -ne 0 ]; then
		fail "malformed request ${req:0:24}...: no reply, connection still open after 15 s (expected: $want)"
	elif [ "$want" = closed ] && [ -z "$line" ]; then
		ok "malformed request ${req:0:24}...: closed without a reply after $((SECONDS - t0)) s"
	elif [ "$want" != closed ] && [ "${line#"HTTP/1.1 $want "}" != "$line" ]; then
		ok "malformed request ${req:0:24}...: $line"
	else
		fail "malformed request ${req:0:24}...: got '${line:-no reply, closed}', expected $want"
	fi
}
raw 400 'BREW /pot HTCPCP/1.0\r\n\r\n'
raw 505 'GET /metrics HTTP/7.0\r\n\r\n'
raw closed '\x00\x01\x02\xfe\xff\r\n\r\n'
raw 400 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n'
raw 414 "GET /$(head -c 70000 /dev/zero | tr '\0' a) HTTP/1.1\r\n\r\n"
check_code 200 "still serving after malformed requests" "$url"
exec 4>&-
wait "$lm_pid"
rc=$?
lm_pid=
[ "$rc" -eq 0 ] && ok "lmtrace -r from a FIFO exits 0 when the FIFO closes" || { fail "lmtrace exited $rc"; cat "$tmp/lm.err"; }
curl -s -o /dev/null "$url" && fail "the server still answers after lmtrace exited"

# --- hostile VM names (quotes, a newline, escapes, invalid UTF-8) stored raw in a
# recording: replay sanitises them, and every format stays parseable by strict parsers
"$SYNTH" hostile "$tmp/hostile.lmrec" || fail "lm_synth hostile"
"$LMTRACE" -r "$tmp/hostile.lmrec" -j >"$tmp/h.json" 2>/dev/null || fail "hostile -j exited $?"
"$LMTRACE" -r "$tmp/hostile.lmrec" --csv >"$tmp/h.csv" 2>/dev/null || fail "hostile --csv exited $?"
"$LMTRACE" -r "$tmp/hostile.lmrec" --rows --prom-file "$tmp/h.prom" >"$tmp/h.rows" 2>/dev/null ||
	fail "hostile --rows --prom-file exited $?"
"$LMTRACE" report "$tmp/hostile.lmrec" -o "$tmp/h.svg" 2>/dev/null || fail "hostile report exited $?"
if out=$(python3 - "$tmp" 2>&1 <<'PY'
import csv, io, json, re, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
def text(name):  # strict UTF-8, no control character but the line feed
    t = open(f"{d}/{name}", "rb").read().decode("utf-8")
    bad = re.findall(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", t)
    assert not bad, f"{name}: control characters {bad[:3]}"
    return t
vms = set()
for line in text("h.json").splitlines():
    r = json.loads(line)
    if "vm" in r:
        vms.add(r["vm"])
assert len(vms) == 2 and all("\n" not in v for v in vms), f"JSON names {vms}"
rows = list(csv.reader(io.StringIO(text("h.csv"), newline=""), strict=True))
assert all(len(r) == len(rows[0]) for r in rows), "CSV: ragged rows"
assert {r[2] for r in rows[1:]} == vms, f"CSV names {({r[2] for r in rows[1:]})} vs JSON {vms}"
for v in vms:
    assert v in text("h.rows"), f"rows lack {v!r}"
ET.parse(f"{d}/h.svg")
print(f"names {sorted(vms)}")
PY
); then
	ok "hostile names: JSON, CSV, rows and SVG parse strictly; $out"
else
	fail "hostile names: $out"
fi
if command -v promtool >/dev/null; then
	if out=$(promtool check metrics <"$tmp/h.prom" 2>&1); then
		ok "hostile names: promtool check metrics accepts the scrape"
	else
		fail "hostile names: promtool: $out"
	fi
else
	skip_at_end "no promtool (apt-get install prometheus): the hostile names' scrape was not checked by it"
fi

# --- report: SVG and HTML, rendered by a real SVG renderer
if "$LMTRACE" report "$rec" -o "$tmp/chart.svg" 2>"$tmp/report.err" &&
   "$LMTRACE" report "$rec" -o "$tmp/chart.html" 2>>"$tmp/report.err"; then
	ok "report wrote $(stat -c %s "$tmp/chart.svg") bytes of SVG, $(stat -c %s "$tmp/chart.html") of HTML"
else
	fail "report: $(cat "$tmp/report.err")"
fi
for el in 'class="dirty" d="M' 'class="transfer" points="' 'class="remaining" points="' \
	  'class="verdict-band"' 'class="verdict-change"' 'class="migration-end"' \
	  '<line class="predicted-switchover"' '<g id="vm-4242">' '<g id="vm-4343">'; do
	grep -qF "$el" "$tmp/chart.svg" || fail "chart lacks $el"
done
if rsvg-convert "$tmp/chart.svg" -o "$tmp/chart.png" 2>"$tmp/rsvg.err"; then
	# PNG: signature, then IHDR width and height (big-endian) at bytes 16..23
	sig=$(od -An -tx1 -N8 "$tmp/chart.png" | tr -d ' \n')
	w=$((16#$(od -An -tx1 -j16 -N4 "$tmp/chart.png" | tr -d ' \n')))
	h=$((16#$(od -An -tx1 -j20 -N4 "$tmp/chart.png" | tr -d ' \n')))
	if [ "$sig" = 89504e470d0a1a0a ] && [ "$w" -eq 960 ] && [ "$h" -gt 800 ]; then
		ok "rsvg-convert rendered the chart: ${w}x${h} PNG"
	else
		fail "rendered PNG: signature $sig, ${w}x${h}"
	fi
else
	fail "rsvg-convert: $(cat "$tmp/rsvg.err")"
fi
"$LMTRACE" report "$tmp/cut.lmrec" -o "$tmp/cut.svg" 2>"$tmp/cut-report.err"
rc=$?
[ "$rc" -eq 1 ] && grep -q offset "$tmp/cut-report.err" && ok "report of a cut recording: exit 1 with the offset" ||
	fail "report of a cut recording: exit $rc: $(cat "$tmp/cut-report.err")"

finish "all output checks passed"

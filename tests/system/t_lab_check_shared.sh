#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# timeout: 600
# lmtrace check with two VMs on one 32 MiB/s link (each guest writes 20 MiB/s
# over 128 MiB): the table says each can move alone, and that the two do
# not converge migrating at once with half the link each. QEMU confirms
# both: the two migrated concurrently, each capped at 16 MiB/s (the lab
# cannot make two migrations share one cap: a per-migration cap of half the
# link is the equal share the table assumes), are cancelled at the bound;
# one of them alone at 32 MiB/s completes.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements
need jq

GUEST_OPTS=(-s converge --mem 192 --wss 128 --rate 20 --bound 20)
labs=()
work=$(mktemp -d /tmp/lmlab-shared.XXXXXX)
cleanup() {
	local p
	for p in "${labs[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${labs[@]}"; do wait_exit "$p" 5 || kill -KILL "$p" 2>/dev/null; done
	[ -z "${KEEP:-}" ] && rm -rf "$work"
}
at_exit cleanup

# start_lab NAME PORT [lmlab options]: lmlab waiting for $work/NAME.go once ready.
start_lab() {
	local name=$1 port=$2
	shift 2
	"$LMLAB" "${GUEST_OPTS[@]}" "$@" --port "$port" --ready "$work/$name.ready" --go "$work/$name.go" \
		--out "$work/$name.jsonl" 2>"$work/$name.err" &
	labs+=($!)
}

wait_ready() {
	wait_file "$work/$1.ready" 120 "$2" || { cat "$work/$1.err"; die "lab $1 did not get ready"; }
}

result() { jq -r 'select(.type == "result") | "\(.status) \(.total_time_ms)"' "$work/$1.jsonl"; }

echo "=== two VMs, each capped at 16 MiB/s (half of a 32 MiB/s link)"
start_lab a 47500 --bandwidth 16
start_lab b 47510 --bandwidth 16
wait_ready a "${labs[0]}"
wait_ready b "${labs[1]}"
a_pid=$(sed -n 's/^src_pid=//p' "$work/a.ready"); a_qmp=$(sed -n 's/^tracer_qmp=//p' "$work/a.ready")
b_pid=$(sed -n 's/^src_pid=//p' "$work/b.ready"); b_qmp=$(sed -n 's/^tracer_qmp=//p' "$work/b.ready")

"$LMTRACE" check "$a_pid=$a_qmp" "$b_pid=$b_qmp" --bandwidth 32M --downtime-limit 300 \
	>"$work/table.txt" 2>"$work/table.err" || { cat "$work/table.err"; die "the table failed"; }
cat "$work/table.txt"
"$LMTRACE" check -j "$a_pid=$a_qmp" "$b_pid=$b_qmp" --bandwidth 32M --downtime-limit 300 \
	>"$work/table.json" 2>"$work/table.err" || { cat "$work/table.err"; die "the JSON table failed"; }
cat "$work/table.json"
touch "$work/a.go" "$work/b.go"
wait "${labs[0]}"; ra=$?
wait "${labs[1]}"; rb=$?
labs=()
if [ "$ra" != 0 ] || [ "$rb" != 0 ]; then fail "lmlab exited with $ra and $rb"; fi
echo "QEMU, together: a $(result a), b $(result b)"

echo "=== one of them alone at 32 MiB/s"
start_lab alone 47520 --bandwidth 32
wait_ready alone "${labs[0]}"
touch "$work/alone.go"
wait "${labs[0]}" || fail "lmlab (alone) failed"
labs=()
echo "QEMU, alone: $(result alone)"

# the table against QEMU
n=$(jq -s '[.[] | select(.type == "check" and .verdict == "converging")] | length' "$work/table.json")
[ "$n" = 2 ] || fail "the table does not say both converge alone at 32 MiB/s ($n of 2)"
grep -c 'move now' "$work/table.txt" | grep -qx 2 || fail "the text table does not say 'move now' twice"
[ "$(jq -r 'select(.type == "check-shared") | .all_converge' "$work/table.json")" = false ] ||
	fail "the table says the two converge together"
grep -q 'NOT all converge' "$work/table.txt" || fail "the text table does not say they do not converge together"
if [ "$(result a | cut -d' ' -f1)" != cancelled ] || [ "$(result b | cut -d' ' -f1)" != cancelled ]; then
	fail "together at 16 MiB/s each, QEMU did not have to cancel both"
fi
[ "$(result alone | cut -d' ' -f1)" = completed ] || fail "alone at 32 MiB/s, QEMU did not complete"
alone_s=$(jq -r 'select(.type == "result") | .total_time_ms / 1000' "$work/alone.jsonl")
pred=$(jq -r 'select(.type == "check") | .total_s' "$work/table.json" | head -n 1)
awk -v p="$pred" -v q="$alone_s" 'BEGIN { e = (p - q) / q; printf "alone: predicted %.1f s, QEMU %.1f s (%+.1f %%)\n", p, q, 100 * e
	exit !(e >= -0.2 && e <= 0.2) }' || fail "predicted total time alone off by more than 20 %"
finish "the table matched QEMU: each alone converges, the two together do not"

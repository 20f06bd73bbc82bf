#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# The layers hold: `make check-layers` passes on the tree and fails on a
# deliberate forbidden include (naming the file and the edge), and
# libcore.a (core + record + out) builds and links a unit test on a machine
# without clang, bpftool and libbpf's headers: they are hidden in a private
# mount namespace, so a stray dependency on them fails the build here; and
# `make CFLAGS=...` keeps the project's own flags in every cc rule.
set -u
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d /tmp/lmtrace-layers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# --- check-layers on the real tree
if out=$(tests/check-layers.sh user 2>&1); then ok "tree: $out"; else fail "tree: $out"; fi

# --- and on copies with one forbidden include each
forbid() { # FILE INCLUDE WHAT
	rm -rf "$tmp/user" && cp -r user "$tmp/user"
	sed -i "0,/^#include/s@^#include@#include $2\n#include@" "$tmp/user/$1"
	if out=$(tests/check-layers.sh "$tmp/user" 2>&1); then
		fail "$3: check-layers passed with $2 in $1"
	elif grep -q "$1" <<<"$out"; then
		ok "$3 refused: $(grep "$1" <<<"$out" | head -n 1 | sed "s@$tmp/@@")"
	else
		fail "$3: refused without naming $1: $out"
	fi
}
forbid core/estimator.c '"trace/tracer.h"' "core including the tracer"
forbid core/pipeline.c '<bpf/libbpf.h>' "core including libbpf"
forbid core/units.c '<zlib.h>' "core including zlib"
forbid sinks/sink_json.c '"core/estimator.h"' "a sink reading the estimator's internals"
forbid record/replay.c '"sinks/outputs.h"' "record including the outputs"
forbid trace/session.c '"sinks/outputs.h"' "the tracer including an output"

# --- make CFLAGS=...: every rule that compiles or links with cc keeps the project's
# flags (warnings, -std, -D_GNU_SOURCE, the include paths) after the user's
dry=$(make --no-print-directory -n -B V=1 CC=cc CFLAGS=-O0 OUTPUT="$tmp/dry" all unit lab \
	"$tmp/dry/tests/lm_synth" "$tmp/dry/tests/kvm_gt" "$tmp/dry/tests/lm_bpfstats" \
	"$tmp/dry/fuzz/make_seeds" 2>&1)
n=$(grep -c '^cc ' <<<"$dry")
bad=$(grep '^cc ' <<<"$dry" | grep -vE -- '^cc -O0 -Wall .*-std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser( |$)')
if [ "$n" -gt 30 ] && [ -z "$bad" ]; then
	ok "make CFLAGS=-O0: all $n cc commands keep the project's flags after the user's"
else
	fail "make CFLAGS=-O0 ($n cc commands): $(head -n 3 <<<"${bad:-none found}")"
fi

# --- libcore.a with only cc: no clang, no bpftool, no libbpf headers
command -v unshare >/dev/null || { echo "FAIL: unshare (util-linux) is needed to hide the BPF toolchain"; exit 1; }
require_root
mkdir -p "$tmp/empty"
hide=""
for p in /usr/include/bpf "$(command -v clang)" "$(readlink -f "$(command -v clang)")" \
	 "$(command -v bpftool)"; do
	[ -e "$p" ] || continue
	if [ -d "$p" ]; then hide="$hide mount --bind $tmp/empty $p;"
	else hide="$hide mount --bind /bin/false $p;"; fi
done
if unshare -m sh -c "$hide
	! clang --version >/dev/null 2>&1 && ! bpftool version >/dev/null 2>&1 &&
	[ ! -e /usr/include/bpf/libbpf.h ] || { echo 'could not hide the BPF toolchain'; exit 1; }
	make --no-print-directory OUTPUT=$tmp/out libcore $tmp/out/tests/test_vmtrack \
		$tmp/out/tests/test_estimator && $tmp/out/tests/test_vmtrack >/dev/null &&
	$tmp/out/tests/test_estimator >/dev/null" >"$tmp/build.log" 2>&1; then
	ok "libcore.a and two unit tests built and passed without clang, bpftool or libbpf headers"
else
	fail "libcore without the BPF toolchain:"; tail -n 20 "$tmp/build.log"
fi
[ -e "$tmp/out/lmtrace.skel.h" ] && fail "building libcore made the BPF skeleton"
[ "$fails" -eq 0 ]

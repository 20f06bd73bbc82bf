#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# timeout: 900
# The layers hold: `make check-layers` (what the compiler included, from each
# object's .d) refuses every way around the rule, each injected into a copy
# of the tree (never this one), naming the file and the edge: a forbidden
# include spelled `# include`, through "core/../", through another header,
# through a symlink, from a sub-folder, a private core header reached from a
# public one, a system header; and the tree itself is checked. The libraries
# (libcore.a, librecord.a, liboutputs.a) build and link unit tests on a
# machine without clang, bpftool and libbpf's headers: they are hidden in a
# private mount namespace, so a stray dependency on them fails the build
# here; and `make CFLAGS=...` keeps the project's own flags in every cc rule.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d /tmp/lmtrace-layers.XXXXXX)
at_exit rm -rf "$tmp"
top=$PWD

# --- a copy of the tree, built once; each case edits it, checks, and puts it back
copy=$tmp/tree
mkdir -p "$copy"
tar -C "$top" -cf - Makefile bpf include user tests | tar -C "$copy" -xf -
vml=()
[ -s "$OUTPUT/vmlinux.h" ] && vml=(VMLINUX_H="$OUTPUT/vmlinux.h")	# saves dumping BTF again
check() { make --no-print-directory -C "$copy" -j2 OUTPUT="$copy/.out" "${vml[@]}" check-layers 2>&1; }
check >"$tmp/base" 2>&1
base_rc=$?
if ! grep -q -e '^layers: ok' -e ': includes ' "$tmp/base"; then
	tail -n 20 "$tmp/base"
	die "check-layers did not run on the copy"
fi

# --- the tree itself, and its copy, pass
if out=$(make --no-print-directory OUTPUT="$OUTPUT" check-layers 2>&1); then
	ok "tree: $(tail -n 1 <<<"$out")"
else
	fail "the tree is refused:$(grep ': includes \|not part of any layer\|not compiled' <<<"$out" | sed 's/^/ /')"
fi
[ "$base_rc" -eq 0 ] || fail "the copy is refused before any edit: $(head -n 3 "$tmp/base")"

# refused WHAT EXPECTED...: check-layers on the edited copy fails with each
# EXPECTED line start (FILE: includes HEADER (via ...)) among the lines the
# edit added; then the copy is put back.
touched=()
refused() {
	local what=$1 e out new missing=""
	shift
	out=$(check)
	new=$(grep -vxF -f "$tmp/base" <<<"$out")
	for e in "$@"; do
		grep -qF -- "$e" <<<"$new" || missing="$missing
    wanted: $e"
	done
	if [ -z "$missing" ] && grep -q 'check-layers\] Error' <<<"$out"; then
		ok "$what refused: $(grep -F -- "$1" <<<"$new" | head -n 1)"
	else
		# shellcheck disable=SC2001 # every line, not one string
		fail "$what:$missing
$(sed 's/^/    got: /' <<<"${new:-$out}" | head -n 12)"
	fi
	restore
}
restore() { # the copy as it was: edited files back from the tree, added ones gone
	local f
	for f in "${touched[@]}"; do
		if [ -e "$top/$f" ]; then cp "$top/$f" "$copy/$f"; else rm -rf "${copy:?}/$f"; fi
	done
	touched=()
}
inject() { # FILE LINE: LINE before the first #include of FILE (in the copy)
	grep -q '^#include' "$copy/$1" 2>/dev/null ||
		fail "no $1 with an #include to inject before: a file moved? (update this test)"
	touched+=("$1")
	sed -i "0,/^#include/s@^#include@$2\n#include@" "$copy/$1"
}
add() { # FILE TEXT: a new file in the copy
	touched+=("$1")
	mkdir -p "$(dirname "$copy/$1")"
	printf '%s\n' "$2" >"$copy/$1"
}

# What the text-reading check let through:
inject user/core/units.c '# include "trace/tracer.h"'
refused "core including the tracer, spelled '# include'" \
	'user/core/units.c: includes user/trace/tracer.h (directly): core sits on'
inject user/core/vmtrack.c '#include "core/../trace/tracer.h"'
refused "core including the tracer through core/../" \
	'user/core/vmtrack.c: includes user/trace/tracer.h (directly)'
inject user/core/vmtrack.h '#include "trace/procscan.h"'
refused "a core header including a trace header, included by a core .c" \
	'user/core/vmtrack.c: includes user/trace/procscan.h (via user/core/vmtrack.h): core sits on'
touched+=(user/core/evil.h)
ln -s ../trace/tracer.h "$copy/user/core/evil.h"
inject user/core/units.c '#include "core/evil.h"'
refused "core including the tracer through a symlink in core/" \
	'user/core/units.c: includes user/trace/tracer.h (directly)'
touched+=(user/core/sub)
add user/core/sub/extra.h '#include "trace/tracer.h"'
add user/core/sub/extra.c '#include "core/sub/extra.h"
int lm_extra;'
inject user/core/units.c '#include "core/sub/extra.h"'
refused "a sub-folder of core" \
	'user/core/sub: not part of any layer' \
	'user/core/sub/extra.c: not part of any layer' \
	'user/core/units.c: includes user/core/sub/extra.h (directly): not a header of any layer' \
	'user/core/units.c: includes user/trace/tracer.h (via user/core/sub/extra.h)'
add user/stray.c 'int lm_stray;'
refused "a file at the top of user/" 'user/stray.c: not part of any layer'

# The estimator's internal state, private inside core:
inject user/core/units.h '#include "core/estimator.h"'
refused "a public core header including the estimator's internals" \
	'user/core/units.c: includes user/core/estimator.h (via user/core/units.h): the estimator' \
	'user/sinks/sink_json.c: includes user/core/estimator.h (via user/sinks/outputs.h -> user/core/units.h)'
inject user/core/check_head_start.c '#include "core/estimator.h"'
refused "a core file (not the estimator's) including its internals" \
	'user/core/check_head_start.c: includes user/core/estimator.h (directly): the estimator'
inject user/core/check_model.c '#include "core/estimator.h"'
refused "the model of lmtrace check reading the estimator's state" \
	'user/core/check_model.c: includes user/core/estimator.h (directly): the estimator'
inject user/core/precopy_sim.h '#include "core/estimator.h"'
refused "a model header including the estimator's state (as curve.h once did)" \
	'user/core/precopy_sim.c: includes user/core/estimator.h (via user/core/precopy_sim.h): the estimator' \
	'user/core/check_model.c: includes user/core/estimator.h (via user/core/precopy_sim.h): the estimator'
inject user/core/pipeline.c '#include "core/est_internal.h"'
refused "the pipeline reaching inside the estimator" \
	'user/core/pipeline.c: includes user/core/est_internal.h (directly): inside the estimator'

# System headers, by resolved path:
inject user/core/pipeline.c '#include <bpf/libbpf.h>'
refused "core including libbpf" \
	'user/core/pipeline.c: includes /usr/include/bpf/libbpf.h (directly): core is pure'
inject user/core/units.c '#include <zlib.h>'
refused "core including zlib" 'user/core/units.c: includes /usr/include/zlib.h (directly): core is pure'
inject user/core/units.c '#include <unistd.h>'
refused "core including unistd.h (syscalls)" 'user/core/units.c: includes /usr/include/unistd.h (directly): core is pure'
inject user/io/safe_file.c '#include <zlib.h>'
refused "io including zlib" 'user/io/safe_file.c: includes /usr/include/zlib.h (directly): io is libc file I/O'
inject user/record/replay.c '#include <jansson.h>'
refused "record including jansson" 'user/record/replay.c: includes /usr/include/jansson.h (directly): record needs no BPF'
inject user/sinks/sink_csv.c '#include <bpf/bpf.h>'
refused "a sink including libbpf" 'user/sinks/sink_csv.c: includes /usr/include/bpf/bpf.h (directly): outputs need no BPF'
# libvirt's API: the tracer's only (its client, user/trace/libvirt.c)
if [ -r /usr/include/libvirt/libvirt.h ]; then
	inject user/sinks/sink_csv.c '#include <libvirt/libvirt.h>'
	refused "a sink including libvirt" \
		'user/sinks/sink_csv.c: includes /usr/include/libvirt/libvirt.h (directly): sinks/ may not include libvirt'
	inject user/record/replay.c '#include <libvirt/virterror.h>'
	refused "record including libvirt" \
		'user/record/replay.c: includes /usr/include/libvirt/virterror.h (directly): record/ may not include libvirt'
	inject user/core/units.c '#include <libvirt/libvirt.h>'
	refused "core including libvirt" 'user/core/units.c: includes /usr/include/libvirt/libvirt.h (directly): core is pure'
else
	skip_at_end "no libvirt headers (apt-get install libvirt-dev): the libvirt cases of check-layers did not run"
fi

# The edges the text check already refused:
inject user/core/streams.c '#include "trace/tracer.h"'
refused "core including the tracer" 'user/core/streams.c: includes user/trace/tracer.h (directly)'
inject user/sinks/sink_json.c '#include "core/estimator.h"'
refused "a sink reading the estimator's internals" \
	'user/sinks/sink_json.c: includes user/core/estimator.h (directly): the estimator'
inject user/sinks/sink_json.c '#include "core/vmtrack.h"'
refused "a sink reading a core header that is not public" \
	'user/sinks/sink_json.c: includes user/core/vmtrack.h (directly): outputs see'
inject user/record/replay.c '#include "sinks/outputs.h"'
refused "record including the outputs" 'user/record/replay.c: includes user/sinks/outputs.h (directly): record sits on'
inject user/trace/session.c '#include "sinks/outputs.h"'
refused "the tracer including an output" 'user/trace/session.c: includes user/sinks/outputs.h (directly): the tracer'
inject user/trace/session.c '#include "io/safe_file.h"'
refused "the tracer including the file writer" 'user/trace/session.c: includes user/io/safe_file.h (directly): the tracer'

# Without libvirt (pkg-config does not find it) the client is left out, said so, and the rest passes.
printf '#!/bin/sh\nfor a; do [ "$a" = libvirt ] && exit 1; done\nexec pkg-config "$@"\n' >"$tmp/pkg-config-nolv"
chmod +x "$tmp/pkg-config-nolv"
out=$(make --no-print-directory -C "$copy" OUTPUT="$copy/.out" "${vml[@]}" PKG_CONFIG="$tmp/pkg-config-nolv" check-layers 2>&1)
if grep -q '^user/trace/libvirt.c: not built here' <<<"$out" && grep -q '^layers: ok' <<<"$out"; then
	ok "without libvirt: $(grep '^user/trace/libvirt.c' <<<"$out"); $(tail -n 1 <<<"$out")"
else
	fail "without libvirt: $(tail -n 5 <<<"$out")"
fi

# And the copy, put back, is checked as the tree was.
out=$(check)
if diff <(grep -v '^  ' <<<"$out") <(grep -v '^  ' "$tmp/base") >/dev/null; then
	ok "the copy put back checks as before"
else
	fail "the copy put back checks differently: $(diff <(grep -v '^  ' <<<"$out") <(grep -v '^  ' "$tmp/base") | head -n 5)"
fi

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

# --- a jansson older than 2.13 (deep nesting parsed on the stack) is refused at build time
mkdir -p "$tmp/oldjansson"
printf '#include_next <jansson.h>\n#undef JANSSON_VERSION_HEX\n#define JANSSON_VERSION_HEX 0x020c00\n' \
	>"$tmp/oldjansson/jansson.h"
if out=$(cc -std=gnu11 -D_GNU_SOURCE -I"$tmp/oldjansson" -Iinclude -Iuser -fsyntax-only user/trace/qmp.c 2>&1); then
	fail "built with jansson 2.12"
elif grep -q 'needs jansson 2.13 or later' <<<"$out"; then
	ok "jansson 2.12 is refused at build time, saying why"
else
	fail "jansson 2.12 refused without saying why: $(head -n 2 <<<"$out")"
fi
if cc -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -fsyntax-only user/trace/qmp.c; then
	ok "jansson $(pkg-config --modversion jansson) builds"
else
	fail "jansson $(pkg-config --modversion jansson) is refused"
fi

# --- each unit test links the libraries it needs, and no system library above them
links() { # TEST: its link line's libraries
	make --no-print-directory -n -B OUTPUT="$tmp/dry" "$tmp/dry/tests/$1" 2>/dev/null |
		grep -- "-o $tmp/dry/tests/$1\$" | tr -s ' \t' '\n' | sed -n 's@.*/\([^/]*\.a\)$@\1@p; /^-l/p' | tr '\n' ' '
}
for t in "test_estimator:libcore.a -lm" "test_record:librecord.a libcore.a -lz -lm" \
	 "test_outputs:liboutputs.a librecord.a libcore.a -lmicrohttpd -lpthread -lz -lm"; do
	got=$(links "${t%%:*}")
	if [ "${got% }" = "${t#*:}" ]; then ok "${t%%:*} links ${got% }"
	else fail "${t%%:*} links '${got% }', want '${t#*:}'"; fi
done

# --- the libraries with only cc: no clang, no bpftool, no libbpf headers
need unshare util-linux
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
		$tmp/out/tests/test_estimator $tmp/out/tests/test_record $tmp/out/tests/test_outputs &&
	$tmp/out/tests/test_vmtrack >/dev/null && $tmp/out/tests/test_estimator >/dev/null &&
	$tmp/out/tests/test_record >/dev/null && $tmp/out/tests/test_outputs >/dev/null" >"$tmp/build.log" 2>&1; then
	ok "libcore.a, librecord.a, liboutputs.a and four unit tests built and passed without clang, bpftool or libbpf headers"
else
	fail "the libraries without the BPF toolchain:"; tail -n 20 "$tmp/build.log"
fi
[ -e "$tmp/out/lmtrace.skel.h" ] && fail "building the libraries made the BPF skeleton"
for a in libcore:'core' librecord:'record io' liboutputs:'sinks report'; do
	want=$(for d in ${a#*:}; do ls user/"$d"/*.c 2>/dev/null; done | xargs -r -n1 basename | sed 's/\.c$/.o/' | sort)
	got=$(ar t "$tmp/out/${a%%:*}.a" 2>/dev/null | sort)
	if [ -z "$got" ] || [ "$got" != "$want" ]; then
		fail "${a%%:*}.a holds ${got//$'\n'/ }, want the objects of user/{${a#*:}}"
	fi
done
finish

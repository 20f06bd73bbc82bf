#!/usr/bin/env bash
# check-layers.sh [OUTPUT]: fail when an object under user/ includes, directly
# or through other headers, a header its layer may not see. Run from the top
# of the tree after the objects are built (`make check-layers` builds them).
#
# It does not read #include lines: it reads the dependency files the compiler
# wrote (OUTPUT/user/**/*.d, -MD -MP), i.e. every header each object really
# included, transitively, system headers too, and resolves each path (`..`
# and symlinks), so `# include`, "core/../trace/x.h", an include through
# another header and a symlink all count as what they are.
#
# The layers, lowest first (folders under user/):
#   core/    pure and deterministic: core, include/lmtrace.h; libc, math
#            and linux/types.h (what they pull in, as the compiler resolves
#            them), so no syscalls and no libraries
#   io/      the safe file writer: io headers; libc (no BPF, QMP, HTTP, zlib)
#   record/  recordings: core, io, lmtrace.h; zlib (no BPF, QMP, HTTP)
#   sinks/, report/  the outputs: record, io and the PUBLIC core headers
#            (core/published.h, obs.h, pipeline.h, units.h, view.h and what
#            they include), never the estimator's internals; no BPF, no QMP
#   trace/   the only code that knows libbpf, /proc and sockets: trace, core,
#            lmtrace.h and the BPF skeleton; no sinks, record, report, io.
#            libvirt's headers (<libvirt/...>) only here (and in tests/)
#   cli/, main.c  anything
# Private headers, whatever the layer: core/estimator.h (the estimator's
# state) only in core/estimator.c, core/est_*.c and core/pipeline.c, and
# core/est_internal.h (what the estimator's files share) only in
# core/estimator.c and core/est_*.c; so the model (core/model.h, curve.h,
# precopy_sim.h, check_model.h) and everything else in core see the
# estimator through its published estimate only. tests/ may include them;
# they are not checked here.
# Anything under user/ outside these folders (sub-folders too) is refused.
# LAYER_UNBUILT lists the optional sources this build left out (the libvirt
# client where libvirt is not installed): they are not checked, and said so.
#
# A violation prints `FILE: includes HEADER (via A -> B): reason` (the chain
# from FILE to HEADER, from the preprocessor's line markers) and the script
# exits 1. CC and LAYER_CPPFLAGS (the build's -std, -D and -I flags) are what
# the build used; they resolve libc's own headers and the chains.
set -u
out=${1:-.output}
CC=${CC:-cc}
LAYER_CPPFLAGS=${LAYER_CPPFLAGS:--O2 -g -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser}
[ -d user ] || { echo "check-layers: run from the top of the tree (no user/ here)" >&2; exit 2; }
root=$(pwd -P)
work=$(mktemp -d /tmp/lmtrace-check-layers.XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT
bad=0
layers='core io record sinks report trace cli'

resolve() { # paths on stdin, one a line -> "path<TAB>resolved" (relative to the top if inside it)
	local paths
	mapfile -t paths
	[ ${#paths[@]} -gt 0 ] || return 0
	realpath -m --relative-base="$root" -- "${paths[@]}" | paste <(printf '%s\n' "${paths[@]}") -
}

# --- 1. Nothing under user/ but main.c and files directly in a layer folder.
sources=()
while IFS= read -r -d '' f; do
	rel=${f#user/}
	case $rel in
	main.c) [ -f "$f" ] && { sources+=("$f"); continue; } ;;
	*/*/*) ;;
	*/*.c | */*.h)
		if [[ " $layers " == *" ${rel%%/*} "* ]] && [ -f "$f" ]; then
			[[ $f == *.c ]] && sources+=("$f")
			continue
		fi ;;
	*) [ -d "$f" ] && [[ " $layers " == *" $rel "* ]] && continue ;;
	esac
	echo "$f: not part of any layer (main.c or a file directly in user/{${layers// /,}}/)"
	bad=1
done < <(find user -mindepth 1 -print0 | sort -z)

# --- 2. What the compiler included for each object.
dfiles=()
for src in "${sources[@]}"; do
	d=$out/${src%.c}.d
	if [[ " ${LAYER_UNBUILT:-} " == *" $src "* ]]; then
		echo "$src: not built here (an optional module), not checked"
	elif [ ! -f "$d" ]; then
		echo "$src: not compiled (no $d): build the objects first (make check-layers does)"
		bad=1
	elif ! grep -q ' /' "$d"; then
		echo "$src: $d lists no system header: built without -MD (make clean, then make check-layers)"
		bad=1
	else
		dfiles+=("$src" "$d")
	fi
done
# The first rule of a .d is "OBJ: SRC HEADER..."; the -MP rules after it add nothing.
[ ${#dfiles[@]} -eq 0 ] || printf '%s\t%s\n' "${dfiles[@]}" | awk -F'\t' '
	{
		src = $1; line = ""
		while ((getline l < $2) > 0) { line = line " " l; if (l !~ /\\$/) break }
		close($2)
		gsub(/\\/, " ", line); n = split(line, w, /[ \t]+/); first = 1
		for (i = 1; i <= n; i++) {
			if (w[i] == "" || w[i] ~ /:$/) continue
			if (first) { first = 0; continue }	# the source itself
			print src "\t" w[i]
		}
	}' >"$work/deps"
touch "$work/deps"
cut -f2 "$work/deps" | sort -u | resolve >"$work/paths"

# --- 3. What libc's headers and the public core headers bring with them, as the compiler sees it.
# shellcheck disable=SC2086 # LAYER_CPPFLAGS is a list of flags
closure() { # NAME HEADER...: every file those headers include, resolved
	local name=$1
	shift
	printf '#include %s\n' "$@" |
		$CC $LAYER_CPPFLAGS -M -MT "$name" -x c - 2>"$work/$name.err" |
		tr -s '\\ \t' '\n' | grep -v -e ':$' -e '^-$' -e '^$' | resolve | cut -f2 |
		sort -u >"$work/$name"
	[ -s "$work/$name" ] || { echo "check-layers: $CC could not resolve $*:"; cat "$work/$name.err"; exit 2; }
}
libc='<errno.h> <float.h> <inttypes.h> <limits.h> <math.h> <stdarg.h> <stdbool.h> <stddef.h> <stdint.h> <stdio.h> <stdlib.h> <string.h> <strings.h> <time.h>'
# shellcheck disable=SC2086 # word lists
{
	closure libc_linux $libc '<linux/types.h>'
	closure core_public '"core/published.h"' '"core/obs.h"' '"core/pipeline.h"' '"core/units.h"' '"core/view.h"'
} || exit 2
skel=$(realpath -m --relative-base="$root" -- "$out/lmtrace.skel.h")

# --- 4. Each (object, header) against the object's layer.
awk -F'\t' -v skel="$skel" -v work="$work" '
	BEGIN {
		while ((getline l < (work "/paths")) > 0) { split(l, p, "\t"); res[p[1]] = p[2] }
		while ((getline l < (work "/libc_linux")) > 0) libc_linux[l] = 1
		while ((getline l < (work "/core_public")) > 0) if (l ~ /^(user|include)\//) public[l] = 1
		# Private headers: who may include them (the source file, any layer).
		priv["user/core/estimator.h"] = "^user/core/(estimator|est_[^/]*|pipeline)\\.c$"
		privwhy["user/core/estimator.h"] = "the estimator'\''s state: only core/estimator.c, core/est_*.c and core/pipeline.c (and tests) may include it"
		priv["user/core/est_internal.h"] = "^user/core/(estimator|est_[^/]*)\\.c$"
		privwhy["user/core/est_internal.h"] = "inside the estimator: only core/estimator.c and core/est_*.c (and tests) may include it"
	}
	function layer_of(s) { return s == "user/main.c" ? "cli" : (split(s, q, "/") == 3 ? q[2] : "?") }
	function has(list, x) { return index(" " list " ", " " x " ") > 0 }
	function sys_bpf(h) { return h ~ /\/bpf\// || h ~ /\/linux\/bpf(_common)?\.h$/ }
	function sys_qmp(h) { return h ~ /\/jansson(_config)?\.h$/ }
	function sys_http(h) { return h ~ /\/microhttpd\.h$/ }
	function sys_zlib(h) { return h ~ /\/(zlib|zconf)\.h$/ }
	function sys_libvirt(h) { return h ~ /\/libvirt\/[^\/]*\.h$/ }
	# Why SRC (layer L) may not include H, or "" if it may.
	function why(src, L, h,   hl, n, sys) {
		if (h in priv && src !~ priv[h]) return privwhy[h]
		if (h == skel) hl = "skel"
		else if (h == "include/lmtrace.h") hl = "abi"
		else if (h ~ /^user\//) {
			n = split(h, q, "/")
			if (n != 3 || !has("core io record sinks report trace cli", q[2]))
				return "not a header of any layer"
			hl = q[2]
		} else if (h !~ /^\//) return "not a header lmtrace'\''s code may use (only user/, include/ and the system)"
		else sys = 1
		if (L == "core") {
			if (sys) return (h in libc_linux) ? "" : "core is pure and deterministic: libc, math and linux/types.h only (no syscalls, no libraries)"
			return has("core abi", hl) ? "" : "core sits on the BPF ABI header only"
		}
		if (sys && sys_libvirt(h) && L != "trace" && L != "cli")
			return L "/ may not include libvirt: only trace/ talks to libvirt"
		if (L == "io") {
			if (sys) return (sys_bpf(h) || sys_qmp(h) || sys_http(h) || sys_zlib(h)) ? "io is libc file I/O: no BPF, QMP, HTTP or zlib" : ""
			return hl == "io" ? "" : "io is the safe file writer: io headers only"
		}
		if (L == "record") {
			if (sys) return (sys_bpf(h) || sys_qmp(h) || sys_http(h)) ? "record needs no BPF, QMP or HTTP" : ""
			return has("record io core abi", hl) ? "" : "record sits on core and io only"
		}
		if (L == "sinks" || L == "report") {
			if (sys) return (sys_bpf(h) || sys_qmp(h)) ? "outputs need no BPF or QMP" : ""
			return (has("sinks report record io", hl) || h in public) ? "" : \
				"outputs see record, io and the public core headers (published, obs, pipeline, units, view), not the estimator or the tracer"
		}
		if (L == "trace") {
			if (sys) return ""
			return has("trace core abi skel", hl) ? "" : "the tracer feeds the pipeline; it knows no output, recording or file writer"
		}
		if (L == "cli") return ""
		return "not part of any layer"
	}
	{
		h = ($2 in res) ? res[$2] : $2
		r = why($1, layer_of($1), h)
		if (r != "") print $1 "\t" h "\t" r
	}' "$work/deps" | sort -u >"$work/violations"

# --- 5. For each violation, the chain of includes that brought the header in.
via() { # SRC HEADER -> "A -> B" (the headers between SRC and HEADER), or "directly"
	local src=$1 h=$2 tree
	tree=$work/tree.${src//\//_}
	if [ ! -f "$tree" ]; then
		# One line per header, the first time it is entered: the header, then its includers.
		# shellcheck disable=SC2086 # LAYER_CPPFLAGS is a list of flags
		$CC $LAYER_CPPFLAGS -E "$src" 2>/dev/null | awk '
			/^# [0-9]+ "/ {
				f = $3; gsub(/^"|"$/, "", f); push = 0; pop = 0
				for (i = 4; i <= NF; i++) { if ($i == 1) push = 1; if ($i == 2) pop = 1 }
				if (push) {
					st[++n] = f
					if (!(f in seen)) {
						seen[f] = 1; line = f
						for (i = n - 1; i >= 2; i--) line = line "\t" st[i]
						print line
					}
				} else if (pop) { while (n > 1 && st[n] != f) n--; }
				else if (n == 0) st[++n] = f
			}' >"$tree.raw"
		tr '\t' '\n' <"$tree.raw" | sort -u | resolve >"$tree.paths"
		awk -F'\t' -v paths="$tree.paths" '
			BEGIN { while ((getline l < paths) > 0) { split(l, p, "\t"); res[p[1]] = p[2] } }
			{ s = res[$1]; for (i = NF; i >= 2; i--) s = s "\t" res[$i]; print s }' "$tree.raw" >"$tree"
	fi
	awk -F'\t' -v h="$h" '
		$1 == h { if (NF == 1) print "directly"; else { s = $2; for (i = 3; i <= NF; i++) s = s " -> " $i; print "via " s } found = 1; exit }
		END { if (!found) print "via ?" }' "$tree"
}
while IFS=$'\t' read -r src h reason; do
	echo "$src: includes $h ($(via "$src" "$h")): $reason"
	bad=1
done <"$work/violations"

[ $bad -eq 0 ] && echo "layers: ok (${#sources[@]} objects, $(wc -l <"$work/deps") includes checked)"
exit $bad

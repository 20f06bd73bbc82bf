#!/usr/bin/env bash
# check-layers.sh [DIR]: fail when a file under DIR (default user/) includes
# across a forbidden edge. The layers, lowest first:
#   core/    pure and deterministic: libc and the BPF ABI header (lmtrace.h)
#   record/  core + the recording codec (zlib)
#   io/      files lmtrace writes safely (libc)
#   sinks/, report/  the outputs: record + io + the public side of core (the
#            view, the estimate, the pipeline), never the estimator's internals
#   trace/   the only code that knows libbpf, /proc, pidfds and sockets
#   cli/, main.c  may use everything
# Project headers are included as "layer/name.h". Prints one line per
# violation and exits 1 if there is any.
set -u
dir=${1:-user}
bad=0

# System headers core may use: the C library and POSIX basics, nothing else.
core_sys='^(errno|float|inttypes|limits|math|stdarg|stdbool|stddef|stdint|stdio|stdlib|string|strings|time|linux/types)\.h$'
# Public core headers sinks/ and report/ may see (the estimator's internals are not among them).
core_public='^core/(published|obs|pipeline|units|view)\.h$'

violation() { echo "$1: #include $2: $3"; bad=1; }

check_file() { # FILE LAYER
	local f=$1 layer=$2 inc kind shown
	while IFS= read -r line; do
		case $line in
		*'#include "'*) kind=quote; inc=${line#*\"}; inc=${inc%%\"*}; shown="\"$inc\"" ;;
		*'#include <'*) kind=angle; inc=${line#*<}; inc=${inc%%>*}; shown="<$inc>" ;;
		*) continue ;;
		esac
		case $layer in
		core)
			if [ $kind = quote ]; then
				[[ $inc == core/* || $inc == lmtrace.h ]] ||
					violation "$f" "$shown" "core includes only core headers and libc"
			else
				[[ $inc =~ $core_sys ]] ||
					violation "$f" "$shown" "core builds with cc and libc alone"
			fi ;;
		record)
			if [ $kind = quote ]; then
				[[ $inc == core/* || $inc == record/* || $inc == io/* || $inc == lmtrace.h ]] ||
					violation "$f" "$shown" "record sits on core only"
			elif [[ $inc == bpf/* || $inc == jansson.h || $inc == microhttpd.h ]]; then
				violation "$f" "$shown" "record needs no BPF, QMP or HTTP"
			fi ;;
		sinks|report)
			if [ $kind = quote ]; then
				[[ $inc =~ $core_public || $inc == sinks/* || $inc == report/* || $inc == record/* || $inc == io/* ]] ||
					violation "$f" "$shown" "outputs see the view and the estimate, not the estimator or the tracer"
			elif [[ $inc == bpf/* || $inc == jansson.h ]]; then
				violation "$f" "$shown" "outputs need no BPF or QMP"
			fi ;;
		trace)
			if [ $kind = quote ]; then
				[[ $inc == core/* || $inc == trace/* || $inc == lmtrace.h || $inc == lmtrace.skel.h ]] ||
					violation "$f" "$shown" "the tracer feeds the pipeline; it knows no output or recording"
			fi ;;
		esac
		if [ $kind = quote ] && [[ $inc == */* ]] && [ ! -e "$dir/$inc" ]; then
			violation "$f" "$shown" "no such project header"
		fi
	done < "$f"
}

for layer in core io record sinks report trace; do
	for f in "$dir/$layer"/*.[ch]; do
		[ -e "$f" ] && check_file "$f" "$layer"
	done
done
# Nothing but main.c and the layer folders.
for f in "$dir"/*; do
	case ${f##*/} in
	core|io|record|sinks|report|trace|cli|main.c) ;;
	*) echo "$f: not part of any layer (core, io, record, sinks, report, trace, cli, main.c)"; bad=1 ;;
	esac
done
[ $bad -eq 0 ] && echo "layers: ok ($(find "$dir" -name '*.[ch]' | wc -l) files)"
exit $bad

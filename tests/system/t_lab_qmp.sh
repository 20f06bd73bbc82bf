#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The QMP client (user/trace/qmp.c) against a real QEMU: see tests/lab/qmp_real.c.
set -u
# shellcheck source=lab/e2e.sh
. "$(dirname "$0")/../lab/e2e.sh"
lab_requirements no-lmtrace
work=$(mktemp -d /tmp/lmlab-qmp.XXXXXX)
at_exit 'rm -rf "$work"'
timeout 60 "$out_dir/lab/qmp_real" "$GUEST" "$work" || fail "qmp_real: the QMP client against QEMU (exit $?)"
finish "the QMP client works against a real QEMU"

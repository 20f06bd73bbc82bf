# shellcheck shell=bash
# Whether this machine has KVM, for tests/system/lib.sh and tests/run-tests.sh
# (sourced; defines functions only). LM_DEV_KVM and LM_PROC_MISC let
# t_tests_fail play a machine with or without KVM.
#
# KVM_ABSENT: how a test says "this machine's kernel offers no KVM at all"
# (no /dev/kvm node and no kvm misc device: e.g. a kernel that is itself a
# PVM guest, which cannot nest). Like a missing accelerator, that is the
# one skip tests/run-tests.sh allows in CI, and only after checking the
# machine itself. A /dev/kvm that exists but does not work still fails.
KVM_ABSENT="no KVM on this machine"

have_kvm() { local k=${LM_DEV_KVM:-/dev/kvm}; [ -c "$k" ] && [ -r "$k" ] && [ -w "$k" ]; }

kernel_offers_kvm() {
	[ -e "${LM_DEV_KVM:-/dev/kvm}" ] || grep -qw kvm "${LM_PROC_MISC:-/proc/misc}" 2>/dev/null
}

# kvm_skip_reason: the skip's reason, with the kernel's own words when it
# said why (its ";" made ",": the runner splits joined reasons at "; ").
kvm_skip_reason() {
	local why
	why=$(dmesg 2>/dev/null | grep -iE 'kvm' | grep -iE 'not|fail|disabled|unsupported' | tail -n 1 |
		sed 's/^\[[^]]*\] //; s/;/,/g')
	echo "$KVM_ABSENT${why:+ (the kernel: $why)}"
}

# kvm_gt: the ground-truth VMM for lmtrace's dirty-page and byte counts
# (tests/kvm_gt/, see kvm_gt.c); used by tests/system/t_kvm_ground_truth.sh.
# It shares no code with lmtrace: what it checks must not come from lmtrace.
KVM_GT_SRCS := $(wildcard tests/kvm_gt/*.c)
KVM_GT      := $(OUTPUT)/tests/kvm_gt

$(KVM_GT): $(KVM_GT_SRCS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(LM_CFLAGS) $(DEPFLAGS) -Itests/kvm_gt $(KVM_GT_SRCS) $(JANSSON_LIBS) -lm -o $@

TEST_PROGS += $(KVM_GT)

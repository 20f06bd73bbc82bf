# kvm_gt: the ground-truth VMM for lmtrace's dirty-page and byte counts
# (tests/kvm_gt*.c, see tests/kvm_gt.c); used by tests/t_kvm_ground_truth.sh.
KVM_GT_SRCS := $(wildcard tests/kvm_gt*.c)
KVM_GT_LIBS := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson) -lm

$(OUTPUT)/tests/kvm_gt: $(KVM_GT_SRCS) $(wildcard tests/kvm_gt*.h) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests $(KVM_GT_SRCS) $(KVM_GT_LIBS) -o $@

TEST_PROGS += $(OUTPUT)/tests/kvm_gt

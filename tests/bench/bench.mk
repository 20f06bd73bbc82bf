# make bench: lmtrace's overhead against runs without it, printed as ratios
# (tests/bench/bench.sh; needs root, /dev/kvm and QEMU; 2.5 minutes on an idle
# 2-CPU machine, up to 4.5 when it is shared).
# BENCH_ARGS passes options on, e.g. BENCH_ARGS="--reps 1 --no-lab".
LM_BPFSTATS := $(OUTPUT)/tests/lm_bpfstats

$(LM_BPFSTATS): tests/bench/lm_bpfstats.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(LM_CFLAGS) $(DEPFLAGS) $(LIBBPF_CFLAGS) $< $(LIBBPF_LIBS) -lz -o $@

SYSCALL_COST := $(OUTPUT)/tests/syscall_cost

$(SYSCALL_COST): tests/bench/syscall_cost.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(LM_CFLAGS) $(DEPFLAGS) $< -o $@

TEST_PROGS += $(LM_BPFSTATS) $(SYSCALL_COST)

bench: all $(LM_BPFSTATS) $(SYSCALL_COST) $(KVM_GT) lab
	$(Q)OUTPUT=$(OUTPUT) tests/bench/bench.sh $(BENCH_ARGS)

# make bench-act: --act throttle against QEMU's stock auto-converge on the same
# lab scenarios (tests/bench/act_bench.sh, 8-12 minutes), under the lab lock
# (one QEMU migration at a time on this machine). ACT_BENCH_ARGS picks scenarios.
.PHONY: bench-act
bench-act: all lab
	$(Q)OUTPUT=$(OUTPUT) flock /tmp/lmtrace-lab.lock tests/bench/act_bench.sh $(ACT_BENCH_ARGS)

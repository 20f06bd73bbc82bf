# Outputs (issue 5): recording fuzzing.
#   make fuzz [FUZZ_TIME=60]   fuzz the recording reader (libFuzzer + ASan/UBSan), twice:
#                              as shipped, then with checksums accepted
#                              (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) to reach
#                              the framing and entry parsers behind them
#   make fuzz-seeds            regenerate tests/fuzz/corpus/ (committed)
# New inputs libFuzzer finds go to $(OUTPUT)/fuzz/corpus, not into the repo.

FUZZ_CC   ?= clang
FUZZ_TIME ?= 60
FUZZ_SRCS := user/record.c user/record_read.c user/record_write.c
FUZZ_HDRS := user/record.h user/record_codec.h user/obs.h user/estimator.h

.PHONY: fuzz fuzz-seeds

$(OUTPUT)/fuzz:
	$(Q)mkdir -p $@ $@/corpus

FUZZ_FLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

$(OUTPUT)/fuzz/fuzz_record: tests/fuzz/fuzz_record.c $(FUZZ_SRCS) $(FUZZ_HDRS) | $(OUTPUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $< $(FUZZ_SRCS) -lz -lm -o $@

$(OUTPUT)/fuzz/fuzz_record_nocrc: tests/fuzz/fuzz_record.c $(FUZZ_SRCS) $(FUZZ_HDRS) | $(OUTPUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
		$< $(FUZZ_SRCS) -lz -lm -o $@

FUZZ_RUN = -max_total_time=$(FUZZ_TIME) -max_len=4096 -print_final_stats=1 \
	-artifact_prefix=$(OUTPUT)/fuzz/

fuzz: $(OUTPUT)/fuzz/fuzz_record $(OUTPUT)/fuzz/fuzz_record_nocrc
	$(Q)$(OUTPUT)/fuzz/fuzz_record $(FUZZ_RUN) $(OUTPUT)/fuzz/corpus tests/fuzz/corpus
	$(Q)mkdir -p $(OUTPUT)/fuzz/corpus-nocrc
	$(Q)$(OUTPUT)/fuzz/fuzz_record_nocrc $(FUZZ_RUN) $(OUTPUT)/fuzz/corpus-nocrc tests/fuzz/corpus

$(OUTPUT)/fuzz/make_seeds: tests/fuzz/make_seeds.c tests/unit/synth.h $(FUZZ_SRCS) $(FUZZ_HDRS) | $(OUTPUT)/fuzz
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $< $(FUZZ_SRCS) -lz -lm -o $@

fuzz-seeds: $(OUTPUT)/fuzz/make_seeds
	$(Q)$< tests/fuzz/corpus

# lm_synth: a recording of a model migration for tests/t_outputs*.sh.
$(OUTPUT)/tests/lm_synth: tests/lm_synth.c tests/unit/synth.h $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $< $(LIB_OBJS) $(LDLIBS) -o $@

TEST_PROGS += $(OUTPUT)/tests/lm_synth

# fuzz-replay: recordings through lm_replay, the pipeline, the estimator, every
# formatting sink and the report (sources compiled with the sanitizers).
# Every user source but main() and the BPF loader (the only one needing libbpf).
REPLAY_FUZZ_SRCS := $(filter-out user/main.c user/tracer.c,$(wildcard user/*.c))

$(OUTPUT)/fuzz/fuzz_replay: tests/fuzz/fuzz_replay.c $(REPLAY_FUZZ_SRCS) $(wildcard user/*.h) | $(OUTPUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
		$< $(REPLAY_FUZZ_SRCS) $(EXTRA_LIBS) -lpthread -o $@

.PHONY: fuzz-replay
fuzz-replay: $(OUTPUT)/fuzz/fuzz_replay
	$(Q)mkdir -p $(OUTPUT)/fuzz/corpus-replay
	$(Q)$< $(FUZZ_RUN) -max_len=8192 -close_fd_mask=3 $(OUTPUT)/fuzz/corpus-replay tests/fuzz/corpus

# With libFuzzer available, `make test` builds the fuzz targets too and
# tests/t_fuzz_corpus.sh runs them briefly over the committed corpus.
ifneq ($(wildcard /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a),)
TEST_PROGS += $(OUTPUT)/fuzz/fuzz_record $(OUTPUT)/fuzz/fuzz_record_nocrc $(OUTPUT)/fuzz/fuzz_replay
endif

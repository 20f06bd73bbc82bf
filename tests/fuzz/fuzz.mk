# Fuzzing the recording reader and the whole replay path.
#   make fuzz [FUZZ_TIME=60]   fuzz the recording reader (libFuzzer + ASan/UBSan), twice:
#                              as shipped, then with checksums accepted
#                              (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) to reach
#                              the framing and entry parsers behind them
#   make fuzz-replay           recordings through replay, the pipeline, the estimator,
#                              every formatting sink and the report
#   make fuzz-seeds            regenerate tests/fuzz/corpus/ (committed)
# New inputs libFuzzer finds go to $(OUTPUT)/fuzz/corpus, not into the repo.
# The fuzzers link the libraries (libcore.a, librecord.a, liboutputs.a)
# built with the sanitizers from the same sources (no list kept here).

FUZZ_CC   ?= clang
FUZZ_TIME ?= 60
FUZZ_COMMON := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -fno-sanitize-recover=undefined
FUZZ_FLAGS := $(FUZZ_COMMON) -fsanitize=fuzzer,address,undefined
# The library is instrumented for coverage; libFuzzer's main comes with the target.
FUZZ_LIB_FLAGS := $(FUZZ_COMMON) -fsanitize=fuzzer-no-link,address,undefined

.PHONY: fuzz fuzz-replay fuzz-seeds

# The libraries twice: as shipped, and with checksums accepted.
FUZZ_LIBDIR       := $(OUTPUT)/fuzz
FUZZ_LIBDIR_NOCRC := $(OUTPUT)/fuzz/nocrc

$(OUTPUT)/fuzz/obj/%.o: user/%.c
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_LIB_FLAGS) $(DEPFLAGS) -c $< -o $@

$(OUTPUT)/fuzz/nocrc/obj/%.o: user/%.c
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_LIB_FLAGS) -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION $(DEPFLAGS) -c $< -o $@

$(eval $(call lib_rules,$(FUZZ_LIBDIR),$(OUTPUT)/fuzz/obj))
$(eval $(call lib_rules,$(FUZZ_LIBDIR_NOCRC),$(OUTPUT)/fuzz/nocrc/obj))

$(OUTPUT)/fuzz/fuzz_record: tests/fuzz/fuzz_record.c $(call libs,$(FUZZ_LIBDIR),record)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $< $(call link,$(FUZZ_LIBDIR),record) -o $@

$(OUTPUT)/fuzz/fuzz_record_nocrc: tests/fuzz/fuzz_record.c $(call libs,$(FUZZ_LIBDIR_NOCRC),record)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION $< \
		$(call link,$(FUZZ_LIBDIR_NOCRC),record) -o $@

$(OUTPUT)/fuzz/fuzz_replay: tests/fuzz/fuzz_replay.c $(call libs,$(FUZZ_LIBDIR_NOCRC),outputs)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION $< \
		$(call link,$(FUZZ_LIBDIR_NOCRC),outputs) -o $@

FUZZ_RUN = -max_total_time=$(FUZZ_TIME) -max_len=4096 -print_final_stats=1 \
	-artifact_prefix=$(OUTPUT)/fuzz/

fuzz: $(OUTPUT)/fuzz/fuzz_record $(OUTPUT)/fuzz/fuzz_record_nocrc
	$(Q)mkdir -p $(OUTPUT)/fuzz/corpus $(OUTPUT)/fuzz/corpus-nocrc
	$(Q)$(OUTPUT)/fuzz/fuzz_record $(FUZZ_RUN) $(OUTPUT)/fuzz/corpus tests/fuzz/corpus
	$(Q)$(OUTPUT)/fuzz/fuzz_record_nocrc $(FUZZ_RUN) $(OUTPUT)/fuzz/corpus-nocrc tests/fuzz/corpus

fuzz-replay: $(OUTPUT)/fuzz/fuzz_replay
	$(Q)mkdir -p $(OUTPUT)/fuzz/corpus-replay
	$(Q)$< $(FUZZ_RUN) -max_len=8192 -close_fd_mask=3 $(OUTPUT)/fuzz/corpus-replay tests/fuzz/corpus

$(OUTPUT)/fuzz/make_seeds: tests/fuzz/make_seeds.c $(call libs,$(OUTPUT),record)
	$(call msg,CC,$@)
	$(Q)$(CC) $(LM_CFLAGS) -Itests/unit $< $(call link,$(OUTPUT),record) -o $@

fuzz-seeds: $(OUTPUT)/fuzz/make_seeds
	$(Q)$< tests/fuzz/corpus

# lm_synth: a recording of a model migration for tests/system/t_outputs*.sh.
$(OUTPUT)/tests/lm_synth: tests/unit/lm_synth.c $(call libs,$(OUTPUT),outputs) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(LM_CFLAGS) -Itests/unit $< $(call link,$(OUTPUT),outputs) -o $@

TEST_PROGS += $(OUTPUT)/tests/lm_synth

# With libFuzzer available, `make test` builds the fuzz targets too and
# tests/system/t_fuzz_corpus.sh runs them briefly over the committed corpus.
ifneq ($(wildcard /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a),)
TEST_PROGS += $(OUTPUT)/fuzz/fuzz_record $(OUTPUT)/fuzz/fuzz_record_nocrc $(OUTPUT)/fuzz/fuzz_replay
endif

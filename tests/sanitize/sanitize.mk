# make sanitize: the unit tests, kvm_gt, lmtrace itself and a replay driver
# built with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
# comes with ASan) into $(OUTPUT)/san/; tests/system/t_sanitize.sh runs them.
# Libraries of its own (libcore.a, librecord.a, liboutputs.a), built the
# same way from the same sources, as tests/fuzz/fuzz.mk does for the fuzzers. UBSan does not
# recover: the first report stops the program with an error.
# libbpf, libelf, zlib, jansson and libmicrohttpd are the system's shared
# libraries, not instrumented: ASan still checks every call into them made
# from our code, and LeakSanitizer every allocation they return to us.

SAN_CC    ?= clang
SAN_DIR   := $(OUTPUT)/san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -g -O1
SAN_CFLAGS = $(SAN_FLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser

san_obj = $(patsubst user/%.c,$(SAN_DIR)/obj/%.o,$(1))
SAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(SAN_DIR)/tests/%,$(UNIT_SRCS))
SAN_KVM_GT    := $(SAN_DIR)/kvm_gt
SAN_LMTRACE   := $(SAN_DIR)/lmtrace
SAN_REPLAY    := $(SAN_DIR)/san_replay
SAN_PROGS     := $(SAN_UNIT_BINS) $(SAN_KVM_GT) $(SAN_LMTRACE) $(SAN_REPLAY)

.PHONY: sanitize

$(SAN_DIR)/obj/%.o: user/%.c
	$(call msg,SAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) $(DEPFLAGS) -c $< -o $@

SAN_SKEL_USERS := $(patsubst $(OUTPUT)/user/%,$(SAN_DIR)/obj/%,$(SKEL_USERS))
$(SAN_SKEL_USERS): SAN_CFLAGS += -I$(OUTPUT) $(LIBBPF_CFLAGS)
$(SAN_SKEL_USERS): $(OUTPUT)/lmtrace.skel.h

$(eval $(call lib_rules,$(SAN_DIR),$(SAN_DIR)/obj))

$(SAN_DIR)/lab/%.o: tests/lab/%.c
	$(call msg,SAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) $(DEPFLAGS) -Itests/lab -Itests/unit -c $< -o $@

# The unit tests as the Makefile builds them (the same libraries each),
# test_qmp and test_procscan with their trace objects.
$(SAN_DIR)/tests/test_%: tests/unit/test_%.c $(SAN_DIR)/libcore.a
	$(call msg,SAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) $(DEPFLAGS) -Itests/unit -Itests/lab $< $(SAN_TEST_EXTRA_OBJS) \
		$(SAN_TEST_EXTRA_LIBS) $(call link,$(SAN_DIR),$(call unit_level,test_$*)) -o $@
$(addprefix $(SAN_DIR)/tests/,$(UNIT_RECORD)): $(call libs,$(SAN_DIR),record)
$(addprefix $(SAN_DIR)/tests/,$(UNIT_OUTPUTS)): $(call libs,$(SAN_DIR),outputs)

$(SAN_DIR)/tests/test_qmp: SAN_TEST_EXTRA_OBJS = $(SAN_DIR)/obj/trace/qmp.o $(SAN_DIR)/obj/trace/qmp_act.o $(SAN_DIR)/lab/lab_qmp.o
$(SAN_DIR)/tests/test_qmp: SAN_TEST_EXTRA_LIBS = $(JANSSON_LIBS)
$(SAN_DIR)/tests/test_qmp: $(SAN_DIR)/obj/trace/qmp.o $(SAN_DIR)/obj/trace/qmp_act.o $(SAN_DIR)/lab/lab_qmp.o
$(SAN_DIR)/tests/test_procscan: SAN_TEST_EXTRA_OBJS = $(SAN_DIR)/obj/trace/procscan.o
$(SAN_DIR)/tests/test_procscan: $(SAN_DIR)/obj/trace/procscan.o
# test_names parses the JSON output strictly.
$(SAN_DIR)/tests/test_names: SAN_TEST_EXTRA_LIBS = $(JANSSON_LIBS)

$(SAN_KVM_GT): $(KVM_GT_SRCS)
	$(call msg,SAN-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) $(DEPFLAGS) -Itests/kvm_gt $(KVM_GT_SRCS) $(JANSSON_LIBS) -lm -o $@

$(SAN_LMTRACE): $(call san_obj,$(CLI_SRCS) $(TRACE_SRCS)) $(call libs,$(SAN_DIR),outputs)
	$(call msg,SAN-LINK,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) $(call san_obj,$(CLI_SRCS) $(TRACE_SRCS)) \
		$(LIBBPF_LIBS) $(JANSSON_LIBS) $(call link,$(SAN_DIR),outputs) -o $@

$(SAN_REPLAY): tests/sanitize/san_replay.c $(call libs,$(SAN_DIR),outputs)
	$(call msg,SAN-CC,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) $(DEPFLAGS) $< $(call link,$(SAN_DIR),outputs) -o $@

sanitize: $(SAN_PROGS)

# With clang's ASan runtime (libclang-rt-14-dev) installed, `make test`
# builds all of it; t_sanitize.sh fails where it is missing.
ifneq ($(wildcard /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-$(shell uname -m).a),)
TEST_PROGS += $(SAN_PROGS)
endif

# lmtrace — build, test and install.
#   make              build .output/lmtrace
#   make deps         install the Debian packages lmtrace needs (as root)
#   make test         build and run every test (tests/run-tests.sh)
#   make check-layers build the objects under user/, then fail if one of them
#                     included (as its .d says) a header its layer may not see
#   make libcore      the libraries below the tracer: libcore.a, librecord.a,
#                     liboutputs.a (cc alone: no clang, bpftool or libbpf)
#   make demo         a real live migration, traced live (needs root, /dev/kvm, QEMU)
#   make bench        overhead benchmarks, ratios against a run without lmtrace
#   make bench-act    --act throttle against stock auto-converge on lab migrations
#   make sanitize     the unit tests, lmtrace, kvm_gt and a replay driver built with
#                     ASan + UBSan into $(OUTPUT)/san/ (tests/system/t_sanitize.sh runs them)
#   make install      PREFIX=/usr/local DESTDIR= (binary, man page, systemd unit)
#   V=1               show the commands
#   VMLINUX_H=path    use a pre-generated vmlinux.h instead of the running kernel's BTF
#
# Layers (README "Code map", tests/check-layers.sh): user/core is pure C on
# libc; user/record and user/io build on it, user/sinks and
# user/report on those. Each step is a library named for what it holds, and
# needs only the system libraries of its own step and those below:
#   libcore.a     core                   libc, libm
#   librecord.a   record + io            zlib (the recording codec)
#   liboutputs.a  sinks + report         libmicrohttpd (--listen), pthreads
# None needs the BPF skeleton or libbpf. user/trace is the only code that
# knows libbpf, /proc and sockets; user/cli and user/main.c wire everything.

OUTPUT     ?= .output
CC         ?= cc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
DESTDIR    ?=
# Where `make install` puts lmtrace.service: systemd's unit directory under
# PREFIX (/usr/local/lib/systemd/system and /usr/lib/systemd/system are both
# on its search path; /etc/systemd/system is the administrator's, for
# overrides). Debian's own packages use /lib/systemd/system: pass
# UNITDIR=/lib/systemd/system to install there.
UNITDIR    ?= $(PREFIX)/lib/systemd/system
BTF_VMLINUX ?= /sys/kernel/btf/vmlinux
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

pkg_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null || echo $(2))

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS   := $(call pkg_libs,libbpf,-lbpf) -lelf
# What each library needs at link time (see the top of this file).
CORE_LIBS     := -lm
RECORD_LIBS   := $(call pkg_libs,zlib,-lz)
OUTPUTS_LIBS  := $(call pkg_libs,libmicrohttpd,-lmicrohttpd) -lpthread
# jansson parses QMP's JSON in user/trace/qmp.c.
JANSSON_LIBS  := $(call pkg_libs,jansson,-ljansson)
# libvirt's C API (user/trace/libvirt.c): built only where pkg-config finds
# libvirt (Debian's libvirt-dev); elsewhere that module is left out and
# nothing else changes. LM_HAVE_LIBVIRT is defined for the code that uses it.
HAVE_LIBVIRT  := $(shell $(PKG_CONFIG) --exists libvirt 2>/dev/null && echo 1)
LIBVIRT_SRC   := user/trace/libvirt.c
ifeq ($(HAVE_LIBVIRT),1)
LIBVIRT_CFLAGS := -DLM_HAVE_LIBVIRT $(shell $(PKG_CONFIG) --cflags libvirt)
LIBVIRT_LIBS   := $(shell $(PKG_CONFIG) --libs libvirt)
endif

WARN     := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
# The project's own flags come after the user's CFLAGS, so `make CFLAGS=...` keeps them.
LM_CFLAGS = $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser
DEPFLAGS  = -MMD -MP
# lmtrace's own objects list system headers too: check-layers reads them.
USER_DEPFLAGS = -MD -MP
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
	-Iinclude -I$(OUTPUT) $(LIBBPF_CFLAGS)

# maps.bpf.c first: the linker needs the shared maps defined before their externs.
BPF_SRCS   := bpf/maps.bpf.c $(filter-out bpf/maps.bpf.c,$(wildcard bpf/*.bpf.c))
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))

obj = $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(1))
CORE_SRCS    := $(wildcard user/core/*.c)
RECORD_SRCS  := $(wildcard user/record/*.c user/io/*.c)
OUTPUTS_SRCS := $(wildcard user/sinks/*.c user/report/*.c)
LIB_SRCS     := $(CORE_SRCS) $(RECORD_SRCS) $(OUTPUTS_SRCS)
# the libvirt client is not linked into lmtrace (nothing calls it yet)
TRACE_SRCS   := $(filter-out $(LIBVIRT_SRC),$(wildcard user/trace/*.c))
CLI_SRCS     := $(wildcard user/cli/*.c) user/main.c
LIB_OBJS     := $(call obj,$(LIB_SRCS))
TRACE_OBJS   := $(call obj,$(TRACE_SRCS))
CLI_OBJS     := $(call obj,$(CLI_SRCS))
LIBVIRT_OBJ  := $(if $(HAVE_LIBVIRT),$(call obj,$(LIBVIRT_SRC)))
LIBCORE      := $(OUTPUT)/libcore.a
LIBRECORD    := $(OUTPUT)/librecord.a
LIBOUTPUTS   := $(OUTPUT)/liboutputs.a

# A program names the highest library it uses: core, record or outputs.
# $(call libs,DIR,LEVEL) are the archives in DIR it needs, highest first;
# $(call link,DIR,LEVEL) those and the system libraries, for a link line.
LIBS_core       := libcore.a
LIBS_record     := librecord.a $(LIBS_core)
LIBS_outputs    := liboutputs.a $(LIBS_record)
SYSLIBS_core    := $(CORE_LIBS)
SYSLIBS_record  := $(RECORD_LIBS) $(SYSLIBS_core)
SYSLIBS_outputs := $(OUTPUTS_LIBS) $(SYSLIBS_record)
libs = $(addprefix $(1)/,$(LIBS_$(2)))
link = $(call libs,$(1),$(2)) $(SYSLIBS_$(2))

# $(call lib_rules,DIR,OBJDIR): the three libraries in DIR, from the objects
# under OBJDIR (the sanitizer and fuzzer builds have their own).
define lib_rules
$(1)/libcore.a: $(patsubst user/%.c,$(2)/%.o,$(CORE_SRCS))
$(1)/librecord.a: $(patsubst user/%.c,$(2)/%.o,$(RECORD_SRCS))
$(1)/liboutputs.a: $(patsubst user/%.c,$(2)/%.o,$(OUTPUTS_SRCS))
$(1)/libcore.a $(1)/librecord.a $(1)/liboutputs.a:
	$$(call msg,AR,$$@)
	$$(Q)rm -f $$@ && $$(AR) rcs $$@ $$^
endef

# Unit tests that need more than libcore.a (the others link it alone).
UNIT_RECORD  := test_record test_act_traces test_estimator_traces
UNIT_OUTPUTS := test_outputs test_files test_names test_sinks test_http_hosts test_pipeline_live
unit_level = $(if $(filter $(1),$(UNIT_OUTPUTS)),outputs,$(if $(filter $(1),$(UNIT_RECORD)),record,core))
# The QMP client alone (no libbpf): the lab and its unit test link it too.
QMP_OBJ    := $(OUTPUT)/user/trace/qmp.o

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))

# Programs the tests/*/*.mk fragments add to `make test` prerequisites.
TEST_PROGS :=

.PHONY: all deps test unit libcore check-layers bench demo install uninstall clean FORCE
.DELETE_ON_ERROR:

all: $(OUTPUT)/lmtrace

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/tests:
	$(Q)mkdir -p $@

ifdef VMLINUX_H
$(OUTPUT)/vmlinux.h: $(VMLINUX_H) | $(OUTPUT)
	$(call msg,VMLINUX,$@ from $<)
	$(Q)cp $< $@
else
$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,VMLINUX,$@ from $(BTF_VMLINUX))
	$(Q)test -r $(BTF_VMLINUX) || { echo "no $(BTF_VMLINUX): this kernel has no BTF; pass VMLINUX_H=path/to/vmlinux.h" >&2; exit 1; }
	$(Q)$(BPFTOOL) btf dump file $(BTF_VMLINUX) format c > $@
endif

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/lmtrace.h $(OUTPUT)/vmlinux.h | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# All BPF units statically linked into one object, one skeleton.
$(OUTPUT)/lmtrace.bpf.o: $(BPF_OBJS)
	$(call msg,LINK-BPF,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(OUTPUT)/lmtrace.skel.h: $(OUTPUT)/lmtrace.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name lmtrace_bpf > $@

# The user objects are rebuilt when the command that builds them changes
# (check-layers needs their .d written with -MD). Expanded once, here: the
# skeleton users' extra flags are not part of it.
USER_FLAGS := $(CC) $(LM_CFLAGS) $(USER_DEPFLAGS)
$(OUTPUT)/user/.flags: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '$(USER_FLAGS)' | cmp -s - $@ || echo '$(USER_FLAGS)' > $@

# Every user object: its own headers come from -MD; only the loader needs
# the skeleton (and libbpf's flags).
$(OUTPUT)/user/%.o: user/%.c $(OUTPUT)/user/.flags
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LM_CFLAGS) $(USER_DEPFLAGS) -c $< -o $@

SKEL_USERS := $(OUTPUT)/user/trace/tracer.o $(OUTPUT)/user/trace/tracer_hooks.o
$(SKEL_USERS): LM_CFLAGS += -I$(OUTPUT) $(LIBBPF_CFLAGS)
$(SKEL_USERS): $(OUTPUT)/lmtrace.skel.h

$(LIBVIRT_OBJ): LM_CFLAGS += $(LIBVIRT_CFLAGS)

$(eval $(call lib_rules,$(OUTPUT),$(OUTPUT)/user))

libcore: $(LIBCORE) $(LIBRECORD) $(LIBOUTPUTS)

$(OUTPUT)/lmtrace: $(CLI_OBJS) $(TRACE_OBJS) $(call libs,$(OUTPUT),outputs)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LM_CFLAGS) $(LDFLAGS) $(CLI_OBJS) $(TRACE_OBJS) \
		$(LIBBPF_LIBS) $(JANSSON_LIBS) $(call link,$(OUTPUT),outputs) -o $@

# Each unit test links the libraries it needs (UNIT_RECORD, UNIT_OUTPUTS
# above; test_qmp adds the QMP client).
$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(LIBCORE) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(LM_CFLAGS) $(DEPFLAGS) -Itests/unit -Itests/lab $< $(TEST_EXTRA_OBJS) \
		$(TEST_EXTRA_LIBS) $(call link,$(OUTPUT),$(call unit_level,test_$*)) -o $@
$(addprefix $(OUTPUT)/tests/,$(UNIT_RECORD)): $(call libs,$(OUTPUT),record)
$(addprefix $(OUTPUT)/tests/,$(UNIT_OUTPUTS)): $(call libs,$(OUTPUT),outputs)

# test_qmp checks the QMP client and the lab's commands against a scripted peer.
$(OUTPUT)/tests/test_qmp: TEST_EXTRA_OBJS = $(QMP_OBJ) $(OUTPUT)/user/trace/qmp_act.o $(OUTPUT)/lab/lab_qmp.o
$(OUTPUT)/tests/test_qmp: TEST_EXTRA_LIBS = $(JANSSON_LIBS)
$(OUTPUT)/tests/test_qmp: $(QMP_OBJ) $(OUTPUT)/user/trace/qmp_act.o $(OUTPUT)/lab/lab_qmp.o

# test_procscan reads QEMU's options from a live process's /proc command line.
$(OUTPUT)/tests/test_procscan: TEST_EXTRA_OBJS = $(OUTPUT)/user/trace/procscan.o
$(OUTPUT)/tests/test_procscan: $(OUTPUT)/user/trace/procscan.o

# test_names parses the JSON lines strictly with jansson.
$(OUTPUT)/tests/test_names: TEST_EXTRA_LIBS = $(JANSSON_LIBS)

# Checks what the compiler included for every object (its .d), so the objects
# first; an optional module not built here (no libvirt) is named as such.
check-layers: $(LIB_OBJS) $(TRACE_OBJS) $(CLI_OBJS) $(LIBVIRT_OBJ)
	$(Q)CC="$(CC)" LAYER_CPPFLAGS="$(LM_CFLAGS) -I$(OUTPUT) $(LIBBPF_CFLAGS) $(LIBVIRT_CFLAGS)" \
		LAYER_UNBUILT="$(if $(HAVE_LIBVIRT),,$(LIBVIRT_SRC))" tests/check-layers.sh $(OUTPUT)

-include $(wildcard tests/*/*.mk)
-include $(shell find $(OUTPUT) -name '*.d' 2>/dev/null)

deps:
	$(Q)tests/install-deps.sh

unit: $(UNIT_BINS)

test: all check-layers $(UNIT_BINS) $(TEST_PROGS)
	$(Q)OUTPUT=$(OUTPUT) tests/run-tests.sh

# The unit runs the lmtrace installed here: its ExecStart follows PREFIX.
install: all
	install -D -m 0755 $(OUTPUT)/lmtrace $(DESTDIR)$(PREFIX)/sbin/lmtrace
	install -D -m 0644 doc/lmtrace.8 $(DESTDIR)$(PREFIX)/share/man/man8/lmtrace.8
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/sbin/lmtrace|$(PREFIX)/sbin/lmtrace|g' doc/systemd/lmtrace.service \
		> $(DESTDIR)$(UNITDIR)/lmtrace.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/lmtrace.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/lmtrace $(DESTDIR)$(PREFIX)/share/man/man8/lmtrace.8 \
		$(DESTDIR)$(UNITDIR)/lmtrace.service

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

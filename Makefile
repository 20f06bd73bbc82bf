# lmtrace — build, test and install.
#   make            build .output/lmtrace
#   make deps       install the Debian packages lmtrace needs (as root)
#   make test       build and run every test (tests/run-tests.sh)
#   make demo       a real live migration, traced live (needs root, /dev/kvm, QEMU)
#   make bench      overhead benchmarks, ratios against a run without lmtrace
#   make install    PREFIX=/usr/local DESTDIR=
#   V=1             show the commands
#   VMLINUX_H=path  use a pre-generated vmlinux.h instead of the running kernel's BTF

OUTPUT     ?= .output
CC         ?= cc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
DESTDIR    ?=
BTF_VMLINUX ?= /sys/kernel/btf/vmlinux
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS   := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf)
EXTRA_LIBS    := $(shell $(PKG_CONFIG) --libs jansson libmicrohttpd zlib 2>/dev/null || echo -ljansson -lmicrohttpd -lz) -lelf -lm

WARN    := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
CFLAGS  += $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(OUTPUT) $(LIBBPF_CFLAGS)
LDLIBS  += $(LIBBPF_LIBS) $(EXTRA_LIBS)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
	-Iinclude -I$(OUTPUT) $(LIBBPF_CFLAGS)

# maps.bpf.c first: the linker needs the shared maps defined before their externs.
BPF_SRCS  := bpf/maps.bpf.c $(filter-out bpf/maps.bpf.c,$(wildcard bpf/*.bpf.c))
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
# Everything but main(): linked into test programs too.
LIB_OBJS  := $(filter-out $(OUTPUT)/user/main.o,$(USER_OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))

# Programs other tests/*.mk fragments add to `make test` prerequisites.
TEST_PROGS :=

.PHONY: all deps test unit bench demo install uninstall clean
.DELETE_ON_ERROR:

all: $(OUTPUT)/lmtrace

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/user $(OUTPUT)/tests:
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

$(OUTPUT)/user/%.o: user/%.c $(wildcard user/*.h) include/lmtrace.h $(OUTPUT)/lmtrace.skel.h | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/lmtrace: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/test_%: tests/unit/test_%.c tests/unit/unit.h $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $< $(LIB_OBJS) $(LDLIBS) -o $@

-include $(wildcard tests/*.mk)

deps:
	$(Q)tests/install-deps.sh

unit: $(UNIT_BINS)

test: all $(UNIT_BINS) $(TEST_PROGS)
	$(Q)OUTPUT=$(OUTPUT) tests/run-tests.sh

install: all
	install -D -m 0755 $(OUTPUT)/lmtrace $(DESTDIR)$(PREFIX)/sbin/lmtrace
	test ! -f user/lmtrace.8 || install -D -m 0644 user/lmtrace.8 $(DESTDIR)$(PREFIX)/share/man/man8/lmtrace.8

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/lmtrace $(DESTDIR)$(PREFIX)/share/man/man8/lmtrace.8

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

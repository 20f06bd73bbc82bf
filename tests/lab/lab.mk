# The live-migration lab (issue 3): the bare-metal guest, the QMP-driven
# driver and its helpers, and `make demo`. Included by the top Makefile.

GUEST_CC     ?= gcc
GUEST_CFLAGS := -m32 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector \
	-mgeneral-regs-only -fno-asynchronous-unwind-tables -O2 -Wall -Wextra -std=gnu11
GUEST_ELF    := $(OUTPUT)/guest/guest.elf

$(OUTPUT)/guest:
	$(Q)mkdir -p $@

# -lgcc: 64-bit division on i386 is a libgcc call (gcc-multilib provides it).
$(GUEST_ELF): tests/guest/boot.S tests/guest/guest.c tests/guest/guest.ld | $(OUTPUT)/guest
	$(call msg,GUEST,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -no-pie -Wl,-T,tests/guest/guest.ld -Wl,--build-id=none \
		-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments tests/guest/boot.S tests/guest/guest.c -lgcc -o $@

guest: $(GUEST_ELF)

TEST_PROGS += $(GUEST_ELF)
.PHONY: guest

# The driver links user/qmp.c straight from source, so the lab builds even
# while the BPF side does not.
LAB_LIBS := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)
LAB_SRCS := tests/lab/lmlab.c tests/lab/lab_qemu.c tests/lab/lab_serial.c user/qmp.c
LMLAB    := $(OUTPUT)/lab/lmlab

$(OUTPUT)/lab:
	$(Q)mkdir -p $@

$(LMLAB): $(LAB_SRCS) $(wildcard tests/lab/*.h) user/qmp.h | $(OUTPUT)/lab
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/lab $(LAB_SRCS) $(LAB_LIBS) -o $@

lab: $(LMLAB) $(GUEST_ELF)

TEST_PROGS += $(LMLAB)
.PHONY: lab

LMCHECK := $(OUTPUT)/lab/lmcheck

$(LMCHECK): tests/lab/lmcheck.c | $(OUTPUT)/lab
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LAB_LIBS) -lm -o $@

lab: $(LMCHECK)
TEST_PROGS += $(LMCHECK)

QMP_REAL := $(OUTPUT)/lab/qmp_real

$(QMP_REAL): tests/lab/qmp_real.c tests/lab/lab_qemu.c user/qmp.c tests/unit/unit.h | $(OUTPUT)/lab
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/lab -Itests/unit tests/lab/qmp_real.c tests/lab/lab_qemu.c user/qmp.c $(LAB_LIBS) -lm -o $@

lab: $(QMP_REAL)
TEST_PROGS += $(QMP_REAL)

# make demo [DEMO=stuck|converge|autoconverge|zero]: as root, installs what is
# missing, builds, runs one migration with lmtrace's live view, cleans up.
DEMO ?= stuck
demo:
	$(Q)tests/lab/demo.sh deps
	$(Q)$(MAKE) --no-print-directory all lab
	$(Q)OUTPUT=$(OUTPUT) tests/lab/demo.sh run $(DEMO)

# The live-migration lab: the bare-metal guest, the QMP-driven driver and
# its helpers, and `make demo`. Included by the top Makefile.

GUEST_CC     ?= gcc
GUEST_CFLAGS := -m32 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector \
	-mgeneral-regs-only -fno-asynchronous-unwind-tables -O2 -Wall -Wextra -std=gnu11
GUEST_ELF    := $(OUTPUT)/guest/guest.elf

$(OUTPUT)/guest $(OUTPUT)/lab:
	$(Q)mkdir -p $@

# -lgcc: 64-bit division on i386 is a libgcc call (gcc-multilib provides it).
$(GUEST_ELF): tests/guest/boot.S tests/guest/guest.c tests/guest/guest.ld | $(OUTPUT)/guest
	$(call msg,GUEST,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -no-pie -Wl,-T,tests/guest/guest.ld -Wl,--build-id=none \
		-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments tests/guest/boot.S tests/guest/guest.c -lgcc -o $@

guest: $(GUEST_ELF)

TEST_PROGS += $(GUEST_ELF)
.PHONY: guest lab

# Lab programs: their own sources, plus lmtrace's QMP client and the core
# it sanitises text with (no libbpf needed, so the lab builds even while the
# BPF side does not).
LAB_OBJS  := $(patsubst tests/lab/%.c,$(OUTPUT)/lab/%.o,$(filter-out tests/lab/lmlab.c tests/lab/lmcheck.c tests/lab/qmp_real.c tests/lab/lm_libvirt_probe.c,$(wildcard tests/lab/*.c)))
LMLAB     := $(OUTPUT)/lab/lmlab
LMCHECK   := $(OUTPUT)/lab/lmcheck
QMP_REAL  := $(OUTPUT)/lab/qmp_real

$(OUTPUT)/lab/%.o: tests/lab/%.c | $(OUTPUT)/lab
	$(call msg,CC,$@)
	$(Q)$(CC) $(LM_CFLAGS) $(DEPFLAGS) -Itests/lab -Itests/unit -c $< -o $@

$(LMLAB): $(OUTPUT)/lab/lmlab.o $(LAB_OBJS) $(QMP_OBJ) $(LIBCORE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LM_CFLAGS) $^ $(JANSSON_LIBS) -o $@

$(QMP_REAL): $(OUTPUT)/lab/qmp_real.o $(LAB_OBJS) $(QMP_OBJ) $(LIBCORE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LM_CFLAGS) $^ $(JANSSON_LIBS) -lm -o $@

# lmcheck compares an lmtrace log with QEMU's: it shares no code with either.
$(LMCHECK): $(OUTPUT)/lab/lmcheck.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LM_CFLAGS) $^ $(JANSSON_LIBS) -lm -o $@

# lm_libvirt_probe runs lmtrace's libvirt client alone (only where libvirt is).
LV_PROBE  := $(if $(HAVE_LIBVIRT),$(OUTPUT)/lab/lm_libvirt_probe)
$(OUTPUT)/lab/lm_libvirt_probe: $(OUTPUT)/lab/lm_libvirt_probe.o $(LIBVIRT_OBJ) $(OUTPUT)/user/trace/procscan.o $(LIBCORE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LM_CFLAGS) $^ $(LIBVIRT_LIBS) -o $@

lab: $(LMLAB) $(LMCHECK) $(QMP_REAL) $(GUEST_ELF) $(LV_PROBE)
TEST_PROGS += $(LMLAB) $(LMCHECK) $(QMP_REAL) $(LV_PROBE)

# make demo [DEMO=stuck|converge|autoconverge|zero]: as root, installs what is
# missing, builds, runs one migration with lmtrace's live view, cleans up.
DEMO ?= stuck
demo:
	$(Q)tests/lab/demo.sh deps
	$(Q)$(MAKE) --no-print-directory all lab
	$(Q)OUTPUT=$(OUTPUT) tests/lab/demo.sh run $(DEMO)

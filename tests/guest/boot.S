/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Entry of the lab guest. QEMU's multiboot loader jumps here in 32-bit
 * protected mode, paging off, interrupts off, EAX = multiboot magic,
 * EBX = multiboot info; there is no stack yet. Also the interrupt stubs:
 * the guest takes only the PIT tick (to wake from hlt) and treats every
 * CPU exception as fatal.
 *
 * Interrupts are enabled only around "sti; hlt" and the stubs return with
 * "ret $8" instead of iret: on hosts where KVM runs the guest in its
 * instruction emulator (PVM, doc/host-behaviour.md), a protected-mode iret is an
 * emulation failure. Dropping CS and EFLAGS is safe because the interrupted
 * code is always the flat-CS hlt with IF about to be cleared anyway.
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000002	/* bit 1: ask for the memory map fields */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	cld
	pushl %ebx
	pushl %eax
	call guest_main
1:	cli
	hlt
	jmp 1b

/* IRQ0 (vector 32): count the tick, acknowledge the PIC, return. */
	.globl irq_timer
irq_timer:
	pushl %eax
	incl guest_ticks
	movb $0x20, %al
	outb %al, $0x20
	popl %eax
	ret $8

/* IRQ1-15 (vectors 33-47): masked, but acknowledge a stray one anyway. */
	.globl irq_other
irq_other:
	pushl %eax
	movb $0x20, %al
	outb %al, $0xa0
	outb %al, $0x20
	popl %eax
	ret $8

/* Vectors 0-31: a CPU exception here is a guest bug; report and stop. */
	.globl cpu_exception
cpu_exception:
	cli
	call guest_fatal_exception
2:	hlt
	jmp 2b

	.bss
	.align 16
	.space 16384
stack_top:

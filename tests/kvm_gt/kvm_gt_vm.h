/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * kvm_gt's virtual machine: memslots backed by anonymous memory and one vCPU
 * in flat 32-bit protected mode that writes one byte into each guest-physical
 * address of a list and halts. Driven through /dev/kvm only, like the
 * kernel's KVM selftests; errors are 0/-errno.
 */
#ifndef KVM_GT_VM_H
#define KVM_GT_VM_H

#include <stdbool.h>
#include <stdint.h>

#define GT_PAGE_SIZE	((uint64_t)4096)
#define GT_MAX_SLOTS	8

/* Guest code lives in slot 0's first page, the address list right after. */
#define GT_CODE_GPA	0x0ull
#define GT_LIST_GPA	0x1000ull
#define GT_RESERVED_PAGES 64u	/* slot 0 pages never chosen for writes */
#define GT_MAX_LIST	((GT_RESERVED_PAGES - 1) * GT_PAGE_SIZE / 4)
#define GT_WRITABLE_END	0xf0000000ull	/* guest writes stay below this gpa */

struct gt_slot {
	uint32_t id;
	uint64_t gpa;
	uint64_t size;
	uint64_t npages;
	void *host;		/* mmap'd backing memory */
	uint64_t *bitmap;	/* what KVM_GET_DIRTY_LOG returned last */
	uint64_t bitmap_words;
	uint64_t writable_first; /* first page the guest may be told to write */
	uint64_t writable_limit; /* pages from 0 the guest may write (< npages for huge slots) */
	bool always_log;	/* logging on from creation, never toggled (QEMU's VGA VRAM) */
};

struct gt_vm {
	int kvm_fd, vm_fd, vcpu_fd;
	void *run;		/* struct kvm_run */
	size_t run_size;
	bool manual_protect;
	unsigned nslots;
	struct gt_slot slots[GT_MAX_SLOTS];
};

/* Opens /dev/kvm and creates the VM; manual_protect enables
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 with INITIALLY_SET as QEMU does. */
int gt_vm_create(struct gt_vm *vm, bool manual_protect);
/* Adds a slot at gpa of size bytes (anonymous, MAP_NORESERVE), logging off
 * until gt_vm_set_logging(), or on from creation with always_log. */
int gt_vm_add_slot(struct gt_vm *vm, uint64_t gpa, uint64_t size, bool always_log);
/* Creates the vCPU and loads the guest code into slot 0 (must cover gpa 0). */
int gt_vm_setup_vcpu(struct gt_vm *vm);
/* Re-issues KVM_SET_USER_MEMORY_REGION for every slot but the always_log
 * ones with or without KVM_MEM_LOG_DIRTY_PAGES (QEMU's migration start /
 * cancel). */
int gt_vm_set_logging(struct gt_vm *vm, bool on);
/* Runs the guest until it halts, writing one byte at each of gpas[0..n). */
int gt_vm_write_pages(struct gt_vm *vm, const uint32_t *gpas, uint32_t n);
/* KVM_GET_DIRTY_LOG of one slot into slot->bitmap. */
int gt_vm_get_dirty_log(struct gt_vm *vm, unsigned idx);
/* KVM_CLEAR_DIRTY_LOG of the bits slot->bitmap holds (manual protect). */
int gt_vm_clear_dirty_log(struct gt_vm *vm, unsigned idx);
void gt_vm_destroy(struct gt_vm *vm);

uint64_t gt_bitmap_popcount(const uint64_t *bm, uint64_t words);

#endif

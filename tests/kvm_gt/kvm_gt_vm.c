// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kvm_gt's VM: /dev/kvm driven directly, as the kernel's KVM selftests do.
 *
 * The vCPU runs in flat 32-bit protected mode without paging, so a guest
 * physical address below 4 GiB is just a pointer: the guest reads a list of
 * addresses from slot 0 and writes one byte to each. Guest reads and host
 * writes through the mapping never set dirty bits, so the only bits KVM
 * reports are the guest writes the host asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_gt_vm.h"

/*
 * esi = address list, ecx = entries:
 *	jecxz done
 * top:	mov eax, [esi]
 *	mov byte [eax], 0x5a
 *	add esi, 4
 *	dec ecx
 *	jnz top
 * done: hlt
 */
static const uint8_t guest_code[] = {
	0xe3, 0x0b,
	0x8b, 0x06,
	0xc6, 0x00, 0x5a,
	0x83, 0xc6, 0x04,
	0x49,
	0x75, 0xf5,
	0xf4,
};

static int kvm_ioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	if (ioctl(fd, cmd, arg) < 0) {
		int err = -errno;

		fprintf(stderr, "kvm_gt: %s failed: %s\n", what, strerror(errno));
		return err;
	}
	return 0;
}

uint64_t gt_bitmap_popcount(const uint64_t *bm, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(bm[i]);
	return n;
}

int gt_vm_create(struct gt_vm *vm, bool manual_protect)
{
	int err;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = vm->vcpu_fd = -1;
	vm->manual_protect = manual_protect;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		err = -errno;
		fprintf(stderr, "kvm_gt: cannot open /dev/kvm: %s\n", strerror(errno));
		return err;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err = -errno;
		fprintf(stderr, "kvm_gt: KVM_CREATE_VM failed: %s\n", strerror(errno));
		return err;
	}
	if (manual_protect) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
				   KVM_DIRTY_LOG_INITIALLY_SET,
		};

		err = kvm_ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap,
				"KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2)");
		if (err)
			return err;
	}
	return 0;
}

int gt_vm_add_slot(struct gt_vm *vm, uint64_t gpa, uint64_t size, bool always_log)
{
	struct gt_slot *s;
	int err;

	if (vm->nslots >= GT_MAX_SLOTS || size % GT_PAGE_SIZE || gpa % GT_PAGE_SIZE)
		return -EINVAL;
	s = &vm->slots[vm->nslots];
	s->id = vm->nslots;
	s->gpa = gpa;
	s->size = size;
	s->npages = size / GT_PAGE_SIZE;
	s->always_log = always_log;
	s->writable_first = gpa == 0 ? GT_RESERVED_PAGES : 0;
	s->writable_limit = s->npages;
	/* The guest writes through 32-bit pointers, and stays out of the MMIO
	 * hole below 4 GiB (IOAPIC, LAPIC) in case a host maps something there. */
	if (gpa + size > GT_WRITABLE_END)
		s->writable_limit = gpa < GT_WRITABLE_END ?
			(GT_WRITABLE_END - gpa) / GT_PAGE_SIZE : 0;
	s->bitmap_words = (s->npages + 63) / 64;
	/* NORESERVE: a huge sparse slot costs only the pages the guest touches. */
	s->host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->host == MAP_FAILED) {
		err = -errno;
		s->host = NULL;
		fprintf(stderr, "kvm_gt: mmap of %llu MiB failed: %s\n",
			(unsigned long long)(size >> 20), strerror(errno));
		return err;
	}
	s->bitmap = calloc(s->bitmap_words, sizeof(uint64_t));
	if (!s->bitmap)
		return -ENOMEM;
	vm->nslots++;
	return 0;
}

static int set_slot(struct gt_vm *vm, const struct gt_slot *s, uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = s->id,
		.flags = flags,
		.guest_phys_addr = s->gpa,
		.memory_size = s->size,
		.userspace_addr = (uintptr_t)s->host,
	};

	return kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r,
			 "KVM_SET_USER_MEMORY_REGION");
}

int gt_vm_set_logging(struct gt_vm *vm, bool on)
{
	for (unsigned i = 0; i < vm->nslots; i++) {
		int err;

		if (vm->slots[i].always_log)
			continue;
		err = set_slot(vm, &vm->slots[i], on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
		if (err)
			return err;
	}
	return 0;
}

static void flat_segment(struct kvm_segment *seg, uint16_t selector, uint8_t type)
{
	memset(seg, 0, sizeof(*seg));
	seg->base = 0;
	seg->limit = 0xffffffff;
	seg->selector = selector;
	seg->type = type;
	seg->present = 1;
	seg->s = 1;
	seg->db = 1;
	seg->g = 1;
}

int gt_vm_setup_vcpu(struct gt_vm *vm)
{
	struct kvm_sregs sregs;
	int err, size;

	if (!vm->nslots || vm->slots[0].gpa != 0 ||
	    vm->slots[0].npages < GT_RESERVED_PAGES)
		return -EINVAL;
	/* The slots exist now (logging off), as QEMU creates them at boot. */
	for (unsigned i = 0; i < vm->nslots; i++) {
		err = set_slot(vm, &vm->slots[i],
			       vm->slots[i].always_log ? KVM_MEM_LOG_DIRTY_PAGES : 0);
		if (err)
			return err;
	}
	memcpy(vm->slots[0].host, guest_code, sizeof(guest_code));

	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0) {
		err = -errno;
		fprintf(stderr, "kvm_gt: KVM_CREATE_VCPU failed: %s\n", strerror(errno));
		return err;
	}
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0) {
		err = size < 0 ? -errno : -EINVAL;
		fprintf(stderr, "kvm_gt: KVM_GET_VCPU_MMAP_SIZE failed\n");
		return err;
	}
	vm->run_size = (size_t)size;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		err = -errno;
		vm->run = NULL;
		fprintf(stderr, "kvm_gt: mmap of kvm_run failed: %s\n", strerror(errno));
		return err;
	}

	err = kvm_ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	if (err)
		return err;
	flat_segment(&sregs.cs, 0x08, 0x0b);	/* code, execute/read, accessed */
	flat_segment(&sregs.ds, 0x10, 0x03);	/* data, read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 |= 1;				/* PE, no paging */
	return kvm_ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
}

int gt_vm_write_pages(struct gt_vm *vm, const uint32_t *gpas, uint32_t n)
{
	struct kvm_run *run = vm->run;
	struct kvm_regs regs;
	int err;

	if (n == 0)
		return 0;
	if (n > GT_MAX_LIST)
		return -E2BIG;
	/* Host writes to guest memory are not dirty-logged: the list is free. */
	memcpy((char *)vm->slots[0].host + GT_LIST_GPA, gpas, n * sizeof(*gpas));

	memset(&regs, 0, sizeof(regs));
	regs.rip = GT_CODE_GPA;
	regs.rsi = GT_LIST_GPA;
	regs.rcx = n;
	regs.rflags = 0x2;
	err = kvm_ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS");
	if (err)
		return err;
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			fprintf(stderr, "kvm_gt: KVM_RUN failed: %s\n", strerror(errno));
			return err;
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			return 0;
		fprintf(stderr, "kvm_gt: guest exited with reason %u instead of HLT\n",
			run->exit_reason);
		return -EIO;
	}
}

int gt_vm_get_dirty_log(struct gt_vm *vm, unsigned idx)
{
	struct gt_slot *s = &vm->slots[idx];
	struct kvm_dirty_log log = { .slot = s->id, .dirty_bitmap = s->bitmap };

	return kvm_ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log, "KVM_GET_DIRTY_LOG");
}

int gt_vm_clear_dirty_log(struct gt_vm *vm, unsigned idx)
{
	struct gt_slot *s = &vm->slots[idx];
	/* One call for the whole slot, as QEMU does per cleared chunk. */
	struct kvm_clear_dirty_log clr = {
		.slot = s->id,
		.first_page = 0,
		.num_pages = (uint32_t)s->npages,
		.dirty_bitmap = s->bitmap,
	};

	if (s->npages > UINT32_MAX)
		return -E2BIG;
	return kvm_ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr, "KVM_CLEAR_DIRTY_LOG");
}

void gt_vm_destroy(struct gt_vm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	for (unsigned i = 0; i < vm->nslots; i++) {
		munmap(vm->slots[i].host, vm->slots[i].size);
		free(vm->slots[i].bitmap);
	}
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
}

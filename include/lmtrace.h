/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lmtrace BPF <-> user-space ABI.
 *
 * Everything here is shared byte for byte between bpf/ and user/: fixed-width
 * types only, no pointers, no long, no bool; every record's size is asserted.
 */
#ifndef LMTRACE_H
#define LMTRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* KVM ioctl numbers (low 32 bits of the cmd argument: doc/host-behaviour.md). */
#define LM_KVM_GET_DIRTY_LOG		0x4010ae42u /* _IOW(KVMIO, 0x42, struct kvm_dirty_log) */
#define LM_KVM_CLEAR_DIRTY_LOG		0xc018aec0u /* _IOWR(KVMIO, 0xc0, struct kvm_clear_dirty_log) */
#define LM_KVM_SET_USER_MEMORY_REGION	0x4020ae46u /* _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region) */
#define LM_KVM_SET_USER_MEMORY_REGION2	0x40a0ae49u /* _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2) */
#define LM_KVM_RESET_DIRTY_RINGS	0x0000aec7u /* _IO(KVMIO, 0xc7) */
#define LM_KVM_MEM_LOG_DIRTY_PAGES	1u

/* Memslot ids as the ioctls carry them: address space in bits 16..31. */
#define LM_SLOT_ID(slot)	((slot) & 0xffffu)
#define LM_SLOT_AS(slot)	((slot) >> 16)

/* Most memslots per VM we track (QEMU uses ~10; KVM allows 32764). */
#define LM_MAX_SLOTS_PER_VM	512
/* Most VMs (processes) traced at once. */
#define LM_MAX_VMS		64
/* CPUs summed in BPF when a harvest snapshots the per-CPU counters. */
#define LM_MAX_CPUS		1024
/* Most migration sockets tracked at once (multifd uses up to 255 channels). */
#define LM_MAX_SOCKS		1024

/*
 * Bitmap counting budget: up to this many bitmap bytes per GET are counted
 * exactly (2 MiB = a 64 GiB slot); bigger bitmaps are sampled (one 4 KiB
 * block in N, scaled) so the time spent inside the VMM's ioctl, which in the
 * final sync is downtime, stays bounded. Blocks of 4 KiB (a page of bitmap,
 * one read each) took half the time of 512-byte blocks per sync at 16 and
 * 64 GiB (doc/host-behaviour.md).
 */
#define LM_BITMAP_BLOCK		4096u
#define LM_BITMAP_EXACT_MAX	(2u << 20)
#define LM_BITMAP_MAX_BLOCKS	(LM_BITMAP_EXACT_MAX / LM_BITMAP_BLOCK)

/* Event kinds sent through the ring buffer (rare events only). */
enum lm_event_kind {
	LM_EV_GET_DIRTY_LOG = 1,	/* one memslot harvested */
	LM_EV_SET_MEMSLOT = 2,		/* memslot (re)configured */
	LM_EV_RESET_RINGS = 3,		/* dirty-ring harvest (ring mode round) */
	LM_EV_SOCK_STATE = 4,		/* traced VMM socket: first send (newstate 0) or TCP state change */
	LM_EV_SOCK_BYTES = 5,		/* made by user space: a socket's byte count, each tick */
	LM_EV_LOG_STATE = 6,		/* made by user space: the VM's dirty logging, as KVM has it */
};

/*
 * A stream socket's part in the migration. User space decides (the
 * migration's own connections, whatever their family) and tells BPF through
 * the sock_roles map; --port decides in BPF. Only MIGRATION sockets' bytes
 * go into lm_vm_counters.tx_bytes.
 */
enum lm_sock_role {
	LM_SOCK_UNDECIDED = 0,
	LM_SOCK_MIGRATION = 1,
	LM_SOCK_OTHER = 2,
};

/* Flags of LM_EV_GET_DIRTY_LOG. */
#define LM_GET_CLEARED_SINCE_LAST	(1u << 0) /* a CLEAR touched the slot since its previous GET */
#define LM_GET_SAMPLED			(1u << 1) /* bitmap too large: popcount scaled from a sample */
#define LM_GET_NOT_COUNTED		(1u << 2) /* first harvest after logging was enabled: all pages */
#define LM_GET_SIZE_FROM_KERNEL		(1u << 3) /* npages read from KVM's own memslot */
#define LM_GET_SIZE_UNKNOWN		(1u << 4) /* slot size unknown: nothing counted */
#define LM_GET_READ_FAILED		(1u << 5) /* reading the bitmap from the VMM failed */
#define LM_GET_MANUAL_PROTECT		(1u << 6) /* KVM says: manual protect (GET does not clear) */

struct lm_event {
	__u32 kind;		/* enum lm_event_kind */
	__u32 pid;		/* tgid of the VMM */
	__u32 tid;		/* thread that made the call */
	__u32 flags;
	__u64 ts_ns;		/* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	union {
		struct {
			__u32 slot;		/* as_id << 16 | id */
			__u32 mem_flags;	/* KVM_MEM_* of the slot, if known */
			__u64 npages;		/* slot size in pages */
			__u64 dirty_pages;	/* set bits in the returned bitmap */
			__u64 count_ns;		/* time spent counting in BPF */
			__u64 call_ns;		/* time the ioctl itself took */
			__u64 tx_total;		/* VM's tx_bytes counter (all CPUs) at the call */
			__u64 ring_total;	/* VM's ring_pushes counter (all CPUs) at the call */
			__u64 vm_pages;		/* pages in all the VM's memslots (KVM's count), 0 if unknown */
		} get;			/* also LM_EV_RESET_RINGS (slot unused) */
		struct {
			__u32 slot;
			__u32 mem_flags;	/* KVM_MEM_* */
			__u64 guest_phys_addr;
			__u64 memory_size;
			__u64 tx_total;		/* VM's tx_bytes counter at the call */
		} set;
		struct {
			__u64 sk;		/* socket identity (kernel address, compared only) */
			__u64 bytes;		/* bytes the traced process sent on it */
			__u16 family;		/* AF_INET, AF_INET6, AF_UNIX */
			__u16 sport;
			__u16 dport;
			__u16 role;		/* enum lm_sock_role, as BPF knows it */
			__u32 oldstate;		/* TCP states; 0/0 on the first send */
			__u32 newstate;
			__u8 saddr[16];
			__u8 daddr[16];
			__u64 ino;		/* the socket's inode number (socket:[ino] in /proc/PID/fd) */
			__u64 tx_total;		/* the VM's tx_bytes counter (all CPUs) at the event */
			__u64 last_send_ns;	/* its last send (bpf_ktime_get_ns) */
		} sock;
		struct {
			__u64 vm_pages;		/* as struct lm_vm_file */
			__u64 ram_pages;
			__u64 logged_pages;
			__u64 prev_ns;		/* the previous reading of this VM, 0 if none */
			__u32 hooks;		/* 1 if the dirty-log hooks were attached since prev_ns */
		} log;
	};
};
_Static_assert(sizeof(struct lm_event) == 112, "lm_event layout");

/* Hot per-VM counters, per CPU; user space sums them. */
struct lm_vm_counters {
	__u64 tx_bytes;		/* bytes sent on the migration's connections (LM_SOCK_MIGRATION) */
	__u64 tx_calls;
	__u64 acked_bytes;	/* delta of snd_una seen by tcp:tcp_probe */
	__u64 dirty_events;	/* continuous source: pages marked dirty (not unique) */
	__u64 ring_pushes;	/* dirty-ring entries pushed */
	__u64 get_calls;	/* KVM_GET_DIRTY_LOG returned 0 */
	__u64 clear_calls;
	__u64 bitmap_bytes;	/* bitmap bytes counted in BPF */
	__u64 count_ns;		/* time spent counting bitmaps */
	__u64 last_srtt_us;	/* last srtt seen (not summed; max over CPUs by ts) */
	__u64 last_cwnd;
	__u64 last_probe_ns;
	__u64 tx_other_bytes;	/* bytes on the VMM's other stream sockets (VNC, QMP, NBD, ...) */
	__u64 lost_events;	/* its events the ring buffer had no room for */
};
_Static_assert(sizeof(struct lm_vm_counters) == 112, "lm_vm_counters layout");

/*
 * Per-VM state that is not a counter (one copy, not per CPU), written only
 * by BPF once user space made the entry: a whole-entry update from user
 * space would undo BPF's writes made meanwhile.
 */
struct lm_vm_state {
	__u64 event_tokens;	/* ring-buffer events it may still send (LM_EVENTS_PER_S refills) */
	__u64 tokens_ns;	/* when they were last refilled */
	__u64 last_get_ns;	/* its last KVM_GET_DIRTY_LOG */
};
_Static_assert(sizeof(struct lm_vm_state) == 24, "lm_vm_state layout");

/*
 * Ring-buffer events one VM may send: LM_EVENTS_PER_S a second, in bursts of
 * LM_EVENTS_BURST. QEMU sends one per memslot per sync (a few hundred a
 * second even at 100 ms rounds and 512 slots); a process that floods
 * KVM_GET_DIRTY_LOG cannot fill the ring and make other VMs lose theirs.
 */
#define LM_EVENTS_PER_S		20000u
#define LM_EVENTS_BURST		8192u

/*
 * A socket that starts sending this soon after dirty logging was switched
 * on is counted as the migration's from its first byte (QEMU connects,
 * switches logging on and syncs within milliseconds; multifd channels follow
 * within a second). User space confirms it by what it carries.
 */
#define LM_LOG_ON_WINDOW_NS	(5ull * 1000 * 1000 * 1000)

/* A harvest burst ends when a slot is read again, or after this gap. */
#define LM_BURST_GAP_NS		(50ull * 1000 * 1000)

/*
 * One KVM VM file of a process, as the discovery iterator (iter/task_file)
 * reports it: found and read without any syscall hook attached. Pages are
 * of address space 0 (address space 1, x86 SMM, aliases RAM).
 */
struct lm_vm_file {
	__u32 tgid;
	__u32 fd;
	__u64 vm_id;		/* the VM's struct kvm address: compared, never used */
	__u64 vm_pages;		/* KVM's nr_memslot_pages (all address spaces) */
	__u64 ram_pages;	/* pages in its address-space-0 memslots */
	__u64 logged_pages;	/* of those, in slots with KVM_MEM_LOG_DIRTY_PAGES */
	__u32 nslots;
	__u32 nlogged;		/* slots with logging on */
};
_Static_assert(sizeof(struct lm_vm_file) == 48, "lm_vm_file layout");

/* Global drop counters (per CPU array, index 0). */
struct lm_drops {
	__u64 ringbuf_full;	/* events lost because the ring buffer was full */
	__u64 pending_full;	/* ioctl entries not remembered (map full) */
	__u64 slot_map_full;
	__u64 sock_map_full;
};
_Static_assert(sizeof(struct lm_drops) == 32, "lm_drops layout");

/* Key of the per-VM slot map. */
struct lm_slot_key {
	__u32 pid;
	__u32 slot;
};

struct lm_slot_info {
	__u64 npages;
	__u32 mem_flags;
	__u32 state;		/* LM_SLOT_* below */
};
#define LM_SLOT_CLEARED_SINCE_GET	(1u << 0)
#define LM_SLOT_FRESH_LOG		(1u << 1) /* logging just enabled: next GET is all-ones */

#endif /* LMTRACE_H */

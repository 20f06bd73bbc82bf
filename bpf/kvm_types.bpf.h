/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The slice of KVM's types lmtrace reads; CO-RE finds them in vmlinux or
 * kvm.ko BTF. A memslot is reached through its address space's id_hash
 * (128 buckets, chained through id_node[node_idx]: KVM keeps two copies of
 * every memslot set and node_idx says which one is live).
 */
#ifndef LM_KVM_TYPES_BPF_H
#define LM_KVM_TYPES_BPF_H

#include <bpf/bpf_core_read.h>

struct kvm_memory_slot___lm {
	struct hlist_node id_node[2];
	unsigned long npages;
	__u32 flags;
	short id;
} __attribute__((preserve_access_index));

struct kvm_memslots___lm {
	struct hlist_head id_hash[128];
	int node_idx;
} __attribute__((preserve_access_index));

struct kvm___lm {
	unsigned long nr_memslot_pages;
	struct kvm_memslots___lm *memslots[2];
	__u64 manual_dirty_log_protect;	/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 flags, 5.6+ */
} __attribute__((preserve_access_index));

/* 1 if the VMM enabled manual protect: GET does not clear, CLEAR does. */
static __always_inline int lm_manual_protect(struct kvm___lm *kvm)
{
	if (!bpf_core_field_exists(kvm->manual_dirty_log_protect))
		return 0;
	return BPF_CORE_READ(kvm, manual_dirty_log_protect) != 0;
}

#define GOLDEN_RATIO_32 0x61C88647u
#define ID_HASH_BITS 7
#define ID_HASH_BUCKETS (1u << ID_HASH_BITS)
/* KVM allows 509 user slots per address space: 16 per bucket is ample. */
#define ID_CHAIN_MAX 16

/* The memslot a hash-chain node belongs to. */
static __always_inline struct kvm_memory_slot___lm *lm_slot_of_node(struct hlist_node *node,
								  int node_idx)
{
	__u32 id_node_off = bpf_core_field_offset(struct kvm_memory_slot___lm, id_node);

	return (void *)((char *)node - id_node_off - node_idx * sizeof(struct hlist_node));
}

#endif /* LM_KVM_TYPES_BPF_H */

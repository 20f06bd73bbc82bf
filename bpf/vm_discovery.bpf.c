// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Finding VMs and their dirty-logging state with no syscall hook: a BPF
 * iterator over every task's open files (or one process's, when user space
 * filters by pid) writes one struct lm_vm_file per KVM VM file. Reading the
 * iterator costs only lmtrace; nothing else on the host pays for it.
 */
#include "maps.bpf.h"
#include "kvm_types.bpf.h"

/* KVM names its VM files "kvm-vm" (anon_inode:kvm-vm in /proc/PID/fd). */
static __always_inline int is_kvm_vm_file(struct file *file)
{
	const unsigned char *name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	char buf[8] = {};

	if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) != 7)
		return 0;
	return buf[0] == 'k' && buf[1] == 'v' && buf[2] == 'm' && buf[3] == '-' &&
	       buf[4] == 'v' && buf[5] == 'm';
}

struct slot_walk {
	struct kvm_memslots___lm *ms;
	int node_idx;
	struct lm_vm_file *out;
};

/* One id_hash bucket of address space 0: its slots' pages and logging flags. */
static long walk_bucket(__u32 bucket, void *data)
{
	struct slot_walk *w = data;
	struct kvm_memslots___lm *ms = w->ms;
	struct hlist_node *node;
	int i;

	node = BPF_CORE_READ(ms, id_hash[bucket & (ID_HASH_BUCKETS - 1)].first);
	for (i = 0; i < ID_CHAIN_MAX && node; i++) {
		struct kvm_memory_slot___lm *s = lm_slot_of_node(node, w->node_idx);
		__u64 npages = BPF_CORE_READ(s, npages);

		w->out->nslots++;
		w->out->ram_pages += npages;
		if (BPF_CORE_READ(s, flags) & LM_KVM_MEM_LOG_DIRTY_PAGES) {
			w->out->nlogged++;
			w->out->logged_pages += npages;
		}
		node = BPF_CORE_READ(node, next);
	}
	return 0;
}

SEC("iter/task_file")
int find_kvm_vms(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct lm_vm_file rec = {};
	struct slot_walk w = { .out = &rec };
	struct kvm_memslots___lm *ms;
	struct kvm___lm *kvm;

	if (!task || !file || !is_kvm_vm_file(file))
		return 0;
	kvm = BPF_CORE_READ(file, private_data);
	if (!kvm)
		return 0;
	rec.tgid = BPF_CORE_READ(task, tgid);
	rec.fd = ctx->fd;
	rec.vm_id = (__u64)kvm;
	rec.vm_pages = BPF_CORE_READ(kvm, nr_memslot_pages);
	ms = BPF_CORE_READ(kvm, memslots[0]);
	if (ms) {
		w.ms = ms;
		w.node_idx = BPF_CORE_READ(ms, node_idx) & 1;
		bpf_loop(ID_HASH_BUCKETS, walk_bucket, &w, 0);
	}
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

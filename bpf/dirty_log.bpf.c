// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Dirty logging, seen from the VMM's ioctls.
 *
 * A sync round is a burst of KVM_GET_DIRTY_LOG calls (one per memslot). At
 * the ioctl's exit the bitmap KVM just copied to the VMM is counted (popcount
 * read from the VMM's memory): that is the exact number of unique pages
 * dirtied since the slot was last harvested. Memslot sizes come from
 * KVM_SET_USER_MEMORY_REGION, or, for slots configured before lmtrace
 * attached, from KVM's own memslot reached through the VM's file.
 */
#include "maps.bpf.h"
#include "kvm_types.bpf.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/* One ioctl in flight per thread, remembered from enter to exit. */
struct pending_ioctl {
	__u64 arg;
	__u64 enter_ns;
	__u64 kvm;		/* the VM, where the hook gets its file; else found from fd */
	__u32 cmd;
	__u32 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);	/* tid */
	__type(value, struct pending_ioctl);
} pending SEC(".maps");

/* Memslots of traced VMs, keyed by (tgid, as_id << 16 | id). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LM_MAX_VMS * LM_MAX_SLOTS_PER_VM);
	__type(key, struct lm_slot_key);
	__type(value, struct lm_slot_info);
} slots SEC(".maps");

/* One block (LM_BITMAP_BLOCK bytes) of a dirty bitmap. */
struct bitmap_block {
	__u64 words[LM_BITMAP_BLOCK / 8];
};

/* Where bitmap blocks are copied to be counted. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bitmap_block);
} bitmap_buf SEC(".maps");

/* The VM's struct kvm: the private data of the file behind the ioctl's fd. */
static __always_inline struct kvm___lm *vm_of_fd(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fdt, *file;

	if (fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt[fd & 0xfffff]) || !file)
		return NULL;
	return BPF_CORE_READ(file, private_data);
}

/* Size and flags of a memslot, read from KVM itself. */
static __always_inline int kernel_memslot(struct kvm___lm *kvm, __u32 slot, struct lm_slot_info *out)
{
	__u32 as_id = LM_SLOT_AS(slot), id = LM_SLOT_ID(slot), bucket;
	struct kvm_memslots___lm *ms;
	struct hlist_node *node;
	int node_idx, i;

	if (as_id == 0)
		ms = BPF_CORE_READ(kvm, memslots[0]);
	else if (as_id == 1 && bpf_core_field_size(kvm->memslots) >= 2 * sizeof(void *))
		ms = BPF_CORE_READ(kvm, memslots[1]);
	else
		return -1;
	if (!ms)
		return -1;
	node_idx = BPF_CORE_READ(ms, node_idx) & 1;
	bucket = (id * GOLDEN_RATIO_32) >> (32 - ID_HASH_BITS);
	node = BPF_CORE_READ(ms, id_hash[bucket & (ID_HASH_BUCKETS - 1)].first);
	for (i = 0; i < ID_CHAIN_MAX && node; i++) {
		struct kvm_memory_slot___lm *s = lm_slot_of_node(node, node_idx);

		if ((__u32)(__u16)BPF_CORE_READ(s, id) == id) {
			out->npages = BPF_CORE_READ(s, npages);
			out->mem_flags = BPF_CORE_READ(s, flags);
			out->state = 0;
			return 0;
		}
		node = BPF_CORE_READ(node, next);
	}
	return -1;
}

/*
 * Counting walks the bitmap in 4 KiB blocks (one read each: fewer, larger
 * reads are cheaper), one bpf_loop callback each with a branch-free popcount
 * loop (a branch per word is more than the verifier will walk), what is left
 * in 512-byte blocks, then the few words of a short tail one by one.
 */
#define BLOCK_BYTES	LM_BITMAP_BLOCK
#define BLOCK_WORDS	(BLOCK_BYTES / 8)
#define SMALL_BYTES	512
#define SMALL_WORDS	(SMALL_BYTES / 8)

struct count_ctx {
	__u64 src;		/* bitmap in the VMM's memory */
	__u64 step;		/* count one block in `step` */
	__u64 tail;		/* first byte after the whole blocks */
	__u64 words_at;		/* first byte after the small blocks */
	__u64 total;		/* set bits found */
	__u64 counted;		/* blocks counted */
	int failed;
};

/*
 * A global function is verified once, on its own: callers see only "returns
 * a scalar", so the running total does not make the verifier walk callers'
 * loops again and again.
 */
__noinline int popcount_block(const struct bitmap_block *b)
{
	__u64 any = 0;
	__u32 j, total = 0;

	if (!b)
		return 0;
	/* Dirty bitmaps are mostly zeros: one OR per word finds the empty blocks. */
	for (j = 0; j < BLOCK_WORDS; j++)
		any |= b->words[j];
	if (!any)
		return 0;
	for (j = 0; j < BLOCK_WORDS; j++)
		total += __builtin_popcountll(b->words[j]);
	return total;
}

__noinline int popcount_small(const struct bitmap_block *b)
{
	__u64 any = 0;
	__u32 j, total = 0;

	if (!b)
		return 0;
	for (j = 0; j < SMALL_WORDS; j++)
		any |= b->words[j];
	if (!any)
		return 0;
	for (j = 0; j < SMALL_WORDS; j++)
		total += __builtin_popcountll(b->words[j]);
	return total;
}

static long count_small(__u32 i, void *data)
{
	struct count_ctx *c = data;
	struct bitmap_block *b;
	__u32 zero = 0;

	b = bpf_map_lookup_elem(&bitmap_buf, &zero);
	if (!b)
		return 1;
	if (bpf_probe_read_user(b, SMALL_BYTES, (void *)(c->src + c->tail + (__u64)i * SMALL_BYTES))) {
		c->failed = 1;
		return 1;
	}
	c->total += popcount_small(b);
	return 0;
}

static long count_block(__u32 i, void *data)
{
	struct count_ctx *c = data;
	struct bitmap_block *b;
	__u32 zero = 0;
	__u64 off;

	b = bpf_map_lookup_elem(&bitmap_buf, &zero);
	if (!b)
		return 1;
	/* sampling: one block (a page of bitmap) in `step` */
	off = (__u64)i * c->step * BLOCK_BYTES;
	if (bpf_probe_read_user(b, BLOCK_BYTES, (void *)(c->src + off))) {
		c->failed = 1;
		return 1;
	}
	c->total += popcount_block(b);
	c->counted++;
	return 0;
}

static long count_tail_word(__u32 i, void *data)
{
	struct count_ctx *c = data;
	__u64 word;

	if (bpf_probe_read_user(&word, sizeof(word), (void *)(c->src + c->words_at + i * 8))) {
		c->failed = 1;
		return 1;
	}
	c->total += __builtin_popcountll(word);
	return 0;
}

/*
 * Zero the verifier cannot see through: counters that start from a known 0
 * become 1, 2, 3... constants, and a bpf_loop callback whose state never
 * repeats is verified once per iteration until the 1M-instruction limit.
 */
volatile __u64 opaque_zero;

/* Unique dirty pages in a harvested bitmap; sampled and scaled when huge. */
static __always_inline __u64 count_bitmap(__u64 src, __u64 npages, __u32 *flags)
{
	struct count_ctx c = { .src = src, .step = 1 };
	__u64 bytes = ((npages + 63) / 64) * 8;	/* KVM rounds bitmaps to longs */
	__u64 blocks = bytes / BLOCK_BYTES, tail_total, nloop, small;

	c.tail = blocks * BLOCK_BYTES;
	small = (bytes - c.tail) / SMALL_BYTES;
	c.words_at = c.tail + small * SMALL_BYTES;
	c.total = opaque_zero;
	c.counted = opaque_zero;
	bpf_loop(small, count_small, &c, 0);
	bpf_loop((bytes - c.words_at) / 8, count_tail_word, &c, 0);
	tail_total = c.total;
	c.total = opaque_zero;
	nloop = blocks;
	if (blocks > LM_BITMAP_MAX_BLOCKS) {
		c.step = (blocks + LM_BITMAP_MAX_BLOCKS - 1) / LM_BITMAP_MAX_BLOCKS;
		nloop = (blocks + c.step - 1) / c.step;
		*flags |= LM_GET_SAMPLED;
	}
	bpf_loop(nloop, count_block, &c, 0);
	if (c.failed)
		*flags |= LM_GET_READ_FAILED;
	if (c.step > 1 && c.counted)
		c.total = c.total * blocks / c.counted;
	return c.total + tail_total;
}

/* Remembers a traced VMM's dirty-log ioctl until its exit; 0 = not one. */
static __always_inline int ioctl_enter(__u32 fd, __u32 cmd, __u64 arg, __u64 kvm)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct pending_ioctl p;
	struct lm_drops *d;

	/* Cheapest test first: with syscall hooks this runs for every ioctl on the host. */
	if (cmd != LM_KVM_GET_DIRTY_LOG && cmd != LM_KVM_CLEAR_DIRTY_LOG &&
	    cmd != LM_KVM_SET_USER_MEMORY_REGION && cmd != LM_KVM_SET_USER_MEMORY_REGION2 &&
	    cmd != LM_KVM_RESET_DIRTY_RINGS)
		return 0;
	if (!lm_is_traced(id >> 32))
		return 0;
	p.arg = arg;
	p.cmd = cmd;
	p.fd = fd;
	p.kvm = kvm;
	p.enter_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY)) {
		d = lm_drops();
		if (d)
			d->pending_full++;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ioctl")
int handle_kvm_ioctl_enter(struct trace_event_raw_sys_enter *ctx)
{
	return ioctl_enter((__u32)ctx->args[0], (__u32)ctx->args[1], ctx->args[2], 0);
}

/* KVM's own VM ioctl handler, where the kernel allows: only KVM pays. */
SEC("fentry/kvm_vm_ioctl")
int BPF_PROG(handle_kvm_vm_ioctl_fentry, struct file *filp, unsigned int ioctl, unsigned long arg)
{
	return ioctl_enter(0, ioctl, arg, (__u64)BPF_CORE_READ(filp, private_data));
}

SEC("kprobe/kvm_vm_ioctl")
int BPF_KPROBE(handle_kvm_vm_ioctl_kprobe, struct file *filp, unsigned int ioctl, unsigned long arg)
{
	return ioctl_enter(0, ioctl, arg, (__u64)BPF_CORE_READ(filp, private_data));
}

/* A harvest more than a burst gap after the VM's previous one. */
static __always_inline int first_of_burst(__u32 tgid, __u64 now)
{
	struct lm_vm_state *vs = bpf_map_lookup_elem(&vm_state, &tgid);
	int first;

	if (!vs)
		return 1;
	first = now - vs->last_get_ns > LM_BURST_GAP_NS;
	vs->last_get_ns = now;
	return first;
}

/*
 * The harvested slot's size and state into cur: remembered, else read from
 * KVM (set up before we attached: remembered for the next rounds); -1 if
 * neither. The state that lasts until a harvest is reset.
 */
static __always_inline int slot_of_get(struct kvm___lm *kvm, struct lm_slot_key *key,
				       struct lm_slot_info *cur, __u32 *flags)
{
	struct lm_slot_info *si = bpf_map_lookup_elem(&slots, key);

	if (si) {
		*cur = *si;
		si->state &= ~(LM_SLOT_CLEARED_SINCE_GET | LM_SLOT_FRESH_LOG);
		return 0;
	}
	if (kvm && kernel_memslot(kvm, key->slot, cur) == 0) {
		*flags |= LM_GET_SIZE_FROM_KERNEL;
		bpf_map_update_elem(&slots, key, cur, BPF_NOEXIST);
		return 0;
	}
	return -1;
}

/* The harvest's dirty pages into e: the bitmap's popcount, timed. */
static __always_inline void count_get(struct lm_event *e, const struct lm_slot_info *cur,
				      __u64 bitmap, __u32 *flags)
{
	__u64 t0;

	e->get.npages = cur->npages;
	e->get.mem_flags = cur->mem_flags;
	if (cur->state & LM_SLOT_CLEARED_SINCE_GET)
		*flags |= LM_GET_CLEARED_SINCE_LAST;
	if (cur->state & LM_SLOT_FRESH_LOG) {
		/* First harvest after logging was enabled: QEMU's INITIALLY_SET
		 * makes it all ones, and it is RAM size, not dirtying: skip. */
		*flags |= LM_GET_NOT_COUNTED;
		e->get.dirty_pages = cur->npages;
	} else {
		t0 = bpf_ktime_get_ns();
		e->get.dirty_pages = count_bitmap(bitmap, cur->npages, flags);
		e->get.count_ns = bpf_ktime_get_ns() - t0;
	}
}

static __always_inline void on_get_dirty_log(struct pending_ioctl *p, __u32 tgid, __u32 tid)
{
	struct lm_slot_info cur = {};
	struct lm_slot_key key = { .pid = tgid };
	struct lm_vm_counters *vc;
	struct kvm___lm *kvm;
	struct lm_event *e;
	__u64 bitmap = 0;
	__u32 flags = 0;

	if (bpf_probe_read_user(&key.slot, sizeof(key.slot), (void *)p->arg) ||
	    bpf_probe_read_user(&bitmap, sizeof(bitmap), (void *)(p->arg + 8)))
		return;
	e = lm_event_reserve(LM_EV_GET_DIRTY_LOG, tgid, tid);
	if (!e)
		return;
	e->get.slot = key.slot;
	e->get.call_ns = e->ts_ns - p->enter_ns;
	lm_counters_sum(tgid, &e->get.tx_total, &e->get.ring_total);

	kvm = p->kvm ? (struct kvm___lm *)p->kvm : vm_of_fd(p->fd);
	if (kvm) {
		e->get.vm_pages = BPF_CORE_READ(kvm, nr_memslot_pages);
		/* known from KVM, not only from a CLEAR seen while attached */
		if (lm_manual_protect(kvm))
			flags |= LM_GET_MANUAL_PROTECT;
	}
	if (slot_of_get(kvm, &key, &cur, &flags)) {
		e->flags = flags | LM_GET_SIZE_UNKNOWN;
		bpf_ringbuf_submit(e, 0);
		return;
	}
	count_get(e, &cur, bitmap, &flags);
	e->flags = flags;

	vc = lm_counters(tgid);
	if (vc) {
		vc->get_calls++;
		vc->bitmap_bytes += ((cur.npages + 63) / 64) * 8;
		vc->count_ns += e->get.count_ns;
	}
	/*
	 * Waking lmtrace costs ~8 us inside the VMM's ioctl: only the first
	 * harvest of a burst does (lmtrace then polls every 20 ms while the
	 * burst lasts), the others wait for that poll.
	 */
	bpf_ringbuf_submit(e, first_of_burst(tgid, e->ts_ns) ? 0 : BPF_RB_NO_WAKEUP);
}

static __always_inline void on_clear_dirty_log(struct pending_ioctl *p, __u32 tgid)
{
	struct lm_slot_key key = { .pid = tgid };
	struct lm_vm_counters *vc;
	struct lm_slot_info *si;

	if (bpf_probe_read_user(&key.slot, sizeof(key.slot), (void *)p->arg))
		return;
	si = bpf_map_lookup_elem(&slots, &key);
	if (si)
		si->state |= LM_SLOT_CLEARED_SINCE_GET;
	vc = lm_counters(tgid);
	if (vc)
		vc->clear_calls++;
}

/* Dirty logging switched on for a slot: sockets that start sending now are likely the migration's. */
static __always_inline void note_log_on(__u32 tgid)
{
	__u64 now = bpf_ktime_get_ns();

	/* traced VMs only: the map has room for those */
	if (bpf_map_lookup_elem(&vm_state, &tgid))
		bpf_map_update_elem(&log_on, &tgid, &now, BPF_ANY);
}

static __always_inline void on_set_memslot(struct pending_ioctl *p, __u32 tgid, __u32 tid)
{
	struct lm_slot_key key = { .pid = tgid };
	struct lm_slot_info si = {}, *old;
	struct lm_drops *d;
	__u64 ring_total;
	struct lm_event *e;
	struct {
		__u32 slot;
		__u32 flags;
		__u64 guest_phys_addr;
		__u64 memory_size;
	} r;

	if (bpf_probe_read_user(&r, sizeof(r), (void *)p->arg))
		return;
	key.slot = r.slot;
	old = bpf_map_lookup_elem(&slots, &key);
	if (r.memory_size == 0) {
		bpf_map_delete_elem(&slots, &key);
	} else {
		si.npages = r.memory_size / 4096;
		si.mem_flags = r.flags;
		if ((r.flags & LM_KVM_MEM_LOG_DIRTY_PAGES) &&
		    (!old || !(old->mem_flags & LM_KVM_MEM_LOG_DIRTY_PAGES))) {
			si.state = LM_SLOT_FRESH_LOG;
			note_log_on(tgid);
		}
		if (bpf_map_update_elem(&slots, &key, &si, BPF_ANY)) {
			d = lm_drops();
			if (d)
				d->slot_map_full++;
		}
	}
	e = lm_event_reserve(LM_EV_SET_MEMSLOT, tgid, tid);
	if (!e)
		return;
	e->set.slot = r.slot;
	e->set.mem_flags = r.flags;
	e->set.guest_phys_addr = r.guest_phys_addr;
	e->set.memory_size = r.memory_size;
	lm_counters_sum(tgid, &e->set.tx_total, &ring_total);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int ioctl_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct pending_ioctl *p;
	struct lm_event *e;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	if (ret >= 0) {
		switch (p->cmd) {
		case LM_KVM_GET_DIRTY_LOG:
			on_get_dirty_log(p, tgid, tid);
			break;
		case LM_KVM_CLEAR_DIRTY_LOG:
			on_clear_dirty_log(p, tgid);
			break;
		case LM_KVM_SET_USER_MEMORY_REGION:
		case LM_KVM_SET_USER_MEMORY_REGION2:
			on_set_memslot(p, tgid, tid);
			break;
		case LM_KVM_RESET_DIRTY_RINGS:
			e = lm_event_reserve(LM_EV_RESET_RINGS, tgid, tid);
			if (e) {
				e->get.dirty_pages = ret; /* entries reset */
				e->get.call_ns = e->ts_ns - p->enter_ns;
				lm_counters_sum(tgid, &e->get.tx_total, &e->get.ring_total);
				bpf_ringbuf_submit(e, 0);
			}
			break;
		}
	}
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ioctl")
int handle_kvm_ioctl_exit(struct trace_event_raw_sys_exit *ctx)
{
	return ioctl_exit(ctx->ret);
}

SEC("fexit/kvm_vm_ioctl")
int BPF_PROG(handle_kvm_vm_ioctl_fexit, struct file *filp, unsigned int ioctl, unsigned long arg,
	     long ret)
{
	return ioctl_exit(ret);
}

SEC("kretprobe/kvm_vm_ioctl")
int BPF_KRETPROBE(handle_kvm_vm_ioctl_kretprobe, long ret)
{
	return ioctl_exit(ret);
}

/* Dirty-ring mode: every page KVM pushes to a vCPU's ring. */
SEC("tp_btf/kvm_dirty_ring_push")
int BPF_PROG(handle_kvm_dirty_ring_push)
{
	struct lm_vm_counters *vc = lm_counters(bpf_get_current_pid_tgid() >> 32);

	if (vc)
		vc->ring_pushes++;
	return 0;
}

SEC("tracepoint/kvm/kvm_dirty_ring_push")
int handle_kvm_dirty_ring_push_tp(void *ctx)
{
	struct lm_vm_counters *vc = lm_counters(bpf_get_current_pid_tgid() >> 32);

	if (vc)
		vc->ring_pushes++;
	return 0;
}

/*
 * Continuous source inside a round, where the kernel allows it: every time
 * KVM marks a page dirty (not unique: a page can be marked more than once
 * per round only in ring mode, once in bitmap mode until harvested).
 */
SEC("fentry/mark_page_dirty_in_slot")
int BPF_PROG(handle_kvm_mark_dirty_fentry)
{
	struct lm_vm_counters *vc = lm_counters(bpf_get_current_pid_tgid() >> 32);

	if (vc)
		vc->dirty_events++;
	return 0;
}

SEC("kprobe/mark_page_dirty_in_slot")
int BPF_KPROBE(handle_kvm_mark_dirty_kprobe)
{
	struct lm_vm_counters *vc = lm_counters(bpf_get_current_pid_tgid() >> 32);

	if (vc)
		vc->dirty_events++;
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Maps shared by all BPF units. maps.bpf.c defines them (LM_DEFINE_MAPS);
 * every other unit sees extern declarations of the very same types, which
 * the BPF static linker (bpftool gen object) resolves into one map each.
 */
#ifndef LM_MAPS_BPF_H
#define LM_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lmtrace.h"

#ifdef LM_DEFINE_MAPS
#define LM_MAP
#else
#define LM_MAP extern
#endif

/* VMM tgids to trace; user space adds and removes them. */
LM_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LM_MAX_VMS);
	__type(key, __u32);
	__type(value, __u32);
} traced_pids SEC(".maps");

/* Hot counters per VM and CPU; user space creates the entry when it adds the pid. */
LM_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, LM_MAX_VMS);
	__type(key, __u32);
	__type(value, struct lm_vm_counters);
} vm_counters SEC(".maps");

LM_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lm_drops);
} drops SEC(".maps");

/* Per-VM state shared by the units (not per CPU); user space creates the entry. */
LM_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LM_MAX_VMS);
	__type(key, __u32);
	__type(value, struct lm_vm_state);
} vm_state SEC(".maps");

/*
 * When each traced VM last had dirty logging switched on, seen by the hooks
 * or (hooks detached) read by user space: a map of its own, as both write it.
 */
LM_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LM_MAX_VMS);
	__type(key, __u32);
	__type(value, __u64);
} log_on SEC(".maps");

/* Rare events: one per memslot harvest, memslot change or socket event. */
LM_MAP struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

static __always_inline int lm_is_traced(__u32 tgid)
{
	return bpf_map_lookup_elem(&traced_pids, &tgid) != NULL;
}

static __always_inline struct lm_vm_counters *lm_counters(__u32 tgid)
{
	return bpf_map_lookup_elem(&vm_counters, &tgid);
}

static __always_inline struct lm_drops *lm_drops(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&drops, &zero);
}

/* Number of possible CPUs, set by user space before load. */
extern const volatile __u32 nr_cpus;

struct counter_sum_ctx {
	__u32 tgid;
	__u64 tx_bytes;
	__u64 ring_pushes;
};

static long counter_sum_cpu(__u32 cpu, void *data)
{
	struct counter_sum_ctx *c = data;
	struct lm_vm_counters *vc;

	vc = bpf_map_lookup_percpu_elem(&vm_counters, &c->tgid, cpu);
	if (vc) {
		c->tx_bytes += vc->tx_bytes;
		c->ring_pushes += vc->ring_pushes;
	}
	return 0;
}

/* Snapshot of a VM's per-CPU counters, summed over CPUs (at a harvest). */
static __always_inline void lm_counters_sum(__u32 tgid, __u64 *tx_bytes, __u64 *ring_pushes)
{
	struct counter_sum_ctx c = { .tgid = tgid };

	bpf_loop(nr_cpus < LM_MAX_CPUS ? nr_cpus : LM_MAX_CPUS, counter_sum_cpu, &c, 0);
	*tx_bytes = c.tx_bytes;
	*ring_pushes = c.ring_pushes;
}

/* Reserve a ring-buffer event, counting the drop when it is full. */
/* One of the VM's event tokens, refilled with time (races between CPUs only blur it). */
static __always_inline int lm_event_token(__u32 tgid)
{
	struct lm_vm_state *vs = bpf_map_lookup_elem(&vm_state, &tgid);
	__u64 now = bpf_ktime_get_ns(), dt, add;

	if (!vs)
		return 1;
	/* a second or more since: the bucket is full (and no product overflows) */
	dt = now - vs->tokens_ns;
	add = dt >= 1000000000ull ? LM_EVENTS_BURST : dt * LM_EVENTS_PER_S / 1000000000ull;
	if (add) {
		vs->event_tokens = vs->event_tokens + add > LM_EVENTS_BURST ? LM_EVENTS_BURST :
				   vs->event_tokens + add;
		vs->tokens_ns = now;
	}
	if (!vs->event_tokens)
		return 0;
	vs->event_tokens--;
	return 1;
}

static __always_inline struct lm_event *lm_event_reserve(__u32 kind, __u32 tgid, __u32 tid)
{
	struct lm_event *e = lm_event_token(tgid) ? bpf_ringbuf_reserve(&events, sizeof(*e), 0) : NULL;
	struct lm_vm_counters *vc;
	struct lm_drops *d;

	if (!e) {
		d = lm_drops();
		if (d)
			d->ringbuf_full++;
		/* and against the VM it was about: its round is then incomplete */
		vc = lm_counters(tgid);
		if (vc)
			vc->lost_events++;
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->pid = tgid;
	e->tid = tid;
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

#endif /* LM_MAPS_BPF_H */

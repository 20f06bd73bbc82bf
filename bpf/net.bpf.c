// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Migration throughput: bytes the traced VMM sends on TCP sockets (or only
 * on --port), acked bytes, srtt and cwnd of those sockets, and their closing
 * (the end of a completed migration).
 */
#include "maps.bpf.h"
#include <bpf/bpf_core_read.h>

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define IPPROTO_MPTCP	262

/* Port filter (host order), 0 = every TCP socket of the process. */
const volatile __u16 targ_port = 0;

struct sock_state {
	__u32 pid;
	__u32 counted;		/* 1 if it passes the port filter */
	__u32 last_una;		/* tcp_probe's snd_una last time */
	__u32 una_valid;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LM_MAX_SOCKS);
	__type(key, __u64);	/* struct sock * */
	__type(value, struct sock_state);
} socks SEC(".maps");

/*
 * Tracepoint records are read through vmlinux.h's trace_event_raw_* types:
 * they carry preserve_access_index, so libbpf moves every field access to
 * the running kernel's offsets at load time.
 */

static __always_inline void fill_sock_event(struct lm_event *e, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	e->sock.sk = (__u64)sk;
	e->sock.family = family;
	e->sock.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->sock.dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO(e->sock.saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(e->sock.daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(e->sock.saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(e->sock.daddr, sk, __sk_common.skc_v6_daddr);
	}
}

/* First send on a socket: decide whether it counts, and tell user space. */
static __always_inline struct sock_state *new_sock(struct sock *sk, __u32 tgid, __u32 tid)
{
	struct sock_state st = { .pid = tgid };
	__u64 key = (__u64)sk;
	struct lm_drops *d;
	struct lm_event *e;
	__u16 sport, dport;

	sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	st.counted = !targ_port || sport == targ_port || dport == targ_port;
	if (bpf_map_update_elem(&socks, &key, &st, BPF_NOEXIST)) {
		d = lm_drops();
		if (d)
			d->sock_map_full++;
	}
	if (st.counted) {
		e = lm_event_reserve(LM_EV_SOCK_STATE, tgid, tid);
		if (e) {
			fill_sock_event(e, sk);
			bpf_ringbuf_submit(e, 0);
		}
	}
	return bpf_map_lookup_elem(&socks, &key);
}

static __always_inline void count_send(struct sock *sk, int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)sk;
	__u32 tgid = id >> 32;
	struct lm_vm_counters *vc;
	struct sock_state *st;

	if (ret <= 0)
		return;
	vc = lm_counters(tgid);
	if (!vc)
		return;
	st = bpf_map_lookup_elem(&socks, &key);
	if (!st)
		st = new_sock(sk, tgid, (__u32)id);
	if (!st || !st->counted)
		return;
	st->bytes += ret;
	vc->tx_bytes += ret;
	vc->tx_calls++;
}

SEC("tracepoint/sock/sock_send_length")
int handle_sock_send_length(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->family != AF_INET && ctx->family != AF_INET6)
		return 0;
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_MPTCP)
		return 0;
	if (ctx->flags & 2 /* MSG_PEEK */)
		return 0;
	count_send(ctx->sk, ctx->ret);
	return 0;
}

/*
 * Fallback for kernels without sock:sock_send_length (< 6.3): sendmsg's
 * return value from the traced process, every socket type included (QEMU
 * sends its migration stream with sendmsg).
 */
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int handle_sys_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct lm_vm_counters *vc;

	if (ctx->ret <= 0)
		return 0;
	vc = lm_counters(bpf_get_current_pid_tgid() >> 32);
	if (!vc)
		return 0;
	vc->tx_bytes += ctx->ret;
	vc->tx_calls++;
	return 0;
}

/* Closing of a counted socket: the migration connection going away. */
SEC("tracepoint/sock/inet_sock_set_state")
int handle_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key = (__u64)ctx->skaddr;
	struct sock_state *st;
	struct lm_event *e;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	st = bpf_map_lookup_elem(&socks, &key);
	if (!st || !st->counted)
		return 0;
	e = lm_event_reserve(LM_EV_SOCK_STATE, st->pid, 0);
	if (!e)
		return 0;
	fill_sock_event(e, (struct sock *)ctx->skaddr);
	e->sock.oldstate = ctx->oldstate;
	e->sock.newstate = ctx->newstate;
	e->sock.bytes = st->bytes;
	bpf_ringbuf_submit(e, 0);
	if (ctx->newstate == 7 /* TCP_CLOSE */)
		bpf_map_delete_elem(&socks, &key);
	return 0;
}

/* ACKs on a counted socket: acked bytes, srtt, cwnd (softirq context). */
SEC("tracepoint/tcp/tcp_probe")
int handle_tcp_probe(struct trace_event_raw_tcp_probe *ctx)
{
	struct lm_vm_counters *vc;
	struct sock_state *st;
	__u64 key;

	/* Older tcp_probe records (6.8 and before) have no skaddr: no socket to match. */
	if (!bpf_core_field_exists(ctx->skaddr))
		return 0;
	key = (__u64)ctx->skaddr;
	st = bpf_map_lookup_elem(&socks, &key);
	if (!st || !st->counted)
		return 0;
	vc = lm_counters(st->pid);
	if (!vc)
		return 0;
	if (st->una_valid)
		vc->acked_bytes += (__u32)(ctx->snd_una - st->last_una);
	st->last_una = ctx->snd_una;
	st->una_valid = 1;
	vc->last_srtt_us = ctx->srtt;
	vc->last_cwnd = ctx->snd_cwnd;
	vc->last_probe_ns = bpf_ktime_get_ns();
	return 0;
}

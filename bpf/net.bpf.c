// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Migration throughput. Every stream socket the traced VMM sends on (TCP
 * over IPv4/IPv6, MPTCP, UNIX stream) is tracked with its byte count; user
 * space decides which of them are the migration's own connections (they may
 * be UNIX sockets, several multifd channels, or a socket handed in with fd:)
 * and writes its decision to sock_roles. Only those sockets' bytes go into
 * the VM's tx_bytes counter, which the harvest events snapshot, so bytes per
 * round count the migration stream and nothing else. A socket's bytes from
 * before the decision are added at its next send. Also: acked bytes, srtt
 * and cwnd of the TCP ones, and TCP state changes (the stream closing).
 */
#include "maps.bpf.h"
#include <bpf/bpf_core_read.h>

#define AF_UNIX		1
#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define IPPROTO_TCP	6
#define IPPROTO_MPTCP	262
#define MSG_PEEK	2
#define TCP_CLOSE	7

/* Port filter (host order): only TCP sockets with this port are the migration's; 0 = decided in user space. */
const volatile __u16 targ_port = 0;

struct sock_state {
	__u32 pid;
	__u16 role;		/* enum lm_sock_role, once known */
	__u16 credited;		/* bytes before the decision are in tx_bytes */
	__u32 last_una;		/* tcp_probe's snd_una last time */
	__u32 una_valid;
	__u64 bytes;
	__u64 last_send_ns;
	__u64 first_send_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LM_MAX_SOCKS);
	__type(key, __u64);	/* struct sock * */
	__type(value, struct sock_state);
} socks SEC(".maps");

/* User space's decisions (written there, read here). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LM_MAX_SOCKS);
	__type(key, __u64);	/* struct sock * */
	__type(value, __u32);	/* enum lm_sock_role */
} sock_roles SEC(".maps");

/* sendmsg fallback: the fd of the call in flight, per thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);	/* tid */
	__type(value, __u32);	/* fd */
} send_fds SEC(".maps");

/*
 * Tracepoint records are read through vmlinux.h's trace_event_raw_* types:
 * they carry preserve_access_index, so libbpf moves every field access to
 * the running kernel's offsets at load time.
 */

static __always_inline int is_stream(struct sock *sk, __u16 family, __u16 protocol)
{
	if (family == AF_INET || family == AF_INET6)
		return protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP;
	return family == AF_UNIX && BPF_CORE_READ(sk, sk_type) == SOCK_STREAM;
}

static __always_inline void fill_sock_event(struct lm_event *e, struct sock *sk,
					    const struct sock_state *st)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	e->sock.sk = (__u64)sk;
	e->sock.family = family;
	e->sock.ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
	if (st) {
		e->sock.role = st->role;
		e->sock.bytes = st->bytes;
		e->sock.last_send_ns = st->last_send_ns;
	}
	if (family == AF_UNIX)
		return;
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

/*
 * A new socket's role. With --port the user decided: only TCP sockets with
 * that port. Otherwise a socket that starts sending within LM_LOG_ON_WINDOW_NS
 * of the VM switching dirty logging on is taken as the migration's for now,
 * so its first bytes count in the round they belong to; user space confirms
 * or overrules that once it sees how much the socket carries.
 */
/* Sent first after the VM switched logging on, and that is recent. */
static __always_inline int near_log_on(__u32 tgid, __u64 first_send_ns)
{
	__u64 *on = bpf_map_lookup_elem(&log_on, &tgid);

	return on && *on && first_send_ns >= *on && bpf_ktime_get_ns() - *on < LM_LOG_ON_WINDOW_NS;
}

static __always_inline __u16 initial_role(struct sock *sk, __u16 family, __u32 tgid, __u64 now)
{
	__u16 sport, dport;

	if (!targ_port)
		return near_log_on(tgid, now) ? LM_SOCK_MIGRATION : LM_SOCK_UNDECIDED;
	if (family == AF_UNIX)
		return LM_SOCK_OTHER;
	sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return sport == targ_port || dport == targ_port ? LM_SOCK_MIGRATION : LM_SOCK_OTHER;
}

/* First send on a socket: remember it and tell user space. */
static __always_inline struct sock_state *new_sock(struct sock *sk, __u16 family, __u32 tgid,
						   __u32 tid)
{
	__u64 now = bpf_ktime_get_ns();
	struct sock_state st = { .pid = tgid, .role = initial_role(sk, family, tgid, now),
				 .first_send_ns = now };
	__u64 key = (__u64)sk;
	struct lm_drops *d;
	struct lm_event *e;

	st.credited = st.role == LM_SOCK_MIGRATION;	/* nothing sent yet: nothing to move */
	if (bpf_map_update_elem(&socks, &key, &st, BPF_NOEXIST)) {
		d = lm_drops();
		if (d)
			d->sock_map_full++;
	}
	e = lm_event_reserve(LM_EV_SOCK_STATE, tgid, tid);
	if (e) {
		fill_sock_event(e, sk, &st);
		bpf_ringbuf_submit(e, 0);
	}
	return bpf_map_lookup_elem(&socks, &key);
}

/*
 * The socket's role: user space's decision where it made one (it may
 * overrule BPF's). Still undecided, it becomes the migration's for now if it
 * started sending after a switch user space learnt of only later (dirty-log
 * hooks attached on demand): its earlier bytes move with it.
 */
static __always_inline __u16 sock_role(struct sock_state *st, __u64 key)
{
	__u32 *r = bpf_map_lookup_elem(&sock_roles, &key);

	if (r)
		st->role = (__u16)*r;
	else if (st->role == LM_SOCK_UNDECIDED && !targ_port && near_log_on(st->pid, st->first_send_ns))
		st->role = LM_SOCK_MIGRATION;
	return st->role;
}

/*
 * Count one send. A socket's bytes go to tx_bytes while it is a migration
 * socket and to tx_other_bytes otherwise; when its role changes, what it
 * carried before moves with it (a per-CPU counter may go below zero here:
 * only the sum over CPUs means anything, and it is exact modulo 2^64).
 */
static __always_inline void count_send(struct sock *sk, __u16 family, __u16 protocol, int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)sk, before;
	__u32 tgid = id >> 32;
	struct lm_vm_counters *vc;
	struct sock_state *st;

	if (ret <= 0)
		return;
	vc = lm_counters(tgid);
	if (!vc || !is_stream(sk, family, protocol))
		return;
	st = bpf_map_lookup_elem(&socks, &key);
	if (!st)
		st = new_sock(sk, family, tgid, (__u32)id);
	if (!st)
		return;
	before = st->bytes;
	st->bytes += ret;
	st->last_send_ns = bpf_ktime_get_ns();
	if (sock_role(st, key) == LM_SOCK_MIGRATION) {
		if (!st->credited) {
			vc->tx_bytes += before;
			vc->tx_other_bytes -= before;
			st->credited = 1;
		}
		vc->tx_bytes += ret;
		vc->tx_calls++;
	} else {
		if (st->credited) {
			vc->tx_bytes -= before;
			vc->tx_other_bytes += before;
			st->credited = 0;
		}
		vc->tx_other_bytes += ret;
	}
}

SEC("tracepoint/sock/sock_send_length")
int handle_sock_send_length(struct trace_event_raw_sock_msg_length *ctx)
{
	if (!(ctx->flags & MSG_PEEK))
		count_send(ctx->sk, ctx->family, ctx->protocol, ctx->ret);
	return 0;
}

/*
 * Fallback for kernels without sock:sock_send_length (< 6.3): sendmsg() and
 * sendto()/send() from the traced process (QEMU sends its migration stream
 * with sendmsg), the socket found from the call's fd, so sockets are told
 * apart the same way.
 */
static __always_inline int remember_send_fd(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, fd = (__u32)ctx->args[0];

	if (lm_is_traced(id >> 32))
		bpf_map_update_elem(&send_fds, &tid, &fd, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int handle_sys_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return remember_send_fd(ctx);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int handle_sys_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return remember_send_fd(ctx);
}

/* The struct sock behind one of the current task's fds, or NULL. */
static __always_inline struct sock *sock_of_fd(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fdt, *file;
	struct socket *sock;

	if (fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt[fd & 0xfffff]) || !file)
		return NULL;
	/* sendmsg() succeeded on it: the file is a socket */
	sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

static __always_inline int count_sent(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), *fd;
	__u16 family, protocol;
	struct sock *sk;

	fd = bpf_map_lookup_elem(&send_fds, &tid);
	if (!fd)
		return 0;
	sk = ctx->ret > 0 ? sock_of_fd(*fd) : NULL;
	bpf_map_delete_elem(&send_fds, &tid);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	protocol = BPF_CORE_READ(sk, sk_protocol);
	count_send(sk, family, protocol, ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int handle_sys_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	return count_sent(ctx);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int handle_sys_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	return count_sent(ctx);
}

/* A tracked TCP socket changing state: user space watches the migration's close. */
SEC("tracepoint/sock/inet_sock_set_state")
int handle_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key = (__u64)ctx->skaddr, ring_total;
	struct sock_state *st;
	struct lm_event *e;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_MPTCP)
		return 0;
	st = bpf_map_lookup_elem(&socks, &key);
	if (!st || st->role == LM_SOCK_OTHER)
		return 0;
	e = lm_event_reserve(LM_EV_SOCK_STATE, st->pid, 0);
	if (!e)
		return 0;
	fill_sock_event(e, (struct sock *)ctx->skaddr, st);
	e->sock.oldstate = ctx->oldstate;
	e->sock.newstate = ctx->newstate;
	/* what the migration sent until it closed: its end carries it */
	lm_counters_sum(st->pid, &e->sock.tx_total, &ring_total);
	bpf_ringbuf_submit(e, 0);
	if (ctx->newstate == TCP_CLOSE)
		bpf_map_delete_elem(&socks, &key);
	return 0;
}

/* ACKs on a migration socket: acked bytes, srtt, cwnd (softirq context). */
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
	if (!st || st->role != LM_SOCK_MIGRATION)
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

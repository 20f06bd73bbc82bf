// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loading and attaching lmtrace's BPF programs. The dirty-log and socket
 * programs are required; the continuous dirty source (fentry, else kprobe on
 * mark_page_dirty_in_slot), the dirty-ring counter (tp_btf, else tracepoint)
 * and the TCP extras are optional: whatever this kernel refuses is left out,
 * said in lm_tracer_describe(), and never fails the tool.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "core/obs.h"
#include "trace/tracer_int.h"

/* What to try loading; stepped down until the kernel accepts it. */
struct load_plan {
	int fentry, kprobe, ring_btf, ring_tp, send_tp;
};

static int verbose;
static char last_libbpf_msg[512];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	if (level == LIBBPF_WARN)
		vsnprintf(last_libbpf_msg, sizeof(last_libbpf_msg), fmt, copy);
	va_end(copy);
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int tracepoint_exists(const char *category, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/%s", category, name);
	if (access(path, F_OK) == 0)
		return 1;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s/%s", category, name);
	return access(path, F_OK) == 0;
}

/* CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON, in the effective set. */
static int have_bpf_privileges(void)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f;

	f = fopen("/proc/self/status", "r");
	if (!f)
		return 1;	/* cannot tell: let the kernel decide */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return (caps >> 21 & 1) || ((caps >> 38 & 1) && (caps >> 39 & 1));
}

/* libbpf resolves tracepoint ids through tracefs: make sure it is there. */
static void ensure_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) && verbose)
		fprintf(stderr, "lmtrace: could not mount tracefs on /sys/kernel/tracing: %s\n",
			strerror(errno));
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct lm_tracer *t = ctx;

	if (size < sizeof(struct lm_event))
		return 0;
	return t->cb(t->ctx, data);
}

static void set_autoload(struct lmtrace_bpf *skel, const struct load_plan *p)
{
	bpf_program__set_autoload(skel->progs.handle_kvm_mark_dirty_fentry, p->fentry);
	bpf_program__set_autoload(skel->progs.handle_kvm_mark_dirty_kprobe, p->kprobe);
	/* the ioctl hooks inside KVM share the continuous source's fate */
	bpf_program__set_autoload(skel->progs.handle_kvm_vm_ioctl_fentry, p->fentry);
	bpf_program__set_autoload(skel->progs.handle_kvm_vm_ioctl_fexit, p->fentry);
	bpf_program__set_autoload(skel->progs.handle_kvm_vm_ioctl_kprobe, p->kprobe);
	bpf_program__set_autoload(skel->progs.handle_kvm_vm_ioctl_kretprobe, p->kprobe);
	bpf_program__set_autoload(skel->progs.handle_kvm_dirty_ring_push, p->ring_btf);
	bpf_program__set_autoload(skel->progs.handle_kvm_dirty_ring_push_tp, p->ring_tp);
	bpf_program__set_autoload(skel->progs.handle_sock_send_length, p->send_tp);
	bpf_program__set_autoload(skel->progs.handle_sys_enter_sendmsg, !p->send_tp);
	bpf_program__set_autoload(skel->progs.handle_sys_exit_sendmsg, !p->send_tp);
	bpf_program__set_autoload(skel->progs.handle_sys_enter_sendto, !p->send_tp);
	bpf_program__set_autoload(skel->progs.handle_sys_exit_sendto, !p->send_tp);
	bpf_program__set_autoload(skel->progs.handle_inet_sock_set_state,
				  tracepoint_exists("sock", "inet_sock_set_state"));
	bpf_program__set_autoload(skel->progs.handle_tcp_probe, tracepoint_exists("tcp", "tcp_probe"));
}

/* The next, more modest plan after a failed load; 0 when nothing is left. */
static int step_down(struct load_plan *p, const struct lm_tracer_opts *opts)
{
	if (p->fentry) {
		p->fentry = 0;
		p->kprobe = !opts->no_kprobe;
		return 1;
	}
	if (p->ring_btf) {
		p->ring_btf = 0;
		p->ring_tp = tracepoint_exists("kvm", "kvm_dirty_ring_push");
		return 1;
	}
	if (p->kprobe) {
		p->kprobe = 0;
		return 1;
	}
	if (p->ring_tp) {
		p->ring_tp = 0;
		return 1;
	}
	return 0;
}

static int load(struct lm_tracer *t, const struct lm_tracer_opts *opts, struct load_plan *plan,
		char *err, size_t errlen)
{
	int ret;

	for (;;) {
		t->skel = lmtrace_bpf__open();
		if (!t->skel) {
			ret = -errno;
			snprintf(err, errlen, "cannot open the BPF object: %s", strerror(-ret));
			return ret;
		}
		t->skel->rodata->nr_cpus = t->ncpus;
		t->skel->rodata->targ_port = opts->port;
		set_autoload(t->skel, plan);
		ret = lmtrace_bpf__load(t->skel);
		if (!ret)
			return 0;
		lmtrace_bpf__destroy(t->skel);
		t->skel = NULL;
		if (ret == -EPERM && !plan->fentry && !plan->kprobe) {
			snprintf(err, errlen, "loading BPF programs was refused (EPERM): run lmtrace as "
				 "root (it needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)");
			return ret;
		}
		if (!step_down(plan, opts)) {
			snprintf(err, errlen, "cannot load the BPF programs: %s%s%s", strerror(-ret),
				 last_libbpf_msg[0] ? "; libbpf said: " : "", last_libbpf_msg);
			err[strcspn(err, "\n")] = 0;
			return ret;
		}
	}
}

/* Attach one program; *ok says whether it runs. Required ones fail the tracer. */
static int attach(struct lm_tracer *t, struct bpf_program *prog, int required, int *ok,
		  char *err, size_t errlen)
{
	struct bpf_link *link;

	*ok = 0;
	if (!bpf_program__autoload(prog) || t->nlinks >= MAX_LINKS)
		return 0;
	link = bpf_program__attach(prog);
	if (!link) {
		if (!required)
			return 0;
		snprintf(err, errlen, "cannot attach %s: %s", bpf_program__name(prog), strerror(errno));
		return -errno;
	}
	t->links[t->nlinks++] = link;
	*ok = 1;
	return 0;
}

/* tcp_probe names its socket only in newer kernels (skaddr): without it, no acks. */
static int tcp_probe_has_skaddr(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *tp;
	const struct btf_member *m;
	int id, i, found = 0;

	if (!btf)
		return 0;
	id = btf__find_by_name_kind(btf, "trace_event_raw_tcp_probe", BTF_KIND_STRUCT);
	tp = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0, m = tp ? btf_members(tp) : NULL; tp && i < btf_vlen(tp); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), "skaddr"))
			found = 1;
	btf__free(btf);
	return found;
}

static int attach_all(struct lm_tracer *t, char *err, size_t errlen)
{
	struct lmtrace_bpf *s = t->skel;
	int ok, fentry, kprobe, ring, send_tp, close_tp, probe_tp, ret;

	ret = lm_tracer_plan_hooks(t);
	if (ret) {
		snprintf(err, errlen, "cannot attach the dirty-log hooks: %s", strerror(-ret));
		return ret;
	}
	/* Without sock_send_length, sendmsg()/sendto() count the bytes: they stay
	 * attached (a stream's first bytes come before any hook could follow
	 * logging on), and the host pays for them as it did before. */
	if ((ret = attach(t, s->progs.handle_sock_send_length, 1, &send_tp, err, errlen)) ||
	    (ret = attach(t, s->progs.handle_sys_enter_sendmsg, 1, &ok, err, errlen)) ||
	    (ret = attach(t, s->progs.handle_sys_exit_sendmsg, 1, &ok, err, errlen)) ||
	    (ret = attach(t, s->progs.handle_sys_enter_sendto, 1, &ok, err, errlen)) ||
	    (ret = attach(t, s->progs.handle_sys_exit_sendto, 1, &ok, err, errlen)))
		return ret;
	attach(t, s->progs.handle_kvm_mark_dirty_fentry, 0, &fentry, err, errlen);
	attach(t, s->progs.handle_kvm_mark_dirty_kprobe, 0, &kprobe, err, errlen);
	attach(t, s->progs.handle_kvm_dirty_ring_push, 0, &ring, err, errlen);
	if (!ring)
		attach(t, s->progs.handle_kvm_dirty_ring_push_tp, 0, &ring, err, errlen);
	attach(t, s->progs.handle_inet_sock_set_state, 0, &close_tp, err, errlen);
	attach(t, s->progs.handle_tcp_probe, 0, &probe_tp, err, errlen);

	t->source = fentry ? LM_SRC_FENTRY : kprobe ? LM_SRC_KPROBE : LM_SRC_BITMAP;
	probe_tp = probe_tp && tcp_probe_has_skaddr();
	snprintf(t->desc, sizeof(t->desc),
		 "dirty pages: KVM_GET_DIRTY_LOG bitmap popcount per round%s%s, seen by %s; "
		 "bytes: %s on the migration's TCP or UNIX stream sockets%s; end: %s",
		 fentry ? " + fentry mark_page_dirty_in_slot inside rounds" :
		 kprobe ? " + kprobe mark_page_dirty_in_slot inside rounds" :
			  " (no fentry/kprobe here: no intra-round rate)",
		 ring ? ", dirty ring: kvm_dirty_ring_push" : "",
		 lm_tracer_hooks_describe(t),
		 send_tp ? "sock:sock_send_length" : "sendmsg()/sendto() per socket (no sock_send_length: "
			   "these syscall hooks stay attached)",
		 probe_tp ? ", acks: tcp:tcp_probe" : " (no acks: tcp:tcp_probe lacks the socket here)",
		 close_tp ? "TCP state changes, UNIX sockets leaving the VMM's fd table" :
			    "the migration's sockets leaving the VMM's fd table (no inet_sock_set_state)");
	return 0;
}

int lm_tracer_open(struct lm_tracer **out, const struct lm_tracer_opts *opts,
		   lm_event_fn cb, void *ctx, char *err, size_t errlen)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct load_plan plan = {0};
	struct lm_tracer *t;
	int ret;

	verbose = opts->verbose;
	libbpf_set_print(libbpf_print);
	/* Kernels >= 5.11 account BPF memory to the memcg; failing here is fine. */
	setrlimit(RLIMIT_MEMLOCK, &rl);
	if (!have_bpf_privileges()) {
		snprintf(err, errlen, "no privileges to load BPF programs: run lmtrace as root "
			 "(it needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)");
		return -EPERM;
	}
	ensure_tracefs();
	if (!tracepoint_exists("syscalls", "sys_enter_ioctl")) {
		snprintf(err, errlen, "this kernel has no syscalls:sys_enter_ioctl tracepoint "
			 "(CONFIG_FTRACE_SYSCALLS) or tracefs is not mounted: lmtrace needs it");
		return -ENOENT;
	}

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cb = cb;
	t->ctx = ctx;
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		ret = t->ncpus ? t->ncpus : -EINVAL;
		snprintf(err, errlen, "cannot count CPUs: %s", strerror(-ret));
		goto fail;
	}
	plan.fentry = !opts->no_fentry;
	plan.kprobe = opts->no_fentry && !opts->no_kprobe;
	plan.ring_btf = 1;
	plan.send_tp = !opts->no_send_tp && tracepoint_exists("sock", "sock_send_length");
	ret = load(t, opts, &plan, err, errlen);
	if (ret)
		goto fail;
	ret = attach_all(t, err, errlen);
	if (ret)
		goto fail;
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), handle_event, t, NULL);
	if (!t->rb) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the ring buffer: %s", strerror(-ret));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	lm_tracer_close(t);
	return ret;
}

void lm_tracer_close(struct lm_tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	lm_tracer_close_hooks(t);
	while (t->nlinks > 0)
		bpf_link__destroy(t->links[--t->nlinks]);
	lmtrace_bpf__destroy(t->skel);
	free(t);
}

int lm_tracer_add_pid(struct lm_tracer *t, uint32_t pid)
{
	struct lm_vm_state state = { .event_tokens = LM_EVENTS_BURST };
	struct lm_vm_counters *zero;
	uint32_t one = 1;
	int ret;

	zero = calloc(t->ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	/* Counters first, so no event finds the pid traced without them. */
	ret = bpf_map_update_elem(bpf_map__fd(t->skel->maps.vm_counters), &pid, zero, BPF_ANY);
	free(zero);
	if (ret)
		return -errno;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.vm_state), &pid, &state, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(t->skel->maps.traced_pids), &pid, &one, BPF_ANY))
		return -errno;
	return 0;
}

/* The socket state BPF keeps, as net.bpf.c lays it out. */
struct sock_state {
	uint32_t pid;
	uint16_t role, credited;
	uint32_t last_una, una_valid;
	uint64_t bytes;
	uint64_t last_send_ns;
	uint64_t first_send_ns;
};

/* Calls fn for each socket of pid in the socks map; deleting is allowed. */
static void for_each_sock(struct lm_tracer *t, uint32_t pid,
			  void (*fn)(struct lm_tracer *t, uint64_t sk, const struct sock_state *st, void *ctx),
			  void *ctx)
{
	int fd = bpf_map__fd(t->skel->maps.socks), n = 0;
	uint64_t key, next;
	struct sock_state st;
	int have = 0;

	/* bounded: the map holds at most LM_MAX_SOCKS entries */
	while (n++ < 2 * LM_MAX_SOCKS && bpf_map_get_next_key(fd, have ? &key : NULL, &next) == 0) {
		key = next;
		have = 1;
		if (bpf_map_lookup_elem(fd, &key, &st) == 0 && st.pid == pid)
			fn(t, key, &st, ctx);
	}
}

struct sock_list {
	uint64_t sks[LM_MAX_SOCKS];
	int n;
};

static void collect_sock(struct lm_tracer *t, uint64_t sk, const struct sock_state *st, void *ctx)
{
	struct sock_list *l = ctx;

	if (l->n < LM_MAX_SOCKS)
		l->sks[l->n++] = sk;
}

/* The pid's sockets and the decisions about them go (the kernel reuses addresses). */
static void forget_socks(struct lm_tracer *t, uint32_t pid)
{
	struct sock_list *l = calloc(1, sizeof(*l));
	int i;

	if (!l)
		return;
	for_each_sock(t, pid, collect_sock, l);	/* collect first: deleting moves the cursor */
	for (i = 0; i < l->n; i++) {
		bpf_map_delete_elem(bpf_map__fd(t->skel->maps.socks), &l->sks[i]);
		bpf_map_delete_elem(bpf_map__fd(t->skel->maps.sock_roles), &l->sks[i]);
	}
	free(l);
}

/*
 * BPF moves a socket's earlier bytes to or from tx_bytes at its next send
 * after user space decided its role; a socket that sends no more (the
 * migration ended just as it was recognised, attached late) would keep
 * them on the wrong side. Counted here as if moved.
 */
struct moves {
	int roles_fd;
	int64_t tx;
};

static void pending_move(struct lm_tracer *t, uint64_t sk, const struct sock_state *st, void *ctx)
{
	struct moves *m = ctx;
	uint32_t role;

	if (bpf_map_lookup_elem(m->roles_fd, &sk, &role))
		return;
	if (role == LM_SOCK_MIGRATION && !st->credited)
		m->tx += (int64_t)st->bytes;
	else if (role != LM_SOCK_MIGRATION && st->credited)
		m->tx -= (int64_t)st->bytes;
}

static void add_pending_moves(struct lm_tracer *t, uint32_t pid, struct lm_vm_counters *sum)
{
	struct moves m = { .roles_fd = bpf_map__fd(t->skel->maps.sock_roles) };

	for_each_sock(t, pid, pending_move, &m);
	sum->tx_bytes += (uint64_t)m.tx;
	sum->tx_other_bytes -= (uint64_t)m.tx;
}

int lm_tracer_note_log_on(struct lm_tracer *t, uint32_t pid, uint64_t ns)
{
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.log_on), &pid, &ns, BPF_ANY))
		return -errno;
	return 0;
}

int lm_tracer_set_sock_role(struct lm_tracer *t, uint64_t sk, uint32_t role)
{
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.sock_roles), &sk, &role, BPF_ANY))
		return -errno;
	return 0;
}

struct sock_bytes_ctx {
	uint32_t pid;
	uint64_t now_ns;
	lm_event_fn fn;
	void *ctx;
};

static void emit_sock_bytes(struct lm_tracer *t, uint64_t sk, const struct sock_state *st, void *ctx)
{
	struct sock_bytes_ctx *c = ctx;
	struct lm_event e = { .kind = LM_EV_SOCK_BYTES, .pid = c->pid, .ts_ns = c->now_ns };

	e.sock.sk = sk;
	e.sock.bytes = st->bytes;
	e.sock.role = st->role;
	e.sock.last_send_ns = st->last_send_ns;
	c->fn(c->ctx, &e);
}

void lm_tracer_sock_bytes(struct lm_tracer *t, uint32_t pid, uint64_t now_ns, lm_event_fn fn,
			  void *ctx)
{
	struct sock_bytes_ctx c = { .pid = pid, .now_ns = now_ns, .fn = fn, .ctx = ctx };

	for_each_sock(t, pid, emit_sock_bytes, &c);
}

int lm_tracer_remove_pid(struct lm_tracer *t, uint32_t pid)
{
	struct lm_slot_key key, next;
	int slots_fd = bpf_map__fd(t->skel->maps.slots), have = 0;

	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.traced_pids), &pid);
	lm_tracer_forget_pid_iter(t, pid);
	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.vm_counters), &pid);
	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.vm_state), &pid);
	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.log_on), &pid);
	forget_socks(t, pid);
	/* Forget its memslots: the pid may be reused by another VMM. */
	while (bpf_map_get_next_key(slots_fd, have ? &key : NULL, &next) == 0) {
		if (next.pid == pid) {
			bpf_map_delete_elem(slots_fd, &next);
			have = 0;	/* restart: deleting invalidates the cursor */
			continue;
		}
		key = next;
		have = 1;
	}
	return 0;
}

int lm_tracer_poll(struct lm_tracer *t, int timeout_ms)
{
	int ret = ring_buffer__poll(t->rb, timeout_ms);

	if (ret == -EINTR)
		ret = 0;
	/* Harvest events are submitted without a wake-up: take them now. */
	if (ret >= 0) {
		int more = ring_buffer__consume(t->rb);

		ret = more < 0 ? more : ret + more;
	}
	return ret;
}

struct sock_state;
static void add_pending_moves(struct lm_tracer *t, uint32_t pid, struct lm_vm_counters *sum);

/* One value per possible CPU of a per-CPU map (caller frees), or NULL and -errno. */
static void *lookup_percpu(const struct lm_tracer *t, const struct bpf_map *map, const void *key,
			   size_t elem_size, int *err)
{
	void *v = calloc(t->ncpus, elem_size);

	*err = v ? 0 : -ENOMEM;
	if (v && bpf_map_lookup_elem(bpf_map__fd(map), key, v)) {
		*err = -errno;
		free(v);
		v = NULL;
	}
	return v;
}

int lm_tracer_counters(struct lm_tracer *t, uint32_t pid, struct lm_vm_counters *sum)
{
	struct lm_vm_counters *v;
	uint64_t newest = 0;
	int i, err;

	memset(sum, 0, sizeof(*sum));
	v = lookup_percpu(t, t->skel->maps.vm_counters, &pid, sizeof(*v), &err);
	if (!v)
		return err;
	for (i = 0; i < t->ncpus; i++) {
		sum->tx_bytes += v[i].tx_bytes;
		sum->tx_calls += v[i].tx_calls;
		sum->acked_bytes += v[i].acked_bytes;
		sum->dirty_events += v[i].dirty_events;
		sum->ring_pushes += v[i].ring_pushes;
		sum->get_calls += v[i].get_calls;
		sum->clear_calls += v[i].clear_calls;
		sum->bitmap_bytes += v[i].bitmap_bytes;
		sum->count_ns += v[i].count_ns;
		sum->lost_events += v[i].lost_events;
		/* not summed: the newest tcp_probe's values, whichever CPU saw it */
		if (v[i].last_probe_ns >= newest) {
			newest = v[i].last_probe_ns;
			sum->last_probe_ns = newest;
			sum->last_srtt_us = v[i].last_srtt_us;
			sum->last_cwnd = v[i].last_cwnd;
		}
	}
	free(v);
	add_pending_moves(t, pid, sum);
	return 0;
}

int lm_tracer_drops(struct lm_tracer *t, struct lm_drops *sum)
{
	struct lm_drops *v;
	uint32_t zero = 0;
	int i, err;

	memset(sum, 0, sizeof(*sum));
	v = lookup_percpu(t, t->skel->maps.drops, &zero, sizeof(*v), &err);
	if (!v)
		return err;
	for (i = 0; i < t->ncpus; i++) {
		sum->ringbuf_full += v[i].ringbuf_full;
		sum->pending_full += v[i].pending_full;
		sum->slot_map_full += v[i].slot_map_full;
		sum->sock_map_full += v[i].sock_map_full;
	}
	free(v);
	return 0;
}

uint32_t lm_tracer_source(const struct lm_tracer *t)
{
	return t->source;
}

const char *lm_tracer_describe(const struct lm_tracer *t)
{
	return t->desc;
}

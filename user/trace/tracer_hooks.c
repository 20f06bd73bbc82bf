// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The dirty-log hooks, and the iterator that tells when they are due.
 *
 * Hooks inside KVM (fentry or kprobe on kvm_vm_ioctl) cost no other process
 * anything and stay attached. Where only syscall tracepoints attach (this
 * host: sys_enter/exit_ioctl), every thread on the host takes the kernel's
 * syscall-tracing slow path while they are attached (doc/host-behaviour.md),
 * so they are attached only while a traced VM has dirty logging on, which
 * the discovery iterator reads straight from KVM's memslots without a hook.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "trace/tracer_int.h"

/* The ways to see KVM's dirty-log ioctls, cheapest for the host first. */
static const char *const hook_kind_names[] = {
	[LM_HOOKS_FENTRY] = "fentry/fexit on kvm_vm_ioctl (only KVM's VM ioctls pay)",
	[LM_HOOKS_KPROBE] = "kprobe/kretprobe on kvm_vm_ioctl (only KVM's VM ioctls pay)",
	[LM_HOOKS_SYSCALL_TP] = "syscalls:sys_enter/exit_ioctl, attached only while a traced VM "
				"has dirty logging on (every process's syscalls pay while attached)",
};

static void hook_pair(struct lm_tracer *t, int kind, struct bpf_program **pair)
{
	struct lmtrace_bpf *s = t->skel;

	switch (kind) {
	case LM_HOOKS_FENTRY:
		pair[0] = s->progs.handle_kvm_vm_ioctl_fentry;
		pair[1] = s->progs.handle_kvm_vm_ioctl_fexit;
		break;
	case LM_HOOKS_KPROBE:
		pair[0] = s->progs.handle_kvm_vm_ioctl_kprobe;
		pair[1] = s->progs.handle_kvm_vm_ioctl_kretprobe;
		break;
	default:
		pair[0] = s->progs.handle_kvm_ioctl_enter;
		pair[1] = s->progs.handle_kvm_ioctl_exit;
	}
}

static int attach_pair(struct lm_tracer *t)
{
	int i, ret;

	for (i = 0; i < 2; i++) {
		struct bpf_link *link = bpf_program__attach(t->hooks[i]);

		if (!link) {
			ret = -errno;
			while (t->nhook_links > 0)
				bpf_link__destroy(t->hook_links[--t->nhook_links]);
			return ret;
		}
		t->hook_links[t->nhook_links++] = link;
	}
	return 0;
}

/*
 * The first kind of hook this kernel loads and attaches. Hooks inside KVM
 * cost nothing to anyone else and stay attached; the syscall tracepoints
 * are the fallback, checked here once so a kernel that refuses them fails
 * at start and not mid-migration, then attached only while needed.
 */
int lm_tracer_plan_hooks(struct lm_tracer *t)
{
	int kind, ret = -ENOENT;

	for (kind = LM_HOOKS_FENTRY; kind <= LM_HOOKS_SYSCALL_TP; kind++) {
		hook_pair(t, kind, t->hooks);
		if (!bpf_program__autoload(t->hooks[0]) || !bpf_program__autoload(t->hooks[1]))
			continue;
		ret = attach_pair(t);
		if (ret)
			continue;
		t->hook_kind = kind;
		if (kind == LM_HOOKS_SYSCALL_TP)
			while (t->nhook_links > 0)
				bpf_link__destroy(t->hook_links[--t->nhook_links]);
		else
			t->hooks_since_ns = 1;	/* attached for good */
		return 0;
	}
	return ret;
}

int lm_tracer_hooks_tax_host(const struct lm_tracer *t)
{
	return t->hook_kind == LM_HOOKS_SYSCALL_TP;
}

const char *lm_tracer_hooks_describe(const struct lm_tracer *t)
{
	return hook_kind_names[t->hook_kind];
}

/* Keys of a map, deleted one by one (restarting: deleting moves the cursor). */
static void clear_map(const struct bpf_map *map, size_t key_size)
{
	char key[64];
	int fd = bpf_map__fd(map), n = 0;

	if (key_size > sizeof(key))
		return;
	while (n++ < 1 << 20 && bpf_map_get_next_key(fd, NULL, key) == 0)
		bpf_map_delete_elem(fd, key);
}

static void detach_hooks(struct lm_tracer *t)
{
	while (t->nhook_links > 0)
		bpf_link__destroy(t->hook_links[--t->nhook_links]);
	t->hooks_since_ns = 0;
}

/*
 * What the hooks learnt is stale once they were off: memslots changed
 * unseen (the GET path reads them from KVM instead), and an ioctl entered
 * before the detach must not pair with an exit after the next attach.
 */
static void forget_hook_state(struct lm_tracer *t)
{
	clear_map(t->skel->maps.slots, sizeof(struct lm_slot_key));
	clear_map(t->skel->maps.pending, sizeof(uint32_t));
}

int lm_tracer_set_hooks(struct lm_tracer *t, int on, uint64_t now_ns)
{
	int ret;

	if (!lm_tracer_hooks_tax_host(t))
		return 0;	/* inside KVM: always attached */
	if (!on) {
		detach_hooks(t);
		return 0;
	}
	if (t->nhook_links)
		return 0;
	forget_hook_state(t);
	ret = attach_pair(t);
	if (ret)
		return ret;
	t->hooks_since_ns = now_ns ? now_ns : 1;
	return 0;
}

uint64_t lm_tracer_hooks_since(const struct lm_tracer *t)
{
	return t->hooks_since_ns;
}

void lm_tracer_close_hooks(struct lm_tracer *t)
{
	int i;

	detach_hooks(t);
	for (i = 0; i < LM_MAX_VMS; i++)
		bpf_link__destroy(t->pid_iters[i].link);
	memset(t->pid_iters, 0, sizeof(t->pid_iters));
	bpf_link__destroy(t->iter_all);
	t->iter_all = NULL;
}

/* The iterator link for one pid (kernels >= 6.1 filter by pid), or NULL. */
static struct bpf_link *pid_iter_link(struct lm_tracer *t, uint32_t pid)
{
	DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info info = {};
	struct pid_iter *free_slot = NULL;
	int i;

	for (i = 0; i < LM_MAX_VMS; i++) {
		if (t->pid_iters[i].link && t->pid_iters[i].pid == pid)
			return t->pid_iters[i].link;
		if (!t->pid_iters[i].link && !free_slot)
			free_slot = &t->pid_iters[i];
	}
	if (t->no_pid_filter || !free_slot)
		return NULL;
	info.task.pid = pid;
	opts.link_info = &info;
	opts.link_info_len = sizeof(info);
	free_slot->link = bpf_program__attach_iter(t->skel->progs.find_kvm_vms, &opts);
	if (!free_slot->link) {
		t->no_pid_filter = errno == EINVAL;
		return NULL;
	}
	free_slot->pid = pid;
	return free_slot->link;
}

void lm_tracer_forget_pid_iter(struct lm_tracer *t, uint32_t pid)
{
	int i;

	for (i = 0; i < LM_MAX_VMS; i++)
		if (t->pid_iters[i].link && t->pid_iters[i].pid == pid) {
			bpf_link__destroy(t->pid_iters[i].link);
			t->pid_iters[i].link = NULL;
		}
}

int lm_tracer_vm_files(struct lm_tracer *t, uint32_t pid, struct lm_vm_file *out, int max)
{
	struct bpf_link *link = pid ? pid_iter_link(t, pid) : NULL;
	size_t have = 0, cap = (size_t)max * sizeof(*out);
	int fd, n = 0, i;
	ssize_t got = 0;

	if (!link) {
		if (!t->iter_all)
			t->iter_all = bpf_program__attach_iter(t->skel->progs.find_kvm_vms, NULL);
		if (!t->iter_all)
			return -errno;
		link = t->iter_all;
	}
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	while (have < cap && (got = read(fd, (char *)out + have, cap - have)) > 0)
		have += got;
	/* a reading cut short would say "no logging" for the VMs it missed */
	if (got < 0) {
		got = -errno;
		close(fd);
		return (int)got;
	}
	close(fd);
	/* unfiltered (an older kernel): keep only pid's */
	for (i = 0; i < (int)(have / sizeof(*out)); i++)
		if (!pid || out[i].tgid == pid)
			out[n++] = out[i];
	return n;
}

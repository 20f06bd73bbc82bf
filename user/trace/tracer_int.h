/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The tracer's state, shared by its two halves: loading (tracer.c) and the
 * hooks attached on demand with the VM scan that decides when (tracer_hooks.c). */
#ifndef LM_TRACER_INT_H
#define LM_TRACER_INT_H

#include "lmtrace.skel.h"
#include "trace/tracer.h"

#define MAX_LINKS 16
/* The dirty-log hooks: ioctl enter and exit. */
#define MAX_HOOK_LINKS 2

enum lm_hook_kind { LM_HOOKS_FENTRY, LM_HOOKS_KPROBE, LM_HOOKS_SYSCALL_TP };

/* A per-pid iterator link, so reading one VMM's files walks only those. */
struct pid_iter {
	uint32_t pid;
	struct bpf_link *link;
};

struct lm_tracer {
	struct lmtrace_bpf *skel;
	struct bpf_link *links[MAX_LINKS];	/* attached for as long as lmtrace runs */
	int nlinks;
	struct bpf_link *hook_links[MAX_HOOK_LINKS];	/* attached while a VM needs them */
	int nhook_links;
	struct bpf_program *hooks[MAX_HOOK_LINKS];
	int hook_kind;			/* enum lm_hook_kind */
	uint64_t hooks_since_ns;	/* when they were attached; 0 while detached */
	struct bpf_link *iter_all;
	struct pid_iter pid_iters[LM_MAX_VMS];
	int no_pid_filter;		/* the kernel cannot filter iterators by pid */
	struct ring_buffer *rb;
	int ncpus;
	uint32_t source;
	char desc[768];
	lm_event_fn cb;
	void *ctx;
};

/* Picks the dirty-log hooks this kernel allows (0 or -errno); lm_tracer_set_hooks() attaches them. */
int lm_tracer_plan_hooks(struct lm_tracer *t);
void lm_tracer_close_hooks(struct lm_tracer *t);

#endif /* LM_TRACER_INT_H */

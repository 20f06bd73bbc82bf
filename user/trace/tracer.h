/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The only module that knows libbpf (tracer.c loads, tracer_hooks.c attaches
 * the dirty-log hooks on demand and reads the discovery iterator): loads the
 * BPF programs (the best dirty-page source this kernel allows, with
 * fallbacks), attaches them,
 * manages the traced pids, and hands events and counters to the caller.
 */
#ifndef LM_TRACER_H
#define LM_TRACER_H

#include <stddef.h>
#include <stdint.h>
#include "lmtrace.h"

struct lm_tracer;

struct lm_tracer_opts {
	uint16_t port;		/* 0 = every TCP socket of the VMM */
	int verbose;		/* libbpf debug output */
	int no_fentry, no_kprobe;
	int no_send_tp;		/* count bytes through sendmsg() even where sock_send_length exists (testing) */
};

typedef int (*lm_event_fn)(void *ctx, const struct lm_event *e);

/* 0 or -errno with a user-facing message in err. */
int lm_tracer_open(struct lm_tracer **out, const struct lm_tracer_opts *opts,
		   lm_event_fn cb, void *ctx, char *err, size_t errlen);
void lm_tracer_close(struct lm_tracer *t);
int lm_tracer_add_pid(struct lm_tracer *t, uint32_t pid);
int lm_tracer_remove_pid(struct lm_tracer *t, uint32_t pid);
/*
 * Dirty logging came on for pid after ns, seen by a reading and not by the
 * hooks: sockets that started sending since are taken as the migration's
 * until user space decides (as BPF does when its hooks see the switch).
 */
int lm_tracer_note_log_on(struct lm_tracer *t, uint32_t pid, uint64_t ns);
/* Tell BPF what user space decided a socket is (enum lm_sock_role). */
int lm_tracer_set_sock_role(struct lm_tracer *t, uint64_t sk, uint32_t role);
/* One LM_EV_SOCK_BYTES event per socket pid has sent on (its bytes so far), to fn. */
void lm_tracer_sock_bytes(struct lm_tracer *t, uint32_t pid, uint64_t now_ns, lm_event_fn fn,
			  void *ctx);
/* Wait up to timeout_ms for events and deliver them; returns events or -errno. */
int lm_tracer_poll(struct lm_tracer *t, int timeout_ms);
/* The VM's per-CPU counters, summed. */
int lm_tracer_counters(struct lm_tracer *t, uint32_t pid, struct lm_vm_counters *sum);
int lm_tracer_drops(struct lm_tracer *t, struct lm_drops *sum);
/* Events lost for any reason. */
static inline uint64_t lm_drops_total(const struct lm_drops *d)
{
	return d->ringbuf_full + d->pending_full + d->slot_map_full + d->sock_map_full;
}
/*
 * The dirty-log hooks (syscall tracepoints here: a cost to every process on
 * the host while attached) on or off; 0 or -errno. now_ns is when.
 */
int lm_tracer_set_hooks(struct lm_tracer *t, int on, uint64_t now_ns);
/* 1 if the hooks are syscall tracepoints (the host pays while attached), 0 if inside KVM. */
int lm_tracer_hooks_tax_host(const struct lm_tracer *t);
const char *lm_tracer_hooks_describe(const struct lm_tracer *t);
/* When the hooks were attached, 0 while they are not. */
uint64_t lm_tracer_hooks_since(const struct lm_tracer *t);
/*
 * The KVM VM files of pid (0: of every process), read by the discovery
 * iterator with no hook attached: how many were written to out (at most
 * max), or -errno.
 */
int lm_tracer_vm_files(struct lm_tracer *t, uint32_t pid, struct lm_vm_file *out, int max);
/* pid is gone: its iterator goes too. */
void lm_tracer_forget_pid_iter(struct lm_tracer *t, uint32_t pid);
/* enum lm_dirty_source, and a sentence on what is attached, for the user. */
uint32_t lm_tracer_source(const struct lm_tracer *t);
const char *lm_tracer_describe(const struct lm_tracer *t);

#endif /* LM_TRACER_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The only module that knows libbpf: loads the BPF programs (the best
 * dirty-page source this kernel allows, with fallbacks), attaches them,
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
/* enum lm_dirty_source, and a sentence on what is attached, for the user. */
uint32_t lm_tracer_source(const struct lm_tracer *t);
const char *lm_tracer_describe(const struct lm_tracer *t);

#endif /* LM_TRACER_H */

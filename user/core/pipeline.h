/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The pipeline: observations in, estimates and output out. It owns the one
 * per-VM table: for each VM its view (what sinks see), its estimator, each
 * sink's per-VM slot (lm_sink.vm_state_size bytes) and, when traced live,
 * its round tracker (vmtrack.h), which turns the VM's BPF events into
 * observations. Every observation updates the VM's estimator and view, then
 * goes to each sink through lm_sink_dispatch() (view.h). The sinks are
 * lent to it: it calls each one's close in lm_pipeline_finish(), and close
 * frees what the sink allocated (the outputs.h sinks free themselves).
 * Pure: no clocks, no BPF, no I/O of its own, so live tracing and replay go
 * through exactly the same code.
 */
#ifndef LM_PIPELINE_H
#define LM_PIPELINE_H

#include <stdint.h>
#include "lmtrace.h"
#include "core/published.h"
#include "core/obs.h"
#include "core/streams.h"
#include "core/view.h"

#define LM_MAX_SINKS 8
#define LM_PIPE_MAX_VMS LM_MAX_VMS	/* as many VMs as the BPF side can filter on */

struct lm_pipe_vm;	/* one VM's entry (pipeline.c) */

struct lm_act_decision;
/* Told when --act decided an action for a VM (live: the tracer carries it out). */
typedef void (*lm_act_fn)(void *ctx, uint32_t pid, const struct lm_act_decision *d);

/* Told when a VM's socket is found to be (or not to be) the migration's. */
typedef void (*lm_sock_role_fn)(void *ctx, uint32_t pid, const struct lm_stream *s);

struct lm_pipeline {
	struct lm_est_config cfg;	/* every new VM's estimator starts from it */
	struct lm_pipe_vm *vms[LM_PIPE_MAX_VMS];
	int nvms;
	struct lm_sink *sinks[LM_MAX_SINKS];
	int nsinks;
	lm_sock_role_fn on_sock_role;
	void *sock_role_ctx;
	lm_act_fn on_act;
	void *act_ctx;
	int error;		/* first write error of a sink's stream (-errno), 0 none */
};

void lm_pipeline_init(struct lm_pipeline *p, const struct lm_est_config *cfg);
/*
 * s must stay valid until lm_pipeline_finish() closes it. VMs already in
 * the table get their slot for s now. -ENOSPC if full, -ENOMEM.
 */
int lm_pipeline_add_sink(struct lm_pipeline *p, struct lm_sink *s);
/* Name a VM for labels (QEMU -name, else comm). Creates the entry if needed. */
void lm_pipeline_set_name(struct lm_pipeline *p, uint32_t pid, const char *name);
/* Feed one observation. -ENOSPC if it is for a new VM and the table is full
 * (or its entry and slots cannot be allocated). */
int lm_pipeline_feed(struct lm_pipeline *p, const struct lm_obs *o);
/* A sink's stream failed (a closed pipe, a full disk): -errno, else 0. */
int lm_pipeline_error(const struct lm_pipeline *p);
/* A message for every sink (level 0 = info, 1 = warning, 2 = error). */
void lm_pipeline_message(struct lm_pipeline *p, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * A VM whose process is gone: its summary to every sink, then on_forget,
 * then its entry and the sinks' slots are freed (a long-running trace sees
 * VMs come and go; a reused pid starts afresh, with zeroed slots). Untrack
 * it first.
 */
void lm_pipeline_retire(struct lm_pipeline *p, uint32_t pid);
/* Summaries for every VM, then close every sink, then free every VM entry
 * with its slots (no on_forget). Returns the first sink error. */
int lm_pipeline_finish(struct lm_pipeline *p);
const struct lm_vm_view *lm_pipeline_vm(const struct lm_pipeline *p, uint32_t pid);
/* The i-th VM's view in order of first appearance, NULL past the last. */
const struct lm_vm_view *lm_pipeline_view(const struct lm_pipeline *p, int i);

/*
 * Live tracing. Times are CLOCK_MONOTONIC ns, as BPF stamps its events;
 * realtime_offset_ns turns them into the Unix times observations carry.
 * cookie is the caller's handle for the VM (e.g. a pidfd); the pipeline
 * only stores it. Returns 0, -EEXIST, -ENOSPC or -ENOMEM.
 */
#define LM_TRACK_PORT_FILTER	(1u << 0)	/* --port: BPF decides the migration's sockets */
int lm_pipeline_track(struct lm_pipeline *p, uint32_t pid, uint32_t source,
		      int64_t realtime_offset_ns, int64_t cookie, uint32_t flags);
/* Where --act's decisions go (none in replay: the recording has their outcomes). */
void lm_pipeline_on_act(struct lm_pipeline *p, lm_act_fn fn, void *ctx);
/* Where decisions about sockets go (the tracer tells BPF). */
void lm_pipeline_on_sock_role(struct lm_pipeline *p, lm_sock_role_fn fn, void *ctx);
/* The i-th tracked VM (0 <= i, until it returns 0): its pid and cookie. */
int lm_pipeline_tracked(const struct lm_pipeline *p, int i, uint32_t *pid, int64_t *cookie);
/* One BPF event; events of VMs not tracked are ignored. */
void lm_pipeline_event(struct lm_pipeline *p, const struct lm_event *e);
/* 1 while a tracked VM migrates or may start to: time-driven work needs frequent polls. */
int lm_pipeline_busy(const struct lm_pipeline *p);
/* lm_vmtrack_unseen_logon_ns() of pid's VM, 0 if untracked. */
uint64_t lm_pipeline_unseen_logon_ns(const struct lm_pipeline *p, uint32_t pid);
/* 1 while some tracked VM needs the dirty-log hooks (lm_vmtrack_wants_hooks). */
int lm_pipeline_wants_hooks(const struct lm_pipeline *p);
/* Time passes: close idle harvest bursts, confirm completed migrations. */
void lm_pipeline_poll(struct lm_pipeline *p, uint64_t now_ns);
/* A periodic sample of one VM from its summed counters. */
void lm_pipeline_tick(struct lm_pipeline *p, uint32_t pid, uint64_t now_ns,
		      const struct lm_vm_counters *sum);
/*
 * Stop tracking a VM (its process exited, or tracing stops): end an open
 * migration with reason, then a last sample from sum (if not NULL) so the
 * totals include what was sent since the last tick. The view stays for the
 * summary.
 */
void lm_pipeline_untrack(struct lm_pipeline *p, uint32_t pid, uint64_t now_ns, uint32_t reason,
			 const struct lm_vm_counters *sum);

#endif /* LM_PIPELINE_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the outputs see of one traced VM, and the sink interface. The
 * pipeline (pipeline.c) runs every observation through the VM's estimator,
 * publishes the result in the VM's view, then hands both to each sink
 * through one dispatcher (sink_dispatch.c), which turns them into the typed
 * callbacks of struct lm_sink: a sink sets the ones it needs. A sink only
 * formats and writes; it never changes the view, and it sees the estimate
 * (published.h), never the estimator behind it. What a sink keeps about a
 * VM lives in the per-VM slot the pipeline allocates with the VM's entry
 * (vm_state_size), not in a table of its own. Live tracing, replay and the
 * report use the same sinks. Constructors are in sinks/outputs.h.
 */
#ifndef LM_VIEW_H
#define LM_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/published.h"
#include "core/obs.h"

#define LM_HISTORY 64	/* samples kept per VM for sparklines and charts */
#define LM_ACT_KINDS 6	/* enum lm_act_kind: none .. release */

/* Everything known about one traced VM, updated before sinks are called. */
struct lm_vm_view {
	uint32_t pid;
	char name[64];			/* QEMU -name or comm, for labels */
	struct lm_estimate est;		/* the estimator's latest, with the settings in force */
	uint32_t previous_phase;	/* enum lm_phase before the last change */
	/* totals while traced */
	uint32_t rounds;
	uint64_t dirty_pages;		/* sum over rounds >= 2 (round 1 is RAM size) */
	uint64_t tx_bytes;		/* migration bytes while traced: the newest reading, which
					 * steps down when bytes counted for a socket that turned
					 * out not to be the migration's are taken back */
	uint64_t ram_bytes;
	uint32_t source;		/* enum lm_dirty_source */
	int migrating;
	uint32_t migrations;		/* START records seen */
	/* dirty-rate measurements (QEMU's calc-dirty-rate windows), not migrations */
	uint32_t dirty_rate_windows;
	double measured_dirty_Bps;	/* unique bytes/s in the last one, <0 none */
	double measured_window_s;
	uint32_t end_reason;		/* enum lm_end_reason of the last END */
	double first_ts_s, last_ts_s;
	/*
	 * Last interval (from the last TICK). The dirty rate is not here: it
	 * is est.dirty_rate_Bps, so that every output shows the same one.
	 */
	double tx_bytes_per_s;		/* over the last tick interval */
	uint32_t srtt_us, cwnd;
	uint64_t lost_events;		/* its events the ring buffer had no room for */
	double migration_start_ts_s;	/* Unix time of the last START, <0 none */
	/* --act: the settings, and the last decided action with its outcome */
	int act_on;			/* an LM_OBS_ACT_CONFIG was seen */
	struct lm_obs_act_config act_cfg;
	uint32_t actions[LM_ACT_KINDS];		/* outcomes seen, by enum lm_act_kind */
	uint32_t actions_applied[LM_ACT_KINDS];	/* of which QEMU accepted */
	uint32_t act_last_action, act_last_value, act_last_round, act_last_outcome;
	int32_t act_last_error;
	int act_last_sufficient;
	char act_last_reason[LM_REASON_MAX];
	struct lm_estimate act_last_est;	/* the estimate it was decided on */
	double act_last_ts_s;		/* <0 none */
	uint32_t act_mismatches;	/* outcomes no decision of this policy explains (replay) */
	/* ring of recent samples, oldest first at hist_head when full */
	struct {
		double ts_s;
		double dirty_Bps;	/* est.dirty_rate_Bps at the sample */
		double tx_Bps;
		uint64_t remaining;
		uint32_t verdict;
	} hist[LM_HISTORY];
	uint32_t hist_len, hist_head;
};

/* What an observation changed in the VM's estimate. */
#define LM_CHANGED_VERDICT	(1u << 0)
#define LM_CHANGED_PHASE	(1u << 1)	/* est.phase moved (previous_phase says from what) */

/* What every per-VM callback of a sink is given. */
struct lm_sink_vm {
	const struct lm_vm_view *view;	/* the VM, after the estimator consumed obs */
	/* the sink's own per-VM slot: vm_state_size bytes, zeroed when the
	 * VM's entry was made (or the sink added), freed with the entry: after
	 * on_forget, or after close at the end; NULL if vm_state_size is 0 */
	void *state;
	const struct lm_obs *obs;	/* the observation; NULL in on_summary and on_forget */
	double ts_s;			/* its Unix time (view->last_ts_s without one) */
	unsigned changed;		/* LM_CHANGED_* of the estimate */
};

/*
 * An output. The pipeline hands each observation to lm_sink_dispatch(),
 * which calls, in this order and only those that are set (NULL: not
 * interested):
 *   on_update    every observation, before the others (a sink that mirrors
 *                the whole view, or stores every observation)
 *   on_start .. on_head_start   the one matching the observation's kind
 *   on_phase     the estimate's phase moved
 *   on_verdict   the estimate's verdict changed
 *   on_refresh   what a display of the current state shows moved: a
 *                sample, a start, an end, a new phase or verdict
 * A sink only formats and writes; it never changes the view.
 */
struct lm_sink;
typedef void (*lm_sink_fn)(struct lm_sink *s, const struct lm_sink_vm *v);

struct lm_sink {
	const char *name;
	void *ctx;
	FILE *out;	/* the stream it writes, if any: the pipeline watches it for write errors */
	size_t vm_state_size;	/* bytes of per-VM state it wants (struct lm_sink_vm.state) */
	lm_sink_fn on_update;
	void (*on_start)(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_start *st);
	void (*on_round)(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_round *r);
	/* a periodic sample (LM_OBS_TICK) */
	void (*on_sample)(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_tick *t);
	void (*on_end)(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_end *e);
	void (*on_params)(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_params *p);
	/* a calc-dirty-rate window (no migration) */
	void (*on_dirty_rate)(struct lm_sink *s, const struct lm_sink_vm *v,
			      const struct lm_obs_dirty_rate *d);
	void (*on_act_config)(struct lm_sink *s, const struct lm_sink_vm *v,
			      const struct lm_obs_act_config *c);
	/* an action's outcome; the view's act_last_* say the decision behind it */
	void (*on_action)(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_action *a);
	void (*on_head_start)(struct lm_sink *s, const struct lm_sink_vm *v,
			      const struct lm_obs_head_start *h);
	lm_sink_fn on_phase, on_verdict, on_refresh;
	/* once at the end for each VM (or when its process is gone, in a long-running trace) */
	lm_sink_fn on_summary;
	/* the VM is gone for good, after its summary: unlink what points at it
	 * (the view and the state are freed right after this call) */
	lm_sink_fn on_forget;
	/* a warning worth showing the user (lost events, hook fallback), 0 = info */
	void (*on_message)(struct lm_sink *s, int level, const char *msg);
	/* flush and free; returns 0 or -errno (e.g. a write error) */
	int (*close)(struct lm_sink *s);
};

/* One observation to one sink, as the callbacks above (sink_dispatch.c). */
void lm_sink_dispatch(struct lm_sink *s, const struct lm_sink_vm *v);

#endif /* LM_VIEW_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the outputs see of one traced VM, and the sink interface. The
 * pipeline (pipeline.c) runs every observation through the VM's estimator,
 * publishes the result in the VM's view, then hands both to each sink. A
 * sink only formats and writes; it never changes the view, and it sees the
 * estimate (published.h), never the estimator behind it. Live tracing and
 * replay use the same sinks. Constructors are in sinks/outputs.h.
 */
#ifndef LM_VIEW_H
#define LM_VIEW_H

#include <stdint.h>
#include <stdio.h>
#include "core/published.h"
#include "core/obs.h"

#define LM_HISTORY 64
#define LM_ACT_KINDS 6	/* enum lm_act_kind: none .. release */	/* samples kept per VM for sparklines and charts */

/* Everything known about one traced VM, updated before sinks are called. */
struct lm_vm_view {
	uint32_t pid;
	char name[64];			/* QEMU -name or comm, for labels */
	struct lm_estimate est;		/* the estimator's latest, with the settings in force */
	uint32_t previous_phase;	/* enum lm_phase before the last change */
	/* totals while traced */
	uint32_t rounds;
	uint64_t dirty_pages;		/* sum over rounds >= 2 (round 1 is RAM size) */
	uint64_t tx_bytes;		/* migration bytes while traced */
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

struct lm_sink {
	const char *name;
	void *ctx;
	FILE *out;	/* the stream it writes, if any: the pipeline watches it for write errors */
	/* every observation, after the estimator consumed it; changed: LM_CHANGED_* of the estimate */
	void (*on_obs)(struct lm_sink *s, const struct lm_obs *o,
		       const struct lm_vm_view *vm, unsigned changed);
	/* once at the end for each VM (or when its process is gone, in a long-running trace) */
	void (*on_summary)(struct lm_sink *s, const struct lm_vm_view *vm);
	/* the VM is gone for good, after its summary: drop what the sink keeps of it
	 * (vm is freed right after this call) */
	void (*on_forget)(struct lm_sink *s, const struct lm_vm_view *vm);
	/* a warning worth showing the user (lost events, hook fallback), 0 = info */
	void (*on_message)(struct lm_sink *s, int level, const char *msg);
	/* flush and free; returns 0 or -errno (e.g. a write error) */
	int (*close)(struct lm_sink *s);
};

#endif /* LM_VIEW_H */

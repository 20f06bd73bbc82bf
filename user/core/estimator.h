/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The convergence estimator: pure and deterministic. It is fed lm_obs records
 * of one VM in time order and answers with an lm_estimate (published.h). No
 * syscalls, no clocks, no printing, no allocation after init: a recorded
 * trace replays to identical output. The state below is the estimator's
 * own (est_*.c); the pipeline embeds it and calls the three functions at
 * the end. The model it applies is model.h's.
 */
#ifndef LM_ESTIMATOR_H
#define LM_ESTIMATOR_H

#include <stdint.h>
#include "core/published.h"
#include "core/curve.h"
#include "core/evidence.h"
#include "core/obs.h"

#define LM_EST_RATE_ROUNDS 16	/* rounds the link rate is averaged over, at most */

struct lm_estimator {
	struct lm_est_config cfg;
	struct lm_estimate cur;
	/* internal state */
	struct lm_curve_point pts[LM_CURVE_MAX_POINTS];
	uint32_t npts;			/* total pushed (ring index = n % MAX) */
	uint32_t nrounds;		/* rounds seen in this migration */
	uint32_t last_round;		/* number of the last ROUND */
	uint64_t ram_bytes;
	uint64_t base_ts_ns;		/* first timestamp seen: times below are relative to it */
	int have_base;
	double start_ts_s;
	double last_ts_s;
	uint64_t tx_total_at_start;
	uint64_t tx_total;
	/* last sync */
	double sync_ts_s;
	uint64_t sync_tx;
	double sync_guest_s;
	double pending_at_sync;		/* bytes QEMU must send after the last sync (estimate) */
	double last_round_dirty;	/* popcount bytes of the last round */
	double last_round_wall_s;
	double last_round_tscale;	/* guest/wall time over the last round: 1 - the throttle that ran */
	double last_round_rate_Bps;	/* tx rate over the last rounds (at least a second of them) */
	double last_round_raw_Bps;	/* the last round's bytes over its length, zero pages or not */
	/* an `lmtrace check` (LM_OBS_HEAD_START) and whether it speaks for this migration */
	struct lm_obs_head_start head_start;
	uint64_t head_start_ts_ns;
	int head_start_valid, head_start_live;
	double head_start_age_s;	/* from the check to this migration's start */
	double rate_tx[LM_EST_RATE_ROUNDS];	/* bytes and seconds of the last rounds that measured the link */
	double rate_wall[LM_EST_RATE_ROUNDS];
	uint32_t nrate;			/* total pushed (ring index = n % MAX) */
	double bulk_s;			/* duration of the bulk pass (round 2), 0 until known */
	uint32_t post_bulk_rounds;	/* rounds >= 2 with a usable duration */
	/* rates */
	double tx_rate_ewma;
	double prev_tick_ts_s;
	uint64_t prev_tick_tx;
	int have_tick_rate;
	/* guest clock: wall time scaled by (1 - throttle) */
	double guest_s;
	uint32_t throttle_pct_now;
	int have_params;
	int migrating;
	uint32_t phase;
	/* continuous dirty source */
	int have_events;
	uint64_t events_now;
	uint64_t events_at_sync;
	double events_uniqueness;	/* popcount / events over complete rounds, 1 until calibrated */
	uint32_t cont_fail_ticks;	/* consecutive ticks whose best case fails */
	/* completion */
	double final_ts_s;
	double stop_ts_s;		/* when the VM stop began (measured downtime starts here) */
	double final_pending;
	/* evidence and hysteresis */
	struct lm_evidence ev;
	int firm_given;			/* converging or not-converging said in this migration */
	int params_untested;		/* throttle, cap or limit changed since the last sync */
	int params_changed_now;		/* this record changed them */
	int measured_now;		/* this sync ended the first round under new parameters */
	uint32_t nc_rounds;		/* syncs in a row, under these parameters, whose best case failed */
	uint32_t conv_rounds;		/* syncs in a row, under these parameters, that said converging */
	uint32_t cause_now;		/* enum lm_change_cause of this record's verdict, if it changed */
	/* postcopy */
	uint32_t qemu_status;		/* enum lm_qemu_status from QMP, 0 unknown */
	double postcopy_ts_s;		/* the switch (its sync), <0 none */
	uint64_t postcopy_tx;		/* bytes sent before the switch */
	int postcopy_by_qmp;
	double postcopy_end_s;		/* the end after a postcopy, <0 not yet */
};

void lm_est_init(struct lm_estimator *e, const struct lm_est_config *cfg);
/* Feed one observation; returns 1 if the verdict changed, else 0. */
int lm_est_feed(struct lm_estimator *e, const struct lm_obs *o);
const struct lm_estimate *lm_est_current(const struct lm_estimator *e);

#endif /* LM_ESTIMATOR_H */

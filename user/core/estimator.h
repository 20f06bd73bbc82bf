/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The convergence estimator: pure and deterministic. It is fed lm_obs records
 * of one VM in time order and answers with an lm_estimate. No syscalls, no
 * clocks, no printing, no allocation after init: a recorded trace replays to
 * identical output.
 */
#ifndef LM_ESTIMATOR_H
#define LM_ESTIMATOR_H

#include <stdint.h>
#include "obs.h"

enum lm_verdict {
	LM_VERDICT_UNKNOWN = 0,		/* not enough data yet */
	LM_VERDICT_CONVERGING = 1,
	LM_VERDICT_MARGINAL = 2,
	LM_VERDICT_NOT_CONVERGING = 3,
};

const char *lm_verdict_name(enum lm_verdict v); /* "unknown", "converging", "marginal", "not-converging" */

/*
 * Defaults, overridden by the command line, then by QMP (LM_OBS_PARAMS).
 * Fields after page_size are optional: 0 selects the built-in default (so a
 * zero-filled config, e.g. from an old recording header, behaves sanely).
 */
struct lm_est_config {
	double downtime_limit_s;	/* QEMU default 0.300 */
	double max_bandwidth_Bps;	/* 0 = not capped (use measured rate) */
	uint64_t page_size;		/* 4096 */
	/*
	 * Rate of the stop-and-copy phase. QEMU lifts max-bandwidth once the
	 * VM is stopped, so with a cap the real downtime is shorter than
	 * pending/cap. 0 = unknown: the capped rate is used and the predicted
	 * downtime is an upper bound (lm_estimate.downtime_is_bound = 1).
	 */
	double switchover_bandwidth_Bps;
	/*
	 * "not-converging" means: no switchover within the horizon even in
	 * the best case the data allows. Horizon = max(horizon_s, horizon_bulk
	 * x bulk-pass duration). Defaults 60 s and 20.
	 */
	double horizon_s;
	double horizon_bulk;
	/* Throttle target: short-window dirty rate <= rate / (1 + margin). Default 0.25. */
	double throttle_margin;
};
void lm_est_config_default(struct lm_est_config *cfg);

#define LM_REASON_MAX 192
#define LM_EST_MAX_ROUNDS 64	/* unused since the fit keeps LM_EST_MAX_POINTS samples; kept for callers */
#define LM_EST_CURVE_MAX 8	/* vertices of the fitted U(T) curve exported */

enum lm_phase {
	LM_PHASE_IDLE = 0,		/* no migration seen yet */
	LM_PHASE_BULK = 1,		/* first pass over RAM */
	LM_PHASE_ITERATIVE = 2,		/* re-sending pages dirtied in the previous round */
	LM_PHASE_SWITCHOVER = 3,	/* completion sync seen: VM stopped, last data going out */
	LM_PHASE_ENDED = 4,
};

struct lm_estimate {
	enum lm_verdict verdict;
	double confidence;		/* 0..1 */
	char reason[LM_REASON_MAX];	/* short, checkable: numbers and what they mean */
	double eta_s;			/* to switchover; <0 = unknown / never */
	double downtime_ms;		/* predicted; <0 = unknown */
	uint64_t remaining_bytes;	/* still to send now (estimate) */
	double throttle_pct;		/* recommended vCPU throttle to converge; 0 = none needed, <0 unknown */
	double dirty_limit_Bps;		/* equivalent dirty-rate limit; <0 unknown */
	uint64_t wws_bytes;		/* writable working set estimate; 0 = unknown */
	double dirty_rate_Bps;		/* unique dirty bytes/s in the last round */
	double tx_rate_Bps;		/* migration transfer rate */
	double ratio;			/* dirty rate / transfer rate (lambda); <0 unknown */
	uint32_t rounds;
	int migrating;			/* 1 between START and END */
	/* additions (keys may be added, never renamed) */
	uint32_t phase;			/* enum lm_phase */
	uint32_t verdict_round;		/* sync round at which the current verdict was first given */
	double eta_min_s;		/* lower bound on time to switchover (e.g. rest of the bulk pass); <0 unknown */
	double total_s;			/* predicted migration time from start to switchover; <0 unknown */
	int downtime_is_bound;		/* 1: downtime_ms uses the iterative (maybe capped) rate, the real one is shorter */
	int wws_is_lower_bound;		/* 1: U(T) has not flattened yet, wws_bytes is the largest round seen */
	double short_dirty_rate_Bps;	/* slope of U(T) at the shortest window measured (guest time) */
	double threshold_bytes;		/* switchover threshold: rate x downtime limit */
	double horizon_s;		/* horizon used for "not-converging" */
	uint32_t curve_n;		/* fitted U(T): vertices of the concave curve, guest seconds */
	double curve_t_s[LM_EST_CURVE_MAX];
	double curve_bytes[LM_EST_CURVE_MAX];
	double measured_downtime_ms;	/* completion sync to END, after a completed migration; <0 unknown */
};

/* Opaque to callers except for sizing (embedded, no malloc). */
struct lm_est_point {
	double tau_s;		/* window length in guest time (wall time x (1 - throttle)) */
	double bytes;		/* unique bytes dirtied in that window */
	uint32_t round;		/* round it belongs to */
	uint32_t from_ticks;	/* 1: continuous-source sample inside a round */
	double wall_s;		/* the window's wall-clock length (0 = unknown: tau / current 1 - throttle) */
};

#define LM_EST_MAX_POINTS 24	/* U(T) samples used for the fit (recent ones) */

struct lm_estimator {
	struct lm_est_config cfg;
	struct lm_estimate cur;
	/* internal state */
	struct lm_est_point pts[LM_EST_MAX_POINTS];
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
	int have_tx;
	/* last sync */
	double sync_ts_s;
	uint64_t sync_tx;
	double sync_guest_s;
	double pending_at_sync;		/* bytes QEMU must send after the last sync (estimate) */
	double last_round_dirty;	/* popcount bytes of the last round */
	double last_round_wall_s;
	double last_round_tscale;	/* guest/wall time over the last round: 1 - the throttle that ran */
	double last_round_rate_Bps;	/* tx rate averaged over the last round */
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
	uint32_t verdict_changes;
};

void lm_est_init(struct lm_estimator *e, const struct lm_est_config *cfg);
/* Feed one observation; returns 1 if the verdict changed, else 0. */
int lm_est_feed(struct lm_estimator *e, const struct lm_obs *o);
const struct lm_estimate *lm_est_current(const struct lm_estimator *e);

#endif /* LM_ESTIMATOR_H */

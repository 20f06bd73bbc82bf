/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The published estimate: what the estimator says about one VM, and the
 * settings it says it under. This is all the outputs may see of the
 * estimator (its internals are in estimator.h).
 */
#ifndef LM_PUBLISHED_H
#define LM_PUBLISHED_H

#include <stdint.h>

enum lm_verdict {
	LM_VERDICT_UNKNOWN = 0,		/* not enough data yet */
	LM_VERDICT_CONVERGING = 1,
	LM_VERDICT_MARGINAL = 2,
	LM_VERDICT_NOT_CONVERGING = 3,
};


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

/* Why the published verdict last changed (the JSON verdict record's changed_because). */
enum lm_change_cause {
	LM_CHANGE_NONE = 0,		/* not changed yet */
	LM_CHANGE_FIRST = 1,		/* the first verdict of this migration */
	LM_CHANGE_ROUNDS = 2,		/* the model on the rounds measured so far (before a firm verdict) */
	LM_CHANGE_FIXED_POINT = 3,	/* rounds stopped shrinking above the threshold */
	LM_CHANGE_SHRINKING = 4,	/* rounds shrank by the stated share */
	LM_CHANGE_GREW = 5,		/* a round did not shrink while converging was said */
	LM_CHANGE_PARAMETERS = 6,	/* throttle, bandwidth cap or downtime limit changed: predicted */
	LM_CHANGE_MEASURED = 7,		/* the first round under new parameters tested the prediction */
	LM_CHANGE_IN_ROUND = 8,		/* a continuous dirty source, inside a round */
	LM_CHANGE_SWITCHOVER = 9,	/* QEMU switched over */
	LM_CHANGE_ENDED = 10,		/* the migration ended, postcopy or idle */
	LM_CHANGE_CHECK = 11,		/* from an `lmtrace check` made before the start (head start) */
};

#define LM_REASON_MAX 192
#define LM_EST_CURVE_MAX 8	/* vertices of the fitted U(T) curve exported */

enum lm_phase {
	LM_PHASE_IDLE = 0,		/* no migration seen yet */
	LM_PHASE_BULK = 1,		/* first pass over RAM */
	LM_PHASE_ITERATIVE = 2,		/* re-sending pages dirtied in the previous round */
	LM_PHASE_SWITCHOVER = 3,	/* completion sync seen: VM stopped, last data going out */
	LM_PHASE_ENDED = 4,
	LM_PHASE_POSTCOPY = 5,		/* switched to postcopy: the guest runs on the destination */
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
	/* postcopy: when it began (seconds after the start), what it sent, how long it ran */
	double postcopy_start_s;	/* <0 none */
	uint64_t postcopy_bytes;
	double postcopy_s;
	int phase_from_qmp;		/* 1: QEMU's status said the phase, 0: the kernel's signals did */
	/* the settings in force for this estimate (command line, recording or QMP) */
	uint64_t page_size;		/* bytes */
	double downtime_limit_s;
	double max_bandwidth_Bps;	/* 0 = not capped */
	/* the verdict's history (verdict records) */
	uint32_t previous_verdict;	/* enum lm_verdict before the last change */
	uint32_t changed_because;	/* enum lm_change_cause of the last change */
	uint32_t evidence_rounds;	/* sync rounds under the parameters in force that support the verdict */
	int predicted;			/* 1: for parameters no round has run under yet */
	int from_check;			/* 1: from an `lmtrace check` until this migration's rounds take over */
};

#endif /* LM_PUBLISHED_H */

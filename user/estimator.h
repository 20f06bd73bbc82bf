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

/* Defaults, overridden by the command line, then by QMP (LM_OBS_PARAMS). */
struct lm_est_config {
	double downtime_limit_s;	/* QEMU default 0.300 */
	double max_bandwidth_Bps;	/* 0 = not capped (use measured rate) */
	uint64_t page_size;		/* 4096 */
};
void lm_est_config_default(struct lm_est_config *cfg);

#define LM_REASON_MAX 192
#define LM_EST_MAX_ROUNDS 64	/* rounds kept for the U(T) fit (oldest dropped) */

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
};

/* Opaque to callers except for sizing (embedded, no malloc). */
struct lm_est_round {
	double t_s;		/* round length */
	double dirty_bytes;
	double tx_bytes;
	double end_ts_s;
};

struct lm_estimator {
	struct lm_est_config cfg;
	struct lm_estimate cur;
	/* internal state */
	struct lm_est_round rounds[LM_EST_MAX_ROUNDS];
	uint32_t nrounds;		/* total rounds seen (ring index = n % MAX) */
	uint64_t ram_bytes;
	double start_ts_s;
	double last_ts_s;
	uint64_t tx_total_at_start;
	uint64_t tx_total;
	double tx_rate_ewma;
	uint64_t prev_tick_tx;
	double prev_tick_ts_s;
	uint32_t throttle_pct_now;
	int have_params;
	int migrating;
	uint64_t scratch[16];	/* reserved for the implementation */
};

void lm_est_init(struct lm_estimator *e, const struct lm_est_config *cfg);
/* Feed one observation; returns 1 if the verdict changed, else 0. */
int lm_est_feed(struct lm_estimator *e, const struct lm_obs *o);
const struct lm_estimate *lm_est_current(const struct lm_estimator *e);

#endif /* LM_ESTIMATOR_H */

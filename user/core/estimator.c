// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The convergence estimator of one VM (estimator.h): observations in, the
 * published estimate out. The model it applies is in model.h (with
 * curve.h and precopy_sim.h); its jobs are split by file: intake
 * (est_intake.c), decision and hysteresis (est_decide.c), reasons
 * (est_reasons.c). This file feeds them and checks the settings.
 *
 * What it measures, in short. Each sync round k >= 2 measures one point of
 * U(T) (the bitmap popcount over the round, in guest time); a continuous
 * source (write faults counted between syncs, TICK.dirty_events_total)
 * gives points inside a round. The expected simulation gives the ETA, the
 * syncs left and the pending bytes at switchover, hence the downtime (at
 * the stop-phase rate, which QEMU does not cap: without
 * switchover_bandwidth the iterative-rate figure is an upper bound). The
 * measured downtime runs from the VM stop: the completion sync, or the sync
 * before it when nothing was sent in between (stopping throttled vCPUs took
 * 90 ms on a real trace); a completed migration whose completion sync came
 * unflagged ends at its last sync.
 *
 * Pure: no clocks, syscalls, allocation or printing (snprintf formats the
 * reason into the estimate). Same records in, same bytes out.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/est_internal.h"
#include "core/model.h"
#include "core/units.h"

/*
 * Sanity bounds on settings from QMP, the command line or a recording
 * (which may hold anything); beyond them a value is taken as corrupt.
 */
#define DOWNTIME_LIMIT_MAX_S	(DOWNTIME_LIMIT_MAX_MS / 1e3)
#define RATE_MIN_BPS		1		/* below a byte per second: no rate given (--bandwidth takes 1) */
#define HORIZON_MAX_S		1e6		/* ~11 days: no one waits that long for a verdict */
#define HORIZON_BULK_MAX	1000		/* a thousand bulk passes */
#define THROTTLE_MARGIN_MAX	10		/* aiming at a tenth of the link is already absurd */

void lm_est_config_default(struct lm_est_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->downtime_limit_s = LM_QEMU_DOWNTIME_LIMIT_DEFAULT_MS / 1e3;
	cfg->max_bandwidth_Bps = 0;
	cfg->page_size = LM_PAGE_SIZE_DEFAULT;
	cfg->switchover_bandwidth_Bps = 0;
	cfg->horizon_s = LM_MODEL_HORIZON_MIN_S;
	cfg->horizon_bulk = LM_MODEL_HORIZON_BULK;
	cfg->throttle_margin = LM_MODEL_THROTTLE_MARGIN;
}

void lm_est_init(struct lm_estimator *e, const struct lm_est_config *cfg)
{
	memset(e, 0, sizeof(*e));
	if (cfg)
		e->cfg = *cfg;
	else
		lm_est_config_default(&e->cfg);
	/* a config from a file may hold anything: keep only sane values */
	if (!(e->cfg.downtime_limit_s > 0) || !(e->cfg.downtime_limit_s <= DOWNTIME_LIMIT_MAX_S))
		e->cfg.downtime_limit_s = LM_QEMU_DOWNTIME_LIMIT_DEFAULT_MS / 1e3;
	if (!(e->cfg.max_bandwidth_Bps >= RATE_MIN_BPS) || !isfinite(e->cfg.max_bandwidth_Bps))
		e->cfg.max_bandwidth_Bps = 0;
	if (!(e->cfg.switchover_bandwidth_Bps >= RATE_MIN_BPS) || !isfinite(e->cfg.switchover_bandwidth_Bps))
		e->cfg.switchover_bandwidth_Bps = 0;
	if (!(e->cfg.horizon_s > 0) || !(e->cfg.horizon_s <= HORIZON_MAX_S))
		e->cfg.horizon_s = 0;
	if (!(e->cfg.horizon_bulk > 0) || !(e->cfg.horizon_bulk <= HORIZON_BULK_MAX))
		e->cfg.horizon_bulk = 0;
	if (!(e->cfg.throttle_margin > 0) || !(e->cfg.throttle_margin <= THROTTLE_MARGIN_MAX))
		e->cfg.throttle_margin = 0;
	if (e->cfg.page_size > PAGE_SIZE_MAX || (e->cfg.page_size & (e->cfg.page_size - 1)))
		e->cfg.page_size = LM_PAGE_SIZE_DEFAULT;
	if (!e->cfg.page_size)
		e->cfg.page_size = LM_PAGE_SIZE_DEFAULT;
	e->events_uniqueness = 1;
	e->final_ts_s = -1;
	e->final_pending = -1;
	e->postcopy_ts_s = e->postcopy_end_s = -1;
	e->cur.verdict = LM_VERDICT_UNKNOWN;
	e->cur.eta_s = e->cur.downtime_ms = e->cur.eta_min_s = e->cur.total_s = -1;
	e->cur.throttle_pct = e->cur.dirty_limit_Bps = e->cur.ratio = -1;
	e->cur.measured_downtime_ms = -1;
	e->cur.postcopy_start_s = -1;
	snprintf(e->cur.reason, sizeof(e->cur.reason), "no migration seen yet");
	export_settings(e, &e->cur);
}

int lm_est_feed(struct lm_estimator *e, const struct lm_obs *o)
{
	double now = rel_s(e, o->ts_ns);

	if (o->kind == LM_OBS_ACT_CONFIG || o->kind == LM_OBS_ACTION)
		return 0;	/* --act's own records: nothing the model measures */
	if (o->kind == LM_OBS_HEAD_START) {
		/* made before lmtrace started: kept for the next migration, no clock */
		e->head_start = o->head_start;
		e->head_start_ts_ns = o->ts_ns;
		e->head_start_valid = o->head_start.nwin > 0;
		return 0;
	}
	e->params_changed_now = e->measured_now = 0;
	advance_clock(e, now);
	switch (o->kind) {
	case LM_OBS_START:
		if (o->start.ram_bytes)
			e->ram_bytes = o->start.ram_bytes;
		reset_migration(e, now);
		start_head_start(e, o->ts_ns);
		break;
	case LM_OBS_PARAMS:
		on_params(e, &o->params);
		check_postcopy(e, now);
		break;
	case LM_OBS_ROUND:
		if (o->round.tx_total)
			e->tx_total = o->round.tx_total;
		on_round(e, &o->round, now);
		break;
	case LM_OBS_TICK:
		if (o->tick.tx_total)
			e->tx_total = o->tick.tx_total;
		on_tick(e, &o->tick, now);
		check_postcopy(e, now);
		break;
	case LM_OBS_END:
		on_end(e, &o->end, now);
		break;
	default:
		return 0;
	}
	return est_compute(e, o->kind);
}

const struct lm_estimate *lm_est_current(const struct lm_estimator *e)
{
	return &e->cur;
}

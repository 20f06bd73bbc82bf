// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The convergence model's judgement, confidence and searches (model.h). */
#include <math.h>
#include "core/model.h"

/* Bandwidth search: from 1 KiB/s to 1 TiB/s, to within 1 %. */
#define BW_SEARCH_MIN_BPS	1024.0
#define BW_SEARCH_MAX_BPS	(1024.0 * 1024 * 1024 * 1024)
#define BW_SEARCH_PRECISION	1.01

double lm_model_horizon_s(double min_s, double per_bulk, double bulk_s)
{
	double min = min_s > 0 ? min_s : LM_MODEL_HORIZON_MIN_S;
	double per = per_bulk > 0 ? per_bulk : LM_MODEL_HORIZON_BULK;

	return fmax(min, per * bulk_s);
}

/*
 * not-converging: the rounds stopped shrinking above the threshold, or even
 * the best case does not switch over (or, where its failure is evidence,
 * the expected case does not). The best case fails within the horizon, or
 * runs LM_SIM_MAX_ROUNDS short syncs without switching over: rounds that
 * settle on a plateau above the threshold, which QEMU would sync for ever.
 * converging: both cases switch over, the expected one well inside the
 * horizon, at a short-window dirty/bandwidth ratio below
 * LM_MODEL_CONVERGING_RATIO. Anything between is marginal.
 */
enum lm_model_case lm_model_judge(const struct lm_model_runs *r)
{
	if (r->fixed_point)
		return LM_MODEL_FIXED_POINT;
	if (r->best_result != 1)
		return LM_MODEL_STUCK;
	if (r->expected_refutes && r->expect_failed)
		return LM_MODEL_EXPECTED_STUCK;
	if (r->best_result == 1 && r->expect_result == 1 && r->ratio < LM_MODEL_CONVERGING_RATIO &&
	    r->expect_eta_s <= r->horizon_s * LM_MODEL_CONVERGING_HORIZON_SHARE)
		return LM_MODEL_CONVERGING;
	return LM_MODEL_MARGINAL;
}

enum lm_verdict lm_model_verdict(enum lm_model_case c)
{
	switch (c) {
	case LM_MODEL_FIXED_POINT:
	case LM_MODEL_STUCK:
	case LM_MODEL_EXPECTED_STUCK:
		return LM_VERDICT_NOT_CONVERGING;
	case LM_MODEL_CONVERGING:
		return LM_VERDICT_CONVERGING;
	default:
		return LM_VERDICT_MARGINAL;
	}
}

double lm_model_confidence(enum lm_verdict v, uint32_t n)
{
	double succession = (n + 1.0) / (n + 2.0);

	if (v == LM_VERDICT_NOT_CONVERGING)
		return fmin(succession, LM_CONF_STUCK_MAX);
	if (v == LM_VERDICT_CONVERGING)
		return fmin(succession, LM_CONF_CONV_MAX);
	return LM_CONF_MARGINAL;
}

double lm_model_downtime_ms(double pending, double rate)
{
	return (pending + LM_QEMU_DEVICE_STATE_BYTES) / rate * 1e3;
}

int lm_model_smallest_throttle(lm_model_throttle_ok ok, void *ctx)
{
	int lo = -1, hi = LM_QEMU_THROTTLE_MAX_PCT + 1, mid;

	/* bisection: a higher throttle slows the guest more, never less */
	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		if (ok(ctx, mid < 0 ? 0 : mid))
			hi = mid;
		else
			lo = mid;
	}
	return hi > LM_QEMU_THROTTLE_MAX_PCT ? -1 : hi;
}

double lm_model_smallest_bandwidth(lm_model_bandwidth_ok ok, void *ctx)
{
	double lo = BW_SEARCH_MIN_BPS, hi = BW_SEARCH_MAX_BPS, mid;

	if (!ok(ctx, hi))
		return -1;
	if (ok(ctx, lo))
		return lo;
	/* geometric bisection: the answer spans orders of magnitude */
	while (hi / lo > BW_SEARCH_PRECISION) {
		mid = sqrt(lo * hi);
		if (ok(ctx, mid))
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

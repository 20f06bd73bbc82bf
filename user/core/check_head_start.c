// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The live estimator's verdict from an `lmtrace check`, until the migration's rounds take over. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/check_head_start.h"
#include "core/check_model.h"

int lm_check_head_start_estimate(const struct lm_check_head_start_in *in, struct lm_estimate *est)
{
	const struct lm_obs_head_start *c = in->check;
	struct lm_check_model_input pf = { 0 };
	struct lm_check_model_result r;
	uint32_t i, n = c->nwin < LM_HEAD_START_WINDOWS ? c->nwin : LM_HEAD_START_WINDOWS;

	for (i = 0; i < n; i++) {
		pf.win[i].window_s = c->win[i].window_ms / 1e3;
		pf.win[i].bytes = (double)c->win[i].pages * in->page_size;
	}
	pf.nwin = (int)n;
	pf.ram_bytes = in->ram_bytes ? in->ram_bytes : c->ram_bytes;
	pf.resident_bytes = c->resident_bytes;
	pf.bandwidth_Bps = in->bandwidth_Bps;
	pf.downtime_limit_s = in->downtime_limit_s;
	pf.switchover_Bps = in->switchover_Bps;
	if (lm_check_model_run(&pf, &r))
		return -EINVAL;
	est->verdict = r.verdict;
	est->confidence = r.confidence;
	/* the check's own reason, cut to fit after the prefix */
	snprintf(est->reason, sizeof(est->reason), "from the check %.0f s before the start: %.*s",
		 in->age_s, (int)(sizeof(est->reason) - 48), r.reason);
	est->total_s = r.total_s;
	est->eta_s = r.total_s >= 0 ? fmax(0, r.total_s - in->since_start_s) : -1;
	est->downtime_ms = r.downtime_ms;
	est->downtime_is_bound = r.downtime_is_bound;
	est->throttle_pct = r.throttle_pct;
	est->wws_bytes = r.wws_bytes;
	est->wws_is_lower_bound = r.wws_is_lower_bound;
	est->ratio = r.ratio;
	est->predicted = 1;
	est->from_check = 1;
	return 0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * QEMU's pre-copy loop simulated on a U(T) curve (precopy_sim.h).
 */
#include <math.h>
#include <stdio.h>
#include "core/precopy_sim.h"

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void lm_precopy_sim_run(const struct lm_curve *c, struct lm_precopy_sim *s)
{
	double t = 0, tau = s->tau0, left = s->pending - s->sent;
	uint32_t r;

	s->result = 0;
	s->eta_s = -1;
	s->final_pending = -1;
	s->rounds = 0;
	s->next_pending = -1;
	s->next_sync_s = -1;
	if (left < 0)
		left = 0;
	if (!(s->rate > 0) || !(s->thr > 0))
		return;
	for (r = 0; r < LM_SIM_MAX_ROUNDS; r++) {
		double excess = left - s->thr, dt = 0, add;

		/* Sends a window at a time until pending is below thr, then syncs. */
		if (excess >= 0)
			dt = (floor(excess / (s->rate * s->quantum)) + 1) * s->quantum;
		left -= dt * s->rate;
		if (left < 0)
			left = 0;
		t += dt;
		tau += dt * s->tscale;
		if (t > s->horizon)
			return;
		add = lm_curve_eval(c, tau);
		if (s->wws > 0)
			add *= 1 - clampd(left / s->wws, 0, 1);
		left += add;
		tau = 0;
		s->rounds++;
		if (r == 0) {
			s->next_pending = left;
			s->next_sync_s = t;
		}
		if (left < s->thr) {
			s->result = 1;
			s->eta_s = t;
			s->final_pending = left;
			return;
		}
	}
	s->result = -1;
}

const char *lm_precopy_sim_no_switchover(char *buf, size_t len, const struct lm_precopy_sim *s)
{
	if (s->result < 0)
		snprintf(buf, len, "no switchover in %u syncs", s->rounds);
	else
		snprintf(buf, len, "no switchover in %.0f s", s->horizon);
	return buf;
}

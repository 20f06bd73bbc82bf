// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Round-by-round evidence of shrinking or of a fixed point (evidence.h).
 */
#include "core/evidence.h"

void lm_evidence_reset(struct lm_evidence *ev)
{
	ev->prev_pending = ev->prev_pending_before = -1;
	ev->still = ev->shrink = ev->rounds = 0;
}

void lm_evidence_new_params(struct lm_evidence *ev)
{
	ev->still = ev->shrink = ev->rounds = 0;
}

void lm_evidence_round(struct lm_evidence *ev, double pending, double thr)
{
	double prev = ev->prev_pending;

	ev->prev_pending_before = prev;
	ev->prev_pending = pending;
	ev->rounds++;
	if (!(prev > 0))
		return;
	if (pending >= thr && pending >= LM_EV_STILL_SHARE * prev)
		ev->still++;
	else
		ev->still = 0;
	if (pending <= LM_EV_SHRINK_SHARE * prev)
		ev->shrink++;
	else
		ev->shrink = 0;
}

int lm_evidence_fixed_point(const struct lm_evidence *ev)
{
	return ev->still >= LM_EV_FIXED_POINT_ROUNDS;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The two baselines the estimator's lead time is measured against, computed
 * from the same ROUND records:
 *  - QEMU's auto-converge trigger (migration_trigger_throttle): in sync
 *    periods longer than a second, dirtied bytes > 50 % of the bytes sent
 *    in the period, counted twice (not necessarily in a row). The bitmap
 *    popcount stands in for QEMU's own count (a little higher when the
 *    working set saturates, so the baseline fires no later than QEMU's).
 *  - A stall rule: what a sync leaves to send did not shrink since the
 *    previous sync (the "remaining did not decrease" progress check).
 */
#ifndef TEST_ESTIMATOR_BASE_H
#define TEST_ESTIMATOR_BASE_H

#include <stdint.h>
#include "core/obs.h"

struct baselines {
	uint64_t page_size;
	double ac_t0, ac_dirty;
	uint64_t ac_tx;
	int ac_cnt;
	double ac_fire_t;		/* <0: never */
	uint32_t ac_fire_round;
	double stall_prev;
	double stall_fire_t;		/* <0: never */
	uint32_t stall_fire_round;
};

static inline void baselines_init(struct baselines *b, uint64_t page_size)
{
	*b = (struct baselines){ .page_size = page_size, .ac_fire_t = -1, .stall_fire_t = -1 };
}

/* t: seconds since the migration started */
static inline void baselines_round(struct baselines *b, const struct lm_obs_round *rd, double t)
{
	double dirty = (double)rd->dirty_pages * b->page_size;

	if (rd->round == 1) {
		b->ac_t0 = t;
		b->ac_tx = rd->tx_total;
		return;
	}
	if (rd->flags & LM_ROUND_FINAL)
		return;
	b->ac_dirty += dirty;
	if (t - b->ac_t0 > 1.0) {
		if (b->ac_dirty > (double)(rd->tx_total - b->ac_tx) / 2 && ++b->ac_cnt >= 2 &&
		    b->ac_fire_t < 0) {
			b->ac_fire_t = t;
			b->ac_fire_round = rd->round;
		}
		b->ac_t0 = t;
		b->ac_tx = rd->tx_total;
		b->ac_dirty = 0;
	}
	if (b->stall_prev > 0 && dirty >= b->stall_prev && b->stall_fire_t < 0) {
		b->stall_fire_t = t;
		b->stall_fire_round = rd->round;
	}
	b->stall_prev = dirty;
}

#endif /* TEST_ESTIMATOR_BASE_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the sync rounds show about convergence, counted round by round: do
 * the bytes a sync leaves to send shrink, or stay put above the switchover
 * threshold? Pure arithmetic; the estimator owns one per VM.
 */
#ifndef LM_EVIDENCE_H
#define LM_EVIDENCE_H

#include <stdint.h>

/*
 * A round that left at least this share of what the sync before it left
 * did not shrink (2 % is below the round-to-round noise of a bitmap count).
 */
#define LM_EV_STILL_SHARE	0.98
/*
 * A round that left at most this share of what the sync before it left
 * shrank: geometric shrinking at 0.9 a round crosses any threshold a
 * tenth of pending within ~22 rounds.
 */
#define LM_EV_SHRINK_SHARE	0.90
/*
 * Rounds in a row that did not shrink, above the threshold, before the
 * best case is refuted. For a stationary guest under fixed parameters one
 * is proof: the next round starts from at least as much, so it lasts at
 * least as long and dirties at least as much, for ever. Three rule out a
 * single burst or rate dip on either side of one round.
 */
#define LM_EV_FIXED_POINT_ROUNDS 3

struct lm_evidence {
	double prev_pending;	/* what the last sync left, <0 none yet */
	double prev_pending_before;	/* what the sync before it left, <0 none */
	uint32_t still;		/* rounds in a row that left as much, above the threshold */
	uint32_t shrink;	/* rounds in a row that shrank by LM_EV_SHRINK_SHARE or more */
	uint32_t rounds;	/* rounds measured under the parameters in force */
};

void lm_evidence_reset(struct lm_evidence *ev);
/* Parameters changed: what was counted was under the old ones (the last pending stays the reference). */
void lm_evidence_new_params(struct lm_evidence *ev);
/* One sync of the iterative phase left `pending` to send; the switchover threshold is thr. */
void lm_evidence_round(struct lm_evidence *ev, double pending, double thr);
/* The rounds show a fixed point above the threshold. */
int lm_evidence_fixed_point(const struct lm_evidence *ev);

#endif /* LM_EVIDENCE_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * --act: what lmtrace would do about a migration, decided from the estimate
 * and the observations alone (pure, deterministic: a recording replays to
 * the same decisions). The tracer carries a decision out over QMP, or not
 * (dry run), and feeds the outcome back as an LM_OBS_ACTION observation.
 *
 * A decision is only ever taken on a firm, measured not-converging verdict
 * (never on a predicted one, never while converging or marginal), during
 * the iterative phase, at most one per ACT_MIN_ROUNDS_APART sync rounds,
 * within the user's bounds (--max-throttle, --max-downtime,
 * --give-up-after). When the migration ends, whatever lmtrace changed is
 * released. Preference, cheapest for the guest first: a longer downtime
 * limit the user allowed, then a vCPU throttle, then postcopy, then cancel.
 */
#ifndef LM_ACT_POLICY_H
#define LM_ACT_POLICY_H

#include <stdint.h>
#include "core/published.h"
#include "core/obs.h"
#include "core/units.h"

/*
 * Two sync rounds between actions: QEMU 7.2 applies a throttle at its next
 * auto-converge trigger (a sync), and only the round after that runs wholly
 * under it; judging an action needs one such round, so the next decision
 * comes at the second sync after the one it was taken at, at the earliest.
 */
#define ACT_MIN_ROUNDS_APART	2
/* Rounds run wholly under a throttle before it is judged (the same reason). */
#define ACT_SETTLE_ROUNDS	2
/*
 * Headroom on a raised downtime limit: the pending bytes at a sync of a
 * stationary random writer wander by a quarter from one round to the next.
 */
#define ACT_DOWNTIME_MARGIN	0.25
/* Decisions awaiting their outcome: one action and the release after it, with room. */
#define ACT_MAX_PENDING		4

struct lm_act_decision {
	uint32_t action;		/* enum lm_act_kind */
	uint32_t value;			/* throttle %, downtime-limit ms */
	uint32_t round;			/* sync round it was taken at */
	int sufficient;			/* 1: the model says it alone converges */
	char reason[LM_REASON_MAX];
	struct lm_estimate est;		/* the estimate it was decided on */
};

struct lm_act_state {
	struct lm_obs_act_config cfg;
	int have_cfg;
	/* the current migration */
	int migrating;
	double start_s;
	uint32_t round;			/* last sync round seen */
	uint32_t qemu_throttle_pct;	/* QEMU's throttle, from the last PARAMS */
	uint64_t downtime_limit_ms;	/* QEMU's limit, from the last PARAMS */
	struct lm_act_decision pending[ACT_MAX_PENDING];	/* decided, outcome not seen yet, oldest first */
	int npending;
	uint32_t last_round;		/* round of the last decision, 0 none */
	uint32_t throttle_pct;		/* set by lmtrace (or would be, dry run), 0 none */
	uint32_t throttle_round;	/* last sync before QEMU ran at it, 0 not yet */
	uint32_t throttle_steps;
	uint32_t downtime_ms;		/* set by lmtrace, 0 none */
	int changed;			/* something to release at the end */
	uint32_t unusable;		/* LM_ACT_P_* QEMU refused or failed: not tried again */
	int ended_actions;		/* postcopy or cancel decided: nothing more */
	/* totals, for the outputs */
	uint32_t decisions;
	struct lm_act_decision last;	/* the last decision, for the outputs */
};

void lm_act_init(struct lm_act_state *st);
/*
 * One observation, after the estimator consumed it (e is its estimate).
 * Returns 1 and *d when an action is decided now, 0 when not. For an
 * LM_OBS_ACTION, *d is the decision it answers and the return is 0, or -1
 * when it answers no decision of this policy (a replay that decided
 * otherwise than live).
 */
int lm_act_feed(struct lm_act_state *st, const struct lm_obs *o, const struct lm_estimate *e,
		struct lm_act_decision *d);

/* --act's list ("throttle,cancel") into LM_ACT_P_* bits; -EINVAL names the bad one in bad. */
int lm_act_parse_policies(const char *list, uint32_t *policies, char *bad, int badlen);

#endif /* LM_ACT_POLICY_H */

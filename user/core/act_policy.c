// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --act's decisions: from a firm not-converging estimate to one bounded action. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/act_policy.h"
#include "core/model.h"

void lm_act_init(struct lm_act_state *st)
{
	memset(st, 0, sizeof(*st));
}

static void new_migration(struct lm_act_state *st, double ts_s)
{
	struct lm_obs_act_config cfg = st->cfg;
	int have = st->have_cfg;
	uint32_t decisions = st->decisions;
	struct lm_act_decision last = st->last;

	lm_act_init(st);
	st->cfg = cfg;
	st->have_cfg = have;
	st->decisions = decisions;
	st->last = last;
	st->migrating = 1;
	st->start_s = ts_s;
}

static int decide(struct lm_act_state *st, const struct lm_estimate *e, struct lm_act_decision *d,
		  uint32_t action, uint32_t value, int sufficient, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static int decide(struct lm_act_state *st, const struct lm_estimate *e, struct lm_act_decision *d,
		  uint32_t action, uint32_t value, int sufficient, const char *fmt, ...)
{
	va_list ap;

	memset(d, 0, sizeof(*d));
	d->action = action;
	d->value = value;
	d->round = st->round;
	d->sufficient = sufficient;
	d->est = *e;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	if (st->npending < ACT_MAX_PENDING)
		st->pending[st->npending++] = *d;
	st->last = *d;
	st->decisions++;
	if (action != LM_ACT_RELEASE)
		st->last_round = st->round;
	return 1;
}

static int allowed(const struct lm_act_state *st, uint32_t policy)
{
	return (st->cfg.policies & policy) && !(st->unusable & policy);
}

/* The throttle the model asks for, whole percent; 0 if it has none. */
static uint32_t throttle_needed(const struct lm_estimate *e)
{
	if (!(e->throttle_pct > 0))
		return 0;
	return e->throttle_pct >= LM_QEMU_THROTTLE_MAX_PCT ? LM_QEMU_THROTTLE_MAX_PCT :
							 (uint32_t)ceil(e->throttle_pct);
}

static uint32_t max_throttle(const struct lm_act_state *st)
{
	uint32_t m = st->cfg.max_throttle_pct;

	return m && m < LM_QEMU_THROTTLE_MAX_PCT ? m : LM_QEMU_THROTTLE_MAX_PCT;
}

/* QEMU has run at lmtrace's throttle for ACT_SETTLE_ROUNDS whole rounds. */
static int throttle_settled(const struct lm_act_state *st)
{
	return st->throttle_round && st->round >= st->throttle_round + ACT_SETTLE_ROUNDS;
}

/*
 * The downtime limit (ms) a switchover at the next sync needs: QEMU 7.2
 * switches over once what a sync leaves fits in rate x limit, and on a
 * stationary guest the next sync leaves about what this one did. 0 when
 * unknown (no rate yet, not at a sync).
 */
static uint32_t downtime_needed_ms(const struct lm_estimate *e, const struct lm_obs *o)
{
	double rate = e->max_bandwidth_Bps > 0 ? e->max_bandwidth_Bps : e->tx_rate_Bps;
	double ms;

	if (o->kind != LM_OBS_ROUND || !(rate > 0) || !e->remaining_bytes)
		return 0;
	ms = ceil(e->remaining_bytes * (1 + ACT_DOWNTIME_MARGIN) / rate * 1000);
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/*
 * Why the throttle cannot make it converge (no policy, QEMU refused, the
 * bound is below the need and QEMU already runs at the bound); "" if it still
 * may.
 */
static const char *throttle_exhausted(const struct lm_act_state *st, uint32_t need, char *buf,
				      size_t len)
{
	if (!(st->cfg.policies & LM_ACT_P_THROTTLE))
		snprintf(buf, len, "throttle not allowed");
	else if (st->unusable & LM_ACT_P_THROTTLE)
		snprintf(buf, len, "QEMU refused the throttle");
	else if (!need)
		snprintf(buf, len, "no throttle converges");
	else if (need > max_throttle(st) && st->throttle_pct == max_throttle(st) && throttle_settled(st))
		snprintf(buf, len, "needs %u %%, --max-throttle %u %% is not enough", need,
			 max_throttle(st));
	else
		buf[0] = 0;
	return buf;
}

static int try_downtime(struct lm_act_state *st, const struct lm_estimate *e,
			const struct lm_obs *o, struct lm_act_decision *d)
{
	uint32_t ms = downtime_needed_ms(e, o);

	if (!allowed(st, LM_ACT_P_DOWNTIME) || st->downtime_ms || !ms || !st->cfg.max_downtime_ms ||
	    ms > st->cfg.max_downtime_ms || ms <= e->downtime_limit_s * 1000)
		return 0;
	st->downtime_ms = ms;
	st->changed = 1;
	return decide(st, e, d, LM_ACT_DOWNTIME, ms, 1,
		      "%.1f MiB left at sync %u fits a %u ms limit at %.1f MiB/s (+%.0f %%), within "
		      "--max-downtime %u ms", e->remaining_bytes / 1048576.0, st->round, ms,
		      (e->max_bandwidth_Bps > 0 ? e->max_bandwidth_Bps : e->tx_rate_Bps) / 1048576.0,
		      ACT_DOWNTIME_MARGIN * 100, st->cfg.max_downtime_ms);
}

static int try_throttle(struct lm_act_state *st, const struct lm_estimate *e, uint32_t need,
			struct lm_act_decision *d)
{
	uint32_t cap = max_throttle(st), p;

	if (!allowed(st, LM_ACT_P_THROTTLE) || !need)
		return 0;
	p = need < cap ? need : cap;
	if (st->throttle_pct) {
		/* a step only on rounds measured under the last one, and only up */
		if (!throttle_settled(st) || p <= st->throttle_pct)
			return 0;
	}
	st->throttle_pct = p;
	st->throttle_round = 0;
	st->throttle_steps++;
	st->changed = 1;
	/* what lmtrace concludes first: a long estimator reason is cut, never the conclusion */
	if (need > cap)
		return decide(st, e, d, LM_ACT_THROTTLE, p, 0,
			      "needs %u %%, above --max-throttle %u %%: %u %% is not enough to converge, "
			      "held there at most; model: %s", need, cap, cap, e->reason);
	if (st->throttle_steps > 1)
		return decide(st, e, d, LM_ACT_THROTTLE, p, 1,
			      "still not-converging after %u rounds under the last step: %u %% converges; "
			      "model: %s", st->round - st->last_round, p, e->reason);
	return decide(st, e, d, LM_ACT_THROTTLE, p, 1, "%u %% converges; model: %s", p, e->reason);
}

/* A firm, measured not-converging verdict during the iterative rounds. */
static int actionable(const struct lm_act_state *st, const struct lm_estimate *e)
{
	return st->have_cfg && st->migrating && !st->npending && !st->ended_actions &&
	       e->phase == LM_PHASE_ITERATIVE && e->verdict == LM_VERDICT_NOT_CONVERGING &&
	       !e->predicted;
}

static int decide_now(struct lm_act_state *st, const struct lm_obs *o, const struct lm_estimate *e,
		      struct lm_act_decision *d)
{
	uint32_t need = throttle_needed(e);
	double elapsed;
	char why[96];

	if (!actionable(st, e))
		return 0;
	if (st->last_round && st->round < st->last_round + ACT_MIN_ROUNDS_APART)
		return 0;
	if (try_downtime(st, e, o, d) || try_throttle(st, e, need, d))
		return 1;
	/* nothing cheaper can converge: the last resorts */
	if (!throttle_exhausted(st, need, why, sizeof(why))[0])
		return 0;
	if (allowed(st, LM_ACT_P_POSTCOPY)) {
		st->ended_actions = 1;
		return decide(st, e, d, LM_ACT_POSTCOPY, 0, 1, "nothing within bounds converges (%s)", why);
	}
	elapsed = o->ts_ns / 1e9 - st->start_s;
	if (allowed(st, LM_ACT_P_CANCEL) && elapsed >= st->cfg.give_up_after_ms / 1000.0) {
		st->ended_actions = 1;
		return decide(st, e, d, LM_ACT_CANCEL, 0, 1,
			      "not converging after %.0f s (--give-up-after %.0f s) and nothing allowed "
			      "converges (%s)", elapsed, st->cfg.give_up_after_ms / 1000.0, why);
	}
	return 0;
}

/* The outcome answers the oldest decision still open; *d is that decision. */
static int on_action(struct lm_act_state *st, const struct lm_obs_action *a,
		     struct lm_act_decision *d)
{
	int expected = st->npending && st->pending[0].action == a->action &&
		       st->pending[0].value == a->value;

	if (expected) {
		*d = st->pending[0];
		memmove(&st->pending[0], &st->pending[1], --st->npending * sizeof(st->pending[0]));
	} else {
		memset(d, 0, sizeof(*d));
		d->action = a->action;
		d->value = a->value;
		d->round = a->round;
		snprintf(d->reason, sizeof(d->reason), "recorded, but not what this policy decides "
			 "here (a recording from another lmtrace?)");
	}
	/*
	 * Only a command that surely did nothing frees its policy's slot. One
	 * that timed out (unknown) may have been carried out: after a postcopy
	 * switch that may have happened, a cancel would strand the guest.
	 */
	if (a->outcome == LM_ACT_FAILED || a->outcome == LM_ACT_REFUSED) {
		if (a->action == LM_ACT_THROTTLE)
			st->unusable |= LM_ACT_P_THROTTLE;
		else if (a->action == LM_ACT_DOWNTIME)
			st->unusable |= LM_ACT_P_DOWNTIME;
		else if (a->action == LM_ACT_POSTCOPY) {
			st->unusable |= LM_ACT_P_POSTCOPY;
			st->ended_actions = 0;	/* cancel may still come */
		}
	}
	return expected ? 0 : -1;
}

static void on_params(struct lm_act_state *st, const struct lm_obs_params *p)
{
	st->qemu_throttle_pct = p->throttle_pct;
	st->downtime_limit_ms = p->downtime_limit_ms;
	/* QEMU applies the throttle at a sync: the rounds after it run under it */
	if (st->throttle_pct && !st->throttle_round && p->throttle_pct >= st->throttle_pct)
		st->throttle_round = st->round ? st->round : 1;
}

/* The migration ended: give back what lmtrace changed, once. */
static int release(struct lm_act_state *st, const struct lm_estimate *e,
		   struct lm_act_decision *d, const char *who)
{
	if (!st->migrating)
		return 0;
	st->migrating = 0;
	if (!st->have_cfg || !st->changed)
		return 0;
	st->changed = 0;
	return decide(st, e, d, LM_ACT_RELEASE, 0, 1,
		      "the migration ended (%s): restore the parameters lmtrace changed", who);
}

int lm_act_feed(struct lm_act_state *st, const struct lm_obs *o, const struct lm_estimate *e,
		struct lm_act_decision *d)
{
	switch (o->kind) {
	case LM_OBS_ACT_CONFIG:
		st->cfg = o->act_config;
		st->have_cfg = 1;
		return 0;
	case LM_OBS_ACTION:
		return on_action(st, &o->action, d);
	case LM_OBS_START:
		new_migration(st, o->ts_ns / 1e9);
		return 0;
	case LM_OBS_PARAMS:
		on_params(st, &o->params);
		/* QEMU's own word that it ended comes before the kernel's */
		if (o->params.qemu_status >= LM_QEMU_COMPLETED)
			return release(st, e, d, "QEMU says");
		return 0;
	case LM_OBS_END:
		return release(st, e, d, "the kernel says");
	case LM_OBS_ROUND:
		st->round = o->round.round;
		if (o->round.flags & LM_ROUND_FINAL)
			return 0;
		return decide_now(st, o, e, d);
	case LM_OBS_TICK:
		return decide_now(st, o, e, d);
	}
	return 0;
}

int lm_act_parse_policies(const char *list, uint32_t *policies, char *bad, int badlen)
{
	static const struct { const char *name; uint32_t bit; } map[] = {
		{ "throttle", LM_ACT_P_THROTTLE }, { "downtime", LM_ACT_P_DOWNTIME },
		{ "postcopy", LM_ACT_P_POSTCOPY }, { "cancel", LM_ACT_P_CANCEL },
	};
	const char *s = list;

	*policies = 0;
	while (*s) {
		size_t n = strcspn(s, ","), i;

		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (n == strlen(map[i].name) && !strncmp(s, map[i].name, n))
				break;
		if (i == sizeof(map) / sizeof(map[0])) {
			snprintf(bad, badlen, "%.*s", (int)n, s);
			return -EINVAL;
		}
		*policies |= map[i].bit;
		s += n;
		if (*s == ',')
			s++;
	}
	if (!*policies) {
		snprintf(bad, badlen, "%s", list);
		return -EINVAL;
	}
	return 0;
}

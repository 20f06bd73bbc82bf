// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The estimator's decision (est_internal.h): the inputs of one estimate,
 * the two runs of QEMU's loop, the model's judgement on them (model.h),
 * and the hysteresis that holds a firm verdict until evidence of a stated
 * size moves it.
 *
 * The verdict is a function of the sync rounds and the parameters in
 * force: at syncs and parameter changes the rate comes from the rounds
 * alone; ticks only refresh the numbers (remaining, ETA), except that a
 * continuous dirty source may say not-converging inside a round when the
 * guest keeps dirtying new pages faster than the link for three ticks in a
 * row. not-converging also when the rounds stopped shrinking above the
 * threshold (LM_EV_FIXED_POINT_ROUNDS in a row, evidence.h: the best case
 * that shrank them is refuted). The best case leaves busy-phase points out
 * and takes the better of the measured rates, never above the cap; the
 * expected case takes all points, the knee guessed where unseen. A
 * throttle, cap or downtime limit no round has run under yet gives the
 * expected case's verdict at once, marked predicted (a timer-paced guest
 * slows far less than 1 - p: the first round under it tests it).
 */
#include <math.h>
#include <string.h>
#include "core/est_internal.h"
#include "core/check_head_start.h"
#include "core/model.h"

/* Continuous-source ticks in a row whose best case fails before saying so. */
#define CONT_FAIL_TICKS		3
/* Guest time into a round before a continuous source's in-round points may move the verdict. */
#define CONT_ROUND_MIN_S	(2 * CONT_MIN_TAU_S)
/* Measured rates above max-bandwidth x this are sampling noise (rate-limiter windows). */
#define RATE_CAP_SLACK		1.00
/* A throttle this much above the one the last round ran under is not measured yet. */
#define THROTTLE_UNTESTED	0.05

static void gather(const struct lm_estimator *e, struct ctx *x, int kind)
{
	double cap = e->cfg.max_bandwidth_Bps;

	memset(x, 0, sizeof(*x));
	x->now = e->last_ts_s;
	x->rate = kind == LM_OBS_TICK ? rate_now(e) : rate_rounds(e);
	x->rate_best = fmax(x->rate, e->last_round_rate_Bps);
	/* lumpy samples aside, QEMU does not average more than its cap */
	if (cap > 0) {
		x->rate = fmin(x->rate, RATE_CAP_SLACK * cap);
		x->rate_best = fmin(x->rate_best, RATE_CAP_SLACK * cap);
	}
	x->thr = threshold(e, x->rate);
	x->thr_best = threshold(e, x->rate_best);
	x->tscale = tscale_now(e);
	x->quantum = cap > 0 ? LM_QEMU_QUANTUM_CAPPED_S : LM_QEMU_QUANTUM_FREE_S;
	x->sw_rate = e->cfg.switchover_bandwidth_Bps > 0 ? e->cfg.switchover_bandwidth_Bps : x->rate;
	x->horizon = cfg_or(e->cfg.horizon_s, LM_MODEL_HORIZON_MIN_S);
	x->sent = sent_since(e, e->sync_tx);
	x->pending_now = fmax(0, e->pending_at_sync - x->sent);
	lm_curve_build(&x->c, e->pts, e->npts, e->ram_bytes, 0);
	lm_curve_build(&x->quiet, e->pts, e->npts, e->ram_bytes, 1);
	x->cont_ok = e->have_events && x->c.n >= 2 && e->guest_s - e->sync_guest_s >= CONT_ROUND_MIN_S;
}

/*
 * Rebuilds the estimate from scratch (same state, same bytes) with what
 * does not depend on the verdict. Kept from the previous one: the verdict,
 * the round it was first given at and the measured downtime.
 */
static void estimate_facts(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			   const struct lm_estimate *prev)
{
	memset(est, 0, sizeof(*est));
	est->verdict = prev->verdict;
	est->verdict_round = prev->verdict_round;
	est->previous_verdict = prev->previous_verdict;
	est->changed_because = prev->changed_because;
	est->measured_downtime_ms = prev->measured_downtime_ms;
	est->eta_s = est->downtime_ms = est->eta_min_s = est->total_s = -1;
	est->throttle_pct = est->dirty_limit_Bps = est->ratio = -1;
	est->postcopy_start_s = -1;
	est->rounds = e->nrounds;
	est->migrating = e->migrating;
	est->phase = e->phase;
	est->tx_rate_Bps = x->rate;
	est->threshold_bytes = x->thr;
	export_settings(e, est);
	/*
	 * Without a stop-phase rate the iterative one is used: a bound, since
	 * QEMU lifts any cap once the VM is stopped, unless QEMU itself said
	 * there is none (kernel-only, a 32 MiB/s cap looks like a slow link).
	 */
	est->downtime_is_bound = !(e->cfg.switchover_bandwidth_Bps > 0) &&
				 (e->cfg.max_bandwidth_Bps > 0 || !e->have_params);
	export_curve(est, &x->c);
	est->short_dirty_rate_Bps = lm_curve_slope0(&x->c);
	if (x->c.saturated) {
		est->wws_bytes = to_u64(x->c.wws);
	} else if (x->c.n >= 2) {
		est->wws_bytes = to_u64(x->c.max_u);
		est->wws_is_lower_bound = 1;
	}
	if (e->last_round_wall_s > 0) {
		est->dirty_rate_Bps = e->last_round_dirty / e->last_round_wall_s;
		if (x->rate > 0)
			est->ratio = est->dirty_rate_Bps / x->rate;
	}
}

/*
 * What is left to send now and, in the bulk pass, the rest of the pass and
 * the horizon it sets. Returns 0 while the bulk pass gives nothing to
 * predict from: RAM size unknown, or no dirty pages measured yet and more
 * than a threshold left.
 */
static int estimate_progress(const struct lm_estimator *e, struct lm_estimate *est, struct ctx *x)
{
	double rest;

	est->remaining_bytes = to_u64(x->pending_now);
	if (e->phase != LM_PHASE_BULK) {
		x->horizon = lm_model_horizon_s(x->horizon, e->cfg.horizon_bulk, e->bulk_s);
		return 1;
	}
	rest = fmax(0, x->pending_now - x->thr) / x->rate;
	est->eta_min_s = rest;
	x->horizon = lm_model_horizon_s(x->horizon, e->cfg.horizon_bulk, (e->last_ts_s - e->sync_ts_s) + rest);
	/* the part already sent that the guest dirtied again comes back after the pass */
	if (x->c.n >= 2 && e->ram_bytes)
		est->remaining_bytes = to_u64(x->pending_now +
					      lm_curve_eval(&x->c, e->guest_s - e->sync_guest_s) *
					      fmin(1, x->sent / (double)e->ram_bytes));
	if (!e->ram_bytes || (!x->cont_ok && e->pending_at_sync >= x->thr))
		return 0;
	return 1;
}

static void simulate(const struct lm_estimator *e, const struct ctx *x, struct sims *s)
{
	struct lm_precopy_sim *b = &s->best, *ex = &s->expect;

	/* Best case: the smallest curve the points allow, the better of the two rates. */
	*b = (struct lm_precopy_sim){
		.pending = e->pending_at_sync, .sent = x->sent, .tau0 = e->guest_s - e->sync_guest_s,
		.rate = x->rate_best, .thr = x->thr_best, .tscale = x->tscale,
		.horizon = x->horizon, .quantum = x->quantum, .wws = x->quiet.wws,
	};
	lm_precopy_sim_run(&x->quiet, b);
	/* Expected: every point, the current rate, the knee guessed if unseen. */
	s->exp = x->c;
	lm_curve_guess_knee(&s->exp, x->rate, x->tscale);
	*ex = *b;
	ex->rate = x->rate;
	ex->thr = x->thr;
	ex->wws = x->c.wws;
	lm_precopy_sim_run(&s->exp, ex);
	s->exp_failed = ex->result != 1;
	if (ex->result != 1 && b->result == 1)
		*ex = *b;
	s->lam = lm_curve_slope0(&x->c) * x->tscale / x->rate;
	s->lam_exp = lm_curve_slope0(&s->exp) * x->tscale / x->rate;
}

/*
 * Parameters no round has run under yet (a throttle step, a new cap or
 * downtime limit): the verdict is the model's prediction for them. A
 * throttle raised since the last sync counts too, even if QEMU's report of
 * it came after that sync.
 */
static int predicting(const struct lm_estimator *e, const struct ctx *x)
{
	return e->params_untested ||
	       (e->post_bulk_rounds > 0 && x->tscale < e->last_round_tscale - THROTTLE_UNTESTED);
}

/* The model's judgement of the two runs; the rounds' fixed point counts for measured parameters only. */
static enum lm_model_case judge(const struct lm_estimator *e, const struct ctx *x, const struct sims *s)
{
	int predicted = predicting(e, x);

	return lm_model_judge(&(struct lm_model_runs){
		.best_result = s->best.result, .expect_result = s->expect.result,
		.expect_eta_s = s->expect.eta_s, .expect_failed = s->exp_failed,
		.ratio = predicted ? s->lam_exp : s->lam, .horizon_s = x->horizon,
		.fixed_point = !predicted && lm_evidence_fixed_point(&e->ev), .expected_refutes = predicted,
	});
}

/* Rounds in a row, under these parameters, whose outcome supports each verdict. */
static void count_evidence(struct lm_estimator *e, enum lm_model_case out)
{
	int stuck = out == LM_MODEL_STUCK || out == LM_MODEL_FIXED_POINT;

	e->nc_rounds = stuck ? e->nc_rounds + 1 : 0;
	e->conv_rounds = out == LM_MODEL_CONVERGING ? e->conv_rounds + 1 : 0;
}

struct throttle_try {
	const struct lm_estimator *e;
	const struct lm_curve *c;
	const struct lm_precopy_sim *base;
	double rate;
};

static int throttle_converges(void *ctx, int pct)
{
	const struct throttle_try *t = ctx;
	struct lm_precopy_sim s = *t->base;

	s.wws = t->c->wws;
	s.rate = t->rate;
	s.thr = threshold(t->e, t->rate);
	s.tscale = 1 - pct / 100.0;
	lm_precopy_sim_run(t->c, &s);
	return s.result == 1;
}

/*
 * Smallest throttle (percent) whose simulation converges at rate / (1 +
 * margin); QEMU's highest when none does (the action then holds the guest
 * there and says it is not enough).
 */
double recommend_throttle(const struct lm_estimator *e, const struct ctx *x,
			  const struct lm_precopy_sim *base, double *limit_Bps, int *guessed)
{
	struct lm_curve c = x->c;
	double margin = cfg_or(e->cfg.throttle_margin, LM_MODEL_THROTTLE_MARGIN);
	struct throttle_try t = { e, &c, base, x->rate / (1 + margin) };
	int pct;

	*guessed = lm_curve_guess_knee(&c, x->rate, x->tscale);
	pct = lm_model_smallest_throttle(throttle_converges, &t);
	if (pct < 0)
		pct = LM_QEMU_THROTTLE_MAX_PCT;
	*limit_Bps = (1 - pct / 100.0) * lm_curve_slope0(&c);
	return pct;
}

/*
 * Continuous evidence inside a round all comes from windows that start at
 * the last sync, so a burst looks like a working set. It may say
 * not-converging only while the guest is still dirtying new pages at its
 * initial rate, faster than the link, for CONT_FAIL_TICKS ticks in a row.
 */
static int cont_source_stuck(struct lm_estimator *e, const struct ctx *x)
{
	const struct lm_curve_point *last = &e->pts[(e->npts - 1) % LM_CURVE_MAX_POINTS];
	double s0 = lm_curve_slope0(&x->c);
	int sustained = last->from_ticks && last->bytes >= LM_CURVE_ON_LINE * s0 * last->tau_s &&
			s0 * x->tscale > x->rate_best;

	e->cont_fail_ticks = sustained ? e->cont_fail_ticks + 1 : 0;
	return e->cont_fail_ticks >= CONT_FAIL_TICKS;
}

/*
 * Between syncs the only new facts are bytes sent: a rate wobble (lumpy
 * ticks, a transient dip) must not flip the verdict back and forth. Ticks
 * and unchanged parameters only update the numbers (a continuous dirty
 * source may still say not-converging inside a round).
 */
static enum lm_verdict hold_between_syncs(struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
					  int kind, const struct lm_estimate *prev, enum lm_verdict v)
{
	enum lm_verdict old = prev->verdict;

	if (v != LM_VERDICT_NOT_CONVERGING)
		e->cont_fail_ticks = 0;
	else if (kind == LM_OBS_TICK && x->cont_ok && old != v && !cont_source_stuck(e, x))
		v = old;
	if ((kind == LM_OBS_TICK && x->cont_ok) || old == LM_VERDICT_UNKNOWN || v == old) {
		if (v != old)
			e->cause_now = old == LM_VERDICT_UNKNOWN ? LM_CHANGE_FIRST : LM_CHANGE_IN_ROUND;
		return v;
	}
	/* the last verdict stands, with what it said */
	est->confidence = prev->confidence;
	memcpy(est->reason, prev->reason, sizeof(est->reason));
	est->throttle_pct = prev->throttle_pct;
	est->dirty_limit_Bps = prev->dirty_limit_Bps;
	est->evidence_rounds = prev->evidence_rounds;
	est->predicted = prev->predicted;
	if (old == LM_VERDICT_NOT_CONVERGING)
		est->eta_s = est->total_s = est->downtime_ms = -1;
	return old;
}

/*
 * The hysteresis rule. Before the first firm verdict (converging or
 * not-converging) and from marginal, each sync's outcome is published. After
 * it, a sync moves the verdict only on evidence of a stated size:
 * not-converging goes only after SHRINK_ROUNDS_TO_LEAVE rounds in a row that
 * each left at most LM_EV_SHRINK_SHARE of what the sync before left;
 * converging goes only after a round that did not shrink above the
 * threshold. A parameter change gives the predicted verdict at once; the
 * first round under the new parameters tests it by the same rule.
 */
static enum lm_verdict hold_verdict(struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
				    const struct sims *s, int kind, const struct lm_estimate *prev,
				    enum lm_verdict v, enum lm_model_case out)
{
	enum lm_verdict old = prev->verdict;
	int allowed;

	if (kind == LM_OBS_TICK || (kind == LM_OBS_PARAMS && !e->params_changed_now))
		return hold_between_syncs(e, est, x, kind, prev, v);
	if (v == old)
		return v;
	if (kind == LM_OBS_PARAMS) {
		e->cause_now = LM_CHANGE_PARAMETERS;
		return v;
	}
	if (old == LM_VERDICT_UNKNOWN || old == LM_VERDICT_MARGINAL || !e->firm_given) {
		e->cause_now = old == LM_VERDICT_UNKNOWN ? LM_CHANGE_FIRST :
			       out == LM_MODEL_FIXED_POINT ? LM_CHANGE_FIXED_POINT : LM_CHANGE_ROUNDS;
		return v;
	}
	if (old == LM_VERDICT_NOT_CONVERGING) {
		allowed = e->ev.shrink >= SHRINK_ROUNDS_TO_LEAVE;
		e->cause_now = LM_CHANGE_SHRINKING;
	} else {
		allowed = e->ev.still >= 1;
		e->cause_now = LM_CHANGE_GREW;
	}
	if (allowed) {
		if (e->measured_now)
			e->cause_now = LM_CHANGE_MEASURED;
		return v;
	}
	e->cause_now = LM_CHANGE_NONE;
	explain_held(e, est, x, s, old);
	return old;
}

static void estimate_verdict(struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			     int kind, const struct lm_estimate *prev)
{
	struct sims s;
	enum lm_model_case out;
	enum lm_verdict v;

	est->horizon_s = x->horizon;
	est->predicted = predicting(e, x);
	simulate(e, x, &s);
	out = judge(e, x, &s);
	if (kind == LM_OBS_ROUND)
		count_evidence(e, out);
	v = lm_model_verdict(out);
	switch (out) {
	case LM_MODEL_EXPECTED_STUCK:
		explain_predicted_stuck(e, est, x, &s);
		break;
	case LM_MODEL_FIXED_POINT:
		explain_fixed_point(e, est, x, &s);
		break;
	case LM_MODEL_STUCK:
		explain_stuck(e, est, x, &s);
		break;
	case LM_MODEL_CONVERGING:
		explain_eta(e, est, x, &s);
		explain_converging(e, est, x, &s);
		break;
	default:
		explain_eta(e, est, x, &s);
		explain_marginal(e, est, x, &s);
		break;
	}
	if (est->predicted)
		mark_predicted(e, est);
	est->verdict = hold_verdict(e, est, x, &s, kind, prev, v, out);
	if (est->verdict == LM_VERDICT_CONVERGING || est->verdict == LM_VERDICT_NOT_CONVERGING)
		e->firm_given = 1;
}

/* Crafted or absurd input (a replayed file) must not leak inf/NaN to the outputs. */
static void sanitize(struct lm_estimate *est)
{
	double *unknown_if_bad[] = { &est->eta_s, &est->downtime_ms, &est->throttle_pct,
				     &est->dirty_limit_Bps, &est->ratio, &est->eta_min_s, &est->total_s,
				     &est->measured_downtime_ms };
	double *zero_if_bad[] = { &est->confidence, &est->dirty_rate_Bps, &est->tx_rate_Bps,
				  &est->short_dirty_rate_Bps, &est->threshold_bytes, &est->horizon_s };
	uint32_t i;

	for (i = 0; i < sizeof(unknown_if_bad) / sizeof(unknown_if_bad[0]); i++)
		if (!isfinite(*unknown_if_bad[i]))
			*unknown_if_bad[i] = -1;
	for (i = 0; i < sizeof(zero_if_bad) / sizeof(zero_if_bad[0]); i++)
		if (!isfinite(*zero_if_bad[i]))
			*zero_if_bad[i] = 0;
	for (i = 0; i < est->curve_n; i++)
		if (!isfinite(est->curve_t_s[i]) || !isfinite(est->curve_bytes[i]))
			est->curve_t_s[i] = est->curve_bytes[i] = 0;
	est->confidence = clampd(est->confidence, 0, 1);
	if (est->throttle_pct > LM_QEMU_THROTTLE_MAX_PCT)
		est->throttle_pct = LM_QEMU_THROTTLE_MAX_PCT;
}

/*
 * Until the migration gives its own first firm verdict in the bulk pass,
 * the check's, marked from_check and predicted. It does not count as firm:
 * the rounds decide freely when they come.
 */
static void apply_head_start(struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x)
{
	struct lm_check_head_start_in in = {
		.check = &e->head_start, .ram_bytes = e->ram_bytes, .page_size = e->cfg.page_size,
		.downtime_limit_s = e->cfg.downtime_limit_s,
		.switchover_Bps = e->cfg.switchover_bandwidth_Bps,
	};

	est->from_check = 0;
	if (!e->head_start_live || e->firm_given || e->phase != LM_PHASE_BULK)
		return;
	/* the cap when there is one: the verdict must not follow each tick's rate */
	in.bandwidth_Bps = e->cfg.max_bandwidth_Bps > 0 ? e->cfg.max_bandwidth_Bps : x->rate;
	in.age_s = e->head_start_age_s;
	in.since_start_s = x->now - e->start_ts_s;
	if (lm_check_head_start_estimate(&in, est) == 0)
		e->cause_now = LM_CHANGE_CHECK;
}

/*
 * One estimate, after every record: the inputs, then by phase an unknown,
 * the final numbers, or a verdict from the runs of QEMU's loop, held
 * between syncs.
 */
int est_compute(struct lm_estimator *e, int kind)
{
	struct lm_estimate *est = &e->cur;
	const struct lm_estimate prev = *est;
	struct ctx x;

	gather(e, &x, kind);
	estimate_facts(e, est, &x, &prev);
	e->cause_now = e->phase == LM_PHASE_SWITCHOVER ? LM_CHANGE_SWITCHOVER :
		       e->phase == LM_PHASE_BULK || e->phase == LM_PHASE_ITERATIVE ? LM_CHANGE_ROUNDS :
		       LM_CHANGE_ENDED;
	if (e->phase == LM_PHASE_IDLE)
		estimate_unknown(est, "no migration seen yet");
	else if (e->phase == LM_PHASE_POSTCOPY)
		estimate_postcopy(e, est, &x, &prev);
	else if (e->phase == LM_PHASE_SWITCHOVER || e->phase == LM_PHASE_ENDED)
		estimate_ended(e, est, &x, &prev);
	else if (!(x.rate > 0))
		estimate_unknown(est, "no transfer rate measured yet");
	else if (!estimate_progress(e, est, &x))
		estimate_bulk_unknown(e, est, &x, sent_since(e, e->tx_total_at_start));
	else
		estimate_verdict(e, est, &x, kind, &prev);
	apply_head_start(e, est, &x);
	sanitize(est);
	if (est->verdict != prev.verdict) {
		est->verdict_round = e->last_round;
		est->previous_verdict = prev.verdict;
		est->changed_because = e->cause_now;
	}
	return est->verdict != prev.verdict;
}

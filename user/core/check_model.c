// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The model of `lmtrace check`, before a migration (check_model.h).
 *
 * A window of T seconds measured with calc-dirty-rate is one point of U(T),
 * exactly what a sync round of that length would have to resend. The
 * points give the live estimator's two curves: the best case (their least
 * concave majorant, flat after the longest window) and the expected case
 * (the same, knee guessed where unseen, and rising past the longest window
 * at the slope of its last segment up to the RAM size: on a concave curve
 * no point beyond can lie higher). Where U(T) went flat within the windows
 * the two agree past them; where it did not, they bracket it.
 *
 * QEMU's migration is then: the bulk pass sends what the guest has touched
 * at the link rate (untouched pages are zero pages: a few bytes each, no
 * link time to speak of), its end syncs what the guest dirtied meanwhile,
 * U(bulk pass), and from there on QEMU's loop runs (lm_precopy_sim_run, as
 * for a live migration). The verdict follows the estimator's rules for
 * parameters no round has run under (lm_model_judge(), model.h), except
 * that the expected case's failure is no evidence here: past the longest
 * window its curve is extrapolated, so it only brackets. The
 * model stops where the estimator's does (a stationary guest; a throttle
 * slows a CPU-bound writer to 1 - p), and beyond the longest window it
 * only knows the two brackets.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/check_model.h"
#include "core/curve.h"
#include "core/model.h"
#include "core/precopy_sim.h"
#include "core/units.h"

/* One run of the model at one bandwidth and throttle. */
struct run {
	struct lm_curve best, exp;
	struct lm_precopy_sim sb, se;	/* best and expected simulations */
	double bulk_s, horizon_s, lam;
	int extrapolated;		/* the expected curve rises past the longest window */
	enum lm_model_case out;
};

static double bulk_bytes(const struct lm_check_model_input *in)
{
	uint64_t r = in->resident_bytes;

	return (double)(r && r < in->ram_bytes ? r : in->ram_bytes);
}

static void points(const struct lm_check_model_input *in, int only, struct lm_curve_point *pts, uint32_t *n)
{
	int i;

	*n = 0;
	for (i = 0; i < in->nwin; i++) {
		if (only >= 0 && i != only)
			continue;
		pts[*n] = (struct lm_curve_point){ .tau_s = in->win[i].window_s, .bytes = in->win[i].bytes,
						 .round = (uint32_t)i + 2, .wall_s = in->win[i].window_s };
		(*n)++;
	}
}

/* Past the longest window: on at the last segment's slope up to the RAM size (1 if it rises). */
static int extend_linear(struct lm_curve *c, double ram)
{
	int n = c->n;
	double slope, tail;

	if (c->saturated || n < 2 || c->u[n - 1] >= ram)
		return 0;
	slope = (c->u[n - 1] - c->u[n - 2]) / (c->t[n - 1] - c->t[n - 2]);
	if (!(slope > 0))
		return 0;
	tail = (ram - c->u[n - 1]) / slope;
	c->t[n] = c->t[n - 1] + tail;
	c->u[n] = ram;
	c->n = n + 1;
	return 1;
}

static void sim(const struct lm_check_model_input *in, const struct lm_curve *c, double rate, double tscale,
		const struct run *r, struct lm_precopy_sim *s)
{
	memset(s, 0, sizeof(*s));
	/* from the sync that ends the bulk pass: what the guest dirtied during it comes back */
	s->tau0 = r->bulk_s * tscale;
	s->rate = rate;
	s->thr = rate * in->downtime_limit_s;
	s->tscale = tscale;
	s->horizon = r->horizon_s;
	s->quantum = LM_QEMU_QUANTUM_CAPPED_S;
	s->wws = c->wws;
	lm_precopy_sim_run(c, s);
}

/* The model at one bandwidth and throttle; only >= 0: that window alone. */
static void run_model(const struct lm_check_model_input *in, int only, double rate, double tscale, struct run *r)
{
	struct lm_curve_point pts[LM_CHECK_MAX_WINDOWS];
	uint32_t n;

	memset(r, 0, sizeof(*r));
	points(in, only, pts, &n);
	lm_curve_build(&r->best, pts, n, in->ram_bytes, 1);
	lm_curve_build(&r->exp, pts, n, in->ram_bytes, 0);
	r->extrapolated = extend_linear(&r->exp, (double)in->ram_bytes);
	lm_curve_guess_knee(&r->exp, rate, 1);
	r->bulk_s = bulk_bytes(in) / rate;
	r->horizon_s = lm_model_horizon_s(0, 0, r->bulk_s);
	sim(in, &r->best, rate, tscale, r, &r->sb);
	sim(in, &r->exp, rate, tscale, r, &r->se);
	r->lam = lm_curve_slope0(&r->exp) * tscale / rate;
	r->out = lm_model_judge(&(struct lm_model_runs){
		.best_result = r->sb.result, .expect_result = r->se.result, .expect_eta_s = r->se.eta_s,
		.expect_failed = r->se.result != 1, .ratio = r->lam, .horizon_s = r->horizon_s,
	});
}

static int converges(void *ctx, double rate)
{
	struct run r;

	run_model(ctx, -1, rate, 1, &r);
	return r.out == LM_MODEL_CONVERGING;
}

struct throttle_ctx {
	const struct lm_check_model_input *in;
	double rate;
};

/* The throttle runs from the start, the bulk pass included. */
static int converges_throttled(void *ctx, int pct)
{
	const struct throttle_ctx *t = ctx;
	struct run r;

	run_model(t->in, -1, t->rate, 1 - pct / 100.0, &r);
	return r.out == LM_MODEL_CONVERGING;
}

/* Windows that, each alone, give the verdict: the evidence behind the confidence. */
static double confidence(const struct lm_check_model_input *in, enum lm_model_case out, double rate)
{
	uint32_t k = 0;
	struct run r;
	int i;

	if (out == LM_MODEL_MARGINAL)
		return LM_CONF_MARGINAL;
	for (i = 0; i < in->nwin; i++) {
		run_model(in, i, rate, 1, &r);
		k += r.out == out;
	}
	return lm_model_confidence(lm_model_verdict(out), k);
}

static void set_reason(struct lm_check_model_result *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_reason(struct lm_check_model_result *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
}

static void explain(const struct lm_check_model_input *in, const struct run *r, struct lm_check_model_result *o)
{
	char thr[24], none[48];
	double rate = in->bandwidth_Bps;

	lm_fmt_bytes(thr, sizeof(thr), rate * in->downtime_limit_s);
	if (r->out == LM_MODEL_STUCK)
		set_reason(o, "guest dirties %.1f MiB/s (short windows) vs %.1f MiB/s; even the best case "
			   "(U(T) flat after %.0f s) stays above the %s threshold: %s",
			   o->short_dirty_rate_Bps / LM_MiB, rate / LM_MiB, o->longest_window_s, thr,
			   lm_precopy_sim_no_switchover(none, sizeof(none), &r->sb));
	else if (r->out == LM_MODEL_CONVERGING)
		set_reason(o, "dirty/bw %.2f at short windows; bulk pass %.1f s, switchover %.1f s later "
			   "after %u more sync%s (%s threshold)", r->lam, r->bulk_s, r->se.eta_s,
			   r->se.rounds, r->se.rounds == 1 ? "" : "s", thr);
	else if (r->se.result != 1 && r->extrapolated)
		set_reason(o, "switchover in %.0f s if U(T) stays flat after the %.0f s window, never if it "
			   "keeps rising: a longer --max-probe decides; dirty/bw %.2f",
			   r->sb.eta_s, o->longest_window_s, r->lam);
	else
		set_reason(o, "dirty/bw %.2f at short windows; best case switchover in %.0f s, expected %s",
			   r->lam, r->sb.eta_s, r->se.result == 1 ? "slow" : "none");
}

static int valid(const struct lm_check_model_input *in)
{
	int i;

	if (in->nwin < 1 || in->nwin > LM_CHECK_MAX_WINDOWS || !in->ram_bytes ||
	    !(in->bandwidth_Bps > 0) || !(in->downtime_limit_s > 0))
		return 0;
	for (i = 0; i < in->nwin; i++)
		if (!(in->win[i].window_s > 0) || !(in->win[i].bytes >= 0))
			return 0;
	return 1;
}

int lm_check_model_run(const struct lm_check_model_input *in, struct lm_check_model_result *o)
{
	double rate = in->bandwidth_Bps, sw = in->switchover_Bps > 0 ? in->switchover_Bps : rate;
	const struct lm_precopy_sim *s;
	struct run r;
	int i;

	memset(o, 0, sizeof(*o));
	o->total_s = o->downtime_ms = o->throttle_pct = o->min_bandwidth_Bps = -1;
	if (!valid(in))
		return -EINVAL;
	run_model(in, -1, rate, 1, &r);
	for (i = 0; i < in->nwin; i++)
		o->longest_window_s = fmax(o->longest_window_s, in->win[i].window_s);
	o->bulk_s = r.bulk_s;
	o->horizon_s = r.horizon_s;
	o->short_dirty_rate_Bps = lm_curve_slope0(&r.exp);
	o->ratio = r.lam;
	o->wws_bytes = (uint64_t)(r.best.saturated ? r.best.wws : r.best.max_u);
	o->wws_is_lower_bound = !r.best.saturated;
	o->downtime_is_bound = !(in->switchover_Bps > 0);
	o->verdict = lm_model_verdict(r.out);
	o->confidence = confidence(in, r.out, rate);
	/* the expected case's numbers, the best case's where the expected does not switch over */
	s = r.se.result == 1 ? &r.se : r.sb.result == 1 ? &r.sb : NULL;
	if (s) {
		o->total_s = r.bulk_s + s->eta_s;
		o->downtime_ms = lm_model_downtime_ms(s->final_pending, sw);
		o->syncs = 1 + s->rounds + 1;	/* the initial sync, the loop's, the completion sync */
	}
	o->throttle_pct = r.out == LM_MODEL_CONVERGING ? 0 :
			  lm_model_smallest_throttle(converges_throttled, &(struct throttle_ctx){ in, rate });
	o->min_bandwidth_Bps = lm_model_smallest_bandwidth(converges, (void *)in);
	explain(in, &r, o);
	return 0;
}

int lm_check_model_shared(const struct lm_check_model_input *in, int n, double bandwidth_Bps,
		       struct lm_check_model_result *out)
{
	struct lm_check_model_input one;
	int i, all = 1;

	for (i = 0; i < n; i++) {
		one = in[i];
		one.bandwidth_Bps = bandwidth_Bps / n;
		if (lm_check_model_run(&one, &out[i]) || out[i].verdict != LM_VERDICT_CONVERGING)
			all = 0;
	}
	return all;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The estimator's reasons (est_internal.h): for each outcome, the numbers
 * that go with its verdict and one short, checkable sentence saying why.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/est_internal.h"
#include "core/model.h"
#include "core/units.h"

/* An ended migration's reason starts so: ending again does not repeat it. */
#define ENDED_PREFIX		"ended after"

void set_reason(struct lm_estimate *est, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(est->reason, sizeof(est->reason), fmt, ap);
	va_end(ap);
}

/* The settings this estimate is made under, for the outputs. */
void export_settings(const struct lm_estimator *e, struct lm_estimate *est)
{
	est->page_size = e->cfg.page_size;
	est->downtime_limit_s = e->cfg.downtime_limit_s;
	est->max_bandwidth_Bps = e->cfg.max_bandwidth_Bps;
}

void export_curve(struct lm_estimate *est, const struct lm_curve *c)
{
	int i, n = c->n - 1 < LM_EST_CURVE_MAX ? c->n - 1 : LM_EST_CURVE_MAX;

	/* the last vertices carry the plateau: keep them when trimming */
	for (i = 0; i < n; i++) {
		int src = c->n - n + i;

		est->curve_t_s[i] = c->t[src];
		est->curve_bytes[i] = c->u[src];
	}
	est->curve_n = n > 0 ? n : 0;
}

void explain_stuck(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			  const struct sims *s)
{
	const struct lm_precopy_sim *b = &s->best;
	char left[24], thr[24], none[48];
	int guessed = 0;
	double tp;

	lm_precopy_sim_no_switchover(none, sizeof(none), b);
	tp = recommend_throttle(e, x, b, &est->dirty_limit_Bps, &guessed);
	est->throttle_pct = tp;
	est->evidence_rounds = e->nc_rounds > e->ev.still ? e->nc_rounds : e->ev.still;
	est->confidence = lm_model_confidence(LM_VERDICT_NOT_CONVERGING, est->evidence_rounds);
	if (e->phase == LM_PHASE_BULK) {
		set_reason(est, "bulk pass: guest dirties %.1f MiB/s (short windows) vs %.1f MiB/s sent; "
			   "best case %s; throttle %.0f%%",
			   est->short_dirty_rate_Bps / LM_MiB, x->rate / LM_MiB, none, tp);
		return;
	}
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	lm_fmt_bytes(thr, sizeof(thr), x->thr);
	set_reason(est, "round %u left %s to resend; %.0f ms at %.1f MiB/s allows %s; "
		   "best case: %s; throttle %s%.0f%%",
		   e->last_round, left, e->cfg.downtime_limit_s * 1e3, x->rate / LM_MiB, thr,
		   none, guessed ? ">=" : "", tp);
}

/* When the expected run switches over, and with how much left for the stop phase. */
void explain_eta(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			const struct sims *s)
{
	est->eta_s = s->expect.eta_s;
	est->total_s = (x->now - e->start_ts_s) + s->expect.eta_s;
	if (s->expect.final_pending >= 0)
		est->downtime_ms = lm_model_downtime_ms(s->expect.final_pending, x->sw_rate);
}

void explain_converging(const struct lm_estimator *e, struct lm_estimate *est,
			       const struct ctx *x, const struct sims *s)
{
	const struct lm_precopy_sim *ex = &s->expect;
	char left[24], thr[24];

	est->throttle_pct = 0;
	est->evidence_rounds = e->conv_rounds;
	est->confidence = est->predicted ? LM_CONF_PREDICTED_CONV :
			  lm_model_confidence(LM_VERDICT_CONVERGING, e->conv_rounds);
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	lm_fmt_bytes(thr, sizeof(thr), x->thr);
	if (e->phase == LM_PHASE_BULK && x->pending_now < x->thr && x->c.n < 2)
		set_reason(est, "RAM fits in the switchover threshold (%s)", thr);
	else
		set_reason(est, "round %u left %s; %.0f ms at %.1f MiB/s allows %s; "
			   "switchover in ~%.1f s after %u more sync%s, dirty/bw %.2f",
			   e->last_round, left, e->cfg.downtime_limit_s * 1e3, x->rate / LM_MiB, thr,
			   ex->eta_s, ex->rounds, ex->rounds == 1 ? "" : "s", s->lam);
}

/* The expected case fails under parameters no round has run under yet. */
void explain_predicted_stuck(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
				    const struct sims *s)
{
	char left[24];
	int guessed = 0;

	est->throttle_pct = recommend_throttle(e, x, &s->best, &est->dirty_limit_Bps, &guessed);
	est->evidence_rounds = 0;
	est->confidence = LM_CONF_PREDICTED_STUCK;
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	set_reason(est, "round %u left %s; expected case (dirty/bw %.2f, knee %s): no switchover in %.0f s; "
		   "throttle %s%.0f%%", e->last_round, left, s->lam_exp, guessed ? "guessed" : "measured",
		   x->horizon, guessed ? ">=" : "", est->throttle_pct);
}

/* Rounds that stopped shrinking above the threshold: the best case that shrank them is refuted. */
void explain_fixed_point(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
				const struct sims *s)
{
	char left[24], thr[24];
	int guessed = 0;

	est->throttle_pct = recommend_throttle(e, x, &s->best, &est->dirty_limit_Bps, &guessed);
	est->evidence_rounds = e->nc_rounds > e->ev.still ? e->nc_rounds : e->ev.still;
	est->confidence = lm_model_confidence(LM_VERDICT_NOT_CONVERGING, est->evidence_rounds);
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	lm_fmt_bytes(thr, sizeof(thr), x->thr);
	set_reason(est, "fixed point: rounds %u-%u each left %s or more, not shrinking, above the %s "
		   "threshold (%.0f ms at %.1f MiB/s); throttle %s%.0f%%",
		   e->last_round + 1 - e->ev.still, e->last_round, left, thr, e->cfg.downtime_limit_s * 1e3,
		   x->rate / LM_MiB, guessed ? ">=" : "", est->throttle_pct);
}

/* A verdict for parameters no round has run under: said as the model's prediction. */
void mark_predicted(const struct lm_estimator *e, struct lm_estimate *est)
{
	char why[LM_REASON_MAX];

	memcpy(why, est->reason, sizeof(why));
	set_reason(est, "predicted for throttle %u%%, %.0f ms limit (no round under them yet): %s",
		   e->throttle_pct_now, e->cfg.downtime_limit_s * 1e3, why);
}

void explain_marginal(const struct lm_estimator *e, struct lm_estimate *est,
			     const struct ctx *x, const struct sims *s)
{
	const struct lm_precopy_sim *b = &s->best;
	char left[24];
	int guessed = 0;
	double tp;

	est->confidence = LM_CONF_MARGINAL;
	tp = recommend_throttle(e, x, b, &est->dirty_limit_Bps, &guessed);
	est->throttle_pct = tp;
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	if (x->quiet.varying)
		set_reason(est, "round %u left %s; dirtying varies between rounds (busy phases): "
			   "switchover in %.0f s if quiet, never if busy; throttle %.0f%%",
			   e->last_round, left, b->eta_s, tp);
	else
		set_reason(est, "round %u left %s, dirty/bw %.2f at short windows; best case "
			   "switchover in %.0f s after %u syncs; throttle %.0f%% for a margin",
			   e->last_round, left, s->lam, b->eta_s >= 0 ? b->eta_s : x->horizon, b->rounds, tp);
}

void estimate_bulk_unknown(const struct lm_estimator *e, struct lm_estimate *est,
				  const struct ctx *x, double sent)
{
	char a[24], b[24];
	double v = (double)e->ram_bytes;

	est->verdict = LM_VERDICT_UNKNOWN;
	est->confidence = 0;
	lm_fmt_bytes(a, sizeof(a), sent);
	if (v > 0) {
		lm_fmt_bytes(b, sizeof(b), v);
		set_reason(est, "bulk pass: %s of %s sent at %.1f MiB/s; the first sync after it "
			   "(in ~%.0f s) measures the dirty pages", a, b, x->rate / LM_MiB,
			   est->eta_min_s > 0 ? est->eta_min_s : 0);
	} else {
		set_reason(est, "bulk pass: %s sent at %.1f MiB/s; RAM size unknown", a, x->rate / LM_MiB);
	}
}

void estimate_unknown(struct lm_estimate *est, const char *why)
{
	est->verdict = LM_VERDICT_UNKNOWN;
	set_reason(est, "%s", why);
}

/* Switched over: the numbers are final. Ended without: the last verdict stands. */
void estimate_ended(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			   const struct lm_estimate *prev)
{
	char left[24];

	if (e->final_ts_s < 0) {
		/* cancelled or lost: the last verdict stands, with what it was based on */
		est->confidence = prev->confidence;
		if (strncmp(prev->reason, ENDED_PREFIX, sizeof(ENDED_PREFIX) - 1))
			set_reason(est, ENDED_PREFIX " %.1f s without switchover; %s",
				   x->now - e->start_ts_s, prev->reason);
		else
			memcpy(est->reason, prev->reason, sizeof(est->reason));
		return;
	}
	est->verdict = LM_VERDICT_CONVERGING;
	est->confidence = 1;
	est->eta_s = 0;
	est->total_s = e->final_ts_s - e->start_ts_s;
	if (x->sw_rate > 0)
		est->downtime_ms = lm_model_downtime_ms(e->final_pending, x->sw_rate);
	lm_fmt_bytes(left, sizeof(left), e->final_pending);
	if (est->measured_downtime_ms >= 0)
		set_reason(est, "switched over after %.1f s, %u syncs; %s left for the stop "
			   "phase; measured downtime %.0f ms", est->total_s, e->nrounds, left,
			   est->measured_downtime_ms);
	else
		set_reason(est, "switched over after %.1f s, %u syncs; %s left for the stop phase",
			   est->total_s, e->nrounds, left);
}

/*
 * Postcopy: the guest runs on the destination since the switch and fetches
 * the pages it lacks on demand; the source sends the rest uncapped. The
 * pre-copy verdict stands (it is why postcopy was needed); no pre-copy
 * switchover or downtime is claimed.
 */
void estimate_postcopy(const struct lm_estimator *e, struct lm_estimate *est,
			      const struct ctx *x, const struct lm_estimate *prev)
{
	double end = e->postcopy_end_s >= 0 ? e->postcopy_end_s : x->now;
	char sent[24];

	est->verdict = prev->verdict;
	est->confidence = prev->confidence;
	est->throttle_pct = prev->throttle_pct;
	est->dirty_limit_Bps = prev->dirty_limit_Bps;
	est->measured_downtime_ms = -1;
	est->remaining_bytes = 0;
	est->postcopy_start_s = e->postcopy_ts_s - e->start_ts_s;
	est->postcopy_bytes = e->tx_total > e->postcopy_tx ? e->tx_total - e->postcopy_tx : 0;
	est->postcopy_s = fmax(0, end - e->postcopy_ts_s);
	est->phase_from_qmp = e->postcopy_by_qmp;
	lm_fmt_bytes(sent, sizeof(sent), (double)est->postcopy_bytes);
	set_reason(est, "%s postcopy %.1f s after the start (%s): %s sent in %.1f s%s; the guest runs "
		   "on the destination, fetching pages on demand",
		   e->postcopy_end_s >= 0 ? "completed in" : "switched to", est->postcopy_start_s,
		   e->postcopy_by_qmp ? "QEMU's status" : "no syncs since, the stream uncapped", sent,
		   est->postcopy_s, e->postcopy_end_s >= 0 ? "" : " so far");
}

/* A firm verdict held against this sync's outcome: what holds it, and what would change it. */
void explain_held(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			 const struct sims *s, enum lm_verdict old)
{
	char left[24], before[24];
	int guessed = 0;

	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	lm_fmt_bytes(before, sizeof(before), e->ev.prev_pending_before);
	if (old == LM_VERDICT_NOT_CONVERGING) {
		est->throttle_pct = recommend_throttle(e, x, &s->best, &est->dirty_limit_Bps, &guessed);
		est->evidence_rounds = e->ev.still;
		est->confidence = lm_model_confidence(LM_VERDICT_NOT_CONVERGING, e->ev.still);
		est->eta_s = est->total_s = est->downtime_ms = -1;
		set_reason(est, "not-converging since round %u: round %u left %s (%s before); %u rounds in a "
			   "row shrinking by %.0f%% each would change it; throttle %s%.0f%%",
			   e->cur.verdict_round, e->last_round, left, before, SHRINK_ROUNDS_TO_LEAVE,
			   (1 - LM_EV_SHRINK_SHARE) * 100, guessed ? ">=" : "", est->throttle_pct);
		return;
	}
	est->throttle_pct = 0;
	est->evidence_rounds = e->ev.shrink;
	est->confidence = lm_model_confidence(LM_VERDICT_CONVERGING, e->ev.shrink);
	set_reason(est, "converging since round %u: round %u left %s, less than before (%s); only a round "
		   "that does not shrink above the threshold would change it",
		   e->cur.verdict_round, e->last_round, left, before);
}

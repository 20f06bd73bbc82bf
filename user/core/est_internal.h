/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inside the estimator: what its three jobs share. est_intake.c turns each
 * observation into state (the guest clock, U(T) points, the link rate,
 * postcopy), est_decide.c turns the state into a verdict through the model
 * (model.h) and holds it between syncs, est_reasons.c says why in numbers.
 * estimator.c is the entry point and checks its settings. Only those files
 * include this header.
 */
#ifndef LM_EST_INTERNAL_H
#define LM_EST_INTERNAL_H

#include <stdint.h>
#include "core/curve.h"
#include "core/estimator.h"
#include "core/precopy_sim.h"

/* Shortest in-round window used as a U(T) point (a tick right after a sync says little). */
#define CONT_MIN_TAU_S		0.5
/*
 * Leaving a firm not-converging takes this many rounds in a row that each
 * shrank by the evidence share (LM_EV_SHRINK_SHARE): a random writer's
 * rounds wander by a quarter under one throttle (seen: 128, 112, 85, 94,
 * 128 MiB), so two shrinking in a row happen by chance; three is a trend.
 */
#define SHRINK_ROUNDS_TO_LEAVE	3
/*
 * Sanity bounds on settings from QMP, the command line or a recording
 * (which may hold anything); beyond them a value is taken as corrupt.
 */
#define DOWNTIME_LIMIT_MAX_MS	LM_DOWNTIME_LIMIT_MAX_MS
#define PAGE_SIZE_MAX		(1ull << 30)	/* 1 GiB, the largest huge page */
/* The largest double below 2^64: from there on a byte count saturates. */
#define U64_SATURATE_D		18446744073709549568.0

static inline double cfg_or(double v, double def)
{
	return v > 0 ? v : def;
}

static inline double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Bytes as an integer, saturating (a double beyond 2^64 is UB to convert). */
static inline uint64_t to_u64(double v)
{
	if (!(v > 0))
		return 0;
	return v >= U64_SATURATE_D ? UINT64_MAX : (uint64_t)v;
}

/*
 * Bytes sent since the counter read base. The counter at a sync (summed by
 * BPF) and at a tick (summed by user space) are read at different moments
 * and may disagree by a send: never a wrapped difference.
 */
static inline double sent_since(const struct lm_estimator *e, uint64_t base)
{
	return e->tx_total > base ? (double)(e->tx_total - base) : 0;
}

/* ---- intake (est_intake.c) --------------------------------------------- */

/* Seconds since the first record. */
double rel_s(struct lm_estimator *e, uint64_t ts_ns);
/* Guest seconds per wall second under the current throttle. */
double tscale_now(const struct lm_estimator *e);
void advance_clock(struct lm_estimator *e, double now);
void reset_migration(struct lm_estimator *e, double now);
/* The transfer rate: between syncs (ticks may say it moved), and from the rounds alone. */
double rate_now(const struct lm_estimator *e);
double rate_rounds(const struct lm_estimator *e);
/* The switchover threshold at a rate: rate x downtime limit. */
double threshold(const struct lm_estimator *e, double rate);
void check_postcopy(struct lm_estimator *e, double now);
void on_round(struct lm_estimator *e, const struct lm_obs_round *r, double now);
void on_tick(struct lm_estimator *e, const struct lm_obs_tick *t, double now);
void on_params(struct lm_estimator *e, const struct lm_obs_params *p);
void on_end(struct lm_estimator *e, const struct lm_obs_end *end, double now);
void start_head_start(struct lm_estimator *e, uint64_t start_ns);

/* ---- decision (est_decide.c) ------------------------------------------- */

/* The inputs of one estimate: where the round stands, the rates, the thresholds, the curves. */
struct ctx {
	double now;		/* seconds since the first record */
	double rate;		/* transfer rate of the expected case */
	double rate_best;	/* the better of the measured rates: the best case's */
	double thr, thr_best;	/* switchover thresholds at those rates */
	double horizon;		/* not-converging: no switchover within this many seconds */
	double quantum;		/* QEMU's pending check period */
	double tscale;		/* guest seconds per wall second now (1 - throttle) */
	double sw_rate;		/* rate of the stop phase */
	double sent;		/* bytes sent since the last sync */
	double pending_now;	/* what that sync left, less what was sent since */
	int cont_ok;		/* a continuous source has measured part of the curve in this round */
	struct lm_curve c;	/* all points */
	struct lm_curve quiet;	/* busy phases left out: the best case */
};

/* The two runs of QEMU's loop a verdict rests on. */
struct sims {
	struct lm_curve exp;		/* all points, knee guessed when unseen: the expected curve */
	struct lm_precopy_sim best;	/* the quiet curve at the better rate */
	struct lm_precopy_sim expect;	/* the expected curve at the current rate: ETA, downtime */
	double lam;			/* short-window dirty rate (guest time now) / transfer rate */
	double lam_exp;			/* the same on the expected curve (its knee guessed) */
	int exp_failed;			/* the expected case did not switch over (expect then holds the best) */
};

/* Rebuilds the published estimate after a record of this kind; 1 if the verdict changed. */
int est_compute(struct lm_estimator *e, int kind);
/* Smallest throttle (percent) whose simulation converges at rate / (1 + margin). */
double recommend_throttle(const struct lm_estimator *e, const struct ctx *x,
			  const struct lm_precopy_sim *base, double *limit_Bps, int *guessed);

/* ---- reasons (est_reasons.c) ------------------------------------------- */

void set_reason(struct lm_estimate *est, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void export_settings(const struct lm_estimator *e, struct lm_estimate *est);
void export_curve(struct lm_estimate *est, const struct lm_curve *c);
/* The reason of a verdict, in numbers, from the estimate's inputs and simulations. */
typedef void explain_fn(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			const struct sims *s);
explain_fn explain_stuck, explain_eta, explain_converging, explain_predicted_stuck,
	explain_fixed_point, explain_marginal;
void mark_predicted(const struct lm_estimator *e, struct lm_estimate *est);
/* A firm verdict held against this sync's outcome: what holds it, and what would change it. */
void explain_held(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
		  const struct sims *s, enum lm_verdict old);
void estimate_bulk_unknown(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			   double sent);
void estimate_unknown(struct lm_estimate *est, const char *why);
void estimate_ended(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
		    const struct lm_estimate *prev);
void estimate_postcopy(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
		       const struct lm_estimate *prev);

#endif /* LM_EST_INTERNAL_H */

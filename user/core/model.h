/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The convergence model, once: QEMU's constants, the horizon, the judgement
 * of a best and an expected case, the confidence rule, the downtime, and
 * the searches for the smallest throttle and bandwidth that converge. The
 * live estimator, `lmtrace check` and the check's head start all call it;
 * nothing else defines a model constant. Pure arithmetic.
 *
 * The model in one paragraph. QEMU's pre-copy sends all RAM once (the bulk
 * pass), then, whenever what is left to send drops below threshold =
 * bandwidth x downtime limit, it syncs the dirty bitmap; if pending
 * (leftover + newly dirtied) is still above the threshold it keeps sending,
 * else it stops the VM and sends the rest (with the rate limit lifted). It
 * checks once per rate-limiter window, so rounds are quantized to that
 * window. What a round has to resend is U(T), the unique bytes the guest
 * dirties in a window of T guest seconds (curve.h); the loop is simulated
 * on that curve (precopy_sim.h). A best case (the smallest curve the data
 * allows) and an expected case (all data, unknowns guessed) are simulated;
 * lm_model_judge() turns the two runs into a verdict.
 *
 * Throttle. QEMU's auto-converge runs each vCPU (1 - p) of the time, so a
 * CPU-bound writer performs in T wall seconds the writes it would do in
 * (1 - p) T: U_p(T) = U((1 - p) T). A writer paced by a timer rather than
 * by CPU time is not slowed until p exceeds 1 - (its rate / its CPU-bound
 * peak rate): the model does not cover it.
 */
#ifndef LM_MODEL_H
#define LM_MODEL_H

#include <stdint.h>
#include "core/published.h"

/* ---- QEMU's constants -------------------------------------------------- */

/* The rate-limiter window (BUFFER_DELAY): with a cap, pending is checked once per window. */
#define LM_QEMU_QUANTUM_CAPPED_S	0.100
/* Without a cap ram_save_iterate() returns after at most MAX_WAIT (50 ms). */
#define LM_QEMU_QUANTUM_FREE_S		0.050
/* Device state sent while the VM is stopped (~330 KB measured on real QEMU). */
#define LM_QEMU_DEVICE_STATE_BYTES	(320 * 1024.0)
/* The default downtime-limit (migration parameter), in ms. */
#define LM_QEMU_DOWNTIME_LIMIT_DEFAULT_MS 300u
/* The highest vCPU throttle (CPU_THROTTLE_PCT_MAX); QEMU's throttle parameters take 1 to 99. */
#define LM_QEMU_THROTTLE_MAX_PCT	99

/* ---- the horizon and the judgement ------------------------------------- */

/*
 * "Not converging" = no switchover, even in the best case, within
 * max(LM_MODEL_HORIZON_MIN_S, LM_MODEL_HORIZON_BULK x the bulk pass). A
 * migration that needs twenty times its first pass is stuck for any
 * operator (KubeVirt gives up after 150 s per GiB, about five passes at
 * 1 Gbit/s); a slower one that would still finish is called marginal.
 */
#define LM_MODEL_HORIZON_MIN_S		60
#define LM_MODEL_HORIZON_BULK		20
/*
 * converging: the expected case switches over within this share of the
 * horizon (well inside it), with a short-window dirty/bandwidth ratio below
 * LM_MODEL_CONVERGING_RATIO: on a concave curve a round then dirties at most
 * 80 % of what it sends, so rounds shrink even if the rate dips a little.
 */
#define LM_MODEL_CONVERGING_HORIZON_SHARE 0.5
#define LM_MODEL_CONVERGING_RATIO	0.8
/* Headroom of the recommended throttle: converge at the rate / 1.25, not at the edge. */
#define LM_MODEL_THROTTLE_MARGIN	0.25

/*
 * max(min_s, per_bulk x bulk_s); 0 for min_s or per_bulk selects the
 * defaults above.
 */
double lm_model_horizon_s(double min_s, double per_bulk, double bulk_s);

/* The outcome of the two runs of QEMU's loop a verdict rests on. */
enum lm_model_case {
	LM_MODEL_FIXED_POINT,	/* the rounds stopped shrinking above the threshold (evidence.h) */
	LM_MODEL_STUCK,		/* even the best case does not switch over: not within the
				 * horizon, or not in the simulation's LM_SIM_MAX_ROUNDS syncs */
	LM_MODEL_EXPECTED_STUCK,	/* the expected case fails where it may refute (predictions) */
	LM_MODEL_MARGINAL,	/* anything between */
	LM_MODEL_CONVERGING,	/* the expected case switches over well inside the horizon */
};

struct lm_model_runs {
	int best_result;	/* lm_precopy_sim.result of the best case: 1, 0 or -1 (undecided) */
	int expect_result;	/* of the expected case (or of the best, standing in for it) */
	double expect_eta_s;	/* its switchover, seconds from now */
	int expect_failed;	/* the expected case's own run did not switch over */
	double ratio;		/* short-window dirty rate / transfer rate, guest time now */
	double horizon_s;
	int fixed_point;	/* the rounds show a fixed point above the threshold */
	/*
	 * 1: the expected case's failure is evidence (a prediction for
	 * parameters the rounds measured the guest under); 0: it only brackets
	 * (a curve extrapolated past the longest window).
	 */
	int expected_refutes;
};

enum lm_model_case lm_model_judge(const struct lm_model_runs *r);
enum lm_verdict lm_model_verdict(enum lm_model_case c);

/* ---- confidence -------------------------------------------------------- */

/*
 * Laplace's rule of succession on the evidence: after n pieces of evidence
 * in a row that supported the verdict (rounds under the parameters in force,
 * or a check's windows that each alone give it), the chance the next does
 * too is (n + 1) / (n + 2). Never certain before the switchover, since the
 * guest may change: capped.
 */
#define LM_CONF_STUCK_MAX		0.97
#define LM_CONF_CONV_MAX		0.95
/* Marginal: it may go either way. */
#define LM_CONF_MARGINAL		0.5
/*
 * Converging predicted for parameters no round has run under: the model
 * assumes a throttle of p slows the guest to (1 - p), true for a CPU-bound
 * writer only (a timer-paced one barely slows): little better than even.
 */
#define LM_CONF_PREDICTED_CONV		0.55
/*
 * Not-converging predicted (the expected case fails under them): worth one
 * round of evidence, since the rounds before showed the guest at least this
 * busy and a throttle slows a guest at most to (1 - p); the knee is a guess.
 */
#define LM_CONF_PREDICTED_STUCK		0.67

/* Confidence of a verdict after n pieces of evidence in a row (marginal: LM_CONF_MARGINAL). */
double lm_model_confidence(enum lm_verdict v, uint32_t n);

/* ---- numbers ----------------------------------------------------------- */

/* Downtime of a stop phase that sends pending bytes (and the device state) at rate. */
double lm_model_downtime_ms(double pending, double rate);

/* Does the migration converge with a vCPU throttle of pct percent (0 = none)? */
typedef int (*lm_model_throttle_ok)(void *ctx, int pct);
/* Smallest throttle, 0 to LM_QEMU_THROTTLE_MAX_PCT, for which ok() holds; -1 if none. */
int lm_model_smallest_throttle(lm_model_throttle_ok ok, void *ctx);

/* Does the migration converge at this bandwidth (bytes/s)? */
typedef int (*lm_model_bandwidth_ok)(void *ctx, double rate);
/* Smallest bandwidth, 1 KiB/s to 1 TiB/s to within 1 %, for which ok() holds; -1 if none. */
double lm_model_smallest_bandwidth(lm_model_bandwidth_ok ok, void *ctx);

#endif /* LM_MODEL_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The unique-pages curve U(T) fitted to measured windows (model.h has the
 * overview). Pure arithmetic on the caller's data.
 *
 * What a round has to resend is U(T), the unique bytes the guest dirties in
 * a window of T guest seconds. Each sync round k >= 2 measures one point of
 * it (the bitmap popcount over the round); a continuous source gives points
 * inside a round, and `lmtrace check` gives one per calc-dirty-rate window.
 * For a stationary guest U is concave and non-decreasing with U(0) = 0:
 * linear for short windows, flat at the writable working set (WWS) for long
 * ones. The smallest such curve through the measured points is their least
 * concave majorant from the origin, flat after its highest vertex. It is the
 * best case the data allows: any real curve lies on or above it. Points are
 * in guest time (wall time x (1 - throttle) over the window), so the curve
 * is the guest's own whatever throttle ran: a throttle moves the knee right,
 * to T_knee / (1 - p), never the plateau.
 */
#ifndef LM_CURVE_H
#define LM_CURVE_H

#include <stdint.h>

/* One measured window: a point of U(T). */
struct lm_curve_point {
	double tau_s;		/* window length in guest time (wall time x (1 - throttle)) */
	double bytes;		/* unique bytes dirtied in that window */
	uint32_t round;		/* round it belongs to */
	uint32_t from_ticks;	/* 1: continuous-source sample inside a round */
	double wall_s;		/* the window's wall-clock length (0 = unknown: tau / current 1 - throttle) */
};

#define LM_CURVE_MAX_POINTS 24	/* points used for the fit (recent ones) */

/*
 * U(T): unique bytes dirtied in a window of T guest seconds, as the vertices
 * of a concave, non-decreasing piecewise-linear curve from (0,0), flat after
 * the last vertex.
 */
struct lm_curve {
	int n;				/* vertices, [0] is the origin */
	double t[LM_CURVE_MAX_POINTS + 1];
	double u[LM_CURVE_MAX_POINTS + 1];
	int saturated;			/* flat part observed: u[n-1] is the WWS */
	int varying;			/* busy points left out (quiet_only) */
	int slope_measured;		/* the initial slope is seen over a range of windows */
	int knee_unresolved;		/* flat already at the first vertex */
	double wall1;			/* wall-clock length of the window at vertex 1, 0 = unknown */
	double wws;			/* u[n-1] if saturated, else 0 */
	double max_u;
};

/*
 * The least concave non-decreasing majorant of the points from the origin:
 * the smallest curve a stationary guest could have produced them with.
 * quiet_only leaves out points taken in a busy phase (beaten by a longer
 * window), which gives the best case for a guest whose dirtying varies.
 */
void lm_curve_build(struct lm_curve *c, const struct lm_curve_point *pts, uint32_t npts, uint64_t ram,
		    int quiet_only);
double lm_curve_eval(const struct lm_curve *c, double tau);
/* Slope of the first segment: the short-window dirty rate, bytes per guest second. */
double lm_curve_slope0(const struct lm_curve *c);
/* A window that dirtied this share of slope0 x its length or more is on the initial line (noise). */
#define LM_CURVE_ON_LINE	0.9
/* Moves the first vertex to a guessed knee when the initial slope was not seen; 1 if it did. */
int lm_curve_guess_knee(struct lm_curve *c, double rate, double tscale);

#endif /* LM_CURVE_H */

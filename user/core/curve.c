// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The U(T) curve fitted to measured windows (curve.h says what it is).
 */
#include <string.h>
#include "core/curve.h"

/* A point exceeding a longer window's by this factor marks a busy phase. */
#define BUSY_FACTOR		1.15
/* Knee assumed at this fraction of the shortest window when U(T) is already flat there. */
#define KNEE_GUESS		0.5
/* A point (no higher) at a window this much longer than the highest one's shows the plateau. */
#define PLATEAU_WINDOW		1.15
/* A window that dirtied this share of RAM is on the plateau: U(T) cannot exceed RAM. */
#define PLATEAU_RAM_SHARE	0.9
/* Windows on the initial line this far apart (longest / shortest) measure its slope. */
#define SLOPE_SPAN		1.5
/* A second segment this much flatter than the first: flat from the first vertex on. */
#define KNEE_FLAT_SLOPE		0.25
/* A window that dirtied this share of what the link sent meanwhile only bounds the slope. */
#define KNEE_LINK_SHARE		0.9

double lm_curve_eval(const struct lm_curve *c, double tau)
{
	int i;

	if (tau <= 0 || c->n < 2)
		return 0;
	for (i = 1; i < c->n; i++) {
		if (tau <= c->t[i]) {
			double f = (tau - c->t[i - 1]) / (c->t[i] - c->t[i - 1]);

			return c->u[i - 1] + f * (c->u[i] - c->u[i - 1]);
		}
	}
	return c->u[c->n - 1];
}

double lm_curve_slope0(const struct lm_curve *c)
{
	return c->n >= 2 ? c->u[1] / c->t[1] : 0;
}

/*
 * A stationary guest cannot dirty fewer unique pages in a longer window. A
 * point beaten that way by a longer window was taken while the guest was
 * busier than at other times (bursty or phased workload): it says how bad
 * things can get, not how good.
 */
static int point_is_busy(const struct lm_curve_point *pts, uint32_t have, const struct lm_curve_point *p)
{
	uint32_t i;

	for (i = 0; i < have; i++) {
		const struct lm_curve_point *q = &pts[i];

		if (q->tau_s > p->tau_s && q->bytes * BUSY_FACTOR < p->bytes)
			return 1;
	}
	return 0;
}

/* The usable points sorted by window length; equal windows keep the larger value. */
struct sorted_pts {
	uint32_t n;
	double t[LM_CURVE_MAX_POINTS];	/* window, guest seconds */
	double u[LM_CURVE_MAX_POINTS];	/* unique bytes */
	double w[LM_CURVE_MAX_POINTS];	/* window, wall seconds */
};

static void insert_point(struct sorted_pts *s, const struct lm_curve_point *p)
{
	uint32_t j, k;

	for (j = 0; j < s->n && s->t[j] < p->tau_s; j++)
		;
	if (j < s->n && s->t[j] == p->tau_s) {
		if (p->bytes > s->u[j]) {
			s->u[j] = p->bytes;
			s->w[j] = p->wall_s;
		}
		return;
	}
	for (k = s->n; k > j; k--) {
		s->t[k] = s->t[k - 1];
		s->u[k] = s->u[k - 1];
		s->w[k] = s->w[k - 1];
	}
	s->t[j] = p->tau_s;
	s->u[j] = p->bytes;
	s->w[j] = p->wall_s;
	s->n++;
}

/* Returns 1 if busy points were left out (quiet_only). */
static int sort_points(struct sorted_pts *s, const struct lm_curve_point *pts, uint32_t have, int quiet_only)
{
	uint32_t i;
	int varying = 0;

	s->n = 0;
	for (i = 0; i < have; i++) {
		const struct lm_curve_point *p = &pts[i];

		if (!(p->tau_s > 0) || !(p->bytes >= 0))
			continue;
		if (quiet_only && point_is_busy(pts, have, p)) {
			varying = 1;
			continue;
		}
		insert_point(s, p);
	}
	return varying;
}

/* The highest point; the shortest window among equals. */
static uint32_t highest_point(const struct sorted_pts *s)
{
	uint32_t i, imax = 0;

	for (i = 0; i < s->n; i++)
		if (s->u[i] > s->u[imax] || (s->u[i] == s->u[imax] && s->t[i] < s->t[imax]))
			imax = i;
	return imax;
}

/* Upper hull over (0,0) and the points up to the highest one. */
static void upper_hull(struct lm_curve *c, const struct sorted_pts *s, uint32_t imax)
{
	uint32_t i;

	for (i = 0; i <= imax; i++) {
		while (c->n >= 2) {
			double ax = c->t[c->n - 2], ay = c->u[c->n - 2];
			double bx = c->t[c->n - 1], by = c->u[c->n - 1];

			if ((bx - ax) * (s->u[i] - ay) - (by - ay) * (s->t[i] - ax) >= 0)
				c->n--;
			else
				break;
		}
		c->t[c->n] = s->t[i];
		c->u[c->n] = s->u[i];
		if (c->n == 1)
			c->wall1 = s->w[i];
		c->n++;
	}
}

/* Flat beyond the highest point: measured at a longer window, or the whole RAM. */
static void find_plateau(struct lm_curve *c, const struct sorted_pts *s, uint32_t imax, uint64_t ram)
{
	uint32_t i;

	for (i = imax + 1; i < s->n; i++)
		if (s->t[i] >= PLATEAU_WINDOW * s->t[imax])
			c->saturated = 1;
	if (ram && c->max_u >= PLATEAU_RAM_SHARE * (double)ram)
		c->saturated = 1;
	if (c->saturated)
		c->wws = c->max_u;
}

/* Whether the initial slope was measured, or the curve is flat from its first vertex on. */
static void find_slope(struct lm_curve *c, const struct sorted_pts *s)
{
	uint32_t i;

	/* several windows, wide apart, on the initial line: the slope was measured */
	if (c->n >= 2) {
		double s0 = c->u[1] / c->t[1], tmin = 0, tmax = 0;

		for (i = 0; i < s->n; i++) {
			if (s->u[i] < LM_CURVE_ON_LINE * s0 * s->t[i])
				continue;
			if (!tmin || s->t[i] < tmin)
				tmin = s->t[i];
			if (s->t[i] > tmax)
				tmax = s->t[i];
		}
		c->slope_measured = tmin > 0 && tmax >= SLOPE_SPAN * tmin;
	}
	/* flat from the first vertex on: the initial slope is only bounded below */
	if (c->n == 2)
		c->knee_unresolved = c->saturated;
	else if (c->n > 2)
		c->knee_unresolved = (c->u[2] - c->u[1]) / (c->t[2] - c->t[1]) <
				     KNEE_FLAT_SLOPE * c->u[1] / c->t[1];
}

/*
 * Least concave non-decreasing majorant of the points, anchored at (0,0).
 * Points measured on a stationary guest lie on a concave curve; noise or a
 * changing workload can put them off it, and the majorant then keeps the
 * higher ones (the cautious side for "converging").
 */
void lm_curve_build(struct lm_curve *c, const struct lm_curve_point *pts, uint32_t npts, uint64_t ram,
		    int quiet_only)
{
	struct sorted_pts s;
	uint32_t imax;

	memset(c, 0, sizeof(*c));
	c->n = 1;
	c->varying = sort_points(&s, pts, npts < LM_CURVE_MAX_POINTS ? npts : LM_CURVE_MAX_POINTS, quiet_only);
	if (!s.n)
		return;
	imax = highest_point(&s);
	upper_hull(c, &s, imax);
	c->max_u = s.u[imax];
	find_plateau(c, &s, imax, ram);
	find_slope(c, &s);
}

/*
 * Flat already at the shortest window, or that window dirtied about all the
 * link could send in it: the initial slope is only bounded below (the knee
 * can be anywhere before). Assume it at KNEE_GUESS of that window; rounds
 * measured later, shorter in guest time, replace the guess.
 */
int lm_curve_guess_knee(struct lm_curve *c, double rate, double tscale)
{
	double wall;

	if (c->n < 2 || !(tscale > 0))
		return 0;
	/*
	 * What the link sent while that window ran: its own wall time, not its
	 * guest time at today's throttle (a throttle QEMU just raised says
	 * nothing yet about the slope measured before it).
	 */
	wall = c->wall1 > 0 ? c->wall1 : c->t[1] / tscale;
	if (!c->knee_unresolved && (c->slope_measured || c->u[1] < KNEE_LINK_SHARE * rate * wall))
		return 0;
	c->t[1] *= KNEE_GUESS;
	return 1;
}

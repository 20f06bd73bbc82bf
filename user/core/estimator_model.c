// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The U(T) curve and the replay of QEMU's pre-copy loop (see
 * estimator_model.h; the reasoning is at the top of estimator.c).
 */
#include <math.h>
#include <string.h>
#include "core/estimator_model.h"

/* Bounds the replay's work when rounds are many and short (lambda near 1). */
#define SIM_MAX_ROUNDS		20000
/* A point exceeding a longer window's by this factor marks a busy phase. */
#define BUSY_FACTOR		1.15
/* Knee assumed at this fraction of the shortest window when U(T) is already flat there. */
#define KNEE_GUESS		0.5

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* ---- the U(T) curve ---------------------------------------------------- */

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
static int point_is_busy(const struct lm_est_point *pts, uint32_t have, const struct lm_est_point *p)
{
	uint32_t i;

	for (i = 0; i < have; i++) {
		const struct lm_est_point *q = &pts[i];

		if (q->tau_s > p->tau_s && q->bytes * BUSY_FACTOR < p->bytes)
			return 1;
	}
	return 0;
}

/*
 * Least concave non-decreasing majorant of the points, anchored at (0,0).
 * Points measured on a stationary guest lie on a concave curve; noise or a
 * changing workload can put them off it, and the majorant then keeps the
 * higher ones (the cautious side for "converging").
 */
void lm_curve_build(struct lm_curve *c, const struct lm_est_point *pts, uint32_t npts, uint64_t ram,
		    int quiet_only)
{
	double pt[LM_EST_MAX_POINTS], pu[LM_EST_MAX_POINTS], pw[LM_EST_MAX_POINTS];
	uint32_t i, n = 0, have = npts < LM_EST_MAX_POINTS ? npts : LM_EST_MAX_POINTS;
	int j, k, imax;

	memset(c, 0, sizeof(*c));
	c->n = 1;
	for (i = 0; i < have; i++) {
		const struct lm_est_point *p = &pts[i];

		if (!(p->tau_s > 0) || !(p->bytes >= 0))
			continue;
		if (quiet_only && point_is_busy(pts, have, p)) {
			c->varying = 1;
			continue;
		}
		/* insertion sort by tau, equal taus keep the larger value */
		for (j = 0; j < (int)n && pt[j] < p->tau_s; j++)
			;
		if (j < (int)n && pt[j] == p->tau_s) {
			if (p->bytes > pu[j]) {
				pu[j] = p->bytes;
				pw[j] = p->wall_s;
			}
			continue;
		}
		for (k = n; k > j; k--) {
			pt[k] = pt[k - 1];
			pu[k] = pu[k - 1];
			pw[k] = pw[k - 1];
		}
		pt[j] = p->tau_s;
		pu[j] = p->bytes;
		pw[j] = p->wall_s;
		n++;
	}
	if (!n)
		return;
	imax = 0;
	for (i = 0; i < n; i++)
		if (pu[i] > pu[imax] || (pu[i] == pu[imax] && pt[i] < pt[imax]))
			imax = i;
	/* Upper hull over (0,0) and the points up to the highest one. */
	for (i = 0; i <= (uint32_t)imax; i++) {
		while (c->n >= 2) {
			double ax = c->t[c->n - 2], ay = c->u[c->n - 2];
			double bx = c->t[c->n - 1], by = c->u[c->n - 1];

			if ((bx - ax) * (pu[i] - ay) - (by - ay) * (pt[i] - ax) >= 0)
				c->n--;
			else
				break;
		}
		c->t[c->n] = pt[i];
		c->u[c->n] = pu[i];
		if (c->n == 1)
			c->wall1 = pw[i];
		c->n++;
	}
	c->max_u = pu[imax];
	/* Flat beyond the highest point: measured at a longer window, or the whole RAM. */
	for (i = imax + 1; i < n; i++)
		if (pt[i] >= 1.15 * pt[imax])
			c->saturated = 1;
	if (ram && c->max_u >= 0.9 * (double)ram)
		c->saturated = 1;
	if (c->saturated)
		c->wws = c->max_u;
	/* several windows, wide apart, on the initial line: the slope was measured */
	if (c->n >= 2) {
		double s0 = c->u[1] / c->t[1], tmin = 0, tmax = 0;

		for (i = 0; i < n; i++) {
			if (pu[i] < 0.9 * s0 * pt[i])
				continue;
			if (!tmin || pt[i] < tmin)
				tmin = pt[i];
			if (pt[i] > tmax)
				tmax = pt[i];
		}
		c->slope_measured = tmin > 0 && tmax >= 1.5 * tmin;
	}
	/* flat from the first vertex on: the initial slope is only bounded below */
	if (c->n == 2)
		c->knee_unresolved = c->saturated;
	else if (c->n > 2)
		c->knee_unresolved = (c->u[2] - c->u[1]) / (c->t[2] - c->t[1]) <
				     0.25 * c->u[1] / c->t[1];
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
	if (!c->knee_unresolved && (c->slope_measured || c->u[1] < 0.9 * rate * wall))
		return 0;
	c->t[1] *= KNEE_GUESS;
	return 1;
}

/* ---- replay of QEMU's pre-copy loop on a curve ------------------------- */


void lm_replay_run(const struct lm_curve *c, struct lm_replay *s)
{
	double t = 0, tau = s->tau0, left = s->pending - s->sent;
	uint32_t r;

	s->result = 0;
	s->eta_s = -1;
	s->final_pending = -1;
	s->rounds = 0;
	s->next_pending = -1;
	s->next_sync_s = -1;
	if (left < 0)
		left = 0;
	if (!(s->rate > 0) || !(s->thr > 0))
		return;
	for (r = 0; r < SIM_MAX_ROUNDS; r++) {
		double excess = left - s->thr, dt = 0, add;

		/* Sends a window at a time until pending is below thr, then syncs. */
		if (excess >= 0)
			dt = (floor(excess / (s->rate * s->quantum)) + 1) * s->quantum;
		left -= dt * s->rate;
		if (left < 0)
			left = 0;
		t += dt;
		tau += dt * s->tscale;
		if (t > s->horizon)
			return;
		add = lm_curve_eval(c, tau);
		if (s->wws > 0)
			add *= 1 - clampd(left / s->wws, 0, 1);
		left += add;
		tau = 0;
		s->rounds++;
		if (r == 0) {
			s->next_pending = left;
			s->next_sync_s = t;
		}
		if (left < s->thr) {
			s->result = 1;
			s->eta_s = t;
			s->final_pending = left;
			return;
		}
	}
	s->result = -1;
}

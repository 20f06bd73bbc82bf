/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A simulation of QEMU's pre-copy loop on a U(T) curve (model.h has the
 * overview): when it would switch over, after how many syncs, with how much
 * left for the stop phase. Pure arithmetic on the caller's data.
 */
#ifndef LM_PRECOPY_SIM_H
#define LM_PRECOPY_SIM_H

#include <stddef.h>
#include <stdint.h>
#include "core/curve.h"

/*
 * Bounds the simulation's work when rounds are many and short (dirty rate
 * near the link's): a run that syncs this often without switching over is
 * undecided (result -1), rounds on a plateau.
 */
#define LM_SIM_MAX_ROUNDS	20000

/* One run of QEMU's loop: inputs, then what came out. */
struct lm_precopy_sim {
	/* in */
	double pending;		/* bytes to send right after the last sync */
	double sent;		/* bytes sent since that sync */
	double tau0;		/* guest seconds since that sync */
	double rate;		/* bytes/s */
	double thr;		/* switchover threshold, bytes */
	double tscale;		/* guest seconds per wall second (1 - throttle) */
	double horizon;		/* wall seconds */
	double quantum;		/* seconds between QEMU's pending checks */
	double wws;		/* pages pending and rewritten add nothing; 0 = ignore */
	/* out */
	int result;		/* 1 switchover, 0 not within horizon, -1 undecided (LM_SIM_MAX_ROUNDS) */
	double eta_s;
	double final_pending;
	uint32_t rounds;
	double next_pending;	/* after the next sync */
	double next_sync_s;	/* when that sync comes, seconds from now */
};

/*
 * Sends a rate-limiter window at a time until pending is below thr, syncs
 * (pending += U(guest time since the last sync), less what was pending
 * already), and stops at the first sync that leaves less than thr, or at
 * the horizon.
 */
void lm_precopy_sim_run(const struct lm_curve *c, struct lm_precopy_sim *s);

/* "no switchover in H s", or "no switchover in N syncs" for an undecided run: for the reasons. */
const char *lm_precopy_sim_no_switchover(char *buf, size_t len, const struct lm_precopy_sim *s);

#endif /* LM_PRECOPY_SIM_H */

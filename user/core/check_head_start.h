/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A head start for the live estimator: the verdict an `lmtrace check` of the
 * VM gives for a migration that has just started, before its bulk pass has
 * measured anything (check_model.h on the check's windows, at the
 * link and limit in force now). Pure.
 */
#ifndef LM_CHECK_HEAD_START_H
#define LM_CHECK_HEAD_START_H

#include <stdint.h>
#include "core/published.h"
#include "core/obs.h"

struct lm_check_head_start_in {
	const struct lm_obs_head_start *check;
	double age_s;			/* the check was made this long before the start */
	double since_start_s;		/* the migration has run this long */
	uint64_t ram_bytes;		/* as the migration says; 0 = the check's */
	uint32_t page_size;
	double bandwidth_Bps;		/* the cap in force, else the rate measured so far */
	double downtime_limit_s;
	double switchover_Bps;		/* 0 unknown */
};

/* Fills the verdict and its numbers in est, marked predicted and from_check; -EINVAL if it cannot. */
int lm_check_head_start_estimate(const struct lm_check_head_start_in *in, struct lm_estimate *est);

#endif /* LM_CHECK_HEAD_START_H */

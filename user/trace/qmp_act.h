/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * --act --apply: the QMP commands behind each decided action, and giving
 * back what they changed. Runs on the QMP watch thread (the one connection
 * QEMU allows per socket). QEMU 7.2 has no command that sets the vCPU
 * throttle: with the auto-converge capability on (it cannot be switched on
 * during a migration), cpu-throttle-initial = max-cpu-throttle = p and
 * cpu-throttle-increment 99 make QEMU's next trigger land on p from no
 * throttle or any other one, and keep its own steps from going past p.
 */
#ifndef LM_QMP_ACT_H
#define LM_QMP_ACT_H

#include <stddef.h>
#include <stdint.h>
#include "core/act_policy.h"
#include "core/obs.h"

struct lm_qmp;

/* What lmtrace changed, with QEMU's values before it, for the release. */
/* A release's reason parts (what was left, what failed), before the by-hand command. */
#define LM_QMP_ACT_WHY_PART	192

struct lm_qmp_act_saved {
	int throttle_saved, downtime_saved;
	int64_t initial, increment, max_throttle;	/* cpu-throttle-* before lmtrace */
	int64_t downtime_limit_ms;
	/* what lmtrace last set (0: not known): a release restores a group only
	 * while QEMU still holds it, never over a change made since by someone else */
	int64_t set_throttle_pct, set_downtime_ms;
};

/*
 * Carry d out. Fills *out (outcome, error, QEMU's values read back after it)
 * and, when it failed or was refused, why (QEMU's own error where it gave
 * one). A command that changes QEMU's state and got no answer in time is
 * LM_ACT_UNKNOWN (QEMU may still carry it out); a query that got none is
 * LM_ACT_FAILED (nothing was changed).
 */
void lm_qmp_act_run(struct lm_qmp *q, struct lm_qmp_act_saved *sv, const struct lm_act_decision *d,
		    struct lm_obs_action *out, char *why, size_t len);

#endif /* LM_QMP_ACT_H */

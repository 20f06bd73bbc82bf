/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Before a migration starts: from a few dirty-logging windows measured on
 * the running guest (QEMU's calc-dirty-rate, counted exactly by lmtrace),
 * whether a migration over a given link with a given downtime limit would
 * converge, how long it would take, and what would make it converge. The
 * model is the live estimator's (model.h, curve.h, precopy_sim.h). Pure and
 * deterministic: same windows in, same answer out.
 */
#ifndef LM_CHECK_MODEL_H
#define LM_CHECK_MODEL_H

#include <stdint.h>
#include "core/published.h"

#define LM_CHECK_MAX_WINDOWS	8	/* windows one check measures, at most */
#define LM_CHECK_MAX_VMS		64	/* VMs one table checks */

/* One measured window: unique bytes the guest dirtied in window_s seconds (no throttle). */
struct lm_check_model_window {
	double window_s;
	double bytes;
};

struct lm_check_model_input {
	struct lm_check_model_window win[LM_CHECK_MAX_WINDOWS];
	int nwin;
	uint64_t ram_bytes;		/* guest RAM */
	uint64_t resident_bytes;	/* RAM the guest has touched: what the bulk pass sends in full; 0 = all */
	double bandwidth_Bps;		/* the migration's rate (link or max-bandwidth) */
	double downtime_limit_s;
	double switchover_Bps;		/* stop-phase rate; 0 = bandwidth, downtime then a bound */
};

struct lm_check_model_result {
	enum lm_verdict verdict;
	double confidence;
	char reason[LM_REASON_MAX];
	double total_s;			/* migrate to switchover; <0 none within the horizon */
	double downtime_ms;		/* <0 unknown */
	int downtime_is_bound;
	double bulk_s;			/* the first pass over RAM */
	uint32_t syncs;			/* dirty-bitmap syncs, the initial one included (QEMU's dirty-sync-count) */
	double horizon_s;		/* not-converging: no switchover within it even in the best case */
	double throttle_pct;		/* smallest vCPU throttle that converges at this bandwidth; 0 none needed, <0 none does */
	double min_bandwidth_Bps;	/* smallest bandwidth that converges with no throttle; <0 none found */
	uint64_t wws_bytes;		/* writable working set; 0 unknown */
	int wws_is_lower_bound;		/* U(T) still rising at the longest window */
	double short_dirty_rate_Bps;	/* slope of U(T) at the shortest window */
	double ratio;			/* that rate / bandwidth */
	double longest_window_s;	/* beyond it U(T) is extrapolated */
};

/* 0, or -EINVAL when the input cannot give an answer (no window, no RAM, no bandwidth). */
int lm_check_model_run(const struct lm_check_model_input *in, struct lm_check_model_result *out);

/*
 * n migrations at once over one link of bandwidth_Bps, each given an equal
 * share (as a per-migration cap does: Nova's live_migration_bandwidth,
 * libvirt's --bandwidth): each VM's check at bandwidth / n. Writes n
 * results; returns 1 if every one is converging, else 0.
 */
int lm_check_model_shared(const struct lm_check_model_input *in, int n, double bandwidth_Bps,
		       struct lm_check_model_result *out);

#endif /* LM_CHECK_MODEL_H */

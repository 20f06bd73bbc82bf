// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Names and units every output shares (units.h). */
#include <stdio.h>
#include "core/units.h"

const char *lm_fmt_bytes(char *buf, size_t len, double v)
{
	if (v >= 10 * LM_GiB)
		snprintf(buf, len, "%.1f GiB", v / LM_GiB);
	else if (v >= 10 * LM_MiB)
		snprintf(buf, len, "%.0f MiB", v / LM_MiB);
	else if (v >= LM_MiB)
		snprintf(buf, len, "%.1f MiB", v / LM_MiB);
	else
		snprintf(buf, len, "%.0f KiB", v / LM_KiB);
	return buf;
}

double lm_dirty_rate_Bps(const struct lm_obs_dirty_rate *d, uint64_t page_size)
{
	if (!d->window_ns)
		return -1;
	return (double)d->dirty_pages * (double)page_size / (d->window_ns / 1e9);
}

const char *lm_phase_name(uint32_t phase)
{
	switch (phase) {
	case LM_PHASE_BULK:
	case LM_PHASE_ITERATIVE:	return "precopy";	/* the first pass, then the rounds */
	case LM_PHASE_SWITCHOVER:	return "stop-and-copy";
	case LM_PHASE_POSTCOPY:		return "postcopy";
	case LM_PHASE_ENDED:		return "ended";
	default:			return "idle";
	}
}

const char *lm_verdict_name(enum lm_verdict v)
{
	switch (v) {
	case LM_VERDICT_CONVERGING:	return "converging";
	case LM_VERDICT_MARGINAL:	return "marginal";
	case LM_VERDICT_NOT_CONVERGING:	return "not-converging";
	default:			return "unknown";
	}
}

const char *lm_source_name(uint32_t source)
{
	switch (source) {
	case LM_SRC_BITMAP: return "bitmap";
	case LM_SRC_RING: return "dirty-ring";
	case LM_SRC_FENTRY: return "bitmap+fentry";
	case LM_SRC_KPROBE: return "bitmap+kprobe";
	default: return "unknown";
	}
}

const char *lm_end_reason_name(uint32_t reason)
{
	switch (reason) {
	case LM_END_CANCELLED: return "cancelled";
	case LM_END_COMPLETED: return "completed";
	case LM_END_PROC_EXIT: return "process-exited";
	case LM_END_TRACE_STOP: return "trace-stopped";
	default: return "unknown";
	}
}

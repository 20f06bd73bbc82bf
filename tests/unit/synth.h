/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A model pre-copy migration, as the observations lmtrace's tracer emits:
 * START, round 1 (all RAM), a tick per second with cumulative bytes, one
 * ROUND per sync with the unique pages dirtied since the last one,
 * U(T) = min(dirty_Bps x T, wws), and END when
 * the pending data fits in rate x downtime (or after max_s). Used to drive
 * the output sinks with plausible numbers; the estimator itself is tested
 * against real migrations elsewhere.
 */
#ifndef LM_TEST_SYNTH_H
#define LM_TEST_SYNTH_H

#include <string.h>
#include "core/obs.h"

struct synth {
	uint32_t pid;
	uint64_t t0_ns;
	double ram, rate_Bps, dirty_Bps, wws, downtime_s, max_s;
};

typedef void (*synth_emit_fn)(void *ctx, const struct lm_obs *o);

static inline void synth_run(const struct synth *s, synth_emit_fn emit, void *ctx)
{
	const double page = 4096;
	double t = 0, next_tick = 1, sync_at, last_sync = 0, pending = s->ram;
	uint64_t tx_total = 0, tx_at_sync = 0;
	uint32_t round = 1, rounds = 1;
	struct lm_obs o;

#define OBS(k, when) (memset(&o, 0, sizeof(o)), o.kind = (k), o.pid = s->pid, \
		      o.ts_ns = s->t0_ns + (uint64_t)((when) * 1e9))
	OBS(LM_OBS_START, 0);
	o.start.ram_bytes = (uint64_t)s->ram;
	emit(ctx, &o);
	OBS(LM_OBS_ROUND, 0.002);
	o.round.round = 1;
	o.round.dirty_pages = (uint64_t)(s->ram / page);
	o.round.ram_bytes = (uint64_t)s->ram;
	emit(ctx, &o);
	last_sync = 0.002;
	sync_at = last_sync + pending / s->rate_Bps;
	for (;;) {
		double step = sync_at < next_tick ? sync_at : next_tick;

		if (step > s->max_s) {
			OBS(LM_OBS_END, s->max_s);
			o.end.reason = LM_END_TRACE_STOP;
			emit(ctx, &o);
			return;
		}
		tx_total += (uint64_t)((step - t) * s->rate_Bps);
		t = step;
		if (t == next_tick) {
			OBS(LM_OBS_TICK, t);
			o.tick.interval_ns = 1000000000;
			o.tick.tx_total = tx_total;
			o.tick.rounds = rounds;
			o.tick.source = LM_SRC_BITMAP;
			o.tick.srtt_us = 80;
			o.tick.cwnd = 10;
			emit(ctx, &o);
			next_tick += 1;
		}
		if (t == sync_at) {
			double dur = t - last_sync;
			double dirty = dur * s->dirty_Bps < s->wws ? dur * s->dirty_Bps : s->wws;

			OBS(LM_OBS_ROUND, t);
			o.round.round = ++round;
			o.round.dirty_pages = (uint64_t)(dirty / page);
			o.round.duration_ns = (uint64_t)(dur * 1e9);
			o.round.tx_bytes = tx_total - tx_at_sync;
			o.round.tx_total = tx_total;
			o.round.ram_bytes = (uint64_t)s->ram;
			o.round.sync_ns = 9000;
			emit(ctx, &o);
			rounds++;
			tx_at_sync = tx_total;
			last_sync = t;
			pending = dirty;
			if (pending <= s->rate_Bps * s->downtime_s) {
				/* switchover: the VM stops, the rest goes out */
				double end = t + pending / s->rate_Bps + 0.01;

				OBS(LM_OBS_ROUND, t + 0.001);
				o.round.round = ++round;
				o.round.flags = LM_ROUND_FINAL;
				o.round.duration_ns = 1000000;
				o.round.tx_total = tx_total;
				o.round.ram_bytes = (uint64_t)s->ram;
				emit(ctx, &o);
				OBS(LM_OBS_END, end);
				o.end.reason = LM_END_COMPLETED;
				emit(ctx, &o);
				return;
			}
			sync_at = t + pending / s->rate_Bps;
		}
	}
#undef OBS
}

#endif /* LM_TEST_SYNTH_H */

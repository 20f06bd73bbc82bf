/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A page-level model of QEMU's pre-copy, to make synthetic traces with known
 * outcomes for the estimator tests. It is deliberately a different program
 * from the estimator's own simulation (lm_precopy_sim_run(), which runs on
 * the U(T) curve): real bitmaps of 4 KiB pages, a guest that
 * writes pages (sweeping or at random over its working set), QEMU's
 * migration bitmap, the bulk pass in address order with cheap zero pages, a
 * 100 ms rate-limiter window (50 ms uncapped), the pending check once per
 * window, the threshold from the bandwidth measured in the last window,
 * sync + completion exactly as migration_iteration_run()/ram_save_pending()
 * do, the stop phase at full link speed, and QEMU's stock auto-converge.
 * What it emits is what lmtrace would record: START, PARAMS, ROUND (bitmap
 * popcount since the previous sync), TICK every second, END.
 */
#ifndef TEST_ESTIMATOR_SIM_H
#define TEST_ESTIMATOR_SIM_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/obs.h"

enum { PAT_SWEEP = 0, PAT_RANDOM = 1 };

struct scen {
	const char *name;
	double ram_mib, data_mib;	/* RAM; the low data_mib hold non-zero data */
	double wws_mib;			/* pages the guest writes (from offset 0) */
	double rate_mibps;		/* guest write rate at 0 % throttle (CPU-bound writer) */
	int pattern;
	double on_s, off_s;		/* bursty writer: on_s writing, off_s idle; 0 = always */
	double cap_mibps;		/* max-bandwidth, 0 = none */
	double link_mibps;		/* link speed (stop phase, or uncapped) */
	double downtime_ms;
	double bw_at_s, bw_cap_mibps, bw_until_s; /* cap change in [at, until) (until 0 = for good) */
	double throttle_at_s;		/* throttle set by hand at this time */
	int throttle_pct;
	double max_s;			/* cancelled at this time if not done */
	int continuous;			/* emit dirty_events_total (write-fault counting) */
	int autoconverge;		/* QEMU's stock auto-converge */
	int apply_reco;			/* apply the estimator's throttle when it says not-converging */
	/* expectations */
	int expect_converge;
	int nc_by_round;		/* not-converging expected at or before this round */
	int eta_free;			/* outcome timing depends on bursts: ETA not asserted */
	int r2_verdict;			/* verdict expected right after round 2 (0 = not checked) */
};

#define SIM_PAGE	4096u
#define SIM_STEP_NS	10000000ull	/* 10 ms */
#define SIM_T0_NS	1764000000000000000ull
#define SIM_PID		4242

struct qsim;
typedef void (*qsim_cb)(void *ctx, const struct lm_obs *o, struct qsim *q);

struct qsim {
	const struct scen *sc;
	qsim_cb cb;
	void *ctx;
	uint32_t npages, wws_pages;
	uint8_t *kvm, *mig, *zero;
	uint64_t kvm_cnt, mig_cnt, cursor, sweep, rng, events;
	uint64_t t_ns, tx;
	double acc;
	int throttle;
	int stopped;
	uint32_t round;
	uint64_t sync_t_ns, tx_at_sync;
	/* auto-converge bookkeeping (migration_bitmap_sync) */
	uint64_t ac_t_ns, ac_tx, ac_dirty;
	int ac_cnt;
	/* results */
	int converged;
	double switchover_s, downtime_ms, final_pending;
	int throttle_steps;
};

static double qsim_now(const struct qsim *q)
{
	return q->t_ns / 1e9;
}

static void qsim_emit(struct qsim *q, struct lm_obs *o)
{
	o->pid = SIM_PID;
	o->ts_ns = SIM_T0_NS + q->t_ns;
	q->cb(q->ctx, o, q);
}

static void qsim_params(struct qsim *q)
{
	struct lm_obs o = { .kind = LM_OBS_PARAMS };

	o.params.downtime_limit_ms = (uint64_t)q->sc->downtime_ms;
	o.params.max_bandwidth = (uint64_t)(q->sc->cap_mibps * 1048576);
	o.params.ram_bytes = (uint64_t)q->npages * SIM_PAGE;
	o.params.throttle_pct = q->throttle;
	o.params.page_size = SIM_PAGE;
	qsim_emit(q, &o);
}

/* Set the vCPU throttle (as QMP would) and tell the estimator. */
static void qsim_set_throttle(struct qsim *q, int pct)
{
	if (pct > 99)
		pct = 99;
	if (pct == q->throttle)
		return;
	q->throttle = pct;
	q->throttle_steps++;
	qsim_params(q);
}

static double qsim_cap(const struct qsim *q)
{
	const struct scen *s = q->sc;
	double t = qsim_now(q);

	if (s->bw_at_s > 0 && t >= s->bw_at_s && (s->bw_until_s <= 0 || t < s->bw_until_s))
		return s->bw_cap_mibps * 1048576;
	return s->cap_mibps * 1048576;
}

static double qsim_rate(const struct qsim *q)
{
	double cap = qsim_cap(q), link = q->sc->link_mibps * 1048576;

	return cap > 0 && cap < link ? cap : link;
}

static void qsim_guest(struct qsim *q, double dt)
{
	const struct scen *s = q->sc;
	double t = qsim_now(q), n;

	if (q->stopped || s->rate_mibps <= 0)
		return;
	if (s->on_s > 0 && fmod(t, s->on_s + s->off_s) >= s->on_s)
		return;
	n = s->rate_mibps * 1048576 / SIM_PAGE * dt * (1 - q->throttle / 100.0) + q->acc;
	q->acc = n - floor(n);
	for (uint64_t i = 0; i < (uint64_t)n; i++) {
		uint32_t p;

		if (s->pattern == PAT_SWEEP) {
			p = q->sweep++ % q->wws_pages;
		} else {
			q->rng = q->rng * 6364136223846793005ull + 1442695040888963407ull;
			p = (uint32_t)((q->rng >> 33) % q->wws_pages);
		}
		q->zero[p] = 0;
		if (!q->kvm[p]) {
			q->kvm[p] = 1;
			q->kvm_cnt++;
			q->events++;
		}
	}
}

static uint64_t qsim_page_cost(const struct qsim *q, uint32_t p)
{
	return q->zero[p] ? 12 : SIM_PAGE + 8;
}

static uint64_t qsim_send(struct qsim *q, double budget)
{
	uint64_t sent = 0;

	while (budget > 0 && q->mig_cnt) {
		uint32_t p = q->cursor % q->npages;

		q->cursor = p + 1;
		if (!q->mig[p])
			continue;
		q->mig[p] = 0;
		q->mig_cnt--;
		sent += qsim_page_cost(q, p);
		budget -= qsim_page_cost(q, p);
	}
	q->tx += sent;
	return sent;
}

static void qsim_sync(struct qsim *q, uint32_t flags)
{
	struct lm_obs o = { .kind = LM_OBS_ROUND };
	uint64_t newly = 0;

	for (uint32_t p = 0; p < q->npages && q->kvm_cnt; p++) {
		if (!q->kvm[p])
			continue;
		if (!q->mig[p]) {
			q->mig[p] = 1;
			q->mig_cnt++;
			newly++;
		}
	}
	o.round.round = ++q->round;
	o.round.flags = flags;
	o.round.dirty_pages = q->round == 1 ? q->npages : q->kvm_cnt;
	o.round.duration_ns = q->round == 1 ? 0 : q->t_ns - q->sync_t_ns;
	o.round.tx_bytes = q->tx - q->tx_at_sync;
	o.round.tx_total = q->tx;
	o.round.ram_bytes = (uint64_t)q->npages * SIM_PAGE;
	o.round.sync_ns = 20000;
	memset(q->kvm, 0, q->npages);
	q->kvm_cnt = 0;
	q->sync_t_ns = q->t_ns;
	q->tx_at_sync = q->tx;
	q->ac_dirty += newly;
	qsim_emit(q, &o);
	/* migration_trigger_throttle(): periods longer than a second only */
	if (q->round > 1 && !(flags & LM_ROUND_FINAL) && q->t_ns > q->ac_t_ns + 1000000000ull) {
		uint64_t xfer = q->tx - q->ac_tx;

		if (q->sc->autoconverge && q->ac_dirty * SIM_PAGE > xfer / 2 && ++q->ac_cnt >= 2) {
			q->ac_cnt = 0;
			qsim_set_throttle(q, q->throttle ? q->throttle + 10 : 20);
		}
		q->ac_t_ns = q->t_ns;
		q->ac_tx = q->tx;
		q->ac_dirty = 0;
	}
}

/* Runs the scenario to completion or cancel; results in q. Returns 0 or -ENOMEM. */
static int qsim_run(struct qsim *q, const struct scen *sc, qsim_cb cb, void *ctx)
{
	uint64_t window_ns = sc->cap_mibps > 0 ? 100000000ull : 50000000ull;
	uint64_t next_tick = 1000000000ull, win_bytes = 0, step = 0;
	uint32_t data_pages;
	double thr;
	struct lm_obs o;

	memset(q, 0, sizeof(*q));
	q->sc = sc;
	q->cb = cb;
	q->ctx = ctx;
	q->npages = (uint32_t)(sc->ram_mib * 256);
	q->wws_pages = (uint32_t)(sc->wws_mib * 256);
	if (!q->wws_pages)
		q->wws_pages = 1;
	data_pages = (uint32_t)(sc->data_mib * 256);
	q->kvm = calloc(q->npages, 1);
	q->mig = calloc(q->npages, 1);
	q->zero = calloc(q->npages, 1);
	if (!q->kvm || !q->mig || !q->zero)
		return -12;
	for (uint32_t p = data_pages; p < q->npages; p++)
		q->zero[p] = 1;
	q->rng = 12345;
	q->switchover_s = -1;
	q->downtime_ms = -1;

	memset(&o, 0, sizeof(o));
	o.kind = LM_OBS_START;
	o.start.ram_bytes = (uint64_t)q->npages * SIM_PAGE;
	qsim_emit(q, &o);
	qsim_params(q);
	q->throttle_steps = 0;
	q->t_ns = 1000000;
	/* round 1: KVM_DIRTY_LOG_INITIALLY_SET, everything to send */
	memset(q->mig, 1, q->npages);
	q->mig_cnt = q->npages;
	qsim_sync(q, 0);
	q->ac_t_ns = q->t_ns;
	thr = qsim_rate(q) * sc->downtime_ms / 1e3;

	while (qsim_now(q) < sc->max_s) {
		q->t_ns += SIM_STEP_NS;
		step++;
		if (sc->throttle_at_s > 0 && qsim_now(q) >= sc->throttle_at_s &&
		    q->throttle < sc->throttle_pct)
			qsim_set_throttle(q, sc->throttle_pct);
		qsim_guest(q, SIM_STEP_NS / 1e9);
		if (step % (window_ns / SIM_STEP_NS) == 0) {
			/* migration_update_counters(): bandwidth of the last window */
			if (win_bytes)
				thr = win_bytes / (window_ns / 1e9) * sc->downtime_ms / 1e3;
			win_bytes = 0;
			if (q->mig_cnt * SIM_PAGE < thr) {
				qsim_sync(q, 0);
				if (q->mig_cnt * SIM_PAGE < thr) {
					uint64_t bytes = 330000;

					for (uint32_t p = 0; p < q->npages; p++)
						if (q->mig[p])
							bytes += qsim_page_cost(q, p);
					q->stopped = 1;
					q->converged = 1;
					q->switchover_s = qsim_now(q);
					q->final_pending = (double)q->mig_cnt * SIM_PAGE;
					q->downtime_ms = bytes / (sc->link_mibps * 1048576) * 1e3 + 3;
					q->t_ns += 1000000;
					qsim_sync(q, LM_ROUND_FINAL);
					q->tx += bytes;
					q->t_ns += (uint64_t)((q->downtime_ms - 1) * 1e6);
					memset(&o, 0, sizeof(o));
					o.kind = LM_OBS_END;
					o.end.reason = LM_END_COMPLETED;
					qsim_emit(q, &o);
					goto out;
				}
			}
		}
		win_bytes += qsim_send(q, qsim_rate(q) * SIM_STEP_NS / 1e9);
		if (q->t_ns >= next_tick) {
			memset(&o, 0, sizeof(o));
			o.kind = LM_OBS_TICK;
			o.tick.interval_ns = 1000000000ull;
			o.tick.tx_total = q->tx;
			o.tick.dirty_events_total = sc->continuous ? q->events : 0;
			o.tick.rounds = q->round;
			o.tick.source = sc->continuous ? LM_SRC_FENTRY : LM_SRC_BITMAP;
			qsim_emit(q, &o);
			next_tick += 1000000000ull;
		}
	}
	memset(&o, 0, sizeof(o));
	o.kind = LM_OBS_END;
	o.end.reason = LM_END_CANCELLED;
	qsim_emit(q, &o);
out:
	free(q->kvm);
	free(q->mig);
	free(q->zero);
	q->kvm = q->mig = q->zero = NULL;
	return 0;
}

#endif /* TEST_ESTIMATOR_SIM_H */

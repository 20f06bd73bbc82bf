// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Estimator unit tests on hand-written observation streams: the edge cases
 * (tiny guest done at round 2, FINAL rounds, rounds of duration 0, late
 * attach, zero config), the geometric model against its closed form, the
 * throttle's guest clock, feed()'s return value, determinism, and garbage
 * in -> finite, bounded numbers out.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "core/estimator.h"
#include "core/evidence.h"
#include "core/units.h"
#include "unit.h"

#define MiB (1024.0 * 1024.0)
#define T0 1764000000000000000ull

struct feeder {
	struct lm_estimator e;
	uint64_t tx;
	uint32_t round;
	double last_sync;
	int changes, changed_returns;
};

static int feed(struct feeder *f, struct lm_obs *o, double t)
{
	enum lm_verdict before = lm_est_current(&f->e)->verdict;
	int ret;

	o->pid = 7;
	o->ts_ns = T0 + (uint64_t)llround(t * 1e9);
	ret = lm_est_feed(&f->e, o);
	f->changed_returns += ret;
	f->changes += lm_est_current(&f->e)->verdict != before;
	return ret;
}

static void start(struct feeder *f, double ram_mib, double cap_mibps, struct lm_est_config *cfg)
{
	struct lm_obs o = { .kind = LM_OBS_START };
	struct lm_obs p = { .kind = LM_OBS_PARAMS };

	memset(f, 0, sizeof(*f));
	lm_est_init(&f->e, cfg);
	o.start.ram_bytes = (uint64_t)(ram_mib * MiB);
	feed(f, &o, 0);
	p.params.downtime_limit_ms = 300;
	p.params.max_bandwidth = (uint64_t)(cap_mibps * MiB);
	p.params.page_size = 4096;
	feed(f, &p, 0);
}

static void tick(struct feeder *f, double t, double rate_mibps, uint64_t events)
{
	struct lm_obs o = { .kind = LM_OBS_TICK };

	f->tx += (uint64_t)(rate_mibps * MiB);
	o.tick.interval_ns = 1000000000ull;
	o.tick.tx_total = f->tx;
	o.tick.dirty_events_total = events;
	o.tick.source = events ? LM_SRC_FENTRY : LM_SRC_BITMAP;
	feed(f, &o, t);
}

/* A sync at t: dirty_mib unique MiB since the previous one, tx_mib sent meanwhile. */
static int sync_round(struct feeder *f, double t, double dirty_mib, double tx_mib, uint32_t flags,
		      int zero_duration)
{
	struct lm_obs o = { .kind = LM_OBS_ROUND };

	o.round.round = ++f->round;
	o.round.flags = flags;
	o.round.dirty_pages = (uint64_t)(dirty_mib * 256);
	o.round.duration_ns = f->round == 1 || zero_duration ? 0 :
			      (uint64_t)llround((t - f->last_sync) * 1e9);
	o.round.tx_bytes = (uint64_t)(tx_mib * MiB);
	f->tx += o.round.tx_bytes;
	o.round.tx_total = f->tx;
	f->last_sync = t;
	return feed(f, &o, t);
}

static void end(struct feeder *f, double t, uint32_t reason)
{
	struct lm_obs o = { .kind = LM_OBS_END };

	o.end.reason = reason;
	feed(f, &o, t);
}

static int estimate_sane(const struct lm_estimate *e)
{
	const double v[] = { e->confidence, e->eta_s, e->downtime_ms, e->throttle_pct,
			     e->dirty_limit_Bps, e->dirty_rate_Bps, e->tx_rate_Bps, e->ratio,
			     e->eta_min_s, e->total_s, e->short_dirty_rate_Bps, e->threshold_bytes,
			     e->horizon_s, e->measured_downtime_ms };
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (!isfinite(v[i]))
			return 0;
	return e->confidence >= 0 && e->confidence <= 1 && memchr(e->reason, 0, LM_REASON_MAX) &&
	       e->verdict <= LM_VERDICT_NOT_CONVERGING && e->throttle_pct <= 99 &&
	       e->curve_n <= LM_EST_CURVE_MAX;
}

static void test_names_and_config(void)
{
	struct lm_est_config cfg, zero;
	struct lm_estimator e;

	ASSERT_STREQ(lm_verdict_name(LM_VERDICT_UNKNOWN), "unknown", "name unknown");
	ASSERT_STREQ(lm_verdict_name(LM_VERDICT_CONVERGING), "converging", "name converging");
	ASSERT_STREQ(lm_verdict_name(LM_VERDICT_MARGINAL), "marginal", "name marginal");
	ASSERT_STREQ(lm_verdict_name(LM_VERDICT_NOT_CONVERGING), "not-converging", "name nc");
	lm_est_config_default(&cfg);
	ASSERT_NEAR(cfg.downtime_limit_s, 0.3, 0, 1e-12, "default downtime");
	ASSERT_EQ(cfg.page_size, 4096, "default page size");
	/* a zero config (old recording header) still works */
	memset(&zero, 0, sizeof(zero));
	lm_est_init(&e, &zero);
	ASSERT_NEAR(e.cfg.downtime_limit_s, 0.3, 0, 1e-12, "zero config downtime");
	ASSERT_EQ(e.cfg.page_size, 4096, "zero config page");
	ASSERT_EQ(lm_est_current(&e)->verdict, LM_VERDICT_UNKNOWN, "initial verdict");
	ASSERT_TRUE(estimate_sane(lm_est_current(&e)), "initial estimate sane");
	lm_est_init(&e, NULL);
	ASSERT_NEAR(e.cfg.downtime_limit_s, 0.3, 0, 1e-12, "NULL config");
}

/* 32 MiB guest, 1 MiB/s dirtier: the first sync after the bulk pass switches over. */
static void test_tiny_final_end(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);

	start(&f, 32, 32, NULL);
	sync_round(&f, 0.001, 32, 0, 0, 0);
	ASSERT_EQ(e->phase, LM_PHASE_BULK, "tiny: bulk phase");
	ASSERT_EQ(e->verdict, LM_VERDICT_UNKNOWN, "tiny: unknown during the bulk pass");
	sync_round(&f, 0.8, 0.8, 25.6, 0, 0);
	ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, "tiny: converging at round 2");
	ASSERT_TRUE(e->eta_s >= 0 && e->eta_s < 0.2, "tiny: switchover now");
	ASSERT_TRUE(e->downtime_ms > 0 && e->downtime_ms < 300, "tiny: downtime below the limit");
	ASSERT_EQ(e->downtime_is_bound, 1, "tiny: capped rate, downtime is a bound");
	sync_round(&f, 0.801, 0, 0, LM_ROUND_FINAL, 0);
	ASSERT_EQ(e->phase, LM_PHASE_SWITCHOVER, "tiny: FINAL round -> switchover");
	ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, "tiny: converged");
	ASSERT_NEAR(e->total_s, 0.801, 0, 1e-6, "tiny: total = time of the completion sync");
	ASSERT_EQ(e->rounds, 3, "tiny: rounds");
	end(&f, 0.811, LM_END_COMPLETED);
	ASSERT_EQ(e->migrating, 0, "tiny: ended");
	ASSERT_NEAR(e->measured_downtime_ms, 10, 0, 1e-3, "tiny: measured downtime");
	ASSERT_EQ(f.changes, f.changed_returns, "tiny: feed() returns 1 exactly on changes");
	ASSERT_TRUE(estimate_sane(e), "tiny: sane");
}

/* Geometric, lambda = 0.5, checked against the closed form of the same loop. */
static void test_geometric_closed_form(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);
	double R = 32 * MiB, thr = R * 0.3, pend = 128 * MiB, t = 0, eta;
	int i, n = 0;

	start(&f, 256, 32, NULL);
	sync_round(&f, 0.001, 256, 0, 0, 0);
	for (i = 1; i <= 8; i++)
		tick(&f, i, 32, 0);
	/* bulk: 256 MiB in 8 s (minus what was left under the threshold), 128 MiB dirtied */
	f.tx -= 8 * 32 * MiB;
	sync_round(&f, 8.0, 128, 256 - 9.6, 0, 0);
	ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, "geometric 0.5: converging at round 2");
	/* the loop: send down to thr, the guest dirties half of what was sent */
	while (pend >= thr && n < 100) {
		double dt = (pend - thr) / R;

		t += dt;
		pend = thr + 0.5 * R * dt;
		n++;
		if (pend - thr < 0.5 * R * 0.1)	/* within one 100 ms window */
			break;
	}
	eta = t;
	ASSERT_NEAR(e->eta_s, eta, 0.15, 0.3, "geometric 0.5: eta vs closed form");
	ASSERT_NEAR(e->short_dirty_rate_Bps, 128 * MiB / 8.0, 0.01, 0, "geometric 0.5: slope");
	ASSERT_EQ(e->throttle_pct, 0, "geometric 0.5: no throttle needed");
	ASSERT_EQ(e->wws_is_lower_bound, 1, "geometric 0.5: WWS only bounded");
	ASSERT_TRUE(e->ratio > 0.45 && e->ratio < 0.55, "geometric 0.5: ratio");
}

/* The whole RAM dirtied during the bulk pass: saturated, stuck at round 2. */
static void test_whole_ram_dirtied(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);
	int i, changed;

	start(&f, 256, 32, NULL);
	sync_round(&f, 0.001, 256, 0, 0, 0);
	for (i = 1; i <= 7; i++)
		tick(&f, i, 32, 0);
	ASSERT_EQ(e->verdict, LM_VERDICT_UNKNOWN, "whole RAM: unknown during the bulk pass");
	ASSERT_TRUE(e->eta_min_s > 0 || e->remaining_bytes == 0, "whole RAM: bulk eta bound");
	/* the pass ends when what is left fits in 300 ms: 246.4 MiB in 7.7 s */
	f.tx -= 7 * 32 * MiB;
	changed = sync_round(&f, 7.7, 256, 256 - 9.6, 0, 0);
	ASSERT_EQ(changed, 1, "whole RAM: verdict changed at round 2");
	ASSERT_EQ(e->verdict, LM_VERDICT_NOT_CONVERGING, "whole RAM: not-converging at round 2");
	ASSERT_EQ(e->verdict_round, 2, "whole RAM: verdict round");
	ASSERT_EQ(e->wws_bytes, (uint64_t)(256 * MiB), "whole RAM: WWS = RAM");
	ASSERT_TRUE(e->throttle_pct > 0 && e->throttle_pct < 99, "whole RAM: a throttle");
	ASSERT_TRUE(e->dirty_limit_Bps > 0 && e->dirty_limit_Bps < 32 * MiB, "whole RAM: dirty limit below the rate");
	ASSERT_TRUE(e->eta_s < 0, "whole RAM: no eta");
	ASSERT_TRUE(strstr(e->reason, "allows") != NULL, "whole RAM: reason has the threshold");
	/* the rate in the tables' unit: the 32 MiB/s cap, not 33.6 MB/s */
	ASSERT_TRUE(strstr(e->reason, "300 ms at 32.0 MiB/s allows 9.6 MiB") != NULL,
		    "whole RAM: reason rate in MiB/s");
}

/* Rounds of duration 0 are syncs but not curve points; nothing becomes NaN. */
static void test_zero_duration_rounds(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);
	int i;

	start(&f, 256, 32, NULL);
	sync_round(&f, 0.001, 256, 0, 0, 0);
	for (i = 1; i <= 8; i++)
		tick(&f, i, 32, 0);
	f.tx -= 8 * 32 * MiB;
	sync_round(&f, 8.0, 16, 246, 0, 0);
	sync_round(&f, 8.0, 3, 0, 0, 1);
	ASSERT_EQ(f.e.npts, 1, "zero duration: not a curve point");
	ASSERT_TRUE(estimate_sane(e), "zero duration: sane");
	ASSERT_TRUE(e->verdict != LM_VERDICT_NOT_CONVERGING, "zero duration: no alarm");
	sync_round(&f, 8.2, 0.5, 6.4, 0, 0);
	ASSERT_EQ(f.e.npts, 2, "next round is a point again");
	ASSERT_TRUE(estimate_sane(e), "after zero duration: sane");
}

/* PARAMS throttle: a round's window is stored in guest time, (1 - p) x wall. */
static void test_throttle_guest_clock(void)
{
	static struct feeder f;
	struct lm_obs p = { .kind = LM_OBS_PARAMS };
	const struct lm_estimate *e = lm_est_current(&f.e);
	int i;

	start(&f, 512, 32, NULL);
	sync_round(&f, 0.001, 512, 0, 0, 0);
	for (i = 1; i <= 16; i++)
		tick(&f, i, 32, 0);
	f.tx -= 16 * 32 * MiB;
	sync_round(&f, 16.0, 256, 502, 0, 0);
	ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, "throttle: lambda 0.5 converging");
	p.params.throttle_pct = 50;
	feed(&f, &p, 16.0);
	for (i = 17; i <= 24; i++)
		tick(&f, i, 32, 0);
	f.tx -= 8 * 32 * MiB;
	sync_round(&f, 24.0, 64, 246, 0, 0);
	ASSERT_NEAR(f.e.pts[1].tau_s, 4.0, 0, 1e-6, "throttle: 8 s wall at 50% = 4 s guest");
	ASSERT_NEAR(f.e.pts[0].tau_s, 16.0 - 0.001, 0, 1e-6, "throttle: unthrottled round in wall time");
}

/*
 * Seen on a real trace (QEMU's stock auto-converge): U(T) flat at the only
 * window length measured, then QEMU sets a 20 % throttle at the sync. The
 * slope measured before it is still only bounded below: the recommendation
 * must not fall because of a throttle that has not run yet.
 */
static void test_throttle_before_evidence(void)
{
	static struct feeder f;
	struct lm_obs p = { .kind = LM_OBS_PARAMS };
	const struct lm_estimate *e = lm_est_current(&f.e);
	double before;
	int i;

	start(&f, 336, 32, NULL);
	sync_round(&f, 0.001, 336, 0, 0, 0);
	for (i = 1; i <= 8; i++)
		tick(&f, i, 32, 0);
	f.tx -= 8 * 32 * MiB;
	sync_round(&f, 8.0, 256, 256, 0, 0);
	sync_round(&f, 15.8, 256, 250, 0, 0);
	ASSERT_EQ(e->verdict, LM_VERDICT_NOT_CONVERGING, "stuck before the throttle");
	before = e->throttle_pct;
	ASSERT_TRUE(before >= 50, "stuck: a real throttle recommended");
	p.params.downtime_limit_ms = 300;
	p.params.max_bandwidth = (uint64_t)(32 * MiB);
	p.params.page_size = 4096;
	p.params.throttle_pct = 20;
	feed(&f, &p, 15.8);
	ASSERT_TRUE(e->throttle_pct >= before - 1, "QEMU's 20 % does not lower the recommendation");
	/* a throttle at the recommendation, not run yet: a verdict said as predicted, firm, with its ETA */
	p.params.throttle_pct = (uint32_t)ceil(e->throttle_pct);
	feed(&f, &p, 16.0);
	ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, "throttle just applied: converging predicted");
	ASSERT_EQ(e->predicted, 1, "throttle just applied: marked predicted");
	ASSERT_TRUE(!strncmp(e->reason, "predicted", 9), "throttle just applied: the reason says predicted");
	ASSERT_EQ(e->changed_because, LM_CHANGE_PARAMETERS, "throttle just applied: changed because of it");
	ASSERT_TRUE(e->confidence < 0.6, "throttle just applied: a prediction is not sure");
	ASSERT_TRUE(e->eta_s > 0, "throttle just applied: what it would give");
	/* a round under it that did shrink: now it is evidence */
	sync_round(&f, 23.8, 60, 250, 0, 0);
	ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, "round under the throttle shrank: converging");
	ASSERT_EQ(e->predicted, 0, "round under the throttle: measured, no longer predicted");
}

/*
 * Uncapped on loopback (real trace): remaining fell below the threshold
 * mid bulk pass and round 2 came after 0.11 s, before any tick measured a
 * rate. What was not sent yet is still pending: it goes in the stop phase.
 */
static void test_round_before_any_rate(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);

	start(&f, 336, 0, NULL);
	sync_round(&f, 0.001, 336, 0, 0, 0);
	sync_round(&f, 0.115, 0.35, 126, 0, 0);
	ASSERT_TRUE(e->remaining_bytes > 150 * MiB, "round 2 mid bulk: the unsent part is pending");
	sync_round(&f, 0.116, 0, 0, LM_ROUND_FINAL, 0);
	ASSERT_TRUE(f.e.final_pending > 150 * MiB, "stop phase: the unsent part");
}

/*
 * Real trace, 90 % throttle: nothing sent after the last iterative sync, the
 * completion sync 90 ms later (stopping the vCPUs), END 5 ms after it. QEMU
 * said 95 ms of downtime: the stop counts.
 */
static void test_downtime_includes_vcpu_stop(void)
{
	static struct feeder f;
	struct lm_obs o = { .kind = LM_OBS_ROUND };
	const struct lm_estimate *e = lm_est_current(&f.e);

	start(&f, 32, 32, NULL);
	sync_round(&f, 0.001, 32, 0, 0, 0);
	sync_round(&f, 0.8, 0.8, 25.6, 0, 0);
	o.round.round = ++f.round;
	o.round.flags = LM_ROUND_FINAL;
	o.round.duration_ns = 90000000ull;
	o.round.tx_total = f.tx;
	o.round.sync_ns = 70000;
	feed(&f, &o, 0.890);
	end(&f, 0.895, LM_END_COMPLETED);
	ASSERT_NEAR(e->measured_downtime_ms, 95, 0, 1e-3, "vCPU stop: downtime from the last iterative sync");
	ASSERT_NEAR(e->total_s, 0.890, 0, 1e-6, "vCPU stop: total still to the completion sync");
}

/* Real trace: completed, but the completion sync came unflagged. */
static void test_completed_without_final_flag(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);

	start(&f, 32, 32, NULL);
	sync_round(&f, 0.001, 32, 0, 0, 0);
	sync_round(&f, 0.8, 0.8, 25.6, 0, 0);
	sync_round(&f, 0.8013, 0, 0, 0, 0);
	end(&f, 0.8077, LM_END_COMPLETED);
	ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, "unflagged completion: converged");
	ASSERT_NEAR(e->total_s, 0.8013, 0, 1e-6, "unflagged completion: total to the last sync");
	ASSERT_NEAR(e->measured_downtime_ms, 6.4, 0, 1e-3, "unflagged completion: downtime from it");
	ASSERT_TRUE(strncmp(e->reason, "switched over", 13) == 0, "unflagged completion: says it switched over");
}

/*
 * Postcopy seen from the kernel: a sync 4 s into the bulk pass, then no more
 * syncs and the stream uncapped (390 MiB in a second on a 32 MiB/s cap).
 * Stuck pre-copy rounds at the cap, however big, are not postcopy.
 */
/* 256 MiB at a 32 MiB/s cap: the bulk pass, ticks, and the sync that ends it at 8.1 s. */
static void bulk_pass_at_cap(struct feeder *f)
{
	int i;

	start(f, 256, 32, NULL);
	sync_round(f, 0.001, 256, 0, 0, 0);
	for (i = 1; i <= 8; i++)
		tick(f, i, 32, 0);
	sync_round(f, 8.1, 250, 3.2, 0, 0);
}

static void test_postcopy_from_kernel(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);
	enum lm_verdict before;
	int i;

	bulk_pass_at_cap(&f);
	for (i = 9; i <= 16; i++)
		tick(&f, i, 32, 0);
	sync_round(&f, 16.1, 250, 3.2, 0, 0);
	ASSERT_TRUE(e->phase != LM_PHASE_POSTCOPY, "stuck rounds at the cap: pre-copy");
	before = e->verdict;
	tick(&f, 17, 390, 0);
	ASSERT_EQ(e->phase, LM_PHASE_POSTCOPY, "no sync, the stream uncapped: postcopy");
	ASSERT_EQ(e->phase_from_qmp, 0, "said by the kernel's signs");
	ASSERT_NEAR(e->postcopy_start_s, 16.1, 0, 1e-6, "from the switch sync");
	ASSERT_EQ(e->verdict, before, "the pre-copy verdict stands");
	end(&f, 17.4, LM_END_COMPLETED);
	ASSERT_EQ(e->phase, LM_PHASE_POSTCOPY, "ended in postcopy");
	ASSERT_EQ(e->migrating, 0, "ended");
	ASSERT_NEAR(e->postcopy_bytes, 390 * MiB, 0, 1, "its bytes");
	ASSERT_NEAR(e->postcopy_s, 1.3, 0, 1e-6, "its length");
	ASSERT_NEAR(e->measured_downtime_ms, -1, 0, 0, "no pre-copy downtime claimed");
	ASSERT_TRUE(strncmp(e->reason, "completed in postcopy", 21) == 0, "says so");
}

/*
 * A tick's byte counter (summed by user space) read below the sync's (summed
 * by BPF a moment apart): nothing was sent since the sync, not 2^64 bytes;
 * no postcopy is claimed and every number stays what it was.
 */
static void test_counter_behind_the_sync(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);
	struct lm_obs o = { .kind = LM_OBS_TICK };
	uint64_t remaining;

	bulk_pass_at_cap(&f);
	remaining = e->remaining_bytes;
	o.tick.interval_ns = 1000000000ull;
	o.tick.tx_total = f.tx - 2280;
	feed(&f, &o, 8.2);
	ASSERT_TRUE(e->phase != LM_PHASE_POSTCOPY, "a counter read behind the sync is no postcopy");
	ASSERT_EQ(e->remaining_bytes, remaining, "nothing sent since the sync");
	ASSERT_TRUE(estimate_sane(e), "every number finite and in range");
	ASSERT_TRUE(e->tx_rate_Bps <= 32 * MiB, "the rate stays at most the cap");
}

/* A postcopy shorter than a tick: the end's byte count tells it. */
static void test_short_postcopy_at_end(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);
	struct lm_obs o = { .kind = LM_OBS_END };
	int i;

	start(&f, 256, 32, NULL);
	sync_round(&f, 0.001, 256, 0, 0, 0);
	for (i = 1; i <= 4; i++)
		tick(&f, i, 32, 0);
	sync_round(&f, 4.1, 250, 3.2, 0, 0);
	o.end.reason = LM_END_COMPLETED;
	o.end.tx_total = f.tx + (uint64_t)(250 * MiB);
	feed(&f, &o, 4.7);
	ASSERT_EQ(e->phase, LM_PHASE_POSTCOPY, "250 MiB in 0.6 s after the last sync: postcopy");
	ASSERT_NEAR(e->measured_downtime_ms, -1, 0, 0, "no pre-copy downtime claimed");
}

/* QEMU's status says postcopy (with --qmp): believed at once. */
static void test_postcopy_from_qmp(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);
	struct lm_obs p = { .kind = LM_OBS_PARAMS };

	start(&f, 256, 32, NULL);
	sync_round(&f, 0.001, 256, 0, 0, 0);
	tick(&f, 1, 32, 0);
	sync_round(&f, 1.1, 30, 3.2, 0, 0);
	p.params.downtime_limit_ms = 300;
	p.params.max_bandwidth = 32 << 20;
	p.params.page_size = 4096;
	p.params.qemu_status = LM_QEMU_POSTCOPY;
	feed(&f, &p, 1.2);
	ASSERT_EQ(e->phase, LM_PHASE_POSTCOPY, "postcopy-active: postcopy");
	ASSERT_EQ(e->phase_from_qmp, 1, "said by QEMU");
}

/* Pre-copy's own stop phase sends its last data uncapped, but little: no postcopy. */
static void test_stop_phase_is_not_postcopy(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);

	start(&f, 256, 32, NULL);
	sync_round(&f, 0.001, 256, 0, 0, 0);
	sync_round(&f, 8.0, 4, 256, 0, 0);
	sync_round(&f, 8.2, 0.5, 6, LM_ROUND_FINAL, 0);
	tick(&f, 8.3, 5, 0);
	end(&f, 8.31, LM_END_COMPLETED);
	ASSERT_TRUE(e->phase != LM_PHASE_POSTCOPY, "pre-copy completion");
	ASSERT_TRUE(e->measured_downtime_ms > 0, "its downtime measured");
}

/* Attached late: the first record is a mid-migration round. */
static void test_late_attach(void)
{
	struct lm_estimator e;
	struct lm_obs o = { .kind = LM_OBS_ROUND };

	lm_est_init(&e, NULL);
	o.ts_ns = T0;
	o.round.round = 5;
	o.round.dirty_pages = 4096;
	o.round.duration_ns = 2000000000ull;
	o.round.tx_bytes = 64 * MiB;
	o.round.tx_total = 1 << 30;
	o.round.ram_bytes = 1 << 30;
	lm_est_feed(&e, &o);
	ASSERT_EQ(lm_est_current(&e)->migrating, 1, "late: migrating");
	ASSERT_EQ(lm_est_current(&e)->phase, LM_PHASE_ITERATIVE, "late: iterative");
	ASSERT_TRUE(estimate_sane(lm_est_current(&e)), "late: sane");
	ASSERT_TRUE(lm_est_current(&e)->verdict != LM_VERDICT_NOT_CONVERGING, "late: one point is no alarm");
}

/* Continuous source: the curve is measured inside the bulk pass. */
static void test_continuous_bulk_verdict(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);
	uint64_t ev = 0;
	int i;

	start(&f, 512, 32, NULL);
	sync_round(&f, 0.001, 512, 0, 0, 0);
	for (i = 1; i <= 6 && e->verdict != LM_VERDICT_NOT_CONVERGING; i++) {
		ev += 64 * 256;		/* 64 MiB/s of unique pages over a 256 MiB working set */
		if (ev > 256 * 256)
			ev = 256 * 256;
		tick(&f, i, 32, ev);
	}
	ASSERT_EQ(e->verdict, LM_VERDICT_NOT_CONVERGING, "continuous: verdict in the bulk pass");
	ASSERT_EQ(e->phase, LM_PHASE_BULK, "continuous: still bulk");
	ASSERT_TRUE(i - 1 <= 4, "continuous: within 4 ticks");
	ASSERT_TRUE(e->throttle_pct >= 50 && e->throttle_pct < 80, "continuous: throttle from the slope");
}

/* Same input, same bytes; pseudo-random input never breaks the numbers. */
static void test_determinism_and_garbage(void)
{
	static struct lm_estimator a, b;
	uint64_t rng = 99;
	int i, same = 1, sane = 1;

	struct lm_est_config cfg;

	lm_est_config_default(&cfg);
	cfg.switchover_bandwidth_Bps = 1e-320;	/* nonsense from a crafted file */
	cfg.horizon_s = NAN;
	lm_est_init(&a, &cfg);
	lm_est_init(&b, &cfg);
	for (i = 0; i < 20000; i++) {
		struct lm_obs o;
		uint64_t r1, r2;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		r1 = rng >> 11;
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		r2 = rng >> 11;
		memset(&o, 0, sizeof(o));
		o.kind = 1 + r1 % 6;	/* includes an unknown kind */
		o.ts_ns = T0 + (uint64_t)i * 100000000ull - (r2 % 50 == 0 ? 5000000000ull : 0);
		o.round.round = r2 % 9;
		o.round.flags = (uint32_t)(r1 >> 20) & 7;
		o.round.dirty_pages = r2 % 300000;
		o.round.duration_ns = (r1 % 3) ? (r2 % 20000000000ull) : 0;
		o.round.tx_bytes = r1 % (1ull << 31);
		o.round.tx_total = (uint64_t)i << 24;
		if (r2 % 97 == 0) {	/* extremes a crafted file can hold */
			o.round.dirty_pages = UINT64_MAX;
			o.round.duration_ns = 1;
			o.round.tx_bytes = UINT64_MAX;
			o.round.tx_total = UINT64_MAX - (r1 % 3);
		}
		if (o.kind == LM_OBS_PARAMS) {
			memset(&o.params, 0, sizeof(o.params));
			o.params.throttle_pct = r2 % 120;
			o.params.downtime_limit_ms = r1 % 1000;
			o.params.max_bandwidth = r2 % (1ull << 30);
		}
		lm_est_feed(&a, &o);
		lm_est_feed(&b, &o);
		same &= !memcmp(lm_est_current(&a), lm_est_current(&b), sizeof(struct lm_estimate));
		sane &= estimate_sane(lm_est_current(&a));
	}
	ASSERT_TRUE(same, "determinism: byte-identical estimates");
	ASSERT_TRUE(sane, "garbage: estimates stay finite and bounded");
}


/*
 * A small working set rewritten at full speed over a 32 MiB/s link: every
 * round re-sends the same 12 MiB in the same 0.1 s, above the 9.6 MiB
 * threshold (seen on real lab runs). Identical rounds never change the
 * verdict once it is firm; after three that do not shrink it is a fixed
 * point, and the evidence grows with every further one.
 */
static void test_identical_rounds(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);
	enum lm_verdict firm = LM_VERDICT_UNKNOWN;
	uint32_t changes = 0, ev = 0;
	double t = 0.4;
	int i;

	start(&f, 320, 32, NULL);
	sync_round(&f, 0.001, 320, 0, 0, 0);
	sync_round(&f, t, 12, 13, 0, 0);
	for (i = 0; i < 60; i++) {
		t += 0.1;
		sync_round(&f, t, 12, 3.2, 0, 0);
		if (firm != LM_VERDICT_UNKNOWN && e->verdict != firm)
			changes++;
		if (e->verdict == LM_VERDICT_CONVERGING || e->verdict == LM_VERDICT_NOT_CONVERGING)
			firm = e->verdict;
		if (i == 10)
			ev = e->evidence_rounds;
	}
	ASSERT_EQ(e->verdict, LM_VERDICT_NOT_CONVERGING, "identical rounds above the threshold: not-converging");
	ASSERT_EQ(changes, 0, "identical rounds: no change after the first firm verdict");
	ASSERT_TRUE(strstr(e->reason, "fixed point") != NULL, "the reason names the fixed point");
	ASSERT_TRUE(e->evidence_rounds > ev && ev >= 3, "every identical round adds evidence");
	ASSERT_TRUE(e->confidence > 0.9, "sixty identical rounds: high confidence");
}

/*
 * The evidence counters: rounds that left as much as the one before (2 %
 * noise allowed) above the threshold, and rounds that shrank by a tenth.
 */
static void test_evidence_counts(void)
{
	struct lm_evidence ev;
	static const double left[] = { 100, 99, 100, 101, 85, 70, 60, 5 };
	static const uint32_t still[] = { 0, 1, 2, 3, 0, 0, 0, 0 };
	static const uint32_t shrink[] = { 0, 0, 0, 0, 1, 2, 3, 4 };
	char name[96];
	uint32_t i;

	lm_evidence_reset(&ev);
	for (i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
		lm_evidence_round(&ev, left[i], 10);
		snprintf(name, sizeof(name), "round %u (%.0f left): rounds that did not shrink", i, left[i]);
		ASSERT_EQ(ev.still, still[i], name);
		snprintf(name, sizeof(name), "round %u (%.0f left): rounds that shrank", i, left[i]);
		ASSERT_EQ(ev.shrink, shrink[i], name);
		snprintf(name, sizeof(name), "round %u: fixed point", i);
		ASSERT_EQ(lm_evidence_fixed_point(&ev), still[i] >= LM_EV_FIXED_POINT_ROUNDS, name);
	}
	/* below the threshold nothing is stuck, however flat */
	lm_evidence_reset(&ev);
	for (i = 0; i < 5; i++)
		lm_evidence_round(&ev, 5, 10);
	ASSERT_EQ(ev.still, 0, "flat below the threshold: no fixed point");
	/* new parameters: the counts restart, the reference stays */
	lm_evidence_round(&ev, 50, 10);
	lm_evidence_new_params(&ev);
	ASSERT_EQ(ev.rounds, 0, "new parameters: no rounds under them yet");
	lm_evidence_round(&ev, 50, 10);
	ASSERT_EQ(ev.still, 1, "new parameters: compared with the last round before them");
}

/* An `lmtrace check` made `age` s before the start: 4 MiB in 1 s, 8 MiB in 2 s, 258 MiB touched. */
static void head_start_run(struct feeder *f, double age)
{
	struct lm_obs hs = { .kind = LM_OBS_HEAD_START }, o = { .kind = LM_OBS_START };
	struct lm_obs p = { .kind = LM_OBS_PARAMS };

	memset(f, 0, sizeof(*f));
	lm_est_init(&f->e, NULL);
	hs.head_start.ram_bytes = (uint64_t)(320 * MiB);
	hs.head_start.resident_bytes = (uint64_t)(258 * MiB);
	hs.head_start.max_age_s = 600;
	hs.head_start.nwin = 2;
	hs.head_start.win[0].window_ms = 1000;
	hs.head_start.win[0].pages = 4 * 256;
	hs.head_start.win[1].window_ms = 2000;
	hs.head_start.win[1].pages = 8 * 256;
	feed(f, &hs, -age);
	o.start.ram_bytes = (uint64_t)(320 * MiB);
	feed(f, &o, 0);
	p.params.downtime_limit_ms = 300;
	p.params.max_bandwidth = (uint64_t)(32 * MiB);
	p.params.page_size = 4096;
	feed(f, &p, 0);
	sync_round(f, 0.001, 320, 0, 0, 0);
}

/*
 * The head start: the check's verdict from the start, marked, until the
 * migration's own rounds speak; none from a check older than its age.
 */
static void test_head_start(void)
{
	static struct feeder f;
	const struct lm_estimate *e = lm_est_current(&f.e);

	head_start_run(&f, 30);
	ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, "the check's verdict at the start");
	ASSERT_EQ(e->from_check, 1, "marked from the check");
	ASSERT_EQ(e->predicted, 1, "and predicted");
	ASSERT_EQ(e->changed_because, LM_CHANGE_CHECK, "changed because of the check");
	ASSERT_TRUE(e->total_s > 8 && e->total_s < 10, "its total time (bulk pass of 258 MiB at 32 MiB/s)");
	tick(&f, 1, 32, 0);
	tick(&f, 2, 32, 0);
	ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, "held through the bulk pass");
	ASSERT_EQ(e->from_check, 1, "still from the check");
	sync_round(&f, 8.1, 31, 258, 0, 0);
	ASSERT_EQ(e->from_check, 0, "round 2: the migration's own estimate");
	ASSERT_TRUE(e->verdict == LM_VERDICT_CONVERGING, "which agrees here");

	head_start_run(&f, 700);
	ASSERT_EQ(e->from_check, 0, "a check older than 600 s: no head start");
	ASSERT_EQ(e->verdict, LM_VERDICT_UNKNOWN, "nothing measured yet");
}

int main(int argc, char **argv)
{
	test_head_start();
	test_names_and_config();
	test_tiny_final_end();
	test_geometric_closed_form();
	test_whole_ram_dirtied();
	test_zero_duration_rounds();
	test_throttle_guest_clock();
	test_throttle_before_evidence();
	test_identical_rounds();
	test_evidence_counts();
	test_round_before_any_rate();
	test_downtime_includes_vcpu_stop();
	test_completed_without_final_flag();
	test_postcopy_from_kernel();
	test_counter_behind_the_sync();
	test_postcopy_from_qmp();
	test_short_postcopy_at_end();
	test_stop_phase_is_not_postcopy();
	test_late_attach();
	test_continuous_bulk_verdict();
	test_determinism_and_garbage();
	return unit_done(argv[0]);
}

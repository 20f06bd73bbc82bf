// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lmtrace check's model (core/check_model.c) on windows of known guests:
 * the verdict, the predicted time against the one worked out by hand from
 * QEMU's loop, and the numbers that must be consistent with the verdict
 * (the smallest bandwidth converges and 10 % less does not; the throttle
 * converges), plus the shared-link table and bad input.
 */
#include <errno.h>
#include <stdio.h>
#include "core/check_model.h"
#include "core/units.h"
#include "unit.h"

#define MiB LM_MiB

/* A sequential writer at rate over wss (U(T) = min(rate T, wss)), 1 s and 2 s windows. */
static struct lm_check_model_input seq_guest(double rate_mib, double wss_mib, double bw_mib)
{
	struct lm_check_model_input in = {
		.nwin = 2, .ram_bytes = 320 * MiB, .resident_bytes = 256 * MiB,
		.bandwidth_Bps = bw_mib * MiB, .downtime_limit_s = 0.3,
	};
	int i;

	for (i = 0; i < 2; i++) {
		double w = i + 1, u = rate_mib * w < wss_mib ? rate_mib * w : wss_mib;

		in.win[i] = (struct lm_check_model_window){ .window_s = w, .bytes = u * MiB };
	}
	return in;
}

static void test_converging(void)
{
	struct lm_check_model_input in = seq_guest(4, 256, 32);
	struct lm_check_model_result r;

	ASSERT_EQ(lm_check_model_run(&in, &r), 0, "converge: checked");
	ASSERT_EQ(r.verdict, LM_VERDICT_CONVERGING, "converge: verdict");
	/*
	 * bulk pass 256 MiB / 32 MiB/s = 8 s; its sync finds 4 MiB/s x 8 s = 32 MiB (U(T)
	 * extrapolated past 2 s), 22.4 MiB over the 9.6 MiB threshold: 0.8 s of 0.1 s
	 * windows, leaving 6.4 + 3.2 MiB dirtied meanwhile, not below 9.6; one more
	 * window: 6.4 + 0.4 MiB, switchover at 8.9 s. QEMU here: 8.8-9.2 s, 4-6 syncs.
	 */
	ASSERT_NEAR(r.bulk_s, 8.0, 0.001, 0, "converge: bulk pass");
	ASSERT_NEAR(r.total_s, 8.9, 0.01, 0, "converge: total time");
	ASSERT_TRUE(r.syncs >= 4 && r.syncs <= 6, "converge: syncs");
	ASSERT_EQ(r.throttle_pct, 0, "converge: no throttle");
	ASSERT_TRUE(r.wws_is_lower_bound, "converge: U(T) still rising at 2 s");
	ASSERT_NEAR(r.confidence, 0.75, 0.001, 0, "converge: two windows agree");
	ASSERT_TRUE(r.downtime_ms > 0 && r.downtime_ms < 300, "converge: downtime under the limit");
}

static void test_stuck(void)
{
	struct lm_check_model_input in = seq_guest(64, 256, 32);
	struct lm_check_model_result r;

	ASSERT_EQ(lm_check_model_run(&in, &r), 0, "stuck: checked");
	ASSERT_EQ(r.verdict, LM_VERDICT_NOT_CONVERGING, "stuck: verdict");
	ASSERT_TRUE(r.total_s < 0, "stuck: no total time");
	/* rounds shrink only once 64 MiB/s x (1 - p) is under 32 / 1.25 */
	ASSERT_TRUE(r.throttle_pct >= 60 && r.throttle_pct <= 80, "stuck: throttle");
	ASSERT_TRUE(r.min_bandwidth_Bps > 64 * MiB / 0.8 * 0.99, "stuck: bandwidth above the dirty rate / 0.8");
}

/* The numbers agree with the verdict they come with. */
static void test_consistent(void)
{
	static const double rates[] = { 2, 8, 16, 24, 40, 64, 200 };
	struct lm_check_model_result r, at;
	size_t i;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct lm_check_model_input in = seq_guest(rates[i], 256, 32), probe;

		ASSERT_EQ(lm_check_model_run(&in, &r), 0, "consistent: checked");
		if (!ASSERT_TRUE(r.min_bandwidth_Bps > 0, "consistent: a bandwidth converges"))
			continue;
		probe = in;
		probe.bandwidth_Bps = r.min_bandwidth_Bps;
		lm_check_model_run(&probe, &at);
		ASSERT_EQ(at.verdict, LM_VERDICT_CONVERGING, "consistent: at the smallest bandwidth");
		probe.bandwidth_Bps = r.min_bandwidth_Bps * 0.9;
		lm_check_model_run(&probe, &at);
		ASSERT_TRUE(at.verdict != LM_VERDICT_CONVERGING, "consistent: 10 % below it");
		ASSERT_EQ(r.verdict == LM_VERDICT_CONVERGING, r.min_bandwidth_Bps <= in.bandwidth_Bps,
			  "consistent: converging iff the link is at least the smallest bandwidth");
		ASSERT_EQ(r.verdict == LM_VERDICT_CONVERGING, r.throttle_pct == 0,
			  "consistent: a throttle exactly when not converging");
	}
}

/* A small working set rewritten at once: flat at 1 s; the slope is only bounded, never converging. */
static void test_small_wss(void)
{
	struct lm_check_model_input in = seq_guest(64, 32, 32);
	struct lm_check_model_result r;

	ASSERT_EQ(lm_check_model_run(&in, &r), 0, "small wss: checked");
	ASSERT_TRUE(r.verdict != LM_VERDICT_CONVERGING, "small wss: not converging");
	ASSERT_EQ(r.wws_bytes, 32 * MiB, "small wss: the working set");
	ASSERT_EQ(r.wws_is_lower_bound, 0, "small wss: flat");
}

static void test_shared(void)
{
	/* 20 MiB/s each: 0.62 of the link alone, 1.25 of half of it */
	struct lm_check_model_input two[2] = { seq_guest(20, 256, 32), seq_guest(20, 256, 32) };
	struct lm_check_model_result alone, r[2];

	lm_check_model_run(&two[0], &alone);
	ASSERT_EQ(alone.verdict, LM_VERDICT_CONVERGING, "shared: converges alone");
	ASSERT_EQ(lm_check_model_shared(two, 2, 32 * MiB, r), 0, "shared: not together");
	ASSERT_TRUE(r[0].verdict != LM_VERDICT_CONVERGING, "shared: each at 16 MiB/s");
	ASSERT_EQ(lm_check_model_shared(two, 2, 80 * MiB, r), 1, "shared: together on 80 MiB/s");
}

/*
 * A large guest dirtying twice the link: the best case's rounds settle on a
 * plateau (1 s rounds re-dirtying what they send) and the simulation syncs
 * LM_SIM_MAX_ROUNDS times inside the horizon without switching over. That
 * is not converging, not "marginal, switchover in -1 s".
 */
static void test_plateau_undecided(void)
{
	struct lm_check_model_input in = {
		.nwin = 3, .ram_bytes = 64ull << 30, .bandwidth_Bps = 50 * MiB, .downtime_limit_s = 0.3,
		.win = { { .window_s = 1, .bytes = 50 * MiB }, { .window_s = 2, .bytes = 65 * MiB },
			 { .window_s = 4, .bytes = 67.5 * MiB } },
	};
	struct lm_check_model_result r;

	ASSERT_EQ(lm_check_model_run(&in, &r), 0, "plateau: runs");
	ASSERT_EQ(r.verdict, LM_VERDICT_NOT_CONVERGING, "plateau: not converging");
	ASSERT_TRUE(strstr(r.reason, "no switchover in 20000 syncs") != NULL, "plateau: the reason says why");
	ASSERT_TRUE(strstr(r.reason, "-1 s") == NULL, "plateau: no negative time in it");
	printf("  plateau: %s (%.2f)\n", r.reason, r.confidence);
}

static void test_bad_input(void)
{
	struct lm_check_model_input in = seq_guest(4, 256, 32);
	struct lm_check_model_result r;

	in.nwin = 0;
	ASSERT_EQ(lm_check_model_run(&in, &r), -EINVAL, "bad: no window");
	in = seq_guest(4, 256, 0);
	ASSERT_EQ(lm_check_model_run(&in, &r), -EINVAL, "bad: no bandwidth");
	in = seq_guest(4, 256, 32);
	in.win[1].window_s = 0;
	ASSERT_EQ(lm_check_model_run(&in, &r), -EINVAL, "bad: empty window");
}

int main(void)
{
	test_converging();
	test_stuck();
	test_consistent();
	test_small_wss();
	test_shared();
	test_plateau_undecided();
	test_bad_input();
	return unit_done("test_check_model");
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --act's decisions (user/core/act_policy.c) on made-up estimates and observations. */
#include <string.h>
#include "core/act_policy.h"
#include "unit.h"

#define MiB 1048576.0

static struct lm_obs obs(uint32_t kind, double t_s)
{
	struct lm_obs o = { .kind = kind, .pid = 7, .ts_ns = (uint64_t)(1000e9 + t_s * 1e9) };

	return o;
}

static struct lm_obs config(uint32_t policies, uint32_t max_throttle, uint32_t max_downtime_ms,
			    uint64_t give_up_ms)
{
	struct lm_obs o = obs(LM_OBS_ACT_CONFIG, 0);

	o.act_config = (struct lm_obs_act_config){ .policies = policies, .apply = 1,
		.max_throttle_pct = max_throttle, .max_downtime_ms = max_downtime_ms,
		.give_up_after_ms = give_up_ms, .identified = 1 };
	return o;
}

/* A firm, measured not-converging estimate in the iterative phase. */
static struct lm_estimate stuck(double throttle_pct)
{
	struct lm_estimate e = { .verdict = LM_VERDICT_NOT_CONVERGING, .phase = LM_PHASE_ITERATIVE,
				 .throttle_pct = throttle_pct, .remaining_bytes = 40 * 1048576ull,
				 .max_bandwidth_Bps = 32 * MiB, .tx_rate_Bps = 32 * MiB,
				 .downtime_limit_s = 0.3, .confidence = 0.97 };

	snprintf(e.reason, sizeof(e.reason), "made up");
	return e;
}

static int feed_round(struct lm_act_state *st, uint32_t round, double t_s,
		      const struct lm_estimate *e, struct lm_act_decision *d)
{
	struct lm_obs o = obs(LM_OBS_ROUND, t_s);

	o.round.round = round;
	return lm_act_feed(st, &o, e, d);
}

static void outcome(struct lm_act_state *st, const struct lm_act_decision *d, uint32_t result)
{
	struct lm_obs o = obs(LM_OBS_ACTION, 0);
	struct lm_act_decision back;

	o.action = (struct lm_obs_action){ .action = d->action, .value = d->value, .round = d->round,
					   .outcome = result };
	ASSERT_EQ(lm_act_feed(st, &o, NULL, &back), 0, "outcome answers the decision");
}

static void qemu_throttle(struct lm_act_state *st, uint32_t pct, const struct lm_estimate *e)
{
	struct lm_obs o = obs(LM_OBS_PARAMS, 0);
	struct lm_act_decision d;

	o.params.throttle_pct = pct;
	o.params.downtime_limit_ms = 300;
	o.params.qemu_status = LM_QEMU_ACTIVE;
	ASSERT_EQ(lm_act_feed(st, &o, e, &d), 0, "params decide nothing");
}

static void start(struct lm_act_state *st, struct lm_obs cfg)
{
	struct lm_obs o = obs(LM_OBS_START, 0);
	struct lm_act_decision d;

	lm_act_init(st);
	lm_act_feed(st, &cfg, NULL, &d);
	lm_act_feed(st, &o, NULL, &d);
}

static void test_no_config_no_action(void)
{
	struct lm_act_state st;
	struct lm_estimate e = stuck(62);
	struct lm_act_decision d;
	struct lm_obs o = obs(LM_OBS_START, 0);

	lm_act_init(&st);
	lm_act_feed(&st, &o, &e, &d);
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 0, "without --act nothing is decided");
}

static void test_throttle_once_then_step(void)
{
	struct lm_act_state st;
	struct lm_estimate e = stuck(61.4), conv = e;
	struct lm_act_decision d;

	start(&st, config(LM_ACT_P_THROTTLE, 80, 0, 0));
	e.predicted = 1;
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 0, "a predicted verdict is no evidence");
	conv.verdict = LM_VERDICT_CONVERGING;
	ASSERT_EQ(feed_round(&st, 2, 8, &conv, &d), 0, "converging: no action");
	e.predicted = 0;
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 1, "firm not-converging: throttle");
	ASSERT_EQ(d.action, LM_ACT_THROTTLE, "throttle");
	ASSERT_EQ(d.value, 62, "recommended 61.4 %, rounded up");
	ASSERT_EQ(d.sufficient, 1, "it converges by the model");
	ASSERT_EQ(feed_round(&st, 3, 10, &e, &d), 0, "nothing while the outcome is pending");
	outcome(&st, &d, LM_ACT_APPLIED);
	/* QEMU applies it at its next trigger, the sync of round 3 */
	qemu_throttle(&st, 62, &e);
	e = stuck(70);
	ASSERT_EQ(feed_round(&st, 4, 12, &e, &d), 0, "one round under it is not enough");
	ASSERT_EQ(feed_round(&st, 5, 14, &e, &d), 1, "two rounds under it, still stuck: step");
	ASSERT_EQ(d.value, 70, "to the new recommendation");
	outcome(&st, &d, LM_ACT_APPLIED);
	qemu_throttle(&st, 70, &e);
	e = stuck(68);
	ASSERT_EQ(feed_round(&st, 8, 20, &e, &d), 0, "never down, never the same again");
}

static void test_bound(void)
{
	struct lm_act_state st;
	struct lm_estimate e = stuck(62);
	struct lm_act_decision d;

	start(&st, config(LM_ACT_P_THROTTLE, 30, 0, 0));
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 1, "throttle within the bound");
	ASSERT_EQ(d.value, 30, "no throttle above --max-throttle");
	ASSERT_EQ(d.sufficient, 0, "and it is not enough");
	ASSERT_TRUE(strstr(d.reason, "30 % is not enough"), "the reason says so");
	outcome(&st, &d, LM_ACT_APPLIED);
	qemu_throttle(&st, 30, &e);
	ASSERT_EQ(feed_round(&st, 6, 20, &e, &d), 0, "at the bound: nothing more to do");
}

static void test_cancel_after_give_up(void)
{
	struct lm_act_state st;
	struct lm_estimate e = stuck(62);
	struct lm_act_decision d;
	struct lm_obs tick = obs(LM_OBS_TICK, 12);

	start(&st, config(LM_ACT_P_CANCEL, 80, 0, 10000));
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 0, "not before --give-up-after");
	ASSERT_EQ(lm_act_feed(&st, &tick, &e, &d), 1, "after it, at a sample");
	ASSERT_EQ(d.action, LM_ACT_CANCEL, "cancel");
	ASSERT_TRUE(strstr(d.reason, "throttle not allowed"), "why nothing else helps");
}

static void test_cancel_waits_for_throttle(void)
{
	struct lm_act_state st;
	struct lm_estimate e = stuck(62);
	struct lm_act_decision d;

	start(&st, config(LM_ACT_P_THROTTLE | LM_ACT_P_CANCEL, 30, 0, 1000));
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 1, "throttle first");
	outcome(&st, &d, LM_ACT_APPLIED);
	ASSERT_EQ(feed_round(&st, 4, 12, &e, &d), 0, "QEMU not at it yet: no cancel");
	qemu_throttle(&st, 30, &e);
	/* QEMU applied it at the sync of round 4: rounds 5 and 6 run wholly under it */
	ASSERT_EQ(feed_round(&st, 5, 14, &e, &d), 0, "one round under it: not judged yet");
	ASSERT_EQ(feed_round(&st, 6, 16, &e, &d), 1, "two rounds at the bound, still stuck");
	ASSERT_EQ(d.action, LM_ACT_CANCEL, "cancel");
	ASSERT_TRUE(strstr(d.reason, "--max-throttle 30 % is not enough"), "says why");
}

/*
 * A postcopy switch QEMU did not answer in time may have happened: no cancel
 * may follow it (the guest may already run on the destination). One QEMU
 * refused for sure leaves cancel as the last resort.
 */
static void test_postcopy_unanswered(void)
{
	struct lm_act_state st;
	struct lm_estimate e = stuck(62);
	struct lm_act_decision d;
	uint32_t pols = LM_ACT_P_POSTCOPY | LM_ACT_P_CANCEL;

	start(&st, config(pols, 80, 0, 1000));
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 1, "postcopy first");
	ASSERT_EQ(d.action, LM_ACT_POSTCOPY, "postcopy");
	outcome(&st, &d, LM_ACT_UNKNOWN);
	ASSERT_EQ(feed_round(&st, 3, 20, &e, &d), 0, "unanswered, maybe switched: no cancel");
	ASSERT_EQ(feed_round(&st, 4, 30, &e, &d), 0, "nor later");
	ASSERT_EQ(feed_round(&st, 5, 40, &e, &d), 0, "nor ever");

	start(&st, config(pols, 80, 0, 1000));
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 1, "postcopy first");
	outcome(&st, &d, LM_ACT_FAILED);
	feed_round(&st, 3, 20, &e, &d);
	ASSERT_EQ(feed_round(&st, 4, 30, &e, &d), 1, "refused for sure: cancel may come");
	ASSERT_EQ(d.action, LM_ACT_CANCEL, "cancel");
}

static void test_release(void)
{
	struct lm_act_state st;
	struct lm_estimate e = stuck(62);
	struct lm_act_decision d;
	struct lm_obs end = obs(LM_OBS_END, 30), done = obs(LM_OBS_PARAMS, 29);

	start(&st, config(LM_ACT_P_THROTTLE, 80, 0, 0));
	ASSERT_EQ(lm_act_feed(&st, &end, &e, &d), 0, "nothing changed: nothing to release");
	start(&st, config(LM_ACT_P_THROTTLE, 80, 0, 0));
	feed_round(&st, 2, 8, &e, &d);
	outcome(&st, &d, LM_ACT_APPLIED);
	done.params.qemu_status = LM_QEMU_CANCELLED;
	ASSERT_EQ(lm_act_feed(&st, &done, &e, &d), 1, "QEMU says it ended: release");
	ASSERT_EQ(d.action, LM_ACT_RELEASE, "release");
	outcome(&st, &d, LM_ACT_APPLIED);
	ASSERT_EQ(lm_act_feed(&st, &end, &e, &d), 0, "released once");
}

static void test_downtime(void)
{
	struct lm_act_state st;
	struct lm_estimate e = stuck(62);
	struct lm_act_decision d;

	start(&st, config(LM_ACT_P_DOWNTIME | LM_ACT_P_THROTTLE, 80, 1000, 0));
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 1, "a limit above the bound: throttle instead");
	ASSERT_EQ(d.action, LM_ACT_THROTTLE, "throttle");
	start(&st, config(LM_ACT_P_DOWNTIME | LM_ACT_P_THROTTLE, 80, 2000, 0));
	ASSERT_EQ(feed_round(&st, 2, 8, &e, &d), 1, "40 MiB at 32 MiB/s fits 2000 ms");
	ASSERT_EQ(d.action, LM_ACT_DOWNTIME, "downtime first: it costs the guest no CPU");
	ASSERT_EQ(d.value, 1563, "40 MiB x 1.25 / 32 MiB/s");
}

static void test_replay_mismatch(void)
{
	struct lm_act_state st;
	struct lm_act_decision d;
	struct lm_obs o = obs(LM_OBS_ACTION, 5);

	start(&st, config(LM_ACT_P_THROTTLE, 80, 0, 0));
	o.action = (struct lm_obs_action){ .action = LM_ACT_THROTTLE, .value = 50 };
	ASSERT_EQ(lm_act_feed(&st, &o, NULL, &d), -1, "an outcome nobody decided is told");
}

static void test_parse(void)
{
	uint32_t p;
	char bad[32];

	ASSERT_EQ(lm_act_parse_policies("throttle,cancel", &p, bad, sizeof(bad)), 0, "two policies");
	ASSERT_EQ(p, LM_ACT_P_THROTTLE | LM_ACT_P_CANCEL, "their bits");
	ASSERT_TRUE(lm_act_parse_policies("throttle,slow", &p, bad, sizeof(bad)) < 0, "unknown");
	ASSERT_STREQ(bad, "slow", "named");
	ASSERT_TRUE(lm_act_parse_policies("", &p, bad, sizeof(bad)) < 0, "empty");
}

int main(void)
{
	test_no_config_no_action();
	test_throttle_once_then_step();
	test_bound();
	test_cancel_after_give_up();
	test_cancel_waits_for_throttle();
	test_postcopy_unanswered();
	test_release();
	test_downtime();
	test_replay_mismatch();
	test_parse();
	return unit_done("test_act_policy");
}

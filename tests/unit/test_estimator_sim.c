// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The estimator against synthetic migrations with known outcomes (a
 * page-level model of QEMU's pre-copy, test_estimator_sim.h): verdicts, no
 * false alarm, ETA and downtime accuracy from round 2 on, lead time against
 * QEMU's auto-converge trigger and a "remaining did not shrink" stall rule
 * computed on the same traces, the recommended throttle applied in closed
 * loop against stock auto-converge, determinism and the text round trip.
 *
 *   test_estimator_sim                 run and check everything
 *   test_estimator_sim -w DIR          also write every trace to DIR/<name>.obs.txt
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/estimator.h"
#include "core/units.h"
#include "unit.h"
#include "test_estimator_sim.h"
#include "test_estimator_text.h"
#include "test_estimator_base.h"

#define LINK_MIBPS 1500		/* loopback-like link for the stop phase */
#define MAX_PRED 4096

static const struct scen scens[] = {
	/* the lab's numbers: 256 MiB working set, 32 MiB/s cap, 300 ms */
	{ .name = "wws-4MiBps-converges", .ram_mib = 512, .data_mib = 256, .wws_mib = 256,
	  .rate_mibps = 4, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 60, .expect_converge = 1, .r2_verdict = LM_VERDICT_CONVERGING },
	{ .name = "wws-64MiBps-stuck", .ram_mib = 512, .data_mib = 256, .wws_mib = 256,
	  .rate_mibps = 64, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 60, .nc_by_round = 2 },
	/* geometric: unique dirty rate constant (sweep over a region never revisited in a round) */
	{ .name = "geometric-0.375", .ram_mib = 1024, .data_mib = 1024, .wws_mib = 1024,
	  .rate_mibps = 12, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 120, .expect_converge = 1 },
	{ .name = "geometric-0.7", .ram_mib = 1024, .data_mib = 1024, .wws_mib = 1024,
	  .rate_mibps = 22.4, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 300, .expect_converge = 1 },
	/* slow but converging: at the edge, never an alarm */
	{ .name = "geometric-0.9", .ram_mib = 1024, .data_mib = 1024, .wws_mib = 1024,
	  .rate_mibps = 28.8, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 600, .expect_converge = 1, .r2_verdict = LM_VERDICT_MARGINAL },
	{ .name = "geometric-1.5", .ram_mib = 1024, .data_mib = 1024, .wws_mib = 1024,
	  .rate_mibps = 48, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 150, .nc_by_round = 2 },
	/* saturating, random writer: U(T) = W (1 - exp(-DT/W)) */
	{ .name = "random-8MiBps-128", .ram_mib = 512, .data_mib = 512, .wws_mib = 128,
	  .rate_mibps = 8, .pattern = PAT_RANDOM, .cap_mibps = 32, .link_mibps = LINK_MIBPS,
	  .downtime_ms = 300, .max_s = 90, .expect_converge = 1 },
	{ .name = "random-96MiBps-128", .ram_mib = 512, .data_mib = 512, .wws_mib = 128,
	  .rate_mibps = 96, .pattern = PAT_RANDOM, .cap_mibps = 32, .link_mibps = LINK_MIBPS,
	  .downtime_ms = 300, .max_s = 90, .nc_by_round = 4 },
	/* fast writer, working set smaller than what 300 ms carries: converges */
	{ .name = "wws-small-fast", .ram_mib = 512, .data_mib = 256, .wws_mib = 6,
	  .rate_mibps = 64, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 60, .expect_converge = 1 },
	/* working set saturates between the bulk pass and the next round */
	{ .name = "wws-64-of-64MiB", .ram_mib = 512, .data_mib = 256, .wws_mib = 64,
	  .rate_mibps = 64, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 60, .nc_by_round = 3 },
	/* bursty writer: remaining oscillates, still converges */
	{ .name = "oscillating", .ram_mib = 512, .data_mib = 512, .wws_mib = 96,
	  .rate_mibps = 48, .on_s = 2, .off_s = 4, .cap_mibps = 32, .link_mibps = LINK_MIBPS,
	  .downtime_ms = 300, .max_s = 120, .expect_converge = 1, .eta_free = 1 },
	/* bandwidth drops for good mid-way: 12 MiB/s dirtier, 32 -> 8 MiB/s */
	{ .name = "bw-drop", .ram_mib = 512, .data_mib = 512, .wws_mib = 512,
	  .rate_mibps = 12, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .bw_at_s = 17, .bw_cap_mibps = 8, .max_s = 150, .nc_by_round = 4 },
	/* a 3 s dip during the bulk pass: converges, no alarm allowed */
	{ .name = "bw-dip", .ram_mib = 512, .data_mib = 512, .wws_mib = 512,
	  .rate_mibps = 8, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .bw_at_s = 6, .bw_cap_mibps = 4, .bw_until_s = 9, .max_s = 90, .expect_converge = 1 },
	/* stuck, then 70 % throttle by hand at 30 s: converges */
	{ .name = "throttle-mid", .ram_mib = 512, .data_mib = 256, .wws_mib = 256,
	  .rate_mibps = 64, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .throttle_at_s = 30, .throttle_pct = 70, .max_s = 90, .expect_converge = 1, .nc_by_round = 2 },
	/* tiny guest: switchover at the first sync after the bulk pass */
	{ .name = "tiny", .ram_mib = 32, .data_mib = 32, .wws_mib = 32,
	  .rate_mibps = 1, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 30, .expect_converge = 1 },
	/* no cap: measured rate drives everything, downtime not a bound */
	{ .name = "uncapped-0.5", .ram_mib = 1024, .data_mib = 1024, .wws_mib = 1024,
	  .rate_mibps = 50, .link_mibps = 100, .downtime_ms = 300, .max_s = 90, .expect_converge = 1 },
	/* continuous dirty source: verdict during the bulk pass */
	{ .name = "cont-64MiBps-stuck", .ram_mib = 512, .data_mib = 256, .wws_mib = 256,
	  .rate_mibps = 64, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 60, .continuous = 1, .nc_by_round = 1 },
	{ .name = "cont-oscillating", .ram_mib = 512, .data_mib = 512, .wws_mib = 96,
	  .rate_mibps = 48, .on_s = 2, .off_s = 4, .cap_mibps = 32, .link_mibps = LINK_MIBPS,
	  .downtime_ms = 300, .max_s = 120, .continuous = 1, .expect_converge = 1, .eta_free = 1 },
	{ .name = "cont-4MiBps-converges", .ram_mib = 512, .data_mib = 256, .wws_mib = 256,
	  .rate_mibps = 4, .cap_mibps = 32, .link_mibps = LINK_MIBPS, .downtime_ms = 300,
	  .max_s = 60, .continuous = 1, .expect_converge = 1 },
};

struct run {
	const struct scen *sc;
	struct lm_estimator est;
	FILE *trace;
	uint64_t hash;
	uint32_t round;
	int stopped_seen;
	/* verdicts */
	int ever_nc;
	double nc_t;
	uint32_t nc_round;
	double first_verdict_t;
	enum lm_verdict final_verdict;
	double throttle_at_nc;
	enum lm_verdict r2_verdict;
	/* predictions at rounds >= 2 before switchover */
	int npred;
	double pred_t[MAX_PRED], pred_total[MAX_PRED], pred_dt[MAX_PRED];
	uint32_t pred_round[MAX_PRED];
	int pred_bound;
	struct baselines base;
	int ret_mismatch;		/* lm_est_feed() said changed when it did not, or the reverse */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 1099511628211ull;
	return h;
}

static void on_obs(void *ctx, const struct lm_obs *o, struct qsim *q)
{
	struct run *r = ctx;
	const struct lm_estimate *e;
	double t = (o->ts_ns - SIM_T0_NS) / 1e9;

	enum lm_verdict before = lm_est_current(&r->est)->verdict;

	if (r->trace)
		obs_text_write(r->trace, o);
	r->ret_mismatch += lm_est_feed(&r->est, o) != (lm_est_current(&r->est)->verdict != before);
	e = lm_est_current(&r->est);
	r->hash = fnv(r->hash, e, sizeof(*e));
	if (getenv("EST_DEBUG") && !strcmp(getenv("EST_DEBUG"), r->sc->name) && o->kind != LM_OBS_PARAMS) {
		printf("  t=%6.2f %-6s", t, o->kind == LM_OBS_ROUND ? "ROUND" : o->kind == LM_OBS_TICK ? "tick" : "other");
		if (o->kind == LM_OBS_ROUND)
			printf(" r%u dirty %.1f MiB dur %.2f s tx %.1f MiB", o->round.round,
			       o->round.dirty_pages / 256.0, o->round.duration_ns / 1e9, o->round.tx_bytes / 1048576.0);
		printf(" | %s %.2f eta %.1f total %.1f rem %.1f MiB thr %.1f | %s\n", lm_verdict_name(e->verdict),
		       e->confidence, e->eta_s, e->total_s, e->remaining_bytes / 1048576.0,
		       e->threshold_bytes / 1048576.0, e->reason);
	}
	if (o->kind == LM_OBS_ROUND) {
		r->round = o->round.round;
		baselines_round(&r->base, &o->round, t);
	}
	if (e->verdict != LM_VERDICT_UNKNOWN && r->first_verdict_t < 0)
		r->first_verdict_t = t;
	if (e->verdict == LM_VERDICT_NOT_CONVERGING && !r->ever_nc) {
		r->ever_nc = 1;
		r->nc_t = t;
		r->nc_round = r->round;
		r->throttle_at_nc = e->throttle_pct;
	}
	if (o->kind == LM_OBS_ROUND && o->round.round == 2)
		r->r2_verdict = e->verdict;
	if (o->kind == LM_OBS_ROUND && o->round.round >= 2 && !(o->round.flags & LM_ROUND_FINAL) &&
	    !q->stopped && r->npred < MAX_PRED) {
		r->pred_t[r->npred] = t;
		r->pred_total[r->npred] = e->total_s;
		r->pred_dt[r->npred] = e->downtime_ms;
		r->pred_round[r->npred] = o->round.round;
		r->pred_bound = e->downtime_is_bound;
		r->npred++;
	}
	if (r->sc->apply_reco && !q->stopped && e->verdict == LM_VERDICT_NOT_CONVERGING &&
	    e->throttle_pct > q->throttle)
		qsim_set_throttle(q, (int)ceil(e->throttle_pct));
	r->final_verdict = lm_est_current(&r->est)->verdict;
}

static void run_init(struct run *r, const struct scen *sc, int tell_link)
{
	struct lm_est_config cfg;

	memset(r, 0, sizeof(*r));
	r->sc = sc;
	lm_est_config_default(&cfg);
	if (tell_link)
		cfg.switchover_bandwidth_Bps = sc->link_mibps * 1048576;
	lm_est_init(&r->est, &cfg);
	r->hash = 1469598103934665603ull;
	r->first_verdict_t = -1;
	baselines_init(&r->base, SIM_PAGE);
}

struct acc {
	double eta_max_err, eta_r2_err, dt_max_err_ms, dt_bound_max_err_ms;
};

/* Errors of the predictions against the truth, rounds >= 2 before switchover. */
static void accuracy(const struct run *r, const struct run *rb, const struct qsim *q, struct acc *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->eta_r2_err = -1;
	for (i = 0; i < r->npred; i++) {
		double err = r->pred_total[i] < 0 ? 1 :
			     fabs(r->pred_total[i] - q->switchover_s) / q->switchover_s;

		if (err > a->eta_max_err)
			a->eta_max_err = err;
		if (r->pred_round[i] == 2)
			a->eta_r2_err = err;
		if (r->pred_dt[i] >= 0 && fabs(r->pred_dt[i] - q->downtime_ms) > a->dt_max_err_ms)
			a->dt_max_err_ms = fabs(r->pred_dt[i] - q->downtime_ms);
	}
	for (i = 0; rb && i < rb->npred; i++)
		if (rb->pred_dt[i] >= 0 && fabs(rb->pred_dt[i] - q->downtime_ms) > a->dt_bound_max_err_ms)
			a->dt_bound_max_err_ms = fabs(rb->pred_dt[i] - q->downtime_ms);
}

/* Summary over the table: alarms on migrations that converged, lead times on the stuck ones. */
static struct {
	int converging, stuck;
	int fa_lmtrace, fa_qemu, fa_stall;
	double lead_qemu_sum, lead_stall_sum;
	int lead_qemu_n, lead_stall_n, earlier_qemu, earlier_stall;
	double eta_err_max, dt_err_max;
} sum;

static void summarize(const struct scen *sc, const struct run *r, const struct acc *a, const struct qsim *q)
{
	if (q->converged && !sc->nc_by_round) {
		sum.converging++;
		sum.fa_lmtrace += r->ever_nc;
		sum.fa_qemu += r->base.ac_fire_t >= 0;
		sum.fa_stall += r->base.stall_fire_t >= 0;
		if (!sc->eta_free && a->eta_max_err > sum.eta_err_max)
			sum.eta_err_max = a->eta_max_err;
		if (a->dt_max_err_ms > sum.dt_err_max)
			sum.dt_err_max = a->dt_max_err_ms;
	} else if (sc->nc_by_round && r->ever_nc) {
		sum.stuck++;
		if (r->base.ac_fire_t >= 0) {
			sum.lead_qemu_sum += r->base.ac_fire_t - r->nc_t;
			sum.lead_qemu_n++;
			sum.earlier_qemu += r->base.ac_fire_t > r->nc_t;
		}
		if (r->base.stall_fire_t >= 0) {
			sum.lead_stall_sum += r->base.stall_fire_t - r->nc_t;
			sum.lead_stall_n++;
			sum.earlier_stall += r->base.stall_fire_t > r->nc_t;
		}
	}
}

static void check_scenario(const struct scen *sc, const char *wdir)
{
	static struct run r, rb, r2;
	struct qsim q, qb, q2;
	struct acc a;
	char path[512], name[160];
	FILE *trace = NULL;

	/* with the stop-phase rate known */
	run_init(&r, sc, 1);
	if (wdir) {
		snprintf(path, sizeof(path), "%s/synthetic-%s.obs.txt", wdir, sc->name);
		trace = fopen(path, "w");
		if (trace)
			fprintf(trace, "# synthetic: page-level model of QEMU pre-copy (tests/unit/test_estimator_sim.h),"
				" not a recording\n# scenario %s\n", sc->name);
		r.trace = trace;
	}
	ASSERT_EQ(qsim_run(&q, sc, on_obs, &r), 0, sc->name);
	if (trace) {
		fprintf(trace, "# expect converges=%d", q.converged);
		if (sc->nc_by_round)
			fprintf(trace, " nc_by_round=%d", sc->nc_by_round);
		if (q.converged && !sc->nc_by_round && !sc->eta_free)
			fprintf(trace, " total_s=%.3f", q.switchover_s);
		if (q.converged)
			fprintf(trace, " downtime_ms=%.1f switchover_bw=%.0f", q.downtime_ms,
				sc->link_mibps * 1048576);
		fprintf(trace, "\n");
		fclose(trace);
	}
	/* same trace again, stop-phase rate unknown: downtime is the capped bound */
	run_init(&rb, sc, 0);
	qsim_run(&qb, sc, on_obs, &rb);
	/* and once more with the first config: byte-identical estimates */
	run_init(&r2, sc, 1);
	qsim_run(&q2, sc, on_obs, &r2);
	snprintf(name, sizeof(name), "%s: deterministic", sc->name);
	ASSERT_TRUE(r.hash == r2.hash, name);

	accuracy(&r, &rb, &q, &a);
	summarize(sc, &r, &a, &q);
	if (!q.converged || sc->nc_by_round)	/* no truth to compare with */
		a.eta_r2_err = a.eta_max_err = NAN;
	printf("%-22s %-4s %7.1f %4u | %-14s %5.1f/%-3u | qemu %5.1f/%-3d stall %5.1f/%-3d | "
	       "eta r2 %5.1f%% max %5.1f%% | dt %6.1f ms err %5.1f (cap-bound err %6.1f)\n",
	       sc->name, q.converged ? "conv" : "NC", q.converged ? q.switchover_s : -1, q.round,
	       lm_verdict_name(r.final_verdict), r.ever_nc ? r.nc_t : -1, r.ever_nc ? r.nc_round : 0,
	       r.base.ac_fire_t, r.base.ac_fire_t >= 0 ? (int)r.base.ac_fire_round : 0,
	       r.base.stall_fire_t, r.base.stall_fire_t >= 0 ? (int)r.base.stall_fire_round : 0,
	       a.eta_r2_err * 100, a.eta_max_err * 100, q.downtime_ms, a.dt_max_err_ms,
	       a.dt_bound_max_err_ms);
	if (r.ever_nc)
		printf("%-22s   lmtrace throttle at the verdict: %.0f%%; lead vs qemu trigger %+.1f s, vs stall %+.1f s\n",
		       "", r.throttle_at_nc, r.base.ac_fire_t >= 0 ? r.base.ac_fire_t - r.nc_t : NAN,
		       r.base.stall_fire_t >= 0 ? r.base.stall_fire_t - r.nc_t : NAN);

	snprintf(name, sizeof(name), "%s: feed() returns 1 exactly when the verdict changes", sc->name);
	ASSERT_EQ(r.ret_mismatch, 0, name);
	snprintf(name, sizeof(name), "%s: ground truth", sc->name);
	ASSERT_EQ(q.converged, sc->expect_converge, name);
	if (sc->expect_converge && !sc->nc_by_round) {
		snprintf(name, sizeof(name), "%s: never not-converging", sc->name);
		ASSERT_EQ(r.ever_nc, 0, name);
		snprintf(name, sizeof(name), "%s: no alarm without the stop-phase rate", sc->name);
		ASSERT_EQ(rb.ever_nc, 0, name);
		snprintf(name, sizeof(name), "%s: final verdict", sc->name);
		ASSERT_EQ(r.final_verdict, LM_VERDICT_CONVERGING, name);
		snprintf(name, sizeof(name), "%s: total time within 10%% from round 2", sc->name);
		ASSERT_TRUE(sc->eta_free || a.eta_max_err <= 0.10, name);
		snprintf(name, sizeof(name), "%s: downtime within 50 ms or 30%%", sc->name);
		ASSERT_TRUE(a.dt_max_err_ms <= fmax(50, 0.3 * q.downtime_ms), name);
	}
	if (sc->nc_by_round) {
		snprintf(name, sizeof(name), "%s: not-converging by round %d", sc->name, sc->nc_by_round);
		ASSERT_TRUE(r.ever_nc && r.nc_round <= (uint32_t)sc->nc_by_round, name);
		snprintf(name, sizeof(name), "%s: not later than QEMU's trigger", sc->name);
		ASSERT_TRUE(r.base.ac_fire_t < 0 || (r.ever_nc && r.nc_t <= r.base.ac_fire_t), name);
		snprintf(name, sizeof(name), "%s: not later than the stall rule", sc->name);
		ASSERT_TRUE(r.base.stall_fire_t < 0 || (r.ever_nc && r.nc_t <= r.base.stall_fire_t), name);
	}
	if (sc->r2_verdict) {
		snprintf(name, sizeof(name), "%s: verdict at round 2", sc->name);
		ASSERT_EQ(r.r2_verdict, sc->r2_verdict, name);
	}
	if (sc->expect_converge && sc->nc_by_round) {
		snprintf(name, sizeof(name), "%s: converging once throttled", sc->name);
		ASSERT_EQ(r.final_verdict, LM_VERDICT_CONVERGING, name);
	}
}

/* The recommended throttle applied at the verdict vs QEMU's stock auto-converge. */
static void check_closed_loop(const struct scen *base)
{
	static struct run ra, rl;
	struct scen ac = *base, lm = *base;
	struct qsim qa, ql;
	char name[160];

	ac.autoconverge = 1;
	ac.max_s = lm.max_s = 240;
	lm.apply_reco = 1;
	run_init(&ra, &ac, 1);
	qsim_run(&qa, &ac, on_obs, &ra);
	run_init(&rl, &lm, 1);
	qsim_run(&ql, &lm, on_obs, &rl);
	printf("closed loop %-18s auto-converge: %s %.1f s, %d steps to %d%% | lmtrace: %s %.1f s, %d steps to %d%%\n",
	       base->name, qa.converged ? "done" : "NOT done", qa.converged ? qa.switchover_s : ac.max_s,
	       qa.throttle_steps, qa.throttle, ql.converged ? "done" : "NOT done",
	       ql.converged ? ql.switchover_s : lm.max_s, ql.throttle_steps, ql.throttle);
	snprintf(name, sizeof(name), "%s: recommended throttle converges", base->name);
	ASSERT_TRUE(ql.converged, name);
	snprintf(name, sizeof(name), "%s: fewer steps than auto-converge", base->name);
	ASSERT_TRUE(!qa.converged || ql.throttle_steps < qa.throttle_steps, name);
}

/* Writing a trace as text and parsing it back gives the same estimates. */
static void check_text_roundtrip(const struct scen *sc)
{
	static struct run r;
	struct lm_estimator e;
	struct lm_est_config cfg;
	struct qsim q;
	char *buf = NULL, *line, *save = NULL, err[128];
	size_t len = 0;
	uint64_t h = 1469598103934665603ull;
	int bad = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!ASSERT_TRUE(f != NULL, "open_memstream"))
		return;
	run_init(&r, sc, 1);
	r.trace = f;
	qsim_run(&q, sc, on_obs, &r);
	fclose(f);
	lm_est_config_default(&cfg);
	cfg.switchover_bandwidth_Bps = sc->link_mibps * 1048576;
	lm_est_init(&e, &cfg);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct lm_obs o;
		int ret = obs_text_parse_line(line, &o, err, sizeof(err));

		if (ret < 0) {
			bad++;
			fprintf(stderr, "parse: %s: %s\n", err, line);
		}
		if (ret != 1)
			continue;
		lm_est_feed(&e, &o);
		h = fnv(h, lm_est_current(&e), sizeof(struct lm_estimate));
	}
	free(buf);
	ASSERT_EQ(bad, 0, "text trace parses");
	ASSERT_TRUE(h == r.hash, "text round trip gives identical estimates");
}

int main(int argc, char **argv)
{
	const char *wdir = argc == 3 && !strcmp(argv[1], "-w") ? argv[2] : NULL;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("%-22s %-4s %7s %4s | %-14s %-9s | %-14s %-15s | %-25s | downtime\n", "scenario",
	       "true", "total_s", "syncs", "final verdict", "NC t/rnd", "qemu-ac t/rnd", "stall t/rnd",
	       "predicted total error");
	for (i = 0; i < sizeof(scens) / sizeof(scens[0]); i++)
		check_scenario(&scens[i], wdir);
	check_closed_loop(&scens[1]);
	check_closed_loop(&scens[5]);
	check_closed_loop(&scens[7]);
	printf("summary: %d converging runs: not-converging said by lmtrace %d, QEMU trigger fired %d, "
	       "stall rule fired %d; max total-time error from round 2 %.1f%%, max downtime error %.1f ms\n",
	       sum.converging, sum.fa_lmtrace, sum.fa_qemu, sum.fa_stall, sum.eta_err_max * 100, sum.dt_err_max);
	printf("summary: %d stuck runs: earlier than QEMU's trigger in %d of %d (mean lead %.1f s), "
	       "than the stall rule in %d of %d (mean lead %.1f s)\n", sum.stuck,
	       sum.earlier_qemu, sum.lead_qemu_n, sum.lead_qemu_n ? sum.lead_qemu_sum / sum.lead_qemu_n : 0,
	       sum.earlier_stall, sum.lead_stall_n, sum.lead_stall_n ? sum.lead_stall_sum / sum.lead_stall_n : 0);
	check_text_roundtrip(&scens[0]);
	check_text_roundtrip(&scens[1]);
	return unit_done(argv[0]);
}

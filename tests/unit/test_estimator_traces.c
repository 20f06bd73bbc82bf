// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Replays every checked-in trace in tests/traces/ through the estimator and
 * checks the expectations written next to it:
 *   NAME.obs.txt   text trace (test_estimator_text.h), expectations in a
 *                  "# expect k=v ..." line inside
 *   NAME.lmrec     a recording made with lmtrace -w, expectations in
 *                  NAME.lmrec.expect (one "expect k=v ..." line)
 * Keys: converges=0|1 (1: not-converging is never said and the last verdict
 * is converging; 0: not-converging is said), nc_by_round=N (said at or
 * before sync round N; with converges=1: stuck until a throttle fixed it),
 * total_s=S and downtime_ms=MS (QEMU's total-time and downtime: predicted
 * switchover time + predicted downtime within 10 % of total_s from round 2
 * on, downtime within 50 ms or 30 %),
 * total_tol=F and dt_tol_ms=MS (10 %, and 50 ms or 30 %, unless a known
 * limitation is written next to them),
 * switchover_bw=B/s (stop-phase rate given to the estimator), pid=N (which
 * VM of a multi-VM recording), stationary=0 (the guest or the link changed
 * on purpose: the flap limits below do not apply), predicted_firm=1 (each
 * throttle, cap or limit step during pre-copy gives at once a converging
 * or not-converging verdict marked predicted).
 * On every trace: after the first firm verdict (converging or
 * not-converging) at most MAX_FLIPS_STATIONARY changes that no parameter
 * change explains, and a sync that repeats the previous round (same pages
 * and length within IDENT_PAGES and IDENT_WALL, same parameters) never
 * changes the verdict, except to not-converging (repeats that do not
 * shrink are the evidence of a fixed point).
 * Prints one line per trace with what was measured, and over the real
 * recordings (lab-*) a reliability table: the verdicts published at each
 * sync, by confidence, against what QEMU did under the parameters they were
 * given for (cancelled, or a throttle step by QEMU's auto-converge: not
 * converging; completed: converging).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/estimator.h"
#include "core/units.h"
#include "record/record.h"
#include "unit.h"
#include "test_estimator_text.h"
#include "test_estimator_base.h"

/* Verdict changes after the first firm one that no parameter change explains. */
#define MAX_FLIPS_STATIONARY	1
/* Two rounds are the same round when their pages and lengths differ by less than this. */
#define IDENT_PAGES		0.01
#define IDENT_WALL		0.05
/* Reliability bins of confidence: [0.5,0.6) ... [0.9,1.0]. */
#define CAL_BINS		5
#define CAL_MAX_SAMPLES		4096

struct expect {
	int converges;		/* -1 unset */
	int stationary;		/* 0: the flap limits do not apply */
	int predicted_firm;	/* 1: every parameter step gives a firm verdict marked predicted */
	int nc_by_round;
	double total_s, downtime_ms, switchover_bw, total_tol, dt_tol_ms;
	uint32_t pid;
};

struct replay {
	const char *name;
	struct expect x;
	struct lm_estimator est;
	int inited;
	uint32_t pid, round;
	uint64_t start_ns;
	int ever_nc;
	uint32_t nc_round;
	double nc_t;
	double eta_max_err, dt_max_err;
	int npred, ndt, in_final;
	struct baselines base;
	/* stability */
	enum lm_verdict last_v;
	int firm, flips, flips_params, ident_changes, params_moved;
	uint32_t thr_pct, dt_ms, last_pages;
	uint64_t cap;
	double last_wall;
	int have_params, seg, seg_prev_round, rounds_since_params;
	int steps, steps_predicted_firm, step_now;
	/* calibration: (confidence, verdict, parameter segment) at each sync */
	int ncal;
	struct { double conf; int verdict, seg; } cal[CAL_MAX_SAMPLES];
};

static void expect_parse(const char *line, struct expect *x)
{
	char buf[512], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", line);
	for (tok = strtok_r(buf, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (!strncmp(tok, "converges=", 10))
			x->converges = atoi(tok + 10);
		else if (!strncmp(tok, "nc_by_round=", 12))
			x->nc_by_round = atoi(tok + 12);
		else if (!strncmp(tok, "total_s=", 8))
			x->total_s = atof(tok + 8);
		else if (!strncmp(tok, "downtime_ms=", 12))
			x->downtime_ms = atof(tok + 12);
		else if (!strncmp(tok, "dt_tol_ms=", 10))
			x->dt_tol_ms = atof(tok + 10);
		else if (!strncmp(tok, "total_tol=", 10))
			x->total_tol = atof(tok + 10);
		else if (!strncmp(tok, "switchover_bw=", 14))
			x->switchover_bw = atof(tok + 14);
		else if (!strncmp(tok, "pid=", 4))
			x->pid = (uint32_t)atoi(tok + 4);
		else if (!strncmp(tok, "stationary=", 11))
			x->stationary = atoi(tok + 11);
		else if (!strncmp(tok, "predicted_firm=", 15))
			x->predicted_firm = atoi(tok + 15);
	}
}

static void replay_init(struct replay *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->x.converges = -1;
	r->x.stationary = 1;
	r->x.total_tol = 0.10;
}

/* A new throttle, cap or downtime limit during pre-copy starts a new parameter segment. */
static void note_params(struct replay *r, const struct lm_obs_params *p)
{
	const struct lm_estimate *e = lm_est_current(&r->est);
	int precopy = e->phase == LM_PHASE_BULK || e->phase == LM_PHASE_ITERATIVE;

	/* QEMU resets the throttle once it completed: no new segment then */
	if (r->have_params && precopy && (p->throttle_pct != r->thr_pct || p->max_bandwidth != r->cap ||
			       p->downtime_limit_ms != r->dt_ms)) {
		r->params_moved = 1;
		r->rounds_since_params = 0;
		r->step_now = 1;
		r->seg++;
	}
	r->have_params = 1;
	r->thr_pct = p->throttle_pct;
	r->cap = p->max_bandwidth;
	r->dt_ms = p->downtime_limit_ms;
}

static int is_firm(enum lm_verdict v)
{
	return v == LM_VERDICT_CONVERGING || v == LM_VERDICT_NOT_CONVERGING;
}

/* Verdict changes during pre-copy, the repeated-round check, and one calibration sample per sync. */
static void note_verdict(struct replay *r, const struct lm_obs *o, const struct lm_estimate *e)
{
	int precopy = e->phase == LM_PHASE_BULK || e->phase == LM_PHASE_ITERATIVE;
	int is_round = o->kind == LM_OBS_ROUND && o->round.round >= 2 && !(o->round.flags & LM_ROUND_FINAL);

	/* the predicted verdict and the first round under new parameters: explained by them */
	int explained = r->params_moved && r->rounds_since_params <= 1;

	if (r->step_now) {
		r->step_now = 0;
		r->steps++;
		r->steps_predicted_firm += e->predicted && is_firm(e->verdict);
	}

	if (precopy && e->verdict != r->last_v) {
		if (r->firm && explained)
			r->flips_params++;
		else if (r->firm)
			r->flips++;
		/*
		 * The round before ran under the same parameters too. Repeats
		 * may add up to a fixed point (not-converging), nothing else.
		 */
		if (is_round && r->last_pages && r->seg == r->seg_prev_round &&
		    e->verdict != LM_VERDICT_NOT_CONVERGING &&
		    fabs((double)o->round.dirty_pages - r->last_pages) <= IDENT_PAGES * r->last_pages &&
		    fabs(o->round.duration_ns / 1e9 - r->last_wall) <= IDENT_WALL * r->last_wall)
			r->ident_changes++;
	}
	if (precopy && is_firm(e->verdict))
		r->firm = 1;
	if (precopy)
		r->last_v = e->verdict;
	if (!is_round || !precopy)
		return;
	r->last_pages = o->round.dirty_pages;
	r->last_wall = o->round.duration_ns / 1e9;
	r->seg_prev_round = r->seg;
	r->rounds_since_params++;
	if (is_firm(e->verdict) && r->ncal < CAL_MAX_SAMPLES) {
		r->cal[r->ncal].conf = e->confidence;
		r->cal[r->ncal].verdict = e->verdict;
		r->cal[r->ncal].seg = r->seg;
		r->ncal++;
	}
}

static void replay_feed(struct replay *r, const struct lm_obs *o)
{
	const struct lm_estimate *e;

	if (!r->inited) {
		struct lm_est_config cfg;

		if (r->x.pid && o->pid != r->x.pid)
			return;
		lm_est_config_default(&cfg);
		/* EST_NO_SWITCHOVER_BW=1: as lmtrace without --switchover-bandwidth */
		cfg.switchover_bandwidth_Bps = getenv("EST_NO_SWITCHOVER_BW") ? 0 : r->x.switchover_bw;
		lm_est_init(&r->est, &cfg);
		r->inited = 1;
		r->pid = o->pid;
		r->start_ns = o->ts_ns;
		baselines_init(&r->base, r->est.cfg.page_size);
	}
	if (o->pid != r->pid)
		return;
	/* EST_KERNEL_ONLY=1: what lmtrace says without --qmp (no cap, limit or throttle from QEMU) */
	if (o->kind == LM_OBS_PARAMS && getenv("EST_KERNEL_ONLY"))
		return;
	if (o->kind == LM_OBS_START)
		r->start_ns = o->ts_ns;
	if (getenv("EST_DUMP"))
		obs_text_write(stdout, o);
	if (o->kind == LM_OBS_PARAMS)
		note_params(r, &o->params);
	lm_est_feed(&r->est, o);
	e = lm_est_current(&r->est);
	note_verdict(r, o, e);
	if (getenv("EST_DEBUG") && (o->kind == LM_OBS_ROUND || !strcmp(getenv("EST_DEBUG"), "all")))
		printf("  %7.2f %s r%u %-14s %.2f rate %.1f MiB/s rem %.1f MiB eta %.1f | %s\n",
		       (o->ts_ns - r->start_ns) / 1e9, o->kind == LM_OBS_ROUND ? "ROUND" : "tick ",
		       r->est.last_round, lm_verdict_name(e->verdict), e->confidence, e->tx_rate_Bps / LM_MiB,
		       e->remaining_bytes / LM_MiB, e->eta_s, e->reason);
	if (o->kind == LM_OBS_ROUND) {
		baselines_round(&r->base, &o->round, (o->ts_ns - r->start_ns) / 1e9);
		r->round = o->round.round;
		r->in_final |= !!(o->round.flags & LM_ROUND_FINAL);
	}
	if (e->verdict == LM_VERDICT_NOT_CONVERGING && !r->ever_nc) {
		r->ever_nc = 1;
		r->nc_round = r->round;
		r->nc_t = (o->ts_ns - r->start_ns) / 1e9;
	}
	if (o->kind == LM_OBS_ROUND && o->round.round >= 2 && !r->in_final && r->x.total_s > 0) {
		/* QEMU's total-time runs to the end of the stop phase: switchover + downtime (unless only a bound) */
		double pred = e->total_s + (e->downtime_ms > 0 && !e->downtime_is_bound ? e->downtime_ms / 1e3 : 0);
		double err = e->total_s < 0 ? 1 : fabs(pred - r->x.total_s) / r->x.total_s;

		if (err > r->eta_max_err)
			r->eta_max_err = err;
		r->npred++;
	}
	/* every downtime predicted from round 2 on, throttled runs included */
	if (o->kind == LM_OBS_ROUND && o->round.round >= 2 && !r->in_final && r->x.downtime_ms > 0 &&
	    e->downtime_ms >= 0) {
		if (fabs(e->downtime_ms - r->x.downtime_ms) > r->dt_max_err)
			r->dt_max_err = fabs(e->downtime_ms - r->x.downtime_ms);
		r->ndt++;
	}
}

static struct {
	int conv, fa_lm, fa_qemu, fa_stall, stuck, n_qemu, n_stall;
	double eta_err_max, eta_err_max_10, lead_qemu, lead_stall;
	int cal_n[CAL_BINS], cal_right[CAL_BINS];
	double cal_conf[CAL_BINS];
} sum;

/*
 * What QEMU did under the parameters a verdict was given for: converged if
 * it completed under them (the last segment of a completed run); not if it
 * was cancelled, or if QEMU's auto-converge raised the throttle (it does so
 * only after two periods dirtying more than half of what was sent).
 */
static void calibrate(const struct replay *r)
{
	int i;

	if (strncmp(r->name, "lab-", 4) || r->x.converges < 0)
		return;
	for (i = 0; i < r->ncal; i++) {
		int converged = r->x.converges == 1 && r->cal[i].seg == r->seg;
		int said = r->cal[i].verdict == LM_VERDICT_CONVERGING;
		int bin = (int)((r->cal[i].conf - 0.5) * 10);

		bin = bin < 0 ? 0 : bin >= CAL_BINS ? CAL_BINS - 1 : bin;
		if (getenv("EST_CAL") && said != converged)
			printf("   calibration: %s wrong %s %.2f in segment %d of %d\n", r->name, lm_verdict_name(r->cal[i].verdict),
			       r->cal[i].conf, r->cal[i].seg, r->seg);
		sum.cal_n[bin]++;
		sum.cal_right[bin] += said == converged;
		sum.cal_conf[bin] += r->cal[i].conf;
	}
}

static void print_calibration(void)
{
	int b;

	printf("calibration: firm verdicts at each sync of the lab recordings, against QEMU's outcome\n");
	printf("calibration:   confidence   syncs  mean conf  right\n");
	for (b = 0; b < CAL_BINS; b++)
		printf("calibration:   %.1f-%.1f     %5d     %.3f    %s%.3f\n", 0.5 + b / 10.0, 0.6 + b / 10.0,
		       sum.cal_n[b], sum.cal_n[b] ? sum.cal_conf[b] / sum.cal_n[b] : 0,
		       sum.cal_n[b] ? "" : "-", sum.cal_n[b] ? (double)sum.cal_right[b] / sum.cal_n[b] : 0);
}

static void replay_check(struct replay *r)
{
	const struct lm_estimate *e = lm_est_current(&r->est);
	char name[1200];

	calibrate(r);
	printf("%-44s verdict %-14s (%.2f) NC %s at round %u (%.1f s); eta err max %.1f%% over %d rounds; "
	       "downtime err %.1f ms over %d\n   changes after the first firm verdict: %d (%d after a parameter "
	       "change), %d on a repeated round; %d of %d parameter steps gave a firm predicted verdict\n   baselines: qemu trigger %.1f s (round %u), stall rule %.1f s (round %u)\n"
	       "   reason: %s\n", r->name, lm_verdict_name(e->verdict), e->confidence,
	       r->ever_nc ? "said" : "never", r->nc_round, r->ever_nc ? r->nc_t : -1,
	       r->eta_max_err * 100, r->npred, r->dt_max_err, r->ndt, r->flips, r->flips_params, r->ident_changes,
	       r->steps_predicted_firm, r->steps,
	       r->base.ac_fire_t, r->base.ac_fire_round,
	       r->base.stall_fire_t, r->base.stall_fire_round, e->reason);
	if (r->x.converges == 1 && !r->x.nc_by_round) {
		sum.conv++;
		sum.fa_lm += r->ever_nc;
		sum.fa_qemu += r->base.ac_fire_t >= 0;
		sum.fa_stall += r->base.stall_fire_t >= 0;
		sum.eta_err_max = fmax(sum.eta_err_max, r->eta_max_err);
		if (r->x.total_tol <= 0.10)
			sum.eta_err_max_10 = fmax(sum.eta_err_max_10, r->eta_max_err);
	} else if (r->x.nc_by_round && r->ever_nc) {
		sum.stuck++;
		if (r->base.ac_fire_t >= 0) {
			sum.n_qemu++;
			sum.lead_qemu += r->base.ac_fire_t - r->nc_t;
		}
		if (r->base.stall_fire_t >= 0) {
			sum.n_stall++;
			sum.lead_stall += r->base.stall_fire_t - r->nc_t;
		}
	}
	snprintf(name, sizeof(name), "%s: replayed something", r->name);
	ASSERT_TRUE(r->inited, name);
	if (r->x.converges == 1) {
		/* with nc_by_round too: stuck until a throttle was applied */
		snprintf(name, sizeof(name), "%s: never not-converging", r->name);
		ASSERT_TRUE(r->x.nc_by_round || !r->ever_nc, name);
		snprintf(name, sizeof(name), "%s: converging at the end", r->name);
		ASSERT_EQ(e->verdict, LM_VERDICT_CONVERGING, name);
	} else if (r->x.converges == 0) {
		snprintf(name, sizeof(name), "%s: not-converging said", r->name);
		ASSERT_EQ(r->ever_nc, 1, name);
	}
	if (r->x.nc_by_round) {
		snprintf(name, sizeof(name), "%s: not-converging by round %d", r->name, r->x.nc_by_round);
		ASSERT_TRUE(r->ever_nc && r->nc_round <= (uint32_t)r->x.nc_by_round, name);
	}
	snprintf(name, sizeof(name), "%s: a repeated round never changes the verdict", r->name);
	ASSERT_EQ(r->ident_changes, 0, name);
	if (r->x.stationary) {
		snprintf(name, sizeof(name), "%s: at most %d unexplained change after the first firm verdict",
			 r->name, MAX_FLIPS_STATIONARY);
		ASSERT_TRUE(r->flips <= MAX_FLIPS_STATIONARY, name);
	}
	if (r->x.predicted_firm) {
		snprintf(name, sizeof(name), "%s: every parameter step gives a firm predicted verdict", r->name);
		ASSERT_TRUE(r->steps > 0 && r->steps_predicted_firm == r->steps, name);
	}
	if (r->x.total_s > 0) {
		snprintf(name, sizeof(name), "%s: total within %.0f%% from round 2", r->name, r->x.total_tol * 100);
		ASSERT_TRUE(r->npred > 0 && r->eta_max_err <= r->x.total_tol, name);
	}
	if (r->x.downtime_ms > 0 && r->x.switchover_bw > 0) {
		double tol = r->x.dt_tol_ms > 0 ? r->x.dt_tol_ms : fmax(50, 0.3 * r->x.downtime_ms);

		snprintf(name, sizeof(name), "%s: downtime within %.0f ms", r->name, tol);
		ASSERT_TRUE(r->dt_max_err <= tol, name);
	}
}

static void run_text(const char *path, const char *name)
{
	static struct replay r;
	char line[1024], err[160], msg[1200];
	FILE *f = fopen(path, "r");
	int lineno = 0, bad = 0;
	struct lm_obs o;

	replay_init(&r, name);
	if (!ASSERT_TRUE(f != NULL, name))
		return;
	/* expectations first: they may configure the estimator */
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "# expect ", 9))
			expect_parse(line + 9, &r.x);
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		int ret = obs_text_parse_line(line, &o, err, sizeof(err));

		lineno++;
		if (ret < 0 && bad++ < 3)
			fprintf(stderr, "%s:%d: %s\n", path, lineno, err);
		if (ret == 1)
			replay_feed(&r, &o);
	}
	fclose(f);
	snprintf(msg, sizeof(msg), "%s: every line parses", name);
	ASSERT_EQ(bad, 0, msg);
	replay_check(&r);
}

static void run_lmrec(const char *path, const char *name)
{
	static struct replay r;
	struct lm_record *rec = NULL;
	struct lm_rec_item it;
	char xpath[1100], line[512], err[256], msg[1200];
	FILE *xf;
	int ret;

	replay_init(&r, name);
	snprintf(xpath, sizeof(xpath), "%s.expect", path);
	xf = fopen(xpath, "r");
	if (xf) {
		while (fgets(line, sizeof(line), xf))
			if (!strncmp(line, "expect ", 7))
				expect_parse(line + 7, &r.x);
		fclose(xf);
	}
	ret = lm_record_open(path, &rec, err, sizeof(err));
	snprintf(msg, sizeof(msg), "%s: opens (%s)", name, ret ? err : "ok");
	if (!ASSERT_EQ(ret, 0, msg))
		return;
	while ((ret = lm_record_next(rec, &it)) == 1)
		if (it.type == LM_REC_E_OBS)
			replay_feed(&r, &it.obs);
	snprintf(msg, sizeof(msg), "%s: reads to the end (%s)", name, ret ? lm_record_error(rec) : "ok");
	ASSERT_TRUE(ret == 0 || ret == -ENODATA, msg);
	lm_record_close(rec);
	replay_check(&r);
}

int main(int argc, char **argv)
{
	char dir[512], path[1024];
	struct dirent **ents;
	int i, n, traces = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	n = unit_scan_traces(argc, argv, dir, sizeof(dir), &ents);
	if (n < 0)
		return 1;
	for (i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		size_t len = strlen(nm);

		snprintf(path, sizeof(path), "%s/%s", dir, nm);
		if (len > 8 && !strcmp(nm + len - 8, ".obs.txt")) {
			run_text(path, nm);
			traces++;
		} else if (len > 6 && !strcmp(nm + len - 6, ".lmrec")) {
			run_lmrec(path, nm);
			traces++;
		}
		free(ents[i]);
	}
	free(ents);
	printf("summary: %d converging traces: not-converging said by lmtrace %d, QEMU trigger fired %d, "
	       "stall rule fired %d; max total-time error from round 2 %.1f%% (%.1f%% on those held to 10%%)\n",
	       sum.conv, sum.fa_lm, sum.fa_qemu, sum.fa_stall, sum.eta_err_max * 100, sum.eta_err_max_10 * 100);
	printf("summary: %d stuck traces: mean lead over QEMU's trigger %.1f s (%d fired), over the stall rule "
	       "%.1f s (%d fired)\n", sum.stuck, sum.n_qemu ? sum.lead_qemu / sum.n_qemu : 0, sum.n_qemu,
	       sum.n_stall ? sum.lead_stall / sum.n_stall : 0, sum.n_stall);
	print_calibration();
	ASSERT_TRUE(traces > 0, "at least one trace checked in");
	return unit_done(argv[0]);
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --act on every real lab recording in tests/traces/ (lmtrace -w of a QEMU
 * migration, with QEMU's outcome in the .expect beside it), as a dry run
 * with every policy allowed: a migration QEMU completed without any throttle
 * ("converges=1 total_s=") must get no action at all; one QEMU had to cancel
 * ("converges=0") must get one, a longer downtime limit or a throttle (the
 * cheapest for the guest first), no later than the sync lmtrace must have
 * said not-converging by ("nc_by_round"). The observations are the
 * recording's; the outcomes are fed back as a live dry run would.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/act_policy.h"
#include "core/pipeline.h"
#include "record/record.h"
#include "unit.h"

#define MAX_DECISIONS 16

struct run {
	struct lm_act_decision d[MAX_DECISIONS];
	uint32_t pid[MAX_DECISIONS];
	int n, fed;
	uint32_t configured[LM_PIPE_MAX_VMS];
	int nconfigured;
};

static void on_act(void *ctx, uint32_t pid, const struct lm_act_decision *d)
{
	struct run *r = ctx;

	if (r->n < MAX_DECISIONS) {
		r->d[r->n] = *d;
		r->pid[r->n++] = pid;
	}
}

/* The first observation of each VM comes after its --act settings. */
static void configure(struct lm_pipeline *p, struct run *r, const struct lm_obs *o)
{
	struct lm_obs c = { .kind = LM_OBS_ACT_CONFIG, .pid = o->pid, .ts_ns = o->ts_ns };

	for (int i = 0; i < r->nconfigured; i++)
		if (r->configured[i] == o->pid)
			return;
	if (r->nconfigured < LM_PIPE_MAX_VMS)
		r->configured[r->nconfigured++] = o->pid;
	c.act_config = (struct lm_obs_act_config){
		.policies = LM_ACT_P_THROTTLE | LM_ACT_P_DOWNTIME | LM_ACT_P_POSTCOPY | LM_ACT_P_CANCEL,
		.max_throttle_pct = 80, .max_downtime_ms = 1000, .give_up_after_ms = 60000 };
	lm_pipeline_feed(p, &c);
}

/* Decisions answered as a dry run answers them: at once, after the feed. */
static void answer(struct lm_pipeline *p, struct run *r, uint64_t ts_ns)
{
	for (; r->fed < r->n; r->fed++) {
		struct lm_obs a = { .kind = LM_OBS_ACTION, .pid = r->pid[r->fed], .ts_ns = ts_ns };

		a.action = (struct lm_obs_action){ .action = r->d[r->fed].action,
			.value = r->d[r->fed].value, .round = r->d[r->fed].round,
			.outcome = LM_ACT_DRY_RUN };
		lm_pipeline_feed(p, &a);
	}
}

static int replay(const char *path, struct run *r)
{
	static struct lm_pipeline p;
	struct lm_record *rec;
	struct lm_rec_item it;
	char err[256];
	int ret;

	if (lm_record_open(path, &rec, err, sizeof(err))) {
		UNIT_FAIL(path, "%s", err);
		return -1;
	}
	lm_pipeline_init(&p, lm_record_config(rec));
	lm_pipeline_on_act(&p, on_act, r);
	while ((ret = lm_record_next(rec, &it)) > 0) {
		if (it.type != LM_REC_E_OBS)
			continue;
		configure(&p, r, &it.obs);
		lm_pipeline_feed(&p, &it.obs);
		answer(&p, r, it.obs.ts_ns);
	}
	lm_record_close(rec);
	lm_pipeline_finish(&p);
	return 0;
}

/* "expect converges=N ..." of the .expect file: 1, 0, or -1 (throttled by QEMU or the lab). */
static int expectation(const char *path, int *nc_by_round)
{
	char exp[1100], line[512];
	int alone = -1;
	FILE *f;

	snprintf(exp, sizeof(exp), "%s.expect", path);
	f = fopen(exp, "r");
	if (!f)
		return -2;
	*nc_by_round = 0;
	while (fgets(line, sizeof(line), f)) {
		char *nc = strstr(line, "nc_by_round=");

		if (strncmp(line, "expect ", 7))
			continue;
		if (nc)
			*nc_by_round = atoi(nc + 12);
		if (strstr(line, "converges=1") && strstr(line, "total_s="))
			alone = 1;
		else if (strstr(line, "converges=0"))
			alone = 0;
	}
	fclose(f);
	return alone;
}

int main(int argc, char **argv)
{
	char dir[512], path[1024];
	struct dirent **ents;
	int n, converging = 0, stuck = 0;

	n = unit_scan_traces(argc, argv, dir, sizeof(dir), &ents);
	if (n < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		size_t len = strlen(nm);
		static struct run r;
		int alone, nc_by_round;

		snprintf(path, sizeof(path), "%s/%s", dir, nm);
		if (strncmp(nm, "lab-", 4) || len < 6 || strcmp(nm + len - 6, ".lmrec") ||
		    (alone = expectation(path, &nc_by_round)) < 0) {
			free(ents[i]);
			continue;
		}
		memset(&r, 0, sizeof(r));
		replay(path, &r);
		printf("%-44s %s: %d action(s)%s%s\n", nm, alone ? "converged alone" : "cancelled",
		       r.n, r.n ? ", first " : "", r.n ? lm_act_kind_name(r.d[0].action) : "");
		if (alone) {
			converging++;
			ASSERT_EQ(r.n, 0, nm);
		} else {
			stuck++;
			/* the cheapest for the guest first: a longer limit or a throttle */
			if (ASSERT_TRUE(r.n > 0, nm)) {
				ASSERT_TRUE(r.d[0].action == LM_ACT_THROTTLE ||
					    r.d[0].action == LM_ACT_DOWNTIME, nm);
				if (nc_by_round)
					ASSERT_TRUE(r.d[0].round <= (uint32_t)nc_by_round, nm);
			}
		}
		free(ents[i]);
	}
	free(ents);
	printf("summary: %d recordings that converged alone (no action wanted), %d cancelled ones "
	       "(an action wanted)\n", converging, stuck);
	ASSERT_TRUE(converging > 0 && stuck > 0, "recordings of both kinds checked in");
	return unit_done(argv[0]);
}

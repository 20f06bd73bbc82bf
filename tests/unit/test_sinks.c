// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The sink interface (core/view.h): the dispatcher's typed callbacks and
 * their order, the per-VM slots the pipeline keeps for each sink (zeroed,
 * the same one for every call about a VM, for a sink added after its VMs
 * too, freed after on_forget), and the outputs that show every VM at once
 * letting a retired VM go: the Prometheus file, the live view, and the
 * report with more VMs than it once had room for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sinks/outputs.h"
#include "report/report.h"
#include "synth.h"
#include "unit.h"

static char tmpdir[] = "/tmp/lmtrace-test-sinks.XXXXXX";

/* ---- the dispatcher ----------------------------------------------------- */

static char calls[256];

static void called(const char *what)
{
	snprintf(calls + strlen(calls), sizeof(calls) - strlen(calls), "%s%s", calls[0] ? "," : "", what);
}

#define LOGGER(fn, what, ...) \
	static void fn(struct lm_sink *s, const struct lm_sink_vm *v, ##__VA_ARGS__) { called(what); }
LOGGER(log_update, "update")
LOGGER(log_start, "start", const struct lm_obs_start *x)
LOGGER(log_round, "round", const struct lm_obs_round *x)
LOGGER(log_sample, "sample", const struct lm_obs_tick *x)
LOGGER(log_end, "end", const struct lm_obs_end *x)
LOGGER(log_params, "params", const struct lm_obs_params *x)
LOGGER(log_rate, "dirty_rate", const struct lm_obs_dirty_rate *x)
LOGGER(log_act_config, "act_config", const struct lm_obs_act_config *x)
LOGGER(log_action, "action", const struct lm_obs_action *x)
LOGGER(log_head_start, "head_start", const struct lm_obs_head_start *x)
LOGGER(log_phase, "phase")
LOGGER(log_verdict, "verdict")
LOGGER(log_refresh, "refresh")

static const struct lm_sink logger = {
	.name = "log", .on_update = log_update, .on_start = log_start, .on_round = log_round,
	.on_sample = log_sample, .on_end = log_end, .on_params = log_params,
	.on_dirty_rate = log_rate, .on_act_config = log_act_config, .on_action = log_action,
	.on_head_start = log_head_start, .on_phase = log_phase, .on_verdict = log_verdict,
	.on_refresh = log_refresh,
};

static const char *dispatch(struct lm_sink *s, uint32_t kind, unsigned changed)
{
	struct lm_vm_view view = { .pid = 7 };
	struct lm_obs o = { .kind = kind, .pid = 7 };

	calls[0] = 0;
	lm_sink_dispatch(s, &(struct lm_sink_vm){ .view = &view, .obs = &o, .changed = changed });
	return calls;
}

static void test_dispatch(void)
{
	static const struct { uint32_t kind; unsigned changed; const char *calls; } cases[] = {
		{ LM_OBS_START, 0, "update,start,refresh" },
		{ LM_OBS_ROUND, 0, "update,round" },
		{ LM_OBS_TICK, 0, "update,sample,refresh" },
		{ LM_OBS_END, 0, "update,end,refresh" },
		{ LM_OBS_PARAMS, 0, "update,params" },
		{ LM_OBS_DIRTY_RATE, 0, "update,dirty_rate" },
		{ LM_OBS_ACT_CONFIG, 0, "update,act_config" },
		{ LM_OBS_ACTION, 0, "update,action" },
		{ LM_OBS_HEAD_START, 0, "update,head_start" },
		{ LM_OBS_ROUND, LM_CHANGED_VERDICT, "update,round,verdict,refresh" },
		{ LM_OBS_PARAMS, LM_CHANGED_PHASE, "update,params,phase,refresh" },
		{ LM_OBS_TICK, LM_CHANGED_PHASE | LM_CHANGED_VERDICT,
		  "update,sample,phase,verdict,refresh" },
		{ 99, 0, "update" },	/* a kind no callback is for */
	};
	struct lm_sink s = logger, none = { .name = "none" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_STREQ(dispatch(&s, cases[i].kind, cases[i].changed), cases[i].calls,
			     "typed callbacks, in order");
	/* NULL callbacks: not interested */
	ASSERT_STREQ(dispatch(&none, LM_OBS_TICK, LM_CHANGED_VERDICT), "", "a sink with none set");
	s.on_update = NULL;
	s.on_refresh = NULL;
	ASSERT_STREQ(dispatch(&s, LM_OBS_START, LM_CHANGED_VERDICT), "start,verdict", "some unset");
}

/* ---- per-VM slots ----------------------------------------------------- */

struct slot {
	uint32_t pid;		/* the VM it was first given for */
	uint32_t calls;
};

struct slot_check {
	int bad;		/* a slot not zeroed, or given for another VM */
	int fresh;		/* slots seen zeroed */
	int summaries, forgets;
	const void *forgotten;
};

static void slot_use(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct slot_check *c = s->ctx;
	struct slot *sl = v->state;

	if (!sl) {
		c->bad++;
		return;
	}
	if (!sl->calls) {
		c->fresh++;
		c->bad += sl->pid != 0;
		sl->pid = v->view->pid;
	}
	c->bad += sl->pid != v->view->pid;
	sl->calls++;
}

static void slot_sample(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_tick *t)
{
	slot_use(s, v);
}

static void slot_summary(struct lm_sink *s, const struct lm_sink_vm *v)
{
	((struct slot_check *)s->ctx)->summaries++;
	slot_use(s, v);
}

static void slot_forget(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct slot_check *c = s->ctx;

	slot_use(s, v);
	c->forgets++;
	c->forgotten = v->state;
}

static void feed_obs(struct lm_pipeline *p, uint32_t pid, uint32_t kind, double t)
{
	struct lm_obs o = { .kind = kind, .pid = pid, .ts_ns = (uint64_t)(1764075600e9 + t * 1e9) };

	if (kind == LM_OBS_TICK)
		o.tick.interval_ns = 1000000000;
	lm_pipeline_feed(p, &o);
}

static void test_slots(void)
{
	struct slot_check early = {}, late = {};
	struct lm_sink a = { .name = "early", .ctx = &early, .vm_state_size = sizeof(struct slot),
			     .on_update = slot_use, .on_sample = slot_sample,
			     .on_summary = slot_summary, .on_forget = slot_forget };
	struct lm_sink b = a;
	struct lm_est_config cfg;
	struct lm_pipeline p;

	b.name = "late";
	b.ctx = &late;
	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	ASSERT_EQ(lm_pipeline_add_sink(&p, &a), 0, "add a sink");
	feed_obs(&p, 100, LM_OBS_START, 0);
	feed_obs(&p, 200, LM_OBS_START, 0.5);
	ASSERT_EQ(lm_pipeline_add_sink(&p, &b), 0, "a sink added after its VMs");
	for (int t = 1; t <= 3; t++) {
		feed_obs(&p, 100, LM_OBS_TICK, t);
		feed_obs(&p, 200, LM_OBS_TICK, t);
	}
	ASSERT_EQ(early.fresh, 2, "a zeroed slot per VM");
	ASSERT_EQ(late.fresh, 2, "a zeroed slot per VM for the late sink too");
	lm_pipeline_retire(&p, 100);
	ASSERT_EQ(early.summaries, 1, "the retired VM's summary");
	ASSERT_EQ(early.forgets, 1, "then it is forgotten");
	ASSERT_TRUE(early.forgotten != NULL, "with its slot");
	/* the pid again: a new VM, a new zeroed slot */
	feed_obs(&p, 100, LM_OBS_START, 10);
	ASSERT_EQ(early.fresh, 3, "a reused pid starts from a zeroed slot");
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
	ASSERT_EQ(early.summaries, 3, "a summary per VM at the end");
	ASSERT_EQ(late.summaries, 3, "for every sink");
	ASSERT_EQ(early.bad + late.bad, 0, "each VM's calls get its own slot");
}

/* ---- the outputs that show every VM ------------------------------------ */

static void feed(void *ctx, const struct lm_obs *o)
{
	lm_pipeline_feed(ctx, o);
}

static struct synth model(uint32_t pid)
{
	return (struct synth){ .pid = pid, .t0_ns = 1764075600000000000ull, .ram = 64 << 20,
			       .rate_Bps = 32 << 20, .dirty_Bps = 2 << 20, .wws = 16 << 20,
			       .downtime_s = 0.3, .max_s = 8 };
}

/* A retired VM leaves the Prometheus file and the live view's frame. */
static void test_retire(void)
{
	char path[512], err[256], *text, *buf = NULL, *final;
	struct lm_est_config cfg;
	struct lm_pipeline p;
	struct lm_sink *s;
	size_t len;
	FILE *tty = open_memstream(&buf, &len);

	snprintf(path, sizeof(path), "%s/vms.prom", tmpdir);
	setenv("NO_COLOR", "1", 1);
	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	ASSERT_EQ(lm_sink_prom_file_new(path, &s, err, sizeof(err)), 0, "prom file sink");
	lm_pipeline_add_sink(&p, s);
	ASSERT_EQ(lm_sink_live_new(tty, &s), 0, "live sink");
	lm_pipeline_add_sink(&p, s);
	for (uint32_t pid = 301; pid <= 303; pid++) {
		struct synth m = model(pid);

		synth_run(&m, feed, &p);
	}
	text = unit_slurp(path);
	ASSERT_TRUE(strstr(text, "pid=\"301\"") && strstr(text, "pid=\"303\""), "every VM's series");
	free(text);
	lm_pipeline_retire(&p, 302);
	text = unit_slurp(path);
	ASSERT_TRUE(!strstr(text, "pid=\"302\""), "the retired VM's series gone");
	ASSERT_TRUE(strstr(text, "pid=\"301\"") && strstr(text, "pid=\"303\""), "the others stay");
	ASSERT_TRUE(strstr(text, "pid=\"301\"") < strstr(text, "pid=\"303\""), "in order of appearance");
	free(text);
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
	fclose(tty);
	final = strstr(buf, "(final)");
	if (ASSERT_TRUE(final != NULL, "final frame")) {
		ASSERT_TRUE(strstr(buf, "lmtrace  2 VMs") != NULL, "two VMs left on screen");
		ASSERT_TRUE(strstr(final, "pid 301") && strstr(final, "pid 303"), "their blocks");
		ASSERT_TRUE(!strstr(final, "pid 302"), "not the retired one's");
	}
	free(buf);
}

/*
 * A tick whose byte counter reads below the last: no rate for it, and the
 * view follows the newest reading; the Prometheus counter never goes down.
 */
static void test_tick_counter_back(void)
{
	static const uint64_t tx[] = { 10000000, 7000000, 9000000 };
	char path[512], err[256], *text;
	struct lm_est_config cfg;
	struct lm_pipeline p;
	const struct lm_vm_view *v;
	struct lm_sink *s;
	double rate[3];
	int i;

	snprintf(path, sizeof(path), "%s/back.prom", tmpdir);
	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	ASSERT_EQ(lm_sink_prom_file_new(path, &s, err, sizeof(err)), 0, "prom file sink");
	lm_pipeline_add_sink(&p, s);
	for (i = 0; i < 3; i++) {
		struct lm_obs o = { .kind = LM_OBS_TICK, .pid = 404, .ts_ns = (i + 1) * 1000000000ull };

		o.tick.interval_ns = 1000000000ull;
		o.tick.tx_total = tx[i];
		lm_pipeline_feed(&p, &o);
		v = lm_pipeline_vm(&p, 404);
		rate[i] = v ? v->tx_bytes_per_s : -1;
	}
	ASSERT_TRUE(rate[1] == 0, "the tick that read 3 MB less: rate 0, not 2^64 bytes");
	ASSERT_TRUE(rate[2] == 2000000, "the next from the newest reading: 2 MB/s");
	v = lm_pipeline_vm(&p, 404);
	ASSERT_EQ(v ? v->tx_bytes : 0, 9000000, "bytes sent: the newest reading");
	text = unit_slurp(path);
	ASSERT_TRUE(strstr(text, "lmtrace_tx_bytes_total{pid=\"404\"") &&
		    strstr(strstr(text, "lmtrace_tx_bytes_total{pid=\"404\""), "} 10000000\n"),
		    "Prometheus: the counter stays at its highest, 10000000");
	free(text);
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
}

/* The report charts every VM of a recording: more than the 16 it once kept. */
static void test_report_many(void)
{
	char rec[512], svg[512], err[256], *text, *l;
	struct lm_est_config cfg;
	struct lm_pipeline p;
	struct lm_sink *s;
	int charts = 0;

	snprintf(rec, sizeof(rec), "%s/many.lmrec", tmpdir);
	snprintf(svg, sizeof(svg), "%s/many.svg", tmpdir);
	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	ASSERT_EQ(lm_sink_record_new(rec, &p.cfg, &s, err, sizeof(err)), 0, "record sink");
	lm_pipeline_add_sink(&p, s);
	for (uint32_t pid = 500; pid < 520; pid++) {
		struct synth m = model(pid);

		synth_run(&m, feed, &p);
	}
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "recorded");
	ASSERT_EQ(lm_report_make(rec, svg, LM_REP_SVG, 960, err, sizeof(err)), 0, "report");
	text = unit_slurp(svg);
	for (l = text; (l = strstr(l, "<g id=\"vm-")); l++)
		charts++;
	ASSERT_EQ(charts, 20, "a chart per VM");
	ASSERT_TRUE(strstr(text, "<g id=\"vm-500\">") < strstr(text, "<g id=\"vm-519\">"),
		    "in order of appearance");
	free(text);
}

/* A round whose byte counter read backwards: its bytes are unknown in JSON, CSV and the rows. */
static void test_counter_back_round(void)
{
	struct lm_obs round = { .kind = LM_OBS_ROUND, .pid = 7, .ts_ns = 1764075600000000000ull };
	char *buf[3] = { 0 };
	size_t len[3] = { 0 };
	FILE *f[3];
	struct lm_sink *s[3];
	struct lm_pipeline p;
	struct lm_est_config cfg;
	int i;

	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	for (i = 0; i < 3; i++)
		f[i] = open_memstream(&buf[i], &len[i]);
	ASSERT_EQ(lm_sink_json_new(f[0], &s[0]), 0, "json sink");
	ASSERT_EQ(lm_sink_csv_new(f[1], &s[1]), 0, "csv sink");
	ASSERT_EQ(lm_sink_text_new(f[2], &s[2]), 0, "rows sink");
	for (i = 0; i < 3; i++)
		lm_pipeline_add_sink(&p, s[i]);
	feed_obs(&p, 7, LM_OBS_START, 0);
	round.round.round = 2;
	round.round.dirty_pages = 100;
	round.round.duration_ns = 1000000000;
	round.round.flags = LM_ROUND_COUNTER_BACK;
	lm_pipeline_feed(&p, &round);
	lm_pipeline_finish(&p);
	for (i = 0; i < 3; i++)
		fclose(f[i]);
	ASSERT_TRUE(strstr(buf[0], "\"tx_bytes\":null") && strstr(buf[0], "\"counter_back\":true"),
		    "JSON: tx_bytes null, counter_back true");
	ASSERT_TRUE(strstr(buf[1], ",round,2,100,1.000,,") != NULL, "CSV: round_tx_bytes empty");
	ASSERT_TRUE(strstr(buf[2], "bytes unknown") != NULL, "rows: bytes unknown");
	for (i = 0; i < 3; i++)
		free(buf[i]);
}

int main(int argc, char **argv)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_dispatch();
	test_slots();
	test_retire();
	test_report_many();
	test_counter_back_round();
	test_tick_counter_back();
	unit_tmpdir_done(tmpdir);
	return unit_done(argv[0]);
}

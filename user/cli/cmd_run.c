// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `lmtrace [trace]` and `lmtrace replay`: options -> estimator settings and
 * sinks -> the pipeline, fed live by a tracing session or by a recording.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/check_file.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "sinks/outputs.h"
#include "record/replay.h"
#include "trace/session.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static struct lm_sink *stdout_sink(const struct lm_options *o, int *ret)
{
	struct lm_sink *s = NULL;

	if (o->json)
		*ret = lm_sink_json_new(stdout, &s);
	else if (o->csv)
		*ret = lm_sink_csv_new(stdout, &s);
	else if (isatty(STDOUT_FILENO) && !o->rows)
		*ret = lm_sink_live_new(stdout, &s);
	else
		*ret = lm_sink_text_new(stdout, &s);
	return s;
}

static int add_sinks(const struct lm_options *o, struct lm_pipeline *pipe)
{
	struct lm_sink *s = stdout_sink(o, &(int){ 0 });
	char err[512] = "";
	int ret = s ? lm_pipeline_add_sink(pipe, s) : -ENOMEM;

	if (!ret && o->record_path) {
		ret = lm_sink_record_new(o->record_path, &pipe->cfg, &s, err, sizeof(err));
		if (!ret)
			ret = lm_pipeline_add_sink(pipe, s);
	}
	if (!ret && o->prom_path) {
		ret = lm_sink_prom_file_new(o->prom_path, &s, err, sizeof(err));
		if (!ret)
			ret = lm_pipeline_add_sink(pipe, s);
	}
	if (!ret && o->listen) {
		ret = lm_sink_http_new(o->listen, &s, err, sizeof(err));
		if (!ret)
			ret = lm_pipeline_add_sink(pipe, s);
	}
	if (ret)
		fprintf(stderr, "lmtrace: %s\n", err[0] ? err : strerror(-ret));
	return ret;
}

static void config_from_options(const struct lm_options *o, struct lm_est_config *cfg)
{
	lm_est_config_default(cfg);
	if (o->downtime_limit_ms > 0)
		cfg->downtime_limit_s = o->downtime_limit_ms / 1000.0;
	if (o->bandwidth_Bps > 0)
		cfg->max_bandwidth_Bps = o->bandwidth_Bps;
	if (o->switchover_Bps > 0)
		cfg->switchover_bandwidth_Bps = o->switchover_Bps;
}

static int replay(const struct lm_options *o, struct lm_pipeline *pipe)
{
	char err[512] = "";
	int ret;

	if (o->downtime_limit_ms > 0 || o->bandwidth_Bps > 0 || o->switchover_Bps > 0)
		fprintf(stderr, "lmtrace: note: replay uses the settings recorded live; "
			"--downtime-limit, --bandwidth and --switchover-bandwidth are ignored\n");
	ret = lm_replay(o->replay_path, pipe, err, sizeof(err));
	if (ret)
		fprintf(stderr, "lmtrace: %s\n", err);	/* it names the file */
	return ret;
}

static int trace(const struct lm_options *o, struct lm_pipeline *pipe)
{
	struct lm_obs_act_config act = {
		.policies = o->act_policies, .apply = (uint32_t)o->act_apply,
		.max_throttle_pct = o->max_throttle_pct > 0 ? (uint32_t)o->max_throttle_pct :
							      ACT_MAX_THROTTLE_DEFAULT,
		.max_downtime_ms = o->max_downtime_ms > 0 ? (uint32_t)o->max_downtime_ms : 0,
		.give_up_after_ms = o->give_up_after_s > 0 ? (uint64_t)(o->give_up_after_s * 1000) : 0,
	};
	struct lm_obs check;
	char err[512];
	struct lm_session_opts so = {
		.pids = o->pids, .npids = o->npids, .interval_s = o->interval_s,
		.duration_s = o->duration_s, .port = o->port, .qmp_path = o->qmp_path,
		.verbose = o->verbose, .no_fentry = o->no_fentry, .no_kprobe = o->no_kprobe,
		.no_send_tp = o->no_send_tp, .hooks_always = o->hooks_always, .vms = o->vms, .nvms = o->nvms,
		.act = o->act_policies ? &act : NULL,
	};

	if (o->check_path) {
		if (lm_check_file_load(o->check_path, o->pids[0], o->check_max_age_s, &check,
				       err, sizeof(err))) {
			fprintf(stderr, "lmtrace: %s\n", err);
			return -EINVAL;
		}
		so.check = &check;
	}
	return lm_session_run(&so, pipe, &stop_requested);
}

static int run(int argc, char **argv, enum lm_options_mode mode)
{
	static struct lm_options o;
	static struct lm_pipeline pipe;
	struct sigaction sa = { .sa_handler = on_signal };
	struct lm_est_config cfg;
	int ret, fin;

	lm_options_parse(&o, mode, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	config_from_options(&o, &cfg);
	lm_pipeline_init(&pipe, &cfg);
	if (add_sinks(&o, &pipe))
		return 1;
	/* every way to be asked to stop ends with summaries and a closed recording */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	/* a closed pipe is a write error the pipeline reports, not a silent death */
	signal(SIGPIPE, SIG_IGN);

	ret = o.replay_path ? replay(&o, &pipe) : trace(&o, &pipe);
	fin = lm_pipeline_finish(&pipe);
	if (fin && !ret) {
		fprintf(stderr, "lmtrace: writing output failed: %s\n", strerror(-fin));
		ret = fin;
	}
	return ret ? 1 : 0;
}

int lm_cmd_trace(int argc, char **argv)
{
	return run(argc, argv, LM_OPTS_TRACE);
}

int lm_cmd_replay(int argc, char **argv)
{
	return run(argc, argv, LM_OPTS_REPLAY);
}

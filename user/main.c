// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lmtrace: watch a QEMU/KVM live migration from the host kernel.
 * main() wires options, outputs, the BPF tracer and the per-VM trackers.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "env.h"
#include "outputs.h"
#include "pipeline.h"
#include "procscan.h"
#include "qmp_watch.h"
#include "tracer.h"
#include "vmtrack.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

struct traced_vm {
	struct lm_vmtrack track;
	int pidfd;		/* readable once the process has exited */
};

struct app {
	struct lm_env env;
	struct lm_pipeline pipe;
	struct lm_tracer *tracer;
	struct traced_vm *vms[LM_MAX_VMS];
	int nvms;
	int64_t realtime_offset_ns;
	struct lm_drops drops_seen;
	struct lm_qmp_watch qmp;	/* --qmp, for env.pids[0] */
	int qmp_open;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int64_t realtime_offset_ns(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (int64_t)(rt.tv_sec - mono.tv_sec) * 1000000000ll + (rt.tv_nsec - mono.tv_nsec);
}

static void emit_obs(void *ctx, const struct lm_obs *o)
{
	struct app *app = ctx;

	if (lm_pipeline_feed(&app->pipe, o) == -ENOSPC)
		lm_pipeline_message(&app->pipe, 1, "too many VMs: pid %u not shown", o->pid);
}

static struct traced_vm *find_vm(struct app *app, uint32_t pid)
{
	int i;

	for (i = 0; i < app->nvms; i++)
		if (app->vms[i]->track.pid == pid)
			return app->vms[i];
	return NULL;
}

static int on_event(void *ctx, const struct lm_event *e)
{
	struct app *app = ctx;
	struct traced_vm *vm = find_vm(app, e->pid);

	if (!vm)
		return 0;
	if (e->kind == LM_EV_RESET_RINGS)
		vm->track.source = LM_SRC_RING;
	lm_vmtrack_event(&vm->track, e, emit_obs, app);
	return 0;
}

static int add_vm(struct app *app, pid_t pid)
{
	struct traced_vm *vm;
	char name[64];
	int ret;

	if (app->nvms >= LM_MAX_VMS)
		return -ENOSPC;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (vm->pidfd < 0) {
		ret = -errno;
		free(vm);
		return ret;
	}
	ret = lm_tracer_add_pid(app->tracer, pid);
	if (ret) {
		close(vm->pidfd);
		free(vm);
		return ret;
	}
	lm_vmtrack_init(&vm->track, pid, lm_tracer_source(app->tracer), app->realtime_offset_ns);
	app->vms[app->nvms++] = vm;
	lm_proc_name(pid, name, sizeof(name));
	lm_pipeline_set_name(&app->pipe, pid, name);
	fprintf(stderr, "lmtrace: Tracing pid %d (%s)\n", (int)pid, name);
	return 0;
}

static void remove_vm(struct app *app, int i, uint32_t reason)
{
	struct traced_vm *vm = app->vms[i];
	struct lm_vm_counters sum;
	uint64_t now = mono_ns();

	/* The end first (a pending completion carries an earlier time), then a
	 * last sample so the totals include what was sent since the last tick. */
	lm_vmtrack_finish(&vm->track, now, reason, emit_obs, app);
	if (lm_tracer_counters(app->tracer, vm->track.pid, &sum) == 0)
		lm_vmtrack_tick(&vm->track, now, &sum, emit_obs, app);
	lm_tracer_remove_pid(app->tracer, vm->track.pid);
	close(vm->pidfd);
	free(vm);
	app->vms[i] = app->vms[--app->nvms];
}

/* -p given: each pid must exist and be a VMM. */
static int check_pids(const struct lm_env *env)
{
	int i, ret;

	for (i = 0; i < env->npids; i++) {
		ret = lm_proc_is_vmm(env->pids[i]);
		if (ret == -ESRCH) {
			fprintf(stderr, "lmtrace: pid %d: no such process\n", (int)env->pids[i]);
			return -ESRCH;
		}
		if (ret < 0) {
			fprintf(stderr, "lmtrace: pid %d: cannot read its open files: %s%s\n",
				(int)env->pids[i], strerror(-ret),
				ret == -EACCES ? " (run lmtrace as root)" : "");
			return ret;
		}
		if (ret == 0) {
			char name[64];

			lm_proc_name(env->pids[i], name, sizeof(name));
			fprintf(stderr, "lmtrace: pid %d (%s) is not a VMM: it has neither /dev/kvm "
				"nor a KVM VM open\n", (int)env->pids[i], name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Without -p: pick up VMMs as they appear. */
static void discover_vms(struct app *app)
{
	pid_t pids[LM_MAX_VMS];
	int i, n = lm_proc_find_vmms(pids, LM_MAX_VMS);

	for (i = 0; i < n; i++)
		if (!find_vm(app, pids[i]))
			add_vm(app, pids[i]);
}

static void report_drops(struct app *app)
{
	struct lm_drops d;
	uint64_t lost, before;

	if (lm_tracer_drops(app->tracer, &d))
		return;
	lost = d.ringbuf_full + d.pending_full + d.slot_map_full + d.sock_map_full;
	before = app->drops_seen.ringbuf_full + app->drops_seen.pending_full +
		 app->drops_seen.slot_map_full + app->drops_seen.sock_map_full;
	if (lost > before)
		lm_pipeline_message(&app->pipe, 1, "lost %llu events so far (ring buffer full: %llu, "
				    "ioctl map full: %llu, slot map full: %llu, socket map full: %llu): "
				    "numbers may be low",
				    (unsigned long long)lost, (unsigned long long)d.ringbuf_full,
				    (unsigned long long)d.pending_full, (unsigned long long)d.slot_map_full,
				    (unsigned long long)d.sock_map_full);
	app->drops_seen = d;
}

static void tick(struct app *app, uint64_t now)
{
	struct lm_vm_counters sum;
	int i;

	struct lm_obs params;
	char err[256];

	/* Parameters first: the estimator sees them before the sample. */
	if (app->qmp_open) {
		int ret = lm_qmp_watch_poll(&app->qmp, now + app->realtime_offset_ns, &params,
					    err, sizeof(err));

		if (ret == 1) {
			emit_obs(app, &params);
		} else if (ret < 0) {
			lm_pipeline_message(&app->pipe, 1, "%s; going on without QMP", err);
			lm_qmp_watch_close(&app->qmp);
			app->qmp_open = 0;
		}
	}
	for (i = 0; i < app->nvms; i++) {
		if (lm_tracer_counters(app->tracer, app->vms[i]->track.pid, &sum))
			continue;
		lm_vmtrack_tick(&app->vms[i]->track, now, &sum, emit_obs, app);
	}
	report_drops(app);
}

/* Processes that exited: their last events first, then their end. */
static void reap_exited(struct app *app)
{
	struct pollfd pfd;
	int i;

	for (i = app->nvms - 1; i >= 0; i--) {
		pfd.fd = app->vms[i]->pidfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) <= 0)
			continue;
		lm_tracer_poll(app->tracer, 0);
		fprintf(stderr, "lmtrace: pid %u exited\n", app->vms[i]->track.pid);
		remove_vm(app, i, LM_END_PROC_EXIT);
	}
}

static int trace(struct app *app)
{
	struct lm_tracer_opts topts = {
		.port = app->env.port, .verbose = app->env.verbose,
		.no_fentry = app->env.no_fentry, .no_kprobe = app->env.no_kprobe,
	};
	uint64_t start, now, next_tick, interval_ns = app->env.interval_s * 1e9;
	char err[512];
	int i, ret;

	ret = check_pids(&app->env);
	if (ret)
		return ret;
	if (app->env.qmp_path) {
		ret = lm_qmp_watch_open(&app->qmp, app->env.qmp_path, app->env.pids[0],
					err, sizeof(err));
		if (ret) {
			fprintf(stderr, "lmtrace: %s\n", err);
			return ret;
		}
		app->qmp_open = 1;
	}
	ret = lm_tracer_open(&app->tracer, &topts, on_event, app, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "lmtrace: %s\n", err);
		return ret;
	}
	fprintf(stderr, "lmtrace: %s\n", lm_tracer_describe(app->tracer));
	app->realtime_offset_ns = realtime_offset_ns();
	for (i = 0; i < app->env.npids; i++) {
		ret = add_vm(app, app->env.pids[i]);
		if (ret) {
			fprintf(stderr, "lmtrace: pid %d: cannot trace it: %s\n", (int)app->env.pids[i],
				strerror(-ret));
			return ret;
		}
	}
	if (!app->env.npids) {
		discover_vms(app);
		if (!app->nvms)
			fprintf(stderr, "lmtrace: no process has /dev/kvm open yet; waiting for one\n");
	}
	fprintf(stderr, "lmtrace: Tracing started. Ctrl-C to stop.\n");

	start = now = mono_ns();
	next_tick = start + interval_ns;
	while (!stop_requested) {
		int timeout = (int)((next_tick > now ? next_tick - now : 0) / 1000000);

		ret = lm_tracer_poll(app->tracer, timeout < 20 ? timeout : 20);
		if (ret < 0) {
			fprintf(stderr, "lmtrace: reading events failed: %s\n", strerror(-ret));
			break;
		}
		now = mono_ns();
		for (i = 0; i < app->nvms; i++)
			lm_vmtrack_poll(&app->vms[i]->track, now, emit_obs, app);
		if (now >= next_tick) {
			tick(app, now);
			next_tick += interval_ns;
			if (next_tick < now)
				next_tick = now + interval_ns;
			if (!app->env.npids)
				discover_vms(app);
		}
		reap_exited(app);
		if (app->env.npids && !app->nvms)
			break;	/* every traced VMM is gone */
		if (app->env.duration_s > 0 && now - start >= app->env.duration_s * 1e9)
			break;
	}
	/* Ctrl-C or -d: close what is open, say nothing ended that did not. */
	lm_tracer_poll(app->tracer, 0);
	now = mono_ns();
	for (i = 0; i < app->nvms; i++)
		lm_vmtrack_poll(&app->vms[i]->track, now + LM_END_SETTLE_NS + LM_BURST_GAP_NS + 1,
				emit_obs, app);
	report_drops(app);
	fprintf(stderr, "lmtrace: %llu events lost\n",
		(unsigned long long)(app->drops_seen.ringbuf_full + app->drops_seen.pending_full +
				     app->drops_seen.slot_map_full + app->drops_seen.sock_map_full));
	while (app->nvms)
		remove_vm(app, app->nvms - 1, LM_END_TRACE_STOP);
	if (app->qmp_open)
		lm_qmp_watch_close(&app->qmp);
	return ret < 0 ? ret : 0;
}

static int add_sinks(struct app *app)
{
	struct lm_sink *s;
	char err[512] = "";
	int ret;

	if (app->env.json)
		ret = lm_sink_json_new(stdout, &s);
	else if (app->env.csv)
		ret = lm_sink_csv_new(stdout, &s);
	else if (isatty(STDOUT_FILENO) && !app->env.rows)
		ret = lm_sink_live_new(stdout, &s);
	else
		ret = lm_sink_text_new(stdout, &s);
	if (ret || (ret = lm_pipeline_add_sink(&app->pipe, s)))
		goto fail;
	if (app->env.record_path) {
		ret = lm_sink_record_new(app->env.record_path, &app->pipe.cfg, &s, err, sizeof(err));
		if (ret || (ret = lm_pipeline_add_sink(&app->pipe, s)))
			goto fail;
	}
	if (app->env.prom_path) {
		ret = lm_sink_prom_file_new(app->env.prom_path, &s, err, sizeof(err));
		if (ret || (ret = lm_pipeline_add_sink(&app->pipe, s)))
			goto fail;
	}
	if (app->env.listen) {
		ret = lm_sink_http_new(app->env.listen, &s, err, sizeof(err));
		if (ret || (ret = lm_pipeline_add_sink(&app->pipe, s)))
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "lmtrace: %s\n", err[0] ? err : strerror(-ret));
	return ret;
}

static void config_from_env(const struct lm_env *env, struct lm_est_config *cfg)
{
	lm_est_config_default(cfg);
	if (env->downtime_limit_ms > 0)
		cfg->downtime_limit_s = env->downtime_limit_ms / 1000.0;
	if (env->bandwidth_Bps > 0)
		cfg->max_bandwidth_Bps = env->bandwidth_Bps;
	if (env->switchover_Bps > 0)
		cfg->switchover_bandwidth_Bps = env->switchover_Bps;
}

int main(int argc, char **argv)
{
	static struct app app;
	struct lm_est_config cfg;
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512] = "";
	int ret, fin;

	if (argc > 1 && !strcmp(argv[1], "report"))
		return lm_report_main(argc - 1, argv + 1);
	lm_env_parse(&app.env, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	config_from_env(&app.env, &cfg);
	lm_pipeline_init(&app.pipe, &cfg);
	ret = add_sinks(&app);
	if (ret)
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (app.env.replay_path) {
		if (app.env.downtime_limit_ms > 0 || app.env.bandwidth_Bps > 0 ||
		    app.env.switchover_Bps > 0)
			fprintf(stderr, "lmtrace: note: -r replays with the settings recorded live; "
				"--downtime-limit, --bandwidth and --switchover-bandwidth are ignored\n");
		ret = lm_replay(app.env.replay_path, &app.pipe, err, sizeof(err));
		if (ret)
			fprintf(stderr, "lmtrace: %s\n", err);	/* it names the file */
	} else {
		ret = trace(&app);
	}
	fin = lm_pipeline_finish(&app.pipe);
	if (fin && !ret) {
		fprintf(stderr, "lmtrace: writing output failed: %s\n", strerror(-fin));
		ret = fin;
	}
	lm_tracer_close(app.tracer);
	return ret ? 1 : 0;
}

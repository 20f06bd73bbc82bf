// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `lmtrace check`'s measurements (check_windows.h). lmtrace's tracing
 * session runs in a thread, dirty-log hooks attached from the start (the
 * on-demand hooks would come ~100 ms after QEMU switches logging on, after
 * the window's first sync); a sink of its own catches the dirty-rate
 * records vmtrack makes of calc-dirty-rate's windows, while this thread
 * drives QEMU over QMP.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/pipeline.h"
#include "core/units.h"
#include "core/view.h"
#include "trace/guest_ram.h"
#include "trace/check_windows.h"
#include "trace/procscan.h"
#include "trace/qmp.h"
#include "trace/session.h"

/* The session's sample period: its first sample of a VM says the VM is traced. */
#define SESSION_INTERVAL_S	0.1
/* Loading and attaching the BPF programs takes ~1 s here; this is ample. */
#define TRACER_START_MAX_S	20
/* QEMU answers query-dirty-rate "measured" within this long after the window. */
#define MEASURE_SLACK_S		3
/* vmtrack's record comes once it saw logging off (read every 100 ms) and the window's end settled. */
#define RECORD_WAIT_S		3
#define QUERY_PERIOD_MS		100
/* A window that dirtied at most this much more than the one half its length: U(T) is flat, longer says nothing new. */
#define FLAT_GROWTH		1.05
/* QMP's bound on each command (QEMU answers at once; a held socket times out). */
#define QMP_TIMEOUT_MS		2000
#define RATES_KEPT		LM_CHECK_MAX_WINDOWS

/* What the sink saw of one VM. */
struct seen {
	pid_t pid;
	int ticked;			/* traced: the session sampled it */
	int migrating;			/* a migration started */
	uint64_t page_size;
	uint32_t nrates;
	struct lm_obs_dirty_rate rates[RATES_KEPT];
};

struct capture {
	pthread_mutex_t mu;
	struct seen vm[LM_CHECK_MAX_VMS];
	int n;
	int session_done, session_ret;
	uint32_t warnings;		/* the session's warnings so far (lost events, ...) */
	char last_warning[256];
	volatile sig_atomic_t stop;
	struct lm_session_opts so;
	struct lm_pipeline pipe;
	pid_t pids[LM_CHECK_MAX_VMS];
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct seen *find(struct capture *c, pid_t pid)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (c->vm[i].pid == pid)
			return &c->vm[i];
	return NULL;
}

static void on_update(struct lm_sink *s, const struct lm_sink_vm *sv)
{
	const struct lm_vm_view *vm = sv->view;
	const struct lm_obs *o = sv->obs;
	struct capture *c = s->ctx;
	struct seen *v;

	pthread_mutex_lock(&c->mu);
	v = find(c, (pid_t)o->pid);
	if (v) {
		v->page_size = vm->est.page_size ? vm->est.page_size : LM_PAGE_SIZE_DEFAULT;
		if (o->kind == LM_OBS_TICK)
			v->ticked = 1;
		if (o->kind == LM_OBS_START)
			v->migrating = 1;
		if (o->kind == LM_OBS_DIRTY_RATE && v->nrates < RATES_KEPT)
			v->rates[v->nrates++] = o->dirty_rate;
	}
	pthread_mutex_unlock(&c->mu);
}

/* A warning from the session (lost events): the counts it concerns may be low. */
static void on_message(struct lm_sink *s, int level, const char *msg)
{
	struct capture *c = s->ctx;

	if (level < 1)
		return;
	pthread_mutex_lock(&c->mu);
	c->warnings++;
	snprintf(c->last_warning, sizeof(c->last_warning), "%s", msg);
	pthread_mutex_unlock(&c->mu);
}

static uint32_t warnings_now(struct capture *c)
{
	uint32_t n;

	pthread_mutex_lock(&c->mu);
	n = c->warnings;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* Warnings since mark, the last one into r. */
static uint32_t warnings_since(struct capture *c, uint32_t mark, struct lm_check_result *r)
{
	uint32_t n;

	pthread_mutex_lock(&c->mu);
	n = c->warnings - mark;
	if (n)
		snprintf(r->warning, sizeof(r->warning), "%s", c->last_warning);
	pthread_mutex_unlock(&c->mu);
	return n;
}

static void *session_main(void *arg)
{
	struct capture *c = arg;
	int ret = lm_session_run(&c->so, &c->pipe, &c->stop);

	pthread_mutex_lock(&c->mu);
	c->session_done = 1;
	c->session_ret = ret;
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* A copy of what the sink saw of pid, and whether the session still runs. */
static int snapshot(struct capture *c, pid_t pid, struct seen *out)
{
	int alive;

	pthread_mutex_lock(&c->mu);
	*out = *find(c, pid);
	alive = !c->session_done;
	pthread_mutex_unlock(&c->mu);
	return alive;
}

static int wait_traced(struct capture *c, int n)
{
	double deadline = mono_s() + TRACER_START_MAX_S;
	struct seen v;
	int i, all;

	while (mono_s() < deadline) {
		for (i = 0, all = 1; i < n; i++)
			if (!snapshot(c, c->pids[i], &v))
				return -ECHILD;
			else
				all &= v.ticked;
		if (all)
			return 0;
		sleep_ms(QUERY_PERIOD_MS);
	}
	return -ETIMEDOUT;
}

/* No migration in progress, no dirty-rate measurement running: else why not. */
static int guard(struct lm_qmp *q, struct lm_check_result *r)
{
	static const char *const idle[] = { "none", "completed", "cancelled", "failed" };
	struct lm_qmp_migrate_info mi;
	json_t *ret = NULL;
	size_t i;
	int err;

	err = lm_qmp_query_migrate(q, &mi);
	if (err) {
		snprintf(r->error, sizeof(r->error), "query-migrate failed: %s", strerror(-err));
		return err;
	}
	for (i = 0; i < sizeof(idle) / sizeof(idle[0]); i++)
		if (!strcmp(mi.status, idle[i]))
			break;
	if (i == sizeof(idle) / sizeof(idle[0])) {
		snprintf(r->error, sizeof(r->error), "a migration is in progress (QEMU's status: %s): "
			 "lmtrace check measures only before one; watch it with lmtrace -p %d", mi.status,
			 (int)r->pid);
		return -EBUSY;
	}
	if (!lm_qmp_execute(q, "query-dirty-rate", NULL, &ret)) {
		const char *st = json_string_value(json_object_get(ret, "status"));

		err = st && !strcmp(st, "measuring") ? -EBUSY : 0;
		json_decref(ret);
		if (err) {
			snprintf(r->error, sizeof(r->error), "a dirty-rate measurement is already running "
				 "(calc-dirty-rate): try again when it is done");
			return err;
		}
	}
	return 0;
}

static void read_params(struct lm_qmp *q, struct lm_check_result *r)
{
	struct lm_qmp_migrate_params mp;

	r->max_bandwidth_Bps = r->downtime_limit_ms = -1;
	if (lm_qmp_query_migrate_params(q, &mp) == 0) {
		if (mp.max_bandwidth > 0)
			r->max_bandwidth_Bps = (double)mp.max_bandwidth;
		if (mp.downtime_limit_ms > 0)
			r->downtime_limit_ms = (double)mp.downtime_limit_ms;
	}
	if (lm_qmp_query_ram_size(q, &r->ram_bytes))
		r->ram_bytes = 0;
	if (r->ram_bytes && lm_guest_ram_resident(r->pid, r->ram_bytes, &r->resident_bytes))
		r->resident_bytes = 0;
}

/* calc-dirty-rate over calc_s, then QEMU's answer (MB/s) once it says measured. */
static int qemu_window(struct lm_qmp *q, uint32_t calc_s, double *mbps, struct lm_check_result *r)
{
	json_t *args = json_pack("{s:I, s:s}", "calc-time", (json_int_t)calc_s, "mode", "dirty-bitmap");
	double deadline;
	json_t *ret;
	int err;

	err = args ? lm_qmp_execute(q, "calc-dirty-rate", args, NULL) : -ENOMEM;
	json_decref(args);
	if (err) {
		snprintf(r->error, sizeof(r->error), "calc-dirty-rate (dirty-bitmap mode) failed: %s%s%s",
			 err == -EREMOTEIO ? lm_qmp_error_desc(q) : strerror(-err),
			 err == -EREMOTEIO ? " (QEMU 6.2 or later has this mode)" : "", "");
		return err;
	}
	deadline = mono_s() + calc_s + MEASURE_SLACK_S;
	*mbps = -1;
	while (mono_s() < deadline) {
		sleep_ms(QUERY_PERIOD_MS);
		if (lm_qmp_execute(q, "query-dirty-rate", NULL, &ret))
			continue;
		if (!strcmp(json_string_value(json_object_get(ret, "status")) ?: "", "measured")) {
			json_t *v = json_object_get(ret, "dirty-rate");

			*mbps = json_is_integer(v) ? (double)json_integer_value(v) : -1;
			json_decref(ret);
			return 0;
		}
		json_decref(ret);
	}
	snprintf(r->error, sizeof(r->error), "QEMU did not finish its %u s dirty-rate window in %u s",
		 calc_s, calc_s + MEASURE_SLACK_S);
	return -ETIMEDOUT;
}

/* lmtrace's record of the window QEMU just measured. */
static int traced_window(struct capture *c, uint32_t before, struct lm_check_window *w,
			 struct lm_check_result *r)
{
	double deadline = mono_s() + RECORD_WAIT_S;
	struct seen v;

	while (mono_s() < deadline) {
		int alive = snapshot(c, r->pid, &v);

		if (v.migrating) {
			snprintf(r->error, sizeof(r->error), "a migration started while measuring: "
				 "stopped; lmtrace check measures only before one");
			return -EBUSY;
		}
		if (v.nrates > before) {
			w->window_s = v.rates[before].window_ns / 1e9;
			w->dirty_pages = v.rates[before].dirty_pages;
			r->page_size = v.page_size;
			return 0;
		}
		if (!alive)
			break;
		sleep_ms(QUERY_PERIOD_MS / 2);
	}
	snprintf(r->error, sizeof(r->error), "lmtrace did not see the window's dirty-log syncs "
		 "(lost events, or not a KVM dirty-bitmap VM)");
	return -EIO;
}

/* 1 s, 2 s, 4 s ... while they fit in max_windows_s and U(T) still grows. */
static int next_calc_s(const struct lm_check_result *r, double used_s, double max_s)
{
	int next = r->nwin ? (int)(r->win[r->nwin - 1].calc_time_s * 2) : LM_CHECK_WINDOW_MIN_S;

	if (r->nwin >= LM_CHECK_MAX_WINDOWS || next > LM_CHECK_WINDOW_MAX_S || used_s + next > max_s)
		return 0;
	if (r->nwin >= 2 && r->win[r->nwin - 1].dirty_pages <= FLAT_GROWTH * r->win[r->nwin - 2].dirty_pages)
		return 0;
	return next;
}

static int open_qmp(const struct lm_check_vm *vm, struct lm_qmp **q, struct lm_check_result *r)
{
	int err = lm_qmp_open(q, vm->qmp_path, QMP_TIMEOUT_MS);

	if (err)
		snprintf(r->error, sizeof(r->error), "cannot open QMP socket %s: %s%s", vm->qmp_path,
			 strerror(-err), err == -ETIMEDOUT ? " (another client holds it? QEMU serves one)" : "");
	return err;
}

/*
 * The check asks the QEMU behind the socket to log dirty pages and counts
 * them in pid's VM: they must be one process (SO_PEERCRED names the
 * process that listens, as for --act), else it would measure another VM.
 */
static int same_process(const struct lm_check_vm *vm, struct lm_qmp *q, struct lm_check_result *r)
{
	int peer = lm_qmp_peer_pid(q);

	if (peer == (int)vm->pid)
		return 1;
	if (peer < 0)
		snprintf(r->error, sizeof(r->error), "QMP socket %s: cannot tell which process serves it: %s",
			 vm->qmp_path, strerror(-peer));
	else
		snprintf(r->error, sizeof(r->error), "QMP socket %s is served by pid %d, not by pid %u: give the "
			 "pid of the QEMU whose -qmp socket it is", vm->qmp_path, peer, vm->pid);
	return 0;
}

static void precheck(const struct lm_check_vm *vm, struct lm_check_result *r)
{
	struct lm_qmp *q;

	lm_proc_name(vm->pid, r->name, sizeof(r->name));
	if (open_qmp(vm, &q, r))
		return;
	if (same_process(vm, q, r))
		guard(q, r);
	lm_qmp_close(q);
}

static void check_one(struct capture *c, const struct lm_check_vm *vm, const struct lm_check_opts *o,
		      struct lm_check_result *r)
{
	double start = mono_s(), used = 0;
	uint32_t mark = warnings_now(c);
	struct lm_qmp *q;
	struct seen v;
	int calc;

	if (open_qmp(vm, &q, r))
		return;
	if (!same_process(vm, q, r)) {	/* again: the socket may have changed hands since the precheck */
		lm_qmp_close(q);
		return;
	}
	read_params(q, r);
	while (!*o->stop && (calc = next_calc_s(r, used, o->max_windows_s))) {
		struct lm_check_window *w = &r->win[r->nwin];

		if (guard(q, r))
			break;
		snapshot(c, vm->pid, &v);
		w->calc_time_s = (uint32_t)calc;
		if (qemu_window(q, (uint32_t)calc, &w->qemu_dirty_rate_MBps, r) ||
		    traced_window(c, v.nrates, w, r))
			break;
		used += calc;
		r->nwin++;
	}
	if (!r->error[0] && !r->nwin)
		snprintf(r->error, sizeof(r->error), *o->stop ? "interrupted" : "no window measured");
	r->elapsed_s = mono_s() - start;
	warnings_since(c, mark, r);
	lm_qmp_close(q);
}

int lm_check_run(const struct lm_check_vm *vms, int n, const struct lm_check_opts *o,
		 struct lm_check_result *out, char *err, size_t errlen)
{
	static struct capture c;
	struct lm_sink sink = { .name = "check", .ctx = &c, .on_update = on_update, .on_message = on_message };
	struct lm_est_config cfg;
	pthread_t th;
	int i, m = 0, ret;

	if (n < 1 || n > LM_CHECK_MAX_VMS)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mu, NULL);
	/* refused before anything is loaded: a VM that migrates, or measures already */
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].pid = vms[i].pid;
		out[i].max_bandwidth_Bps = out[i].downtime_limit_ms = -1;
		precheck(&vms[i], &out[i]);
		if (out[i].error[0])
			continue;
		c.pids[m] = vms[i].pid;
		c.vm[m++].pid = vms[i].pid;
	}
	if (!m)
		return 0;
	c.n = m;
	c.so = (struct lm_session_opts){ .pids = c.pids, .npids = m, .interval_s = SESSION_INTERVAL_S,
					 .verbose = o->verbose, .hooks_always = 1 };
	lm_est_config_default(&cfg);
	lm_pipeline_init(&c.pipe, &cfg);
	lm_pipeline_add_sink(&c.pipe, &sink);
	if (pthread_create(&th, NULL, session_main, &c)) {
		snprintf(err, errlen, "cannot start the tracer's thread");
		return -EAGAIN;
	}
	ret = wait_traced(&c, m);
	if (ret)
		snprintf(err, errlen, ret == -ETIMEDOUT ? "the tracer did not start within %d s" :
			 "the tracer stopped (see above)", TRACER_START_MAX_S);
	for (i = 0; !ret && i < n && !*o->stop; i++)
		if (!out[i].error[0])
			check_one(&c, &vms[i], o, &out[i]);
	c.stop = 1;
	pthread_join(th, NULL);
	lm_pipeline_finish(&c.pipe);
	return ret;
}

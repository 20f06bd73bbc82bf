// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reading QEMU's migration parameters over QMP, off the sampling loop. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/model.h"
#include "core/units.h"
#include "trace/qmp.h"
#include "trace/qmp_watch.h"

/* A reply later than this is a slow monitor (the connection stays). */
#define WATCH_TIMEOUT_MS	2000
/* A lost connection is tried again after 1, 2, 4 ... up to this many seconds. */
#define RECONNECT_MAX_S		30

/* query-migrate's status string, as the estimator needs it. */
static uint32_t status_of(const char *s)
{
	static const struct { const char *name; uint32_t status; } map[] = {
		{ "none", LM_QEMU_NONE }, { "setup", LM_QEMU_SETUP }, { "active", LM_QEMU_ACTIVE },
		{ "postcopy-active", LM_QEMU_POSTCOPY }, { "postcopy-paused", LM_QEMU_POSTCOPY },
		{ "postcopy-recover", LM_QEMU_POSTCOPY }, { "pre-switchover", LM_QEMU_STOPPING },
		{ "device", LM_QEMU_STOPPING }, { "completed", LM_QEMU_COMPLETED },
		{ "failed", LM_QEMU_FAILED }, { "cancelling", LM_QEMU_CANCELLED },
		{ "cancelled", LM_QEMU_CANCELLED },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(s, map[i].name))
			return map[i].status;
	return LM_QEMU_UNKNOWN;
}

/* One round of queries; 0 and *p, or -errno with why. */
static int query(struct lm_qmp *q, uint64_t *ram_bytes, struct lm_obs_params *p, char *why,
		 size_t len)
{
	struct lm_qmp_migrate_params mp;
	struct lm_qmp_migrate_info mi;
	int ret;

	ret = lm_qmp_query_migrate_params(q, &mp);
	if (!ret)
		ret = lm_qmp_query_migrate(q, &mi);
	if (!ret && !*ram_bytes)
		ret = lm_qmp_query_ram_size(q, ram_bytes);
	if (ret) {
		snprintf(why, len, "%s%s%s", strerror(-ret), lm_qmp_error_desc(q)[0] ? ": " : "",
			 lm_qmp_error_desc(q));
		return ret;
	}
	memset(p, 0, sizeof(*p));
	p->page_size = mi.ram.page_size ? (uint32_t)mi.ram.page_size : LM_PAGE_SIZE_DEFAULT;
	p->downtime_limit_ms = mp.downtime_limit_ms > 0 ? (uint64_t)mp.downtime_limit_ms :
							  LM_QEMU_DOWNTIME_LIMIT_DEFAULT_MS;
	p->max_bandwidth = mp.max_bandwidth > 0 ? (uint64_t)mp.max_bandwidth : 0;
	p->ram_bytes = *ram_bytes;
	p->throttle_pct = mi.cpu_throttle_pct;
	p->qemu_status = status_of(mi.status);
	return 0;
}

/* Sleeps up to ms unless told to stop; returns 1 when told to stop. */
static int nap(struct lm_qmp_watch *w, uint64_t ms)
{
	struct timespec until;
	int stop;

	/* the wait's clock (init below): a step of the wall clock neither stretches nor cuts it */
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->stop && !w->njobs && pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT)
		;
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

static void publish(struct lm_qmp_watch *w, int state, const struct lm_obs_params *p, const char *why)
{
	pthread_mutex_lock(&w->lock);
	w->state = state;
	if (p) {
		w->latest = *p;
		w->have_latest = 1;
		w->polls_ok++;
	}
	if (why)
		snprintf(w->why, sizeof(w->why), "%s", why);
	pthread_mutex_unlock(&w->lock);
}

/*
 * Carry out the queued actions, in order. They fail without a connection,
 * and on one whose server is no longer the pid checked at open (QEMU gone
 * and another process at the same path): lmtrace acts on no other VM.
 */
static void run_jobs(struct lm_qmp_watch *w, struct lm_qmp *q)
{
	struct lm_act_decision d;
	struct lm_obs_action out;
	char why[LM_QMP_WHY_MAX];
	int other;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		if (!w->njobs) {
			pthread_mutex_unlock(&w->lock);
			return;
		}
		other = q && w->peer_pid > 0 && lm_qmp_peer_pid(q) != w->peer_pid;
		d = w->jobs[0];
		memmove(&w->jobs[0], &w->jobs[1], --w->njobs * sizeof(w->jobs[0]));
		w->running = 1;
		pthread_mutex_unlock(&w->lock);
		if (q && !other) {
			lm_qmp_act_run(q, &w->saved, &d, &out, why, sizeof(why));
		} else {
			memset(&out, 0, sizeof(out));
			out.action = d.action;
			out.value = d.value;
			out.round = d.round;
			out.outcome = LM_ACT_FAILED;
			out.error = other ? -ESRCH : -ENOTCONN;
			snprintf(why, sizeof(why), other ? "the QMP socket is now served by another process: "
				 "not sent" : "no QMP connection (QEMU gone or not answering)");
		}
		pthread_mutex_lock(&w->lock);
		if (w->ndone < LM_QMP_JOBS) {
			w->done[w->ndone] = out;
			snprintf(w->done_why[w->ndone], sizeof(w->done_why[0]), "%s", why);
			w->ndone++;
		}
		w->running = 0;
		pthread_mutex_unlock(&w->lock);
	}
}

static void *watch_thread(void *arg)
{
	struct lm_qmp_watch *w = arg;
	struct lm_obs_params p;
	struct lm_qmp *q = NULL;
	uint64_t ram = 0, backoff_s = 1;
	char why[LM_QMP_WHY_MAX];
	int ret;

	do {
		if (!q) {
			ret = lm_qmp_open(&q, w->path, WATCH_TIMEOUT_MS);
			if (ret) {
				snprintf(why, sizeof(why), "cannot reconnect: %s", strerror(-ret));
				publish(w, LM_QMP_DOWN, NULL, why);
				q = NULL;
				run_jobs(w, NULL);
				if (nap(w, backoff_s * 1000))
					break;
				backoff_s = backoff_s * 2 > RECONNECT_MAX_S ? RECONNECT_MAX_S : backoff_s * 2;
				continue;
			}
			lm_qmp_set_timeout(q, WATCH_TIMEOUT_MS);
			backoff_s = 1;
		}
		run_jobs(w, q);
		ret = query(q, &ram, &p, why, sizeof(why));
		if (!ret) {
			publish(w, LM_QMP_UP, &p, NULL);
		} else if (ret == -ETIMEDOUT) {
			publish(w, LM_QMP_SLOW, NULL, why);	/* QEMU's monitor is busy: wait */
		} else {
			publish(w, LM_QMP_DOWN, NULL, why);
			lm_qmp_close(q);
			q = NULL;
		}
	} while (!nap(w, w->interval_ms));
	run_jobs(w, q);	/* a release queued as lmtrace stops */
	lm_qmp_close(q);
	return NULL;
}

int lm_qmp_watch_open(struct lm_qmp_watch *w, const char *path, uint32_t pid,
		      uint64_t interval_ms, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct lm_qmp *q;
	int ret;

	memset(w, 0, sizeof(*w));
	if (strlen(path) >= sizeof(w->path)) {
		snprintf(err, errlen, "the QMP socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->pid = pid;
	w->interval_ms = interval_ms;
	/* once here, so a wrong or busy socket is a clear error at start */
	ret = lm_qmp_open(&q, path, WATCH_TIMEOUT_MS);
	if (ret) {
		snprintf(err, errlen, "cannot use the QMP socket %s: %s (is it QEMU's -qmp "
			 "unix:PATH,server socket, and free? QEMU serves one client per socket)",
			 path, strerror(-ret));
		return ret;
	}
	w->peer_pid = lm_qmp_peer_pid(q);
	lm_qmp_close(q);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	ret = -pthread_create(&w->thread, NULL, watch_thread, w);
	if (ret)
		snprintf(err, errlen, "cannot start the QMP thread: %s", strerror(-ret));
	return ret;
}

int lm_qmp_watch_poll(struct lm_qmp_watch *w, uint64_t ts_ns, struct lm_obs *out,
		      char *msg, size_t msglen)
{
	struct lm_obs_params now;
	int have, state, changed;
	char why[LM_QMP_WHY_MAX];

	pthread_mutex_lock(&w->lock);
	now = w->latest;
	have = w->have_latest;
	state = w->state;
	snprintf(why, sizeof(why), "%s", w->why);
	pthread_mutex_unlock(&w->lock);
	if (msg && msglen) {
		msg[0] = 0;
		if (state != w->told_state)
			snprintf(msg, msglen, state == LM_QMP_UP ? "QMP answers again" :
				 state == LM_QMP_SLOW ? "QMP is slow (%s); still trying" :
				 "QMP connection lost (%s); reconnecting", why);
		w->told_state = state;
	}
	changed = have && (!w->have_told || memcmp(&now, &w->told, sizeof(now)));
	if (!changed)
		return 0;
	w->told = now;
	w->have_told = 1;
	memset(out, 0, sizeof(*out));
	out->kind = LM_OBS_PARAMS;
	out->pid = w->pid;
	out->ts_ns = ts_ns;
	out->params = now;
	return 1;
}

void lm_qmp_watch_stop(struct lm_qmp_watch *w)
{
	if (w->stopped)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->stopped = 1;
}

void lm_qmp_watch_close(struct lm_qmp_watch *w)
{
	lm_qmp_watch_stop(w);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
}

int lm_qmp_watch_submit(struct lm_qmp_watch *w, const struct lm_act_decision *d)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&w->lock);
	if (w->stop) {
		ret = -ESHUTDOWN;
	} else if (w->njobs < LM_QMP_JOBS) {
		w->jobs[w->njobs++] = *d;
		pthread_cond_signal(&w->wake);
		ret = 0;
	}
	pthread_mutex_unlock(&w->lock);
	return ret;
}

int lm_qmp_watch_outcome(struct lm_qmp_watch *w, struct lm_obs_action *out, char *why, size_t len)
{
	int have;

	pthread_mutex_lock(&w->lock);
	have = w->ndone > 0;
	if (have) {
		*out = w->done[0];
		snprintf(why, len, "%s", w->done_why[0]);
		memmove(&w->done[0], &w->done[1], (w->ndone - 1) * sizeof(w->done[0]));
		memmove(&w->done_why[0], &w->done_why[1], (w->ndone - 1) * sizeof(w->done_why[0]));
		w->ndone--;
	}
	pthread_mutex_unlock(&w->lock);
	return have;
}

int lm_qmp_watch_idle(struct lm_qmp_watch *w)
{
	int idle;

	pthread_mutex_lock(&w->lock);
	idle = !w->njobs && !w->running;
	pthread_mutex_unlock(&w->lock);
	return idle;
}

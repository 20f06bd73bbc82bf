// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `lmtrace report FILE -o chart.svg|chart.html`: replays a recording through
 * the same pipeline as live and -r, collects each VM's series with a sink,
 * and hands them to the drawing code (report_svg.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sinks/outputs.h"
#include "report/report.h"
#include "io/safe_file.h"
#include "record/replay.h"

#define GROW(arr, n, cap) ({							\
	int _ok = 1;								\
	if ((n) == (cap)) {							\
		size_t _c = (cap) ? 2 * (cap) : 64;				\
		void *_p = realloc((arr), _c * sizeof(*(arr)));			\
		if (_p) { (arr) = _p; (cap) = _c; } else _ok = 0;		\
	}									\
	_ok; })

struct collector {
	struct lm_rep *rep;
	int have_t0;
	int oom;
};

static struct lm_rep_vm *rep_vm(struct lm_rep *rep, uint32_t pid)
{
	int i;

	for (i = 0; i < rep->nvms; i++)
		if (rep->vms[i].pid == pid)
			return &rep->vms[i];
	if (rep->nvms == (int)(sizeof(rep->vms) / sizeof(rep->vms[0])))
		return NULL;
	memset(&rep->vms[i], 0, sizeof(rep->vms[i]));
	rep->vms[i].pid = pid;
	rep->vms[i].predicted_switchover_t_s = -1;
	rep->nvms++;
	return &rep->vms[i];
}

static void add_event(struct collector *c, struct lm_rep_vm *v, double t, uint32_t kind,
		      uint32_t value, const char *text)
{
	if (!GROW(v->events, v->nevents, v->cap_events)) {
		c->oom = 1;
		return;
	}
	v->events[v->nevents] = (struct lm_rep_event){ .t_s = t, .kind = kind, .value = value,
						       .seq = (uint32_t)v->nevents };
	snprintf(v->events[v->nevents].text, sizeof(v->events[0].text), "%s", text);
	v->nevents++;
}

static void collect_obs(struct lm_sink *s, const struct lm_obs *o,
			const struct lm_vm_view *vm, unsigned changed)
{
	const struct lm_estimate *e = &vm->est;
	struct collector *c = s->ctx;
	struct lm_rep *rep = c->rep;
	struct lm_rep_vm *v;
	double t;

	if (!c->have_t0) {
		rep->t0_s = o->ts_ns / 1e9;
		c->have_t0 = 1;
	}
	v = rep_vm(rep, o->pid);
	if (!v) {
		if (o->kind == LM_OBS_START)
			rep->skipped_vms++;
		return;
	}
	t = o->ts_ns / 1e9 - rep->t0_s;
	snprintf(v->name, sizeof(v->name), "%s", vm->name);
	/* The estimator's state after every sample and every sync: the
	 * remaining bytes jump at syncs, and short recordings have no ticks. */
	if (o->kind == LM_OBS_TICK || o->kind == LM_OBS_ROUND) {
		if (!GROW(v->samples, v->nsamples, v->cap_samples))
			c->oom = 1;
		else
			v->samples[v->nsamples++] = (struct lm_rep_sample){
				.t_s = t, .dirty_Bps = e->dirty_rate_Bps, .tx_Bps = e->tx_rate_Bps,
				.remaining = e->migrating || e->remaining_bytes ?
					     (double)e->remaining_bytes : -1,
				.verdict = e->verdict, .seq = (uint32_t)v->nsamples,
			};
	}
	switch (o->kind) {
	case LM_OBS_ROUND:
		if (!GROW(v->rounds, v->nrounds, v->cap_rounds)) {
			c->oom = 1;
			break;
		}
		v->rounds[v->nrounds++] = (struct lm_rep_round){
			.t_s = t, .dur_s = o->round.duration_ns / 1e9, .round = o->round.round,
			.flags = o->round.flags, .dirty_pages = o->round.dirty_pages,
			.dirty_Bps = o->round.round >= 2 ? e->dirty_rate_Bps : -1,
			.seq = (uint32_t)v->nrounds,
		};
		break;
	case LM_OBS_START:
		add_event(c, v, t, LM_OBS_START, 0, "migration started");
		break;
	case LM_OBS_END:
		add_event(c, v, t, LM_OBS_END, o->end.reason, lm_end_reason_name(o->end.reason));
		break;
	case LM_OBS_ACTION: {
		char text[LM_REASON_MAX], act[48];

		/* the reason is cut to the event's room */
		snprintf(text, sizeof(text), "%s %s: %.150s",
			 lm_act_fmt(act, sizeof(act), o->action.action, o->action.value),
			 lm_act_outcome_name(o->action.outcome), vm->act_last_reason);
		add_event(c, v, t, LM_OBS_ACTION, o->action.action, text);
		break;
	}
	}
	if (changed & LM_CHANGED_VERDICT)
		add_event(c, v, t, 0, e->verdict, e->reason);
	/*
	 * The prediction to compare with what happened: the one made when the
	 * converging verdict was given (or at the first ETA after it), which
	 * is what an operator would have acted on. Later ETAs only count down.
	 */
	if (e->verdict != LM_VERDICT_CONVERGING)
		v->prediction_pending = 0;
	else if (changed & LM_CHANGED_VERDICT)
		v->prediction_pending = 1;
	if (v->prediction_pending && e->migrating && e->eta_s >= 0) {
		v->predicted_switchover_t_s = t + e->eta_s;
		v->predicted_at_t_s = t;
		v->prediction_pending = 0;
	}
	v->last_t_s = t;
	v->final = *e;
	v->rounds_total = vm->rounds;
	v->tx_bytes = vm->tx_bytes;
	v->dirty_pages = vm->dirty_pages;
	v->ram_bytes = vm->ram_bytes;
	v->downtime_limit_s = vm->est.downtime_limit_s;
}

/* Replay warnings (a recording cut short) go to the user, not the chart. */
static void collect_message(struct lm_sink *s, int level, const char *msg)
{
	if (level > 0)
		fprintf(stderr, "lmtrace report: %s\n", msg);
}

static int collect_close(struct lm_sink *s)
{
	return 0;
}

/*
 * Observations arrive in the order the tracer emits them: a round is known
 * only after its burst ends, so it can follow a later tick. Charts want
 * time order; ties keep arrival order (seq), so the sort is stable.
 */
#define BY_TIME(name, type)							\
	static int name(const void *a, const void *b)				\
	{									\
		const type *x = a, *y = b;					\
		if (x->t_s != y->t_s)						\
			return x->t_s < y->t_s ? -1 : 1;			\
		return x->seq < y->seq ? -1 : x->seq > y->seq;			\
	}
BY_TIME(sample_cmp, struct lm_rep_sample)
BY_TIME(round_cmp, struct lm_rep_round)
BY_TIME(event_cmp, struct lm_rep_event)

static void sort_rep(struct lm_rep *rep)
{
	for (int i = 0; i < rep->nvms; i++) {
		struct lm_rep_vm *v = &rep->vms[i];

		if (v->nsamples)
			qsort(v->samples, v->nsamples, sizeof(v->samples[0]), sample_cmp);
		if (v->nrounds)
			qsort(v->rounds, v->nrounds, sizeof(v->rounds[0]), round_cmp);
		if (v->nevents)
			qsort(v->events, v->nevents, sizeof(v->events[0]), event_cmp);
	}
}

static void free_rep(struct lm_rep *rep)
{
	for (int i = 0; i < rep->nvms; i++) {
		free(rep->vms[i].samples);
		free(rep->vms[i].rounds);
		free(rep->vms[i].events);
	}
}

/* -o naming the recording itself would truncate what is being drawn. */
static int same_file(const char *in, const char *out, char *err, size_t errlen)
{
	struct stat a, b;

	if (stat(in, &a) || stat(out, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return 0;
	snprintf(err, errlen, "refusing to write the chart over the recording %s: choose another -o", in);
	return -EEXIST;
}

int lm_report_make(const char *in, const char *out, enum lm_rep_format fmt, int width,
		   char *err, size_t errlen)
{
	struct collector col = {};
	struct lm_est_config cfg;
	struct lm_pipeline pipe;
	struct lm_sink sink = { .name = "report", .ctx = &col, .on_obs = collect_obs,
				.on_message = collect_message, .close = collect_close };
	struct lm_rep *rep;
	int ret;
	FILE *f;

	rep = calloc(1, sizeof(*rep));
	if (!rep) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rep->source = in;
	col.rep = rep;
	lm_est_config_default(&cfg);
	lm_pipeline_init(&pipe, &cfg);
	lm_pipeline_add_sink(&pipe, &sink);
	ret = lm_replay(in, &pipe, err, errlen);
	lm_pipeline_finish(&pipe);
	if (ret)
		goto cleanup;
	ret = -ENOMEM;
	if (col.oom) {
		snprintf(err, errlen, "out of memory reading %s", in);
		goto cleanup;
	}
	ret = -ENODATA;
	if (!rep->nvms) {
		snprintf(err, errlen, "%s holds no observations: nothing to draw", in);
		goto cleanup;
	}
	sort_rep(rep);
	if (!strcmp(out, "-")) {
		f = stdout;
	} else {
		ret = same_file(in, out, err, errlen);
		if (!ret)
			ret = lm_safe_file_open(out, "chart", &f, err, errlen);
		if (ret)
			goto cleanup;
	}
	ret = lm_report_write(rep, f, fmt, width);
	if (f == stdout) {
		if (fflush(f) && !ret)
			ret = errno ? -errno : -EIO;
	} else {
		int cret = lm_safe_file_close(f);

		ret = ret ? ret : cret;
	}
	if (ret)
		snprintf(err, errlen, "writing chart %s failed: %s", out, strerror(-ret));
cleanup:
	free_rep(rep);
	free(rep);
	return ret;
}

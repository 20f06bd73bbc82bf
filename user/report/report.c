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
/* GROW, and out of memory noted in the collector c. */
#define ROOM(c, arr, n, cap)	(GROW(arr, n, cap) || ((c)->oom = 1, 0))

struct collector {
	struct lm_rep *rep;
	int have_t0;
	int oom;
};

/* Per VM (the sink's slot): where its series go. */
struct collect_vm {
	struct lm_rep_vm *v;
};

/* The VM's series, made at its first observation; NULL out of memory. */
static struct lm_rep_vm *rep_vm(struct collector *c, const struct lm_sink_vm *sv)
{
	struct collect_vm *cv = sv->state;
	struct lm_rep *rep = c->rep;
	struct lm_rep_vm *v;

	if (cv->v || c->oom)
		return cv->v;
	v = calloc(1, sizeof(*v));
	if (!v || !ROOM(c, rep->vms, rep->nvms, rep->cap_vms)) {
		free(v);
		c->oom = 1;
		return NULL;
	}
	v->pid = sv->view->pid;
	v->predicted_switchover_t_s = -1;
	rep->vms[rep->nvms++] = v;
	cv->v = v;
	return v;
}

/* The VM's series (NULL: none, out of memory). */
static struct lm_rep_vm *series(const struct lm_sink_vm *sv)
{
	return ((const struct collect_vm *)sv->state)->v;
}

/* Seconds since the recording's first observation. */
static double rel_t(const struct collector *c, const struct lm_sink_vm *sv)
{
	return sv->ts_s - c->rep->t0_s;
}

static void add_event(struct collector *c, const struct lm_sink_vm *sv, uint32_t kind,
		      uint32_t value, const char *text)
{
	struct lm_rep_vm *v = series(sv);

	if (!v || !ROOM(c, v->events, v->nevents, v->cap_events))
		return;
	v->events[v->nevents] = (struct lm_rep_event){ .t_s = rel_t(c, sv), .kind = kind,
						       .value = value, .seq = (uint32_t)v->nevents };
	snprintf(v->events[v->nevents].text, sizeof(v->events[0].text), "%s", text);
	v->nevents++;
}

/*
 * The prediction to compare with what happened: the one made when the
 * converging verdict was given (or at the first ETA after it), which is
 * what an operator would have acted on. Later ETAs only count down.
 */
static void note_prediction(struct lm_rep_vm *v, const struct lm_estimate *e, double t,
			    unsigned changed)
{
	if (e->verdict != LM_VERDICT_CONVERGING)
		v->prediction_pending = 0;
	else if (changed & LM_CHANGED_VERDICT)
		v->prediction_pending = 1;
	if (v->prediction_pending && e->migrating && e->eta_s >= 0) {
		v->predicted_switchover_t_s = t + e->eta_s;
		v->predicted_at_t_s = t;
		v->prediction_pending = 0;
	}
}

/* Every observation: the VM's name, its prediction and its latest totals. */
static void collect_update(struct lm_sink *s, const struct lm_sink_vm *sv)
{
	const struct lm_vm_view *vm = sv->view;
	struct collector *c = s->ctx;
	struct lm_rep_vm *v;

	if (!c->have_t0) {
		c->rep->t0_s = sv->ts_s;
		c->have_t0 = 1;
	}
	v = rep_vm(c, sv);
	if (!v)
		return;
	snprintf(v->name, sizeof(v->name), "%s", vm->name);
	note_prediction(v, &vm->est, rel_t(c, sv), sv->changed);
	v->last_t_s = rel_t(c, sv);
	v->final = vm->est;
	v->rounds_total = vm->rounds;
	v->tx_bytes = vm->tx_bytes;
	v->dirty_pages = vm->dirty_pages;
	v->ram_bytes = vm->ram_bytes;
	v->downtime_limit_s = vm->est.downtime_limit_s;
}

/* The estimator's state after every sample and every sync: the remaining
 * bytes jump at syncs, and short recordings have no ticks. */
static void add_sample(struct collector *c, const struct lm_sink_vm *sv)
{
	const struct lm_estimate *e = &sv->view->est;
	struct lm_rep_vm *v = series(sv);

	if (!v || !ROOM(c, v->samples, v->nsamples, v->cap_samples))
		return;
	v->samples[v->nsamples++] = (struct lm_rep_sample){
		.t_s = rel_t(c, sv), .dirty_Bps = e->dirty_rate_Bps, .tx_Bps = e->tx_rate_Bps,
		.remaining = e->migrating || e->remaining_bytes ? (double)e->remaining_bytes : -1,
		.verdict = e->verdict, .seq = (uint32_t)v->nsamples,
	};
}

static void collect_sample(struct lm_sink *s, const struct lm_sink_vm *sv,
			   const struct lm_obs_tick *t)
{
	add_sample(s->ctx, sv);
}

static void collect_round(struct lm_sink *s, const struct lm_sink_vm *sv,
			  const struct lm_obs_round *r)
{
	struct lm_rep_vm *v = series(sv);
	struct collector *c = s->ctx;

	add_sample(c, sv);
	if (!v || !ROOM(c, v->rounds, v->nrounds, v->cap_rounds))
		return;
	v->rounds[v->nrounds++] = (struct lm_rep_round){
		.t_s = rel_t(c, sv), .dur_s = r->duration_ns / 1e9, .round = r->round,
		.flags = r->flags, .dirty_pages = r->dirty_pages,
		.dirty_Bps = r->round >= 2 ? sv->view->est.dirty_rate_Bps : -1,
		.seq = (uint32_t)v->nrounds,
	};
}

static void collect_start(struct lm_sink *s, const struct lm_sink_vm *sv,
			  const struct lm_obs_start *st)
{
	add_event(s->ctx, sv, LM_OBS_START, 0, "migration started");
}

static void collect_end(struct lm_sink *s, const struct lm_sink_vm *sv, const struct lm_obs_end *e)
{
	add_event(s->ctx, sv, LM_OBS_END, e->reason, lm_end_reason_name(e->reason));
}

static void collect_action(struct lm_sink *s, const struct lm_sink_vm *sv,
			   const struct lm_obs_action *a)
{
	char text[LM_REASON_MAX], act[48];

	/* the reason is cut to the event's room */
	snprintf(text, sizeof(text), "%s %s: %.150s", lm_act_fmt(act, sizeof(act), a->action, a->value),
		 lm_act_outcome_name(a->outcome), sv->view->act_last_reason);
	add_event(s->ctx, sv, LM_OBS_ACTION, a->action, text);
}

static void collect_verdict(struct lm_sink *s, const struct lm_sink_vm *sv)
{
	add_event(s->ctx, sv, 0, sv->view->est.verdict, sv->view->est.reason);
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

/* The collector's callbacks; its ctx is a struct collector. */
static const struct lm_sink collector_sink = {
	.name = "report", .vm_state_size = sizeof(struct collect_vm),
	.on_update = collect_update, .on_sample = collect_sample, .on_round = collect_round,
	.on_start = collect_start, .on_end = collect_end, .on_action = collect_action,
	.on_verdict = collect_verdict, .on_message = collect_message, .close = collect_close,
};

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
		struct lm_rep_vm *v = rep->vms[i];

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
		free(rep->vms[i]->samples);
		free(rep->vms[i]->rounds);
		free(rep->vms[i]->events);
		free(rep->vms[i]);
	}
	free(rep->vms);
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

/* The chart to out ("-": standard output), and the write's error in err. */
static int write_chart(const struct lm_rep *rep, const char *in, const char *out, enum lm_rep_format fmt,
		       int width, char *err, size_t errlen)
{
	FILE *f = stdout;
	int ret;

	if (strcmp(out, "-")) {
		ret = same_file(in, out, err, errlen);
		if (!ret)
			ret = lm_safe_file_open(out, "chart", &f, err, errlen);
		if (ret)
			return ret;
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
	return ret;
}

int lm_report_make(const char *in, const char *out, enum lm_rep_format fmt, int width,
		   char *err, size_t errlen)
{
	struct collector col = {};
	struct lm_est_config cfg;
	struct lm_pipeline pipe;
	struct lm_sink sink = collector_sink;
	struct lm_rep *rep;
	int ret;

	rep = calloc(1, sizeof(*rep));
	if (!rep) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rep->source = in;
	col.rep = rep;
	sink.ctx = &col;
	lm_est_config_default(&cfg);
	lm_pipeline_init(&pipe, &cfg);
	lm_pipeline_add_sink(&pipe, &sink);
	ret = lm_replay(in, &pipe, err, errlen);
	lm_pipeline_finish(&pipe);
	if (!ret && col.oom) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory reading %s", in);
	} else if (!ret && !rep->nvms) {
		ret = -ENODATA;
		snprintf(err, errlen, "%s holds no observations: nothing to draw", in);
	} else if (!ret) {
		sort_rep(rep);
		ret = write_chart(rep, in, out, fmt, width, err, errlen);
	}
	free_rep(rep);
	free(rep);
	return ret;
}

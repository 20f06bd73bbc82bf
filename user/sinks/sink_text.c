// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Plain rows for pipes and logs: one row per interval and VM; rounds,
 * migration start/end and the verdict changes as '#' lines in between.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sinks/outputs.h"
#include "sinks/sink_new.h"
#include "sinks/text_fmt.h"

struct text_sink {
	int header_done;
};

static const char *hhmmss(double ts_s, char *buf, size_t len)
{
	time_t t = (time_t)ts_s;
	struct tm tm;

	strftime(buf, len, "%H:%M:%S", localtime_r(&t, &tm));
	return buf;
}

/* A '#' line about the VM at the observation's time, written at once. */
static void note(struct lm_sink *s, const struct lm_sink_vm *v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(struct lm_sink *s, const struct lm_sink_vm *v, const char *fmt, ...)
{
	char t[16];
	va_list ap;

	fprintf(s->out, "# %s pid %u: ", hhmmss(v->ts_s, t, sizeof(t)), v->view->pid);
	va_start(ap, fmt);
	vfprintf(s->out, fmt, ap);
	va_end(ap);
	fflush(s->out);
}

static void text_on_start(struct lm_sink *s, const struct lm_sink_vm *v,
			  const struct lm_obs_start *st)
{
	note(s, v, "migration started, %.1f MiB under dirty logging%s%s%s\n",
	     st->ram_bytes / LM_MiB, st->late ? " (already running when attached)" : "",
	     st->flags & LM_START_SYNC_UNSEEN ? " (its initial sync ran before the dirty-log "
	     "hooks attached: start time to the VM-state reading period)" : "",
	     st->flags & LM_START_NO_STREAM ? "; no migration stream seen (exec: or a pipe?): "
	     "bytes, rates and its end are unknown, rounds and pages exact" : "");
}

static void text_on_end(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_end *e)
{
	note(s, v, "migration ended (%s)\n", lm_end_reason_name(e->reason));
}

static void text_on_round(struct lm_sink *s, const struct lm_sink_vm *v,
			  const struct lm_obs_round *r)
{
	char sent[32];

	if (r->flags & LM_ROUND_COUNTER_BACK)
		snprintf(sent, sizeof(sent), "bytes unknown");
	else
		snprintf(sent, sizeof(sent), "%.1f MiB sent", r->tx_bytes / LM_MiB);
	note(s, v, "round %u: %llu pages (%.1f MiB) dirty in %.2f s, %s%s%s%s\n",
	     r->round, (unsigned long long)r->dirty_pages,
	     r->dirty_pages * (double)v->view->est.page_size / LM_MiB, r->duration_ns / 1e9, sent,
	     r->flags & LM_ROUND_UNSEEN ? " (initial sync, before the hooks attached: "
	     "all logged RAM)" : r->round == 1 ? " (initial sync: all RAM)" : "",
	     r->flags & LM_ROUND_SAMPLED ? " (sampled)" : "",
	     r->flags & LM_ROUND_COUNTER_BACK ? " (the byte counter read below the last sync's)" : "");
}

static void text_on_dirty_rate(struct lm_sink *s, const struct lm_sink_vm *v,
			       const struct lm_obs_dirty_rate *d)
{
	const struct lm_vm_view *vm = v->view;
	char rate[16];

	note(s, v, "dirty-rate measurement, not a migration: %llu pages (%.1f MiB) "
	     "dirtied in %.2f s, %s MiB/s, %.1f MiB logged\n",
	     (unsigned long long)d->dirty_pages,
	     d->dirty_pages * (double)vm->est.page_size / LM_MiB, d->window_ns / 1e9,
	     lm_fmt_num(rate, sizeof(rate), vm->measured_dirty_Bps >= 0 ?
			vm->measured_dirty_Bps / LM_MiB : -1, 1, ""),
	     d->ram_bytes / LM_MiB);
}

static void text_on_action(struct lm_sink *s, const struct lm_sink_vm *v,
			   const struct lm_obs_action *a)
{
	char act[48];

	note(s, v, "act: %s %s (decided at round %u)%s%s: %s\n",
	     lm_act_fmt(act, sizeof(act), a->action, a->value),
	     lm_act_outcome_name(a->outcome), a->round,
	     a->error ? ": " : "", a->error ? strerror(-a->error) : "", v->view->act_last_reason);
}

static void text_on_sample(struct lm_sink *s, const struct lm_sink_vm *v,
			   const struct lm_obs_tick *tick)
{
	const struct lm_estimate *e = &v->view->est;
	char t[16], dirty[16], eta[16], dt[16], thr[16];
	struct text_sink *ts = s->ctx;
	FILE *f = s->out;

	if (!ts->header_done) {
		fprintf(f, "%-8s %7s %5s %12s %10s %11s %-14s %6s %11s %8s\n", "TIME", "PID",
			"ROUND", "DIRTY(MiB/s)", "TX(MiB/s)", "REMAIN(MiB)", "VERDICT", "ETA(s)",
			"DOWNTIME(ms)", "THROTTLE%");
		ts->header_done = 1;
	}
	fprintf(f, "%-8s %7u %5u %12s %10.1f %11.1f %-14s %6s %11s %8s\n",
		hhmmss(v->ts_s, t, sizeof(t)), v->view->pid,
		tick->rounds, lm_fmt_num(dirty, sizeof(dirty), e->dirty_rate_Bps >= 0 ?
					 e->dirty_rate_Bps / LM_MiB : -1, 1, ""),
		v->view->tx_bytes_per_s / LM_MiB, e->remaining_bytes / LM_MiB,
		lm_verdict_name(e->verdict), lm_fmt_num(eta, sizeof(eta), e->eta_s, 1, ""),
		lm_fmt_num(dt, sizeof(dt), e->downtime_ms, 0, ""),
		lm_fmt_num(thr, sizeof(thr), e->throttle_pct, 0, ""));
	fflush(f);
}

static void text_on_phase(struct lm_sink *s, const struct lm_sink_vm *v)
{
	const struct lm_estimate *e = &v->view->est;

	note(s, v, "phase %s (was %s; said by %s): %s\n",
	     lm_phase_name(e->phase), lm_phase_name(v->view->previous_phase),
	     e->phase_from_qmp ? "QEMU's status" : "the kernel's signals", e->reason);
}

static void text_on_verdict(struct lm_sink *s, const struct lm_sink_vm *v)
{
	const struct lm_estimate *e = &v->view->est;

	note(s, v, "verdict %s (%.0f%%): %s\n",
	     lm_verdict_name(e->verdict), e->confidence * 100, e->reason);
}

static void text_on_summary(struct lm_sink *s, const struct lm_sink_vm *v)
{
	const struct lm_vm_view *vm = v->view;
	const struct lm_estimate *e = &vm->est;

	fprintf(s->out, "# summary pid %u%s%s: %u rounds, %llu dirty pages (%.1f MiB) after the initial sync, "
		"%.1f MiB sent, %u migration(s), last ended: %s, last verdict: %s\n",
		vm->pid, vm->name[0] ? " " : "", vm->name, vm->rounds,
		(unsigned long long)vm->dirty_pages,
		vm->dirty_pages * (double)vm->est.page_size / LM_MiB, vm->tx_bytes / LM_MiB,
		vm->migrations, vm->migrations ? lm_end_reason_name(vm->end_reason) : "none",
		lm_verdict_name(e->verdict));
	fflush(s->out);
}

static void text_on_message(struct lm_sink *s, int level, const char *msg)
{
	fprintf(s->out, "# %s%s\n", level >= 2 ? "error: " : level == 1 ? "warning: " : "", msg);
	fflush(s->out);
}

static const struct lm_sink text_proto = {
	.name = "text",
	.on_start = text_on_start, .on_round = text_on_round, .on_sample = text_on_sample,
	.on_end = text_on_end, .on_dirty_rate = text_on_dirty_rate, .on_action = text_on_action,
	.on_phase = text_on_phase, .on_verdict = text_on_verdict, .on_summary = text_on_summary,
	.on_message = text_on_message, .close = lm_sink_stream_close,
};

int lm_sink_text_new(FILE *f, struct lm_sink **out)
{
	return lm_sink_new(&text_proto, sizeof(struct text_sink), f, out);
}

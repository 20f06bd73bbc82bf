// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Plain rows for pipes and logs: one row per interval and VM; rounds,
 * migration start/end and the verdict changes as '#' lines in between.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sinks/outputs.h"
#include "sinks/text_fmt.h"

struct text_sink {
	FILE *f;
	int header_done;
};

static const char *hhmmss(double ts_s, char *buf, size_t len)
{
	time_t t = (time_t)ts_s;
	struct tm tm;

	strftime(buf, len, "%H:%M:%S", localtime_r(&t, &tm));
	return buf;
}

static void text_on_obs(struct lm_sink *s, const struct lm_obs *o,
			const struct lm_vm_view *vm, unsigned changed)
{
	struct text_sink *ts = s->ctx;
	const struct lm_estimate *e = &vm->est;
	char t[16], dirty[16], eta[16], dt[16], thr[16], act[48];
	FILE *f = ts->f;

	hhmmss(o->ts_ns / 1e9, t, sizeof(t));
	switch (o->kind) {
	case LM_OBS_START:
		fprintf(f, "# %s pid %u: migration started, %.1f MiB under dirty logging%s%s%s\n", t,
			o->pid, o->start.ram_bytes / LM_MiB, o->start.late ? " (already running when attached)" : "",
			o->start.flags & LM_START_SYNC_UNSEEN ? " (its initial sync ran before the dirty-log "
			"hooks attached: start time to the VM-state reading period)" : "",
			o->start.flags & LM_START_NO_STREAM ? "; no migration stream seen (exec: or a pipe?): "
			"bytes, rates and its end are unknown, rounds and pages exact" : "");
		break;
	case LM_OBS_END:
		fprintf(f, "# %s pid %u: migration ended (%s)\n", t, o->pid,
			lm_end_reason_name(o->end.reason));
		break;
	case LM_OBS_ROUND:
		fprintf(f, "# %s pid %u: round %u: %llu pages (%.1f MiB) dirty in %.2f s, %.1f MiB sent%s%s\n",
			t, o->pid, o->round.round, (unsigned long long)o->round.dirty_pages,
			o->round.dirty_pages * (double)vm->est.page_size / LM_MiB,
			o->round.duration_ns / 1e9, o->round.tx_bytes / LM_MiB,
			o->round.flags & LM_ROUND_UNSEEN ? " (initial sync, before the hooks attached: "
			"all logged RAM)" : o->round.round == 1 ? " (initial sync: all RAM)" : "",
			o->round.flags & LM_ROUND_SAMPLED ? " (sampled)" : "");
		break;
	case LM_OBS_DIRTY_RATE:
		fprintf(f, "# %s pid %u: dirty-rate measurement, not a migration: %llu pages (%.1f MiB) "
			"dirtied in %.2f s, %s MiB/s, %.1f MiB logged\n", t, o->pid,
			(unsigned long long)o->dirty_rate.dirty_pages,
			o->dirty_rate.dirty_pages * (double)vm->est.page_size / LM_MiB,
			o->dirty_rate.window_ns / 1e9,
			lm_fmt_num(dirty, sizeof(dirty), vm->measured_dirty_Bps >= 0 ?
				   vm->measured_dirty_Bps / LM_MiB : -1, 1, ""),
			o->dirty_rate.ram_bytes / LM_MiB);
		break;
	case LM_OBS_ACTION:
		fprintf(f, "# %s pid %u: act: %s %s (decided at round %u)%s%s: %s\n", t, o->pid,
			lm_act_fmt(act, sizeof(act), o->action.action, o->action.value),
			lm_act_outcome_name(o->action.outcome), o->action.round,
			o->action.error ? ": " : "", o->action.error ? strerror(-o->action.error) : "",
			vm->act_last_reason);
		break;
	case LM_OBS_TICK:
		if (!ts->header_done) {
			fprintf(f, "%-8s %7s %5s %12s %10s %11s %-14s %6s %11s %8s\n", "TIME", "PID",
				"ROUND", "DIRTY(MiB/s)", "TX(MiB/s)", "REMAIN(MiB)", "VERDICT", "ETA(s)",
				"DOWNTIME(ms)", "THROTTLE%");
			ts->header_done = 1;
		}
		fprintf(f, "%-8s %7u %5u %12s %10.1f %11.1f %-14s %6s %11s %8s\n", t, o->pid,
			o->tick.rounds, lm_fmt_num(dirty, sizeof(dirty), e->dirty_rate_Bps >= 0 ?
						   e->dirty_rate_Bps / LM_MiB : -1, 1, ""),
			vm->tx_bytes_per_s / LM_MiB, e->remaining_bytes / LM_MiB,
			lm_verdict_name(e->verdict), lm_fmt_num(eta, sizeof(eta), e->eta_s, 1, ""),
			lm_fmt_num(dt, sizeof(dt), e->downtime_ms, 0, ""),
			lm_fmt_num(thr, sizeof(thr), e->throttle_pct, 0, ""));
		break;
	}
	if (changed & LM_CHANGED_PHASE)
		fprintf(f, "# %s pid %u: phase %s (was %s; said by %s): %s\n", t, o->pid,
			lm_phase_name(e->phase), lm_phase_name(vm->previous_phase),
			e->phase_from_qmp ? "QEMU's status" : "the kernel's signals", e->reason);
	if (changed & LM_CHANGED_VERDICT)
		fprintf(f, "# %s pid %u: verdict %s (%.0f%%): %s\n", t, o->pid,
			lm_verdict_name(e->verdict), e->confidence * 100, e->reason);
	fflush(f);
}

static void text_on_summary(struct lm_sink *s, const struct lm_vm_view *vm)
{
	struct text_sink *ts = s->ctx;
	const struct lm_estimate *e = &vm->est;

	fprintf(ts->f, "# summary pid %u%s%s: %u rounds, %llu dirty pages (%.1f MiB) after the initial sync, "
		"%.1f MiB sent, %u migration(s), last ended: %s, last verdict: %s\n",
		vm->pid, vm->name[0] ? " " : "", vm->name, vm->rounds,
		(unsigned long long)vm->dirty_pages,
		vm->dirty_pages * (double)vm->est.page_size / LM_MiB, vm->tx_bytes / LM_MiB,
		vm->migrations, vm->migrations ? lm_end_reason_name(vm->end_reason) : "none",
		lm_verdict_name(e->verdict));
	fflush(ts->f);
}

static void text_on_message(struct lm_sink *s, int level, const char *msg)
{
	struct text_sink *ts = s->ctx;

	fprintf(ts->f, "# %s%s\n", level >= 2 ? "error: " : level == 1 ? "warning: " : "", msg);
	fflush(ts->f);
}

static int text_close(struct lm_sink *s)
{
	struct text_sink *ts = s->ctx;
	int err = fflush(ts->f) ? -errno : 0;

	if (!err && ferror(ts->f))
		err = -EIO;
	free(ts);
	free(s);
	return err;
}

int lm_sink_text_new(FILE *f, struct lm_sink **out)
{
	struct lm_sink *s = calloc(1, sizeof(*s));
	struct text_sink *ts = calloc(1, sizeof(*ts));

	if (!s || !ts) {
		free(s);
		free(ts);
		return -ENOMEM;
	}
	ts->f = f;
	s->name = "text";
	s->out = f;
	s->ctx = ts;
	s->on_obs = text_on_obs;
	s->on_summary = text_on_summary;
	s->on_message = text_on_message;
	s->close = text_close;
	*out = s;
	return 0;
}

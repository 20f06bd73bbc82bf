// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --csv: one header line, then one line per sample (tick), round, migration
 * start and end. The columns never change order or meaning (add new ones
 * at the end); units are part of each column name; unknown values are
 * empty. Estimates come from the VM's estimator, as is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sinks/outputs.h"
#include "sinks/sink_new.h"

static const char header[] =
	"ts_s,pid,vm,record,round,dirty_pages,round_duration_s,round_tx_bytes,"
	"dirty_bytes_per_s,tx_bytes_per_s,remaining_bytes,ram_bytes,verdict,"
	"confidence_ratio,eta_s,downtime_s,throttle_pct,dirty_limit_bytes_per_s,"
	"wws_bytes,dirty_tx_ratio,rounds,source,end_reason,migrating,phase\n";

/* RFC 4180: quote a field holding a comma, quote or line break. */
static void put_text(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Negative means unknown: an empty field. */
static void put_num(FILE *f, double v, int decimals)
{
	fputc(',', f);
	if (v >= 0)
		fprintf(f, "%.*f", decimals, v);
}

static void put_u64(FILE *f, uint64_t v, int known)
{
	fputc(',', f);
	if (known)
		fprintf(f, "%llu", (unsigned long long)v);
}

/* One line: record names it; a round and a dirty-rate window fill the round's columns. */
static void csv_row(struct lm_sink *s, const struct lm_sink_vm *v, const char *record)
{
	const struct lm_vm_view *vm = v->view;
	const struct lm_estimate *e = &vm->est;
	const struct lm_obs *o = v->obs;
	int is_round = o->kind == LM_OBS_ROUND, is_rate = o->kind == LM_OBS_DIRTY_RATE;
	FILE *f = s->out;

	fprintf(f, "%.3f,%u,", v->ts_s, vm->pid);
	put_text(f, vm->name);
	fprintf(f, ",%s", record);
	put_u64(f, is_round ? o->round.round : 0, is_round);
	/* a dirty-rate measurement: its pages, window and rate in the round's columns */
	put_u64(f, is_round ? o->round.dirty_pages : o->dirty_rate.dirty_pages, is_round || is_rate);
	put_num(f, is_round ? o->round.duration_ns / 1e9 : is_rate ? o->dirty_rate.window_ns / 1e9 : -1, 3);
	/* a byte counter read backwards: the round's bytes are unknown */
	put_u64(f, is_round ? o->round.tx_bytes : 0, is_round && !(o->round.flags & LM_ROUND_COUNTER_BACK));
	put_num(f, is_rate ? vm->measured_dirty_Bps : e->dirty_rate_Bps, 0);
	put_num(f, e->tx_rate_Bps, 0);
	put_u64(f, e->remaining_bytes, e->migrating || e->remaining_bytes);
	put_u64(f, vm->ram_bytes, vm->ram_bytes != 0);
	fprintf(f, ",%s", lm_verdict_name(e->verdict));
	put_num(f, e->confidence, 3);
	put_num(f, e->eta_s, 3);
	put_num(f, e->downtime_ms >= 0 ? e->downtime_ms / 1e3 : -1, 4);
	put_num(f, e->throttle_pct, 1);
	put_num(f, e->dirty_limit_Bps, 0);
	put_u64(f, e->wws_bytes, e->wws_bytes != 0);
	put_num(f, e->ratio, 4);
	fprintf(f, ",%u,%s,", vm->rounds, lm_source_name(vm->source));
	if (o->kind == LM_OBS_END)
		fputs(lm_end_reason_name(o->end.reason), f);
	fprintf(f, ",%d,%s\n", vm->migrating, lm_phase_name(e->phase));
}

static void csv_on_sample(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_tick *t)
{
	csv_row(s, v, "sample");
}

static void csv_on_round(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_round *r)
{
	csv_row(s, v, "round");
}

static void csv_on_start(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_start *st)
{
	csv_row(s, v, "start");
}

static void csv_on_end(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_end *e)
{
	csv_row(s, v, "end");
}

static void csv_on_dirty_rate(struct lm_sink *s, const struct lm_sink_vm *v,
			      const struct lm_obs_dirty_rate *d)
{
	csv_row(s, v, "dirty-rate");
}

/* -EIO on any write error, whatever the flush's errno. */
static int csv_close(struct lm_sink *s)
{
	int ret = fflush(s->out) || ferror(s->out) ? -EIO : 0;

	free(s);
	return ret;
}

static const struct lm_sink csv_proto = {
	.name = "csv",
	.on_sample = csv_on_sample, .on_round = csv_on_round, .on_start = csv_on_start,
	.on_end = csv_on_end, .on_dirty_rate = csv_on_dirty_rate, .close = csv_close,
};

int lm_sink_csv_new(FILE *f, struct lm_sink **out)
{
	int ret = lm_sink_new(&csv_proto, 0, f, out);

	if (!ret)
		fputs(header, f);
	return ret;
}

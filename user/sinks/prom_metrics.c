// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Prometheus exposition of the per-VM views: names lmtrace_<what>_<base
 * unit>, labels pid and vm, HELP and TYPE for every family. A gauge whose
 * value the estimator does not know yet is left out rather than faked.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/units.h"
#include "sinks/prom_metrics.h"

void lm_prom_init(struct lm_prom_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
}

void lm_prom_destroy(struct lm_prom_state *st)
{
	pthread_mutex_destroy(&st->lock);
}

void lm_prom_update(struct lm_prom_state *st, struct lm_prom_vm *p, const struct lm_vm_view *vm)
{
	pthread_mutex_lock(&st->lock);
	lm_vm_list_add(&st->vms, &p->link);
	p->pid = vm->pid;
	/* sanitised where it entered; again here, as a parser rejects a bad label */
	lm_sanitize_name(p->name, sizeof(p->name), vm->name);
	p->est = vm->est;
	p->downtime_limit_s = vm->est.downtime_limit_s;
	p->page_size = vm->est.page_size;
	p->rounds = vm->rounds;
	p->migrations = vm->migrations;
	p->dirty_rate_windows = vm->dirty_rate_windows;
	p->measured_dirty_Bps = vm->measured_dirty_Bps;
	p->migration_start_ts_s = vm->migration_start_ts_s;
	p->lost_events = vm->lost_events;
	p->source = vm->source;
	p->srtt_us = vm->srtt_us;
	p->migrating = vm->migrating;
	p->dirty_pages = vm->dirty_pages;
	/* a counter never goes down: bytes taken back from the view (a socket that was not
	 * the migration's) stay counted, as a drop would read as a reset to rate() */
	if (vm->tx_bytes > p->tx_bytes)
		p->tx_bytes = vm->tx_bytes;
	p->ram_bytes = vm->ram_bytes;
	p->last_ts_s = vm->last_ts_s;
	p->act_on = vm->act_on;
	memcpy(p->actions, vm->actions, sizeof(p->actions));
	memcpy(p->actions_applied, vm->actions_applied, sizeof(p->actions_applied));
	pthread_mutex_unlock(&st->lock);
}

void lm_prom_forget(struct lm_prom_state *st, struct lm_prom_vm *p)
{
	pthread_mutex_lock(&st->lock);
	lm_vm_list_del(&st->vms, &p->link);
	pthread_mutex_unlock(&st->lock);
}

/* Every VM's snapshot, in order of appearance (the lock held). */
#define FOR_EACH_VM(v, st) \
	for (const struct lm_prom_vm *v = (const void *)(st)->vms.head; v; \
	     v = (const void *)v->link.next)

/* Label values: backslash, double quote and line feed escaped. */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void labels(FILE *f, const struct lm_prom_vm *v, const char *extra_k, const char *extra_v)
{
	fprintf(f, "{pid=\"%u\",vm=\"", v->pid);
	put_label(f, v->name);
	fputc('"', f);
	if (extra_k) {
		fprintf(f, ",%s=\"", extra_k);
		put_label(f, extra_v);
		fputc('"', f);
	}
	fputc('}', f);
}

/* The shortest of %.15g/%.17g that reads back as v (0.3, not 0.29999...). */
static const char *shortest(double v, char *buf, size_t len)
{
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
	return buf;
}

/* A sample value: integers exactly, the rest exactly too (round-trip). */
static void value(FILE *f, double v)
{
	char buf[32];

	if (isnan(v))
		fputs(" NaN\n", f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", f);
	else if (v == floor(v) && fabs(v) < 9.007199254740992e15)
		fprintf(f, " %.0f\n", v);
	else
		fprintf(f, " %s\n", shortest(v, buf, sizeof(buf)));
}

struct family {
	const char *name, *type, *help;
	/* the value for this VM; returns 0 to leave the series out */
	int (*get)(const struct lm_prom_vm *v, double *out);
};

#define GETTER(fn, expr, known) \
	static int fn(const struct lm_prom_vm *v, double *out) { *out = (expr); return (known); }

GETTER(g_migrating, v->migrating, 1)
GETTER(g_dirty_rate, v->est.dirty_rate_Bps, v->est.dirty_rate_Bps >= 0)
GETTER(g_tx_rate, v->est.tx_rate_Bps, v->est.tx_rate_Bps >= 0)
GETTER(g_ratio, v->est.ratio, v->est.ratio >= 0)
GETTER(g_remaining, (double)v->est.remaining_bytes, v->est.migrating || v->est.remaining_bytes)
GETTER(g_ram, (double)v->ram_bytes, v->ram_bytes != 0)
GETTER(g_wws, (double)v->est.wws_bytes, v->est.wws_bytes != 0)
GETTER(g_eta, v->est.eta_s, v->est.eta_s >= 0)
GETTER(g_downtime, v->est.downtime_ms / 1e3, v->est.downtime_ms >= 0)
GETTER(g_downtime_limit, v->downtime_limit_s, v->downtime_limit_s > 0)
GETTER(g_confidence, v->est.confidence, 1)
GETTER(g_throttle, v->est.throttle_pct / 100.0, v->est.throttle_pct >= 0)
GETTER(g_dirty_limit, v->est.dirty_limit_Bps, v->est.dirty_limit_Bps >= 0)
GETTER(g_srtt, v->srtt_us / 1e6, v->srtt_us != 0)
GETTER(g_last_ts, v->last_ts_s, v->last_ts_s > 0)
GETTER(c_rounds, v->rounds, 1)
GETTER(c_tx, (double)v->tx_bytes, 1)
GETTER(c_dirty_pages, (double)v->dirty_pages, 1)
GETTER(c_dirty_bytes, (double)v->dirty_pages * v->page_size, 1)
GETTER(c_migrations, v->migrations, 1)
GETTER(c_dirty_rate_windows, v->dirty_rate_windows, 1)
GETTER(c_lost_events, (double)v->lost_events, 1)
GETTER(g_start_ts, v->migration_start_ts_s, v->migration_start_ts_s > 0)
GETTER(g_total, v->est.total_s, v->est.total_s >= 0)
GETTER(g_measured_dirty, v->measured_dirty_Bps, v->measured_dirty_Bps >= 0)

static const struct family families[] = {
	{ "lmtrace_migrating", "gauge", "1 while a live migration of this VM is in progress.", g_migrating },
	{ "lmtrace_dirty_bytes_per_second", "gauge", "Unique guest bytes dirtied per second in the last sync round.", g_dirty_rate },
	{ "lmtrace_transfer_bytes_per_second", "gauge", "Migration transfer rate.", g_tx_rate },
	{ "lmtrace_dirty_transfer_ratio", "gauge", "Dirty rate divided by transfer rate (lambda); the migration converges only below 1.", g_ratio },
	{ "lmtrace_remaining_bytes", "gauge", "Estimated bytes still to send.", g_remaining },
	{ "lmtrace_ram_bytes", "gauge", "Guest RAM under dirty logging.", g_ram },
	{ "lmtrace_wws_bytes", "gauge", "Estimated writable working set.", g_wws },
	{ "lmtrace_eta_seconds", "gauge", "Predicted time to switchover; absent when unknown or never.", g_eta },
	{ "lmtrace_downtime_seconds", "gauge", "Predicted downtime at switchover; absent when unknown.", g_downtime },
	{ "lmtrace_downtime_limit_seconds", "gauge", "Downtime limit the prediction is made against.", g_downtime_limit },
	{ "lmtrace_verdict_confidence_ratio", "gauge", "Confidence of the current verdict, 0 to 1.", g_confidence },
	{ "lmtrace_recommended_throttle_ratio", "gauge", "vCPU throttle that would make the migration converge (0 = none needed); absent when unknown.", g_throttle },
	{ "lmtrace_recommended_dirty_limit_bytes_per_second", "gauge", "Dirty-rate limit equivalent to the recommended throttle; absent when unknown.", g_dirty_limit },
	{ "lmtrace_srtt_seconds", "gauge", "Smoothed round-trip time of the migration connection.", g_srtt },
	{ "lmtrace_last_observation_timestamp_seconds", "gauge", "Unix time of the last observation of this VM.", g_last_ts },
	{ "lmtrace_rounds_total", "counter", "Dirty-bitmap sync rounds seen (round 1 is the initial sync).", c_rounds },
	{ "lmtrace_tx_bytes_total", "counter", "Bytes sent on the migration connections while traced.", c_tx },
	{ "lmtrace_dirty_pages_total", "counter", "Unique dirty pages summed over rounds 2 and later.", c_dirty_pages },
	{ "lmtrace_dirty_bytes_total", "counter", "lmtrace_dirty_pages_total times the page size.", c_dirty_bytes },
	{ "lmtrace_migrations_total", "counter", "Migrations seen starting.", c_migrations },
	{ "lmtrace_lost_events_total", "counter", "Events of this VM lost because the ring buffer was full; the round they hit is flagged partial.", c_lost_events },
	{ "lmtrace_migration_start_timestamp_seconds", "gauge", "Unix time the last migration started.", g_start_ts },
	{ "lmtrace_predicted_total_seconds", "gauge", "Predicted migration time from its start to switchover; absent when unknown or never.", g_total },
	{ "lmtrace_dirty_rate_measurements_total", "counter", "Dirty-logging windows that were no migration (QEMU's calc-dirty-rate).", c_dirty_rate_windows },
	{ "lmtrace_measured_dirty_bytes_per_second", "gauge", "Unique bytes dirtied per second in the last dirty-rate measurement window.", g_measured_dirty },
};

static const enum lm_verdict verdicts[] = {
	LM_VERDICT_UNKNOWN, LM_VERDICT_CONVERGING, LM_VERDICT_MARGINAL, LM_VERDICT_NOT_CONVERGING,
};

static const char *const phases[] = { "idle", "precopy", "stop-and-copy", "postcopy", "ended" };

/* --act's counters, one series per action kind, for the VMs it may act on. */
static void act_counters(FILE *f, struct lm_prom_state *st, const char *name, const char *help,
			 int applied)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	FOR_EACH_VM(v, st) {
		if (!v->act_on)
			continue;
		for (uint32_t k = LM_ACT_THROTTLE; k < LM_ACT_KINDS; k++) {
			fputs(name, f);
			labels(f, v, "action", lm_act_kind_name(k));
			fprintf(f, " %u\n", applied ? v->actions_applied[k] : v->actions[k]);
		}
	}
}

char *lm_prom_render(struct lm_prom_state *st, size_t *len)
{
	char *buf = NULL;
	FILE *f;
	double x;

	f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const struct family *fam = &families[i];

		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name, fam->type);
		FOR_EACH_VM(v, st) {
			if (!fam->get(v, &x))
				continue;
			fputs(fam->name, f);
			labels(f, v, NULL, NULL);
			value(f, x);
		}
	}
	/* A state set: one series per verdict, 1 for the current one. */
	fputs("# HELP lmtrace_verdict Current convergence verdict (1 for the current one).\n"
	      "# TYPE lmtrace_verdict gauge\n", f);
	FOR_EACH_VM(v, st)
		for (size_t k = 0; k < sizeof(verdicts) / sizeof(verdicts[0]); k++) {
			fputs("lmtrace_verdict", f);
			labels(f, v, "verdict", lm_verdict_name(verdicts[k]));
			fprintf(f, " %d\n", v->est.verdict == verdicts[k]);
		}
	/* The phase, a state set too. */
	fputs("# HELP lmtrace_phase Migration phase (1 for the current one).\n"
	      "# TYPE lmtrace_phase gauge\n", f);
	FOR_EACH_VM(v, st)
		for (size_t k = 0; k < sizeof(phases) / sizeof(phases[0]); k++) {
			fputs("lmtrace_phase", f);
			labels(f, v, "phase", phases[k]);
			fprintf(f, " %d\n", !strcmp(lm_phase_name(v->est.phase), phases[k]));
		}
	fputs("# HELP lmtrace_dirty_source_info Dirty-page source in use.\n"
	      "# TYPE lmtrace_dirty_source_info gauge\n", f);
	FOR_EACH_VM(v, st) {
		fputs("lmtrace_dirty_source_info", f);
		labels(f, v, "source", lm_source_name(v->source));
		fputs(" 1\n", f);
	}
	act_counters(f, st, "lmtrace_actions_total",
		     "Actions --act decided for this VM (dry run or applied), by kind.", 0);
	act_counters(f, st, "lmtrace_actions_applied_total",
		     "Actions --act --apply carried out and QEMU accepted, by kind.", 1);
	pthread_mutex_unlock(&st->lock);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -j: JSON lines. The keys are an interface: add keys, never rename them.
 * Every record has ts (Unix seconds), pid and type. Unknown numbers are null.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sinks/outputs.h"
#include "sinks/sink_new.h"

struct json_sink {
	double last_ts_s;	/* newest observation: the time given to messages */
};

/*
 * A string value. Names are sanitised where they enter, but a message may
 * carry anything: invalid UTF-8 becomes U+FFFD and control characters are
 * escaped, so every line stays JSON a strict parser takes.
 */
static void json_str(FILE *f, const char *key, const char *s)
{
	size_t left = strlen(s), n;
	uint32_t cp;

	fprintf(f, ",\"%s\":\"", key);
	for (; left; s += n, left -= n) {
		n = lm_utf8_char(s, left, &cp);
		if (!n) {
			fputs("\\ufffd", f);
			n = 1;
		} else if (cp == '"' || cp == '\\') {
			fprintf(f, "\\%c", (char)cp);
		} else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			fprintf(f, "\\u%04x", (unsigned)cp);
		} else {
			fwrite(s, 1, n, f);
		}
	}
	fputc('"', f);
}

/* A number, or null when the estimator says unknown (negative / NaN). */
static void json_num_or_null(FILE *f, const char *key, double v, int decimals)
{
	if (v < 0 || isnan(v) || isinf(v))
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%.*f", key, decimals, v);
}

static void json_head(FILE *f, const char *type, double ts_s, uint32_t pid)
{
	fprintf(f, "{\"ts\":%.6f,\"pid\":%u,\"type\":\"%s\"", ts_s, pid, type);
}

static void json_estimate(FILE *f, const struct lm_estimate *e)
{
	json_str(f, "verdict", lm_verdict_name(e->verdict));
	fprintf(f, ",\"confidence\":%.2f", e->confidence);
	json_str(f, "phase", lm_phase_name(e->phase));
	json_str(f, "reason", e->reason);
	json_num_or_null(f, "eta_s", e->eta_s, 1);
	json_num_or_null(f, "downtime_ms", e->downtime_ms, 0);
	fprintf(f, ",\"remaining_bytes\":%llu", (unsigned long long)e->remaining_bytes);
	json_num_or_null(f, "throttle_pct", e->throttle_pct, 0);
	json_num_or_null(f, "dirty_limit_bytes_per_s", e->dirty_limit_Bps, 0);
	if (e->wws_bytes)
		fprintf(f, ",\"wws_bytes\":%llu", (unsigned long long)e->wws_bytes);
	else
		fprintf(f, ",\"wws_bytes\":null");
	json_num_or_null(f, "dirty_ratio", e->ratio, 3);
	json_num_or_null(f, "total_s", e->total_s, 1);
	fprintf(f, ",\"downtime_is_bound\":%s,\"wws_is_lower_bound\":%s",
		e->downtime_is_bound ? "true" : "false", e->wws_is_lower_bound ? "true" : "false");
	json_num_or_null(f, "measured_downtime_ms", e->measured_downtime_ms, 0);
	fprintf(f, ",\"from_check\":%s", e->from_check ? "true" : "false");
}

/* The record's opening, at the observation's time; the stream to go on with. */
static FILE *json_open(struct lm_sink *s, const struct lm_sink_vm *v, const char *type)
{
	json_head(s->out, type, v->ts_s, v->view->pid);
	return s->out;
}

static void json_on_update(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct json_sink *js = s->ctx;

	js->last_ts_s = v->ts_s;
}

static void json_on_start(struct lm_sink *s, const struct lm_sink_vm *v,
			  const struct lm_obs_start *st)
{
	FILE *f = json_open(s, v, "migration");

	fprintf(f, ",\"event\":\"start\",\"ram_bytes\":%llu,\"late\":%s,\"no_stream\":%s"
		",\"initial_sync_unseen\":%s",
		(unsigned long long)st->ram_bytes, st->late ? "true" : "false",
		st->flags & LM_START_NO_STREAM ? "true" : "false",
		st->flags & LM_START_SYNC_UNSEEN ? "true" : "false");
	json_str(f, "vm", v->view->name);
	fprintf(f, "}\n");
}

static void json_on_end(struct lm_sink *s, const struct lm_sink_vm *v, const struct lm_obs_end *e)
{
	FILE *f = json_open(s, v, "migration");

	fprintf(f, ",\"event\":\"end\",\"ram_bytes\":%llu", (unsigned long long)v->view->ram_bytes);
	json_str(f, "reason", lm_end_reason_name(e->reason));
	json_str(f, "vm", v->view->name);
	fprintf(f, "}\n");
}

static void json_on_round(struct lm_sink *s, const struct lm_sink_vm *v,
			  const struct lm_obs_round *r)
{
	FILE *f = json_open(s, v, "round");

	int back = !!(r->flags & LM_ROUND_COUNTER_BACK);

	fprintf(f, ",\"round\":%u,\"dirty_pages\":%llu,\"duration_s\":%.6f",
		r->round, (unsigned long long)r->dirty_pages, r->duration_ns / 1e9);
	/* a byte counter read backwards: the round's bytes are unknown, said so */
	if (back)
		fprintf(f, ",\"tx_bytes\":null");
	else
		fprintf(f, ",\"tx_bytes\":%llu", (unsigned long long)r->tx_bytes);
	fprintf(f, ",\"sync_ms\":%.3f,\"ram_bytes\":%llu,\"sampled\":%s,\"partial\":%s,\"final\":%s"
		",\"late\":%s,\"unseen\":%s,\"counter_back\":%s}\n",
		r->sync_ns / 1e6, (unsigned long long)r->ram_bytes,
		r->flags & LM_ROUND_SAMPLED ? "true" : "false",
		r->flags & LM_ROUND_PARTIAL ? "true" : "false",
		r->flags & LM_ROUND_FINAL ? "true" : "false",
		r->flags & LM_ROUND_LATE ? "true" : "false",
		r->flags & LM_ROUND_UNSEEN ? "true" : "false", back ? "true" : "false");
}

static void json_on_sample(struct lm_sink *s, const struct lm_sink_vm *v,
			   const struct lm_obs_tick *t)
{
	const struct lm_estimate *est = &v->view->est;
	FILE *f = json_open(s, v, "sample");

	/* the estimator's dirty rate, in the pages the key has always counted */
	json_num_or_null(f, "dirty_pages_per_s",
			 est->page_size ? est->dirty_rate_Bps / est->page_size : -1, 1);
	fprintf(f, ",\"tx_bytes_per_s\":%.0f,\"rounds\":%u", v->view->tx_bytes_per_s, t->rounds);
	json_str(f, "source", lm_source_name(t->source));
	fprintf(f, ",\"migrating\":%s,\"tx_total_bytes\":%llu,\"acked_bytes\":%llu"
		",\"srtt_us\":%u,\"cwnd\":%u",
		v->view->migrating ? "true" : "false", (unsigned long long)t->tx_total,
		(unsigned long long)t->acked_total, t->srtt_us, t->cwnd);
	json_estimate(f, est);
	fprintf(f, "}\n");
}

static void json_on_dirty_rate(struct lm_sink *s, const struct lm_sink_vm *v,
			       const struct lm_obs_dirty_rate *d)
{
	FILE *f = json_open(s, v, "dirty_rate");

	fprintf(f, ",\"window_s\":%.6f,\"dirty_pages\":%llu,\"ram_bytes\":%llu,\"syncs\":%u",
		d->window_ns / 1e9, (unsigned long long)d->dirty_pages,
		(unsigned long long)d->ram_bytes, d->syncs);
	json_num_or_null(f, "dirty_bytes_per_s", v->view->measured_dirty_Bps, 0);
	fprintf(f, "}\n");
}

static void json_on_head_start(struct lm_sink *s, const struct lm_sink_vm *v,
			       const struct lm_obs_head_start *h)
{
	FILE *f = json_open(s, v, "head_start");

	fprintf(f, ",\"windows\":%u,\"max_age_s\":%u,\"ram_bytes\":%llu}\n",
		h->nwin, h->max_age_s, (unsigned long long)h->ram_bytes);
}

static void json_on_params(struct lm_sink *s, const struct lm_sink_vm *v,
			   const struct lm_obs_params *p)
{
	FILE *f = json_open(s, v, "params");

	fprintf(f, ",\"downtime_limit_ms\":%llu,\"max_bandwidth_bytes_per_s\":%llu"
		",\"ram_bytes\":%llu,\"throttle_pct\":%u}\n",
		(unsigned long long)p->downtime_limit_ms, (unsigned long long)p->max_bandwidth,
		(unsigned long long)p->ram_bytes, p->throttle_pct);
}

/* A phase change: what it is now, what it was, who said so; postcopy's numbers. */
static void json_on_phase(struct lm_sink *s, const struct lm_sink_vm *v)
{
	const struct lm_estimate *e = &v->view->est;
	FILE *f = json_open(s, v, "phase");

	json_str(f, "phase", lm_phase_name(e->phase));
	json_str(f, "previous", lm_phase_name(v->view->previous_phase));
	json_str(f, "by", e->phase_from_qmp ? "qmp" : "kernel");
	fprintf(f, ",\"round\":%u", e->rounds);
	if (e->postcopy_start_s >= 0)
		fprintf(f, ",\"postcopy_start_s\":%.3f,\"postcopy_bytes\":%llu,\"postcopy_s\":%.3f",
			e->postcopy_start_s, (unsigned long long)e->postcopy_bytes, e->postcopy_s);
	fprintf(f, "}\n");
}

static void json_on_verdict(struct lm_sink *s, const struct lm_sink_vm *v)
{
	const struct lm_estimate *est = &v->view->est;
	FILE *f = json_open(s, v, "verdict");

	json_estimate(f, est);
	fprintf(f, ",\"round\":%u", est->rounds);
	json_str(f, "previous", lm_verdict_name(est->previous_verdict));
	json_str(f, "changed_because", lm_change_cause_name(est->changed_because));
	fprintf(f, ",\"evidence_rounds\":%u,\"predicted\":%s}\n", est->evidence_rounds,
		est->predicted ? "true" : "false");
}

/* --act's settings for this VM. */
static void json_on_act_config(struct lm_sink *s, const struct lm_sink_vm *v,
			       const struct lm_obs_act_config *c)
{
	static const char *const names[] = { "throttle", "downtime", "postcopy", "cancel" };
	FILE *f = json_open(s, v, "act");
	int first = 1;

	fputs(",\"policies\":[", f);
	for (unsigned i = 0; i < 4; i++)
		if (c->policies & (1u << i)) {
			fprintf(f, "%s\"%s\"", first ? "" : ",", names[i]);
			first = 0;
		}
	fprintf(f, "],\"apply\":%s,\"max_throttle_pct\":%u", c->apply ? "true" : "false",
		c->max_throttle_pct);
	json_num_or_null(f, "max_downtime_ms", c->max_downtime_ms ? (double)c->max_downtime_ms : -1, 0);
	json_num_or_null(f, "give_up_after_s", c->give_up_after_ms ? c->give_up_after_ms / 1e3 : -1, 1);
	fprintf(f, ",\"identified\":%s}\n", c->identified ? "true" : "false");
}

/* An action's outcome, with the decision and the estimate behind it. */
static void json_on_action(struct lm_sink *s, const struct lm_sink_vm *v,
			   const struct lm_obs_action *a)
{
	const struct lm_vm_view *vm = v->view;
	const struct lm_estimate *e = &vm->act_last_est;
	FILE *f = json_open(s, v, "action");

	json_str(f, "action", lm_act_kind_name(a->action));
	fprintf(f, ",\"value\":%u", a->value);
	json_str(f, "unit", a->action == LM_ACT_THROTTLE ? "pct" : a->action == LM_ACT_DOWNTIME ? "ms" : "");
	json_str(f, "outcome", lm_act_outcome_name(a->outcome));
	fprintf(f, ",\"applied\":%s,\"round\":%u,\"sufficient\":%s",
		a->outcome == LM_ACT_APPLIED ? "true" : "false", a->round,
		vm->act_last_sufficient ? "true" : "false");
	json_str(f, "why", vm->act_last_reason);
	if (a->outcome == LM_ACT_DRY_RUN)
		json_str(f, "reply", "none (dry run)");
	else
		json_str(f, "reply", a->error ? strerror(-a->error) : "ok");
	json_num_or_null(f, "qemu_max_cpu_throttle_pct", a->qemu_throttle_pct ? (double)a->qemu_throttle_pct : -1, 0);
	json_num_or_null(f, "qemu_downtime_limit_ms", a->qemu_downtime_ms ? (double)a->qemu_downtime_ms : -1, 0);
	fprintf(f, ",\"estimate\":{\"round\":%u", e->rounds);
	json_estimate(f, e);
	fprintf(f, ",\"predicted\":%s,\"evidence_rounds\":%u}}\n", e->predicted ? "true" : "false",
		e->evidence_rounds);
}

static void json_on_summary(struct lm_sink *s, const struct lm_sink_vm *v)
{
	const struct lm_vm_view *vm = v->view;
	FILE *f = s->out;
	const struct lm_estimate *est = &vm->est;

	json_head(f, "summary", vm->last_ts_s, vm->pid);
	fprintf(f, ",\"rounds\":%u,\"dirty_pages\":%llu,\"tx_bytes\":%llu,\"migrations\":%u"
		",\"ram_bytes\":%llu,\"duration_s\":%.3f",
		vm->rounds, (unsigned long long)vm->dirty_pages, (unsigned long long)vm->tx_bytes,
		vm->migrations, (unsigned long long)vm->ram_bytes,
		vm->first_ts_s >= 0 ? vm->last_ts_s - vm->first_ts_s : 0.0);
	json_str(f, "end", vm->migrations ? lm_end_reason_name(vm->end_reason) : "none");
	json_str(f, "verdict", lm_verdict_name(est->verdict));
	json_str(f, "vm", vm->name);
	fprintf(f, "}\n");
	fflush(f);
}

static void json_on_message(struct lm_sink *s, int level, const char *msg)
{
	struct json_sink *js = s->ctx;
	static const char *levels[] = { "info", "warning", "error" };

	/* Not about one VM: pid 0. */
	json_head(s->out, "message", js->last_ts_s, 0);
	json_str(s->out, "level", levels[level < 0 ? 0 : level > 2 ? 2 : level]);
	json_str(s->out, "message", msg);
	fprintf(s->out, "}\n");
	fflush(s->out);
}

static const struct lm_sink json_proto = {
	.name = "json",
	.on_update = json_on_update, .on_start = json_on_start, .on_round = json_on_round,
	.on_sample = json_on_sample, .on_end = json_on_end, .on_params = json_on_params,
	.on_dirty_rate = json_on_dirty_rate, .on_act_config = json_on_act_config,
	.on_action = json_on_action, .on_head_start = json_on_head_start,
	.on_phase = json_on_phase, .on_verdict = json_on_verdict, .on_summary = json_on_summary,
	.on_message = json_on_message, .close = lm_sink_stream_close,
};

int lm_sink_json_new(FILE *f, struct lm_sink **out)
{
	return lm_sink_new(&json_proto, sizeof(struct json_sink), f, out);
}

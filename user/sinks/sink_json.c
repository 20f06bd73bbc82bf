// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -j: JSON lines. The keys are an interface: add keys, never rename them.
 * Every record has ts (Unix seconds), pid and type. Unknown numbers are null.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sinks/outputs.h"

struct json_sink {
	FILE *f;
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

/* A phase change: what it is now, what it was, who said so; postcopy's numbers. */
static void json_phase(FILE *f, double ts, const struct lm_vm_view *vm)
{
	const struct lm_estimate *e = &vm->est;

	json_head(f, "phase", ts, vm->pid);
	json_str(f, "phase", lm_phase_name(e->phase));
	json_str(f, "previous", lm_phase_name(vm->previous_phase));
	json_str(f, "by", e->phase_from_qmp ? "qmp" : "kernel");
	fprintf(f, ",\"round\":%u", e->rounds);
	if (e->postcopy_start_s >= 0)
		fprintf(f, ",\"postcopy_start_s\":%.3f,\"postcopy_bytes\":%llu,\"postcopy_s\":%.3f",
			e->postcopy_start_s, (unsigned long long)e->postcopy_bytes, e->postcopy_s);
	fprintf(f, "}\n");
}

/* --act's settings for this VM. */
static void json_act_config(FILE *f, double ts, const struct lm_obs *o)
{
	const struct lm_obs_act_config *c = &o->act_config;
	static const char *const names[] = { "throttle", "downtime", "postcopy", "cancel" };
	int first = 1;

	json_head(f, "act", ts, o->pid);
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
static void json_action(FILE *f, double ts, const struct lm_obs *o, const struct lm_vm_view *vm)
{
	const struct lm_obs_action *a = &o->action;
	const struct lm_estimate *e = &vm->act_last_est;

	json_head(f, "action", ts, o->pid);
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

static void json_on_obs(struct lm_sink *s, const struct lm_obs *o,
			const struct lm_vm_view *vm, unsigned changed)
{
	struct json_sink *js = s->ctx;
	const struct lm_estimate *est = &vm->est;
	double ts = o->ts_ns / 1e9;
	FILE *f = js->f;

	js->last_ts_s = ts;
	switch (o->kind) {
	case LM_OBS_START:
		json_head(f, "migration", ts, o->pid);
		fprintf(f, ",\"event\":\"start\",\"ram_bytes\":%llu,\"late\":%s,\"no_stream\":%s"
			",\"initial_sync_unseen\":%s",
			(unsigned long long)o->start.ram_bytes, o->start.late ? "true" : "false",
			o->start.flags & LM_START_NO_STREAM ? "true" : "false",
			o->start.flags & LM_START_SYNC_UNSEEN ? "true" : "false");
		json_str(f, "vm", vm->name);
		fprintf(f, "}\n");
		break;
	case LM_OBS_END:
		json_head(f, "migration", ts, o->pid);
		fprintf(f, ",\"event\":\"end\",\"ram_bytes\":%llu", (unsigned long long)vm->ram_bytes);
		json_str(f, "reason", lm_end_reason_name(o->end.reason));
		json_str(f, "vm", vm->name);
		fprintf(f, "}\n");
		break;
	case LM_OBS_ROUND:
		json_head(f, "round", ts, o->pid);
		fprintf(f, ",\"round\":%u,\"dirty_pages\":%llu,\"duration_s\":%.6f,\"tx_bytes\":%llu"
			",\"sync_ms\":%.3f,\"ram_bytes\":%llu,\"sampled\":%s,\"partial\":%s,\"final\":%s"
			",\"late\":%s,\"unseen\":%s}\n",
			o->round.round, (unsigned long long)o->round.dirty_pages,
			o->round.duration_ns / 1e9, (unsigned long long)o->round.tx_bytes,
			o->round.sync_ns / 1e6, (unsigned long long)o->round.ram_bytes,
			o->round.flags & LM_ROUND_SAMPLED ? "true" : "false",
			o->round.flags & LM_ROUND_PARTIAL ? "true" : "false",
			o->round.flags & LM_ROUND_FINAL ? "true" : "false",
			o->round.flags & LM_ROUND_LATE ? "true" : "false",
			o->round.flags & LM_ROUND_UNSEEN ? "true" : "false");
		break;
	case LM_OBS_TICK:
		json_head(f, "sample", ts, o->pid);
		/* the estimator's dirty rate, in the pages the key has always counted */
		json_num_or_null(f, "dirty_pages_per_s",
				 est->page_size ? est->dirty_rate_Bps / est->page_size : -1, 1);
		fprintf(f, ",\"tx_bytes_per_s\":%.0f,\"rounds\":%u", vm->tx_bytes_per_s, o->tick.rounds);
		json_str(f, "source", lm_source_name(o->tick.source));
		fprintf(f, ",\"migrating\":%s,\"tx_total_bytes\":%llu,\"acked_bytes\":%llu"
			",\"srtt_us\":%u,\"cwnd\":%u",
			vm->migrating ? "true" : "false", (unsigned long long)o->tick.tx_total,
			(unsigned long long)o->tick.acked_total, o->tick.srtt_us, o->tick.cwnd);
		json_estimate(f, est);
		fprintf(f, "}\n");
		break;
	case LM_OBS_DIRTY_RATE:
		json_head(f, "dirty_rate", ts, o->pid);
		fprintf(f, ",\"window_s\":%.6f,\"dirty_pages\":%llu,\"ram_bytes\":%llu,\"syncs\":%u",
			o->dirty_rate.window_ns / 1e9, (unsigned long long)o->dirty_rate.dirty_pages,
			(unsigned long long)o->dirty_rate.ram_bytes, o->dirty_rate.syncs);
		json_num_or_null(f, "dirty_bytes_per_s", vm->measured_dirty_Bps, 0);
		fprintf(f, "}\n");
		break;
	case LM_OBS_ACT_CONFIG:
		json_act_config(f, ts, o);
		break;
	case LM_OBS_HEAD_START:
		json_head(f, "head_start", ts, o->pid);
		fprintf(f, ",\"windows\":%u,\"max_age_s\":%u,\"ram_bytes\":%llu}\n",
			o->head_start.nwin, o->head_start.max_age_s,
			(unsigned long long)o->head_start.ram_bytes);
		break;
	case LM_OBS_ACTION:
		json_action(f, ts, o, vm);
		break;
	case LM_OBS_PARAMS:
		json_head(f, "params", ts, o->pid);
		fprintf(f, ",\"downtime_limit_ms\":%llu,\"max_bandwidth_bytes_per_s\":%llu"
			",\"ram_bytes\":%llu,\"throttle_pct\":%u}\n",
			(unsigned long long)o->params.downtime_limit_ms,
			(unsigned long long)o->params.max_bandwidth,
			(unsigned long long)o->params.ram_bytes, o->params.throttle_pct);
		break;
	}
	if (changed & LM_CHANGED_PHASE)
		json_phase(f, ts, vm);
	if (changed & LM_CHANGED_VERDICT) {
		json_head(f, "verdict", ts, o->pid);
		json_estimate(f, est);
		fprintf(f, ",\"round\":%u", est->rounds);
		json_str(f, "previous", lm_verdict_name(est->previous_verdict));
		json_str(f, "changed_because", lm_change_cause_name(est->changed_because));
		fprintf(f, ",\"evidence_rounds\":%u,\"predicted\":%s}\n", est->evidence_rounds,
			est->predicted ? "true" : "false");
	}
}

static void json_on_summary(struct lm_sink *s, const struct lm_vm_view *vm)
{
	struct json_sink *js = s->ctx;
	const struct lm_estimate *est = &vm->est;

	json_head(js->f, "summary", vm->last_ts_s, vm->pid);
	fprintf(js->f, ",\"rounds\":%u,\"dirty_pages\":%llu,\"tx_bytes\":%llu,\"migrations\":%u"
		",\"ram_bytes\":%llu,\"duration_s\":%.3f",
		vm->rounds, (unsigned long long)vm->dirty_pages, (unsigned long long)vm->tx_bytes,
		vm->migrations, (unsigned long long)vm->ram_bytes,
		vm->first_ts_s >= 0 ? vm->last_ts_s - vm->first_ts_s : 0.0);
	json_str(js->f, "end", vm->migrations ? lm_end_reason_name(vm->end_reason) : "none");
	json_str(js->f, "verdict", lm_verdict_name(est->verdict));
	json_str(js->f, "vm", vm->name);
	fprintf(js->f, "}\n");
	fflush(js->f);
}

static void json_on_message(struct lm_sink *s, int level, const char *msg)
{
	struct json_sink *js = s->ctx;
	static const char *levels[] = { "info", "warning", "error" };

	/* Not about one VM: pid 0. */
	json_head(js->f, "message", js->last_ts_s, 0);
	json_str(js->f, "level", levels[level < 0 ? 0 : level > 2 ? 2 : level]);
	json_str(js->f, "message", msg);
	fprintf(js->f, "}\n");
	fflush(js->f);
}

static int json_close(struct lm_sink *s)
{
	struct json_sink *js = s->ctx;
	int err = fflush(js->f) ? -errno : 0;

	if (!err && ferror(js->f))
		err = -EIO;
	free(js);
	free(s);
	return err;
}

int lm_sink_json_new(FILE *f, struct lm_sink **out)
{
	struct lm_sink *s = calloc(1, sizeof(*s));
	struct json_sink *js = calloc(1, sizeof(*js));

	if (!s || !js) {
		free(s);
		free(js);
		return -ENOMEM;
	}
	js->f = f;
	s->name = "json";
	s->out = f;
	s->ctx = js;
	s->on_obs = json_on_obs;
	s->on_summary = json_on_summary;
	s->on_message = json_on_message;
	s->close = json_close;
	*out = s;
	return 0;
}

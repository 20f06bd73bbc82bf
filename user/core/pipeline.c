// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Observations -> per-VM view and estimator -> sinks. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"

void lm_pipeline_init(struct lm_pipeline *p, const struct lm_est_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
}

int lm_pipeline_add_sink(struct lm_pipeline *p, struct lm_sink *s)
{
	if (p->nsinks >= LM_MAX_SINKS)
		return -ENOSPC;
	p->sinks[p->nsinks++] = s;
	return 0;
}

static struct lm_vm_view *find_vm(struct lm_pipeline *p, uint32_t pid, int create)
{
	struct lm_vm_view *vm;
	int i;

	for (i = 0; i < p->nvms; i++)
		if (p->vms[i]->pid == pid)
			return p->vms[i];
	if (!create || p->nvms >= LM_PIPE_MAX_VMS)
		return NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	vm->pid = pid;
	vm->first_ts_s = -1;
	lm_est_init(&vm->est, &p->cfg);
	p->vms[p->nvms++] = vm;
	return vm;
}

const struct lm_vm_view *lm_pipeline_vm(const struct lm_pipeline *p, uint32_t pid)
{
	return find_vm((struct lm_pipeline *)p, pid, 0);
}

void lm_pipeline_set_name(struct lm_pipeline *p, uint32_t pid, const char *name)
{
	struct lm_vm_view *vm = find_vm(p, pid, 1);

	if (vm)
		snprintf(vm->name, sizeof(vm->name), "%s", name);
}

static void push_history(struct lm_vm_view *vm, double ts_s)
{
	const struct lm_estimate *est = lm_est_current(&vm->est);
	uint32_t i;

	if (vm->hist_len < LM_HISTORY) {
		i = vm->hist_len++;
	} else {
		i = vm->hist_head;
		vm->hist_head = (vm->hist_head + 1) % LM_HISTORY;
	}
	vm->hist[i].ts_s = ts_s;
	vm->hist[i].dirty_Bps = vm->dirty_pages_per_s * vm->est.cfg.page_size;
	vm->hist[i].tx_Bps = vm->tx_bytes_per_s;
	vm->hist[i].remaining = est->remaining_bytes;
	vm->hist[i].verdict = est->verdict;
}

/* What the view keeps besides the estimate: totals and last rates. */
static void update_view(struct lm_vm_view *vm, const struct lm_obs *o)
{
	double ts_s = o->ts_ns / 1e9;
	uint64_t prev_events;

	if (vm->first_ts_s < 0)
		vm->first_ts_s = ts_s;
	vm->last_ts_s = ts_s;
	switch (o->kind) {
	case LM_OBS_START:
		vm->migrating = 1;
		vm->migrations++;
		vm->ram_bytes = o->start.ram_bytes;
		break;
	case LM_OBS_ROUND:
		vm->rounds++;
		if (o->round.round >= 2) {
			vm->dirty_pages += o->round.dirty_pages;
			if (o->round.duration_ns)
				vm->dirty_pages_per_s = o->round.dirty_pages / (o->round.duration_ns / 1e9);
		}
		if (o->round.ram_bytes)
			vm->ram_bytes = o->round.ram_bytes;
		break;
	case LM_OBS_TICK:
		prev_events = vm->dirty_events_total;
		if (o->tick.interval_ns) {
			vm->tx_bytes_per_s = (o->tick.tx_total - vm->tx_bytes) / (o->tick.interval_ns / 1e9);
			if (o->tick.dirty_events_total > prev_events && prev_events)
				vm->dirty_pages_per_s = (o->tick.dirty_events_total - prev_events) /
							(o->tick.interval_ns / 1e9);
		}
		vm->dirty_events_total = o->tick.dirty_events_total;
		vm->tx_bytes = o->tick.tx_total;
		vm->source = o->tick.source;
		vm->srtt_us = o->tick.srtt_us;
		vm->cwnd = o->tick.cwnd;
		break;
	case LM_OBS_END:
		vm->migrating = 0;
		vm->end_reason = o->end.reason;
		break;
	case LM_OBS_PARAMS:
		if (o->params.ram_bytes)
			vm->ram_bytes = o->params.ram_bytes;
		break;
	}
}

int lm_pipeline_feed(struct lm_pipeline *p, const struct lm_obs *o)
{
	struct lm_vm_view *vm = find_vm(p, o->pid, 1);
	int changed, i;

	if (!vm)
		return -ENOSPC;
	update_view(vm, o);
	changed = lm_est_feed(&vm->est, o);
	if (o->kind == LM_OBS_TICK)
		push_history(vm, o->ts_ns / 1e9);
	for (i = 0; i < p->nsinks; i++)
		if (p->sinks[i]->on_obs)
			p->sinks[i]->on_obs(p->sinks[i], o, vm, changed);
	return 0;
}

void lm_pipeline_message(struct lm_pipeline *p, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; i < p->nsinks; i++)
		if (p->sinks[i]->on_message)
			p->sinks[i]->on_message(p->sinks[i], level, msg);
}

int lm_pipeline_finish(struct lm_pipeline *p)
{
	int i, j, err, first_err = 0;

	for (i = 0; i < p->nsinks; i++)
		for (j = 0; j < p->nvms; j++)
			if (p->sinks[i]->on_summary)
				p->sinks[i]->on_summary(p->sinks[i], p->vms[j]);
	for (i = 0; i < p->nsinks; i++) {
		err = p->sinks[i]->close ? p->sinks[i]->close(p->sinks[i]) : 0;
		if (err && !first_err)
			first_err = err;
	}
	p->nsinks = 0;
	for (j = 0; j < p->nvms; j++)
		free(p->vms[j]);
	p->nvms = 0;
	return first_err;
}

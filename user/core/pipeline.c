// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Observations -> per-VM estimator and view -> sinks; BPF events -> observations. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/act_policy.h"
#include "core/estimator.h"
#include "core/units.h"
#include "core/pipeline.h"
#include "core/vmtrack.h"

struct lm_pipe_vm {
	struct lm_vm_view view;
	struct lm_estimator est;
	struct lm_act_state act;	/* --act's decisions */
	struct lm_vmtrack *track;	/* live tracing only, NULL once untracked */
	int64_t cookie;
	struct lm_pipeline *p;		/* for the tracker's emit callback */
	void *state[LM_MAX_SINKS];	/* each sink's per-VM slot (vm_state_size), by sink */
};

void lm_pipeline_init(struct lm_pipeline *p, const struct lm_est_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
}

/* Sink i's slot in vm (zeroed); 0 or -ENOMEM. */
static int alloc_state(struct lm_pipe_vm *vm, int i, size_t size)
{
	if (!size)
		return 0;
	vm->state[i] = calloc(1, size);
	return vm->state[i] ? 0 : -ENOMEM;
}

static void free_vm(struct lm_pipe_vm *vm)
{
	int i;

	for (i = 0; i < LM_MAX_SINKS; i++)
		free(vm->state[i]);
	free(vm->track);
	free(vm);
}

int lm_pipeline_add_sink(struct lm_pipeline *p, struct lm_sink *s)
{
	int j;

	if (p->nsinks >= LM_MAX_SINKS)
		return -ENOSPC;
	/* VMs already there get their slot now */
	for (j = 0; j < p->nvms; j++)
		if (alloc_state(p->vms[j], p->nsinks, s->vm_state_size)) {
			while (j--) {
				free(p->vms[j]->state[p->nsinks]);
				p->vms[j]->state[p->nsinks] = NULL;
			}
			return -ENOMEM;
		}
	p->sinks[p->nsinks++] = s;
	return 0;
}

static struct lm_pipe_vm *find_vm(const struct lm_pipeline *p, uint32_t pid)
{
	int i;

	for (i = 0; i < p->nvms; i++)
		if (p->vms[i]->view.pid == pid)
			return p->vms[i];
	return NULL;
}

static struct lm_pipe_vm *find_or_add_vm(struct lm_pipeline *p, uint32_t pid)
{
	struct lm_pipe_vm *vm = find_vm(p, pid);
	int i;

	if (vm || p->nvms >= LM_PIPE_MAX_VMS)
		return vm;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	for (i = 0; i < p->nsinks; i++)
		if (alloc_state(vm, i, p->sinks[i]->vm_state_size)) {
			free_vm(vm);
			return NULL;
		}
	vm->p = p;
	vm->view.pid = pid;
	vm->view.first_ts_s = -1;
	vm->view.measured_dirty_Bps = -1;
	vm->view.migration_start_ts_s = -1;
	vm->view.act_last_ts_s = -1;
	lm_act_init(&vm->act);
	lm_est_init(&vm->est, &p->cfg);
	vm->view.est = *lm_est_current(&vm->est);
	p->vms[p->nvms++] = vm;
	return vm;
}

const struct lm_vm_view *lm_pipeline_vm(const struct lm_pipeline *p, uint32_t pid)
{
	struct lm_pipe_vm *vm = find_vm(p, pid);

	return vm ? &vm->view : NULL;
}

const struct lm_vm_view *lm_pipeline_view(const struct lm_pipeline *p, int i)
{
	return i >= 0 && i < p->nvms ? &p->vms[i]->view : NULL;
}

void lm_pipeline_set_name(struct lm_pipeline *p, uint32_t pid, const char *name)
{
	struct lm_pipe_vm *vm = find_or_add_vm(p, pid);

	if (vm)
		snprintf(vm->view.name, sizeof(vm->view.name), "%s", name);
}

static void push_history(struct lm_vm_view *vm, double ts_s)
{
	uint32_t i;

	if (vm->hist_len < LM_HISTORY) {
		i = vm->hist_len++;
	} else {
		i = vm->hist_head;
		vm->hist_head = (vm->hist_head + 1) % LM_HISTORY;
	}
	vm->hist[i].ts_s = ts_s;
	vm->hist[i].dirty_Bps = vm->est.dirty_rate_Bps;
	vm->hist[i].tx_Bps = vm->tx_bytes_per_s;
	vm->hist[i].remaining = vm->est.remaining_bytes;
	vm->hist[i].verdict = vm->est.verdict;
}

static void view_tick(struct lm_vm_view *vm, const struct lm_obs_tick *t)
{
	int back = 0;
	uint64_t sent = lm_counter_delta(t->tx_total, vm->tx_bytes, &back);

	/* a reading below the last has no rate: 0 for this tick, then from the new base */
	if (t->interval_ns)
		vm->tx_bytes_per_s = sent / (t->interval_ns / 1e9);
	vm->tx_bytes = t->tx_total;
	vm->source = t->source;
	vm->srtt_us = t->srtt_us;
	vm->lost_events = t->lost_events_total;
	vm->cwnd = t->cwnd;
}

/* --act's last action, and the counts by kind and outcome. */
static void view_action(struct lm_vm_view *vm, const struct lm_obs_action *a, double ts_s)
{
	if (a->action < LM_ACT_KINDS) {
		vm->actions[a->action]++;
		if (a->outcome == LM_ACT_APPLIED)
			vm->actions_applied[a->action]++;
	}
	vm->act_last_action = a->action;
	vm->act_last_value = a->value;
	vm->act_last_round = a->round;
	vm->act_last_outcome = a->outcome;
	vm->act_last_error = a->error;
	vm->act_last_ts_s = ts_s;
}

/* What the view keeps besides the estimate: totals and the last transfer rate. */
static void update_view(struct lm_vm_view *vm, const struct lm_obs *o)
{
	double ts_s = o->ts_ns / 1e9;

	if (vm->first_ts_s < 0)
		vm->first_ts_s = ts_s;
	vm->last_ts_s = ts_s;
	switch (o->kind) {
	case LM_OBS_START:
		vm->migration_start_ts_s = ts_s;
		vm->migrating = 1;
		vm->migrations++;
		vm->ram_bytes = o->start.ram_bytes;
		break;
	case LM_OBS_ROUND:
		vm->rounds++;
		if (o->round.round >= 2)
			vm->dirty_pages += o->round.dirty_pages;
		if (o->round.ram_bytes)
			vm->ram_bytes = o->round.ram_bytes;
		break;
	case LM_OBS_TICK:
		view_tick(vm, &o->tick);
		break;
	case LM_OBS_END:
		vm->migrating = 0;
		vm->end_reason = o->end.reason;
		break;
	case LM_OBS_PARAMS:
		if (o->params.ram_bytes)
			vm->ram_bytes = o->params.ram_bytes;
		break;
	case LM_OBS_ACT_CONFIG:
		vm->act_on = 1;
		vm->act_cfg = o->act_config;
		break;
	case LM_OBS_ACTION:
		view_action(vm, &o->action, ts_s);
		break;
	case LM_OBS_DIRTY_RATE:
		vm->dirty_rate_windows++;
		vm->measured_window_s = o->dirty_rate.window_ns / 1e9;
		vm->measured_dirty_Bps = lm_dirty_rate_Bps(&o->dirty_rate, vm->est.page_size);
		break;
	}
}

/* errno is that of the write that failed, read right after the sinks wrote. */
static void watch_streams(struct lm_pipeline *p)
{
	int i, err = errno;

	for (i = 0; i < p->nsinks && !p->error; i++)
		if (p->sinks[i]->out && ferror(p->sinks[i]->out))
			p->error = err > 0 ? -err : -EIO;
}

/* An action's outcome: the decision behind it, for the outputs. */
static void explain_action(struct lm_vm_view *vm, const struct lm_act_decision *d, int act)
{
	snprintf(vm->act_last_reason, sizeof(vm->act_last_reason), "%s", d->reason);
	vm->act_last_sufficient = d->sufficient;
	vm->act_last_est = d->est;
	if (act < 0) {
		vm->act_last_est = vm->est;
		vm->act_mismatches++;
	}
}

int lm_pipeline_feed(struct lm_pipeline *p, const struct lm_obs *o)
{
	struct lm_pipe_vm *vm = find_or_add_vm(p, o->pid);
	struct lm_act_decision d;
	uint32_t prev_phase;
	unsigned changed;
	int i, act;

	if (!vm)
		return -ENOSPC;
	update_view(&vm->view, o);
	prev_phase = vm->view.est.phase;
	changed = lm_est_feed(&vm->est, o) ? LM_CHANGED_VERDICT : 0;
	vm->view.est = *lm_est_current(&vm->est);
	if (strcmp(lm_phase_name(vm->view.est.phase), lm_phase_name(prev_phase))) {
		vm->view.previous_phase = prev_phase;
		changed |= LM_CHANGED_PHASE;
	}
	if (o->kind == LM_OBS_TICK)
		push_history(&vm->view, o->ts_ns / 1e9);
	act = lm_act_feed(&vm->act, o, &vm->view.est, &d);
	if (o->kind == LM_OBS_ACTION)
		explain_action(&vm->view, &d, act);
	errno = 0;
	for (i = 0; i < p->nsinks; i++)
		lm_sink_dispatch(p->sinks[i], &(struct lm_sink_vm){ .view = &vm->view,
				 .state = vm->state[i], .obs = o, .ts_s = o->ts_ns / 1e9,
				 .changed = changed });
	watch_streams(p);
	/* after the sinks: the decision's outcome is the next thing they see */
	if (o->kind != LM_OBS_ACTION && act == 1 && p->on_act)
		p->on_act(p->act_ctx, o->pid, &d);
	return 0;
}

void lm_pipeline_on_act(struct lm_pipeline *p, lm_act_fn fn, void *ctx)
{
	p->on_act = fn;
	p->act_ctx = ctx;
}

int lm_pipeline_error(const struct lm_pipeline *p)
{
	return p->error;
}

void lm_pipeline_message(struct lm_pipeline *p, int level, const char *fmt, ...)
{
	char msg[1024];	/* a release's reason ends with a command to run by hand: keep it whole */
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; i < p->nsinks; i++)
		if (p->sinks[i]->on_message)
			p->sinks[i]->on_message(p->sinks[i], level, msg);
}

/* A callback about the VM as a whole (summary, forget) for sink i. */
static void vm_call(struct lm_pipeline *p, int i, struct lm_pipe_vm *vm, lm_sink_fn fn)
{
	if (fn)
		fn(p->sinks[i], &(struct lm_sink_vm){ .view = &vm->view, .state = vm->state[i],
						    .ts_s = vm->view.last_ts_s });
}

void lm_pipeline_retire(struct lm_pipeline *p, uint32_t pid)
{
	struct lm_pipe_vm *vm;
	int i, j;

	for (i = 0; i < p->nvms && p->vms[i]->view.pid != pid; i++)
		;
	if (i == p->nvms)
		return;
	vm = p->vms[i];
	for (j = 0; j < p->nsinks; j++)
		vm_call(p, j, vm, p->sinks[j]->on_summary);
	for (j = 0; j < p->nsinks; j++)
		vm_call(p, j, vm, p->sinks[j]->on_forget);
	/* the others keep their order: outputs list VMs in order of appearance */
	memmove(&p->vms[i], &p->vms[i + 1], (p->nvms - i - 1) * sizeof(p->vms[0]));
	p->nvms--;
	free_vm(vm);
}

int lm_pipeline_finish(struct lm_pipeline *p)
{
	int i, j, err, first_err = 0;

	for (i = 0; i < p->nsinks; i++)
		for (j = 0; j < p->nvms; j++)
			vm_call(p, i, p->vms[j], p->sinks[i]->on_summary);
	for (i = 0; i < p->nsinks; i++) {
		err = p->sinks[i]->close ? p->sinks[i]->close(p->sinks[i]) : 0;
		if (err && !first_err)
			first_err = err;
	}
	p->nsinks = 0;
	/* after close: a sink may draw its VMs' state one last time there */
	for (j = 0; j < p->nvms; j++)
		free_vm(p->vms[j]);
	p->nvms = 0;
	return first_err;
}

/* ---- live tracing ------------------------------------------------------- */

static void emit_obs(void *ctx, const struct lm_obs *o)
{
	struct lm_pipe_vm *vm = ctx;

	lm_pipeline_feed(vm->p, o);
}

void lm_pipeline_on_sock_role(struct lm_pipeline *p, lm_sock_role_fn fn, void *ctx)
{
	p->on_sock_role = fn;
	p->sock_role_ctx = ctx;
}

/* Decisions the tracker made about sockets, to whoever acts on them. */
static void pass_decisions(struct lm_pipe_vm *vm)
{
	const struct lm_stream *s;

	while (lm_vmtrack_next_decision(vm->track, &s))
		if (vm->p->on_sock_role)
			vm->p->on_sock_role(vm->p->sock_role_ctx, vm->view.pid, s);
}

int lm_pipeline_track(struct lm_pipeline *p, uint32_t pid, uint32_t source,
		      int64_t realtime_offset_ns, int64_t cookie, uint32_t flags)
{
	struct lm_pipe_vm *vm = find_vm(p, pid);

	if (vm && vm->track)
		return -EEXIST;
	vm = find_or_add_vm(p, pid);
	if (!vm)
		return p->nvms >= LM_PIPE_MAX_VMS ? -ENOSPC : -ENOMEM;
	vm->track = calloc(1, sizeof(*vm->track));
	if (!vm->track)
		return -ENOMEM;
	lm_vmtrack_init(vm->track, pid, source, realtime_offset_ns);
	if (flags & LM_TRACK_PORT_FILTER)
		lm_vmtrack_fixed_sock_roles(vm->track);
	vm->cookie = cookie;
	return 0;
}

int lm_pipeline_tracked(const struct lm_pipeline *p, int i, uint32_t *pid, int64_t *cookie)
{
	int j, seen = 0;

	for (j = 0; j < p->nvms; j++) {
		if (!p->vms[j]->track)
			continue;
		if (seen++ == i) {
			*pid = p->vms[j]->view.pid;
			*cookie = p->vms[j]->cookie;
			return 1;
		}
	}
	return 0;
}

void lm_pipeline_event(struct lm_pipeline *p, const struct lm_event *e)
{
	struct lm_pipe_vm *vm = find_vm(p, e->pid);

	if (!vm || !vm->track)
		return;
	if (e->kind == LM_EV_RESET_RINGS)
		vm->track->source = LM_SRC_RING;
	lm_vmtrack_event(vm->track, e, emit_obs, vm);
	pass_decisions(vm);
}

/* 1 if test holds for any traced VM's tracking. */
static int any_track(const struct lm_pipeline *p, int (*test)(const struct lm_vmtrack *t))
{
	int i;

	for (i = 0; i < p->nvms; i++)
		if (p->vms[i]->track && test(p->vms[i]->track))
			return 1;
	return 0;
}

int lm_pipeline_busy(const struct lm_pipeline *p)
{
	return any_track(p, lm_vmtrack_busy);
}

uint64_t lm_pipeline_unseen_logon_ns(const struct lm_pipeline *p, uint32_t pid)
{
	struct lm_pipe_vm *vm = find_vm(p, pid);

	return vm && vm->track ? lm_vmtrack_unseen_logon_ns(vm->track) : 0;
}

int lm_pipeline_wants_hooks(const struct lm_pipeline *p)
{
	return any_track(p, lm_vmtrack_wants_hooks);
}

void lm_pipeline_poll(struct lm_pipeline *p, uint64_t now_ns)
{
	int i;

	for (i = 0; i < p->nvms; i++) {
		if (!p->vms[i]->track)
			continue;
		lm_vmtrack_poll(p->vms[i]->track, now_ns, emit_obs, p->vms[i]);
		pass_decisions(p->vms[i]);
	}
}

void lm_pipeline_tick(struct lm_pipeline *p, uint32_t pid, uint64_t now_ns,
		      const struct lm_vm_counters *sum)
{
	struct lm_pipe_vm *vm = find_vm(p, pid);

	if (vm && vm->track)
		lm_vmtrack_tick(vm->track, now_ns, sum, emit_obs, vm);
}

void lm_pipeline_untrack(struct lm_pipeline *p, uint32_t pid, uint64_t now_ns, uint32_t reason,
			 const struct lm_vm_counters *sum)
{
	struct lm_pipe_vm *vm = find_vm(p, pid);

	if (!vm || !vm->track)
		return;
	/* The end first (a pending completion carries an earlier time), then
	 * a last sample so the totals include what was sent since the last tick. */
	lm_vmtrack_finish(vm->track, now_ns, reason, emit_obs, vm);
	if (sum)
		lm_vmtrack_tick(vm->track, now_ns, sum, emit_obs, vm);
	free(vm->track);
	vm->track = NULL;
}

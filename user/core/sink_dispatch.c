// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* One observation, the view and what changed -> a sink's typed callbacks (view.h). */
#include "core/view.h"

#define CALL(fn, ...)	do { if (s->fn) s->fn(s, v, ##__VA_ARGS__); } while (0)

/* What a display of the current state shows moved. */
static int refreshes(const struct lm_sink_vm *v)
{
	uint32_t k = v->obs->kind;

	return k == LM_OBS_TICK || k == LM_OBS_START || k == LM_OBS_END || v->changed;
}

void lm_sink_dispatch(struct lm_sink *s, const struct lm_sink_vm *v)
{
	const struct lm_obs *o = v->obs;

	CALL(on_update);
	switch (o->kind) {
	case LM_OBS_START: CALL(on_start, &o->start); break;
	case LM_OBS_ROUND: CALL(on_round, &o->round); break;
	case LM_OBS_TICK: CALL(on_sample, &o->tick); break;
	case LM_OBS_END: CALL(on_end, &o->end); break;
	case LM_OBS_PARAMS: CALL(on_params, &o->params); break;
	case LM_OBS_DIRTY_RATE: CALL(on_dirty_rate, &o->dirty_rate); break;
	case LM_OBS_ACT_CONFIG: CALL(on_act_config, &o->act_config); break;
	case LM_OBS_ACTION: CALL(on_action, &o->action); break;
	case LM_OBS_HEAD_START: CALL(on_head_start, &o->head_start); break;
	}
	if (v->changed & LM_CHANGED_PHASE)
		CALL(on_phase);
	if (v->changed & LM_CHANGED_VERDICT)
		CALL(on_verdict);
	if (refreshes(v))
		CALL(on_refresh);
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The Prometheus series lmtrace exposes (README "Prometheus metrics"),
 * shared by --prom-file and --listen: a thread-safe snapshot of each VM's
 * view, rendered in the text exposition format 0.0.4. Each VM's snapshot is
 * the sink's per-VM slot (a struct lm_prom_vm); the state links them.
 */
#ifndef LM_PROM_METRICS_H
#define LM_PROM_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include "core/pipeline.h"
#include "sinks/vm_list.h"

struct lm_prom_vm {
	struct lm_vm_link link;		/* first: in lm_prom_state.vms */
	uint32_t pid;
	char name[64];
	struct lm_estimate est;
	double downtime_limit_s;
	uint32_t rounds, migrations, source, srtt_us, dirty_rate_windows;
	double measured_dirty_Bps;
	double migration_start_ts_s;
	uint64_t lost_events;
	int migrating;
	uint64_t dirty_pages, tx_bytes, ram_bytes, page_size;
	double last_ts_s;
	int act_on;				/* --act: the action counters exist */
	uint32_t actions[LM_ACT_KINDS], actions_applied[LM_ACT_KINDS];
};

struct lm_prom_state {
	pthread_mutex_t lock;
	struct lm_vm_list vms;		/* of struct lm_prom_vm, in order of appearance */
};

void lm_prom_init(struct lm_prom_state *st);
void lm_prom_destroy(struct lm_prom_state *st);
/* Copy what the series need from the view (the estimator's numbers, as is) into
 * the VM's slot, which joins the state the first time. */
void lm_prom_update(struct lm_prom_state *st, struct lm_prom_vm *p, const struct lm_vm_view *vm);
/* The VM's series go (its process is gone): the slot leaves the state. */
void lm_prom_forget(struct lm_prom_state *st, struct lm_prom_vm *p);
/* A malloc'd exposition text (caller frees) and its length; NULL on ENOMEM. */
char *lm_prom_render(struct lm_prom_state *st, size_t *len);

#endif /* LM_PROM_METRICS_H */

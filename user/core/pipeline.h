/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The pipeline: observations in, estimates and output out. One lm_vm_view per
 * traced pid; every observation updates its view and estimator, then goes to
 * each sink. Pure: no clocks, no BPF, so live tracing and replay (-r) go
 * through exactly the same code.
 */
#ifndef LM_PIPELINE_H
#define LM_PIPELINE_H

#include "sink.h"

#define LM_MAX_SINKS 8
#define LM_PIPE_MAX_VMS 64

struct lm_pipeline {
	struct lm_est_config cfg;
	struct lm_vm_view *vms[LM_PIPE_MAX_VMS];
	int nvms;
	struct lm_sink *sinks[LM_MAX_SINKS];
	int nsinks;
};

void lm_pipeline_init(struct lm_pipeline *p, const struct lm_est_config *cfg);
/* Takes ownership of nothing: the sink must outlive the pipeline. -ENOSPC if full. */
int lm_pipeline_add_sink(struct lm_pipeline *p, struct lm_sink *s);
/* Name a VM for labels (QEMU -name, else comm). Creates the view if needed. */
void lm_pipeline_set_name(struct lm_pipeline *p, uint32_t pid, const char *name);
/* Feed one observation. -ENOSPC if it is for a new VM and the table is full. */
int lm_pipeline_feed(struct lm_pipeline *p, const struct lm_obs *o);
/* A message for every sink (level 0 = info, 1 = warning, 2 = error). */
void lm_pipeline_message(struct lm_pipeline *p, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Summaries for every VM, then close every sink. Returns the first sink error. */
int lm_pipeline_finish(struct lm_pipeline *p);
const struct lm_vm_view *lm_pipeline_vm(const struct lm_pipeline *p, uint32_t pid);

#endif /* LM_PIPELINE_H */

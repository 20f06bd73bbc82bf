/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Every output sink's constructor. Each returns 0 and a sink to hand to
 * lm_pipeline_add_sink(), or -errno (with a user-facing message in err where
 * it takes one: what failed, what to do). The pipeline closes every sink in
 * lm_pipeline_finish(), and a sink made here frees itself in its close.
 *
 * A sink sets the typed callbacks of struct lm_sink (core/view.h) it needs
 * and keeps what it must remember about a VM in the per-VM slot the
 * pipeline gives it (vm_state_size). Sinks only format what the view and
 * its estimator say: no sink computes an estimate or a verdict of its own.
 */
#ifndef LM_OUTPUTS_H
#define LM_OUTPUTS_H

#include <stddef.h>
#include <stdio.h>
#include "core/published.h"
#include "core/pipeline.h"
#include "core/units.h"
#include "core/view.h"

/* -j: one JSON object per line (schema in README.md). f stays owned by the caller. */
int lm_sink_json_new(FILE *f, struct lm_sink **out);
/* Plain rows: one per interval and VM, for pipes and logs. */
int lm_sink_text_new(FILE *f, struct lm_sink **out);

/* --csv: a header line (units in the column names), then one line per
 * sample, round, migration start and end. f stays owned by the caller. */
int lm_sink_csv_new(FILE *f, struct lm_sink **out);

/* --prom-file PATH: node_exporter textfile-collector format, rewritten
 * atomically (PATH.tmp + rename) on every sample, verdict change and close. */
int lm_sink_prom_file_new(const char *path, struct lm_sink **out,
			  char *err, size_t errlen);

/* --listen [ADDR:]PORT: /metrics over HTTP (libmicrohttpd, own thread).
 * ADDR may be a host name, an IPv4 address or [IPv6]; without it, 127.0.0.1.
 * An address beyond loopback (0.0.0.0, [::]) is served with a warning. */
int lm_sink_http_new(const char *addr_port, struct lm_sink **out,
		     char *err, size_t errlen);

/* The live terminal view: one block per VM, redrawn in place on tty. */
int lm_sink_live_new(FILE *tty, struct lm_sink **out);

/* -w FILE: a compressed, checksummed recording of every observation, VM
 * name and message, with cfg in its header, replayable with -r. */
int lm_sink_record_new(const char *path, const struct lm_est_config *cfg,
		       struct lm_sink **out, char *err, size_t errlen);

#endif /* LM_OUTPUTS_H */

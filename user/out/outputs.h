/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Output sinks beyond the JSON and text rows, and replay. Each constructor
 * returns 0 and a sink to hand to lm_pipeline_add_sink(), or -errno with a
 * user-facing message in err (what failed, what to do). The pipeline closes
 * (and frees) every sink in lm_pipeline_finish().
 *
 * Sinks only format what the view and its estimator say: no sink computes an
 * estimate or a verdict of its own.
 */
#ifndef LM_OUTPUTS_H
#define LM_OUTPUTS_H

#include <stddef.h>
#include <stdio.h>
#include "estimator.h"
#include "pipeline.h"
#include "sink.h"

/* --csv: a header line (units in the column names), then one line per
 * sample, round, migration start and end. f stays owned by the caller. */
int lm_sink_csv_new(FILE *f, struct lm_sink **out);

/* --prom-file PATH: node_exporter textfile-collector format, rewritten
 * atomically (PATH.tmp + rename) on every sample, verdict change and close. */
int lm_sink_prom_file_new(const char *path, struct lm_sink **out,
			  char *err, size_t errlen);

/* --listen ADDR:PORT: /metrics over HTTP (libmicrohttpd, own thread).
 * ADDR may be a host name, an IPv4 address, [IPv6] or empty (all). */
int lm_sink_http_new(const char *addr_port, struct lm_sink **out,
		     char *err, size_t errlen);

/* The live terminal view: one block per VM, redrawn in place on tty. */
int lm_sink_live_new(FILE *tty, struct lm_sink **out);

/* -w FILE: a compressed, checksummed recording of every observation, VM
 * name and message, with cfg in its header, replayable with -r. */
int lm_sink_record_new(const char *path, const struct lm_est_config *cfg,
		       struct lm_sink **out, char *err, size_t errlen);

/*
 * -r FILE: feed a recording through p (already initialised, sinks added).
 * If p has no VM yet, p->cfg is replaced by the recording's configuration so
 * the estimates are those seen live. Does not call lm_pipeline_finish().
 * A recording cut short at a block boundary (lmtrace killed) replays what it
 * holds, warns through the pipeline and returns 0; corruption or truncation
 * inside a block returns -EBADMSG/-EPROTO/-errno with the byte offset in err,
 * after everything before it was fed.
 */
int lm_replay(const char *path, struct lm_pipeline *p, char *err, size_t errlen);

/* `lmtrace report FILE -o chart.svg|chart.html`: argv[0] is "report". */
int lm_report_main(int argc, char **argv);

#endif /* LM_OUTPUTS_H */

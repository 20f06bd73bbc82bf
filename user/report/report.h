/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lmtrace report: a recording replayed through the pipeline into per-VM
 * series (report.c), drawn as SVG or a self-contained HTML page
 * (report_svg.c). Every number drawn is the estimator's or the recording's.
 */
#ifndef LM_REPORT_H
#define LM_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/published.h"

struct lm_rep_sample {		/* after every tick and every round */
	double t_s;		/* since the first observation in the recording */
	double dirty_Bps, tx_Bps;	/* estimator's, <0 unknown */
	double remaining;	/* bytes, <0 unknown */
	uint32_t verdict;
	uint32_t seq;		/* arrival order, for a stable sort by time */
};

struct lm_rep_round {
	double t_s, dur_s;	/* sync time and round length */
	uint32_t round, flags;
	double dirty_Bps;	/* the estimator's dirty rate after this round, <0 unknown */
	uint64_t dirty_pages;
	uint32_t seq;
};

struct lm_rep_event {
	double t_s;
	uint32_t kind;		/* LM_OBS_START, LM_OBS_END, LM_OBS_ACTION or 0 = verdict change */
	uint32_t value;		/* verdict, end reason, or enum lm_act_kind */
	char text[LM_REASON_MAX];
	uint32_t seq;
};

struct lm_rep_vm {
	uint32_t pid;
	char name[64];
	struct lm_rep_sample *samples;
	struct lm_rep_round *rounds;
	struct lm_rep_event *events;
	size_t nsamples, nrounds, nevents;
	size_t cap_samples, cap_rounds, cap_events;
	double predicted_switchover_t_s;	/* switchover predicted when "converging" was */
	double predicted_at_t_s;		/* last given (t + ETA), <0 none; and when */
	int prediction_pending;			/* converging, no ETA taken yet */
	double last_t_s;
	struct lm_estimate final;		/* the estimate at the end */
	uint32_t rounds_total;
	uint64_t tx_bytes, dirty_pages, ram_bytes;
	double downtime_limit_s;
};

struct lm_rep {
	const char *source;	/* recording path, for titles */
	double t0_s;		/* Unix time of the first observation */
	struct lm_rep_vm **vms;	/* every VM, in order of its first observation */
	int nvms, cap_vms;
};

enum lm_rep_format { LM_REP_SVG, LM_REP_HTML };

/* Writes the chart; returns 0 or -errno (a write error). */
int lm_report_write(const struct lm_rep *rep, FILE *f, enum lm_rep_format fmt, int width);

/*
 * The whole job of `lmtrace report`: replay the recording at in, draw it
 * into out ("-" = stdout). 0, or -errno with a message in err (it names the
 * file).
 */
int lm_report_make(const char *in, const char *out, enum lm_rep_format fmt, int width,
		   char *err, size_t errlen);

#endif /* LM_REPORT_H */

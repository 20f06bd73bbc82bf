/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * --qmp: the migration parameters that decide convergence (downtime limit,
 * bandwidth cap, RAM size, auto-converge throttle), read from QEMU each
 * interval and turned into LM_OBS_PARAMS observations when they change.
 */
#ifndef LM_QMP_WATCH_H
#define LM_QMP_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include "core/obs.h"

struct lm_qmp;

struct lm_qmp_watch {
	struct lm_qmp *q;
	uint32_t pid;
	struct lm_obs_params last;
	int have_last;
};

/* 0, or -errno with a user-facing message in err. */
int lm_qmp_watch_open(struct lm_qmp_watch *w, const char *path, uint32_t pid,
		      char *err, size_t errlen);
/* 1 and *out filled when the parameters changed, 0 if not, -errno (message in err). */
int lm_qmp_watch_poll(struct lm_qmp_watch *w, uint64_t ts_ns, struct lm_obs *out,
		      char *err, size_t errlen);
void lm_qmp_watch_close(struct lm_qmp_watch *w);

#endif /* LM_QMP_WATCH_H */

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -r FILE: a recording fed back through the same pipeline (estimator and
 * sinks) that produced it live, without root or BPF.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "record/replay.h"
#include "record/record.h"

int lm_replay(const char *path, struct lm_pipeline *p, char *err, size_t errlen)
{
	struct lm_record *r;
	struct lm_rec_item it;
	int ret, full_warned = 0;

	ret = lm_record_open(path, &r, err, errlen);
	if (ret)
		return ret;
	/* The estimates must be those seen live: use the recorded settings. */
	if (p->nvms == 0)
		p->cfg = *lm_record_config(r);
	while ((ret = lm_record_next(r, &it)) > 0 && !lm_pipeline_error(p)) {
		switch (it.type) {
		case LM_REC_E_OBS:
			if (lm_pipeline_feed(p, &it.obs) == -ENOSPC && !full_warned++)
				lm_pipeline_message(p, 1, "replay: more than %d VMs in %s, the rest are ignored",
						    LM_PIPE_MAX_VMS, path);
			break;
		case LM_REC_E_NAME:
			lm_pipeline_set_name(p, it.pid, it.name);
			break;
		case LM_REC_E_MESSAGE:
			lm_pipeline_message(p, it.level, "%s", it.text);
			break;
		default:
			break;
		}
	}
	if (ret > 0) {
		/* the outputs failed (a closed pipe): no use reading on */
		ret = lm_pipeline_error(p);
		snprintf(err, errlen, "writing output failed: %s", strerror(-ret));
	} else if (ret == -ENODATA) {
		/* A killed lmtrace: everything up to its last block is good. */
		lm_pipeline_message(p, 1, "%s", lm_record_error(r));
		ret = 0;
	} else if (ret < 0) {
		snprintf(err, errlen, "%s", lm_record_error(r));
	}
	lm_record_close(r);
	return ret;
}

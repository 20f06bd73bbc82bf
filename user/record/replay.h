/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Replay: a recording fed back through the pipeline that produced it. */
#ifndef LM_REPLAY_H
#define LM_REPLAY_H

#include <stddef.h>
#include "core/pipeline.h"

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

#endif /* LM_REPLAY_H */

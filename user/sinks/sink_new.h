/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the stream sinks (text, JSON, CSV, live) share: one allocation for
 * the sink and its private state, made from a constant prototype that
 * names the sink and its callbacks, and the close of a sink that only
 * writes a stream.
 */
#ifndef LM_SINK_NEW_H
#define LM_SINK_NEW_H

#include <stddef.h>
#include <stdio.h>
#include "core/view.h"

/*
 * A copy of *proto whose ctx is state_size zeroed bytes in the same
 * allocation and whose out is f, the stream it writes (it stays the
 * caller's). 0, or -ENOMEM. Freed with free(*out) alone.
 */
int lm_sink_new(const struct lm_sink *proto, size_t state_size, FILE *f, struct lm_sink **out);

/* A close for a sink made by lm_sink_new(): flushes out, frees the sink; 0, -errno of the flush, or -EIO after an earlier write error. */
int lm_sink_stream_close(struct lm_sink *s);

#endif /* LM_SINK_NEW_H */

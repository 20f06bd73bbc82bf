// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The stream sinks' allocation and close (sink_new.h). */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include "sinks/sink_new.h"

/* The state follows the sink, aligned for any type. */
#define STATE_OFF ((sizeof(struct lm_sink) + alignof(max_align_t) - 1) / alignof(max_align_t) * \
		   alignof(max_align_t))

int lm_sink_new(const struct lm_sink *proto, size_t state_size, FILE *f, struct lm_sink **out)
{
	struct lm_sink *s = calloc(1, STATE_OFF + state_size);

	if (!s)
		return -ENOMEM;
	*s = *proto;
	s->ctx = (char *)s + STATE_OFF;
	s->out = f;
	*out = s;
	return 0;
}

int lm_sink_stream_close(struct lm_sink *s)
{
	int err = fflush(s->out) ? -errno : 0;

	if (!err && ferror(s->out))
		err = -EIO;
	free(s);
	return err;
}

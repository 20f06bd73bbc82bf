// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the recording reader (make fuzz): any byte string
 * must open-or-fail and then read to an end or an error, without a crash,
 * an out-of-bounds access, undefined behaviour or a loop, and every error
 * must name a byte offset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "record/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_rec_item it;
	struct lm_record *r;
	char err[400];
	size_t items = 0;
	int ret;

	if (lm_record_open_mem(data, size, &r, err, sizeof(err)))
		return 0;
	while ((ret = lm_record_next(r, &it)) > 0) {
		/* Each item takes at least 4 bytes of a block: no more items than that. */
		if (++items > (size_t)LM_REC_BLOCK_MAX * (size / LM_REC_BLOCK_HDR + 1))
			abort();
		if (it.type == LM_REC_E_NAME && strlen(it.name) >= sizeof(it.name))
			abort();
	}
	if (ret < 0 && !strstr(lm_record_error(r), "offset"))
		abort();
	if (lm_record_next(r, &it) != ret)	/* errors are sticky */
		abort();
	lm_record_close(r);
	return 0;
}

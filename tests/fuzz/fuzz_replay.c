// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for everything behind the reader (make fuzz-replay):
 * whatever observations a recording holds (crafted values, time going
 * backwards, 0-length rounds, hundreds of pids) go through lm_replay into
 * the real pipeline, estimator and every formatting sink, and through
 * `lmtrace report`; none may crash, read out of bounds or hang.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "sinks/outputs.h"
#include "sinks/prom_metrics.h"
#include "report/report.h"
#include "record/replay.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	static struct lm_prom_vm slot[LM_PIPE_MAX_VMS];
	struct lm_prom_state st;
	struct lm_est_config cfg;
	struct lm_pipeline p;
	struct lm_sink *s;
	size_t len;
	char *text;
	int fd;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	fd = memfd_create("recording", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	if (!lm_sink_csv_new(devnull, &s))
		lm_pipeline_add_sink(&p, s);
	if (!lm_sink_json_new(devnull, &s))
		lm_pipeline_add_sink(&p, s);
	if (!lm_sink_text_new(devnull, &s))
		lm_pipeline_add_sink(&p, s);
	if (!lm_sink_live_new(devnull, &s))
		lm_pipeline_add_sink(&p, s);
	lm_replay(path, &p, err, sizeof(err));
	lm_prom_init(&st);
	for (int i = 0; lm_pipeline_view(&p, i); i++)	/* each VM's snapshot in a fresh slot */
		lm_prom_update(&st, memset(&slot[i], 0, sizeof(slot[i])), lm_pipeline_view(&p, i));
	text = lm_prom_render(&st, &len);
	free(text);
	lm_prom_destroy(&st);
	lm_pipeline_finish(&p);

	/* "-": stdout, which -close_fd_mask=3 points at /dev/null; a device as
	 * OUT is refused, and the report would never be drawn */
	lm_report_make(path, "-", LM_REP_SVG, 960, err, sizeof(err));
	close(fd);
	return 0;
}

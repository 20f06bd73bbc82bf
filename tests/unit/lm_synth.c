// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lm_synth: writes a recording of a model pre-copy migration (see
 * tests/unit/synth.h) through the real pipeline and recording sink, for the
 * output tests that need a recording without root, BPF or a VM.
 *   lm_synth converging|stuck|both|hostile OUT.lmrec
 * hostile: both, with the names a hostile VMM owner could give (quotes, a
 * newline, terminal escapes, invalid UTF-8), stored raw as an older
 * lmtrace would have: replay must sanitise them.
 */
#include <stdio.h>
#include <string.h>
#include "sinks/outputs.h"
#include "synth.h"

static const struct synth converging = {
	.pid = 4242, .t0_ns = 1764075600000000000ull, .ram = 256 << 20, .rate_Bps = 32 << 20,
	.dirty_Bps = 4 << 20, .wws = 256 << 20, .downtime_s = 0.3, .max_s = 60,
};
static const struct synth stuck = {
	.pid = 4343, .t0_ns = 1764075600000000000ull, .ram = 256 << 20, .rate_Bps = 16 << 20,
	.dirty_Bps = 64 << 20, .wws = 200 << 20, .downtime_s = 0.3, .max_s = 40,
};

static void feed(void *ctx, const struct lm_obs *o)
{
	lm_pipeline_feed(ctx, o);
}

int main(int argc, char **argv)
{
	struct lm_est_config cfg;
	struct lm_pipeline p;
	struct lm_sink *s;
	char err[512];
	int hostile = argc == 3 && !strcmp(argv[1], "hostile");

	if (argc != 3 || (strcmp(argv[1], "converging") && strcmp(argv[1], "stuck") &&
			  strcmp(argv[1], "both") && !hostile)) {
		fprintf(stderr, "usage: lm_synth converging|stuck|both|hostile OUT.lmrec\n");
		return 2;
	}
	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	if (lm_sink_record_new(argv[2], &cfg, &s, err, sizeof(err))) {
		fprintf(stderr, "lm_synth: %s\n", err);
		return 1;
	}
	lm_pipeline_add_sink(&p, s);
	lm_pipeline_set_name(&p, converging.pid, hostile ? "db \"primary\"\\rack\n3,\x1b[2J\x7f" :
			     "vm-converging");
	lm_pipeline_set_name(&p, stuck.pid, hostile ? "vm\",evil=\"1 \xff\xfe\xc2\x9b \xe6\x97\xa5\xe6" :
			     "vm-stuck");
	if (strcmp(argv[1], "stuck"))
		synth_run(&converging, feed, &p);
	if (strcmp(argv[1], "converging"))
		synth_run(&stuck, feed, &p);
	return lm_pipeline_finish(&p) ? 1 : 0;
}

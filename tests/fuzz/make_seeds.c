// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Writes the fuzzing seed corpus (tests/fuzz/corpus/): a few small, valid
 * recordings that reach every entry type and observation kind, so the fuzzer
 * starts past the checksums. Run by `make fuzz-seeds`; the output is
 * committed.
 */
#include <stdio.h>
#include <string.h>
#include "record/record_codec.h"
#include "synth.h"

static int seed(const char *dir, const char *name, int nobs, int flush_every)
{
	struct lm_est_config cfg = { .downtime_limit_s = 0.3, .page_size = 4096 };
	struct lm_rec_writer *w;
	char path[512], err[256];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = lm_rec_writer_open(path, &cfg, &w, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s\n", err);
		return ret;
	}
	lm_rec_write_name(w, 4242, "vm-seed");
	lm_rec_write_message(w, 1, "seed message");
	for (int i = 0; i < nobs; i++) {
		struct lm_obs o;

		memset(&o, 0, sizeof(o));
		o.kind = 1 + i % 5;
		o.pid = 4242;
		o.ts_ns = 1764075600000000000ull + i * 1000000000ull;
		o.round.round = i;		/* union: also start/tick/... fields */
		o.round.dirty_pages = 1000 * i;
		o.round.duration_ns = 1000000000;
		lm_rec_write_obs(w, &o);
		if (flush_every && i % flush_every == flush_every - 1)
			lm_rec_flush(w);
	}
	return lm_rec_writer_close(w);
}

/*
 * An uncompressed recording (flags 0) of the given observations: the fuzzer
 * can edit entries directly, without breaking a zlib stream.
 */
static uint8_t stored[LM_REC_HEADER_MAX + LM_REC_BLOCK_HDR + LM_REC_BLOCK_MAX];

static int stored_seed(const char *dir, const char *name, const struct lm_obs *obs, size_t n)
{
	struct lm_est_config cfg = { .downtime_limit_s = 0.3, .page_size = 4096 };
	size_t hlen = lm_rec_header_encode(stored, &cfg);
	uint8_t *b = stored + hlen, *raw = b + LM_REC_BLOCK_HDR, *p = raw;
	char path[512];
	FILE *f;

	lm_put_le32(stored + 12, 0);
	lm_put_le32(stored + hlen - 4, lm_crc32(stored, hlen - 4));
	p[0] = LM_REC_E_NAME, p[1] = 0, lm_put_le16(p + 2, 8), lm_put_le32(p + 4, obs[0].pid);
	memcpy(p + 8, "vm-7", 4), p += 12;
	for (size_t i = 0; i < n && p + 12 + 4 + LM_REC_OBS_LEN < raw + LM_REC_BLOCK_MAX; i++) {
		p[0] = LM_REC_E_OBS, p[1] = 0, lm_put_le16(p + 2, LM_REC_OBS_LEN);
		lm_obs_encode(p + 4, &obs[i]), p += 4 + LM_REC_OBS_LEN;
	}
	p[0] = LM_REC_E_END, p[1] = 0, lm_put_le16(p + 2, 8), lm_put_le64(p + 4, n), p += 12;
	lm_put_le32(b, LM_REC_BLOCK_MAGIC);
	lm_put_le32(b + 4, p - raw);
	lm_put_le32(b + 8, p - raw);
	lm_put_le32(b + 12, lm_crc32(raw, p - raw));
	lm_put_le32(b + 16, lm_crc32(b, 16));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(stored, p - stored, 1, f) != 1 || fclose(f))
		return -1;
	return 0;
}

static struct lm_obs migration[256];
static size_t nmigration;

static void collect(void *ctx, const struct lm_obs *o)
{
	if (nmigration < sizeof(migration) / sizeof(migration[0]))
		migration[nmigration++] = *o;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
	static const struct synth stuck = {
		.pid = 7, .t0_ns = 1764075600000000000ull, .ram = 128 << 20, .rate_Bps = 16 << 20,
		.dirty_Bps = 32 << 20, .wws = 24 << 20, .downtime_s = 0.3, .max_s = 40,
	};
	struct lm_obs tick = { .kind = LM_OBS_TICK, .pid = 7, .ts_ns = 1 };

	synth_run(&stuck, collect, NULL);

	return seed(dir, "empty.lmrec", 0, 0) || seed(dir, "one-of-each.lmrec", 5, 0) ||
	       seed(dir, "three-blocks.lmrec", 12, 4) ||
	       stored_seed(dir, "stored.lmrec", &tick, 1) ||
	       stored_seed(dir, "stored-migration.lmrec", migration, nmigration);
}

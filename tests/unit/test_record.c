// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Recordings: observations, names and messages round-trip bit for bit; the
 * on-disk bytes are little-endian; a recording cut at every byte offset and
 * one with any single bit flipped give a clean error naming an offset and
 * never yield an item that was not written.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "record/record_codec.h"
#include "unit.h"

#define NOBS 400

static struct lm_obs obs[NOBS];

static void make_obs(void)
{
	for (int i = 0; i < NOBS; i++) {
		struct lm_obs *o = &obs[i];

		memset(o, 0, sizeof(*o));
		o->kind = 1 + i % 5;
		o->pid = 1000 + i % 3;
		o->ts_ns = 1764075600123456789ull + i * 250000000ull;
		switch (o->kind) {
		case LM_OBS_START:
			o->start.ram_bytes = 512ull << 20;
			o->start.late = i & 1;
			break;
		case LM_OBS_ROUND:
			o->round.round = i;
			o->round.flags = LM_ROUND_SAMPLED;
			o->round.dirty_pages = 0x123456789abcull + i;
			o->round.duration_ns = 8000000000ull;
			o->round.tx_bytes = 1ull << 40;
			o->round.tx_total = UINT64_MAX - i;
			o->round.ram_bytes = 16ull << 30;
			o->round.sync_ns = 77000;
			break;
		case LM_OBS_TICK:
			o->tick.interval_ns = 1000000000;
			o->tick.tx_total = 33554432ull * i;
			o->tick.acked_total = 33554432ull * i - 1000;
			o->tick.dirty_events_total = i;
			o->tick.rounds = i / 5;
			o->tick.source = LM_SRC_BITMAP;
			o->tick.srtt_us = 120;
			o->tick.cwnd = 10;
			break;
		case LM_OBS_END:
			o->end.reason = LM_END_COMPLETED;
			break;
		case LM_OBS_PARAMS:
			o->params.downtime_limit_ms = 300;
			o->params.max_bandwidth = 32 << 20;
			o->params.ram_bytes = 256 << 20;
			o->params.throttle_pct = 20;
			o->params.page_size = 4096;
			break;
		}
	}
}

static const struct lm_est_config cfg = {
	.downtime_limit_s = 0.3, .max_bandwidth_Bps = 33554432.0, .page_size = 4096,
	.switchover_bandwidth_Bps = 1e9, .horizon_s = 300, .horizon_bulk = 20,
	.throttle_margin = 0.25,
};

/*
 * Writes the test recording; with flush_every > 0 closes a block that often.
 * With left_open, flushes and hands the writer back unclosed: until it is
 * closed, the file is what a killed lmtrace leaves.
 */
static int write_file(const char *path, int flush_every, struct lm_rec_writer **left_open)
{
	struct lm_rec_writer *w;
	char err[256];
	int ret;

	ret = lm_rec_writer_open(path, &cfg, &w, err, sizeof(err));
	if (!ASSERT_EQ(ret, 0, "writer open"))
		return ret;
	lm_rec_write_name(w, 1000, "vm-a");
	lm_rec_write_message(w, 1, "source: bitmap popcount");
	for (int i = 0; i < NOBS; i++) {
		ret = lm_rec_write_obs(w, &obs[i]);
		if (ret)
			break;
		if (i == NOBS / 2)
			lm_rec_write_name(w, 1001, "a VM name longer than sixty-three bytes is cut at sixty-three bytes by the writer");
		if (flush_every && i % flush_every == flush_every - 1)
			ret = lm_rec_flush(w);
	}
	ASSERT_EQ(ret, 0, "writes");
	if (left_open) {
		*left_open = w;
		return lm_rec_flush(w);
	}
	return lm_rec_writer_close(w);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n ? n : 1);
	if (buf && fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

/*
 * Reads everything; checks each observation against what was written.
 * Returns the final lm_record_next value (or the open error); *nread = obs.
 */
static int read_all(const uint8_t *buf, size_t len, int *nread, int *bad_item, char *err, size_t errlen)
{
	struct lm_record *r;
	struct lm_rec_item it;
	int ret, n = 0, guard = 0;

	*bad_item = 0;
	err[0] = 0;
	ret = lm_record_open_mem(buf, len, &r, err, errlen);
	if (ret) {
		*nread = 0;
		return ret;
	}
	while ((ret = lm_record_next(r, &it)) > 0 && guard++ < 10 * NOBS) {
		if (it.type != LM_REC_E_OBS)
			continue;
		if (n >= NOBS || memcmp(&it.obs, &obs[n], sizeof(it.obs)))
			*bad_item = 1;
		n++;
	}
	if (guard >= 10 * NOBS)
		ret = 999;	/* a loop: never acceptable */
	/* The error is sticky. */
	if (ret <= 0 && lm_record_next(r, &it) != ret)
		ret = 998;
	snprintf(err, errlen, "%s", lm_record_error(r));
	lm_record_close(r);
	*nread = n;
	return ret;
}

static void test_round_trip(const char *path)
{
	struct lm_rec_item it;
	struct lm_record *r;
	int ret, n = 0, names = 0, msgs = 0;
	char err[400];

	ASSERT_EQ(write_file(path, 0, NULL), 0, "write");
	ret = lm_record_open(path, &r, err, sizeof(err));
	if (!ASSERT_EQ(ret, 0, "open"))
		return;
	ASSERT_NEAR(lm_record_config(r)->downtime_limit_s, 0.3, 0, 0, "cfg downtime");
	ASSERT_NEAR(lm_record_config(r)->max_bandwidth_Bps, 33554432.0, 0, 0, "cfg bw");
	ASSERT_EQ(lm_record_config(r)->page_size, 4096, "cfg page size");
	/* Every field, whatever it is: the config must come back whole. */
	ASSERT_EQ(memcmp(lm_record_config(r), &cfg, sizeof(cfg)), 0, "whole config");
	while ((ret = lm_record_next(r, &it)) > 0) {
		switch (it.type) {
		case LM_REC_E_OBS:
			if (n < NOBS && !ASSERT_EQ(memcmp(&it.obs, &obs[n], sizeof(it.obs)), 0, "obs equal"))
				fprintf(stderr, "  observation %d differs\n", n);
			n++;
			break;
		case LM_REC_E_NAME:
			if (names++ == 0) {
				ASSERT_EQ(it.pid, 1000, "name pid");
				ASSERT_STREQ(it.name, "vm-a", "name");
			} else {
				ASSERT_EQ(strlen(it.name), 63, "long name cut");
			}
			break;
		case LM_REC_E_MESSAGE:
			msgs++;
			ASSERT_EQ(it.level, 1, "message level");
			ASSERT_STREQ(it.text, "source: bitmap popcount", "message");
			break;
		default:
			ASSERT_TRUE(0, "unexpected item type");
		}
	}
	ASSERT_EQ(ret, 0, "clean end");
	ASSERT_EQ(n, NOBS, "observations read");
	ASSERT_EQ(names, 2, "names read");
	ASSERT_EQ(msgs, 1, "messages read");
	lm_record_close(r);
}

static void test_little_endian(void)
{
	uint8_t b[LM_REC_OBS_LEN];
	struct lm_obs o, back;

	memset(&o, 0, sizeof(o));
	o.kind = LM_OBS_ROUND;
	o.pid = 0x01020304;
	o.ts_ns = 0x1122334455667788ull;
	o.round.round = 7;
	o.round.dirty_pages = 0xa1a2a3a4a5a6a7a8ull;
	ASSERT_EQ(lm_obs_encode(b, &o), 0, "encode");
	ASSERT_EQ(b[0], LM_OBS_ROUND, "kind LE");
	ASSERT_EQ(b[4], 0x04, "pid low byte first");
	ASSERT_EQ(b[8], 0x88, "ts low byte first");
	ASSERT_EQ(b[15], 0x11, "ts high byte last");
	ASSERT_EQ(b[16], 7, "round at union offset 0");
	ASSERT_EQ(b[24], 0xa8, "dirty_pages LE at union offset 8");
	ASSERT_EQ(lm_obs_decode(&back, b), 0, "decode");
	ASSERT_EQ(memcmp(&back, &o, sizeof(o)), 0, "decode(encode) is identity");
	o.kind = 99;
	ASSERT_EQ(lm_obs_encode(b, &o), -EINVAL, "unknown kind not encoded");
}

static void test_truncation(const char *path)
{
	int nread, bad, ret, boundary = 0, mid = 0, failures = 0;
	uint8_t *buf;
	char err[400];
	size_t len;

	ASSERT_EQ(write_file(path, 37, NULL), 0, "write small blocks");
	buf = slurp(path, &len);
	if (!ASSERT_TRUE(buf && len > 1000, "file read back"))
		return;
	ret = read_all(buf, len, &nread, &bad, err, sizeof(err));
	ASSERT_EQ(ret, 0, "whole file reads");
	ASSERT_EQ(nread, NOBS, "whole file obs");
	for (size_t cut = 0; cut < len; cut++) {
		ret = read_all(buf, cut, &nread, &bad, err, sizeof(err));
		if (ret >= 0 || bad || !strstr(err, "offset")) {
			if (failures++ < 5)
				fprintf(stderr, "  cut at %zu: ret %d bad %d err \"%s\"\n", cut, ret, bad, err);
			continue;
		}
		if (ret == -ENODATA)
			boundary++;
		else if (ret == -EBADMSG)
			mid++;
		else if (failures++ < 5)
			fprintf(stderr, "  cut at %zu: unexpected ret %d (%s)\n", cut, ret, err);
	}
	ASSERT_EQ(failures, 0, "every truncation gives a clean error naming an offset");
	/* 400 obs flushed every 37: 10 full blocks, the rest in the last; + the header end. */
	ASSERT_EQ(boundary, NOBS / 37 + 1, "cuts at block boundaries say the file was cut short");
	ASSERT_EQ(mid + boundary, (long long)len, "all others are EBADMSG");
	free(buf);
}

static void test_bit_flips(const char *path)
{
	int nread, bad, ret, failures = 0;
	uint8_t *buf;
	char err[400];
	size_t len;

	ASSERT_EQ(write_file(path, 37, NULL), 0, "write small blocks");
	buf = slurp(path, &len);
	if (!ASSERT_TRUE(buf != NULL, "file read back"))
		return;
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= 1u << bit;
			ret = read_all(buf, len, &nread, &bad, err, sizeof(err));
			buf[i] ^= 1u << bit;
			if ((ret != -EBADMSG && ret != -EPROTO) || bad || !strstr(err, "offset")) {
				if (failures++ < 5)
					fprintf(stderr, "  flip byte %zu bit %d: ret %d bad %d err \"%s\"\n",
						i, bit, ret, bad, err);
			}
		}
	}
	ASSERT_EQ(failures, 0, "every single-bit flip is detected with an offset");
	free(buf);
}

static void test_killed_writer(const char *path)
{
	struct lm_rec_writer *w = NULL;
	int nread, bad, ret;
	uint8_t *buf;
	char err[400];
	size_t len;

	ASSERT_EQ(write_file(path, 0, &w), 0, "write without close");
	buf = slurp(path, &len);	/* the file as a killed writer leaves it */
	if (w)
		lm_rec_writer_close(w);	/* after the snapshot: nothing leaks */
	if (!ASSERT_TRUE(buf != NULL, "file read back"))
		return;
	ret = read_all(buf, len, &nread, &bad, err, sizeof(err));
	ASSERT_EQ(ret, -ENODATA, "cut short, not corrupt");
	ASSERT_EQ(nread, NOBS, "everything flushed is readable");
	ASSERT_EQ(bad, 0, "and intact");
	ASSERT_TRUE(strstr(err, "cut short") != NULL, "message says so");
	free(buf);
}

static void test_open_errors(const char *dir)
{
	struct lm_record *r;
	char err[400], path[512];
	static const uint8_t junk[] = "GIF89a this is not a recording at all, not at all";
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing.lmrec", dir);
	ASSERT_EQ(lm_record_open(path, &r, err, sizeof(err)), -ENOENT, "missing file");
	ASSERT_TRUE(strstr(err, path) != NULL, "message names the file");
	ASSERT_EQ(lm_record_open_mem(junk, sizeof(junk), &r, err, sizeof(err)), -EBADMSG, "junk");
	ASSERT_TRUE(strstr(err, "not an lmtrace recording") != NULL, "junk message");
	ASSERT_EQ(lm_record_open_mem(junk, 0, &r, err, sizeof(err)), -EBADMSG, "empty");
	snprintf(path, sizeof(path), "%s/future.lmrec", dir);
	f = fopen(path, "wb");
	if (f) {
		uint8_t h[LM_REC_HEADER_MAX];
		size_t len = lm_rec_header_encode(h, &cfg);

		lm_put_le16(h + 8, 2);
		fwrite(h, len, 1, f);
		fclose(f);
	}
	ASSERT_EQ(lm_record_open(path, &r, err, sizeof(err)), -EPROTO, "newer version");
	ASSERT_TRUE(strstr(err, "upgrade") != NULL, "says what to do");
	ASSERT_EQ(lm_record_open("/", &r, err, sizeof(err)), -EISDIR, "a directory");
}

/* --act's observations keep every field through the codec (replay decides from them). */
static void test_act_obs(void)
{
	struct lm_obs cfg = { .kind = LM_OBS_ACT_CONFIG, .pid = 42, .ts_ns = 1764075600000000001ull },
		      act = { .kind = LM_OBS_ACTION, .pid = 42, .ts_ns = 1764075601000000002ull }, back;
	uint8_t buf[LM_REC_OBS_LEN];

	cfg.act_config = (struct lm_obs_act_config){ .policies = LM_ACT_P_THROTTLE | LM_ACT_P_CANCEL,
		.apply = 1, .max_throttle_pct = 80, .max_downtime_ms = 1500,
		.give_up_after_ms = 600000, .identified = 1 };
	act.action = (struct lm_obs_action){ .action = LM_ACT_THROTTLE, .outcome = LM_ACT_FAILED,
		.value = 62, .round = 7, .error = -EREMOTEIO, .qemu_throttle_pct = 99,
		.qemu_downtime_ms = 300 };
	ASSERT_EQ(lm_obs_encode(buf, &cfg), 0, "act config encodes");
	ASSERT_EQ(lm_obs_decode(&back, buf), 0, "act config decodes");
	ASSERT_TRUE(!memcmp(&back, &cfg, sizeof(cfg)), "act config round trip");
	ASSERT_EQ(lm_obs_encode(buf, &act), 0, "action encodes");
	ASSERT_EQ(lm_obs_decode(&back, buf), 0, "action decodes");
	ASSERT_TRUE(!memcmp(&back, &act, sizeof(act)), "action round trip");
	ASSERT_EQ(back.action.error, -EREMOTEIO, "a negative errno survives");
}

/* An `lmtrace check` for --head-start keeps every window through the codec. */
static void test_head_start_obs(void)
{
	struct lm_obs hs = { .kind = LM_OBS_HEAD_START, .pid = 42, .ts_ns = 1764075599000000003ull },
		      back;
	uint8_t buf[LM_REC_OBS_LEN];
	uint32_t i;

	hs.head_start.ram_bytes = 335544320;
	hs.head_start.resident_bytes = 270532608;
	hs.head_start.nwin = LM_HEAD_START_WINDOWS;
	hs.head_start.max_age_s = 600;
	for (i = 0; i < LM_HEAD_START_WINDOWS; i++) {
		hs.head_start.win[i].window_ms = 1000u << i;
		hs.head_start.win[i].pages = 997 + 1000 * i;
	}
	ASSERT_EQ(lm_obs_encode(buf, &hs), 0, "head start encodes");
	ASSERT_EQ(lm_obs_decode(&back, buf), 0, "head start decodes");
	ASSERT_TRUE(!memcmp(&back, &hs, sizeof(hs)), "head start round trip, every window");
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/lmtrace-test-record.XXXXXX", path[512];

	make_obs();
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/t.lmrec", dir);
	test_little_endian();
	test_act_obs();
	test_head_start_obs();
	test_round_trip(path);
	test_truncation(path);
	test_bit_flips(path);
	test_killed_writer(path);
	test_open_errors(dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/future.lmrec", dir);
	unlink(path);
	rmdir(dir);
	return unit_done(argv[0]);
}

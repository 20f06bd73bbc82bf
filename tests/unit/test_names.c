// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * VM names come from whoever started the VMM (QEMU's -name, a process
 * name) or from a recording. lm_sanitize_name() must turn anything into
 * valid UTF-8 without control characters, cut between characters; names
 * with quotes, backslashes, newlines, escapes and invalid UTF-8 must then
 * come out of the rows, JSON (parsed strictly by jansson), CSV and
 * Prometheus outputs intact and unable to break their format; and a
 * recording holding raw hostile names must replay them sanitised.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/units.h"
#include "sinks/outputs.h"
#include "sinks/prom_metrics.h"
#include "record/record.h"
#include "record/replay.h"
#include "synth.h"
#include "unit.h"

static void check_sanitize(const char *src, size_t srclen, size_t len, const char *want,
			   const char *name)
{
	char dst[128];
	size_t n;

	memset(dst, 'X', sizeof(dst));
	n = lm_sanitize_text(dst, len, src, srclen);
	ASSERT_STREQ(dst, want, name);
	ASSERT_EQ(n, strlen(want), name);
}

#define S(lit) lit, sizeof(lit) - 1

static void test_sanitize_table(void)
{
	char buf[64], big[200] = "";
	char none[1] = { 'X' };

	check_sanitize(S("vm-a"), 64, "vm-a", "plain ASCII kept");
	check_sanitize(S("db \"primary\"\\rack"), 64, "db \"primary\"\\rack", "quotes, backslash kept");
	check_sanitize(S("a\tb\nc\rd"), 64, "a?b?c?d", "C0 replaced");
	check_sanitize(S("a\0b"), 64, "a?b", "NUL inside a recording's bytes");
	check_sanitize(S("\x1b[2Jred"), 64, "?[2Jred", "ESC replaced");
	check_sanitize(S("del\x7f"), 64, "del?", "DEL replaced");
	check_sanitize(S("nel\xc2\x85 csi\xc2\x9b"), 64, "nel? csi?", "C1 replaced");
	check_sanitize(S("nbsp\xc2\xa0"), 64, "nbsp\xc2\xa0", "U+00A0 is no control");
	check_sanitize(S("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x99\x82"), 64, "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x99\x82",
		       "2, 3 and 4 byte characters kept");
	check_sanitize(S("\xff\xfe"), 64, "??", "bytes never in UTF-8");
	check_sanitize(S("cut\xc3"), 64, "cut?", "a character cut short");
	check_sanitize(S("\x80x"), 64, "?x", "a stray continuation");
	check_sanitize(S("\xc0\xaf"), 64, "??", "overlong 2 bytes");
	check_sanitize(S("\xe0\x80\xaf"), 64, "???", "overlong 3 bytes");
	check_sanitize(S("\xf0\x80\x80\xaf"), 64, "????", "overlong 4 bytes");
	check_sanitize(S("\xed\xa0\x80"), 64, "???", "a surrogate");
	check_sanitize(S("\xf4\x90\x80\x80"), 64, "????", "beyond U+10FFFF");
	check_sanitize(S("\xf4\x8f\xbf\xbf"), 64, "\xf4\x8f\xbf\xbf", "U+10FFFF itself");
	/* cut to fit: never half a character */
	check_sanitize(S("ab\xc3\xa9"), 4, "ab", "2-byte character that does not fit is left out");
	check_sanitize(S("ab\xc3\xa9"), 5, "ab\xc3\xa9", "exactly fits");
	check_sanitize(S("\xf0\x9f\x99\x82"), 4, "", "a 4-byte character in 3 bytes");
	check_sanitize(S("abc"), 1, "", "room for the NUL only");
	ASSERT_EQ(lm_sanitize_text(none, 0, "abc", 3), 0, "no room at all");
	ASSERT_EQ(none[0], 'X', "nothing written");
	for (int i = 0; i < 40; i++)
		strcat(big, "\xc3\xa9");
	ASSERT_EQ(lm_sanitize_name(buf, sizeof(buf), big), 62, "80 bytes of é cut to 62 in 64");
	ASSERT_EQ(lm_utf8_char("\xc3\xa9", 2, NULL), 2, "cp may be NULL");
}

/* Bad bytes or control characters in s (line feeds allowed where lf). */
static int bad_text(const char *s, size_t len, int lf)
{
	uint32_t cp;
	size_t n;
	int bad = 0;

	for (size_t i = 0; i < len; i += n ? n : 1) {
		n = lm_utf8_char(s + i, len - i, &cp);
		if (!n || ((cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) && !(lf && cp == '\n')))
			bad++;
	}
	return bad;
}

/* Random bytes in, valid control-free UTF-8 out, never longer than in. */
static void test_sanitize_random(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char src[96], dst[64];
	int bad = 0, longer = 0;

	for (int round = 0; round < 200000; round++) {
		size_t len = (x >> 33) % sizeof(src), n;

		for (size_t i = 0; i < len; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			/* bias towards the interesting bytes */
			src[i] = (char)((x >> 60) < 4 ? 0x80 | (x >> 40) : (x >> 40));
		}
		n = lm_sanitize_text(dst, sizeof(dst), src, len);
		bad += n != strlen(dst) || bad_text(dst, n, 0);
		longer += n > len;
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	}
	ASSERT_EQ(bad, 0, "200000 random inputs: valid UTF-8, no controls");
	ASSERT_EQ(longer, 0, "never longer than the input");
}

/* Raw names as a hostile VMM owner or recording could give them. */
static const char *const raw_names[] = {
	"db \"primary\", rack\\3\nsecond line",
	"bad\xff\xfe utf8 \xc3",
	"\x1b]0;owned\x07\x1b[2J\x1b[31mred\x7f\xc2\x9b",
	"vm\",evil=\"1",
	"a,b;c\r\nd\"\"e",
	/* 73 bytes: 63 cuts the last 日 in two */
	"x\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x99\x82-"
	"\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x99\x82-"
	"\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x99\x82-",
};
#define NNAMES ((int)(sizeof(raw_names) / sizeof(raw_names[0])))
static char names[NNAMES][64];		/* what the outputs must show */

/*
 * Live, a name is sanitised where it enters (lm_proc_name). A recording
 * holds at most 63 raw bytes, maybe half a character: that is sanitised
 * where it is read.
 */
static void expect_names(int from_recording)
{
	for (int i = 0; i < NNAMES; i++)
		lm_sanitize_text(names[i], sizeof(names[i]), raw_names[i],
				 from_recording ? strnlen(raw_names[i], 63) : strlen(raw_names[i]));
}

static void feed(void *ctx, const struct lm_obs *o)
{
	lm_pipeline_feed(ctx, o);
}

static void run_vms(struct lm_pipeline *p, int sanitise)
{
	for (int i = 0; i < NNAMES; i++) {
		struct synth s = {
			.pid = 5001 + i, .t0_ns = 1764075600000000000ull, .ram = 64 << 20,
			.rate_Bps = 32 << 20, .dirty_Bps = (i % 2 ? 64 : 4) << 20, .wws = 48 << 20,
			.downtime_s = 0.3, .max_s = 10,
		};

		lm_pipeline_set_name(p, s.pid, sanitise ? names[i] : raw_names[i]);
		synth_run(&s, feed, p);
	}
}

static int name_index(const char *name)
{
	for (int i = 0; i < NNAMES; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

static void check_json(char *text)
{
	int lines = 0, bad = 0, named = 0, mismatched = 0;
	json_error_t jerr;

	for (char *l = text, *end; *l; l = end + 1) {
		json_t *j, *vm;

		end = strchr(l, '\n');
		if (!end)
			break;
		*end = 0;
		lines++;
		/* jansson rejects invalid UTF-8, raw control characters, bad escapes */
		j = json_loads(l, JSON_REJECT_DUPLICATES, &jerr);
		if (!j) {
			if (bad++ < 3)
				fprintf(stderr, "  JSON line %d: %s: %.100s\n", lines, jerr.text, l);
			continue;
		}
		vm = json_object_get(j, "vm");
		if (vm) {
			int i = (int)json_integer_value(json_object_get(j, "pid")) - 5001;

			named++;
			mismatched += i < 0 || i >= NNAMES || !json_is_string(vm) ||
				      strcmp(json_string_value(vm), names[i]);
		}
		json_decref(j);
		*end = '\n';
	}
	ASSERT_TRUE(lines > 50, "JSON lines written");
	ASSERT_EQ(bad, 0, "every JSON line parses strictly");
	ASSERT_TRUE(named >= 2 * NNAMES, "migration and summary records name the VM");
	ASSERT_EQ(mismatched, 0, "each vm key is the sanitised name");
}

/* CSV: fields per line as the header says; the vm field (3rd) unquoted. */
static void check_csv(const char *text)
{
	int lines = 0, header = 0, bad_fields = 0, bad_names = 0;

	for (const char *l = text; *l;) {
		char field[256];
		int nf = 1, q = 0;
		size_t fl = 0;

		for (; *l && (q || *l != '\n'); l++) {
			if (*l == '"') {
				if (q && l[1] == '"') {
					if (nf == 3 && fl < sizeof(field) - 1)
						field[fl++] = '"';
					l++;
				} else {
					q = !q;
				}
				continue;
			}
			if (*l == ',' && !q) {
				nf++;
				continue;
			}
			if (nf == 3 && fl < sizeof(field) - 1)
				field[fl++] = *l;
		}
		field[fl] = 0;
		if (*l)
			l++;
		if (!lines++) {
			header = nf;
			continue;
		}
		bad_fields += nf != header;
		bad_names += name_index(field) < 0;
	}
	ASSERT_TRUE(lines > 50, "CSV lines written");
	ASSERT_EQ(bad_fields, 0, "every CSV line has the header's fields");
	ASSERT_EQ(bad_names, 0, "every vm field unquotes to its name");
}

/* Prometheus: every vm label unescapes to a name, and nothing follows it but , or }. */
static void check_prom(const char *text)
{
	int series = 0, bad = 0;

	for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
		const char *v = strstr(l, ",vm=\"");
		char label[256];
		size_t n = 0;

		if (*l == '#')
			continue;
		series++;
		if (!v || v > strchr(l, '\n')) {
			bad++;
			continue;
		}
		for (v += 5; *v && *v != '"' && *v != '\n' && n < sizeof(label) - 1; v++) {
			if (*v == '\\') {
				v++;
				label[n++] = *v == 'n' ? '\n' : *v;
			} else {
				label[n++] = *v;
			}
		}
		label[n] = 0;
		bad += *v != '"' || (v[1] != ',' && v[1] != '}') || name_index(label) < 0;
	}
	ASSERT_TRUE(series > NNAMES * 10, "series for every VM");
	ASSERT_EQ(bad, 0, "every vm label escaped and whole");
}

static void check_rows(const char *text)
{
	int found = 0;

	for (int i = 0; i < NNAMES; i++)
		found += strstr(text, names[i]) != NULL;
	ASSERT_EQ(found, NNAMES, "rows show every name");
}

static char *through(int (*mk)(FILE *, struct lm_sink **), int sanitise_names,
		     const char *replay_path)
{
	struct lm_est_config cfg;
	struct lm_pipeline p;
	struct lm_sink *s;
	char *buf = NULL, err[256];
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	ASSERT_EQ(mk(f, &s), 0, "sink");
	lm_pipeline_add_sink(&p, s);
	if (replay_path)
		ASSERT_EQ(lm_replay(replay_path, &p, err, sizeof(err)), 0, "replay");
	else
		run_vms(&p, sanitise_names);
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
	fclose(f);
	return buf;
}

static void check_all(const char *replay_path, const char *how)
{
	char *rows, *json, *csv, *prom;
	static struct lm_prom_vm slot[LM_PIPE_MAX_VMS];
	struct lm_prom_state st;
	struct lm_est_config cfg;
	struct lm_pipeline p;
	size_t len;
	char err[256];

	fprintf(stderr, "  outputs %s\n", how);
	rows = through(lm_sink_text_new, 1, replay_path);
	json = through(lm_sink_json_new, 1, replay_path);
	csv = through(lm_sink_csv_new, 1, replay_path);
	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	if (replay_path)
		lm_replay(replay_path, &p, err, sizeof(err));
	else
		run_vms(&p, 1);
	lm_prom_init(&st);
	for (int i = 0; lm_pipeline_view(&p, i); i++)	/* each VM's snapshot in a fresh slot */
		lm_prom_update(&st, memset(&slot[i], 0, sizeof(slot[i])), lm_pipeline_view(&p, i));
	prom = lm_prom_render(&st, &len);
	lm_prom_destroy(&st);
	lm_pipeline_finish(&p);

	ASSERT_EQ(bad_text(rows, strlen(rows), 1), 0, "rows: valid UTF-8, no control characters");
	ASSERT_EQ(bad_text(json, strlen(json), 1), 0, "JSON: valid UTF-8, no raw control characters");
	ASSERT_EQ(bad_text(csv, strlen(csv), 1), 0, "CSV: valid UTF-8, no control characters");
	ASSERT_EQ(bad_text(prom, len, 1), 0, "Prometheus: valid UTF-8, no control characters");
	check_rows(rows);
	check_json(json);
	check_csv(csv);
	check_prom(prom);
	free(rows);
	free(json);
	free(csv);
	free(prom);
}

/* A recording with the raw names, as an older or a hostile writer makes it. */
static void test_replayed_names(const char *path)
{
	struct lm_est_config cfg;
	struct lm_pipeline p;
	struct lm_rec_item it;
	struct lm_record *r;
	struct lm_sink *s;
	char err[256];
	int ret, seen = 0, wrong = 0;

	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	ASSERT_EQ(lm_sink_record_new(path, &cfg, &s, err, sizeof(err)), 0, "record sink");
	lm_pipeline_add_sink(&p, s);
	run_vms(&p, 0);		/* the pipeline takes names as given: raw on disk */
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "recorded");
	expect_names(1);
	ASSERT_TRUE(strcmp(names[NNAMES - 1] + strlen(names[NNAMES - 1]) - 2, "??") == 0,
		    "a character cut in the recording becomes ?, not a stray byte");

	if (!ASSERT_EQ(lm_record_open(path, &r, err, sizeof(err)), 0, "open"))
		return;
	while ((ret = lm_record_next(r, &it)) > 0) {
		if (it.type != LM_REC_E_NAME)
			continue;
		seen++;
		wrong += it.pid < 5001 || it.pid >= 5001 + NNAMES || strcmp(it.name, names[it.pid - 5001]);
	}
	lm_record_close(r);
	ASSERT_EQ(ret, 0, "read to the end");
	ASSERT_EQ(seen, NNAMES, "a name per VM");
	ASSERT_EQ(wrong, 0, "each name read back sanitised");
	check_all(path, "replayed from raw names");
}

int main(int argc, char **argv)
{
	char path[] = "/tmp/lmtrace-test-names.XXXXXX";
	int fd;

	expect_names(0);
	test_sanitize_table();
	test_sanitize_random();
	check_all(NULL, "live (names sanitised at entry)");
	fd = mkstemp(path);
	if (ASSERT_TRUE(fd >= 0, "temporary recording")) {
		close(fd);
		test_replayed_names(path);
		unlink(path);
	}
	return unit_done(argv[0]);
}

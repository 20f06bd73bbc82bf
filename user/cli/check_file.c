// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reads what `lmtrace check -j` printed (jansson: the same parser the QMP
 * client uses) into an LM_OBS_HEAD_START for the live trace. A check with
 * an error, without windows, or of another pid is refused, saying so.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "cli/check_file.h"
#include "trace/json.h"

/*
 * Bounds of what a check may say: a window longer than a day, more pages
 * than 32 bits count or a time past 2262 is no check lmtrace wrote, and a
 * cast of such a number would be undefined.
 */
#define WINDOW_MAX_S	86400.0
#define TS_MAX_S	9.2e9		/* 2^63 ns, in seconds */
#define BYTES_MAX	(1ull << 62)	/* 4 EiB */

/* An integer in [0, max], or -1: absent, not an integer, or out of range. */
static int64_t count_in(json_t *o, const char *key, uint64_t max)
{
	json_t *v = json_object_get(o, key);
	json_int_t n = json_integer_value(v);

	return json_is_integer(v) && n >= 0 && (uint64_t)n <= max ? n : -1;
}

static int fill_window(json_t *w, struct lm_obs_head_start *hs)
{
	double s = json_number_value(json_object_get(w, "window_s"));
	int64_t pages = count_in(w, "dirty_pages", UINT32_MAX);

	if (!(s > 0) || !(s <= WINDOW_MAX_S) || pages < 0)
		return -EINVAL;
	hs->win[hs->nwin].window_ms = (uint32_t)(s * 1e3 + 0.5);
	hs->win[hs->nwin].pages = (uint32_t)pages;
	hs->nwin++;
	return 0;
}

/* The check's numbers, each in range, or -EINVAL (what is out of range is no check lmtrace wrote). */
static int fill(json_t *o, pid_t pid, uint32_t max_age_s, struct lm_obs *out)
{
	json_t *wins = json_object_get(o, "windows"), *w;
	double ts = json_number_value(json_object_get(o, "ts"));
	int64_t ram = count_in(o, "ram_bytes", BYTES_MAX);
	int64_t resident = json_object_get(o, "resident_bytes") ? count_in(o, "resident_bytes", BYTES_MAX) : 0;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!(ts > 0) || !(ts <= TS_MAX_S) || ram <= 0 || resident < 0 || !json_is_array(wins))
		return -EINVAL;
	out->kind = LM_OBS_HEAD_START;
	out->pid = (uint32_t)pid;
	out->ts_ns = (uint64_t)(ts * 1e9);
	out->head_start.ram_bytes = (uint64_t)ram;
	out->head_start.resident_bytes = (uint64_t)resident;
	out->head_start.max_age_s = max_age_s;
	json_array_foreach(wins, i, w) {
		if (out->head_start.nwin == LM_HEAD_START_WINDOWS)
			break;	/* the shortest ones: the check measures shortest first */
		if (fill_window(w, &out->head_start))
			return -EINVAL;
	}
	return out->head_start.nwin ? 0 : -EINVAL;
}

int lm_check_file_load(const char *path, pid_t pid, uint32_t max_age_s, struct lm_obs *out,
		       char *err, size_t errlen)
{
	char line[65536];
	int found = 0, other = 0, bad = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "--head-start %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);
		const char *type = json_string_value(json_object_get(o, "type"));

		if (type && !strcmp(type, "check")) {
			if (json_integer_value(json_object_get(o, "pid")) != pid)
				other = 1;
			else if (json_object_get(o, "error") || fill(o, pid, max_age_s, out))
				bad = 1;
			else {
				found = 1;	/* the last good one counts */
				bad = 0;
			}
		}
		json_decref(o);
	}
	fclose(f);
	if (found)
		return 0;
	if (bad)
		snprintf(err, errlen, "--head-start %s: the check of pid %d measured nothing usable "
			 "(an error, no windows, or a number out of range)", path, (int)pid);
	else
		snprintf(err, errlen, "--head-start %s: no `lmtrace check -j` result for pid %d%s", path,
			 (int)pid, other ? " (only for other pids)" : "");
	return -EINVAL;
}

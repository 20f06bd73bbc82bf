// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reads what `lmtrace check -j` printed (jansson: the same parser the QMP
 * client uses) into an LM_OBS_HEAD_START for the live trace. A check with
 * an error, without windows, or of another pid is refused, saying so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "cli/check_file.h"

static int fill(json_t *o, pid_t pid, uint32_t max_age_s, struct lm_obs *out)
{
	json_t *wins = json_object_get(o, "windows"), *w;
	double ts = json_number_value(json_object_get(o, "ts"));
	size_t i;

	memset(out, 0, sizeof(*out));
	out->kind = LM_OBS_HEAD_START;
	out->pid = (uint32_t)pid;
	out->ts_ns = ts > 0 ? (uint64_t)(ts * 1e9) : 0;
	out->head_start.ram_bytes = (uint64_t)json_integer_value(json_object_get(o, "ram_bytes"));
	out->head_start.resident_bytes =
		(uint64_t)json_integer_value(json_object_get(o, "resident_bytes"));
	out->head_start.max_age_s = max_age_s;
	json_array_foreach(wins, i, w) {
		double s = json_number_value(json_object_get(w, "window_s"));
		json_int_t pages = json_integer_value(json_object_get(w, "dirty_pages"));

		if (out->head_start.nwin == LM_HEAD_START_WINDOWS)
			break;	/* the shortest ones: the check measures shortest first */
		if (!(s > 0) || pages < 0)
			continue;
		out->head_start.win[out->head_start.nwin].window_ms = (uint32_t)(s * 1e3 + 0.5);
		out->head_start.win[out->head_start.nwin].pages = (uint32_t)pages;
		out->head_start.nwin++;
	}
	return out->ts_ns && out->head_start.ram_bytes && out->head_start.nwin ? 0 : -EINVAL;
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
			 "(an error, or no windows)", path, (int)pid);
	else
		snprintf(err, errlen, "--head-start %s: no `lmtrace check -j` result for pid %d%s", path,
			 (int)pid, other ? " (only for other pids)" : "");
	return -EINVAL;
}

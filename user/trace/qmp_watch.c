// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reading QEMU's migration parameters over QMP for the estimator. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/units.h"
#include "trace/qmp.h"
#include "trace/qmp_watch.h"

/* Short: this runs inside lmtrace's sampling loop. */
#define WATCH_TIMEOUT_MS 500

int lm_qmp_watch_open(struct lm_qmp_watch *w, const char *path, uint32_t pid,
		      char *err, size_t errlen)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->pid = pid;
	ret = lm_qmp_open(&w->q, path, WATCH_TIMEOUT_MS * 4);
	if (ret)
		snprintf(err, errlen, "cannot use the QMP socket %s: %s (is it QEMU's -qmp "
			 "unix:PATH,server socket, and free? QEMU serves one client per socket)",
			 path, strerror(-ret));
	else
		lm_qmp_set_timeout(w->q, WATCH_TIMEOUT_MS);
	return ret;
}

/* query-migrate's status string, as the estimator needs it. */
static uint32_t status_of(const char *s)
{
	static const struct { const char *name; uint32_t status; } map[] = {
		{ "none", LM_QEMU_NONE }, { "setup", LM_QEMU_SETUP }, { "active", LM_QEMU_ACTIVE },
		{ "postcopy-active", LM_QEMU_POSTCOPY }, { "postcopy-paused", LM_QEMU_POSTCOPY },
		{ "postcopy-recover", LM_QEMU_POSTCOPY }, { "pre-switchover", LM_QEMU_STOPPING },
		{ "device", LM_QEMU_STOPPING }, { "completed", LM_QEMU_COMPLETED },
		{ "failed", LM_QEMU_FAILED }, { "cancelling", LM_QEMU_CANCELLED },
		{ "cancelled", LM_QEMU_CANCELLED },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(s, map[i].name))
			return map[i].status;
	return LM_QEMU_UNKNOWN;
}

int lm_qmp_watch_poll(struct lm_qmp_watch *w, uint64_t ts_ns, struct lm_obs *out,
		      char *err, size_t errlen)
{
	struct lm_qmp_migrate_params mp;
	struct lm_qmp_migrate_info mi;
	struct lm_obs_params now = { .page_size = LM_PAGE_SIZE_DEFAULT };
	int ret;

	ret = lm_qmp_query_migrate_params(w->q, &mp);
	if (!ret)
		ret = lm_qmp_query_migrate(w->q, &mi);
	if (!ret && !w->have_last)
		ret = lm_qmp_query_ram_size(w->q, &now.ram_bytes);
	if (ret) {
		snprintf(err, errlen, "QMP query failed: %s%s%s", strerror(-ret),
			 lm_qmp_error_desc(w->q)[0] ? ": " : "", lm_qmp_error_desc(w->q));
		return ret;
	}
	if (w->have_last)
		now.ram_bytes = w->last.ram_bytes;
	now.downtime_limit_ms = mp.downtime_limit_ms > 0 ? (uint64_t)mp.downtime_limit_ms :
							  LM_DOWNTIME_LIMIT_DEFAULT_MS;
	now.max_bandwidth = mp.max_bandwidth > 0 ? (uint64_t)mp.max_bandwidth : 0;
	now.throttle_pct = mi.cpu_throttle_pct;
	now.qemu_status = status_of(mi.status);
	if (mi.ram.page_size)
		now.page_size = (uint32_t)mi.ram.page_size;
	if (w->have_last && !memcmp(&now, &w->last, sizeof(now)))
		return 0;
	w->last = now;
	w->have_last = 1;
	memset(out, 0, sizeof(*out));
	out->kind = LM_OBS_PARAMS;
	out->pid = w->pid;
	out->ts_ns = ts_ns;
	out->params = now;
	return 1;
}

void lm_qmp_watch_close(struct lm_qmp_watch *w)
{
	lm_qmp_close(w->q);
	w->q = NULL;
}

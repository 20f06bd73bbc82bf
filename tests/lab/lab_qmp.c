// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * QMP commands only the lab issues (set up, start and cancel migrations,
 * check the run state), on top of lmtrace's QMP client (user/trace/qmp.c),
 * and the client's state only the tests read (events, version, error class).
 */
#include <errno.h>
#include <stdio.h>
#include "lab_qmp.h"
#include "trace/qmp_int.h"

void lm_qmp_version(const struct lm_qmp *q, int *major, int *minor, int *micro)
{
	*major = q->version[0];
	*minor = q->version[1];
	*micro = q->version[2];
}

const char *lm_qmp_error_class(const struct lm_qmp *q)
{
	return q->err_class;
}

uint64_t lm_qmp_events_seen(const struct lm_qmp *q)
{
	return q->events_seen;
}

const json_t *lm_qmp_event(const struct lm_qmp *q, uint64_t seq)
{
	if (seq == 0 || seq > q->events_seen || q->events_seen - seq >= LM_QMP_EVENTS_KEPT)
		return NULL;
	return q->events[(seq - 1) % LM_QMP_EVENTS_KEPT];
}

int lm_qmp_read_events(struct lm_qmp *q, int timeout_ms)
{
	int64_t deadline = lm_qmp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	json_t *msg;
	int err, got = 0;

	for (;;) {
		/* After the first event, only take what is already there. */
		err = lm_qmp_read_message(q, got ? lm_qmp_now_ms() + 1 : deadline, &msg);
		if (err == -ETIMEDOUT)
			return got;
		if (err)
			return err;
		if (json_object_get(msg, "event")) {
			lm_qmp_keep_event(q, msg);
			got++;
		} else {
			json_decref(msg);	/* a stale reply: nobody waits for it */
		}
	}
}

int lm_qmp_set_migrate_params(struct lm_qmp *q, json_t *params)
{
	return lm_qmp_execute(q, "migrate-set-parameters", params, NULL);
}

int lm_qmp_set_migrate_param(struct lm_qmp *q, const char *name, int64_t value)
{
	json_t *args = json_pack("{s:I}", name, (json_int_t)value);
	int err;

	if (!args)
		return -ENOMEM;
	err = lm_qmp_set_migrate_params(q, args);
	json_decref(args);
	return err;
}

int lm_qmp_set_migrate_capability(struct lm_qmp *q, const char *capability, int on)
{
	json_t *args = json_pack("{s:[{s:s, s:b}]}", "capabilities",
				 "capability", capability, "state", on);
	int err;

	if (!args)
		return -ENOMEM;
	err = lm_qmp_execute(q, "migrate-set-capabilities", args, NULL);
	json_decref(args);
	return err;
}

int lm_qmp_migrate(struct lm_qmp *q, const char *uri)
{
	json_t *args = json_pack("{s:s}", "uri", uri);
	int err;

	if (!args)
		return -ENOMEM;
	err = lm_qmp_execute(q, "migrate", args, NULL);
	json_decref(args);
	return err;
}

int lm_qmp_migrate_cancel(struct lm_qmp *q)
{
	return lm_qmp_execute(q, "migrate_cancel", NULL, NULL);
}

int lm_qmp_migrate_incoming(struct lm_qmp *q, const char *uri)
{
	json_t *args = json_pack("{s:s}", "uri", uri);
	int err;

	if (!args)
		return -ENOMEM;
	err = lm_qmp_execute(q, "migrate-incoming", args, NULL);
	json_decref(args);
	return err;
}

int lm_qmp_migrate_start_postcopy(struct lm_qmp *q)
{
	return lm_qmp_execute(q, "migrate-start-postcopy", NULL, NULL);
}

int lm_qmp_query_migrate_raw(struct lm_qmp *q, struct lm_qmp_migrate_info *out, json_t **raw)
{
	json_t *ret;
	int err;

	err = lm_qmp_execute(q, "query-migrate", NULL, &ret);
	if (err)
		return err;
	err = lm_qmp_parse_migrate_info(ret, out);
	if (!err && raw)
		*raw = json_incref(ret);
	json_decref(ret);
	return err;
}

int lm_qmp_calc_dirty_rate(struct lm_qmp *q, int64_t calc_time_s, const char *mode)
{
	json_t *args = json_pack("{s:I}", "calc-time", (json_int_t)calc_time_s);
	int err;

	if (!args)
		return -ENOMEM;
	if (mode)
		json_object_set_new(args, "mode", json_string(mode));
	err = lm_qmp_execute(q, "calc-dirty-rate", args, NULL);
	json_decref(args);
	return err;
}

int lm_qmp_query_dirty_rate(struct lm_qmp *q, json_t **ret)
{
	return lm_qmp_execute(q, "query-dirty-rate", NULL, ret);
}

int lm_qmp_query_status(struct lm_qmp *q, char *status, size_t len, int *running)
{
	const char *s;
	json_t *ret;
	int err;

	err = lm_qmp_execute(q, "query-status", NULL, &ret);
	if (err)
		return err;
	s = json_string_value(json_object_get(ret, "status"));
	if (!s) {
		err = -EPROTO;
	} else {
		if (status && len)
			snprintf(status, len, "%s", s);
		if (running)
			*running = json_is_true(json_object_get(ret, "running"));
	}
	json_decref(ret);
	return err;
}

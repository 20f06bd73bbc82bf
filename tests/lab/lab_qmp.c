// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * QMP commands only the lab issues (set up, start and cancel migrations,
 * check the run state), on top of lmtrace's QMP client (user/trace/qmp.c).
 */
#include <errno.h>
#include <stdio.h>
#include "lab_qmp.h"

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

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --act --apply over QMP: throttle, downtime limit, postcopy, cancel, release. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/model.h"
#include "trace/json.h"
#include "trace/qmp.h"
#include "trace/qmp_act.h"

/* QEMU 3.0 added max-cpu-throttle, without which a throttle cannot be held at p. */
#define QEMU_MIN_MAJOR_THROTTLE	3

static int fail(struct lm_qmp *q, int err, const char *what, char *why, size_t len)
{
	snprintf(why, len, "%s: %s%s%s", what, strerror(-err), lm_qmp_error_desc(q)[0] ? ": " : "",
		 lm_qmp_error_desc(q));
	return err;
}

/* 1 if the capability is on, 0 if off or unknown to this QEMU, -errno. */
static int capability(struct lm_qmp *q, const char *name)
{
	json_t *ret, *c;
	size_t i;
	int err, on = 0;

	err = lm_qmp_execute(q, "query-migrate-capabilities", NULL, &ret);
	if (err)
		return err;
	json_array_foreach(ret, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "capability")) ?: "", name))
			on = json_is_true(json_object_get(c, "state"));
	json_decref(ret);
	return on;
}

/* query-version's major, or -errno. */
static int qemu_major(struct lm_qmp *q, int *minor)
{
	json_t *ret, *v;
	int err, major;

	err = lm_qmp_execute(q, "query-version", NULL, &ret);
	if (err)
		return err;
	v = json_object_get(ret, "qemu");
	major = (int)json_integer_value(json_object_get(v, "major"));
	*minor = (int)json_integer_value(json_object_get(v, "minor"));
	json_decref(ret);
	return major;
}

static int set_params(struct lm_qmp *q, json_t *args)
{
	int err = lm_qmp_execute(q, "migrate-set-parameters", args, NULL);

	json_decref(args);
	return err;
}

/* QEMU's values after a change: the ground truth the action record carries. */
static void read_back(struct lm_qmp *q, struct lm_obs_action *out)
{
	struct lm_qmp_migrate_params mp;

	if (lm_qmp_query_migrate_params(q, &mp))
		return;
	out->qemu_throttle_pct = mp.max_cpu_throttle > 0 ? (uint32_t)mp.max_cpu_throttle : 0;
	out->qemu_downtime_ms = mp.downtime_limit_ms > 0 ? (uint32_t)mp.downtime_limit_ms : 0;
}

static int save(struct lm_qmp *q, struct lm_qmp_act_saved *sv, int throttle)
{
	struct lm_qmp_migrate_params mp;
	int err;

	if (throttle ? sv->throttle_saved : sv->downtime_saved)
		return 0;
	err = lm_qmp_query_migrate_params(q, &mp);
	if (err)
		return err;
	if (throttle) {
		sv->initial = mp.cpu_throttle_initial;
		sv->increment = mp.cpu_throttle_increment;
		sv->max_throttle = mp.max_cpu_throttle;
		sv->throttle_saved = 1;
	} else {
		sv->downtime_limit_ms = mp.downtime_limit_ms;
		sv->downtime_saved = 1;
	}
	return 0;
}

static int do_throttle(struct lm_qmp *q, struct lm_qmp_act_saved *sv, uint32_t pct,
		       struct lm_obs_action *out, char *why, size_t len)
{
	int major, minor = 0, on, err;

	major = qemu_major(q, &minor);
	if (major < 0)
		return fail(q, major, "query-version", why, len);
	if (major < QEMU_MIN_MAJOR_THROTTLE) {
		out->outcome = LM_ACT_REFUSED;
		snprintf(why, len, "QEMU %d.%d has no max-cpu-throttle: the throttle cannot be held", major, minor);
		return 0;
	}
	on = capability(q, "auto-converge");
	if (on < 0)
		return fail(q, on, "query-migrate-capabilities", why, len);
	if (!on) {
		out->outcome = LM_ACT_REFUSED;
		snprintf(why, len, "the auto-converge capability is off, and QEMU %d.%d has no other way "
			 "to throttle vCPUs nor lets it be switched on during a migration", major, minor);
		return 0;
	}
	err = save(q, sv, 1);
	if (err)
		return fail(q, err, "query-migrate-parameters", why, len);
	/* the largest increment QEMU accepts: any lower throttle goes to p in one step */
	err = set_params(q, json_pack("{s:I, s:I, s:I}", "cpu-throttle-initial", (json_int_t)pct,
				      "max-cpu-throttle", (json_int_t)pct, "cpu-throttle-increment",
				      (json_int_t)LM_QEMU_THROTTLE_MAX_PCT));
	return err ? fail(q, err, "migrate-set-parameters", why, len) : 0;
}

static int do_downtime(struct lm_qmp *q, struct lm_qmp_act_saved *sv, uint32_t ms, char *why,
		       size_t len)
{
	int err = save(q, sv, 0);

	if (err)
		return fail(q, err, "query-migrate-parameters", why, len);
	err = set_params(q, json_pack("{s:I}", "downtime-limit", (json_int_t)ms));
	return err ? fail(q, err, "migrate-set-parameters", why, len) : 0;
}

static int do_postcopy(struct lm_qmp *q, struct lm_obs_action *out, char *why, size_t len)
{
	int on = capability(q, "postcopy-ram"), err;

	if (on < 0)
		return fail(q, on, "query-migrate-capabilities", why, len);
	if (!on) {
		out->outcome = LM_ACT_REFUSED;
		snprintf(why, len, "the postcopy-ram capability is off (it must be on on both sides "
			 "before the migration starts)");
		return 0;
	}
	err = lm_qmp_execute(q, "migrate-start-postcopy", NULL, NULL);
	return err ? fail(q, err, "migrate-start-postcopy", why, len) : 0;
}

/*
 * One parameter group back to QEMU's value before lmtrace (args taken). On
 * failure, what failed joins why and args join hand, the one command that
 * restores by hand everything that failed.
 */
static int restore(struct lm_qmp *q, json_t *args, const char *what, json_t *hand, char *why, size_t len)
{
	size_t used = strlen(why);
	int err = args ? set_params(q, json_incref(args)) : -ENOMEM;

	if (err) {
		snprintf(why + used, len - used, "%s%s (%s%s%s)", used ? ", " : "not restored: ", what,
			 strerror(-err), lm_qmp_error_desc(q)[0] ? ": " : "", lm_qmp_error_desc(q));
		json_object_update(hand, args);
	}
	json_decref(args);
	return err;
}

/*
 * Give back what lmtrace changed, each parameter group on its own: a
 * throttle restore that fails does not keep the downtime limit from being
 * restored. What could not be restored stays saved (a later release tries
 * again) and why ends with the command that restores it by hand.
 */
static int do_release(struct lm_qmp *q, struct lm_qmp_act_saved *sv, char *why, size_t len)
{
	json_t *hand = json_object();
	int err = 0, e;
	char *text;

	why[0] = 0;
	if (sv->throttle_saved && sv->initial > 0 && sv->increment > 0 && sv->max_throttle > 0) {
		e = restore(q, json_pack("{s:I, s:I, s:I}", "cpu-throttle-initial", (json_int_t)sv->initial,
					 "cpu-throttle-increment", (json_int_t)sv->increment,
					 "max-cpu-throttle", (json_int_t)sv->max_throttle),
			    "throttle", hand, why, len);
		sv->throttle_saved = e != 0;
		err = e;
	}
	if (sv->downtime_saved && sv->downtime_limit_ms > 0) {
		e = restore(q, json_pack("{s:I}", "downtime-limit", (json_int_t)sv->downtime_limit_ms),
			    "downtime limit", hand, why, len);
		sv->downtime_saved = e != 0;
		err = err ? err : e;
	}
	text = err ? json_dumps(hand, JSON_COMPACT) : NULL;
	if (text)
		snprintf(why + strlen(why), len - strlen(why), "; by hand: {\"execute\":"
			 "\"migrate-set-parameters\",\"arguments\":%s}", text);
	free(text);
	json_decref(hand);
	return err;
}

void lm_qmp_act_run(struct lm_qmp *q, struct lm_qmp_act_saved *sv, const struct lm_act_decision *d,
		    struct lm_obs_action *out, char *why, size_t len)
{
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->action = d->action;
	out->value = d->value;
	out->round = d->round;
	out->outcome = LM_ACT_APPLIED;
	why[0] = 0;
	switch (d->action) {
	case LM_ACT_THROTTLE: err = do_throttle(q, sv, d->value, out, why, len); break;
	case LM_ACT_DOWNTIME: err = do_downtime(q, sv, d->value, why, len); break;
	case LM_ACT_POSTCOPY: err = do_postcopy(q, out, why, len); break;
	case LM_ACT_CANCEL:
		err = lm_qmp_execute(q, "migrate_cancel", NULL, NULL);
		if (err)
			fail(q, err, "migrate_cancel", why, len);
		break;
	case LM_ACT_RELEASE: err = do_release(q, sv, why, len); break;
	}
	if (err) {
		/* sent, but no answer in time: QEMU may still carry it out */
		out->outcome = err == -ETIMEDOUT ? LM_ACT_UNKNOWN : LM_ACT_FAILED;
		out->error = err;
	}
	if (d->action == LM_ACT_THROTTLE || d->action == LM_ACT_DOWNTIME || d->action == LM_ACT_RELEASE)
		read_back(q, out);
}

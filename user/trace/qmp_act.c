// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --act --apply over QMP: throttle, downtime limit, postcopy, cancel, release. */
#include <errno.h>
#include <stdarg.h>
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

/* fail() for a command that changes QEMU's state: unanswered in time, it may still be carried out. */
static int fail_sent(struct lm_qmp *q, int err, const char *what, struct lm_obs_action *out, char *why,
		     size_t len)
{
	if (err == -ETIMEDOUT)
		out->outcome = LM_ACT_UNKNOWN;
	return fail(q, err, what, why, len);
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
	sv->set_throttle_pct = pct;
	/* the largest increment QEMU accepts: any lower throttle goes to p in one step */
	err = set_params(q, json_pack("{s:I, s:I, s:I}", "cpu-throttle-initial", (json_int_t)pct,
				      "max-cpu-throttle", (json_int_t)pct, "cpu-throttle-increment",
				      (json_int_t)LM_QEMU_THROTTLE_MAX_PCT));
	return err ? fail_sent(q, err, "migrate-set-parameters", out, why, len) : 0;
}

static int do_downtime(struct lm_qmp *q, struct lm_qmp_act_saved *sv, uint32_t ms,
		       struct lm_obs_action *out, char *why, size_t len)
{
	int err = save(q, sv, 0);

	if (err)
		return fail(q, err, "query-migrate-parameters", why, len);
	sv->set_downtime_ms = ms;
	err = set_params(q, json_pack("{s:I}", "downtime-limit", (json_int_t)ms));
	return err ? fail_sent(q, err, "migrate-set-parameters", out, why, len) : 0;
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
	return err ? fail_sent(q, err, "migrate-start-postcopy", out, why, len) : 0;
}

/* Appends to a reason: "a, b" style, with its first part's lead. */
static void add_why(char *why, size_t len, const char *lead, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_why(char *why, size_t len, const char *lead, const char *fmt, ...)
{
	size_t used = strlen(why);
	va_list ap;

	if (used + 1 >= len)
		return;
	snprintf(why + used, len - used, "%s", used ? ", " : lead);
	used = strlen(why);
	va_start(ap, fmt);
	vsnprintf(why + used, len - used, fmt, ap);
	va_end(ap);
}

/*
 * One parameter group back to QEMU's value before lmtrace (args taken). On
 * failure, what failed joins failed and args join hand, the one command
 * that restores by hand everything that failed.
 */
static int restore(struct lm_qmp *q, json_t *args, const char *what, json_t *hand, char *failed,
		   size_t len)
{
	int err = args ? set_params(q, json_incref(args)) : -ENOMEM;

	if (err) {
		add_why(failed, len, "not restored: ", "%s (%s%s%s)", what, strerror(-err),
			lm_qmp_error_desc(q)[0] ? ": " : "", lm_qmp_error_desc(q));
		json_object_update(hand, args);
	}
	json_decref(args);
	return err;
}

/* The group still holds what lmtrace set, or what it holds is not known: restore it. */
static int still_ours(int have_now, int64_t set, int64_t held)
{
	return !have_now || !set || held == set;
}

/* The reason: what was left alone, what failed, then the command for by hand (never cut). */
static void release_why(const char *left, const char *failed, json_t *hand, char *why, size_t len)
{
	char *cmd = json_object_size(hand) ? json_dumps(hand, JSON_COMPACT) : NULL;
	char tail[320] = "";
	size_t room;

	if (cmd)
		snprintf(tail, sizeof(tail), "; by hand: {\"execute\":\"migrate-set-parameters\","
			 "\"arguments\":%s}", cmd);
	free(cmd);
	room = len > strlen(tail) + 1 ? len - strlen(tail) : 1;
	snprintf(why, room, "%s%s%s", left, left[0] && failed[0] ? "; " : "", failed);
	snprintf(why + strlen(why), len - strlen(why), "%s", tail);
}

/*
 * Give back what lmtrace changed, each parameter group on its own: a
 * throttle restore that fails does not keep the downtime limit from being
 * restored. A group someone else changed since lmtrace set it is left as
 * it is. What could not be restored stays saved (a later release tries
 * again, if QEMU still holds lmtrace's value then) and why ends with the
 * command that restores it by hand.
 */
static int do_release(struct lm_qmp *q, struct lm_qmp_act_saved *sv, struct lm_obs_action *out,
		      char *why, size_t len)
{
	struct lm_qmp_migrate_params now = { 0 };
	char left[LM_QMP_ACT_WHY_PART] = "", failed[LM_QMP_ACT_WHY_PART] = "";
	json_t *hand = json_object();
	int have_now = lm_qmp_query_migrate_params(q, &now) == 0, err = 0, e;

	if (sv->throttle_saved && sv->initial > 0 && sv->increment > 0 && sv->max_throttle > 0) {
		if (still_ours(have_now, sv->set_throttle_pct, now.max_cpu_throttle)) {
			e = restore(q, json_pack("{s:I, s:I, s:I}", "cpu-throttle-initial",
						 (json_int_t)sv->initial, "cpu-throttle-increment",
						 (json_int_t)sv->increment, "max-cpu-throttle",
						 (json_int_t)sv->max_throttle),
				    "throttle", hand, failed, sizeof(failed));
			sv->throttle_saved = e != 0;
			err = e;
		} else {
			add_why(left, sizeof(left), "left as they are, changed since lmtrace set them: ",
				"throttle (max-cpu-throttle %lld, lmtrace set %lld)",
				(long long)now.max_cpu_throttle, (long long)sv->set_throttle_pct);
			sv->throttle_saved = 0;
		}
	}
	if (sv->downtime_saved && sv->downtime_limit_ms > 0) {
		if (still_ours(have_now, sv->set_downtime_ms, now.downtime_limit_ms)) {
			e = restore(q, json_pack("{s:I}", "downtime-limit", (json_int_t)sv->downtime_limit_ms),
				    "downtime limit", hand, failed, sizeof(failed));
			sv->downtime_saved = e != 0;
			err = err ? err : e;
		} else {
			add_why(left, sizeof(left), "left as they are, changed since lmtrace set them: ",
				"downtime limit (%lld ms, lmtrace set %lld)",
				(long long)now.downtime_limit_ms, (long long)sv->set_downtime_ms);
			sv->downtime_saved = 0;
		}
	}
	if (err == -ETIMEDOUT)
		out->outcome = LM_ACT_UNKNOWN;
	release_why(left, failed, hand, why, len);
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
	case LM_ACT_DOWNTIME: err = do_downtime(q, sv, d->value, out, why, len); break;
	case LM_ACT_POSTCOPY: err = do_postcopy(q, out, why, len); break;
	case LM_ACT_CANCEL:
		err = lm_qmp_execute(q, "migrate_cancel", NULL, NULL);
		if (err)
			fail_sent(q, err, "migrate_cancel", out, why, len);
		break;
	case LM_ACT_RELEASE: err = do_release(q, sv, out, why, len); break;
	}
	if (err) {
		out->error = err;
		if (out->outcome != LM_ACT_UNKNOWN)	/* set by fail_sent: QEMU may still carry it out */
			out->outcome = LM_ACT_FAILED;
	}
	/* QEMU's values after it; not after a timeout: asking again would only wait as long */
	if ((d->action == LM_ACT_THROTTLE || d->action == LM_ACT_DOWNTIME || d->action == LM_ACT_RELEASE) &&
	    err != -ETIMEDOUT)
		read_back(q, out);
}

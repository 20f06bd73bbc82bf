// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* lmtrace's libvirt client: see libvirt.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include "core/model.h"
#include "core/units.h"
#include "trace/libvirt.h"
#include "trace/procscan.h"

struct lm_libvirt {
	virConnectPtr conn;
	char uri[256];		/* sanitised, for messages */
	char run_dir[256];	/* where the daemon keeps its QEMUs' pid files; "" if not on this host */
	char err[LM_LIBVIRT_ERR_MAX];
};

struct lm_libvirt_dom {
	struct lm_libvirt *l;
	virDomainPtr dom;
	char name[256];		/* sanitised */
	char uuid[VIR_UUID_STRING_BUFLEN];
};

/* libvirt prints each error on stderr unless a handler takes it: lmtrace keeps them. */
static void quiet(void *opaque, virErrorPtr e)
{
}

/* libvirt's last error as -errno, and a hint: what to do about it. */
static int errno_of(const char **hint)
{
	static const struct { int code, err; const char *hint; } map[] = {
		{ VIR_ERR_NO_DOMAIN, ENOENT, "virsh list --all names the domains" },
		{ VIR_ERR_OPERATION_INVALID, EINVAL, "not in the domain's present state: virsh domjobinfo says its job" },
		{ VIR_ERR_INVALID_ARG, EINVAL, "a value libvirt does not take" },
		{ VIR_ERR_OPERATION_UNSUPPORTED, EOPNOTSUPP, "this libvirt or QEMU cannot do it" },
		{ VIR_ERR_NO_SUPPORT, EOPNOTSUPP, "this libvirt driver cannot do it" },
		{ VIR_ERR_ARGUMENT_UNSUPPORTED, EOPNOTSUPP, "this libvirt cannot do it" },
		{ VIR_ERR_AUTH_FAILED, EACCES, "run as root, or give a URI you may use" },
		{ VIR_ERR_ACCESS_DENIED, EACCES, "run as root, or give a URI you may use" },
		{ VIR_ERR_OPERATION_TIMEOUT, ETIMEDOUT, "another job holds the domain: try again" },
		{ VIR_ERR_SYSTEM_ERROR, ECONNREFUSED, "libvirtd not running? start it, or give another libvirt URI" },
		{ VIR_ERR_NO_CONNECT, ECONNREFUSED, "libvirtd not running? start it, or give another libvirt URI" },
		{ VIR_ERR_RPC, ECONNRESET, "the connection to libvirtd broke: connect again" },
		{ VIR_ERR_OPERATION_FAILED, EREMOTEIO, "libvirt's message says why" },
	};
	virErrorPtr e = virGetLastError();
	size_t i;

	*hint = "libvirt's message says why";
	for (i = 0; e && i < sizeof(map) / sizeof(map[0]); i++)
		if (e->code == map[i].code) {
			*hint = map[i].hint;
			return -map[i].err;
		}
	return -EREMOTEIO;
}

/* Keep "WHAT: libvirt's message (HINT)" in buf and return the error; libvirt's error is cleared. */
static int fail_into(char *buf, size_t len, const char *what)
{
	char msg[LM_LIBVIRT_ERR_MAX];
	const char *hint;
	int err = errno_of(&hint);

	lm_sanitize_name(msg, sizeof(msg), virGetLastErrorMessage());
	snprintf(buf, len, "%s: %s (%s)", what, msg, hint);
	virResetLastError();
	return err;
}

__attribute__((format(printf, 2, 3)))
static int lv_fail(struct lm_libvirt *l, const char *fmt, ...)
{
	char what[LM_LIBVIRT_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail_into(l->err, sizeof(l->err), what);
}

/* An error of lmtrace's own (no libvirt message): err, with the message. */
__attribute__((format(printf, 3, 4)))
static int own_fail(struct lm_libvirt *l, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->err, sizeof(l->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *lm_libvirt_error(const struct lm_libvirt *l)
{
	return l ? l->err : "";
}

/*
 * Where a local daemon's QEMU driver writes each domain's pid file
 * (NAME.pid, QEMU's own -pidfile): /run/libvirt/qemu for qemu:///system,
 * $XDG_RUNTIME_DIR/libvirt/qemu/run for qemu:///session. Any other URI (a
 * transport, a host: qemu+tcp://...) may be another host's QEMUs: "".
 */
static void find_run_dir(struct lm_libvirt *l, const char *uri)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	l->run_dir[0] = 0;
	if (!strcmp(uri, "qemu:///system"))
		snprintf(l->run_dir, sizeof(l->run_dir), "/run/libvirt/qemu");
	else if (!strcmp(uri, "qemu:///session") && xdg)
		snprintf(l->run_dir, sizeof(l->run_dir), "%s/libvirt/qemu/run", xdg);
}

int lm_libvirt_open(struct lm_libvirt **lp, const char *uri, char *err, size_t len)
{
	struct lm_libvirt *l;
	char what[300];
	int ret;

	*lp = NULL;
	if (!uri)
		uri = LM_LIBVIRT_DEFAULT_URI;
	if (virInitialize() < 0)
		return fail_into(err, len, "cannot initialise libvirt");
	virSetErrorFunc(NULL, quiet);
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	lm_sanitize_name(l->uri, sizeof(l->uri), uri);
	l->conn = virConnectOpen(uri);
	if (!l->conn) {
		snprintf(what, sizeof(what), "cannot connect to %s", l->uri);
		ret = fail_into(err, len, what);
		free(l);
		/* refused (-EACCES) or timed out as libvirt says; else nothing answered at that URI */
		return ret == -EACCES || ret == -ETIMEDOUT ? ret : -ECONNREFUSED;
	}
	find_run_dir(l, uri);
	*lp = l;
	return 0;
}

void lm_libvirt_close(struct lm_libvirt *l)
{
	if (!l)
		return;
	if (l->conn)
		virConnectClose(l->conn);
	free(l);
}

/* A handle on dom (taken over), its name and UUID read. */
static int wrap(struct lm_libvirt *l, virDomainPtr dom, struct lm_libvirt_dom **dp)
{
	struct lm_libvirt_dom *d = calloc(1, sizeof(*d));
	const char *name;

	if (!d) {
		virDomainFree(dom);
		return own_fail(l, -ENOMEM, "out of memory");
	}
	d->l = l;
	d->dom = dom;
	name = virDomainGetName(dom);
	lm_sanitize_name(d->name, sizeof(d->name), name ? name : "?");
	if (virDomainGetUUIDString(dom, d->uuid) < 0) {
		lm_libvirt_dom_free(d);
		return lv_fail(l, "cannot read the UUID of domain %s", d->name);
	}
	*dp = d;
	return 0;
}

/* What a lookup by key found, wrapped; none: says so (what names the key). */
static int found(struct lm_libvirt *l, virDomainPtr dom, const char *what, const char *key,
		 struct lm_libvirt_dom **dp)
{
	char safe[256];

	*dp = NULL;
	if (!dom) {
		lm_sanitize_name(safe, sizeof(safe), key);
		return lv_fail(l, "no domain %s%s on %s", what, safe, l->uri);
	}
	return wrap(l, dom, dp);
}

int lm_libvirt_find_by_name(struct lm_libvirt *l, const char *name, struct lm_libvirt_dom **dp)
{
	return found(l, virDomainLookupByName(l->conn, name), "", name, dp);
}

int lm_libvirt_find_by_uuid(struct lm_libvirt *l, const char *uuid, struct lm_libvirt_dom **dp)
{
	return found(l, virDomainLookupByUUIDString(l->conn, uuid), "with UUID ", uuid, dp);
}

void lm_libvirt_dom_free(struct lm_libvirt_dom *d)
{
	if (!d)
		return;
	if (d->dom)
		virDomainFree(d->dom);
	free(d);
}

const char *lm_libvirt_dom_name(const struct lm_libvirt_dom *d)
{
	return d->name;
}

const char *lm_libvirt_dom_uuid(const struct lm_libvirt_dom *d)
{
	return d->uuid;
}

/* 1 if pid's command line has "-uuid UUID" (libvirt passes the domain's), 0 if not, -errno. */
static int cmdline_has_uuid(pid_t pid, const char *uuid)
{
	char found[64];
	int err = lm_proc_qemu_option(pid, "-uuid", found, sizeof(found));

	if (err == -ENOENT)
		return 0;
	return err ? err : !strcasecmp(found, uuid);
}

/* The pid in the daemon's pid file of the domain, or -errno. */
static int read_pid_file(const struct lm_libvirt *l, const char *name)
{
	char path[600], buf[32];
	ssize_t n;
	long pid;
	int fd;

	snprintf(path, sizeof(path), "%s/%s.pid", l->run_dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	pid = strtol(buf, NULL, 10);
	return pid > 0 && pid <= INT32_MAX ? (int)pid : -ESRCH;
}

/*
 * The QEMU pid: libvirt's public API does not give it (the domain ID is a
 * counter, the XML has no pid, and QMP through virDomainQemuMonitorCommand
 * taints the domain and has no pid either). The QEMU driver of a local daemon
 * starts QEMU with -pidfile RUN_DIR/NAME.pid; that pid is taken only if the
 * process's own command line carries the domain's UUID (-uuid), as libvirt
 * gives it: a stale pid file or a reused pid is refused. A second QEMU of the
 * same UUID on this host (a migration's destination) is not in this pid file.
 */
int lm_libvirt_dom_pid(struct lm_libvirt_dom *d)
{
	struct lm_libvirt *l = d->l;
	const char *raw = virDomainGetName(d->dom);
	int active, pid, ok;

	if (!l->run_dir[0])
		return own_fail(l, -EOPNOTSUPP, "the QEMU of domain %s on %s is not on this host "
				"(a remote libvirt): give qemu:///system", d->name, l->uri);
	active = virDomainIsActive(d->dom);
	if (active < 0)
		return lv_fail(l, "cannot tell whether domain %s runs", d->name);
	if (!active)
		return own_fail(l, -ESRCH, "domain %s is not running (virsh start %s)", d->name, d->name);
	pid = raw ? read_pid_file(l, raw) : -ESRCH;
	if (pid < 0)
		return own_fail(l, pid, "domain %s runs but has no pid file in %s: is %s this host's "
				"libvirtd?", d->name, l->run_dir, l->uri);
	ok = cmdline_has_uuid(pid, d->uuid);
	if (ok <= 0)
		return own_fail(l, -ESRCH, "pid %d of domain %s's pid file %s (it is not QEMU with "
				"-uuid %s): a stale pid file?", pid, d->name,
				ok < 0 ? "is gone" : "runs something else", d->uuid);
	return pid;
}

/* Walk the running domains: the one whose QEMU is pid (checked as lm_libvirt_dom_pid does). */
int lm_libvirt_find_by_pid(struct lm_libvirt *l, pid_t pid, struct lm_libvirt_dom **dp)
{
	virDomainPtr *doms = NULL, found = NULL;
	int n, i, ret;

	*dp = NULL;
	if (!l->run_dir[0])
		return own_fail(l, -EOPNOTSUPP, "%s is not a libvirt on this host: its QEMUs' pids are "
				"not ours to match (give qemu:///system)", l->uri);
	n = virConnectListAllDomains(l->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0)
		return lv_fail(l, "cannot list the domains of %s", l->uri);
	for (i = 0; i < n; i++) {
		const char *name = virDomainGetName(doms[i]);

		if (!found && name && read_pid_file(l, name) == pid)
			found = doms[i];
		else
			virDomainFree(doms[i]);
	}
	free(doms);
	if (!found)
		return own_fail(l, -ESRCH, "no running domain of %s has QEMU pid %d (virsh list; "
				"a QEMU libvirt did not start?)", l->uri, (int)pid);
	ret = wrap(l, found, dp);
	if (ret)
		return ret;
	ret = lm_libvirt_dom_pid(*dp);
	if (ret > 0 && ret != pid)
		ret = own_fail(l, -ESRCH, "pid %d is no longer the QEMU of domain %s (pid %d now)",
			       (int)pid, lm_libvirt_dom_name(*dp), ret);
	if (ret < 0) {
		lm_libvirt_dom_free(*dp);
		*dp = NULL;
		return ret;
	}
	return 0;
}

const char *lm_libvirt_job_type_name(int type)
{
	static const char *const names[] = { "none", "bounded", "unbounded", "completed", "failed",
					     "cancelled" };

	return type >= 0 && type < (int)(sizeof(names) / sizeof(names[0])) ? names[type] : "unknown";
}

const char *lm_libvirt_job_operation_name(int operation)
{
	static const struct { int op; const char *name; } map[] = {
		{ VIR_DOMAIN_JOB_OPERATION_UNKNOWN, "unknown" },
		{ VIR_DOMAIN_JOB_OPERATION_START, "start" },
		{ VIR_DOMAIN_JOB_OPERATION_SAVE, "save" },
		{ VIR_DOMAIN_JOB_OPERATION_RESTORE, "restore" },
		{ VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN, "migration-in" },
		{ VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT, "migration-out" },
		{ VIR_DOMAIN_JOB_OPERATION_SNAPSHOT, "snapshot" },
		{ VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_REVERT, "snapshot-revert" },
		{ VIR_DOMAIN_JOB_OPERATION_DUMP, "dump" },
		{ VIR_DOMAIN_JOB_OPERATION_BACKUP, "backup" },
	};
	size_t i;

	if (operation < 0)
		return "none";
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].op == operation)
			return map[i].name;
	return "unknown";
}

/* A typed parameter as int64, -1 if absent (or past INT64_MAX). */
static int64_t param(virTypedParameterPtr params, int n, const char *name)
{
	unsigned long long v;

	if (virTypedParamsGetULLong(params, n, name, &v) != 1 || v > INT64_MAX)
		return -1;
	return (int64_t)v;
}

static void job_numbers(struct lm_libvirt_job *j, virTypedParameterPtr ps, int n)
{
	int op;

	j->operation = virTypedParamsGetInt(ps, n, VIR_DOMAIN_JOB_OPERATION, &op) == 1 ? op : -1;
	j->time_elapsed_ms = param(ps, n, VIR_DOMAIN_JOB_TIME_ELAPSED);
	j->data_total = param(ps, n, VIR_DOMAIN_JOB_DATA_TOTAL);
	j->data_processed = param(ps, n, VIR_DOMAIN_JOB_DATA_PROCESSED);
	j->data_remaining = param(ps, n, VIR_DOMAIN_JOB_DATA_REMAINING);
	j->memory_total = param(ps, n, VIR_DOMAIN_JOB_MEMORY_TOTAL);
	j->memory_processed = param(ps, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED);
	j->memory_remaining = param(ps, n, VIR_DOMAIN_JOB_MEMORY_REMAINING);
	j->memory_dirty_rate = param(ps, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE);
	j->memory_iteration = param(ps, n, VIR_DOMAIN_JOB_MEMORY_ITERATION);
	j->memory_page_size = param(ps, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE);
	j->memory_bps = param(ps, n, VIR_DOMAIN_JOB_MEMORY_BPS);
	j->expected_downtime_ms = param(ps, n, VIR_DOMAIN_JOB_DOWNTIME);
	/* an int, not an unsigned long long */
	if (virTypedParamsGetInt(ps, n, VIR_DOMAIN_JOB_AUTO_CONVERGE_THROTTLE, &op) == 1)
		j->auto_converge_throttle = op;
}

/* The job's type and statistics, and the domain's state. */
static int read_job(struct lm_libvirt_dom *d, struct lm_libvirt_job *j)
{
	virTypedParameterPtr ps = NULL;
	int n = 0, type, st, reason;

	memset(j, 0xff, sizeof(*j));	/* every number -1: absent */
	if (virDomainGetJobStats(d->dom, &type, &ps, &n, 0) < 0)
		return lv_fail(d->l, "cannot read the job of domain %s", d->name);
	j->type = type;
	job_numbers(j, ps, n);
	virTypedParamsFree(ps, n);
	j->outgoing_migration = type == VIR_DOMAIN_JOB_UNBOUNDED &&
				j->operation == VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
	if (virDomainGetState(d->dom, &st, &reason, 0) < 0)
		return lv_fail(d->l, "cannot read the state of domain %s", d->name);
	j->state = st;
	j->reason = reason;
	return 0;
}

/* query-migrate's status as the estimator knows it, from libvirt's job and the domain's state. */
static uint32_t qemu_status(const struct lm_libvirt_job *j)
{
	if (j->outgoing_migration) {
		if ((j->state == VIR_DOMAIN_RUNNING && j->reason == VIR_DOMAIN_RUNNING_POSTCOPY) ||
		    (j->state == VIR_DOMAIN_PAUSED && (j->reason == VIR_DOMAIN_PAUSED_POSTCOPY ||
						       j->reason == VIR_DOMAIN_PAUSED_POSTCOPY_FAILED)))
			return LM_QEMU_POSTCOPY;
		if (j->state == VIR_DOMAIN_PAUSED && j->reason == VIR_DOMAIN_PAUSED_MIGRATION)
			return LM_QEMU_STOPPING;	/* the switchover */
		return j->memory_iteration > 0 ? LM_QEMU_ACTIVE : LM_QEMU_SETUP;
	}
	switch (j->type) {
	case VIR_DOMAIN_JOB_COMPLETED:
		return LM_QEMU_COMPLETED;
	case VIR_DOMAIN_JOB_FAILED:
		return LM_QEMU_FAILED;
	case VIR_DOMAIN_JOB_CANCELLED:
		return LM_QEMU_CANCELLED;
	}
	return LM_QEMU_NONE;	/* no migration out (no job, or another one) */
}

/* The running domain's handle, or -ESRCH saying it does not run. */
static int need_running(struct lm_libvirt_dom *d)
{
	int active = virDomainIsActive(d->dom);

	if (active < 0)
		return lv_fail(d->l, "cannot tell whether domain %s runs", d->name);
	if (!active)
		return own_fail(d->l, -ESRCH, "domain %s is not running (virsh start %s)", d->name,
				d->name);
	return 0;
}

int lm_libvirt_read(struct lm_libvirt_dom *d, struct lm_obs_params *p, struct lm_libvirt_job *job)
{
	unsigned long long downtime;
	unsigned long mib, kib;
	struct lm_libvirt_job j;
	int ret = need_running(d);

	if (ret)
		return ret;
	if (virDomainMigrateGetMaxDowntime(d->dom, &downtime, 0) < 0)
		return lv_fail(d->l, "cannot read the downtime limit of domain %s", d->name);
	if (virDomainMigrateGetMaxSpeed(d->dom, &mib, 0) < 0)
		return lv_fail(d->l, "cannot read the migration speed of domain %s", d->name);
	kib = virDomainGetMaxMemory(d->dom);
	if (!kib)
		return lv_fail(d->l, "cannot read the memory size of domain %s", d->name);
	ret = read_job(d, &j);
	if (ret)
		return ret;
	memset(p, 0, sizeof(*p));
	p->downtime_limit_ms = downtime ? downtime : LM_QEMU_DOWNTIME_LIMIT_DEFAULT_MS;
	/* MiB/s (libvirt 9 has no bytes flag); its "no cap" is INT64_MAX bytes/s */
	p->max_bandwidth = mib >= LM_LIBVIRT_SPEED_UNLIMITED_MIB ? 0 : (uint64_t)mib << 20;
	p->ram_bytes = (uint64_t)kib << 10;
	p->throttle_pct = j.auto_converge_throttle > 0 ? (uint32_t)j.auto_converge_throttle : 0;
	p->page_size = j.memory_page_size > 0 ? (uint32_t)j.memory_page_size : LM_PAGE_SIZE_DEFAULT;
	p->qemu_status = qemu_status(&j);
	if (job)
		*job = j;
	return 0;
}

int lm_libvirt_set_max_downtime(struct lm_libvirt_dom *d, uint64_t ms)
{
	int ret = need_running(d);

	if (ret)
		return ret;
	if (!ms)
		return own_fail(d->l, -EINVAL, "a downtime limit of 0 ms for domain %s: give 1 ms or "
				"more", d->name);
	if (virDomainMigrateSetMaxDowntime(d->dom, ms, 0) < 0)
		return lv_fail(d->l, "cannot set the downtime limit of domain %s to %llu ms", d->name,
			       (unsigned long long)ms);
	return 0;
}

int lm_libvirt_set_max_speed(struct lm_libvirt_dom *d, uint64_t bytes_per_s, uint64_t *set)
{
	uint64_t mib = bytes_per_s >> 20;
	int ret = need_running(d);

	if (ret)
		return ret;
	if (!mib || mib >= LM_LIBVIRT_SPEED_UNLIMITED_MIB)
		return own_fail(d->l, -EINVAL, "a migration speed of %llu bytes/s for domain %s: "
				"libvirt takes 1 MiB/s to %lld MiB/s", (unsigned long long)bytes_per_s,
				d->name, (long long)LM_LIBVIRT_SPEED_UNLIMITED_MIB - 1);
	if (virDomainMigrateSetMaxSpeed(d->dom, (unsigned long)mib, 0) < 0)
		return lv_fail(d->l, "cannot set the migration speed of domain %s to %llu MiB/s",
			       d->name, (unsigned long long)mib);
	if (set)
		*set = mib << 20;
	return 0;
}

int lm_libvirt_start_postcopy(struct lm_libvirt_dom *d)
{
	int ret = need_running(d);

	if (ret)
		return ret;
	if (virDomainMigrateStartPostCopy(d->dom, 0) < 0)
		return lv_fail(d->l, "cannot switch domain %s's migration to post-copy", d->name);
	return 0;
}

int lm_libvirt_abort_job(struct lm_libvirt_dom *d)
{
	int ret = need_running(d);

	if (ret)
		return ret;
	if (virDomainAbortJob(d->dom) < 0)
		return lv_fail(d->l, "cannot abort the job of domain %s", d->name);
	return 0;
}

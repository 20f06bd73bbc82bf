/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small client over libvirt's C API, for hosts where libvirt holds QEMU's
 * monitor: find the domain of a traced QEMU, read what lmtrace's QMP path
 * reads (into the estimator's struct lm_obs_params) and the migration job's
 * statistics, and act on a migration with libvirt's own calls.
 *
 * Built only where libvirt's development files are (the Makefile defines
 * LM_HAVE_LIBVIRT then); this header needs none of them. One connection per
 * handle, used from one thread. No printing, no exit; functions return 0 (or
 * a pid) or a negative errno, and keep a one-line message saying what failed
 * and what to do (lm_libvirt_error()): libvirt's own words in it are
 * sanitised (lm_sanitize_name), as is every name read from libvirt.
 *   -ECONNREFUSED  no libvirt at that URI (libvirtd not running, no socket)
 *   -ENOENT        no such domain
 *   -ESRCH         the domain is not running (no QEMU), or not the pid given
 *   -EINVAL        a value libvirt cannot take, or an operation invalid now
 *                  (e.g. post-copy with no outgoing migration)
 *   -EOPNOTSUPP    the driver cannot do it (or the QEMU pid of a remote libvirt)
 *   -EACCES        libvirt refused us; -ETIMEDOUT libvirt did not answer
 *   -EREMOTEIO     any other libvirt error (its message says which)
 * Opening a connection switches libvirt's own printing of errors on stderr
 * off for the whole process (virSetErrorFunc). Each call waits as long as
 * libvirt does (there is no keepalive without libvirt's event loop): a
 * caller that must not block, such as a sampling loop, calls from a thread
 * of its own, as the QMP path does (qmp_watch).
 */
#ifndef LM_TRACE_LIBVIRT_H
#define LM_TRACE_LIBVIRT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "core/obs.h"

#define LM_LIBVIRT_DEFAULT_URI	"qemu:///system"
#define LM_LIBVIRT_ERR_MAX	512
/* libvirt's "no cap" for the migration speed: INT64_MAX bytes/s, in MiB/s */
#define LM_LIBVIRT_SPEED_UNLIMITED_MIB	(INT64_MAX / (1024 * 1024))

struct lm_libvirt;	/* a connection */
struct lm_libvirt_dom;	/* one of its domains */

/* Connect to uri (NULL: LM_LIBVIRT_DEFAULT_URI). On failure *lp is NULL and err says why. */
int lm_libvirt_open(struct lm_libvirt **lp, const char *uri, char *err, size_t len);
void lm_libvirt_close(struct lm_libvirt *l);
/* The last error's message ("" if none): what failed and what to do. */
const char *lm_libvirt_error(const struct lm_libvirt *l);

/* A domain by its name, by its UUID (any case), or by its QEMU's pid (running domains only). */
int lm_libvirt_find_by_name(struct lm_libvirt *l, const char *name, struct lm_libvirt_dom **dp);
int lm_libvirt_find_by_uuid(struct lm_libvirt *l, const char *uuid, struct lm_libvirt_dom **dp);
int lm_libvirt_find_by_pid(struct lm_libvirt *l, pid_t pid, struct lm_libvirt_dom **dp);
void lm_libvirt_dom_free(struct lm_libvirt_dom *d);
const char *lm_libvirt_dom_name(const struct lm_libvirt_dom *d);	/* sanitised */
const char *lm_libvirt_dom_uuid(const struct lm_libvirt_dom *d);	/* 36 characters */
/*
 * The pid of the domain's QEMU on this host (the identity --act needs: the
 * domain's QEMU must be the traced pid), or -errno: -ESRCH when it does not
 * run, -EOPNOTSUPP for a libvirt on another host.
 */
int lm_libvirt_dom_pid(struct lm_libvirt_dom *d);

/* The migration job (virDomainGetJobStats); a number libvirt did not give is -1. */
enum lm_libvirt_job_type {
	LM_LV_JOB_NONE = 0, LM_LV_JOB_BOUNDED = 1, LM_LV_JOB_UNBOUNDED = 2,
	LM_LV_JOB_COMPLETED = 3, LM_LV_JOB_FAILED = 4, LM_LV_JOB_CANCELLED = 5,
};
struct lm_libvirt_job {
	int type;			/* enum lm_libvirt_job_type */
	int operation;			/* libvirt's VIR_DOMAIN_JOB_OPERATION_*, -1 if none */
	int outgoing_migration;		/* 1: the job is this domain migrating out */
	int state, reason;		/* virDomainGetState's (running, paused; postcopy, ...) */
	int64_t time_elapsed_ms;
	int64_t data_total, data_processed, data_remaining;		/* bytes */
	int64_t memory_total, memory_processed, memory_remaining;	/* bytes */
	int64_t memory_dirty_rate;	/* pages/s */
	int64_t memory_iteration;	/* sync rounds so far */
	int64_t memory_page_size;	/* bytes */
	int64_t memory_bps;		/* bytes/s */
	int64_t auto_converge_throttle;	/* % */
	int64_t expected_downtime_ms;
};
const char *lm_libvirt_job_type_name(int type);	/* "none", "bounded", "unbounded", ... */
const char *lm_libvirt_job_operation_name(int operation);	/* "migration-out", ... */

/*
 * What lmtrace's QMP path reads: downtime limit (ms), bandwidth cap (bytes/s,
 * 0 = none), RAM, throttle, the migration's status (enum lm_qemu_status), and
 * the job's statistics in *job (if job). The domain must be running.
 */
int lm_libvirt_read(struct lm_libvirt_dom *d, struct lm_obs_params *p, struct lm_libvirt_job *job);

/* Actions, with libvirt's own calls. */
int lm_libvirt_set_max_downtime(struct lm_libvirt_dom *d, uint64_t ms);
/* libvirt takes MiB/s: bytes_per_s is rounded down to it (at least 1 MiB/s); *set gets what was set. */
int lm_libvirt_set_max_speed(struct lm_libvirt_dom *d, uint64_t bytes_per_s, uint64_t *set);
int lm_libvirt_start_postcopy(struct lm_libvirt_dom *d);
int lm_libvirt_abort_job(struct lm_libvirt_dom *d);

#endif /* LM_TRACE_LIBVIRT_H */

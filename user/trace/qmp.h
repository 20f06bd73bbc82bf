/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small QMP (QEMU Machine Protocol) client over a UNIX socket.
 *
 * One handle per connection, used from one thread. No printing, no exit, no
 * global state; functions return 0 or a negative errno (libbpf 1.0 style):
 *   -ETIMEDOUT   QEMU did not answer in time (every read is bounded). On open
 *                this usually means another client holds the socket: QEMU
 *                serves one client per QMP socket at a time.
 *   -ECONNRESET  QEMU closed the connection (it exited or dropped us)
 *   -EPROTO      the peer sent something that is not QMP
 *   -EREMOTEIO   QEMU answered with an error: see lm_qmp_error_desc()
 *   -EMSGSIZE    a message longer than LM_QMP_MAX_MSG
 * Asynchronous events that arrive while waiting for a reply are kept (the
 * last LM_QMP_EVENTS_KEPT, for the tests: tests/lab/lab_qmp.h reads them)
 * and never mistaken for replies. Every command
 * carries an id and a reply with another id (e.g. the late answer to a
 * command that timed out) is skipped.
 *
 * JSON is jansson's json_t: the generic calls take and return it; the typed
 * helpers below fill plain structs so callers need not touch JSON.
 */
#ifndef LM_QMP_H
#define LM_QMP_H

#include <stddef.h>
#include <stdint.h>
#include "trace/json.h"

#define LM_QMP_TIMEOUT_MS	2000		/* default bound on each command */
#define LM_QMP_EVENTS_KEPT	16
#define LM_QMP_MAX_MSG		(1u << 20)	/* query-migrate is ~1 KiB; guard, not a limit */

struct lm_qmp;

/* Connect to QEMU's QMP socket, read the greeting, negotiate capabilities. */
int lm_qmp_open(struct lm_qmp **qp, const char *socket_path, int timeout_ms);
/* Same over an already connected stream socket; takes ownership of fd. */
int lm_qmp_open_fd(struct lm_qmp **qp, int fd, int timeout_ms);
void lm_qmp_close(struct lm_qmp *q);
void lm_qmp_set_timeout(struct lm_qmp *q, int timeout_ms);
/*
 * The pid of the process serving the socket (SO_PEERCRED: the process that
 * called listen(), QEMU itself for its -qmp unix:PATH,server), or -errno.
 */
int lm_qmp_peer_pid(const struct lm_qmp *q);

/*
 * Run one command. args (a JSON object or NULL) is borrowed. On success and if
 * ret is not NULL, *ret is a new reference to the "return" value (json_decref
 * it). On -EREMOTEIO the error class and description are kept until the next
 * command.
 */
int lm_qmp_execute(struct lm_qmp *q, const char *command, json_t *args, json_t **ret);
const char *lm_qmp_error_desc(const struct lm_qmp *q);	/* "" if none */

/* ---- typed helpers: the queries lmtrace makes (the lab adds its commands in tests/lab) ---- */

/* query-migrate. Absent numbers read 0; status is "none" before any migration. */
struct lm_qmp_migrate_info {
	char status[24];		/* none, setup, active, completed, failed, cancelling, cancelled, ... */
	int has_ram;			/* the "ram" object was present */
	int64_t expected_downtime_ms;	/* -1 if absent */
	int64_t downtime_ms;		/* actual, once completed; -1 if absent */
	int64_t total_time_ms;		/* -1 if absent */
	int64_t setup_time_ms;		/* -1 if absent */
	uint32_t cpu_throttle_pct;	/* auto-converge throttle, 0 if none */
	struct {
		uint64_t transferred, remaining, total;
		uint64_t duplicate;		/* zero pages */
		uint64_t normal, normal_bytes;
		uint64_t dirty_pages_rate;	/* pages/s, recomputed at most once a second at syncs */
		uint64_t dirty_sync_count;
		uint64_t page_size;
		uint64_t pages_per_second;
		uint64_t precopy_bytes, downtime_bytes;
		double mbps;			/* megabits per second */
	} ram;
};
int lm_qmp_parse_migrate_info(const json_t *ret, struct lm_qmp_migrate_info *out);
int lm_qmp_query_migrate(struct lm_qmp *q, struct lm_qmp_migrate_info *out);

/* query-migrate-parameters (the ones convergence depends on). -1 if absent. */
struct lm_qmp_migrate_params {
	int64_t downtime_limit_ms;
	int64_t max_bandwidth;		/* bytes/s */
	int64_t cpu_throttle_initial;	/* percent */
	int64_t cpu_throttle_increment;
	int64_t max_cpu_throttle;
	int64_t throttle_trigger_threshold;
	int cpu_throttle_tailslow;	/* 0/1, -1 if absent */
};
int lm_qmp_parse_migrate_params(const json_t *ret, struct lm_qmp_migrate_params *out);
int lm_qmp_query_migrate_params(struct lm_qmp *q, struct lm_qmp_migrate_params *out);
/* query-memory-size-summary: base + plugged memory in bytes. */
int lm_qmp_query_ram_size(struct lm_qmp *q, uint64_t *bytes);

#endif /* LM_QMP_H */

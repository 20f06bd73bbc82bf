/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * QMP commands only the lab issues, and what only the tests read of the
 * client (events, QEMU's version, the error class); same conventions as
 * trace/qmp.h.
 */
#ifndef LAB_QMP_H
#define LAB_QMP_H

#include <stddef.h>
#include <stdint.h>
#include "trace/qmp.h"

/* QEMU's version from the greeting, e.g. 7, 2, 22. */
void lm_qmp_version(const struct lm_qmp *q, int *major, int *minor, int *micro);
/* The class of the last command's error (-EREMOTEIO), "" if none. */
const char *lm_qmp_error_class(const struct lm_qmp *q);
/*
 * Events: numbered from 1 in arrival order. lm_qmp_event() returns a borrowed
 * reference to event number seq, or NULL if it is not kept (too old or not
 * arrived). lm_qmp_read_events() waits up to timeout_ms for at least one more
 * event and reads every message already pending; it returns the number of
 * events read (0 on timeout) or -errno.
 */
uint64_t lm_qmp_events_seen(const struct lm_qmp *q);
const json_t *lm_qmp_event(const struct lm_qmp *q, uint64_t seq);
int lm_qmp_read_events(struct lm_qmp *q, int timeout_ms);

/* migrate-set-parameters with one integer parameter, e.g. "max-bandwidth". */
int lm_qmp_set_migrate_param(struct lm_qmp *q, const char *name, int64_t value);
/* migrate-set-parameters with any object of parameters (borrowed). */
int lm_qmp_set_migrate_params(struct lm_qmp *q, json_t *params);
/* migrate-set-capabilities for one capability, e.g. "auto-converge". */
int lm_qmp_set_migrate_capability(struct lm_qmp *q, const char *capability, int on);
int lm_qmp_migrate(struct lm_qmp *q, const char *uri);
int lm_qmp_migrate_cancel(struct lm_qmp *q);
/* On a destination started with -incoming defer: listen on uri now. */
int lm_qmp_migrate_incoming(struct lm_qmp *q, const char *uri);
/* Switch a running migration (postcopy-ram on both sides) to postcopy. */
int lm_qmp_migrate_start_postcopy(struct lm_qmp *q);
/* query-migrate: the typed fields, and QEMU's reply itself if raw is not NULL. */
int lm_qmp_query_migrate_raw(struct lm_qmp *q, struct lm_qmp_migrate_info *out, json_t **raw);
/* calc-dirty-rate over calc_time_s seconds; mode NULL = QEMU's default (page-sampling). */
int lm_qmp_calc_dirty_rate(struct lm_qmp *q, int64_t calc_time_s, const char *mode);
/* query-dirty-rate: *ret is QEMU's reply (json_decref it); status "measured" when done. */
int lm_qmp_query_dirty_rate(struct lm_qmp *q, json_t **ret);
/* query-status: e.g. "running", "paused", "postmigrate", "inmigrate". */
int lm_qmp_query_status(struct lm_qmp *q, char *status, size_t len, int *running);

#endif /* LAB_QMP_H */

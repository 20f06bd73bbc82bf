/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The QMP client's state and its reading primitives, shared by the client
 * (qmp.c) and the readers only the tests use (tests/lab/lab_qmp.c: the
 * events kept, the greeting's version, the error class).
 */
#ifndef LM_QMP_INT_H
#define LM_QMP_INT_H

#include "trace/qmp.h"

struct lm_qmp {
	int fd;
	int timeout_ms;
	int version[3];			/* QEMU's, from the greeting */
	uint64_t next_id;
	char *buf;			/* bytes read but not yet parsed */
	size_t len, cap;
	json_t *events[LM_QMP_EVENTS_KEPT];	/* ring, indexed by seq % KEPT */
	uint64_t events_seen;
	char err_class[64];
	char err_desc[256];
};

/* CLOCK_MONOTONIC in ms: the deadlines below are on it. */
int64_t lm_qmp_now_ms(void);
/* Read one JSON message (one line) into *msg, waiting until deadline. */
int lm_qmp_read_message(struct lm_qmp *q, int64_t deadline, json_t **msg);
/* Keep event ev (takes the reference) as number events_seen + 1. */
void lm_qmp_keep_event(struct lm_qmp *q, json_t *ev);

#endif /* LM_QMP_INT_H */

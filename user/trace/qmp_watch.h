/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * --qmp: the migration parameters that decide convergence (downtime limit,
 * bandwidth cap, RAM size, auto-converge throttle) and QEMU's migration
 * status, read by a thread of their own each interval, so that QEMU's
 * monitor stalling (it does, under its big lock, while large guests set up
 * and during stop-and-copy) never holds up the sampling loop. A reply that
 * times out keeps the connection (late replies are told apart by id); a
 * lost connection is opened again with backoff.
 */
#ifndef LM_QMP_WATCH_H
#define LM_QMP_WATCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "core/obs.h"
#include "trace/qmp_act.h"

#define LM_QMP_JOBS	8	/* --act decisions queued for the thread (one, and a release) */
/* What a QMP failure or an action says: room for a release's command to run by hand. */
#define LM_QMP_WHY_MAX	512

struct lm_qmp;

struct lm_qmp_watch {
	char path[108];			/* sun_path's size */
	uint32_t pid;
	uint64_t interval_ms;
	pthread_t thread;
	pthread_mutex_t lock;		/* guards what follows */
	pthread_cond_t wake;
	int stop;
	int stopped;			/* the thread was joined (the main loop's) */
	struct lm_obs_params latest;	/* from the last good poll */
	int have_latest;
	uint64_t polls_ok;		/* for the main loop to tell news */
	int state;			/* LM_QMP_UP, LM_QMP_SLOW, LM_QMP_DOWN */
	char why[LM_QMP_WHY_MAX];	/* what went wrong last */
	/* --act --apply: decisions to carry out, oldest first, and their outcomes */
	struct lm_act_decision jobs[LM_QMP_JOBS];
	int njobs, running;
	struct lm_obs_action done[LM_QMP_JOBS];
	char done_why[LM_QMP_JOBS][LM_QMP_WHY_MAX];
	int ndone;
	struct lm_qmp_act_saved saved;	/* the thread's: what to give back */
	int peer_pid;			/* the process serving the socket, at open; <0 unknown */
	/* the main loop's side */
	struct lm_obs_params told;
	int have_told, told_state;
};

enum { LM_QMP_UP = 0, LM_QMP_SLOW = 1, LM_QMP_DOWN = 2 };

/*
 * Connects once (so a wrong socket is a clear error at start), then starts
 * the thread. 0, or -errno with a user-facing message in err.
 */
int lm_qmp_watch_open(struct lm_qmp_watch *w, const char *path, uint32_t pid,
		      uint64_t interval_ms, char *err, size_t errlen);
/*
 * Never blocks on QEMU. 1 and *out filled when the parameters changed since
 * the last call, else 0; *msg (if not NULL) gets a line to tell the user
 * when QMP went slow, was lost or came back ("" otherwise).
 */
int lm_qmp_watch_poll(struct lm_qmp_watch *w, uint64_t ts_ns, struct lm_obs *out,
		      char *msg, size_t msglen);
/*
 * Stops the thread once it has run every queued job (a release queued as
 * lmtrace stops): however long QEMU takes to answer them, their outcomes
 * are there for lm_qmp_watch_outcome() after it. Close stops, then frees.
 */
void lm_qmp_watch_stop(struct lm_qmp_watch *w);
void lm_qmp_watch_close(struct lm_qmp_watch *w);

/* Queue an action for the thread (it runs at once); -ENOSPC if the queue is full, -ESHUTDOWN once stopped. */
int lm_qmp_watch_submit(struct lm_qmp_watch *w, const struct lm_act_decision *d);
/* 1 and the oldest finished action's outcome (why: "" or what failed), else 0. */
int lm_qmp_watch_outcome(struct lm_qmp_watch *w, struct lm_obs_action *out, char *why, size_t len);
/* 1 when every queued action has run. */
int lm_qmp_watch_idle(struct lm_qmp_watch *w);

#endif /* LM_QMP_WATCH_H */

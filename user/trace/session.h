/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A live tracing session: checks the pids, opens QMP and the BPF tracer,
 * follows VMMs as they come and go, and runs the sampling loop that feeds
 * the pipeline until the VMMs exit, the duration ends or *stop is set.
 * Errors are printed on stderr (what failed, what to do).
 */
#ifndef LM_SESSION_H
#define LM_SESSION_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include "core/pipeline.h"

struct lm_session_opts {
	const pid_t *pids;	/* VMMs to trace; none: every process with /dev/kvm open */
	int npids;
	double interval_s;	/* between samples */
	double duration_s;	/* 0 = until the VMMs exit or *stop */
	uint16_t port;		/* 0 = every TCP socket of the VMM */
	const char *qmp_path;	/* QEMU's QMP socket of pids[0], or NULL */
	char *const *vms;	/* without pids: only VMMs one of these globs names (-name, UUID) */
	int nvms;
	int verbose;		/* libbpf's messages */
	int no_fentry, no_kprobe;
	int no_send_tp;		/* bytes through sendmsg() even where sock_send_length exists */
	int hooks_always;	/* dirty-log hooks attached all the time, not only while needed */
	const struct lm_obs_act_config *act;	/* --act on pids[0] over qmp_path, or NULL */
	const struct lm_obs *check;	/* an `lmtrace check` of pids[0] (--head-start), or NULL */
};

/* 0, or -errno after printing why. */
int lm_session_run(const struct lm_session_opts *opts, struct lm_pipeline *pipe,
		   volatile sig_atomic_t *stop);

#endif /* LM_SESSION_H */

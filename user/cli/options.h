/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The options of `lmtrace [trace]` and `lmtrace replay` (argp). */
#ifndef LM_OPTIONS_H
#define LM_OPTIONS_H

#include <stdint.h>
#include <sys/types.h>
#include "lmtrace.h"

struct lm_options {
	int mode;			/* enum lm_options_mode */
	pid_t pids[LM_MAX_VMS];
	char *vms[LM_MAX_VMS];		/* --vm: globs naming the VMs to follow */
	int nvms;
	int npids;			/* 0: every process with /dev/kvm open */
	double interval_s;		/* -i */
	double duration_s;		/* -d, 0 = until the VMMs exit or Ctrl-C */
	int json;			/* -j */
	int csv;			/* --csv */
	int rows;			/* --rows: plain rows even on a terminal */
	int verbose;			/* -v */
	uint16_t port;			/* --port, 0 = every TCP socket of the VMM */
	const char *qmp_path;		/* --qmp */
	double downtime_limit_ms;	/* --downtime-limit, <0 = default/QMP */
	double bandwidth_Bps;		/* --bandwidth, <0 = default/QMP */
	double switchover_Bps;		/* --switchover-bandwidth, <0 = unknown */
	const char *record_path;	/* -w */
	const char *replay_path;	/* -r */
	const char *prom_path;		/* --prom-file */
	const char *listen;		/* --listen */
	int no_fentry, no_kprobe;	/* --no-fentry/--no-kprobe: force fallbacks (testing) */
	int no_send_tp;			/* --no-send-tracepoint: count bytes via sendmsg() (testing) */
	int hooks_always;		/* --hooks always: dirty-log hooks attached all the time */
	const char *check_path;		/* --head-start FILE: an `lmtrace check -j` output */
	uint32_t check_max_age_s;	/* its ,MAX_AGE_S */
	uint32_t act_policies;		/* --act: LM_ACT_P_*, 0 = lmtrace never acts */
	int act_apply;			/* --apply: carry actions out (else a dry run) */
	double max_throttle_pct;	/* --max-throttle (default 80) */
	double max_downtime_ms;		/* --max-downtime, <0 = none */
	double give_up_after_s;		/* --give-up-after, <0 = none */
};

/* --max-throttle's default: QEMU's auto-converge goes to 99 %; at 80 % a guest still runs a fifth of the time. */
#define ACT_MAX_THROTTLE_DEFAULT 80

enum lm_options_mode {
	LM_OPTS_TRACE,		/* lmtrace [trace] [OPTIONS] (-r FILE replays too) */
	LM_OPTS_REPLAY,		/* lmtrace replay FILE [OPTIONS]: FILE is the argument */
};

struct argp_state;
/* A finite number in [min, max], else a usage error that states range (every subcommand's). */
double lm_parse_number(struct argp_state *state, const char *what, const char *arg,
		       double min, double max, const char *range);
/* Bytes per second: 32M, 1.5G, 100k (powers of 1024) or plain, 1 byte/s to 1048576G. */
double lm_parse_bytes(struct argp_state *state, const char *what, const char *arg);

/* Parses argv; on a usage error prints it and exits 2 (argp). */
void lm_options_parse(struct lm_options *o, enum lm_options_mode mode, int argc, char **argv);

#endif /* LM_OPTIONS_H */

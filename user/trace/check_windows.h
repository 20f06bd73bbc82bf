/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The measurements of `lmtrace check`: for each VM, QEMU is asked over QMP
 * for short dirty-logging windows (calc-dirty-rate, dirty-bitmap mode) while
 * lmtrace's own tracer, hooks attached throughout, counts the unique pages
 * of each window exactly; plus what the model needs from QEMU (RAM size,
 * max-bandwidth, downtime limit) and from /proc (touched RAM). Refuses a VM
 * that migrates, or measures already, and stops a VM's windows as soon as
 * a migration starts. Errors are one sentence in err.
 */
#ifndef LM_CHECK_WINDOWS_H
#define LM_CHECK_WINDOWS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "core/check_model.h"

/* QEMU's calc-dirty-rate takes 1 to 60 s (calc-time, in seconds, as QEMU 7.2 has it). */
#define LM_CHECK_WINDOW_MIN_S	1
#define LM_CHECK_WINDOW_MAX_S	60

struct lm_check_vm {
	pid_t pid;
	const char *qmp_path;
};

struct lm_check_opts {
	double max_windows_s;	/* sum of one VM's windows, at most (--max-probe) */
	int verbose;		/* libbpf's messages */
	volatile sig_atomic_t *stop;
};

struct lm_check_window {
	double window_s;	/* first sync to the second, as lmtrace saw them */
	uint64_t dirty_pages;	/* unique pages, lmtrace's count */
	double qemu_dirty_rate_MBps;	/* QEMU's own answer (MB/s, integer), <0 none */
	uint32_t calc_time_s;	/* what QEMU was asked for */
};

struct lm_check_result {
	pid_t pid;
	char name[64];
	uint64_t ram_bytes;
	uint64_t resident_bytes;	/* 0 unknown */
	uint64_t page_size;
	double max_bandwidth_Bps;	/* QEMU's max-bandwidth, <0 unknown */
	double downtime_limit_ms;	/* QEMU's downtime-limit, <0 unknown */
	struct lm_check_window win[LM_CHECK_MAX_WINDOWS];
	int nwin;
	double elapsed_s;		/* wall time the VM's measurement took */
	char error[256];		/* this VM could not be measured: why ("" if it was) */
	char warning[256];		/* the tracer warned while measuring it (lost events: counts may be low), "" none */
};

/*
 * Measures every VM in turn; each result says its VM's error, if any.
 * Returns 0, or -errno when nothing could be measured (the tracer did not
 * start: err says why).
 */
int lm_check_run(const struct lm_check_vm *vms, int n, const struct lm_check_opts *o,
		 struct lm_check_result *out, char *err, size_t errlen);

#endif /* LM_CHECK_WINDOWS_H */

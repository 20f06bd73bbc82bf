/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Reading VMs' dirty-logging state from KVM with no hook attached (the
 * discovery iterator), and attaching the dirty-log hooks only while a traced
 * VM needs them.
 */
#ifndef LM_VM_SCAN_H
#define LM_VM_SCAN_H

#include <stdint.h>
#include <sys/types.h>
#include "core/pipeline.h"
#include "trace/tracer.h"

/*
 * How often the traced VMs' logging state is read. A migration's initial
 * sync comes 1-5 ms after QEMU switches logging on, mostly before the hooks
 * can attach: its time is then known to half this period. Reading one VMM's
 * files costs lmtrace a few microseconds (bench: make bench).
 */
#define LM_SCAN_PERIOD_NS	(100ull * 1000 * 1000)
/* Up to this many traced VMMs are read one by one, more in one walk of every process. */
#define LM_SCAN_PER_PID_MAX	8

struct lm_vm_scan {
	struct lm_tracer *tracer;
	struct lm_pipeline *pipe;
	uint64_t last_ns;	/* the previous reading */
	int failed;		/* reading failed: said once */
	int always;		/* --hooks always: attached from the start, never detached */
};

/* Reads every tracked VM's state into the pipeline, then attaches or detaches the hooks. */
void lm_vm_scan_run(struct lm_vm_scan *s, uint64_t now_ns);
/* Every process with a KVM VM open (no hook: the iterator), at most max; count or -errno. */
int lm_vm_scan_find_vmms(struct lm_tracer *t, pid_t *pids, int max);

#endif /* LM_VM_SCAN_H */

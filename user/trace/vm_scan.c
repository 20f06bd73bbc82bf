// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The VMs' dirty-logging state, read without hooks, and the hooks that follow it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trace/vm_scan.h"

/* A VMM has one VM file; a few more are tolerated (the largest VM counts). */
#define FILES_PER_VMM	8

/* The VM of pid among files: its largest, or NULL. */
static const struct lm_vm_file *vm_of(const struct lm_vm_file *files, int n, uint32_t pid)
{
	const struct lm_vm_file *best = NULL;
	int i;

	for (i = 0; i < n; i++)
		if (files[i].tgid == pid && (!best || files[i].ram_pages > best->ram_pages))
			best = &files[i];
	return best;
}

static void feed(struct lm_vm_scan *s, uint32_t pid, const struct lm_vm_file *f, uint64_t now)
{
	uint64_t since = lm_tracer_hooks_since(s->tracer), logon;
	struct lm_event e = { .kind = LM_EV_LOG_STATE, .pid = pid, .ts_ns = now };

	if (f) {
		e.log.vm_pages = f->vm_pages;
		e.log.ram_pages = f->ram_pages;
		e.log.logged_pages = f->logged_pages;
	}
	e.log.prev_ns = s->last_ns;
	/* attached for the whole interval: they saw what happened in it */
	e.log.hooks = since && s->last_ns && since <= s->last_ns;
	lm_pipeline_event(s->pipe, &e);
	/*
	 * Logging came on with no hook to see it: BPF learns when, at the
	 * earliest, so the migration's sockets count from their first byte.
	 */
	logon = lm_pipeline_unseen_logon_ns(s->pipe, pid);
	if (logon)
		lm_tracer_note_log_on(s->tracer, pid, logon);
}

/* Reads the tracked VMs one by one (cheap) or all in one walk; 0 or -errno. */
static int read_states(struct lm_vm_scan *s, uint64_t now)
{
	struct lm_vm_file files[FILES_PER_VMM];
	struct lm_vm_file *all = NULL;
	int i, n = 0, ntracked = 0;
	int64_t cookie;
	uint32_t pid;

	while (lm_pipeline_tracked(s->pipe, ntracked, &pid, &cookie))
		ntracked++;
	if (ntracked > LM_SCAN_PER_PID_MAX) {
		all = calloc(LM_MAX_VMS * FILES_PER_VMM, sizeof(*all));
		if (!all)
			return -ENOMEM;
		n = lm_tracer_vm_files(s->tracer, 0, all, LM_MAX_VMS * FILES_PER_VMM);
		if (n < 0) {
			free(all);
			return n;
		}
	}
	for (i = 0; lm_pipeline_tracked(s->pipe, i, &pid, &cookie); i++) {
		if (all) {
			feed(s, pid, vm_of(all, n, pid), now);
			continue;
		}
		n = lm_tracer_vm_files(s->tracer, pid, files, FILES_PER_VMM);
		if (n < 0)
			return n;
		feed(s, pid, vm_of(files, n, pid), now);
	}
	free(all);
	return 0;
}

static void update_hooks(struct lm_vm_scan *s, uint64_t now)
{
	int want = s->always || lm_pipeline_wants_hooks(s->pipe);
	int have = lm_tracer_hooks_since(s->tracer) != 0, ret;

	if (want == have)
		return;
	if (s->always) {
		ret = lm_tracer_set_hooks(s->tracer, 1, now);
		if (ret)
			lm_pipeline_message(s->pipe, 1, "cannot attach the dirty-log hooks: %s",
					    strerror(-ret));
		return;
	}
	ret = lm_tracer_set_hooks(s->tracer, want, now);
	if (ret)
		lm_pipeline_message(s->pipe, 1, "cannot attach the dirty-log hooks: %s; "
				    "sync rounds are not seen", strerror(-ret));
	else if (want)
		fprintf(stderr, "lmtrace: dirty logging on: dirty-log hooks attached\n");
	else
		fprintf(stderr, "lmtrace: no traced VM has dirty logging on: dirty-log hooks detached\n");
}

void lm_vm_scan_run(struct lm_vm_scan *s, uint64_t now)
{
	int ret = read_states(s, now);

	if (ret && !s->failed)
		lm_pipeline_message(s->pipe, 1, "cannot read the VMs' dirty-logging state: %s; "
				    "the dirty-log hooks stay attached", strerror(-ret));
	s->failed = ret != 0;
	s->last_ns = now;
	if (ret) {
		/* blind: keep the hooks on, at the host's cost, rather than miss a migration */
		if (!lm_tracer_hooks_since(s->tracer))
			lm_tracer_set_hooks(s->tracer, 1, now);
		return;
	}
	update_hooks(s, now);
}

int lm_vm_scan_find_vmms(struct lm_tracer *t, pid_t *pids, int max)
{
	struct lm_vm_file *files = calloc(LM_MAX_VMS * FILES_PER_VMM, sizeof(*files));
	int i, j, n, found = 0;

	if (!files)
		return -ENOMEM;
	n = lm_tracer_vm_files(t, 0, files, LM_MAX_VMS * FILES_PER_VMM);
	for (i = 0; i < n && found < max; i++) {
		for (j = 0; j < found && pids[j] != (pid_t)files[i].tgid; j++)
			;
		if (j == found)
			pids[found++] = (pid_t)files[i].tgid;
	}
	free(files);
	return n < 0 ? n : found;
}

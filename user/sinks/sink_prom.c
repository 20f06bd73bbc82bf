// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --prom-file PATH: the node_exporter textfile collector reads PATH (name it
 * *.prom in its directory). Written to a new PATH.tmp.XXXXXX then renamed
 * over PATH (io/safe_file.c), so the collector never sees a half-written
 * file and a link planted at a predictable name is never followed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sinks/outputs.h"
#include "sinks/prom_metrics.h"
#include "io/safe_file.h"

struct prom_file_sink {
	struct lm_sink sink;
	struct lm_prom_state st;
	char path[4096];
	int last_err;		/* reported once until it changes */
};

static int write_atomically(struct prom_file_sink *ps, unsigned flags, char *err, size_t errlen)
{
	size_t len;
	char *text;
	int ret;

	text = lm_prom_render(&ps->st, &len);
	if (!text) {
		snprintf(err, errlen, "cannot write metrics file %s: out of memory", ps->path);
		return -ENOMEM;
	}
	ret = lm_safe_file_replace(ps->path, "metrics file", text, len, flags, err, errlen);
	free(text);
	return ret;
}

static void rewrite(struct prom_file_sink *ps)
{
	char err[512];
	int ret = write_atomically(ps, 0, err, sizeof(err));

	if (ret && ret != ps->last_err)
		fprintf(stderr, "lmtrace: %s\n", err);
	ps->last_err = ret;
}

/* Every observation and summary: the VM's snapshot follows its view. */
static void prom_on_update(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct prom_file_sink *ps = s->ctx;

	lm_prom_update(&ps->st, v->state, v->view);
}

/* Once per sample, and at once when something a reader alerts on moves. */
static void prom_on_refresh(struct lm_sink *s, const struct lm_sink_vm *v)
{
	rewrite(s->ctx);
}

/* Its series go from the file at once: a gone VM must not keep alerting. */
static void prom_on_forget(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct prom_file_sink *ps = s->ctx;

	lm_prom_forget(&ps->st, v->state);
	rewrite(ps);
}

static int prom_close(struct lm_sink *s)
{
	struct prom_file_sink *ps = s->ctx;
	char err[512];
	int ret;

	/* The final state stays for the collector: make its name last too. */
	ret = write_atomically(ps, LM_SAFE_FILE_SYNC_DIR, err, sizeof(err));
	if (ret)
		fprintf(stderr, "lmtrace: %s\n", err);
	lm_prom_destroy(&ps->st);
	free(ps);
	return ret;
}

static const struct lm_sink prom_proto = {
	.name = "prom-file",
	.vm_state_size = sizeof(struct lm_prom_vm),
	.on_update = prom_on_update, .on_refresh = prom_on_refresh,
	.on_summary = prom_on_update, .on_forget = prom_on_forget, .close = prom_close,
};

int lm_sink_prom_file_new(const char *path, struct lm_sink **out, char *err, size_t errlen)
{
	struct prom_file_sink *ps;
	int ret;

	if (strlen(path) >= sizeof(ps->path)) {
		snprintf(err, errlen, "--prom-file: path too long");
		return -ENAMETOOLONG;
	}
	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		snprintf(err, errlen, "--prom-file: out of memory");
		return -ENOMEM;
	}
	lm_prom_init(&ps->st);
	snprintf(ps->path, sizeof(ps->path), "%s", path);
	/* what a killed lmtrace left beside the file */
	lm_safe_file_clean_temps(path);
	/* Fail now, not at the first sample, if the file cannot be written. */
	ret = write_atomically(ps, 0, err, errlen);
	if (ret) {
		lm_prom_destroy(&ps->st);
		free(ps);
		return ret;
	}
	ps->sink = prom_proto;
	ps->sink.ctx = ps;
	*out = &ps->sink;
	return 0;
}

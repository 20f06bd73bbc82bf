// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -w FILE: the recording sink. Stores every observation the pipeline
 * consumed, each VM's name when it first appears or changes, and every
 * message, and closes a block at least every LM_REC_FLUSH_S seconds of wall
 * time so a killed lmtrace loses at most that much.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sinks/outputs.h"
#include "record/record.h"

struct rec_sink {
	struct lm_sink sink;
	struct lm_rec_writer *w;
	char path[256];
	int failed;			/* write error already reported */
	struct timespec last_flush;
};

/* Per VM: the name the recording has for it. */
struct rec_vm {
	char name[sizeof(((struct lm_vm_view *)0)->name)];
};

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) + (now.tv_nsec - t->tv_nsec) / 1e9;
}

static void check(struct rec_sink *rs, int ret)
{
	if (!ret || rs->failed)
		return;
	rs->failed = 1;
	fprintf(stderr, "lmtrace: writing recording %s failed: %s; the recording stops here\n",
		rs->path, strerror(-ret));
}

/* Writes the VM's name if the recording does not have it yet. */
static int note_name(struct rec_sink *rs, const struct lm_sink_vm *v)
{
	struct rec_vm *rv = v->state;
	const struct lm_vm_view *vm = v->view;

	if (!strcmp(rv->name, vm->name))
		return 0;
	snprintf(rv->name, sizeof(rv->name), "%s", vm->name);
	return vm->name[0] ? lm_rec_write_name(rs->w, vm->pid, vm->name) : 0;
}

/* Every observation, as it came. */
static void rec_on_update(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct rec_sink *rs = s->ctx;

	if (rs->failed)
		return;
	check(rs, note_name(rs, v));
	check(rs, lm_rec_write_obs(rs->w, v->obs));
	if (since(&rs->last_flush) >= LM_REC_FLUSH_S) {
		check(rs, lm_rec_flush(rs->w));
		clock_gettime(CLOCK_MONOTONIC, &rs->last_flush);
	}
}

static void rec_on_message(struct lm_sink *s, int level, const char *msg)
{
	struct rec_sink *rs = s->ctx;

	if (!rs->failed)
		check(rs, lm_rec_write_message(rs->w, level, msg));
}

static int rec_close(struct lm_sink *s)
{
	struct rec_sink *rs = s->ctx;
	int ret;

	ret = lm_rec_writer_close(rs->w);
	check(rs, ret);
	free(rs);
	return ret;
}

static const struct lm_sink rec_proto = {
	.name = "record",
	.vm_state_size = sizeof(struct rec_vm),
	.on_update = rec_on_update, .on_message = rec_on_message, .close = rec_close,
};

int lm_sink_record_new(const char *path, const struct lm_est_config *cfg,
		       struct lm_sink **out, char *err, size_t errlen)
{
	struct rec_sink *rs;
	int ret;

	rs = calloc(1, sizeof(*rs));
	if (!rs) {
		snprintf(err, errlen, "recording %s: out of memory", path);
		return -ENOMEM;
	}
	ret = lm_rec_writer_open(path, cfg, &rs->w, err, errlen);
	if (ret) {
		free(rs);
		return ret;
	}
	snprintf(rs->path, sizeof(rs->path), "%s", path);
	clock_gettime(CLOCK_MONOTONIC, &rs->last_flush);
	rs->sink = rec_proto;
	rs->sink.ctx = rs;
	*out = &rs->sink;
	return 0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kvm_gt --compare: lmtrace's JSON lines against kvm_gt's ground truth.
 * Written in C with jansson because the CI machines do not promise python3
 * or jq. Every check prints one line; mismatches say what and by how much.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kvm_gt_compare.h"

#define GT_MAX_ROUNDS		4096
#define GT_TX_TOLERANCE		0.001	/* the bound: bytes within 0.1 % */
/*
 * Sampled rounds (--sampled): within 1 % + 2 pages. kvm_gt writes the same
 * pages on every run (a fixed seed), so lmtrace's estimate is the same every
 * run too: measured +1 on 10 pages, +1 on 1000, +21 on 5000 (128 GiB slot).
 */
#define GT_SAMPLED_REL		0.01
#define GT_SAMPLED_ABS		2.0

struct gt_round_rec {
	uint64_t round, dirty_pages, tx_bytes;
	bool sampled, complete;	/* complete: round, dirty_pages and tx_bytes are numbers */
	bool unseen;		/* lmtrace: an initial sync run before its hooks attached */
	double sync_ms;	/* time of the GET burst (lmtrace: inside the VMM) */
};

struct gt_truth {
	struct gt_round_rec rounds[GT_MAX_ROUNDS];
	unsigned nrounds;
	bool have_summary;
	uint64_t pid, dirty_pages, tx_bytes, ram_bytes;
};

struct gt_traced {
	struct gt_round_rec rounds[GT_MAX_ROUNDS];
	unsigned nrounds;
	unsigned nstart, nend, records;
	uint64_t start_ram_bytes;
	bool have_summary, end_before_start;
	uint64_t sum_rounds, sum_dirty_pages, sum_tx_bytes;
};

static int failures;

#define CHECK(ok, ...) do {					\
	if (ok) {						\
		printf("ok       ");				\
	} else {						\
		printf("MISMATCH ");				\
		failures++;					\
	}							\
	printf(__VA_ARGS__);					\
	putchar('\n');						\
} while (0)

/* Integer or real (a sampled estimate may be fractional), 0 if absent. */
static bool get_u64(json_t *obj, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v)) {
		*out = (uint64_t)json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		*out = (uint64_t)llround(json_real_value(v));
		return true;
	}
	*out = 0;
	return false;
}

/* Calls fn for every JSON object line of path; other lines are skipped. */
static int for_each_object(const char *path, void (*fn)(json_t *, void *), void *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "kvm_gt: cannot read %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (getline(&line, &cap, f) > 0) {
		json_error_t jerr;
		json_t *obj;

		if (line[0] != '{')
			continue;
		obj = json_loads(line, 0, &jerr);
		if (!json_is_object(obj)) {
			printf("MISMATCH %s: not a JSON object: %s", path, line);
			failures++;
		} else {
			fn(obj, ctx);
		}
		json_decref(obj);
	}
	free(line);
	fclose(f);
	return 0;
}

static void read_truth_line(json_t *obj, void *ctx)
{
	struct gt_truth *t = ctx;

	if (json_is_true(json_object_get(obj, "summary"))) {
		t->have_summary = true;
		get_u64(obj, "pid", &t->pid);
		get_u64(obj, "dirty_pages", &t->dirty_pages);
		get_u64(obj, "tx_bytes", &t->tx_bytes);
		get_u64(obj, "ram_bytes", &t->ram_bytes);
	} else if (json_object_get(obj, "round") && t->nrounds < GT_MAX_ROUNDS) {
		struct gt_round_rec *r = &t->rounds[t->nrounds++];

		get_u64(obj, "round", &r->round);
		get_u64(obj, "dirty_pages", &r->dirty_pages);
		get_u64(obj, "tx_bytes", &r->tx_bytes);
		r->sync_ms = json_number_value(json_object_get(obj, "sync_ms"));
	}
}

static void read_lmtrace_line(json_t *obj, void *ctx)
{
	struct gt_traced *l = ctx;
	const char *type = json_string_value(json_object_get(obj, "type"));
	if (!type)
		return;
	l->records++;
	if (!strcmp(type, "round") && l->nrounds < GT_MAX_ROUNDS) {
		struct gt_round_rec *r = &l->rounds[l->nrounds++];

		/* Absent or null would read as 0 and match an empty round. */
		r->complete = get_u64(obj, "round", &r->round);
		r->complete &= get_u64(obj, "dirty_pages", &r->dirty_pages);
		r->complete &= get_u64(obj, "tx_bytes", &r->tx_bytes);
		r->sampled = json_is_true(json_object_get(obj, "sampled"));
		r->unseen = json_is_true(json_object_get(obj, "unseen"));
		r->sync_ms = json_number_value(json_object_get(obj, "sync_ms"));
	} else if (!strcmp(type, "migration")) {
		const char *ev = json_string_value(json_object_get(obj, "event"));

		if (ev && !strcmp(ev, "start")) {
			if (!l->nstart++)
				get_u64(obj, "ram_bytes", &l->start_ram_bytes);
		} else if (ev && !strcmp(ev, "end")) {
			if (!l->nstart)
				l->end_before_start = true;
			l->nend++;
		}
	} else if (!strcmp(type, "summary")) {
		l->have_summary = true;
		get_u64(obj, "rounds", &l->sum_rounds);
		get_u64(obj, "dirty_pages", &l->sum_dirty_pages);
		get_u64(obj, "tx_bytes", &l->sum_tx_bytes);
	}
}

/* Counts records of another process (lmtrace -p must report only the VMM). */
struct pid_check {
	uint64_t pid;
	unsigned bad;
};

static void check_pid_line(json_t *obj, void *ctx)
{
	struct pid_check *pc = ctx;
	uint64_t pid;

	if (json_object_get(obj, "type") && (!get_u64(obj, "pid", &pid) || pid != pc->pid))
		pc->bad++;
}

/*
 * Bytes of a round: counters snapshotted in BPF at the harvest, exact. An
 * initial sync run before the hooks attached (--hooks on-demand) has no
 * snapshot: its bytes are counted in the next round, which then lies
 * between its own bytes and both rounds' bytes.
 */
static void compare_round_bytes(unsigned i, const struct gt_round_rec *tr,
				const struct gt_round_rec *lr, uint64_t *carry)
{
	if (lr->unseen) {
		CHECK(i == 0, "round %u: only round 1 can be an unseen initial sync", i + 1);
		printf("info     round %u: unseen initial sync: its %" PRIu64 " bytes go to the next "
		       "round\n", i + 1, tr->tx_bytes);
		*carry = tr->tx_bytes;
		return;
	}
	if (*carry) {
		CHECK(lr->tx_bytes >= tr->tx_bytes && lr->tx_bytes <= tr->tx_bytes + *carry,
		      "round %u: tx_bytes lmtrace %" PRIu64 ", truth %" PRIu64 " to %" PRIu64
		      " (after an unseen initial sync)", i + 1, lr->tx_bytes, tr->tx_bytes,
		      tr->tx_bytes + *carry);
		*carry = 0;
		return;
	}
	CHECK(lr->tx_bytes == tr->tx_bytes,
	      "round %u: tx_bytes lmtrace %" PRIu64 ", truth %" PRIu64 " (since the previous sync)",
	      i + 1, lr->tx_bytes, tr->tx_bytes);
}

/*
 * --bytes-lag: up to each round, lmtrace's bytes are at most one round
 * behind the truth's; an unseen initial sync's round counts as part of
 * round 2 (nothing was counted before it).
 */
static void compare_bytes_lagging(const struct gt_truth *t, const struct gt_traced *l, unsigned n)
{
	uint64_t lm = 0, truth = 0, low = 0;

	for (unsigned i = 0; i < n; i++) {
		if (i >= 2)
			low = truth;
		truth += t->rounds[i].tx_bytes;
		lm += l->rounds[i].tx_bytes;
		CHECK(lm >= low && lm <= truth,
		      "rounds 1-%u: tx_bytes lmtrace %" PRIu64 ", truth %" PRIu64 " to %" PRIu64
		      " (at most one round late)", i + 1, lm, low, truth);
	}
}

static void compare_rounds(const struct gt_truth *t, const struct gt_traced *l,
			   const struct gt_compare_opts *opts)
{
	unsigned n = t->nrounds < l->nrounds ? t->nrounds : l->nrounds;
	uint64_t ram_pages = t->ram_bytes / 4096, carry = 0;	/* bytes of an unseen sync */

	CHECK(t->nrounds == l->nrounds, "rounds: lmtrace %u, truth %u", l->nrounds, t->nrounds);
	for (unsigned i = 0; i < n; i++) {
		const struct gt_round_rec *tr = &t->rounds[i], *lr = &l->rounds[i];

		CHECK(lr->round == i + 1, "round %u: lmtrace numbers it %" PRIu64, i + 1, lr->round);
		CHECK(lr->complete, "round %u: lmtrace gives round, dirty_pages and tx_bytes as numbers",
		      i + 1);
		if (i == 0) {
			CHECK(lr->dirty_pages == ram_pages,
			      "round 1: dirty_pages lmtrace %" PRIu64 ", truth %" PRIu64
			      " (all pages of all slots)", lr->dirty_pages, ram_pages);
		} else if (opts->sampled) {
			double diff = (double)lr->dirty_pages - (double)tr->dirty_pages;
			double tol = GT_SAMPLED_REL * (double)tr->dirty_pages + GT_SAMPLED_ABS;

			CHECK(fabs(diff) <= tol,
			      "round %u: dirty_pages lmtrace %" PRIu64 ", truth %" PRIu64
			      " (%+.0f, sampled estimate: tolerance 1 %% + 2 pages = %.0f)",
			      i + 1, lr->dirty_pages, tr->dirty_pages, diff, tol);
			CHECK(lr->sampled, "round %u: lmtrace marks it sampled", i + 1);
		} else {
			CHECK(lr->dirty_pages == tr->dirty_pages,
			      "round %u: dirty_pages lmtrace %" PRIu64 ", truth %" PRIu64
			      " (diff %+" PRId64 ")", i + 1, lr->dirty_pages, tr->dirty_pages,
			      (int64_t)(lr->dirty_pages - tr->dirty_pages));
		}
		if (!opts->bytes_lag)
			compare_round_bytes(i, tr, lr, &carry);
		printf("info     round %u: sync_ms lmtrace %.3f, kvm_gt %.3f (not asserted)\n",
		       i + 1, lr->sync_ms, tr->sync_ms);
	}
	if (opts->bytes_lag)
		compare_bytes_lagging(t, l, n);
	for (unsigned i = n; i < l->nrounds; i++) {
		failures++;
		printf("MISMATCH extra lmtrace round %" PRIu64 ": dirty_pages %" PRIu64 "\n",
		       l->rounds[i].round, l->rounds[i].dirty_pages);
	}
	for (unsigned i = n; i < t->nrounds; i++) {
		failures++;
		printf("MISMATCH round %" PRIu64 " missing in lmtrace (truth dirty_pages %" PRIu64 ")\n",
		       t->rounds[i].round, t->rounds[i].dirty_pages);
	}
}

static void compare_totals(const struct gt_truth *t, const struct gt_traced *l,
			   const struct gt_compare_opts *opts)
{
	double tx_err;

	CHECK(l->nstart == 1, "migration start events: %u (expected 1)", l->nstart);
	CHECK(l->start_ram_bytes == t->ram_bytes,
	      "migration start ram_bytes: lmtrace %" PRIu64 ", truth %" PRIu64,
	      l->start_ram_bytes, t->ram_bytes);
	CHECK(l->nend == 1 && !l->end_before_start,
	      "migration end events: %u (expected 1)%s", l->nend,
	      l->end_before_start ? " (one before the start)" : "");
	CHECK(l->have_summary, "summary record present");
	if (!l->have_summary)
		return;
	CHECK(l->sum_rounds == t->nrounds, "summary rounds: lmtrace %" PRIu64 ", truth %u",
	      l->sum_rounds, t->nrounds);
	if (opts->sampled)
		CHECK(fabs((double)l->sum_dirty_pages - (double)t->dirty_pages) <=
		      GT_SAMPLED_REL * (double)t->dirty_pages + GT_SAMPLED_ABS,
		      "summary dirty_pages: lmtrace %" PRIu64 ", truth %" PRIu64
		      " (sampled: tolerance 1 %% + 2 pages)", l->sum_dirty_pages, t->dirty_pages);
	else
		CHECK(l->sum_dirty_pages == t->dirty_pages,
		      "summary dirty_pages: lmtrace %" PRIu64 ", truth %" PRIu64,
		      l->sum_dirty_pages, t->dirty_pages);
	tx_err = t->tx_bytes ? fabs((double)l->sum_tx_bytes - (double)t->tx_bytes) /
			       (double)t->tx_bytes : 1.0;
	CHECK(tx_err <= GT_TX_TOLERANCE,
	      "summary tx_bytes: lmtrace %" PRIu64 ", receiver counted %" PRIu64
	      " (%+.4f %%, bound 0.1 %%)", l->sum_tx_bytes, t->tx_bytes,
	      t->tx_bytes ? 100.0 * ((double)l->sum_tx_bytes - (double)t->tx_bytes) /
			    (double)t->tx_bytes : 0.0);
}

int gt_compare(const struct gt_compare_opts *opts)
{
	struct gt_truth *t = calloc(1, sizeof(*t));
	struct gt_traced *l = calloc(1, sizeof(*l));
	struct pid_check pc = { 0 };
	int ret = 2;

	failures = 0;
	if (!t || !l)
		goto cleanup;
	if (for_each_object(opts->truth_path, read_truth_line, t) ||
	    for_each_object(opts->lmtrace_path, read_lmtrace_line, l))
		goto cleanup;
	if (!t->have_summary || !t->nrounds) {
		fprintf(stderr, "kvm_gt: %s holds no complete ground truth (did kvm_gt fail?)\n",
			opts->truth_path);
		goto cleanup;
	}
	CHECK(l->records > 0, "lmtrace wrote %u JSON records", l->records);
	pc.pid = t->pid;
	for_each_object(opts->lmtrace_path, check_pid_line, &pc);
	CHECK(pc.bad == 0, "records with a pid other than %" PRIu64 ": %u", t->pid, pc.bad);
	compare_rounds(t, l, opts);
	compare_totals(t, l, opts);
	printf("%s: %d mismatch%s\n", failures ? "FAIL" : "PASS", failures,
	       failures == 1 ? "" : "es");
	ret = failures ? 1 : 0;
cleanup:
	free(t);
	free(l);
	return ret;
}

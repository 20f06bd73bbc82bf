// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lmcheck: compare what lmtrace said about a lab migration with what QEMU
 * and the guest said (lmlab's records). Prints every comparison with its
 * numbers, then "lmcheck: N checks, N failed"; exit 0 only if none failed.
 *
 *   lmcheck --lab lab.jsonl --trace lmtrace.jsonl [--late ATTACH_TS] [--expect-verdict V]
 *
 * Per migration attempt (lmtrace's n-th "migration start" is the lab's n-th
 * `migrate`, except with --late where lmtrace attached mid-migration):
 *   - start and end reported, the end reason matching QEMU's final status;
 *   - lmtrace's rounds == QEMU's final dirty-sync-count (with --late: the
 *     syncs QEMU made after lmtrace attached);
 *   - per round >= 2, unsaturated (the guest wrote fewer pages than its
 *     working set): dirty_pages vs QEMU's dirty-pages-rate x period within
 *     5 %, and vs the pages the guest says it wrote in the round within 5 %;
 *     saturated rounds: QEMU's figure plus the pages still unsent before the
 *     sync (`remaining` at the last poll before it) bounds the difference:
 *     QEMU <= lmtrace <= QEMU + unsent, within 5 % plus one poll period of
 *     transfer (QEMU counts only pages newly dirty in its own bitmap; see
 *     doc/host-behaviour.md, "QEMU's own numbers");
 *   - where lmtrace saw 2 rounds or more and attached before `migrate`, at
 *     least one round compared with the guest or with QEMU: a run where
 *     nothing could be compared proves nothing about the dirty pages;
 * and overall: lmtrace's summary tx_bytes within 2 % of QEMU's transferred
 * (summed over attempts). --expect-verdict V[,V...]: lmtrace's last verdict
 * of the first migration is one of them. --no-false-alarm: it never said not-converging.
 * If lmtrace ran with --qmp, the parameters it read must be the lab's;
 * --expect-qmp (lmtrace ran with --qmp): it must have read them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define MAX_ATTEMPTS 8

struct poll {
	double ts;
	int attempt;
	char status[24];
	double transferred, remaining, dirty_rate, syncs, throttle_pct;
};

struct guest_rep {
	double ts, t_ms, pages;
};

struct round {
	double ts, dur, pages, tx;
	int n, final, partial;
	int unseen;	/* made by lmtrace from KVM's logged pages: its time is an estimate */
};

struct segment {		/* one migration as lmtrace saw it */
	double start_ts, end_ts;
	char last_verdict[32];
	int said_not_converging;
	int late, has_end;
	char end_reason[32];
	struct round *rounds;
	int nrounds;
};

struct lab {
	struct poll *polls;
	int npolls;
	struct guest_rep *guest;	/* the source guest's reports, by t_ms */
	int nguest;
	double migrate_ts[MAX_ATTEMPTS + 1];
	int attempts;
	int src_pid;
	double wss_pages, poll_s, bandwidth_Bps, downtime_ms, mem_bytes, max_throttle;
	char pattern[16];
};

static int checks, failures;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	failures += !ok;
	printf("%s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static double num(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

#define PUSH(arr, n, val) do {							\
	void *_p = realloc((arr), sizeof(*(arr)) * ((n) + 1));			\
	if (!_p) { perror("realloc"); exit(2); }				\
	(arr) = _p;								\
	(arr)[(n)++] = (val);							\
} while (0)

static FILE *open_or_die(const char *path)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "lmcheck: cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return f;
}

static int by_guest_time(const void *a, const void *b)
{
	const struct guest_rep *x = a, *y = b;

	return (x->t_ms > y->t_ms) - (x->t_ms < y->t_ms);
}

static void read_lab(const char *path, struct lab *lab)
{
	char line[8192];
	FILE *f = open_or_die(path);
	json_t *o;

	lab->poll_s = 0.25;
	while (fgets(line, sizeof(line), f)) {
		const char *type, *event;

		o = json_loads(line, 0, NULL);
		if (!o)
			continue;
		type = str(o, "type");
		event = str(o, "event");
		if (!strcmp(type, "poll")) {
			struct poll p = { .ts = num(o, "ts"), .attempt = (int)num(o, "attempt"),
					  .transferred = num(o, "transferred"),
					  .remaining = num(o, "remaining"),
					  .dirty_rate = num(o, "dirty-pages-rate"),
					  .syncs = num(o, "dirty-sync-count"),
					  .throttle_pct = num(o, "cpu-throttle-percentage") };

			snprintf(p.status, sizeof(p.status), "%s", str(o, "status"));
			if (p.throttle_pct > lab->max_throttle)
				lab->max_throttle = p.throttle_pct;
			PUSH(lab->polls, lab->npolls, p);
		} else if (!strcmp(type, "guest") && !strcmp(str(o, "vm"), "src") &&
			   json_object_get(o, "pages_written")) {
			struct guest_rep g = { num(o, "ts"), num(o, "t_ms"), num(o, "pages_written") };

			PUSH(lab->guest, lab->nguest, g);
		} else if (!strcmp(type, "lab") && !strcmp(event, "config")) {
			lab->wss_pages = num(o, "wss_mib") * 256;
			lab->bandwidth_Bps = num(o, "bandwidth_mib") * 1048576;
			lab->downtime_ms = num(o, "downtime_ms");
			lab->mem_bytes = num(o, "mem_mib") * 1048576;
			if (num(o, "poll_ms") > 0)
				lab->poll_s = num(o, "poll_ms") / 1000;
			snprintf(lab->pattern, sizeof(lab->pattern), "%s", str(o, "pattern"));
		} else if (!strcmp(type, "lab") && !strcmp(event, "ready")) {
			lab->src_pid = (int)num(o, "src_pid");
		} else if (!strcmp(type, "lab") && !strcmp(event, "migrate") &&
			   lab->attempts < MAX_ATTEMPTS) {
			lab->migrate_ts[++lab->attempts] = num(o, "ts");
		}
		json_decref(o);
	}
	fclose(f);
	qsort(lab->guest, (size_t)lab->nguest, sizeof(*lab->guest), by_guest_time);
}

/* What lmtrace read over QMP (--qmp): "params" records. */
struct params_seen {
	int n;
	double downtime_ms, bandwidth, ram_bytes;	/* the first record */
	double max_throttle;
};

/* lmtrace's dirty-rate records (calc-dirty-rate windows), for --expect-dirty-rate. */
#define MAX_DIRTY_RATES 8
static struct { double ts, window_s, pages; } dirty_rates[MAX_DIRTY_RATES];
static int ndirty_rates;

static int read_trace(const char *path, int pid, struct segment *segs, double *sum_tx,
		      int *have_summary, struct params_seen *ps)
{
	char line[8192];
	FILE *f = open_or_die(path);
	struct segment *cur = NULL;
	int nsegs = 0;
	json_t *o;

	*have_summary = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *type;

		o = json_loads(line, 0, NULL);
		if (!o)
			continue;
		type = str(o, "type");
		if ((int)num(o, "pid") != pid) {
			json_decref(o);
			continue;
		}
		if (!strcmp(type, "migration") && !strcmp(str(o, "event"), "start") &&
		    nsegs < MAX_ATTEMPTS) {
			cur = &segs[nsegs++];
			memset(cur, 0, sizeof(*cur));
			cur->start_ts = num(o, "ts");
			cur->late = json_is_true(json_object_get(o, "late"));
		} else if (!strcmp(type, "migration") && !strcmp(str(o, "event"), "end") && cur) {
			cur->has_end = 1;
			cur->end_ts = num(o, "ts");
			snprintf(cur->end_reason, sizeof(cur->end_reason), "%s", str(o, "reason"));
			cur = NULL;
		} else if (!strcmp(type, "dirty_rate")) {
			if (ndirty_rates < MAX_DIRTY_RATES) {
				dirty_rates[ndirty_rates].ts = num(o, "ts");
				dirty_rates[ndirty_rates].window_s = num(o, "window_s");
				dirty_rates[ndirty_rates].pages = num(o, "dirty_pages");
			}
			ndirty_rates++;
		} else if (!strcmp(type, "round") && cur) {
			struct round r = { num(o, "ts"), num(o, "duration_s"), num(o, "dirty_pages"),
					   num(o, "tx_bytes"), (int)num(o, "round"),
					   json_is_true(json_object_get(o, "final")),
					   json_is_true(json_object_get(o, "partial")) ||
					   json_is_true(json_object_get(o, "late")),
					   json_is_true(json_object_get(o, "unseen")) };

			PUSH(cur->rounds, cur->nrounds, r);
		} else if ((!strcmp(type, "verdict") || !strcmp(type, "sample")) && nsegs &&
			   json_is_string(json_object_get(o, "verdict"))) {
			/* Until the next start: lmtrace's conclusion follows the end record. */
			struct segment *last = &segs[nsegs - 1];

			snprintf(last->last_verdict, sizeof(last->last_verdict), "%s", str(o, "verdict"));
			last->said_not_converging |= !strcmp(last->last_verdict, "not-converging");
		} else if (!strcmp(type, "params")) {
			if (!ps->n++) {
				ps->downtime_ms = num(o, "downtime_limit_ms");
				ps->bandwidth = num(o, "max_bandwidth_bytes_per_s");
				ps->ram_bytes = num(o, "ram_bytes");
			}
			if (num(o, "throttle_pct") > ps->max_throttle)
				ps->max_throttle = num(o, "throttle_pct");
		} else if (!strcmp(type, "summary")) {
			*sum_tx = num(o, "tx_bytes");
			*have_summary = 1;
		}
		json_decref(o);
	}
	fclose(f);
	return nsegs;
}

/* Polls of one attempt: [first, last]. */
static void attempt_polls(const struct lab *lab, int a, int *first, int *last)
{
	int i;

	*first = -1;
	*last = -1;
	for (i = 0; i < lab->npolls; i++)
		if (lab->polls[i].attempt == a) {
			if (*first < 0)
				*first = i;
			*last = i;
		}
}

/* The last poll of the attempt that had RAM numbers (a cancelled one has none). */
static const struct poll *final_poll(const struct lab *lab, int a)
{
	int first, last, i;

	attempt_polls(lab, a, &first, &last);
	for (i = last; i >= first && i >= 0; i--)
		if (lab->polls[i].syncs > 0)
			return &lab->polls[i];
	return NULL;
}

/*
 * Guest pages written at host time ts: the source guest's reports, its clock
 * mapped to the host's by the smallest read lag, interpolated. After its last
 * report (the VM stops for the switchover) the last report period's rate is
 * carried on for at most one more second; the destination's reports are not
 * used: the throttle stays behind on the source, so the rate jumps there.
 */
static double guest_pages_at(const struct lab *lab, double ts, double *unknown)
{
	const struct guest_rep *a, *b;
	double offset = 1e30, g;
	int i;

	*unknown = NAN;
	if (lab->nguest < 2)
		return NAN;
	for (i = 0; i < lab->nguest; i++)
		if (lab->guest[i].ts - lab->guest[i].t_ms / 1000 < offset)
			offset = lab->guest[i].ts - lab->guest[i].t_ms / 1000;
	g = (ts - offset) * 1000;
	for (i = 1; i < lab->nguest; i++) {
		a = &lab->guest[i - 1];
		b = &lab->guest[i];
		if (g >= a->t_ms && g <= b->t_ms && b->t_ms > a->t_ms) {
			/* Where in [a, b] the guest wrote is unknown: up to all of it. */
			*unknown = b->pages - a->pages;
			return a->pages + (b->pages - a->pages) * (g - a->t_ms) / (b->t_ms - a->t_ms);
		}
	}
	a = &lab->guest[lab->nguest - 2];
	b = &lab->guest[lab->nguest - 1];
	if (g > b->t_ms && g - b->t_ms <= 1000 && b->t_ms > a->t_ms) {
		*unknown = (b->pages - a->pages) * (g - b->t_ms) / (b->t_ms - a->t_ms);
		return b->pages + *unknown;
	}
	return NAN;
}

static double rel(double a, double b)
{
	return b ? (a - b) / b : (a ? INFINITY : 0);
}

/*
 * Each dirty-rate record against the pages the guest says it wrote in the
 * window (its pattern writes each page once per pass: all unique), within
 * 3 % plus the writes of the report periods at the window's ends.
 */
static void check_dirty_rates(const struct lab *lab, int expected)
{
	int i;

	check(ndirty_rates == expected, "lmtrace reported %d dirty-rate measurement(s), expected %d",
	      ndirty_rates, expected);
	for (i = 0; i < ndirty_rates && i < MAX_DIRTY_RATES; i++) {
		double u0, u1, g0 = guest_pages_at(lab, dirty_rates[i].ts - dirty_rates[i].window_s, &u0);
		double g1 = guest_pages_at(lab, dirty_rates[i].ts, &u1), guest = g1 - g0;

		check(!isnan(guest) && fabs(dirty_rates[i].pages - guest) <= 0.03 * guest + u0 + u1,
		      "dirty-rate window %d: lmtrace %.0f pages in %.3f s, guest wrote %.0f (%+.1f %%, "
		      "tolerance 3 %% + %.0f pages of the report periods at its ends)", i + 1,
		      dirty_rates[i].pages, dirty_rates[i].window_s, guest,
		      100 * rel(dirty_rates[i].pages, guest), u0 + u1);
	}
}

/* QEMU's view right after sync `k` of attempt a: the first poll showing it. */
static const struct poll *poll_after_sync(const struct lab *lab, int a, int k)
{
	int i;

	for (i = 0; i < lab->npolls; i++)
		if (lab->polls[i].attempt == a && (int)lab->polls[i].syncs == k)
			return &lab->polls[i];
	return NULL;
}

/* The last poll before time ts in attempt a. */
static const struct poll *poll_before(const struct lab *lab, int a, double ts)
{
	const struct poll *p = NULL;
	int i;

	for (i = 0; i < lab->npolls; i++)
		if (lab->polls[i].attempt == a && lab->polls[i].ts < ts)
			p = &lab->polls[i];
	return p;
}

/* Is v one of the comma-separated verdicts in list? */
static int verdict_in(const char *v, const char *list)
{
	size_t n = strlen(v);

	while (*v && list && *list) {
		if (!strncmp(list, v, n) && (list[n] == ',' || list[n] == '\0'))
			return 1;
		list = strchr(list, ',');
		if (list)
			list++;
	}
	return 0;
}


/*
 * Rounds where the guest or lmtrace counts fewer pages are not compared with
 * the guest: a near-empty round (a final sync a few ms after the previous
 * one) says nothing. Small rounds are still compared: the tolerance's
 * absolute terms (report intervals, clock mapping) cover their noise.
 */
#define GUEST_MIN_PAGES 20

/*
 * sync_offset maps lmtrace's round numbers to QEMU's sync numbers: 0 when
 * lmtrace saw the whole migration, more when it attached late.
 */
static int check_rounds(const struct lab *lab, int a, const struct segment *s, int sync_offset)
{
	double acc_pages = 0, acc_dur = 0;
	int i, qemu_compared = 0, guest_compared = 0;

	printf("     round  dur_s   lmtrace   guest(lmtrace vs guest)\n");
	for (i = 0; i < s->nrounds; i++) {
		const struct round *r = &s->rounds[i];
		/*
		 * After a round 1 lmtrace made up (the initial sync ran before its
		 * hooks attached, and it placed the sync between two readings of
		 * KVM), the next round's pages are exact but its start is not:
		 * compare them over the real window, from `migrate` (QEMU's
		 * initial sync follows within milliseconds).
		 */
		double dur = i == 1 && s->rounds[0].unseen ? r->ts - lab->migrate_ts[a] : r->dur;
		double u0, u1, g0 = guest_pages_at(lab, r->ts - dur, &u0);
		double g1 = guest_pages_at(lab, r->ts, &u1);
		double guest = g1 - g0, tol, throttle;
		int saturated = isnan(guest) || guest >= 0.9 * lab->wss_pages ||
				strcmp(lab->pattern, "seq");
		const struct poll *q, *before;

		/*
		 * Round 1 is the RAM size. After a late attach, the first round
		 * began before lmtrace was there: fine if flagged partial or
		 * late (its length unknown), otherwise its pages and duration are
		 * claims like any other.
		 */
		if (r->n <= 1 || r->partial) {
			printf("     %5d %6.2f %9.0f   (%s)\n", r->n, r->dur, r->pages,
			       r->n <= 1 ? "round 1 is the RAM size" : "flagged partial/late");
			continue;
		}
		printf("     %5d %6.2f %9.0f", r->n, r->dur, r->pages);
		if (!isnan(guest))
			printf("   %7.0f(%+5.1f%%)%s\n", guest, 100 * rel(r->pages, guest),
			       saturated ? " saturated" : "");
		else
			printf("   %16s\n", "-");
		/*
		 * The guest's own truth, for rounds where every written page is
		 * unique. Besides 5 %, the guest's count at each end of the round
		 * is interpolated between two reports (100 ms apart): where in that
		 * interval it wrote is unknown (a throttle starting at the sync
		 * makes it lopsided), so each end may be off by that interval's
		 * pages; plus 10 ms of writing for the clock mapping.
		 */
		/*
		 * QEMU's throttle runs the vCPU in 10 ms slices, then sleeps it
		 * pct/(100-pct) times as long: a round shorter than two such
		 * cycles may hold no slice at all, which no interpolation of the
		 * guest's reports can tell.
		 */
		before = poll_before(lab, a, r->ts);
		throttle = before ? before->throttle_pct : 0;
		if (throttle > 0 && throttle < 100 && dur < 2 * 0.010 * 100 / (100 - throttle)) {
			printf("          (throttled %.0f %%: round shorter than two %.0f ms vCPU cycles, not compared with the guest)\n",
			       throttle, 1000 * 0.010 * 100 / (100 - throttle));
		} else if (!saturated && (guest >= GUEST_MIN_PAGES || r->pages >= GUEST_MIN_PAGES)) {
			tol = 0.05 * guest + u0 + u1 + 0.010 * guest / (dur > 0.01 ? dur : 0.01) + 10;
			check(fabs(r->pages - guest) <= tol,
			      "attempt %d round %d: lmtrace %.0f dirty pages in %.6f s, guest wrote %.0f (%+.1f %%, tolerance 5 %% + %.0f + %.0f pages of the report intervals at its ends)%s",
			      a, r->n, r->pages, dur, guest, 100 * rel(r->pages, guest), u0, u1,
			      i == 0 && s->late ? " [first round after a late attach: its pages were dirtied since a sync lmtrace did not see; flag it partial or give its real length]" : "");
			guest_compared++;
		}
		/* QEMU recomputes its rate only when >= 1 s passed since the last time. */
		acc_pages += r->pages;
		acc_dur += dur;
		if (r->final || acc_dur < 1.0)
			continue;
		q = poll_after_sync(lab, a, r->n + sync_offset);
		if (!q || !q->dirty_rate) {
			printf("          (no QEMU rate seen after sync %d)\n", r->n);
			acc_pages = acc_dur = 0;
			continue;
		}
		before = poll_before(lab, a, r->ts);
		if (!saturated && (fabs(acc_pages - q->dirty_rate * acc_dur) <= 0.05 * q->dirty_rate * acc_dur ||
				   !before || before->syncs != r->n + sync_offset - 1)) {
			double qemu = q->dirty_rate * acc_dur;

			check(fabs(acc_pages - qemu) <= 0.05 * qemu,
			      "attempt %d round %d: lmtrace %.0f pages over %.2f s, QEMU dirty-pages-rate %.0f x period = %.0f (%+.1f %%, tolerance 5 %%)",
			      a, r->n, acc_pages, acc_dur, q->dirty_rate, qemu, 100 * rel(acc_pages, qemu));
			qemu_compared++;
		} else if (!saturated) {
			/*
			 * More than 5 % apart: acceptable only as QEMU's known gap.
			 * Pages unsent before the sync that the guest dirtied again
			 * (a round that wraps onto the previous one's tail, e.g. right
			 * after a throttle starts) are not new in QEMU's bitmap.
			 */
			double qemu = q->dirty_rate * acc_dur, unsent = before->remaining / 4096;
			double slack = lab->bandwidth_Bps * lab->poll_s / 4096;

			check(acc_pages >= qemu && acc_pages <= qemu + unsent + 0.05 * qemu + slack,
			      "attempt %d round %d: lmtrace %.0f pages over %.2f s, QEMU dirty-pages-rate %.0f x period = %.0f (%+.1f %%): more than 5 %% apart, explained only if within [0, %.0f unsent before the sync] (+ 5 %% + %.0f pages of one poll)",
			      a, r->n, acc_pages, acc_dur, q->dirty_rate, qemu, 100 * rel(acc_pages, qemu),
			      unsent, slack);
			qemu_compared++;
		} else if ((before = poll_before(lab, a, r->ts)) &&
			   before->syncs == r->n + sync_offset - 1) {
			/*
			 * QEMU counts only pages newly dirty in its own bitmap: pages
			 * still unsent before the sync (`remaining`, zero pages of the
			 * bulk pass included) that the guest dirtied again are left out.
			 * So lmtrace's count must lie between QEMU's figure and QEMU's
			 * figure plus what was unsent.
			 */
			double qemu = q->dirty_rate * acc_dur, unsent = before->remaining / 4096;
			double slack = lab->bandwidth_Bps * lab->poll_s / 4096;

			check(acc_pages >= 0.95 * qemu && acc_pages <= qemu + unsent + 0.05 * qemu + slack,
			      "attempt %d round %d (saturated): lmtrace %.0f pages, QEMU %.0f x %.2f s = %.0f, difference %+.0f within [0, %.0f unsent before the sync] (tolerance 5 %% + %.0f pages of one poll)",
			      a, r->n, acc_pages, q->dirty_rate, acc_dur, qemu, acc_pages - qemu, unsent, slack);
			qemu_compared++;
		} else {
			printf("          (saturated, no poll just before sync %d)\n", r->n);
		}
		acc_pages = acc_dur = 0;
	}
	printf("     compared %d rounds with the guest, %d with QEMU's rate\n",
	       guest_compared, qemu_compared);
	return guest_compared + qemu_compared;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lab", required_argument, 0, 'l' },
		{ "trace", required_argument, 0, 't' },
		{ "late", required_argument, 0, 'L' },
		{ "expect-verdict", required_argument, 0, 'V' },
		{ "no-false-alarm", no_argument, 0, 'N' },
		{ "bytes-tolerance", required_argument, 0, 'B' },
		{ "expect-dirty-rate", required_argument, 0, 'D' },
		{ "expect-qmp", no_argument, 0, 'Q' },
		{ 0 },
	};
	struct segment segs[MAX_ATTEMPTS] = { 0 };
	struct lab lab = { 0 };
	struct params_seen ps = { 0 };
	const char *lab_path = NULL, *trace_path = NULL, *expect_verdict = NULL;
	double sum_tx = 0, qemu_tx = 0;
	int c, late = 0, nsegs, a, have_summary, no_false_alarm = 0, expect_dirty_rates = -1;
	int expect_qmp = 0, compared;
	double attach_ts = 0, bytes_tol = 0.02;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': lab_path = optarg; break;
		case 't': trace_path = optarg; break;
		case 'L': late = 1; attach_ts = atof(optarg); break;
		case 'V': expect_verdict = optarg; break;
		case 'N': no_false_alarm = 1; break;
		case 'B': bytes_tol = atof(optarg) / 100; break;
		case 'D': expect_dirty_rates = atoi(optarg); break;
		case 'Q': expect_qmp = 1; break;
		default: return 2;
		}
	}
	if (!lab_path || !trace_path) {
		fprintf(stderr, "usage: lmcheck --lab LAB.jsonl --trace LMTRACE.jsonl [--late ATTACH_TS] "
			"[--expect-verdict V] [--no-false-alarm] [--bytes-tolerance PCT] [--expect-dirty-rate N] "
			"[--expect-qmp]\n");
		return 2;
	}
	read_lab(lab_path, &lab);
	if (!lab.src_pid || !lab.attempts) {
		fprintf(stderr, "lmcheck: %s has no migration (no ready/migrate records)\n", lab_path);
		return 2;
	}
	if (!lab.wss_pages) {
		/* Without it every round would count as saturated and skip the guest. */
		fprintf(stderr, "lmcheck: %s has no lab config record with the working set\n", lab_path);
		return 2;
	}
	nsegs = read_trace(trace_path, lab.src_pid, segs, &sum_tx, &have_summary, &ps);
	printf("lmcheck: source pid %d, %d migration(s) in the lab, %d seen by lmtrace\n",
	       lab.src_pid, lab.attempts, nsegs);
	check(nsegs == lab.attempts, "lmtrace reported %d migration start(s), the lab ran %d",
	      nsegs, lab.attempts);

	if (late)
		printf("lmtrace attached %.2f s after `migrate`\n", attach_ts - lab.migrate_ts[1]);
	for (a = 1; a <= lab.attempts && a <= nsegs; a++) {
		const struct segment *s = &segs[a - 1];
		const struct poll *fin = final_poll(&lab, a), *at_attach;
		int first, last, qemu_syncs;
		const char *qemu_status;

		attempt_polls(&lab, a, &first, &last);
		qemu_status = last >= 0 ? lab.polls[last].status : "?";
		qemu_syncs = fin ? (int)fin->syncs : 0;
		if (fin)
			qemu_tx += fin->transferred;
		printf("attempt %d: QEMU %s, %d syncs, %.0f bytes transferred\n",
		       a, qemu_status, qemu_syncs, fin ? fin->transferred : 0);
		check(late ? s->late : !s->late && fabs(s->start_ts - lab.migrate_ts[a]) < 2,
		      "attempt %d: start reported %.2f s after `migrate`%s", a,
		      s->start_ts - lab.migrate_ts[a], s->late ? " (late attach)" : "");
		check(s->has_end && !strcmp(s->end_reason, qemu_status),
		      "attempt %d: end reported (%s), QEMU says %s", a,
		      s->has_end ? s->end_reason : "none", qemu_status);
		if (late) {
			/* QEMU's syncs after lmtrace attached: between the polls around its start. */
			int lo, hi;

			at_attach = poll_before(&lab, a, attach_ts);
			hi = qemu_syncs - (at_attach ? (int)at_attach->syncs : 0);
			lo = hi - 1;
			check(s->nrounds >= lo && s->nrounds <= hi,
			      "attempt %d: lmtrace %d rounds after attaching, QEMU made %d-%d syncs since", a,
			      s->nrounds, lo, hi);
		} else {
			check(s->nrounds == qemu_syncs,
			      "attempt %d: lmtrace %d rounds, QEMU dirty-sync-count %d", a,
			      s->nrounds, qemu_syncs);
		}
		compared = check_rounds(&lab, a, s,
					late && s->nrounds ? qemu_syncs - s->rounds[s->nrounds - 1].n : 0);
		if (!late && s->nrounds >= 2)
			check(compared >= 1,
			      "attempt %d: %d of lmtrace's %d rounds compared with the guest or QEMU's rate "
			      "(at least 1 needed: a run with 2 rounds or more where nothing was compared "
			      "checks no dirty-page count)", a, compared, s->nrounds);
	}

	if (!late) {
		check(have_summary && fabs(rel(sum_tx, qemu_tx)) <= bytes_tol,
		      "summary tx_bytes %.0f vs QEMU transferred %.0f (%+.2f %%, tolerance %.0f %%)",
		      sum_tx, qemu_tx, 100 * rel(sum_tx, qemu_tx), 100 * bytes_tol);
	} else if (nsegs) {
		const struct poll *p = poll_before(&lab, 1, attach_ts);
		double since = qemu_tx - (p ? p->transferred : 0);
		double slack = lab.bandwidth_Bps * lab.poll_s;

		check(have_summary && fabs(sum_tx - since) <= 0.02 * since + slack,
		      "summary tx_bytes %.0f vs QEMU's transferred since attach %.0f (%+.2f %%, tolerance 2 %% + one poll)",
		      sum_tx, since, 100 * rel(sum_tx, since));
	}
	if (expect_dirty_rates >= 0)
		check_dirty_rates(&lab, expect_dirty_rates);
	if (expect_verdict && nsegs) {
		check(verdict_in(segs[0].last_verdict, expect_verdict),
		      "lmtrace's last verdict on the migration: %s (expected %s)",
		      segs[0].last_verdict[0] ? segs[0].last_verdict : "none", expect_verdict);
	}
	if (no_false_alarm && nsegs)
		check(!segs[0].said_not_converging,
		      "no false alarm: never said not-converging on a migration that converged");
	if (expect_qmp)
		check(ps.n > 0, "lmtrace ran with --qmp and reported %d params record(s) (at least 1 needed)",
		      ps.n);
	if (ps.n) {
		/* lmtrace ran with --qmp: what it read must be what the lab set. */
		check(ps.downtime_ms == lab.downtime_ms && ps.bandwidth == lab.bandwidth_Bps &&
		      ps.ram_bytes == lab.mem_bytes,
		      "QMP parameters read by lmtrace: downtime %.0f ms, bandwidth %.0f B/s, RAM %.0f B (the lab set %.0f, %.0f, %.0f)",
		      ps.downtime_ms, ps.bandwidth, ps.ram_bytes, lab.downtime_ms, lab.bandwidth_Bps,
		      lab.mem_bytes);
		if (lab.max_throttle > 0)
			check(ps.max_throttle == lab.max_throttle,
			      "throttle seen over QMP by lmtrace: %.0f %% (QEMU's polls: %.0f %%)",
			      ps.max_throttle, lab.max_throttle);
	}
	printf("lmcheck: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}

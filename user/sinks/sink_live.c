// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The live terminal view (stdout is a tty): one block per VM with the
 * verdict as its headline, the numbers under unit headers in fixed-width
 * columns, and sparklines of the view's history. Each frame is built in
 * memory and written at once; it goes to the top-left corner and clears to
 * the end of each line and of the screen, never the whole screen, so the
 * picture does not flicker.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "sinks/outputs.h"
#include "sinks/sink_new.h"
#include "sinks/text_fmt.h"
#include "sinks/vm_list.h"

#define LIVE_MAX_MSGS	3
#define LIVE_REASON_LINES 2
#define LIVE_MIN_FRAME_S 0.05
#define LIVE_VM_LINES	(8 + LIVE_REASON_LINES)	/* lines per VM block */

struct live_sink {
	FILE *tty;
	int color, started;
	struct lm_vm_list vms;		/* of struct live_vm: the blocks, in order */
	double last_ts_s;
	double last_frame_s;		/* monotonic */
	double last_frame_obs_s;	/* observation time of that frame */
	char msgs[LIVE_MAX_MSGS][160];
	int nmsgs;
	int final;
};

/* Per VM: its block on the screen. */
struct live_vm {
	struct lm_vm_link link;		/* first: in live_sink.vms */
	const struct lm_vm_view *view;
};

/* Eight levels; values are scaled to the largest shown in the same chart. */
static const char *const spark[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };

static const char *verdict_color(enum lm_verdict v)
{
	switch (v) {
	case LM_VERDICT_CONVERGING: return "\033[1;32m";
	case LM_VERDICT_MARGINAL: return "\033[1;33m";
	case LM_VERDICT_NOT_CONVERGING: return "\033[1;31m";
	default: return "\033[1m";
	}
}

static int term_size(FILE *tty, int *rows)
{
	struct winsize ws;

	*rows = 0;
	if (!ioctl(fileno(tty), TIOCGWINSZ, &ws) && ws.ws_col >= 40) {
		*rows = ws.ws_row;
		return ws.ws_col;
	}
	return 80;
}

/* One line of the frame: text, then clear the rest of the line. */
#define NAME_COLS	16

/*
 * A name in a field of cols characters: cut between characters (%.16s
 * would cut a UTF-8 character in two) and padded by characters, not bytes.
 */
static void put_name(FILE *f, const char *name, int cols)
{
	size_t left = strlen(name), n;
	int used = 0;

	for (; left && used < cols; name += n, left -= n, used++) {
		n = lm_utf8_char(name, left, NULL);
		if (!n) {
			fputc('?', f);	/* names are sanitised: not expected */
			n = 1;
			continue;
		}
		fwrite(name, 1, n, f);
	}
	fprintf(f, "%*s", cols - used, "");
}

static void eol(FILE *f)
{
	fputs("\033[K\n", f);
}

/* A numeric cell of fixed width; "-" when unknown (negative). */
static void cell(FILE *f, int width, double v, int decimals)
{
	char buf[32];

	fprintf(f, "%*s", width, lm_fmt_num(buf, sizeof(buf), v, decimals, ""));
}

static double hist_value(const struct lm_vm_view *vm, uint32_t i, int which)
{
	uint32_t k = (vm->hist_head + i) % LM_HISTORY;

	switch (which) {
	case 0: return vm->hist[k].dirty_Bps;
	case 1: return vm->hist[k].tx_Bps;
	default: return (double)vm->hist[k].remaining;
	}
}

static void sparkline(FILE *f, const struct lm_vm_view *vm, int which, double max, int width)
{
	uint32_t n = vm->hist_len, first = n > (uint32_t)width ? n - width : 0;

	for (uint32_t i = first; i < n; i++) {
		double v = hist_value(vm, i, which);
		int level = 0;

		if (!(v <= max))	/* NaN or above a non-finite max: full bar */
			level = 7;
		else if (max > 0 && v > 0)
			level = (int)(v / max * 7.999);

		fputs(spark[level < 0 ? 0 : level > 7 ? 7 : level], f);
	}
}

static double hist_max(const struct lm_vm_view *vm, int which)
{
	double max = 0;

	for (uint32_t i = 0; i < vm->hist_len; i++)
		if (hist_value(vm, i, which) > max && isfinite(hist_value(vm, i, which)))
			max = hist_value(vm, i, which);
	return max;
}

/* At most width display columns of s (ASCII). */
static void clipped(FILE *f, const char *s, int width)
{
	fprintf(f, "%.*s", width < 0 ? 0 : width, s);
}

/*
 * The estimator's reason under the headline: always `lines` lines (blank
 * when shorter) so blocks never move, "..." if cut.
 */
static void wrapped(FILE *f, const char *s, int width, int lines)
{
	for (int l = 0; l < lines; l++) {
		const char *next;
		int last = l == lines - 1, n = lm_wrap_line(s, width, last, &next);

		fprintf(f, "    %.*s%s", n, s, last && *next ? "..." : "");
		eol(f);
		s = next;
	}
}

/* --act: the last action and its outcome (the block's last line, blank without --act). */
static void act_line(FILE *f, const struct lm_vm_view *vm, int cols)
{
	char line[LM_REASON_MAX + 96], act[48];

	if (!vm->act_on)
		return;
	if (vm->act_last_ts_s < 0)
		snprintf(line, sizeof(line), "  act%s: no action yet", vm->act_cfg.apply ? "" : " (dry run)");
	else
		snprintf(line, sizeof(line), "  act%s: %s %s at round %u: %s",
			 vm->act_cfg.apply ? "" : " (dry run)",
			 lm_act_fmt(act, sizeof(act), vm->act_last_action, vm->act_last_value),
			 lm_act_outcome_name(vm->act_last_outcome), vm->act_last_round, vm->act_last_reason);
	clipped(f, line, cols - 1);
}

static void draw_vm(struct live_sink *ls, FILE *f, const struct lm_vm_view *vm, int cols)
{
	const struct lm_estimate *e = &vm->est;
	int spark_w = cols - 16 < LM_HISTORY ? cols - 16 : LM_HISTORY;
	double rate_max;
	char status[48];

	if (vm->migrating)
		snprintf(status, sizeof(status), "migrating (%s)", lm_phase_name(e->phase));
	else if (vm->migrations)
		snprintf(status, sizeof(status), "ended (%s)", lm_end_reason_name(vm->end_reason));
	else
		snprintf(status, sizeof(status), "waiting for a migration");
	fprintf(f, "pid %-7u ", vm->pid);
	put_name(f, vm->name[0] ? vm->name : "-", NAME_COLS);
	fprintf(f, " %-22s round %-4u RAM %7.1f MiB", status, vm->rounds, vm->ram_bytes / LM_MiB);
	eol(f);
	if (ls->color)
		fputs(verdict_color(e->verdict), f);
	fprintf(f, "  %-15s", e->verdict == LM_VERDICT_UNKNOWN ? "NOT ENOUGH DATA" :
		e->verdict == LM_VERDICT_CONVERGING ? "CONVERGING" :
		e->verdict == LM_VERDICT_MARGINAL ? "MARGINAL" : "NOT CONVERGING");
	if (ls->color)
		fputs("\033[0m", f);
	fprintf(f, " %3.0f%% confidence", e->confidence * 100);
	eol(f);
	wrapped(f, e->reason, cols - 5, LIVE_REASON_LINES);
	fprintf(f, "  %12s %14s %13s %8s %11s %10s", "dirty MiB/s", "transfer MiB/s",
		"remaining MiB", "ETA s", "downtime ms", "throttle %");
	eol(f);
	fputs("  ", f);
	cell(f, 12, e->dirty_rate_Bps >= 0 ? e->dirty_rate_Bps / LM_MiB : -1, 1);
	cell(f, 15, e->tx_rate_Bps >= 0 ? e->tx_rate_Bps / LM_MiB : -1, 1);
	cell(f, 14, e->migrating || e->remaining_bytes ? e->remaining_bytes / LM_MiB : -1, 1);
	cell(f, 9, e->eta_s, 1);
	cell(f, 12, e->downtime_ms, 0);
	cell(f, 11, e->throttle_pct, 0);
	eol(f);
	/* Dirty and transfer share a scale: the gap between them is the point. */
	rate_max = hist_max(vm, 0) > hist_max(vm, 1) ? hist_max(vm, 0) : hist_max(vm, 1);
	fputs("  dirty     ", f);
	sparkline(f, vm, 0, rate_max, spark_w);
	eol(f);
	fputs("  transfer  ", f);
	sparkline(f, vm, 1, rate_max, spark_w);
	eol(f);
	fputs("  remaining ", f);
	sparkline(f, vm, 2, hist_max(vm, 2), spark_w);
	eol(f);
	act_line(f, vm, cols);
	eol(f);
}

static void draw(struct live_sink *ls)
{
	int rows, cols = term_size(ls->tty, &rows), lines, i = 0, nvms = ls->vms.n;
	const struct lm_vm_link *l;
	char *buf = NULL, when[32] = "";
	size_t len = 0;
	time_t t = (time_t)ls->last_ts_s;
	struct tm tm;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return;
	if (!ls->started) {
		/* First frame: make room once; later frames only overwrite. */
		fputs("\033[2J\033[?25l", f);
		ls->started = 1;
	}
	fputs("\033[H", f);
	if (t)
		strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&t, &tm));
	fprintf(f, "lmtrace  %d VM%s  %s%s", nvms, nvms == 1 ? "" : "s", when,
		ls->final ? "  (final)" : "");
	eol(f);
	eol(f);
	lines = 2;
	for (l = ls->vms.head; l; l = l->next, i++) {
		/* Keep the messages visible: stop before the screen overflows. */
		if (rows && lines + LIVE_VM_LINES + LIVE_MAX_MSGS > rows) {
			fprintf(f, "... %d more VM%s (enlarge the terminal, or use -j)", nvms - i,
				nvms - i == 1 ? "" : "s");
			eol(f);
			break;
		}
		draw_vm(ls, f, ((const struct live_vm *)l)->view, cols);
		lines += LIVE_VM_LINES;
	}
	for (i = 0; i < ls->nmsgs; i++) {
		clipped(f, ls->msgs[i], cols - 1);
		eol(f);
	}
	fputs("\033[J", f);
	if (fclose(f) == 0) {
		fwrite(buf, 1, len, ls->tty);
		fflush(ls->tty);
	}
	free(buf);
}

/*
 * Frames follow the data: live, samples come once a second (those of all
 * VMs together), so every one is drawn. A replay (-r) feeds seconds of
 * recorded time in microseconds: when recorded time runs far ahead of the
 * wall clock, frames are skipped; the last state is drawn at close.
 */
static int frame_due(struct live_sink *ls, double obs_ts_s)
{
	struct timespec now;
	double t;

	clock_gettime(CLOCK_MONOTONIC, &now);
	t = now.tv_sec + now.tv_nsec / 1e9;
	if (ls->last_frame_s && t - ls->last_frame_s < LIVE_MIN_FRAME_S &&
	    fabs(obs_ts_s - ls->last_frame_obs_s) > 0.5)
		return 0;
	ls->last_frame_s = t;
	ls->last_frame_obs_s = obs_ts_s;
	return 1;
}

/* The VM's block joins the screen the first time the sink hears of it. */
static void remember(struct live_sink *ls, const struct lm_sink_vm *v)
{
	struct live_vm *lv = v->state;

	lv->view = v->view;
	lm_vm_list_add(&ls->vms, &lv->link);
}

static void live_on_update(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct live_sink *ls = s->ctx;

	remember(ls, v);
	if (v->ts_s > ls->last_ts_s)
		ls->last_ts_s = v->ts_s;
}

static void live_on_refresh(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct live_sink *ls = s->ctx;

	if (frame_due(ls, v->ts_s))
		draw(ls);
}

static void live_on_message(struct lm_sink *s, int level, const char *msg)
{
	struct live_sink *ls = s->ctx;

	if (ls->nmsgs == LIVE_MAX_MSGS) {
		memmove(ls->msgs[0], ls->msgs[1], sizeof(ls->msgs[0]) * (LIVE_MAX_MSGS - 1));
		ls->nmsgs--;
	}
	snprintf(ls->msgs[ls->nmsgs++], sizeof(ls->msgs[0]), "%s%s",
		 level >= 2 ? "error: " : level == 1 ? "warning: " : "", msg);
	if (ls->started)
		draw(ls);
}

static void live_on_summary(struct lm_sink *s, const struct lm_sink_vm *v)
{
	remember(s->ctx, v);
}

/* The view is about to be freed: its block goes from the screen. */
static void live_on_forget(struct lm_sink *s, const struct lm_sink_vm *v)
{
	struct live_sink *ls = s->ctx;
	struct live_vm *lv = v->state;

	lm_vm_list_del(&ls->vms, &lv->link);
}

static int live_close(struct lm_sink *s)
{
	struct live_sink *ls = s->ctx;

	/* The last frame stays on screen, the cursor below it, visible again. */
	ls->final = 1;
	draw(ls);
	fputs("\033[?25h", ls->tty);
	fflush(ls->tty);
	free(s);
	return 0;
}

static const struct lm_sink live_proto = {
	.name = "live",
	.vm_state_size = sizeof(struct live_vm),
	.on_update = live_on_update, .on_refresh = live_on_refresh,
	.on_message = live_on_message, .on_summary = live_on_summary,
	.on_forget = live_on_forget, .close = live_close,
};

int lm_sink_live_new(FILE *tty, struct lm_sink **out)
{
	const char *term = getenv("TERM");
	struct live_sink *ls;
	int ret = lm_sink_new(&live_proto, sizeof(*ls), tty, out);

	if (ret)
		return ret;
	ls = (*out)->ctx;
	ls->tty = tty;
	ls->color = !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
	return 0;
}

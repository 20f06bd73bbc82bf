// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The report's drawing, SVG written by hand: per VM a rates panel (dirty
 * rate per round as steps, transfer rate per sample), a verdict band, and a
 * remaining-bytes panel, sharing one time axis with the migration start and
 * end, verdict changes and the predicted switchover marked across both.
 * HTML wraps the same SVG with the verdict history as a table.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "report/report.h"
#include "sinks/text_fmt.h"
#include "core/units.h"
#include "core/view.h"

#define ML 84		/* left margin: y labels */
#define MR 24
#define RATE_H 200
#define BAND_H 14
#define REM_H 130
#define HEAD_H 58	/* title and two lines of reason */
#define VM_H (HEAD_H + RATE_H + 10 + BAND_H + 14 + REM_H + 56)

static const char *verdict_fill(uint32_t v)
{
	switch (v) {
	case LM_VERDICT_CONVERGING: return "#2e9d4a";
	case LM_VERDICT_MARGINAL: return "#e0a21b";
	case LM_VERDICT_NOT_CONVERGING: return "#d23a2f";
	default: return "#b8b8b8";
	}
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A "nice" axis step (1, 2 or 5 x 10^n) giving about n ticks over range. */
static double nice_step(double range, int n)
{
	double raw = range / n, mag = pow(10, floor(log10(raw))), r = raw / mag;

	return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

struct unit {
	double div;
	const char *name;
};

/* Rates in MiB/s, as every table prints them. */
static const struct unit rate_unit = { LM_MiB, "MiB/s" };

/* Sizes in MiB as in the tables, in GiB from 4096 MiB up (big guests). */
static struct unit size_unit(double max)
{
	return max >= 4096 * LM_MiB ? (struct unit){ LM_GiB, "GiB" } : (struct unit){ LM_MiB, "MiB" };
}

struct frame {
	double x0, x1, t_max;	/* pixels of t = 0 and t = t_max */
	double y0, h, v_max;	/* top of the panel, its height, value at the top */
};

static double px(const struct frame *fr, double t)
{
	return fr->x0 + (fr->x1 - fr->x0) * (t / fr->t_max);
}

static double finite_or(double v, double dflt)
{
	return isfinite(v) ? v : dflt;
}

/* Values off the scale (or not finite) are drawn at its edges. */
static double py(const struct frame *fr, double v)
{
	if (!(v >= 0))
		v = 0;
	if (v > fr->v_max * 1.05)
		v = fr->v_max * 1.05;
	return fr->y0 + fr->h - fr->h * (v / fr->v_max);
}

static void y_axis(FILE *f, const struct frame *fr, struct unit u, const char *label)
{
	double step = nice_step(fr->v_max / u.div, 4);

	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" class=\"panel\"/>\n",
		fr->x0, fr->y0, fr->x1 - fr->x0, (int)fr->h);
	for (double v = 0; v <= fr->v_max / u.div * 1.0001 && v <= 20 * step; v += step) {
		double y = py(fr, v * u.div);

		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%g</text>\n",
			fr->x0, fr->x1, y, y, fr->x0 - 6, y + 4, v);
	}
	fprintf(f, "<text x=\"14\" y=\"%.1f\" class=\"axis\" transform=\"rotate(-90 14 %.1f)\" "
		"text-anchor=\"middle\">%s</text>\n", fr->y0 + fr->h / 2, fr->y0 + fr->h / 2, label);
}

static void vline(FILE *f, const char *cls, double x, double y0, double y1, const char *color)
{
	fprintf(f, "<line class=\"%s\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
		cls, x, x, y0, y1, color);
}

/* The estimator's reason: up to two lines of chars characters, "..." if cut. */
static void sub_lines(FILE *f, const char *s, double y, int chars)
{
	char line[LM_REASON_MAX + 4];

	for (int l = 0; l < 2 && *s; l++, y += 14) {
		const char *next;
		int n = lm_wrap_line(s, chars, l == 1, &next);

		snprintf(line, sizeof(line), "%.*s%s", n, s, l == 1 && *next ? "..." : "");
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"sub\">", ML, y);
		xml_text(f, line);
		fputs("</text>\n", f);
		s = next;
	}
}

/* Where one VM's chart sits: its two panels on one time axis, and their units. */
struct vm_layout {
	struct frame rate, rem;
	double band_y, bottom;	/* top of the verdict band, bottom of the remaining panel */
	struct unit ur, um;
};

/* The top of an axis: a whole number of nice steps above max, with some room. */
static double axis_top(double max, double div)
{
	double step = nice_step(max * 1.1 / div, 4);

	return step * ceil(max * 1.1 / div / step) * div;
}

/* Time axis: the whole recording, and the prediction if it lies near. */
static double time_max(const struct lm_rep_vm *v)
{
	double t_max = v->last_t_s > 1 ? v->last_t_s : 1;

	if (isfinite(v->predicted_switchover_t_s) && v->predicted_switchover_t_s > t_max &&
	    v->predicted_switchover_t_s < 3 * t_max)
		t_max = v->predicted_switchover_t_s;
	return t_max * 1.02;
}

static void layout_vm(struct vm_layout *L, const struct lm_rep_vm *v, double y_top, int width)
{
	/* an empty panel reads 0-1 MiB/s, 0-1 MiB */
	double max_rate = LM_MiB, max_rem = LM_MiB;
	size_t i;

	L->rate = (struct frame){ .x0 = ML, .x1 = width - MR, .y0 = y_top + HEAD_H, .h = RATE_H };
	L->rem = L->rate;
	L->band_y = L->rate.y0 + RATE_H + 10;
	L->bottom = L->band_y + BAND_H + 14 + REM_H;
	L->rem.y0 = L->band_y + BAND_H + 14;
	L->rem.h = REM_H;
	L->rate.t_max = L->rem.t_max = time_max(v);
	/* Scales from finite values only (the estimator's numbers are not trusted to be). */
	for (i = 0; i < v->nrounds; i++)
		max_rate = fmax(max_rate, finite_or(v->rounds[i].dirty_Bps, 0));
	for (i = 0; i < v->nsamples; i++) {
		max_rate = fmax(max_rate, finite_or(v->samples[i].tx_Bps, 0));
		max_rem = fmax(max_rem, finite_or(v->samples[i].remaining, 0));
	}
	L->ur = rate_unit;
	L->um = size_unit(max_rem);
	L->rate.v_max = axis_top(max_rate, L->ur.div);
	L->rem.v_max = axis_top(max_rem, L->um.div);
}

/* Opens the VM's group: title, then the estimator's last reason under it. */
static void draw_head(FILE *f, const struct lm_rep_vm *v, double y_top, int width)
{
	char title[256];

	fprintf(f, "<g id=\"vm-%u\">\n<text x=\"%d\" y=\"%.1f\" class=\"title\">", v->pid, ML, y_top + 20);
	snprintf(title, sizeof(title), "pid %u%s%s: %s, %u rounds, %.1f MiB sent", v->pid,
		 v->name[0] ? " " : "", v->name, lm_verdict_name(v->final.verdict),
		 v->rounds_total, v->tx_bytes / LM_MiB);
	xml_text(f, title);
	fputs("</text>\n", f);
	sub_lines(f, v->final.reason, y_top + 36, (width - ML - MR) / 7);
}

/* Both panels with their value axes, and the time axis under the lower one. */
static void draw_axes(FILE *f, const struct vm_layout *L)
{
	const struct frame *rem = &L->rem;
	double t_max = rem->t_max;
	char label[64];

	snprintf(label, sizeof(label), "rate (%s)", L->ur.name);
	y_axis(f, &L->rate, L->ur, label);
	snprintf(label, sizeof(label), "remaining (%s)", L->um.name);
	y_axis(f, rem, L->um, label);
	for (double t = 0, step = nice_step(t_max, 8); t <= t_max && t <= 20 * step; t += step)
		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%g</text>\n",
			px(rem, t), px(rem, t), rem->y0 + rem->h, rem->y0 + rem->h + 4,
			px(rem, t), rem->y0 + rem->h + 16, t);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\" text-anchor=\"middle\">seconds since the recording began</text>\n",
		(L->rate.x0 + L->rate.x1) / 2, L->bottom + 32);
}

/* The next verdict change at or after *ei (events of other kinds skipped). */
static size_t next_change(const struct lm_rep_vm *v, size_t ei)
{
	while (ei < v->nevents && v->events[ei].kind != 0)
		ei++;
	return ei;
}

/* Each sample's verdict until the next sample or change. */
static void draw_verdict_band(FILE *f, const struct lm_rep_vm *v, const struct vm_layout *L)
{
	fputs("<g class=\"verdict-band\" shape-rendering=\"crispEdges\">\n", f);
	for (size_t si = 0, ei = 0; si < v->nsamples || ei < v->nevents;) {
		double t, t1;
		uint32_t verdict;

		ei = next_change(v, ei);
		if (ei < v->nevents && (si >= v->nsamples || v->events[ei].t_s < v->samples[si].t_s)) {
			t = v->events[ei].t_s;
			verdict = v->events[ei++].value;
		} else if (si < v->nsamples) {
			t = v->samples[si].t_s;
			verdict = v->samples[si++].verdict;
		} else {
			break;
		}
		t1 = si < v->nsamples ? v->samples[si].t_s : v->last_t_s;
		ei = next_change(v, ei);
		if (ei < v->nevents && v->events[ei].t_s < t1)
			t1 = v->events[ei].t_s;
		/* whole pixels: crispEdges would leave hairline gaps between fractions */
		fprintf(f, "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.0f\" height=\"%d\" fill=\"%s\"/>\n",
			round(px(&L->rate, t)), L->band_y,
			fmax(round(px(&L->rate, t1)) - round(px(&L->rate, t)), 1), BAND_H,
			verdict_fill(verdict));
	}
	fputs("</g>\n", f);
}

/* Transfer first: where the rates are equal the dirty steps stay on top. */
static void draw_rates(FILE *f, const struct lm_rep_vm *v, const struct frame *rate)
{
	size_t i;

	fputs("<polyline class=\"transfer\" points=\"", f);
	for (i = 0; i < v->nsamples; i++)
		if (v->samples[i].tx_Bps >= 0)
			fprintf(f, "%.1f,%.1f ", px(rate, v->samples[i].t_s), py(rate, v->samples[i].tx_Bps));
	/* dirty rate of each round, as a step over the round's span */
	fputs("\"/>\n<path class=\"dirty\" d=\"", f);
	for (i = 0; i < v->nrounds; i++) {
		const struct lm_rep_round *r = &v->rounds[i];

		if (r->dirty_Bps < 0)
			continue;
		fprintf(f, "M%.1f %.1fH%.1f", px(rate, fmax(r->t_s - r->dur_s, 0)),
			py(rate, r->dirty_Bps), px(rate, r->t_s));
	}
	fputs("\"/>\n", f);
}

static void draw_remaining(FILE *f, const struct lm_rep_vm *v, const struct frame *rem)
{
	fputs("<polyline class=\"remaining\" points=\"", f);
	for (size_t i = 0; i < v->nsamples; i++)
		if (v->samples[i].remaining >= 0)
			fprintf(f, "%.1f,%.1f ", px(rem, v->samples[i].t_s), py(rem, v->samples[i].remaining));
	fputs("\"/>\n", f);
}

/* Sync rounds: ticks under the rates panel, numbered when there is room. */
static void draw_round_ticks(FILE *f, const struct lm_rep_vm *v, const struct frame *rate)
{
	for (size_t i = 0; i < v->nrounds; i++) {
		double x = px(rate, v->rounds[i].t_s);

		vline(f, "round", x, rate->y0 + rate->h - 6, rate->y0 + rate->h, "#555");
		if (v->nrounds <= 40)
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"rnum\" text-anchor=\"middle\">%u</text>\n",
				x, rate->y0 + rate->h - 9, v->rounds[i].round);
	}
}

/* A verdict change on the band; its name only if label is set (it fits). */
static void draw_change(FILE *f, const struct lm_rep_event *e, double x, double band_y, int label)
{
	vline(f, "verdict-change", x, band_y - 4, band_y + BAND_H + 4, verdict_fill(e->value));
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"verdict-change\" fill=\"%s\"><title>",
		x + 2, band_y - 3, verdict_fill(e->value));
	xml_text(f, e->text);
	fprintf(f, "</title>%s</text>\n", label ? lm_verdict_name(e->value) : "");
}

/* Migration start and end across both panels, verdict changes on the band. */
static void draw_events(FILE *f, const struct lm_rep_vm *v, const struct vm_layout *L)
{
	const struct frame *rate = &L->rate;
	double last_label_x = -1e9;

	for (size_t i = 0; i < v->nevents; i++) {
		const struct lm_rep_event *e = &v->events[i];
		double x = px(rate, e->t_s);

		if (e->kind == LM_OBS_START) {
			vline(f, "migration-start", x, rate->y0, L->bottom, "#777");
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"ev\">start</text>\n", x + 3, rate->y0 + 12);
		} else if (e->kind == LM_OBS_END) {
			vline(f, "migration-end", x, rate->y0, L->bottom, "#222");
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"ev\" text-anchor=\"end\">end: ", x - 3, rate->y0 + 12);
			xml_text(f, e->text);
			fputs("</text>\n", f);
		} else if (e->kind == LM_OBS_ACTION) {
			/* --act: what lmtrace did (or would have), on the rate panel */
			vline(f, "action", x, rate->y0, L->bottom, "#b05a00");
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"ev\">act: %s</text>\n", x + 3,
				rate->y0 + 24, lm_act_kind_name(e->value));
		} else {
			draw_change(f, e, x, L->band_y, x - last_label_x > 90);
			if (x - last_label_x > 90)
				last_label_x = x;
		}
	}
}

static void draw_prediction(FILE *f, const struct lm_rep_vm *v, const struct vm_layout *L)
{
	double t = v->predicted_switchover_t_s, x;

	if (!isfinite(t) || t < 0 || t > L->rate.t_max)
		return;
	x = px(&L->rate, t);
	fprintf(f, "<line class=\"predicted-switchover\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
		x, x, L->rate.y0, L->bottom);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"ev pred\" text-anchor=\"end\">predicted switchover %.1f s (said at %.1f s)</text>\n",
		x - 3, L->rate.y0 + 26, t, v->predicted_at_t_s);
}

/* The legend, and the end of the VM's group. */
static void draw_legend(FILE *f, double y)
{
	fprintf(f, "<g class=\"legend\" transform=\"translate(%d %.1f)\">"
		"<line x1=\"0\" x2=\"18\" y1=\"0\" y2=\"0\" class=\"dirty\"/><text x=\"22\" y=\"4\">dirty rate per round</text>"
		"<line x1=\"170\" x2=\"188\" y1=\"0\" y2=\"0\" class=\"transfer\"/><text x=\"192\" y=\"4\">transfer rate</text>"
		"<line x1=\"300\" x2=\"318\" y1=\"0\" y2=\"0\" class=\"remaining\"/><text x=\"322\" y=\"4\">remaining</text>"
		"<line x1=\"410\" x2=\"428\" y1=\"0\" y2=\"0\" class=\"predicted-switchover\"/><text x=\"432\" y=\"4\">predicted switchover</text>"
		"</g>\n</g>\n", ML, y);
}

static void draw_vm(FILE *f, const struct lm_rep_vm *v, double y_top, int width)
{
	struct vm_layout L;

	layout_vm(&L, v, y_top, width);
	draw_head(f, v, y_top, width);
	draw_axes(f, &L);
	draw_verdict_band(f, v, &L);
	draw_rates(f, v, &L.rate);
	draw_remaining(f, v, &L.rem);
	draw_round_ticks(f, v, &L.rate);
	draw_events(f, v, &L);
	draw_prediction(f, v, &L);
	draw_legend(f, L.bottom + 48);
}

static const char css[] =
	".panel{fill:#fbfbfb;stroke:#999;stroke-width:1}"
	".grid{stroke:#e2e2e2;stroke-width:1}"
	".tick,.rnum,.legend text{font:11px sans-serif;fill:#444}"
	".axis{font:12px sans-serif;fill:#222}"
	".title{font:bold 15px sans-serif;fill:#111}"
	".sub{font:12px sans-serif;fill:#555}"
	".ev{font:11px sans-serif;fill:#222}.pred{fill:#1d7a36}"
	".verdict-change{font:bold 10px sans-serif;stroke-width:2}"
	".dirty{fill:none;stroke:#d23a2f;stroke-width:2.5}"
	".transfer{fill:none;stroke:#2a62c9;stroke-width:5;stroke-opacity:.55}"
	".remaining{fill:none;stroke:#7b3fb3;stroke-width:2}"
	".predicted-switchover{stroke:#1d7a36;stroke-width:2;stroke-dasharray:6 4}"
	".migration-start,.migration-end,.round{stroke-width:1.5}";

static void svg(const struct lm_rep *rep, FILE *f, int width)
{
	int height = rep->nvms * VM_H + 40;
	char head[512];

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
		width, height, width, height);
	fprintf(f, "<style>%s</style>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", css);
	snprintf(head, sizeof(head), "lmtrace report: %s", rep->source);
	fputs("<text x=\"12\" y=\"22\" class=\"title\">", f);
	xml_text(f, head);
	fputs("</text>\n", f);
	for (int i = 0; i < rep->nvms; i++)
		draw_vm(f, rep->vms[i], 30 + i * VM_H, width);
	fputs("</svg>\n", f);
}

static void html(const struct lm_rep *rep, FILE *f, int width)
{
	char num[32];

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lmtrace report: ", f);
	xml_text(f, rep->source);
	fputs("</title>\n<style>body{font:14px sans-serif;margin:1.5em;color:#111}"
	      "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
	      "th{background:#f2f2f2}td.n{text-align:right}</style></head><body>\n<h1>lmtrace report</h1>\n<p>Recording: <code>", f);
	xml_text(f, rep->source);
	fputs("</code></p>\n", f);
	svg(rep, f, width);
	for (int i = 0; i < rep->nvms; i++) {
		const struct lm_rep_vm *v = rep->vms[i];
		const struct lm_estimate *e = &v->final;

		fprintf(f, "<h2>pid %u ", v->pid);
		xml_text(f, v->name);
		fprintf(f, "</h2>\n<table class=\"summary\"><tr><th>final verdict</th><td>%s</td></tr>"
			"<tr><th>reason</th><td>", lm_verdict_name(e->verdict));
		xml_text(f, e->reason);
		fprintf(f, "</td></tr><tr><th>rounds</th><td class=\"n\">%u</td></tr>"
			"<tr><th>RAM</th><td class=\"n\">%.1f MiB</td></tr>"
			"<tr><th>sent</th><td class=\"n\">%.1f MiB</td></tr>"
			"<tr><th>dirty pages (rounds &ge; 2)</th><td class=\"n\">%llu</td></tr>"
			"<tr><th>last ETA</th><td class=\"n\">", v->rounds_total, v->ram_bytes / LM_MiB,
			v->tx_bytes / LM_MiB, (unsigned long long)v->dirty_pages);
		fputs(lm_fmt_num(num, sizeof(num), e->eta_s, 1, " s"), f);
		fputs("</td></tr><tr><th>predicted downtime</th><td class=\"n\">", f);
		fputs(lm_fmt_num(num, sizeof(num), e->downtime_ms, 0, " ms"), f);
		fprintf(f, " (limit %.0f ms)</td></tr><tr><th>recommended throttle</th><td class=\"n\">",
			v->downtime_limit_s * 1e3);
		fputs(lm_fmt_num(num, sizeof(num), e->throttle_pct, 0, " %"), f);
		fputs("</td></tr></table>\n<table class=\"events\"><tr><th>t (s)</th><th>event</th><th>detail</th></tr>\n", f);
		for (size_t k = 0; k < v->nevents; k++) {
			const struct lm_rep_event *ev = &v->events[k];

			fprintf(f, "<tr><td class=\"n\">%.1f</td><td>%s</td><td>", ev->t_s,
				ev->kind == LM_OBS_START ? "start" : ev->kind == LM_OBS_END ? "end" :
				ev->kind == LM_OBS_ACTION ? "action" : lm_verdict_name(ev->value));
			xml_text(f, ev->text);
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n", f);
	}
	fputs("</body></html>\n", f);
}

int lm_report_write(const struct lm_rep *rep, FILE *f, enum lm_rep_format fmt, int width)
{
	if (fmt == LM_REP_HTML)
		html(rep, f, width);
	else
		svg(rep, f, width);
	return ferror(f) ? -EIO : 0;
}

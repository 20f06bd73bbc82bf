// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `lmtrace report FILE -o OUT`: options (argp), then report/report.c draws. */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli/cli.h"
#include "report/report.h"

#define WIDTH_DEFAULT	960
#define WIDTH_MIN	480	/* narrower and the labels overlap */
#define WIDTH_MAX	4000

static const char doc[] =
"Draw a recording (made with lmtrace -w FILE): dirty rate, transfer rate and\n"
"remaining bytes per round over time, verdict changes and the predicted\n"
"switchover, one chart per VM.\n"
"\n"
"EXAMPLES:\n"
"    lmtrace -p 4242 -w mig.lmrec           # record a migration\n"
"    lmtrace report mig.lmrec -o mig.svg    # draw it\n"
"    lmtrace report mig.lmrec -o mig.html   # a page to attach to a ticket\n"
"\n"
"OPTIONS:";

static const struct argp_option options[] = {
	{ "output", 'o', "OUT", 0, "Chart file: .svg, or .html for a self-contained page with the "
	  "verdict history; '-' writes SVG to stdout", 0 },
	{ "format", 'f', "FMT", 0, "svg or html (default: from OUT's extension)", 0 },
	{ "width", 'W', "PX", 0, "Chart width in pixels (default 960, 480..4000)", 0 },
	{},
};

struct report_opts {
	const char *in, *out, *format;
	int width;
};

static int parse_width(struct argp_state *state, const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < WIDTH_MIN || v > WIDTH_MAX)
		argp_error(state, "--width %s: give %d to %d pixels", arg, WIDTH_MIN, WIDTH_MAX);
	return (int)v;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct report_opts *r = state->input;

	switch (key) {
	case 'o': r->out = arg; break;
	case 'f':
		if (strcmp(arg, "svg") && strcmp(arg, "html"))
			argp_error(state, "--format %s: use svg or html", arg);
		r->format = arg;
		break;
	case 'W': r->width = parse_width(state, arg); break;
	case ARGP_KEY_ARG:
		if (r->in)
			argp_error(state, "give one recording FILE");
		r->in = arg;
		break;
	case ARGP_KEY_END:
		if (!r->in)
			argp_error(state, "give one recording FILE");
		if (!r->out)
			argp_error(state, "give the chart file with -o OUT");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcasecmp(s + n - m, suffix);
}

int lm_cmd_report(int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, "FILE", doc, NULL, NULL, NULL };
	struct report_opts r = { .width = WIDTH_DEFAULT };
	enum lm_rep_format fmt;
	char err[512] = "";

	argp_err_exit_status = 2;
	argp_parse(&argp, argc, argv, 0, NULL, &r);
	if (r.format)
		fmt = strcmp(r.format, "html") ? LM_REP_SVG : LM_REP_HTML;
	else
		fmt = ends_with(r.out, ".html") || ends_with(r.out, ".htm") ? LM_REP_HTML : LM_REP_SVG;
	if (lm_report_make(r.in, r.out, fmt, r.width, err, sizeof(err))) {
		fprintf(stderr, "lmtrace report: %s\n", err);
		return 1;
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `lmtrace check`: before a migration, whether it would converge over a
 * given link with a given downtime limit, how long it would take and what
 * would make it converge (trace/check_windows.c measures, core/check_model.c
 * judges). Several VMs: one at a time, a table, and whether they converge
 * migrating together over one link.
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/check_table.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "core/check_model.h"
#include "core/model.h"
#include "core/units.h"
#include "trace/check_windows.h"
#include "trace/json.h"

/* Default bound on one VM's windows: 1 s and 2 s (QEMU 7.2's shortest are whole seconds). */
#define MAX_WINDOWS_DEFAULT_S	4
#define MAX_WINDOWS_MAX_S	120
/* --bandwidth's range, as the trace options': 1 byte/s to 1048576 GiB/s. */

static const char doc[] =
"Before a migration: would it converge over this link with this downtime\n"
"limit, how long would it take, and if not, what would make it converge?\n"
"lmtrace asks QEMU for short dirty-logging windows (calc-dirty-rate,\n"
"dirty-bitmap mode: 1 s, then 2 s, ... within --max-probe), counts the\n"
"unique pages the guest dirtied in each from the kernel, and runs the live\n"
"estimator's model of QEMU's pre-copy on them. Never while the VM migrates.\n"
"\n"
"EXAMPLES:\n"
"    lmtrace check -p 4242 --qmp /run/vm1.qmp --bandwidth 1G\n"
"    lmtrace check 4242=/run/vm1.qmp 4343=/run/vm2.qmp --bandwidth 1G\n"
"\n"
"Bandwidth and downtime limit default to QEMU's max-bandwidth and\n"
"downtime-limit. With several VMs, the table also says whether all of them\n"
"converge migrating at once, each with an equal share of --bandwidth.\n"
"Exit status: 0 checked, 1 a VM could not be checked (e.g. it migrates),\n"
"2 usage error.\n"
"\n"
"OPTIONS:";

enum { OPT_QMP = 256, OPT_BW, OPT_DOWNTIME, OPT_SW_BW, OPT_MAX_PROBE };

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "The VM's QEMU process (with --qmp)", 0 },
	{ "qmp", OPT_QMP, "SOCKET", 0, "Its QMP socket (a free one: QEMU serves one client per socket)", 0 },
	{ "bandwidth", OPT_BW, "BYTES/S", 0, "The migration's rate: 32M, 1G (powers of 1024); "
	  "default QEMU's max-bandwidth", 0 },
	{ "downtime-limit", OPT_DOWNTIME, "MS", 0, "1 to 3600000; default QEMU's downtime-limit", 0 },
	{ "switchover-bandwidth", OPT_SW_BW, "BYTES/S", 0, "Rate once the VM is stopped; without it "
	  "the downtime is an upper bound", 0 },
	{ "max-probe", OPT_MAX_PROBE, "SECONDS", 0, "Dirty logging per VM, at most (1 to 120, default 4)", 0 },
	{ "json", 'j', 0, 0, "One JSON object per VM (and one for the shared link)", 0 },
	{ "verbose", 'v', 0, 0, "libbpf's messages", 0 },
	{},
};

struct check_args {
	struct lm_check_vm vms[LM_CHECK_MAX_VMS];
	int nvms;
	pid_t pid;
	const char *qmp;
	double bandwidth_Bps, downtime_ms, switchover_Bps, max_windows_s;
	int json, verbose;
};

static pid_t parse_pid(struct argp_state *st, const char *arg, size_t len)
{
	char buf[24], *end;
	long v;

	if (len == 0 || len >= sizeof(buf))
		argp_error(st, "invalid pid '%.*s'", (int)len, arg);
	memcpy(buf, arg, len);
	buf[len] = 0;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || *end || v < 1 || v > 4194304)
		argp_error(st, "invalid pid '%s': give a process id", buf);
	return (pid_t)v;
}

/* PID=SOCKET */
static void add_pair(struct argp_state *st, struct check_args *o, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || !eq[1])
		argp_error(st, "'%s': give PID=SOCKET (a QEMU process and its QMP socket)", arg);
	if (o->nvms == LM_CHECK_MAX_VMS)
		argp_error(st, "at most %d VMs at once", LM_CHECK_MAX_VMS);
	o->vms[o->nvms].pid = parse_pid(st, arg, (size_t)(eq - arg));
	o->vms[o->nvms++].qmp_path = eq + 1;
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct check_args *o = st->input;

	switch (key) {
	case 'p': o->pid = parse_pid(st, arg, strlen(arg)); break;
	case OPT_QMP: o->qmp = arg; break;
	case OPT_BW: o->bandwidth_Bps = lm_parse_bytes(st, "bandwidth", arg); break;
	case OPT_SW_BW: o->switchover_Bps = lm_parse_bytes(st, "switchover bandwidth", arg); break;
	case OPT_DOWNTIME:
		o->downtime_ms = lm_parse_number(st, "downtime limit (ms)", arg, 1, LM_DOWNTIME_LIMIT_MAX_MS,
					     "1 to 3600000");
		break;
	case OPT_MAX_PROBE:
		o->max_windows_s = lm_parse_number(st, "--max-probe (seconds)", arg, LM_CHECK_WINDOW_MIN_S,
						   MAX_WINDOWS_MAX_S, "1 to 120");
		break;
	case 'j': o->json = 1; break;
	case 'v': o->verbose = 1; break;
	case ARGP_KEY_ARG: add_pair(st, o, arg); break;
	case ARGP_KEY_END:
		if (o->pid || o->qmp) {
			if (!o->pid || !o->qmp)
				argp_error(st, "-p PID and --qmp SOCKET go together");
			if (o->nvms == LM_CHECK_MAX_VMS)
				argp_error(st, "at most %d VMs at once", LM_CHECK_MAX_VMS);
			o->vms[o->nvms].pid = o->pid;
			o->vms[o->nvms++].qmp_path = o->qmp;
		}
		if (!o->nvms)
			argp_error(st, "which VM? give -p PID --qmp SOCKET, or PID=SOCKET pairs");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

/* The model's input from a VM's measurement and the options (QEMU's settings by default). */
static int model_input(const struct check_args *o, const struct lm_check_result *p, struct lm_check_model_input *in)
{
	int i;

	memset(in, 0, sizeof(*in));
	in->ram_bytes = p->ram_bytes;
	in->resident_bytes = p->resident_bytes;
	in->bandwidth_Bps = o->bandwidth_Bps > 0 ? o->bandwidth_Bps : p->max_bandwidth_Bps;
	in->downtime_limit_s = (o->downtime_ms > 0 ? o->downtime_ms :
				p->downtime_limit_ms > 0 ? p->downtime_limit_ms : LM_QEMU_DOWNTIME_LIMIT_DEFAULT_MS) / 1e3;
	in->switchover_Bps = o->switchover_Bps;
	for (i = 0; i < p->nwin; i++)
		in->win[i] = (struct lm_check_model_window){ .window_s = p->win[i].window_s,
						    .bytes = (double)p->win[i].dirty_pages * p->page_size };
	in->nwin = p->nwin;
	return in->bandwidth_Bps > 0 && in->ram_bytes ? 0 : -EINVAL;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *num_or_null(double v, int known)
{
	return known ? json_real(v) : json_null();
}

static json_t *json_windows(const struct lm_check_result *p)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < p->nwin; i++)
		json_array_append_new(a, json_pack("{s:f, s:I, s:I, s:I, s:o}",
			"window_s", p->win[i].window_s, "dirty_pages", (json_int_t)p->win[i].dirty_pages,
			"dirty_bytes", (json_int_t)(p->win[i].dirty_pages * p->page_size),
			"calc_time_s", (json_int_t)p->win[i].calc_time_s,
			"qemu_dirty_rate_mb_per_s", num_or_null(p->win[i].qemu_dirty_rate_MBps,
							       p->win[i].qemu_dirty_rate_MBps >= 0)));
	return a;
}

static json_t *json_result(const struct lm_check_model_input *in, const struct lm_check_model_result *r)
{
	return json_pack("{s:s, s:f, s:s, s:o, s:o, s:b, s:o, s:o, s:I, s:b, s:f, s:f, s:f, s:f, s:i, s:f, s:f}",
		"verdict", lm_verdict_name(r->verdict), "confidence", r->confidence, "reason", r->reason,
		"total_s", num_or_null(r->total_s, r->total_s >= 0),
		"downtime_ms", num_or_null(r->downtime_ms, r->downtime_ms >= 0),
		"downtime_is_bound", r->downtime_is_bound,
		"throttle_pct", num_or_null(r->throttle_pct, r->throttle_pct >= 0),
		"min_bandwidth_bytes_per_s", num_or_null(r->min_bandwidth_Bps, r->min_bandwidth_Bps > 0),
		"wws_bytes", (json_int_t)r->wws_bytes, "wws_is_lower_bound", r->wws_is_lower_bound,
		"bandwidth_bytes_per_s", in->bandwidth_Bps, "downtime_limit_ms", in->downtime_limit_s * 1e3,
		"bulk_s", r->bulk_s, "horizon_s", r->horizon_s, "syncs", (int)r->syncs,
		"short_dirty_rate_bytes_per_s", r->short_dirty_rate_Bps, "dirty_ratio", r->ratio);
}

static void print_json_vm(const struct lm_check_result *p, const struct lm_check_model_input *in,
			  const struct lm_check_model_result *r, const char *error)
{
	struct timespec ts;
	json_t *o, *res = NULL;
	char *s;

	clock_gettime(CLOCK_REALTIME, &ts);
	o = json_pack("{s:s, s:f, s:i, s:s, s:I, s:I, s:f, s:o}", "type", "check",
		      "ts", ts.tv_sec + ts.tv_nsec / 1e9, "pid", (int)p->pid, "vm", p->name,
		      "ram_bytes", (json_int_t)p->ram_bytes, "resident_bytes", (json_int_t)p->resident_bytes,
		      "probe_s", p->elapsed_s, "windows", json_windows(p));
	if (p->warning[0])
		json_object_set_new(o, "warning", json_string(p->warning));
	if (error)
		json_object_set_new(o, "error", json_string(error));
	else
		json_object_update(o, res = json_result(in, r));
	json_decref(res);
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
}

/* ---- text ------------------------------------------------------------------ */

static const char *fmt_rate(char *buf, size_t len, double Bps)
{
	if (!(Bps > 0))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f MiB/s", Bps / LM_MiB);
	return buf;
}

static void print_text_vm(const struct lm_check_result *p, const struct lm_check_model_input *in,
			  const struct lm_check_model_result *r)
{
	char a[24], b[24], c[24];
	int i;

	lm_fmt_bytes(a, sizeof(a), (double)p->ram_bytes);
	lm_fmt_bytes(b, sizeof(b), (double)p->resident_bytes);
	printf("VM %d (%s): %s RAM, %s touched; at %s with a %.0f ms downtime limit\n", (int)p->pid, p->name,
	       a, p->resident_bytes ? b : "? (all counted)", fmt_rate(c, sizeof(c), in->bandwidth_Bps),
	       in->downtime_limit_s * 1e3);
	printf("  windows (calc-dirty-rate, unique pages counted by lmtrace):\n");
	for (i = 0; i < p->nwin; i++) {
		lm_fmt_bytes(a, sizeof(a), (double)p->win[i].dirty_pages * p->page_size);
		printf("    %5.2f s  %10s dirtied", p->win[i].window_s, a);
		if (p->win[i].qemu_dirty_rate_MBps >= 0)
			printf("  (QEMU: %.0f MB/s)", p->win[i].qemu_dirty_rate_MBps);
		printf("\n");
	}
	printf("  verdict:            %s (confidence %.2f)\n", lm_verdict_name(r->verdict), r->confidence);
	printf("  why:                %s\n", r->reason);
	if (r->total_s >= 0)
		printf("  predicted:          %.1f s to switchover (bulk pass %.1f s), %u syncs, downtime %s%.0f ms\n",
		       r->total_s, r->bulk_s, r->syncs, r->downtime_is_bound ? "<= " : "", r->downtime_ms);
	else
		printf("  predicted:          no switchover within %.0f s after the bulk pass (%.1f s)\n",
		       r->horizon_s, r->bulk_s);
	printf("  smallest bandwidth: %s with no throttle\n", r->min_bandwidth_Bps > 0 ?
	       fmt_rate(a, sizeof(a), r->min_bandwidth_Bps) : "none up to 1 TiB/s");
	if (r->throttle_pct == 0)
		printf("  throttle:           none needed at %s\n", fmt_rate(a, sizeof(a), in->bandwidth_Bps));
	else if (r->throttle_pct > 0)
		printf("  throttle:           %.0f %% converges at %s (a CPU-bound guest; one paced by a timer "
		       "slows less)\n", r->throttle_pct, fmt_rate(a, sizeof(a), in->bandwidth_Bps));
	else
		printf("  throttle:           none up to QEMU's %d %% converges at %s\n",
		       LM_QEMU_THROTTLE_MAX_PCT, fmt_rate(a, sizeof(a), in->bandwidth_Bps));
	lm_fmt_bytes(a, sizeof(a), (double)r->wws_bytes);
	printf("  working set:        %s%s\n", r->wws_is_lower_bound ? ">= " : "", a);
	if (r->wws_is_lower_bound)
		printf("                      (still growing at the %.0f s window: past it U(T) is "
		       "extrapolated)\n", r->longest_window_s);
}

int lm_cmd_check(int argc, char **argv)
{
	static struct check_args o;
	static struct lm_check_result res[LM_CHECK_MAX_VMS];
	static struct lm_check_model_input in[LM_CHECK_MAX_VMS];
	static struct lm_check_model_result out[LM_CHECK_MAX_VMS];
	struct argp argp = { options, parse_opt, "[PID=SOCKET...]", doc };
	struct sigaction sa = { .sa_handler = on_signal };
	struct lm_check_opts co;
	char err[256] = "";
	int i, ret, failed = 0;

	o.max_windows_s = MAX_WINDOWS_DEFAULT_S;
	argp_err_exit_status = 2;
	argp_parse(&argp, argc, argv, 0, NULL, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	co = (struct lm_check_opts){ .max_windows_s = o.max_windows_s, .verbose = o.verbose,
				     .stop = &stop_requested };
	ret = lm_check_run(o.vms, o.nvms, &co, res, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "lmtrace check: %s\n", err);
		return 1;
	}
	for (i = 0; i < o.nvms; i++) {
		const char *why = res[i].error[0] ? res[i].error : NULL;

		if (!why && (model_input(&o, &res[i], &in[i]) || lm_check_model_run(&in[i], &out[i])))
			why = "QEMU gave no RAM size or bandwidth: give --bandwidth";
		if (why) {
			fprintf(stderr, "lmtrace check: pid %d: %s\n", (int)res[i].pid, why);
			failed = 1;
		}
		if (res[i].warning[0])
			fprintf(stderr, "lmtrace check: pid %d: warning while measuring: %s\n",
				(int)res[i].pid, res[i].warning);
		if (o.json)
			print_json_vm(&res[i], &in[i], &out[i], why);
		else if (!why && o.nvms == 1)
			print_text_vm(&res[i], &in[i], &out[i]);
	}
	if (o.nvms > 1)
		lm_check_table(o.nvms, res, in, out, o.bandwidth_Bps, o.json);
	return failed ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The table of `lmtrace check` with several VMs (check_table.h). */
#include <stdio.h>
#include <stdlib.h>
#include "cli/check_table.h"
#include "core/units.h"
#include "trace/json.h"

/* What the operator should do with a VM, from its check at its own bandwidth. */
static const char *advice(const struct lm_check_model_result *r)
{
	if (r->verdict == LM_VERDICT_CONVERGING)
		return "move now";
	if (r->throttle_pct > 0)
		return "needs a throttle";
	return "do not move";
}

static void print_row(const struct lm_check_result *p, const struct lm_check_model_result *r)
{
	char total[16], bw[16], thr[16], wws[24];

	if (p->error[0]) {
		printf("%-8d %-16.16s %s\n", (int)p->pid, p->name, p->error);
		return;
	}
	snprintf(total, sizeof(total), r->total_s >= 0 ? "%.1f s" : "never", r->total_s);
	snprintf(bw, sizeof(bw), r->min_bandwidth_Bps > 0 ? "%.1f" : "-", r->min_bandwidth_Bps / LM_MiB);
	snprintf(thr, sizeof(thr), r->throttle_pct >= 0 ? "%.0f %%" : "none", r->throttle_pct);
	lm_fmt_bytes(wws, sizeof(wws), (double)r->wws_bytes);
	printf("%-8d %-16.16s %-15s %4.2f %9s %10s %9s %s%-10s %s\n", (int)p->pid, p->name,
	       lm_verdict_name(r->verdict), r->confidence, total, bw, thr,
	       r->wws_is_lower_bound ? ">=" : "  ", wws, advice(r));
}

/* The measured VMs' inputs, and the link they would share. */
static int shared_inputs(int n, const struct lm_check_result *res, const struct lm_check_model_input *in,
			 struct lm_check_model_input *ok, int *idx, double *link_Bps)
{
	int i, m = 0;

	for (i = 0; i < n; i++) {
		if (res[i].error[0])
			continue;
		if (!(*link_Bps > 0) || in[i].bandwidth_Bps < *link_Bps)
			*link_Bps = in[i].bandwidth_Bps;
		idx[m] = i;
		ok[m++] = in[i];
	}
	return m;
}

static void print_shared_json(int m, const int *idx, const struct lm_check_result *res,
			      const struct lm_check_model_result *sh, double link, int all)
{
	json_t *o = json_pack("{s:s, s:i, s:f, s:f, s:b, s:[]}", "type", "check-shared", "pid", 0,
			      "bandwidth_bytes_per_s", link, "share_bytes_per_s", link / m,
			      "all_converge", all, "vms");
	json_t *vms = json_object_get(o, "vms");
	char *s;
	int i;

	for (i = 0; i < m; i++)
		json_array_append_new(vms, json_pack("{s:i, s:s, s:s, s:o}", "pid", (int)res[idx[i]].pid,
			"vm", res[idx[i]].name, "verdict", lm_verdict_name(sh[i].verdict),
			"total_s", sh[i].total_s >= 0 ? json_real(sh[i].total_s) : json_null()));
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
}

void lm_check_table(int n, const struct lm_check_result *res, const struct lm_check_model_input *in,
		    const struct lm_check_model_result *out, double link_Bps, int json)
{
	static struct lm_check_model_input ok[LM_CHECK_MAX_VMS];
	static struct lm_check_model_result sh[LM_CHECK_MAX_VMS];
	int idx[LM_CHECK_MAX_VMS], i, m, all;

	if (!json) {
		printf("%-8s %-16s %-15s %4s %9s %10s %9s %-12s %s\n", "PID", "VM", "VERDICT", "CONF",
		       "TOTAL", "MIN MiB/s", "THROTTLE", "  WWS", "ADVICE");
		for (i = 0; i < n; i++)
			print_row(&res[i], &out[i]);
	}
	m = shared_inputs(n, res, in, ok, idx, &link_Bps);
	if (m < 2)
		return;
	all = lm_check_model_shared(ok, m, link_Bps, sh);
	if (json) {
		print_shared_json(m, idx, res, sh, link_Bps, all);
		return;
	}
	printf("\nAll %d at once over %.1f MiB/s (%.1f MiB/s each): %s\n", m, link_Bps / LM_MiB,
	       link_Bps / LM_MiB / m, all ? "all converge" : "NOT all converge");
	for (i = 0; i < m; i++)
		printf("  %-8d %-16.16s %-15s %s\n", (int)res[idx[i]].pid, res[idx[i]].name,
		       lm_verdict_name(sh[i].verdict), sh[i].reason);
}

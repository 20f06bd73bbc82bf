/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `lmtrace check` with several VMs: the table, and the shared-link question. */
#ifndef LM_CHECK_TABLE_H
#define LM_CHECK_TABLE_H

#include "core/check_model.h"
#include "trace/check_windows.h"

/*
 * One row per VM (those with an error say it), then whether all measured
 * VMs converge migrating at once over link_Bps (0: the smallest bandwidth
 * any of them would get alone), each with an equal share. json: one
 * "check-shared" object instead (the VMs' own objects are printed already).
 */
void lm_check_table(int n, const struct lm_check_result *res, const struct lm_check_model_input *in,
		    const struct lm_check_model_result *out, double link_Bps, int json);

#endif /* LM_CHECK_TABLE_H */

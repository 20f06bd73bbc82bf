/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Names and units shared by the estimator and every output, so that one
 * idea is printed one way everywhere.
 */
#ifndef LM_UNITS_H
#define LM_UNITS_H

#include <stdint.h>
#include "core/estimate.h"
#include "core/obs.h"

const char *lm_verdict_name(enum lm_verdict v);	/* "unknown", "converging", "marginal", "not-converging" */
const char *lm_source_name(uint32_t source);	/* enum lm_dirty_source */
const char *lm_end_reason_name(uint32_t reason); /* enum lm_end_reason */

#endif /* LM_UNITS_H */

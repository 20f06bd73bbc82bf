/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Text for people, shared by the outputs that print it (rows, live view,
 * report), so each rule is written once: how the estimator's reason is
 * wrapped into a few lines, and how an unknown number reads. (CSV and JSON
 * have their own rules for unknown: an empty field, null.)
 */
#ifndef LM_TEXT_FMT_H
#define LM_TEXT_FMT_H

#include <stddef.h>

/* v with decimals, then unit (e.g. " ms", or ""); "-" when unknown (negative). Returns buf. */
const char *lm_fmt_num(char *buf, size_t len, double v, int decimals, const char *unit);

/*
 * The next line of s, at most width characters: broken at the last space
 * in its second half (else cut at half the width). On the last line (last
 * != 0) text that does not fit is cut so that "..." still fits in width.
 * Returns the line's length; *next is where the following line starts
 * (spaces skipped). The caller appends "..." when last and **next remains.
 */
int lm_wrap_line(const char *s, int width, int last, const char **next);

#endif /* LM_TEXT_FMT_H */

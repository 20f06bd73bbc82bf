// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Names and units every output shares (units.h). */
#include <stdio.h>
#include <string.h>
#include "core/units.h"

const char *lm_fmt_bytes(char *buf, size_t len, double v)
{
	if (v >= 10 * LM_GiB)
		snprintf(buf, len, "%.1f GiB", v / LM_GiB);
	else if (v >= 10 * LM_MiB)
		snprintf(buf, len, "%.0f MiB", v / LM_MiB);
	else if (v >= LM_MiB)
		snprintf(buf, len, "%.1f MiB", v / LM_MiB);
	else
		snprintf(buf, len, "%.0f KiB", v / LM_KiB);
	return buf;
}

double lm_dirty_rate_Bps(const struct lm_obs_dirty_rate *d, uint64_t page_size)
{
	if (!d->window_ns)
		return -1;
	return (double)d->dirty_pages * (double)page_size / (d->window_ns / 1e9);
}

const char *lm_phase_name(uint32_t phase)
{
	switch (phase) {
	case LM_PHASE_BULK:
	case LM_PHASE_ITERATIVE:	return "precopy";	/* the first pass, then the rounds */
	case LM_PHASE_SWITCHOVER:	return "stop-and-copy";
	case LM_PHASE_POSTCOPY:		return "postcopy";
	case LM_PHASE_ENDED:		return "ended";
	default:			return "idle";
	}
}

const char *lm_verdict_name(enum lm_verdict v)
{
	switch (v) {
	case LM_VERDICT_CONVERGING:	return "converging";
	case LM_VERDICT_MARGINAL:	return "marginal";
	case LM_VERDICT_NOT_CONVERGING:	return "not-converging";
	default:			return "unknown";
	}
}

const char *lm_change_cause_name(uint32_t c)
{
	static const char *names[] = { "none", "first", "rounds", "fixed-point", "shrinking", "grew",
				       "parameters", "measured", "in-round", "switchover", "ended", "check" };

	return c < sizeof(names) / sizeof(names[0]) ? names[c] : "none";
}

const char *lm_source_name(uint32_t source)
{
	switch (source) {
	case LM_SRC_BITMAP: return "bitmap";
	case LM_SRC_RING: return "dirty-ring";
	case LM_SRC_FENTRY: return "bitmap+fentry";
	case LM_SRC_KPROBE: return "bitmap+kprobe";
	default: return "unknown";
	}
}

const char *lm_end_reason_name(uint32_t reason)
{
	switch (reason) {
	case LM_END_CANCELLED: return "cancelled";
	case LM_END_COMPLETED: return "completed";
	case LM_END_PROC_EXIT: return "process-exited";
	case LM_END_TRACE_STOP: return "trace-stopped";
	default: return "unknown";
	}
}

/*
 * Well-formed UTF-8 (the Unicode Standard's table 3-7): the ranges of the
 * first and second bytes, and the length. Anything else is rejected: a
 * continuation first, an overlong form, a surrogate, beyond U+10FFFF.
 */
static const struct {
	unsigned char first_lo, first_hi, lo, hi, len;
} utf8_forms[] = {
	{ 0x00, 0x7f, 0x00, 0x00, 1 }, { 0xc2, 0xdf, 0x80, 0xbf, 2 },
	{ 0xe0, 0xe0, 0xa0, 0xbf, 3 }, { 0xe1, 0xec, 0x80, 0xbf, 3 },
	{ 0xed, 0xed, 0x80, 0x9f, 3 }, { 0xee, 0xef, 0x80, 0xbf, 3 },
	{ 0xf0, 0xf0, 0x90, 0xbf, 4 }, { 0xf1, 0xf3, 0x80, 0xbf, 4 },
	{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
};
#define UTF8_FORMS (sizeof(utf8_forms) / sizeof(utf8_forms[0]))

size_t lm_utf8_char(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t f, i, len;
	uint32_t c;

	if (!n)
		return 0;
	for (f = 0; f < UTF8_FORMS; f++)
		if (p[0] >= utf8_forms[f].first_lo && p[0] <= utf8_forms[f].first_hi)
			break;
	if (f == UTF8_FORMS || n < utf8_forms[f].len)
		return 0;
	len = utf8_forms[f].len;
	c = p[0] & (0xff >> (len == 1 ? 1 : len + 1));	/* the first byte's payload */
	for (i = 1; i < len; i++) {
		if (p[i] < (i == 1 ? utf8_forms[f].lo : 0x80) || p[i] > (i == 1 ? utf8_forms[f].hi : 0xbf))
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (cp)
		*cp = c;
	return len;
}

size_t lm_sanitize_text(char *dst, size_t len, const void *src, size_t srclen)
{
	const char *s = src;
	size_t i = 0, o = 0, n;
	uint32_t cp;

	if (!len)
		return 0;
	while (i < srclen) {
		n = lm_utf8_char(s + i, srclen - i, &cp);
		/* A terminal, a log or a label must not see these raw. */
		if (!n || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			if (o + 1 >= len)
				break;
			dst[o++] = '?';
			i += n ? n : 1;
			continue;
		}
		if (o + n >= len)
			break;			/* never half a character */
		memcpy(dst + o, s + i, n);
		o += n;
		i += n;
	}
	dst[o] = '\0';
	return o;
}

size_t lm_sanitize_name(char *dst, size_t len, const char *src)
{
	return lm_sanitize_text(dst, len, src, strlen(src));
}

const char *lm_act_kind_name(uint32_t action)
{
	static const char *const names[] = { "none", "throttle", "downtime", "postcopy", "cancel",
					     "release" };

	return action < sizeof(names) / sizeof(names[0]) ? names[action] : "unknown";
}

const char *lm_act_outcome_name(uint32_t outcome)
{
	static const char *const names[] = { "dry-run", "applied", "failed", "refused", "unknown" };

	return outcome < sizeof(names) / sizeof(names[0]) ? names[outcome] : "unknown";
}

const char *lm_act_fmt(char *buf, size_t len, uint32_t action, uint32_t value)
{
	if (action == LM_ACT_THROTTLE)
		snprintf(buf, len, "throttle %u %%", value);
	else if (action == LM_ACT_DOWNTIME)
		snprintf(buf, len, "downtime limit %u ms", value);
	else
		snprintf(buf, len, "%s", lm_act_kind_name(action));
	return buf;
}

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

size_t lm_utf8_char(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;	/* the second byte's range */
	uint32_t c;
	size_t len;

	if (!n)
		return 0;
	if (p[0] < 0x80) {
		len = 1;
		c = p[0];
	} else if (p[0] < 0xc2) {		/* a continuation, or overlong */
		return 0;
	} else if (p[0] < 0xe0) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] < 0xf0) {
		len = 3;
		c = p[0] & 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (p[0] < 0xf5) {
		len = 4;
		c = p[0] & 0x07;
		if (p[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;		/* beyond U+10FFFF */
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
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
	static const char *const names[] = { "dry-run", "applied", "failed", "refused" };

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

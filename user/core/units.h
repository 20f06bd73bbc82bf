/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Names and units shared by the estimator and every output, so that one
 * idea is printed one way everywhere.
 */
#ifndef LM_UNITS_H
#define LM_UNITS_H

#include <stddef.h>
#include <stdint.h>
#include "core/published.h"
#include "core/obs.h"

/* Binary units: every output prints sizes in KiB/MiB/GiB and rates in MiB/s. */
#define LM_KiB			1024.0
#define LM_MiB			(1024.0 * 1024.0)
#define LM_GiB			(1024.0 * 1024.0 * 1024.0)
/* x86's base page: KVM's dirty bitmaps have one bit per such page. */
#define LM_PAGE_SIZE_DEFAULT	4096u
/* The longest limit taken as meant: an hour stopped is not a live migration. */
#define LM_DOWNTIME_LIMIT_MAX_MS	3600000u

/*
 * now - before, for a counter that mostly grows. A reading can come back
 * smaller than an earlier one: a per-CPU counter summed at different
 * moments (BPF at a sync, user space at a tick) can be behind by a send,
 * and the byte counter drops for real when bytes first counted for a
 * socket are moved out of it (the socket was not the migration's). The
 * difference is then 0, never 2^64 minus it, and *backwards is set (it is
 * never cleared) so the caller can say the number is unknown. The caller
 * takes the newest reading as the next base: after a real drop the next
 * difference is right; after a late read it counts one send twice.
 */
static inline uint64_t lm_counter_delta(uint64_t now, uint64_t before, int *backwards)
{
	if (now >= before)
		return now - before;
	*backwards = 1;
	return 0;
}

/*
 * Bytes for a person: "512 KiB", "3.5 MiB", "240 MiB", "12.0 GiB" (one
 * decimal below 10 of a unit). Returns buf.
 */
const char *lm_fmt_bytes(char *buf, size_t len, double bytes);

/* A dirty-rate window's unique bytes per second, <0 if it has no length. */
double lm_dirty_rate_Bps(const struct lm_obs_dirty_rate *d, uint64_t page_size);

/* The phases a user sees: idle, precopy, stop-and-copy, postcopy, ended. */
const char *lm_phase_name(uint32_t phase);	/* enum lm_phase */

const char *lm_verdict_name(enum lm_verdict v);
const char *lm_act_kind_name(uint32_t action);		/* enum lm_act_kind: "throttle", ... */
const char *lm_act_outcome_name(uint32_t outcome);	/* enum lm_act_outcome: "dry-run", ... */
/* "throttle 62 %", "downtime limit 1500 ms", "cancel": an action for people. */
const char *lm_act_fmt(char *buf, size_t len, uint32_t action, uint32_t value);
/* "none", "first", "rounds", "fixed-point", "shrinking", "grew", "parameters", "measured", "in-round", "switchover", "ended" */
const char *lm_change_cause_name(uint32_t c);	/* "unknown", "converging", "marginal", "not-converging" */
const char *lm_source_name(uint32_t source);	/* enum lm_dirty_source */
const char *lm_end_reason_name(uint32_t reason); /* enum lm_end_reason */

/*
 * The valid UTF-8 character at s (n bytes available): its length, 1 to 4,
 * and its code point in *cp (if cp); 0 if the bytes there are none (a stray
 * or cut continuation, an overlong form, a surrogate, beyond U+10FFFF).
 */
size_t lm_utf8_char(const char *s, size_t n, uint32_t *cp);

/*
 * Text from outside lmtrace (QEMU's -name, a process name, a recording)
 * made safe for every output: valid UTF-8 only, each invalid byte and each
 * control character (C0 including NUL, DEL, C1) replaced by '?', cut on a
 * character boundary to fit len bytes with the NUL. Returns the length.
 */
size_t lm_sanitize_text(char *dst, size_t len, const void *src, size_t srclen);
/* The same for a C string: what a VM name goes through where it enters. */
size_t lm_sanitize_name(char *dst, size_t len, const char *src);

#endif /* LM_UNITS_H */

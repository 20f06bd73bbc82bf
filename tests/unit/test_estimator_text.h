/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Observation traces as text, one record per line, for checked-in test
 * traces (tests/traces/NAME.obs.txt). Parsed here, in the tests, never by the
 * estimator. Format:
 *
 *   # free comment
 *   # expect converges=0 nc_by_round=2        (expectations, see test_estimator_traces.c)
 *   start  ts=S pid=N ram_bytes=N late=0
 *   params ts=S pid=N downtime_ms=N max_bandwidth=N ram_bytes=N throttle_pct=N page_size=N
 *   round  ts=S pid=N round=N flags=N dirty_pages=N duration_s=S tx_bytes=N tx_total=N
 *          ram_bytes=N sync_ns=N                 (one line)
 *   tick   ts=S pid=N interval_s=S tx_total=N acked_total=N dirty_events_total=N rounds=N
 *          source=N srtt_us=N cwnd=N             (one line)
 *   end    ts=S pid=N reason=N
 *
 * S is seconds with up to 9 decimals (parsed exactly to ns); duration_ns= and
 * interval_ns= are accepted too. Missing keys are 0; flags may also be a list
 * such as sampled,partial,final; end reason may be completed, cancelled,
 * proc_exit or trace_stop.
 */
#ifndef TEST_ESTIMATOR_TEXT_H
#define TEST_ESTIMATOR_TEXT_H

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/obs.h"

/* "12.5" -> 12500000000; -EINVAL on junk. */
static __attribute__((unused)) int obs_text_parse_seconds(const char *s, uint64_t *ns)
{
	uint64_t ip = 0, frac = 0;
	int digits = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*s))
		ip = ip * 10 + (uint64_t)(*s++ - '0');
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			if (digits < 9) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				digits++;
			}
			s++;
		}
	}
	if (*s)
		return -EINVAL;
	while (digits++ < 9)
		frac *= 10;
	*ns = ip * 1000000000ull + frac;
	return 0;
}

static __attribute__((unused)) int obs_text_parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

static __attribute__((unused)) int obs_text_flags(const char *v, uint64_t *out)
{
	char buf[64], *tok, *save = NULL;

	if (isdigit((unsigned char)*v))
		return obs_text_parse_u64(v, out);
	snprintf(buf, sizeof(buf), "%s", v);
	*out = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "sampled"))
			*out |= LM_ROUND_SAMPLED;
		else if (!strcmp(tok, "partial"))
			*out |= LM_ROUND_PARTIAL;
		else if (!strcmp(tok, "final"))
			*out |= LM_ROUND_FINAL;
		else
			return -EINVAL;
	}
	return 0;
}

static __attribute__((unused)) int obs_text_reason(const char *v, uint64_t *out)
{
	static const char *names[] = { "unknown", "cancelled", "completed", "proc_exit", "trace_stop" };
	unsigned i;

	if (isdigit((unsigned char)*v))
		return obs_text_parse_u64(v, out);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

/*
 * One line -> one record. Returns 1 for a record, 0 for a blank/comment
 * line, -EINVAL (with a message in err) otherwise.
 */
static __attribute__((unused)) int obs_text_parse_line(const char *line, struct lm_obs *o, char *err, size_t errlen)
{
	char buf[1024], *tok, *save = NULL;
	int kind = 0, ret;

	while (isspace((unsigned char)*line))
		line++;
	if (!*line || *line == '#')
		return 0;
	snprintf(buf, sizeof(buf), "%s", line);
	buf[strcspn(buf, "\r\n")] = 0;
	memset(o, 0, sizeof(*o));
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		const char *k = tok, *v;
		uint64_t u = 0;

		if (!kind) {
			if (!strcmp(tok, "start"))
				kind = LM_OBS_START;
			else if (!strcmp(tok, "round"))
				kind = LM_OBS_ROUND;
			else if (!strcmp(tok, "tick"))
				kind = LM_OBS_TICK;
			else if (!strcmp(tok, "end"))
				kind = LM_OBS_END;
			else if (!strcmp(tok, "params"))
				kind = LM_OBS_PARAMS;
			else {
				snprintf(err, errlen, "unknown record kind '%s'", tok);
				return -EINVAL;
			}
			o->kind = kind;
			continue;
		}
		if (!eq) {
			snprintf(err, errlen, "'%s' is not key=value", tok);
			return -EINVAL;
		}
		*eq = 0;
		v = eq + 1;
		if (!strcmp(k, "ts") || !strcmp(k, "duration_s") || !strcmp(k, "interval_s"))
			ret = obs_text_parse_seconds(v, &u);
		else if (!strcmp(k, "flags"))
			ret = obs_text_flags(v, &u);
		else if (!strcmp(k, "reason"))
			ret = obs_text_reason(v, &u);
		else
			ret = obs_text_parse_u64(v, &u);
		if (ret) {
			snprintf(err, errlen, "bad value for %s: '%s'", k, v);
			return -EINVAL;
		}
#define KEY(name, field) else if (!strcmp(k, name)) field = u
		if (!strcmp(k, "ts"))
			o->ts_ns = u;
		KEY("pid", o->pid);
		else if (!strcmp(k, "ram_bytes") && kind == LM_OBS_START)
			o->start.ram_bytes = u;
		else if (!strcmp(k, "ram_bytes") && kind == LM_OBS_ROUND)
			o->round.ram_bytes = u;
		else if (!strcmp(k, "ram_bytes") && kind == LM_OBS_PARAMS)
			o->params.ram_bytes = u;
		else if (kind == LM_OBS_START && !strcmp(k, "late"))
			o->start.late = u;
		else if (kind == LM_OBS_ROUND) {
			if (0)
				;
			KEY("round", o->round.round);
			KEY("flags", o->round.flags);
			KEY("dirty_pages", o->round.dirty_pages);
			KEY("duration_s", o->round.duration_ns);
			KEY("duration_ns", o->round.duration_ns);
			KEY("tx_bytes", o->round.tx_bytes);
			KEY("tx_total", o->round.tx_total);
			KEY("sync_ns", o->round.sync_ns);
			else
				goto unknown;
		} else if (kind == LM_OBS_TICK) {
			if (0)
				;
			KEY("interval_s", o->tick.interval_ns);
			KEY("interval_ns", o->tick.interval_ns);
			KEY("tx_total", o->tick.tx_total);
			KEY("acked_total", o->tick.acked_total);
			KEY("dirty_events_total", o->tick.dirty_events_total);
			KEY("rounds", o->tick.rounds);
			KEY("source", o->tick.source);
			KEY("srtt_us", o->tick.srtt_us);
			KEY("cwnd", o->tick.cwnd);
			else
				goto unknown;
		} else if (kind == LM_OBS_END && !strcmp(k, "reason"))
			o->end.reason = u;
		else if (kind == LM_OBS_PARAMS) {
			if (0)
				;
			KEY("downtime_ms", o->params.downtime_limit_ms);
			KEY("max_bandwidth", o->params.max_bandwidth);
			KEY("throttle_pct", o->params.throttle_pct);
			KEY("page_size", o->params.page_size);
			else
				goto unknown;
		} else
			goto unknown;
#undef KEY
		continue;
unknown:
		snprintf(err, errlen, "unknown key '%s' for this record", k);
		return -EINVAL;
	}
	if (!kind) {
		snprintf(err, errlen, "empty record");
		return -EINVAL;
	}
	return 1;
}

static __attribute__((unused)) void obs_text_write(FILE *f, const struct lm_obs *o)
{
	unsigned long long s = o->ts_ns / 1000000000ull, ns = o->ts_ns % 1000000000ull;

	switch (o->kind) {
	case LM_OBS_START:
		fprintf(f, "start ts=%llu.%09llu pid=%u ram_bytes=%llu late=%u\n", s, ns, o->pid,
			(unsigned long long)o->start.ram_bytes, o->start.late);
		break;
	case LM_OBS_PARAMS:
		fprintf(f, "params ts=%llu.%09llu pid=%u downtime_ms=%llu max_bandwidth=%llu ram_bytes=%llu "
			"throttle_pct=%u page_size=%u\n", s, ns, o->pid,
			(unsigned long long)o->params.downtime_limit_ms,
			(unsigned long long)o->params.max_bandwidth,
			(unsigned long long)o->params.ram_bytes, o->params.throttle_pct, o->params.page_size);
		break;
	case LM_OBS_ROUND:
		fprintf(f, "round ts=%llu.%09llu pid=%u round=%u flags=%u dirty_pages=%llu "
			"duration_s=%llu.%09llu tx_bytes=%llu tx_total=%llu ram_bytes=%llu sync_ns=%llu\n",
			s, ns, o->pid, o->round.round, o->round.flags,
			(unsigned long long)o->round.dirty_pages,
			(unsigned long long)(o->round.duration_ns / 1000000000ull),
			(unsigned long long)(o->round.duration_ns % 1000000000ull),
			(unsigned long long)o->round.tx_bytes, (unsigned long long)o->round.tx_total,
			(unsigned long long)o->round.ram_bytes, (unsigned long long)o->round.sync_ns);
		break;
	case LM_OBS_TICK:
		fprintf(f, "tick ts=%llu.%09llu pid=%u interval_s=%llu.%09llu tx_total=%llu acked_total=%llu "
			"dirty_events_total=%llu rounds=%u source=%u srtt_us=%u cwnd=%u\n",
			s, ns, o->pid,
			(unsigned long long)(o->tick.interval_ns / 1000000000ull),
			(unsigned long long)(o->tick.interval_ns % 1000000000ull),
			(unsigned long long)o->tick.tx_total, (unsigned long long)o->tick.acked_total,
			(unsigned long long)o->tick.dirty_events_total, o->tick.rounds, o->tick.source,
			o->tick.srtt_us, o->tick.cwnd);
		break;
	case LM_OBS_END:
		fprintf(f, "end ts=%llu.%09llu pid=%u reason=%u\n", s, ns, o->pid, o->end.reason);
		break;
	}
}

#endif /* TEST_ESTIMATOR_TEXT_H */

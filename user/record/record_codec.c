// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The on-disk encoding shared by the recording writer and reader (layout in
 * record.h): little-endian integers whatever the host, and lm_obs encoded
 * field by field so a recording made on one host replays on any other.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "record/record_codec.h"

void lm_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

void lm_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

void lm_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

uint16_t lm_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t lm_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t lm_get_le64(const uint8_t *p)
{
	return (uint64_t)lm_get_le32(p) | (uint64_t)lm_get_le32(p + 4) << 32;
}

void lm_put_f64(uint8_t *p, double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	lm_put_le64(p, v);
}

double lm_get_f64(const uint8_t *p)
{
	uint64_t v = lm_get_le64(p);
	double d;

	memcpy(&d, &v, sizeof(d));
	return d;
}

/* Fields of each observation kind's union member: offset and width. */
struct obs_field {
	uint8_t off, size;
};
#define F(type, member) { offsetof(type, member), sizeof(((type *)0)->member) }

static const struct obs_field start_fields[] = {
	F(struct lm_obs_start, ram_bytes), F(struct lm_obs_start, late),
	F(struct lm_obs_start, flags),
};
static const struct obs_field round_fields[] = {
	F(struct lm_obs_round, round), F(struct lm_obs_round, flags),
	F(struct lm_obs_round, dirty_pages), F(struct lm_obs_round, duration_ns),
	F(struct lm_obs_round, tx_bytes), F(struct lm_obs_round, tx_total),
	F(struct lm_obs_round, ram_bytes), F(struct lm_obs_round, sync_ns),
};
static const struct obs_field tick_fields[] = {
	F(struct lm_obs_tick, interval_ns), F(struct lm_obs_tick, tx_total),
	F(struct lm_obs_tick, acked_total), F(struct lm_obs_tick, dirty_events_total),
	F(struct lm_obs_tick, rounds), F(struct lm_obs_tick, source),
	F(struct lm_obs_tick, srtt_us), F(struct lm_obs_tick, cwnd),
	F(struct lm_obs_tick, lost_events_total),
};
static const struct obs_field end_fields[] = {
	F(struct lm_obs_end, reason), F(struct lm_obs_end, pad), F(struct lm_obs_end, tx_total),
};
static const struct obs_field params_fields[] = {
	F(struct lm_obs_params, downtime_limit_ms), F(struct lm_obs_params, max_bandwidth),
	F(struct lm_obs_params, ram_bytes), F(struct lm_obs_params, throttle_pct),
	F(struct lm_obs_params, page_size), F(struct lm_obs_params, qemu_status),
	F(struct lm_obs_params, pad),
};
static const struct obs_field dirty_rate_fields[] = {
	F(struct lm_obs_dirty_rate, window_ns), F(struct lm_obs_dirty_rate, dirty_pages),
	F(struct lm_obs_dirty_rate, ram_bytes), F(struct lm_obs_dirty_rate, syncs),
	F(struct lm_obs_dirty_rate, pad),
};
static const struct obs_field act_config_fields[] = {
	F(struct lm_obs_act_config, policies), F(struct lm_obs_act_config, apply),
	F(struct lm_obs_act_config, max_throttle_pct), F(struct lm_obs_act_config, max_downtime_ms),
	F(struct lm_obs_act_config, give_up_after_ms), F(struct lm_obs_act_config, identified),
	F(struct lm_obs_act_config, pad),
};
static const struct obs_field action_fields[] = {
	F(struct lm_obs_action, action), F(struct lm_obs_action, outcome),
	F(struct lm_obs_action, value), F(struct lm_obs_action, round),
	F(struct lm_obs_action, error), F(struct lm_obs_action, qemu_throttle_pct),
	F(struct lm_obs_action, qemu_downtime_ms), F(struct lm_obs_action, pad),
};
#define W(i) F(struct lm_obs_head_start, win[i].window_ms), F(struct lm_obs_head_start, win[i].pages)
static const struct obs_field head_start_fields[] = {
	F(struct lm_obs_head_start, ram_bytes), F(struct lm_obs_head_start, resident_bytes),
	F(struct lm_obs_head_start, nwin), F(struct lm_obs_head_start, max_age_s),
	W(0), W(1), W(2), W(3),
};
_Static_assert(LM_HEAD_START_WINDOWS == 4, "head_start_fields lists every window");
#undef W
#undef F

static const struct obs_field *kind_fields(uint32_t kind, size_t *n)
{
#define K(k, arr) case k: *n = sizeof(arr) / sizeof(arr[0]); return arr
	switch (kind) {
	K(LM_OBS_START, start_fields);
	K(LM_OBS_ROUND, round_fields);
	K(LM_OBS_TICK, tick_fields);
	K(LM_OBS_END, end_fields);
	K(LM_OBS_PARAMS, params_fields);
	K(LM_OBS_DIRTY_RATE, dirty_rate_fields);
	K(LM_OBS_ACT_CONFIG, act_config_fields);
	K(LM_OBS_ACTION, action_fields);
	K(LM_OBS_HEAD_START, head_start_fields);
	default:
		*n = 0;
		return NULL;
	}
#undef K
}

#define OBS_UNION_OFF offsetof(struct lm_obs, start)
_Static_assert(OBS_UNION_OFF == 16, "lm_obs union offset");
/* On disk an observation is 16 bytes of header and a 64-byte union area,
 * whatever sizeof(struct lm_obs) is in this build. */
_Static_assert(sizeof(struct lm_obs) <= LM_REC_OBS_LEN, "lm_obs fits its on-disk form");

int lm_obs_encode(uint8_t out[LM_REC_OBS_LEN], const struct lm_obs *o)
{
	const uint8_t *u = (const uint8_t *)o + OBS_UNION_OFF;
	const struct obs_field *f;
	size_t n;

	f = kind_fields(o->kind, &n);
	if (!f)
		return -EINVAL;
	memset(out, 0, LM_REC_OBS_LEN);
	lm_put_le32(out, o->kind);
	lm_put_le32(out + 4, o->pid);
	lm_put_le64(out + 8, o->ts_ns);
	for (size_t i = 0; i < n; i++) {
		uint8_t *dst = out + OBS_UNION_OFF + f[i].off;
		uint32_t v32;
		uint64_t v64;

		if (f[i].size == 8) {
			memcpy(&v64, u + f[i].off, 8);
			lm_put_le64(dst, v64);
		} else {
			memcpy(&v32, u + f[i].off, 4);
			lm_put_le32(dst, v32);
		}
	}
	return 0;
}

int lm_obs_decode(struct lm_obs *o, const uint8_t in[LM_REC_OBS_LEN])
{
	uint8_t *u = (uint8_t *)o + OBS_UNION_OFF;
	const struct obs_field *f;
	size_t n;

	memset(o, 0, sizeof(*o));
	o->kind = lm_get_le32(in);
	f = kind_fields(o->kind, &n);
	if (!f)
		return -ENOENT;
	o->pid = lm_get_le32(in + 4);
	o->ts_ns = lm_get_le64(in + 8);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *src = in + OBS_UNION_OFF + f[i].off;

		if (f[i].size == 8) {
			uint64_t v64 = lm_get_le64(src);

			memcpy(u + f[i].off, &v64, 8);
		} else {
			uint32_t v32 = lm_get_le32(src);

			memcpy(u + f[i].off, &v32, 4);
		}
	}
	return 0;
}

/*
 * The estimator configuration, one key per field. A new lm_est_config field
 * gets a new key here (never reuse one); 0 in a field means "default", so a
 * recording without the key replays with the default.
 */
struct cfg_key {
	uint32_t key;
	uint16_t off;
	uint8_t is_u64;
};
#define D(k, field) { k, offsetof(struct lm_est_config, field), 0 }
static const struct cfg_key cfg_keys[] = {
	D(1, downtime_limit_s),
	D(2, max_bandwidth_Bps),
	{ 3, offsetof(struct lm_est_config, page_size), 1 },
	D(4, switchover_bandwidth_Bps),
	D(5, horizon_s),
	D(6, horizon_bulk),
	D(7, throttle_margin),
};
#undef D
#define NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))
_Static_assert(NKEYS <= LM_REC_MAX_SETTINGS, "settings fit the header");
/* A new lm_est_config field must be recorded, or replays would not match live. */
_Static_assert(sizeof(struct lm_est_config) == NKEYS * 8,
	       "lm_est_config changed: give each new field a key in cfg_keys (record_codec.c)");

size_t lm_rec_header_encode(uint8_t out[LM_REC_HEADER_MAX], const struct lm_est_config *cfg)
{
	const uint8_t *c = (const uint8_t *)cfg;
	uint8_t *p = out + LM_REC_HEADER_FIXED;
	size_t len = LM_REC_HEADER_FIXED + 16 * NKEYS + 4;

	memset(out, 0, LM_REC_HEADER_MAX);
	memcpy(out, LM_REC_MAGIC, 8);
	lm_put_le16(out + 8, LM_REC_VERSION);
	lm_put_le16(out + 10, (uint16_t)len);
	lm_put_le32(out + 12, LM_REC_FLAG_ZLIB);
	lm_put_le32(out + 16, LM_REC_OBS_LEN);
	lm_put_le32(out + 20, NKEYS);
	for (size_t i = 0; i < NKEYS; i++, p += 16) {
		double d;
		uint64_t u;

		lm_put_le32(p, cfg_keys[i].key);
		if (cfg_keys[i].is_u64) {
			memcpy(&u, c + cfg_keys[i].off, 8);
			d = (double)u;
		} else {
			memcpy(&d, c + cfg_keys[i].off, 8);
		}
		lm_put_f64(p + 8, d);
	}
	lm_put_le32(p, lm_crc32(out, len - 4));
	return len;
}

int lm_rec_settings_decode(struct lm_est_config *cfg, const uint8_t *area, uint32_t n, uint32_t *bad)
{
	uint8_t *c = (uint8_t *)cfg;

	memset(cfg, 0, sizeof(*cfg));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t key = lm_get_le32(area + 16 * i);
		double d = lm_get_f64(area + 16 * i + 8);

		*bad = i;
		/* Anything that passed the checksum can still be crafted. */
		if (!isfinite(d) || d < 0 || d > 1e18)
			return -EINVAL;
		for (size_t k = 0; k < NKEYS; k++) {
			if (cfg_keys[k].key != key)
				continue;
			if (cfg_keys[k].is_u64) {
				uint64_t u = (uint64_t)d;

				memcpy(c + cfg_keys[k].off, &u, 8);
			} else {
				memcpy(c + cfg_keys[k].off, &d, 8);
			}
		}
	}
	if (cfg->downtime_limit_s > 3600 || cfg->page_size < 512 || cfg->page_size > (1ull << 30) ||
	    (cfg->page_size & (cfg->page_size - 1))) {
		*bad = n;
		return -EINVAL;
	}
	return 0;
}

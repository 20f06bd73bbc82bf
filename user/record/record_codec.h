/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Byte-level encoding shared by the recording writer and reader
 * (record_write.c, record_read.c).
 */
#ifndef LM_RECORD_CODEC_H
#define LM_RECORD_CODEC_H

#include <errno.h>
#include <stdint.h>
#include <zlib.h>
#include "record/record.h"

void lm_put_le16(uint8_t *p, uint16_t v);
void lm_put_le32(uint8_t *p, uint32_t v);
void lm_put_le64(uint8_t *p, uint64_t v);
void lm_put_f64(uint8_t *p, double d);
uint16_t lm_get_le16(const uint8_t *p);
uint32_t lm_get_le32(const uint8_t *p);
uint64_t lm_get_le64(const uint8_t *p);
double lm_get_f64(const uint8_t *p);

static inline uint32_t lm_crc32(const void *buf, size_t len)
{
	return (uint32_t)crc32(0L, (const Bytef *)buf, (uInt)len);
}

/* -EINVAL for a kind this version cannot encode. */
int lm_obs_encode(uint8_t out[LM_REC_OBS_LEN], const struct lm_obs *o);
/* -ENOENT for an unknown kind (skipped by the reader). */
int lm_obs_decode(struct lm_obs *o, const uint8_t in[LM_REC_OBS_LEN]);
/* Returns the header length written to out. */
size_t lm_rec_header_encode(uint8_t out[LM_REC_HEADER_MAX], const struct lm_est_config *cfg);
/* Settings area -> cfg (zeroed first); -EINVAL with the bad key's index in *bad. */
int lm_rec_settings_decode(struct lm_est_config *cfg, const uint8_t *area, uint32_t n, uint32_t *bad);

#endif /* LM_RECORD_CODEC_H */

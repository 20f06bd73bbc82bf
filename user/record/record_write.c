// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Recording writer: entries are gathered in a raw block, and each block is
 * compressed, checksummed and written as one frame (layout in record.h). The
 * file is consistent at every frame boundary, so flushing a block often
 * bounds what a killed writer loses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/safe_file.h"
#include "record/record_codec.h"

struct lm_rec_writer {
	FILE *f;
	int err;		/* first write error, sticky */
	uint64_t nobs;
	size_t raw_len;
	uint8_t raw[LM_REC_BLOCK_MAX];
	uint8_t frame[LM_REC_BLOCK_HDR + LM_REC_BLOCK_MAX + LM_REC_BLOCK_MAX / 512 + 64];
};
_Static_assert(LM_REC_BLOCK_MAX / 1000 + 13 < LM_REC_BLOCK_MAX / 512 + 64,
	       "frame buffer holds zlib's compressBound");

int lm_rec_writer_open(const char *path, const struct lm_est_config *cfg,
		       struct lm_rec_writer **out, char *err, size_t errlen)
{
	uint8_t hdr[LM_REC_HEADER_MAX];
	size_t hdr_len;
	struct lm_rec_writer *w;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "recording %s: out of memory", path);
		return -ENOMEM;
	}
	/* Written in place as root: no symlink followed, only a plain file truncated. */
	ret = lm_safe_file_open(path, "recording", &w->f, err, errlen);
	if (ret)
		goto cleanup;
	hdr_len = lm_rec_header_encode(hdr, cfg);
	errno = 0;
	if (fwrite(hdr, hdr_len, 1, w->f) != 1 || fflush(w->f)) {
		ret = errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot write recording %s: %s", path, strerror(-ret));
		goto cleanup;
	}
	*out = w;
	return 0;
cleanup:
	if (w->f)
		fclose(w->f);
	free(w);
	return ret;
}

int lm_rec_flush(struct lm_rec_writer *w)
{
	uLongf zlen = sizeof(w->frame) - LM_REC_BLOCK_HDR;
	uint8_t *hdr = w->frame;
	int zret;

	if (w->err || !w->raw_len)
		return w->err;
	zret = compress2(hdr + LM_REC_BLOCK_HDR, &zlen, w->raw, w->raw_len, 6);
	if (zret != Z_OK) {
		w->err = zret == Z_MEM_ERROR ? -ENOMEM : -EIO;
		return w->err;
	}
	lm_put_le32(hdr, LM_REC_BLOCK_MAGIC);
	lm_put_le32(hdr + 4, (uint32_t)w->raw_len);
	lm_put_le32(hdr + 8, (uint32_t)zlen);
	lm_put_le32(hdr + 12, lm_crc32(hdr + LM_REC_BLOCK_HDR, zlen));
	lm_put_le32(hdr + 16, lm_crc32(hdr, 16));
	errno = 0;
	/* One fwrite + fflush: the kernel has the whole frame once we return. */
	if (fwrite(w->frame, LM_REC_BLOCK_HDR + zlen, 1, w->f) != 1 || fflush(w->f)) {
		w->err = errno ? -errno : -EIO;
		return w->err;
	}
	w->raw_len = 0;
	return 0;
}

static int append(struct lm_rec_writer *w, enum lm_rec_entry type,
		  const void *a, size_t alen, const void *b, size_t blen)
{
	size_t need = 4 + alen + blen;
	uint8_t *p;

	if (w->err)
		return w->err;
	if (w->raw_len + need > sizeof(w->raw) && lm_rec_flush(w))
		return w->err;
	p = w->raw + w->raw_len;
	p[0] = type;
	p[1] = 0;
	lm_put_le16(p + 2, (uint16_t)(alen + blen));
	memcpy(p + 4, a, alen);
	if (blen)
		memcpy(p + 4 + alen, b, blen);
	w->raw_len += need;
	return 0;
}

int lm_rec_write_obs(struct lm_rec_writer *w, const struct lm_obs *o)
{
	uint8_t body[LM_REC_OBS_LEN];
	int ret;

	ret = lm_obs_encode(body, o);
	if (ret)
		return ret;
	ret = append(w, LM_REC_E_OBS, body, sizeof(body), NULL, 0);
	if (!ret)
		w->nobs++;
	return ret;
}

int lm_rec_write_name(struct lm_rec_writer *w, uint32_t pid, const char *name)
{
	size_t len = strnlen(name, 63);
	uint8_t p[4];

	lm_put_le32(p, pid);
	return append(w, LM_REC_E_NAME, p, sizeof(p), name, len);
}

int lm_rec_write_message(struct lm_rec_writer *w, int level, const char *text)
{
	size_t len = strnlen(text, 255);
	uint8_t l = level < 0 ? 0 : level > 255 ? 255 : level;

	return append(w, LM_REC_E_MESSAGE, &l, 1, text, len);
}

int lm_rec_writer_close(struct lm_rec_writer *w)
{
	uint8_t n[8];
	int ret, n_ret;

	if (!w)
		return 0;
	lm_put_le64(n, w->nobs);
	append(w, LM_REC_E_END, n, sizeof(n), NULL, 0);
	lm_rec_flush(w);
	ret = w->err;
	/* fsync: what lmtrace said it recorded is on disk when it exits. */
	n_ret = lm_safe_file_close(w->f);
	if (n_ret && !ret)
		ret = n_ret;
	free(w);
	return ret;
}

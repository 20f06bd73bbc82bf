// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Recording reader. Everything read from the file is distrusted: every
 * length is bounded before use, every frame's checksums are verified before
 * its bytes are interpreted, and every failure names the byte offset. It
 * never loops without consuming input and never reads past a buffer; it is
 * fuzzed (tests/fuzz/fuzz_record.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/units.h"
#include "record/record_codec.h"

/*
 * The fuzzing build that explores what lies behind the checksums (make fuzz)
 * accepts any checksum; every other check stays.
 */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define crc_ok(stored, computed) ((void)(stored), (void)(computed), 1)
#else
#define crc_ok(stored, computed) ((stored) == (computed))
#endif

#define STORED_MAX (LM_REC_BLOCK_MAX + LM_REC_BLOCK_MAX / 512 + 64)

struct lm_record {
	FILE *f;			/* or memory: */
	const uint8_t *mem;
	size_t mem_len, mem_pos;
	uint64_t off;			/* bytes consumed */
	uint32_t flags;
	struct lm_est_config cfg;
	int state;			/* 1 while reading, else the final return */
	uint64_t nobs;
	size_t raw_len, raw_pos;
	uint64_t block_off;
	char src[128];			/* file name for messages */
	char err[400];
	uint8_t stored[STORED_MAX];
	uint8_t raw[LM_REC_BLOCK_MAX];
};

__attribute__((format(printf, 3, 4)))
static int fail(struct lm_record *r, int ret, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->err, sizeof(r->err), "%s: %s", r->src, msg);
	r->state = ret;
	return ret;
}

/* Reads up to n bytes; returns how many (short only at end of file) or -errno. */
static long src_read(struct lm_record *r, void *dst, size_t n)
{
	size_t got;

	if (r->mem) {
		got = r->mem_len - r->mem_pos < n ? r->mem_len - r->mem_pos : n;
		memcpy(dst, r->mem + r->mem_pos, got);
		r->mem_pos += got;
	} else {
		got = fread(dst, 1, n, r->f);
		if (got < n && ferror(r->f))
			return errno ? -errno : -EIO;
	}
	r->off += got;
	return (long)got;
}

static int check_header(struct lm_record *r)
{
	uint8_t h[LM_REC_HEADER_MAX];
	uint32_t obs_len, nset, bad;
	uint16_t version, len;
	long got;

	got = src_read(r, h, LM_REC_HEADER_FIXED);
	if (got < 0)
		return fail(r, (int)got, "read error at offset 0: %s", strerror((int)-got));
	if (got == 0)
		return fail(r, -EBADMSG, "empty file (0 bytes at offset 0), not an lmtrace recording");
	if ((size_t)got < 8 || memcmp(h, LM_REC_MAGIC, 8))
		return fail(r, -EBADMSG, "not an lmtrace recording (no \"%s\" magic at offset 0)",
			    LM_REC_MAGIC);
	if ((size_t)got < 10)
		return fail(r, -EBADMSG, "truncated at offset %ld inside the header", got);
	version = lm_get_le16(h + 8);
	if (version > LM_REC_VERSION)
		return fail(r, -EPROTO, "format version %u at offset 8 is newer than this lmtrace reads (%d): upgrade lmtrace",
			    version, LM_REC_VERSION);
	if (version == 0)
		return fail(r, -EBADMSG, "invalid format version 0 at offset 8");
	if ((size_t)got < LM_REC_HEADER_FIXED)
		return fail(r, -EBADMSG, "truncated at offset %ld inside the header", got);
	len = lm_get_le16(h + 10);
	nset = lm_get_le32(h + 20);
	if (nset > LM_REC_MAX_SETTINGS || len != LM_REC_HEADER_FIXED + 16 * nset + 4)
		return fail(r, -EBADMSG, "header length %u at offset 10 does not match %u settings at offset 20",
			    len, nset);
	got = src_read(r, h + LM_REC_HEADER_FIXED, len - LM_REC_HEADER_FIXED);
	if (got < 0)
		return fail(r, (int)got, "read error at offset %llu: %s",
			    (unsigned long long)r->off, strerror((int)-got));
	if (got < len - LM_REC_HEADER_FIXED)
		return fail(r, -EBADMSG, "truncated at offset %llu inside the %u-byte header",
			    (unsigned long long)r->off, len);
	if (!crc_ok(lm_get_le32(h + len - 4), lm_crc32(h, len - 4)))
		return fail(r, -EBADMSG, "header checksum mismatch at offset %u (corrupt header)", len - 4);
	r->flags = lm_get_le32(h + 12);
	if (r->flags & ~LM_REC_FLAG_ZLIB)
		return fail(r, -EPROTO, "unknown flags 0x%x at offset 12: recorded by a newer lmtrace?",
			    r->flags);
	obs_len = lm_get_le32(h + 16);
	if (obs_len != LM_REC_OBS_LEN)
		return fail(r, -EPROTO, "observation size %u at offset 16, this lmtrace reads %d",
			    obs_len, LM_REC_OBS_LEN);
	if (lm_rec_settings_decode(&r->cfg, h + LM_REC_HEADER_FIXED, nset, &bad))
		return fail(r, -EBADMSG, "implausible estimator setting at offset %u",
			    LM_REC_HEADER_FIXED + 16 * bad);
	return 0;
}

static int finish_open(struct lm_record *r, struct lm_record **out, char *err, size_t errlen)
{
	int ret;

	r->state = 1;
	ret = check_header(r);
	if (ret) {
		snprintf(err, errlen, "%s", r->err);
		lm_record_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

int lm_record_open(const char *path, struct lm_record **out, char *err, size_t errlen)
{
	struct lm_record *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	snprintf(r->src, sizeof(r->src), "%s", path);
	r->f = fopen(path, "re");
	if (!r->f) {
		ret = -errno;
		snprintf(err, errlen, "cannot open recording %s: %s", path, strerror(errno));
		free(r);
		return ret;
	}
	return finish_open(r, out, err, errlen);
}

int lm_record_open_mem(const void *buf, size_t len, struct lm_record **out,
		       char *err, size_t errlen)
{
	static const uint8_t empty[1];
	struct lm_record *r;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(r->src, sizeof(r->src), "recording");
	r->mem = len ? buf : empty;
	r->mem_len = len;
	return finish_open(r, out, err, errlen);
}

const struct lm_est_config *lm_record_config(const struct lm_record *r)
{
	return &r->cfg;
}

const char *lm_record_error(const struct lm_record *r)
{
	return r->err;
}

void lm_record_close(struct lm_record *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r);
}

/* Names and messages end up on terminals: no control characters. */
static int read_block(struct lm_record *r)
{
	uint32_t raw_len, stored_len;
	uint8_t h[LM_REC_BLOCK_HDR];
	uLongf dest_len;
	long got;
	int zret;

	r->block_off = r->off;
	got = src_read(r, h, sizeof(h));
	if (got < 0)
		return fail(r, (int)got, "read error at offset %llu: %s",
			    (unsigned long long)r->off, strerror((int)-got));
	if (got == 0)
		return fail(r, -ENODATA, "ends at offset %llu without the end marker: the recording was cut short (lmtrace killed?); the %llu observations before it are intact",
			    (unsigned long long)r->off, (unsigned long long)r->nobs);
	if ((size_t)got < sizeof(h))
		return fail(r, -EBADMSG, "truncated: the file ends at offset %llu inside the block header at offset %llu",
			    (unsigned long long)r->off, (unsigned long long)r->block_off);
	if (lm_get_le32(h) != LM_REC_BLOCK_MAGIC)
		return fail(r, -EBADMSG, "no block magic at offset %llu (corrupt data)",
			    (unsigned long long)r->block_off);
	if (!crc_ok(lm_get_le32(h + 16), lm_crc32(h, 16)))
		return fail(r, -EBADMSG, "block header checksum mismatch at offset %llu (corrupt data)",
			    (unsigned long long)r->block_off);
	raw_len = lm_get_le32(h + 4);
	stored_len = lm_get_le32(h + 8);
	if (!raw_len || raw_len > LM_REC_BLOCK_MAX || !stored_len || stored_len > STORED_MAX ||
	    (!(r->flags & LM_REC_FLAG_ZLIB) && stored_len != raw_len))
		return fail(r, -EBADMSG, "block at offset %llu has impossible lengths (%u raw, %u stored)",
			    (unsigned long long)r->block_off, raw_len, stored_len);
	got = src_read(r, r->stored, stored_len);
	if (got < 0)
		return fail(r, (int)got, "read error at offset %llu: %s",
			    (unsigned long long)r->off, strerror((int)-got));
	if ((size_t)got < stored_len)
		return fail(r, -EBADMSG, "truncated: the file ends at offset %llu inside the block at offset %llu (%u bytes expected)",
			    (unsigned long long)r->off, (unsigned long long)r->block_off,
			    stored_len);
	if (!crc_ok(lm_get_le32(h + 12), lm_crc32(r->stored, stored_len)))
		return fail(r, -EBADMSG, "block at offset %llu: data checksum mismatch (corrupt data)",
			    (unsigned long long)r->block_off);
	if (r->flags & LM_REC_FLAG_ZLIB) {
		dest_len = sizeof(r->raw);
		zret = uncompress(r->raw, &dest_len, r->stored, stored_len);
		if (zret != Z_OK || dest_len != raw_len)
			return fail(r, -EBADMSG, "block at offset %llu does not decompress (%s)",
				    (unsigned long long)r->block_off,
				    zret != Z_OK ? zError(zret) : "length mismatch");
	} else {
		memcpy(r->raw, r->stored, raw_len);
	}
	r->raw_len = raw_len;
	r->raw_pos = 0;
	return 0;
}

/* The END entry must close the file: nothing may follow it. */
static int check_end(struct lm_record *r, const uint8_t *body, uint16_t len)
{
	uint8_t extra;
	uint64_t n;
	long got;

	if (len != 8)
		return fail(r, -EBADMSG, "end marker in block at offset %llu has length %u",
			    (unsigned long long)r->block_off, len);
	n = lm_get_le64(body);
	if (n != r->nobs)
		return fail(r, -EBADMSG, "end marker says %llu observations but %llu were read (block at offset %llu)",
			    (unsigned long long)n, (unsigned long long)r->nobs,
			    (unsigned long long)r->block_off);
	if (r->raw_pos != r->raw_len)
		return fail(r, -EBADMSG, "data after the end marker in block at offset %llu",
			    (unsigned long long)r->block_off);
	got = src_read(r, &extra, 1);
	if (got != 0)
		return fail(r, -EBADMSG, "unexpected data at offset %llu after the end marker",
			    (unsigned long long)(r->off - (got > 0)));
	r->state = 0;
	return 0;
}

/*
 * A name or message entry: head bytes, then at most the text buffer's
 * size less one of text, sanitised into it. 1, or the failure.
 */
static int text_entry(struct lm_record *r, const char *what, const uint8_t *body, uint16_t len,
		      uint16_t head, char *text, size_t size)
{
	if (len < head || len > head + size - 1)
		return fail(r, -EBADMSG, "%s entry of %u bytes in block at offset %llu",
			    what, len, (unsigned long long)r->block_off);
	lm_sanitize_text(text, size, body + head, len - head);
	return 1;
}

int lm_record_next(struct lm_record *r, struct lm_rec_item *it)
{
	const uint8_t *e, *body;
	uint16_t len;
	int ret;

	while (r->state > 0) {
		if (r->raw_pos >= r->raw_len) {
			ret = read_block(r);
			if (ret)
				return ret;
			continue;
		}
		e = r->raw + r->raw_pos;
		if (r->raw_len - r->raw_pos < 4)
			return fail(r, -EBADMSG, "entry header cut short in block at offset %llu",
				    (unsigned long long)r->block_off);
		len = lm_get_le16(e + 2);
		if (r->raw_len - r->raw_pos - 4 < len)
			return fail(r, -EBADMSG, "entry of %u bytes overruns the block at offset %llu",
				    len, (unsigned long long)r->block_off);
		body = e + 4;
		r->raw_pos += 4 + (size_t)len;
		memset(it, 0, sizeof(*it));
		switch (e[0]) {
		case LM_REC_E_OBS:
			if (len != LM_REC_OBS_LEN)
				return fail(r, -EBADMSG, "observation of %u bytes in block at offset %llu",
					    len, (unsigned long long)r->block_off);
			r->nobs++;
			if (lm_obs_decode(&it->obs, body))
				continue;	/* a kind from a newer lmtrace */
			it->type = LM_REC_E_OBS;
			return 1;
		case LM_REC_E_NAME:
			/* a name enters here on replay, as from /proc live */
			ret = text_entry(r, "name", body, len, 4, it->name, sizeof(it->name));
			if (ret == 1) {
				it->type = LM_REC_E_NAME;
				it->pid = lm_get_le32(body);
			}
			return ret;
		case LM_REC_E_MESSAGE:
			ret = text_entry(r, "message", body, len, 1, it->text, sizeof(it->text));
			if (ret == 1) {
				it->type = LM_REC_E_MESSAGE;
				it->level = body[0];
			}
			return ret;
		case LM_REC_E_END:
			return check_end(r, body, len);
		default:
			continue;	/* an entry type from a newer lmtrace */
		}
	}
	return r->state;
}

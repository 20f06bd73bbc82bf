/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Recordings (-w / -r): every observation the pipeline consumed, the VM
 * names and messages, and the estimator configuration, in a portable file.
 *
 * Layout, all integers little-endian, doubles as IEEE-754 bit patterns:
 *   header (24 + 16 n + 4 bytes)
 *     0  magic "LMTRREC\0"        8  u16 version (1)   10 u16 header length
 *    12  u32 flags (bit 0: zlib) 16  u32 obs size (80) 20 u32 n settings (<= 16)
 *    24  n x { u32 key, u32 0, f64 value }: the estimator configuration
 *        (keys in record_codec.c; unknown keys are ignored, missing ones are 0,
 *        which lm_est_config defines as "the built-in default")
 *   -4   u32 CRC-32 of every header byte before it
 *   blocks, each
 *     0  u32 magic "LBLK"  4 u32 raw length  8 u32 stored length
 *    12  u32 CRC-32 of the stored bytes     16 u32 CRC-32 of bytes 0..15
 *    20  stored bytes (zlib stream of the raw bytes)
 *   raw bytes = entries: u8 type, u8 0, u16 body length, body
 *     1 OBS      80 bytes: kind, pid, ts_ns, then a 64-byte area holding the
 *                kind's union member, each field little-endian at its offset
 *     2 NAME     u32 pid, name bytes (no NUL, < 64)
 *     3 END      u64 number of OBS entries in the file (last block only)
 *     4 MESSAGE  u8 level, text bytes (no NUL)
 *   Observation kinds 7 (--act's settings) and 8 (an action's outcome) came
 *   later in version 1: older readers skip them, as they skip any unknown
 *   kind, and replay the rest unchanged.
 *   Unknown entry types and observation kinds are skipped (newer writers).
 * The writer closes a block at least every LM_REC_FLUSH_S seconds, so a
 * killed lmtrace leaves a file that replays up to its last block.
 */
#ifndef LM_RECORD_H
#define LM_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "core/published.h"
#include "core/obs.h"

#define LM_REC_MAGIC		"LMTRREC"	/* + NUL: 8 bytes */
#define LM_REC_VERSION		1
#define LM_REC_HEADER_FIXED	24
#define LM_REC_MAX_SETTINGS	16
#define LM_REC_HEADER_MAX	(LM_REC_HEADER_FIXED + 16 * LM_REC_MAX_SETTINGS + 4)
#define LM_REC_FLAG_ZLIB	(1u << 0)
#define LM_REC_BLOCK_MAGIC	0x4b4c424cu	/* "LBLK" on disk */
#define LM_REC_BLOCK_HDR	20
#define LM_REC_OBS_LEN		80
/* Raw bytes per block: big enough to compress well, small enough to lose
 * little; the reader rejects anything larger as corrupt. */
#define LM_REC_BLOCK_MAX	(64u * 1024)
#define LM_REC_FLUSH_S		2

enum lm_rec_entry {
	LM_REC_E_OBS = 1,
	LM_REC_E_NAME = 2,
	LM_REC_E_END = 3,
	LM_REC_E_MESSAGE = 4,
};

struct lm_rec_item {
	enum lm_rec_entry type;		/* OBS, NAME or MESSAGE (END is consumed) */
	struct lm_obs obs;		/* OBS */
	uint32_t pid;			/* NAME */
	char name[64];			/* NAME */
	int level;			/* MESSAGE */
	char text[256];			/* MESSAGE */
};

/* Writer: low level, used by the recording sink (and tests). */
struct lm_rec_writer;
int lm_rec_writer_open(const char *path, const struct lm_est_config *cfg,
		       struct lm_rec_writer **out, char *err, size_t errlen);
int lm_rec_write_obs(struct lm_rec_writer *w, const struct lm_obs *o);
int lm_rec_write_name(struct lm_rec_writer *w, uint32_t pid, const char *name);
int lm_rec_write_message(struct lm_rec_writer *w, int level, const char *text);
/* Close the current block now (called by the sink on its flush timer). */
int lm_rec_flush(struct lm_rec_writer *w);
/* Writes the END entry, flushes, closes; frees w even on error. */
int lm_rec_writer_close(struct lm_rec_writer *w);

/* Reader: from a file, or from memory (fuzzing, tests). */
struct lm_record;
int lm_record_open(const char *path, struct lm_record **out, char *err, size_t errlen);
int lm_record_open_mem(const void *buf, size_t len, struct lm_record **out,
		       char *err, size_t errlen);
const struct lm_est_config *lm_record_config(const struct lm_record *r);
/*
 * 1 and the next item; 0 at the end marker; or -errno with a message that
 * names the byte offset (lm_record_error). -ENODATA: the file ends cleanly
 * after a block but without the end marker (writer killed); -EBADMSG:
 * checksum, framing or truncation; -EPROTO: a version or flag this reader
 * does not know. Once it returned <= 0 it keeps returning the same.
 */
int lm_record_next(struct lm_record *r, struct lm_rec_item *it);
const char *lm_record_error(const struct lm_record *r);
void lm_record_close(struct lm_record *r);

#endif /* LM_RECORD_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Files lmtrace writes (recordings, metrics, charts), often as root and
 * into directories other users can write: never through a symlink planted
 * at the name, never truncating anything but a plain file, new files 0644.
 * Every failure returns -errno and a one-line message in err saying what
 * failed and what to do.
 */
#ifndef LM_SAFE_FILE_H
#define LM_SAFE_FILE_H

#include <stddef.h>
#include <stdio.h>

#define LM_SAFE_FILE_MODE		0644

/* lm_safe_file_replace(): also sync the directory, so the rename lasts. */
#define LM_SAFE_FILE_SYNC_DIR	(1u << 0)

/*
 * Opens path to be written in place (-w, report -o). A new file is made
 * 0644 (whatever the umask) and its directory synced; an existing one is
 * truncated only if it is a regular file with a single link. A symlink at
 * path is refused, not followed. what names the file in messages
 * ("recording", "chart").
 */
int lm_safe_file_open(const char *path, const char *what, FILE **out,
		    char *err, size_t errlen);

/* fflush, fsync, fclose: 0, or the first error as -errno. f is closed. */
int lm_safe_file_close(FILE *f);

/*
 * Replaces path with len bytes of data (--prom-file): written to a new
 * file beside it (mkstemp, PATH.tmp.XXXXXX, 0644), fsynced and renamed
 * over path, so a reader sees the old or the new file, never a part. A
 * symlink at path is replaced, not followed; on failure nothing is left.
 */
int lm_safe_file_replace(const char *path, const char *what, const void *data, size_t len,
		       unsigned flags, char *err, size_t errlen);

/*
 * A killed lmtrace (SIGKILL, the OOM killer) can leave a PATH.tmp.XXXXXX
 * behind, once per kill. Removes each such regular file beside path that
 * this user owns and that nobody wrote to for LM_SAFE_FILE_STALE_S (a live
 * writer renames its own within milliseconds). Returns how many went.
 */
#define LM_SAFE_FILE_STALE_S	60
int lm_safe_file_clean_temps(const char *path);

#endif /* LM_SAFE_FILE_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* --head-start FILE[,MAX_AGE_S]: an `lmtrace check -j` output, read for the live trace. */
#ifndef LM_CLI_CHECK_FILE_H
#define LM_CLI_CHECK_FILE_H

#include <stddef.h>
#include <sys/types.h>
#include "core/obs.h"

/* A check made this long before a migration starts still speaks for it (default). */
#define LM_CHECK_FILE_MAX_AGE_S	600

/*
 * The check of pid in path (the last `"type":"check"` object for it), as an
 * observation; 0, or -errno with a message in err naming the file.
 */
int lm_check_file_load(const char *path, pid_t pid, uint32_t max_age_s, struct lm_obs *out,
		       char *err, size_t errlen);

#endif /* LM_CLI_CHECK_FILE_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Follow a guest's serial log file (QEMU -serial file:) line by line. */
#ifndef LAB_SERIAL_H
#define LAB_SERIAL_H

#include <stddef.h>
#include <sys/types.h>

struct lab_serial {
	const char *path;
	off_t off;		/* bytes consumed so far */
	char buf[1024];		/* partial line */
	size_t len;
};

void lab_serial_init(struct lab_serial *s, const char *path);
/* Next complete line (without '\n') into line: 1 if one, 0 if none yet. */
int lab_serial_next(struct lab_serial *s, char *line, size_t size);
/* Size of the log so far (bytes), 0 if it does not exist yet. */
off_t lab_serial_size(const struct lab_serial *s);

/* Parsed "lm-guest: t_ms=.. pages_written=.. rate_pages_s=.. stalled_ms=.." */
struct lab_guest_report {
	unsigned long long t_ms, pages_written, rate_pages_s, stalled_ms;
};
int lab_guest_parse_report(const char *line, struct lab_guest_report *r);

#endif

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab_serial.h"

void lab_serial_init(struct lab_serial *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->path = path;
}

off_t lab_serial_size(const struct lab_serial *s)
{
	struct stat st;

	return stat(s->path, &st) ? 0 : st.st_size;
}

int lab_serial_next(struct lab_serial *s, char *line, size_t size)
{
	char *nl;
	size_t n;
	ssize_t got;
	int fd;

	nl = memchr(s->buf, '\n', s->len);
	if (!nl && s->len < sizeof(s->buf)) {
		fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 0;
		got = pread(fd, s->buf + s->len, sizeof(s->buf) - s->len, s->off);
		close(fd);
		if (got > 0) {
			s->len += (size_t)got;
			s->off += got;
		}
		nl = memchr(s->buf, '\n', s->len);
	}
	if (!nl) {
		if (s->len < sizeof(s->buf))
			return 0;
		nl = s->buf + s->len - 1;	/* an overlong line: cut it */
	}
	n = (size_t)(nl - s->buf);
	snprintf(line, size, "%.*s", (int)n, s->buf);
	memmove(s->buf, nl + 1, s->len - n - 1);
	s->len -= n + 1;
	return 1;
}

int lab_guest_parse_report(const char *line, struct lab_guest_report *r)
{
	return sscanf(line, "lm-guest: t_ms=%llu pages_written=%llu rate_pages_s=%llu stalled_ms=%llu",
		      &r->t_ms, &r->pages_written, &r->rate_pages_s, &r->stalled_ms) == 4 ? 0 : -1;
}

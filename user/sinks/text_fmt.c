// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Text for people, shared by the rows, the live view and the report (text_fmt.h). */
#include <stdio.h>
#include <string.h>
#include "sinks/text_fmt.h"

const char *lm_fmt_num(char *buf, size_t len, double v, int decimals, const char *unit)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f%s", decimals, v, unit);
	return buf;
}

int lm_wrap_line(const char *s, int width, int last, const char **next)
{
	int n = (int)strlen(s), room = last ? width - 3 : width;

	if (room < 1)
		room = 1;
	if (n > width) {
		n = room;
		while (n > room / 2 && s[n] != ' ')
			n--;
	}
	for (*next = s + n; **next == ' '; (*next)++)
		;
	return n;
}

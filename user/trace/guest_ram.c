// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The guest's touched RAM from /proc/PID/smaps (guest_ram.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include "trace/guest_ram.h"

/* The RAM mapping is at least this share of the guest's RAM (QEMU maps it whole, plus alignment). */
#define RAM_MAPPING_SHARE	0.9

int lm_guest_ram_resident(pid_t pid, uint64_t ram_bytes, uint64_t *resident)
{
	uint64_t start, end, size = 0, best = 0, rss_kb;
	char path[64], line[512];
	int in_best = 0, found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &start, &end) == 2 && end > start) {
			size = end - start;
			in_best = size >= RAM_MAPPING_SHARE * (double)ram_bytes && size > best;
			if (in_best)
				best = size;
		} else if (in_best && sscanf(line, "Rss: %" SCNu64 " kB", &rss_kb) == 1) {
			*resident = rss_kb * 1024 < ram_bytes ? rss_kb * 1024 : ram_bytes;
			found = 1;
		}
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

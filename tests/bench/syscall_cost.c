// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * syscall_cost [BATCHES [CALLS]]: what an unrelated process pays per system
 * call, the cost lmtrace's syscall tracepoints put on every thread of the
 * host while attached. Times BATCHES batches of CALLS getppid() and
 * ioctl(FIONREAD) on a pipe each, and prints the median ns per call:
 *     getppid_ns N
 *     ioctl_ns N
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCHES 1000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int batches = argc > 1 ? atoi(argv[1]) : 21, calls = argc > 2 ? atoi(argv[2]) : 50000;
	static double ppid[MAX_BATCHES], ioc[MAX_BATCHES];
	int fds[2], avail, b, i;
	uint64_t t0;

	if (batches < 1 || batches > MAX_BATCHES || calls < 1 || pipe(fds)) {
		fprintf(stderr, "usage: syscall_cost [BATCHES (1-%d) [CALLS]]\n", MAX_BATCHES);
		return 2;
	}
	for (b = 0; b < batches; b++) {
		t0 = now_ns();
		for (i = 0; i < calls; i++)
			getppid();
		ppid[b] = (double)(now_ns() - t0) / calls;
		t0 = now_ns();
		for (i = 0; i < calls; i++)
			ioctl(fds[0], FIONREAD, &avail);
		ioc[b] = (double)(now_ns() - t0) / calls;
	}
	printf("getppid_ns %.1f\nioctl_ns %.1f\n", median(ppid, batches), median(ioc, batches));
	return 0;
}

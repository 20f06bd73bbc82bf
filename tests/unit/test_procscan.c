// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * QEMU's options read from a live process's /proc command line
 * (trace/procscan.c): -name's guest= part with ",," as a comma, -uuid, an
 * absent option, and a command line longer than one read of /proc hands
 * out (libvirt's run past 8 KiB).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "trace/procscan.h"
#include "unit.h"

/* A child that sleeps with argv as its command line, leading a process
 * group of its own (so stop() ends its sleep too); its pid. */
static pid_t spawn(char **argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	usleep(200000);
	return pid;
}

static void stop(pid_t pid)
{
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	static char pad[12000];
	/* sh's own $0 is the padding: only the command line's length matters */
	char *args[] = { "sh", "-c", "sleep 30; :", pad, "-name", "guest=db,,primary,debug-threads=on",
			 "-uuid", "5e3c0f2a-1d2b-4c5d-8e9f-0a1b2c3d4e5f", NULL };
	char buf[128];
	pid_t pid;

	memset(pad, 'x', sizeof(pad) - 1);
	pid = spawn(args);
	ASSERT_EQ(lm_proc_qemu_option(pid, "-uuid", buf, sizeof(buf)), 0, "-uuid past 12 KB");
	ASSERT_STREQ(buf, "5e3c0f2a-1d2b-4c5d-8e9f-0a1b2c3d4e5f", "its value");
	ASSERT_EQ(lm_proc_qemu_option(pid, "-name", buf, sizeof(buf)), 0, "-name");
	ASSERT_STREQ(buf, "db,primary", "guest= taken off, ',,' a comma, ',' the end");
	ASSERT_EQ(lm_proc_qemu_option(pid, "-machine", buf, sizeof(buf)), -ENOENT, "an absent option");
	stop(pid);
	ASSERT_TRUE(lm_proc_qemu_option(pid, "-uuid", buf, sizeof(buf)) < 0, "a process gone: an error");
	return unit_done(argv[0]);
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Finding VMM processes: those with /dev/kvm or an anon_inode:kvm-vm open. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/units.h"
#include "trace/procscan.h"

/* 1 if one of pid's fds points at a target `match` accepts, 0 if none, -errno. */
static int any_fd(pid_t pid, int (*match)(const char *target, const void *arg), const void *arg)
{
	char path[64], target[128];
	struct dirent *de;
	int found = 0;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%.16s", (int)pid, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		found = match(target, arg);
	}
	closedir(d);
	return found;
}

static int is_kvm(const char *target, const void *arg)
{
	return !strcmp(target, "/dev/kvm") || !strcmp(target, "anon_inode:kvm-vm");
}

int lm_proc_is_vmm(pid_t pid)
{
	return any_fd(pid, is_kvm, NULL);
}

static int is_socket(const char *target, const void *arg)
{
	char want[48];

	snprintf(want, sizeof(want), "socket:[%llu]", *(const unsigned long long *)arg);
	return !strcmp(target, want);
}

int lm_proc_has_socket(pid_t pid, uint64_t ino)
{
	unsigned long long i = ino;

	return any_fd(pid, is_socket, &i);
}

int lm_proc_find_vmms(pid_t *pids, int max)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while (n < max && (de = readdir(d))) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (pid != getpid() && lm_proc_is_vmm(pid) == 1)
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

/*
 * pid's whole command line, NUL-separated, into buf (NUL-terminated): its
 * length, or -errno. /proc hands it out a page per read, and libvirt's
 * QEMU command lines run past 8 KiB; a longer one than buf is cut.
 */
static ssize_t read_cmdline(pid_t pid, char *buf, size_t size)
{
	char path[64];
	size_t off = 0;
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < size - 1 && (n = read(fd, buf + off, size - 1 - off)) > 0)
		off += (size_t)n;
	close(fd);
	if (n < 0)
		return -EIO;
	buf[off] = 0;
	return (ssize_t)off;
}

int lm_proc_qemu_option(pid_t pid, const char *opt, char *buf, size_t len)
{
	char cmdline[32768], *arg, *end, dashed[32];
	ssize_t n = read_cmdline(pid, cmdline, sizeof(cmdline));
	size_t o = 0;
	int next_is_value = 0;

	if (n <= 0)
		return n < 0 ? (int)n : -ENOENT;
	snprintf(dashed, sizeof(dashed), "-%s", opt);
	for (arg = cmdline, end = cmdline + n; arg < end; arg += strlen(arg) + 1) {
		if (next_is_value) {
			if (!strncmp(arg, "guest=", 6))
				arg += 6;
			/* ",," is a comma inside the value; a lone one ends it */
			for (; *arg && o + 1 < len; arg++) {
				if (*arg == ',' && *++arg != ',')
					break;
				buf[o++] = *arg;
			}
			buf[o] = 0;
			return 0;
		}
		next_is_value = !strcmp(arg, opt) || !strcmp(arg, dashed);
	}
	return -ENOENT;
}

/* QEMU's -name (guest=NAME,...: commas doubled inside the name). */
static int qemu_name(pid_t pid, char *buf, size_t len)
{
	return lm_proc_qemu_option(pid, "-name", buf, len);
}

int lm_proc_matches(pid_t pid, const char *pattern)
{
	char raw[256] = "", name[64];

	if (lm_proc_qemu_option(pid, "-uuid", raw, sizeof(raw)) == 0 && !fnmatch(pattern, raw, FNM_CASEFOLD))
		return 1;
	lm_proc_name(pid, name, sizeof(name));
	return !fnmatch(pattern, name, 0);
}

/*
 * Both come from whoever started the VMM: they go to terminals, logs and
 * labels only through lm_sanitize_name(), cut there on a character boundary.
 */
void lm_proc_name(pid_t pid, char *buf, size_t len)
{
	char path[64], raw[256] = "";
	FILE *f;

	if (qemu_name(pid, raw, sizeof(raw)) != 0 || !raw[0]) {
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		f = fopen(path, "re");
		if (f) {
			/* a comm may hold a newline of its own: only the last is the kernel's */
			size_t got = fread(raw, 1, sizeof(raw) - 1, f);

			if (got && raw[got - 1] == '\n')
				got--;
			raw[got] = 0;
			fclose(f);
		}
	}
	lm_sanitize_name(buf, len, raw);
}

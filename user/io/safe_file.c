// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Output files written as root (safe_file.h). What decides is checked on the
 * open file (fstat), not on the name, so swapping the name between a check
 * and the open wins nothing; creating uses O_EXCL, which never follows a
 * symlink, not even a dangling one.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "io/safe_file.h"

static const char *kind_of(mode_t m)
{
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

/* What to do about a failed create/write, by errno. */
static const char *hint(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return " (the file system is full: free space or choose another path)";
	case EISDIR:
		return " (it is a directory: name a file in it)";
	case ENAMETOOLONG:
		return " (choose a shorter path)";
	case EACCES:
	case EPERM:
	case EROFS:
	case ENOENT:
	case ENOTDIR:
		return " (check the directory exists and is writable)";
	}
	return "";
}

/* fsync the directory holding path, so a new name survives a crash. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, ret = 0;

	if (!slash)
		dir = strdup(".");
	else
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	/* EINVAL: a file system that cannot sync a directory; nothing to do. */
	if (fsync(fd) && errno != EINVAL)
		ret = -errno;
	close(fd);
	return ret;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A failed open: say what is at path when it is not a plain file. */
static int open_failed(const char *path, const char *what, int ret, char *err, size_t errlen)
{
	struct stat st;

	if (!lstat(path, &st) && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "refusing to write %s %s: it is %s (%s)", what, path,
			 kind_of(st.st_mode), S_ISLNK(st.st_mode) ?
			 "remove the link or choose another path" : "choose a regular file");
		return S_ISLNK(st.st_mode) ? -ELOOP : ret;
	}
	snprintf(err, errlen, "cannot create %s %s: %s%s", what, path, strerror(-ret), hint(-ret));
	return ret;
}

/*
 * Opens path to write without following a symlink: a new file (O_EXCL,
 * *created = 1), else the one already there. The fd, or -errno.
 */
static int open_nofollow(const char *path, int *created)
{
	int fd;

	*created = 1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		  LM_SAFE_FILE_MODE);
	if (fd < 0 && errno == EEXIST) {
		*created = 0;
		/*
		 * No O_TRUNC: nothing is truncated before it is known to be a
		 * plain file. O_NONBLOCK: a FIFO there must not hang us.
		 */
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	}
	return fd < 0 ? -errno : fd;
}

/* What was opened may be written: a regular file, and an existing one with a single link. */
static int check_opened(int fd, int created, const char *path, const char *what,
			char *err, size_t errlen)
{
	struct stat st;
	int ret;

	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "refusing to write %s %s: it is %s (choose a regular file)",
			 what, path, kind_of(st.st_mode));
		return -EINVAL;
	}
	/* A second link may be someone else's file (a hard link planted in /tmp). */
	if (!created && st.st_nlink > 1) {
		snprintf(err, errlen, "refusing to overwrite %s %s: it has %lu hard links "
			 "(remove it or choose another path)", what, path, (unsigned long)st.st_nlink);
		return -EMLINK;
	}
	return 0;
}

/* A new file gets its mode and its name synced, an existing one is emptied; writes block. */
static int prepare_opened(int fd, int created, const char *path, const char *what,
			  char *err, size_t errlen)
{
	int ret = 0;

	/* The mode does not depend on the umask root happens to run with. */
	if (created ? fchmod(fd, LM_SAFE_FILE_MODE) : ftruncate(fd, 0)) {
		ret = -errno;
		snprintf(err, errlen, "cannot %s %s %s: %s", created ? "set the mode of" : "truncate",
			 what, path, strerror(-ret));
		return ret;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ||
	    (created && (ret = sync_dir(path)))) {
		ret = ret ? ret : -errno;
		snprintf(err, errlen, "cannot create %s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	return 0;
}

int lm_safe_file_open(const char *path, const char *what, FILE **out, char *err, size_t errlen)
{
	int fd, ret, created;
	FILE *f;

	fd = open_nofollow(path, &created);
	if (fd < 0)
		return open_failed(path, what, fd, err, errlen);
	ret = check_opened(fd, created, path, what, err, errlen);
	if (!ret)
		ret = prepare_opened(fd, created, path, what, err, errlen);
	if (!ret) {
		f = fdopen(fd, "w");
		if (f) {
			*out = f;
			return 0;
		}
		ret = -errno;
		snprintf(err, errlen, "cannot create %s %s: %s", what, path, strerror(-ret));
	}
	close(fd);
	if (created)
		unlink(path);
	return ret;
}

int lm_safe_file_close(FILE *f)
{
	int ret = 0;

	if (ferror(f))
		ret = -EIO;
	else if (fflush(f))
		ret = errno ? -errno : -EIO;
	else if (fsync(fileno(f)) && errno != EINVAL)
		ret = -errno;
	if (fclose(f) && !ret)
		ret = errno ? -errno : -EIO;
	return ret;
}

static const char temp_suffix[] = ".tmp.XXXXXX";

/* NAME is BASE.tmp. and six characters mkstemp could have chosen. */
static int is_temp_of(const char *name, const char *base)
{
	size_t blen = strlen(base), xs = strlen("XXXXXX"), i;
	const char *tail = name + blen + sizeof(temp_suffix) - 1 - xs;

	if (strncmp(name, base, blen) || strncmp(name + blen, temp_suffix, sizeof(temp_suffix) - 1 - xs) ||
	    strlen(tail) != xs)
		return 0;
	for (i = 0; i < xs; i++)
		if (!isalnum((unsigned char)tail[i]))
			return 0;
	return 1;
}

int lm_safe_file_clean_temps(const char *path)
{
	char dirbuf[PATH_MAX];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	struct dirent *d;
	struct stat st;
	int n = 0, dfd;
	DIR *dir;

	snprintf(dirbuf, sizeof(dirbuf), "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
	dir = opendir(dirbuf);
	if (!dir)
		return 0;
	dfd = dirfd(dir);
	while ((d = readdir(dir))) {
		if (!is_temp_of(d->d_name, base) || fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		    time(NULL) - st.st_mtime < LM_SAFE_FILE_STALE_S)
			continue;
		n += !unlinkat(dfd, d->d_name, 0);
	}
	closedir(dir);
	return n;
}

int lm_safe_file_replace(const char *path, const char *what, const void *data, size_t len,
		       unsigned flags, char *err, size_t errlen)
{
	size_t plen = strlen(path);
	const char *step = NULL;
	int fd, ret = 0;
	char *tmp;

	tmp = malloc(plen + sizeof(temp_suffix));
	if (!tmp) {
		snprintf(err, errlen, "cannot write %s %s: out of memory", what, path);
		return -ENOMEM;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, temp_suffix, sizeof(temp_suffix));
	/* A fresh name made with O_EXCL: no link planted beforehand is followed. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create a temporary file beside %s %s: %s%s",
			 what, path, strerror(-ret), hint(-ret));
		free(tmp);
		return ret;
	}
	if (fchmod(fd, LM_SAFE_FILE_MODE)) {
		ret = -errno;
		step = "set the mode of";
	} else if ((ret = write_all(fd, data, len))) {
		step = "write";
	} else if (fsync(fd) && errno != EINVAL) {
		ret = -errno;
		step = "sync";
	}
	if (close(fd) && !ret) {
		ret = -errno;
		step = "write";
	}
	if (!ret && rename(tmp, path)) {
		ret = -errno;
		step = "rename the temporary file over";
	}
	if (ret)
		unlink(tmp);
	else if ((flags & LM_SAFE_FILE_SYNC_DIR) && (ret = sync_dir(path)))
		step = "sync the directory of";
	if (ret)
		snprintf(err, errlen, "cannot %s %s %s: %s%s", step, what, path, strerror(-ret), hint(-ret));
	free(tmp);
	return ret;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Minimal unit-test helpers in the style of the kernel's BPF selftests:
 * ASSERT_*(actual, expected, "name") print what differed and count failures.
 * A test program ends with `return unit_done(name)`: 0 when every check
 * passed, 1 when one failed or none ran (a test that checked nothing cannot
 * fail, so it does not pass). A failed check's line starts with "FAIL: ",
 * as a system test's does, so tests/run-tests.sh lists it under what failed.
 */
#ifndef LM_UNIT_H
#define LM_UNIT_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

#define UNIT_FAIL(name, fmt, ...) do {						\
	unit_failures++;							\
	fprintf(stderr, "FAIL: %s:%d: %s: " fmt "\n", __FILE__, __LINE__,	\
		(name), __VA_ARGS__);						\
} while (0)

#define ASSERT_EQ(actual, expected, name) ({					\
	long long _a = (long long)(actual), _e = (long long)(expected);		\
	unit_checks++;								\
	if (_a != _e)								\
		UNIT_FAIL(name, "got %lld, expected %lld", _a, _e);		\
	_a == _e; })

#define ASSERT_TRUE(cond, name) ({						\
	int _c = !!(cond);							\
	unit_checks++;								\
	if (!_c)								\
		UNIT_FAIL(name, "%s is false", #cond);				\
	_c; })

/* |actual - expected| <= rel * |expected| (+ abs_tol). */
#define ASSERT_NEAR(actual, expected, rel, abs_tol, name) ({			\
	double _a = (actual), _e = (expected);					\
	int _ok = fabs(_a - _e) <= (rel) * fabs(_e) + (abs_tol);		\
	unit_checks++;								\
	if (!_ok)								\
		UNIT_FAIL(name, "got %g, expected %g (rel %g, abs %g)",		\
			  _a, _e, (double)(rel), (double)(abs_tol));		\
	_ok; })

#define ASSERT_STREQ(actual, expected, name) ({					\
	const char *_a = (actual), *_e = (expected);				\
	int _ok = _a && _e && strcmp(_a, _e) == 0;				\
	unit_checks++;								\
	if (!_ok)								\
		UNIT_FAIL(name, "got \"%s\", expected \"%s\"",			\
			  _a ? _a : "(null)", _e ? _e : "(null)");		\
	_ok; })

static inline int unit_by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/*
 * The recorded traces' directory entries, sorted by name: tests/traces under
 * argv[1], else $LM_TOP, else ".". Their count, or -1 after saying why: the
 * traces are part of the repository, so not finding them is no skip.
 */
static inline int unit_scan_traces(int argc, char **argv, char *dir, size_t size,
				   struct dirent ***ents)
{
	const char *top = getenv("LM_TOP");
	int n;

	snprintf(dir, size, "%s/tests/traces", argc > 1 ? argv[1] : top ? top : ".");
	n = scandir(dir, ents, NULL, unit_by_name);
	if (n < 0)
		printf("FAIL: no trace directory %s: run from the repository root or set LM_TOP\n", dir);
	return n;
}

/* A small file's text (up to 1 MiB, NUL-ended; "" if unreadable), for strstr(); free() it. */
static inline char *unit_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);

	if (f && buf) {
		if (fread(buf, 1, (1 << 20) - 1, f)) {}
		fclose(f);
	} else if (f) {
		fclose(f);
	}
	return buf;
}

/*
 * A test's scratch folder: removed at the end when every check passed,
 * kept (and said where) when one failed, to look at.
 */
static inline void unit_tmpdir_done(const char *dir)
{
	char cmd[600];

	if (unit_failures) {
		fprintf(stderr, "files kept in %s\n", dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static inline int unit_done(const char *prog)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", prog, unit_checks, unit_failures);
	if (!unit_checks)
		fprintf(stderr, "FAIL: %s: no check ran\n", prog);
	return unit_failures || !unit_checks ? 1 : 0;
}

#endif /* LM_UNIT_H */

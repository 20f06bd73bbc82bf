// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Files lmtrace writes as root: --prom-file, -w and report -o with a
 * symlink, a hard link, a FIFO or a directory planted where they write.
 * Each must leave the victim file untouched and either write its output
 * correctly or fail with a message that names the path and what to do.
 * New files are 0644 whatever the umask.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "sinks/outputs.h"
#include "report/report.h"
#include "io/safe_file.h"
#include "record/record.h"
#include "synth.h"
#include "unit.h"

static const struct synth model = {
	.pid = 4242, .t0_ns = 1764075600000000000ull, .ram = 256 << 20, .rate_Bps = 32 << 20,
	.dirty_Bps = 4 << 20, .wws = 256 << 20, .downtime_s = 0.3, .max_s = 60,
};

static const char victim_text[] = "precious: not lmtrace's to overwrite\n";
static char tmpdir[] = "/tmp/lmtrace-test-files.XXXXXX";

static void feed(void *ctx, const struct lm_obs *o)
{
	lm_pipeline_feed(ctx, o);
}

static void in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* A file's first cap - 1 bytes as a string ("" if unreadable). */
static char *slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	return buf;
}

static void make_victim(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(victim_text, f);
		fclose(f);
	}
	chmod(path, 0600);
}

static int victim_intact(const char *path)
{
	char buf[256];
	struct stat st;

	return !lstat(path, &st) && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 &&
	       !strcmp(slurp(path, buf, sizeof(buf)), victim_text);
}

static int mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -1 : S_ISREG(st.st_mode) ? (int)(st.st_mode & 07777) : -2;
}

/* Entries in tmpdir whose name starts with prefix. */
static int count_prefixed(const char *prefix)
{
	struct dirent *de;
	DIR *d = opendir(tmpdir);
	int n = 0;

	while (d && (de = readdir(d)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	if (d)
		closedir(d);
	return n;
}

/* The model migration through a pipeline with one sink. */
static int run_sink(struct lm_sink *s)
{
	struct lm_est_config cfg;
	struct lm_pipeline p;

	lm_est_config_default(&cfg);
	lm_pipeline_init(&p, &cfg);
	lm_pipeline_add_sink(&p, s);
	lm_pipeline_set_name(&p, model.pid, "vm-a");
	synth_run(&model, feed, &p);
	return lm_pipeline_finish(&p);
}

static void test_prom_file_links(void)
{
	char path[512], tmp[520], victim[512], err[512], buf[4096];
	struct lm_sink *s;
	mode_t old = umask(077);

	in_dir(victim, sizeof(victim), "victim-prom");
	in_dir(path, sizeof(path), "lmtrace.prom");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	make_victim(victim);
	/* the old fixed temporary name, pointing at the victim */
	ASSERT_EQ(symlink(victim, tmp), 0, "plant a link at PATH.tmp");
	ASSERT_EQ(lm_sink_prom_file_new(path, &s, err, sizeof(err)), 0, "prom file sink");
	ASSERT_EQ(run_sink(s), 0, "metrics written");
	ASSERT_TRUE(victim_intact(victim), "victim behind PATH.tmp untouched");
	ASSERT_TRUE(readlink(tmp, buf, sizeof(buf)) > 0, "the planted link is left alone");
	ASSERT_EQ(mode_of(path), 0644, "metrics file is a regular file, 0644 under umask 077");
	ASSERT_TRUE(!strncmp(slurp(path, buf, sizeof(buf)), "# HELP lmtrace_", 15), "metrics content");
	ASSERT_TRUE(strstr(buf, "vm=\"vm-a\"") != NULL, "the VM's series");
	ASSERT_EQ(count_prefixed("lmtrace.prom.tmp."), 0, "no temporary file left");

	/* a link at PATH itself is replaced by the file, never written through */
	unlink(path);
	ASSERT_EQ(symlink(victim, path), 0, "plant a link at PATH");
	ASSERT_EQ(lm_sink_prom_file_new(path, &s, err, sizeof(err)), 0, "prom file sink over a link");
	ASSERT_EQ(run_sink(s), 0, "metrics written over the link");
	ASSERT_TRUE(victim_intact(victim), "victim behind PATH untouched");
	ASSERT_EQ(mode_of(path), 0644, "the link became the metrics file");

	/* PATH a directory: a clear error at start, nothing left behind */
	in_dir(path, sizeof(path), "prom-dir");
	mkdir(path, 0755);
	ASSERT_EQ(lm_sink_prom_file_new(path, &s, err, sizeof(err)), -EISDIR, "PATH is a directory");
	ASSERT_TRUE(strstr(err, path) && strstr(err, "directory"), "message names it and says why");
	ASSERT_TRUE(!strchr(err, '\n'), "one line");
	ASSERT_EQ(count_prefixed("prom-dir.tmp."), 0, "temporary file removed");
	umask(old);
}

static void test_record_links(void)
{
	char path[512], victim[512], err[512], target[512];
	struct lm_est_config cfg;
	struct lm_rec_item it;
	struct lm_record *r;
	struct lm_sink *s;
	mode_t old = umask(077);
	int ret, n = 0;

	lm_est_config_default(&cfg);
	in_dir(victim, sizeof(victim), "victim-rec");
	make_victim(victim);

	in_dir(path, sizeof(path), "link.lmrec");
	symlink(victim, path);
	ret = lm_sink_record_new(path, &cfg, &s, err, sizeof(err));
	ASSERT_EQ(ret, -ELOOP, "-w through a symlink refused");
	ASSERT_TRUE(strstr(err, path) && strstr(err, "symbolic link") && strstr(err, "choose another"),
		    "message names the link and what to do");
	ASSERT_TRUE(victim_intact(victim), "victim behind the link untouched");

	/* a dangling link: creating must not make its target */
	in_dir(path, sizeof(path), "dangling.lmrec");
	in_dir(target, sizeof(target), "created-through-link");
	symlink(target, path);
	ASSERT_EQ(lm_sink_record_new(path, &cfg, &s, err, sizeof(err)), -ELOOP, "dangling link refused");
	ASSERT_TRUE(access(target, F_OK) != 0, "the link's target not created");

	in_dir(path, sizeof(path), "hardlink.lmrec");
	link(victim, path);
	ASSERT_EQ(lm_sink_record_new(path, &cfg, &s, err, sizeof(err)), -EMLINK, "a hard-linked file refused");
	ASSERT_TRUE(strstr(err, "hard links") != NULL, "message says why");
	ASSERT_TRUE(victim_intact(victim), "victim behind the hard link untouched");

	in_dir(path, sizeof(path), "fifo.lmrec");
	mkfifo(path, 0600);
	ret = lm_sink_record_new(path, &cfg, &s, err, sizeof(err));	/* must not block */
	ASSERT_TRUE(ret < 0 && strstr(err, "FIFO"), "a FIFO refused, without hanging");

	in_dir(path, sizeof(path), "dir.lmrec");
	mkdir(path, 0755);
	ret = lm_sink_record_new(path, &cfg, &s, err, sizeof(err));
	ASSERT_TRUE(ret < 0 && strstr(err, "directory"), "a directory refused");

	/* a regular file of ours is overwritten with a good recording, its mode kept */
	in_dir(path, sizeof(path), "old.lmrec");
	make_victim(path);
	ASSERT_EQ(lm_sink_record_new(path, &cfg, &s, err, sizeof(err)), 0, "existing regular file");
	ASSERT_EQ(run_sink(s), 0, "recorded");
	ASSERT_EQ(mode_of(path), 0600, "an existing file keeps its mode");
	if (ASSERT_EQ(lm_record_open(path, &r, err, sizeof(err)), 0, "it replays")) {
		while ((ret = lm_record_next(r, &it)) > 0)
			n += it.type == LM_REC_E_OBS;
		ASSERT_EQ(ret, 0, "to its end marker: the old bytes are gone");
		ASSERT_TRUE(n > 10, "every observation");
		lm_record_close(r);
	}

	in_dir(path, sizeof(path), "new.lmrec");
	ASSERT_EQ(lm_sink_record_new(path, &cfg, &s, err, sizeof(err)), 0, "new file");
	ASSERT_EQ(run_sink(s), 0, "recorded");
	ASSERT_EQ(mode_of(path), 0644, "a new recording is 0644 under umask 077");

	in_dir(path, sizeof(path), "no/such/dir.lmrec");
	ASSERT_EQ(lm_sink_record_new(path, &cfg, &s, err, sizeof(err)), -ENOENT, "missing directory");
	ASSERT_TRUE(strstr(err, "no/such/dir") && strstr(err, "check the directory"), "says what to do");
	umask(old);
}

static void test_report_links(void)
{
	char rec[512], chart[512], victim[512], err[512], buf[64];
	struct stat before, after;
	mode_t old = umask(077);

	in_dir(rec, sizeof(rec), "new.lmrec");	/* made by test_record_links */
	in_dir(victim, sizeof(victim), "victim-chart");
	make_victim(victim);

	in_dir(chart, sizeof(chart), "link.svg");
	symlink(victim, chart);
	ASSERT_EQ(lm_report_make(rec, chart, LM_REP_SVG, 960, err, sizeof(err)), -ELOOP,
		  "report -o through a symlink refused");
	ASSERT_TRUE(strstr(err, chart) && strstr(err, "symbolic link"), "message names the link");
	ASSERT_TRUE(victim_intact(victim), "victim behind the link untouched");

	stat(rec, &before);
	ASSERT_TRUE(lm_report_make(rec, rec, LM_REP_SVG, 960, err, sizeof(err)) < 0,
		    "report -o naming its own recording refused");
	ASSERT_TRUE(strstr(err, "choose another -o") != NULL, "says what to do");
	stat(rec, &after);
	ASSERT_EQ(after.st_size, before.st_size, "the recording is whole");

	in_dir(chart, sizeof(chart), "chart.svg");
	ASSERT_EQ(lm_report_make(rec, chart, LM_REP_SVG, 960, err, sizeof(err)), 0, "report to a new file");
	ASSERT_EQ(mode_of(chart), 0644, "chart is 0644 under umask 077");
	ASSERT_TRUE(!strncmp(slurp(chart, buf, sizeof(buf)), "<svg ", 5), "chart written");
	umask(old);
}

static void test_safe_file_errors(void)
{
	char path[512], err[512];
	FILE *f;

	in_dir(path, sizeof(path), "missing/x.prom");
	ASSERT_EQ(lm_safe_file_replace(path, "metrics file", "x\n", 2, 0, err, sizeof(err)), -ENOENT,
		  "replace into a missing directory");
	ASSERT_TRUE(strstr(err, "metrics file") && strstr(err, "missing/x.prom") &&
		    strstr(err, "check the directory"), "message: what, where, what to do");
	in_dir(path, sizeof(path), "plain");
	ASSERT_EQ(lm_safe_file_open(path, "chart", &f, err, sizeof(err)), 0, "open a new file");
	fputs("abc", f);
	ASSERT_EQ(lm_safe_file_close(f), 0, "close syncs and closes");
	ASSERT_EQ(lm_safe_file_replace(path, "metrics file", "xyz\n", 4, LM_SAFE_FILE_SYNC_DIR,
				     err, sizeof(err)), 0, "replace with a directory sync");
	ASSERT_STREQ(slurp(path, (char[16]){ 0 }, 16), "xyz\n", "replaced");
}

/* A file in tmpdir last written age_s ago. */
static void file_aged(const char *name, time_t age_s)
{
	struct timespec t[2] = { { time(NULL) - age_s, 0 }, { time(NULL) - age_s, 0 } };
	char path[512];

	in_dir(path, sizeof(path), name);
	make_victim(path);
	utimensat(AT_FDCWD, path, t, 0);
}

static int exists(const char *name)
{
	char path[512];
	struct stat st;

	in_dir(path, sizeof(path), name);
	return !lstat(path, &st);
}

/*
 * What a killed lmtrace left beside its --prom-file goes when the next one
 * opens it: only stale temporaries of that file, regular and its own.
 */
static void test_stale_temps(void)
{
	char path[512], target[512], err[512];
	struct lm_sink *s = NULL;

	file_aged("m.prom.tmp.AbC123", 600);		/* left by a SIGKILL */
	file_aged("m.prom.tmp.Zz9xY0", 0);		/* being written right now */
	file_aged("m.prom.tmp.AbC12", 600);		/* not a name mkstemp makes */
	file_aged("m.prom.tmp.AbC1234", 600);
	file_aged("other.prom.tmp.AbC123", 600);	/* another file's */
	in_dir(target, sizeof(target), "m.prom.tmp.AbC12");
	in_dir(path, sizeof(path), "m.prom.tmp.Lnk123");
	ASSERT_EQ(symlink(target, path), 0, "a planted link");
	in_dir(path, sizeof(path), "m.prom");
	ASSERT_EQ(lm_sink_prom_file_new(path, &s, err, sizeof(err)), 0, "prom file sink");
	ASSERT_TRUE(!exists("m.prom.tmp.AbC123"), "the stale temporary is removed");
	ASSERT_TRUE(exists("m.prom.tmp.Zz9xY0"), "a fresh one is not (a writer may own it)");
	ASSERT_TRUE(exists("m.prom.tmp.AbC12") && exists("m.prom.tmp.AbC1234"), "other names stay");
	ASSERT_TRUE(exists("other.prom.tmp.AbC123"), "another file's temporaries stay");
	ASSERT_TRUE(exists("m.prom.tmp.Lnk123"), "a link is no temporary of ours");
	if (s)
		ASSERT_EQ(s->close(s), 0, "close");
}

int main(int argc, char **argv)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_prom_file_links();
	test_record_links();
	test_report_links();
	test_safe_file_errors();
	test_stale_temps();
	unit_tmpdir_done(tmpdir);
	return unit_done(argv[0]);
}

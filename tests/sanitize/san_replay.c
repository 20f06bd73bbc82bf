// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * san_replay: recordings through everything lmtrace does with one, without
 * lmtrace's tracer (no root, no BPF), built with ASan + UBSan by `make
 * sanitize` for tests/system/t_sanitize.sh.
 *
 *   san_replay [--valid] FILE...
 *
 * Each FILE is replayed (lm_replay) into the pipeline with every sink: JSON,
 * rows, CSV, the live view, the Prometheus textfile, the HTTP server (on an
 * ephemeral loopback port), and a new recording made with FILE's settings,
 * as a live lmtrace -w would make it; the Prometheus text is rendered from
 * every view; the new recording is replayed again; the report is drawn as
 * SVG and HTML. Outputs go to a scratch directory, removed
 * after. A replay error is expected for a damaged FILE (the fuzz corpus)
 * and only printed, unless --valid: then every FILE must replay cleanly and
 * the rewritten recording must replay to the same JSON as FILE.
 * Exit 0, or 1 when --valid is broken; a sanitizer report stops the program
 * with its own error instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sinks/outputs.h"
#include "sinks/prom_metrics.h"
#include "report/report.h"
#include "record/record.h"
#include "record/replay.h"

/* The HTTP sink on a free loopback port (lmtrace refuses port 0: users name theirs). */
static int http_sink(struct lm_sink **s, char *err, size_t errlen)
{
	char addr[32];
	int ret = -EADDRINUSE;

	for (int k = 0; k < 50 && ret; k++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", 40000 + (int)(getpid() % 5000) * 4 + k);
		ret = lm_sink_http_new(addr, s, err, errlen);
	}
	return ret;
}

static char dir[] = "/tmp/lmtrace-san-replay.XXXXXX";

/* The scratch files, in dir. */
enum { F_ROWS, F_CSV, F_LIVE, F_PROM, F_FIRST, F_AGAIN, F_REC, F_SVG, F_HTML, NFILES };
static const char *const names[NFILES] = {
	"rows.txt", "out.csv", "live.txt", "lmtrace.prom", "first.json", "again.json",
	"again.lmrec", "chart.svg", "chart.html",
};
static char paths[NFILES][64];

static int add(struct lm_pipeline *p, int ret, struct lm_sink *s, const char *what,
	       const char *err)
{
	if (ret) {
		fprintf(stderr, "san_replay: %s sink: %s\n", what, err && err[0] ? err : strerror(-ret));
		return ret;
	}
	return lm_pipeline_add_sink(p, s);
}

/* FILE into every sink; the JSON to json_path. 0 or the replay's error. */
static int replay_all_sinks(const char *file, const struct lm_est_config *cfg,
			    const char *json_path, const char *rec_path, char *err, size_t errlen)
{
	FILE *json = fopen(json_path, "w"), *rows = fopen(paths[F_ROWS], "w");
	FILE *csv = fopen(paths[F_CSV], "w"), *live = fopen(paths[F_LIVE], "w");
	static struct lm_prom_vm slot[LM_PIPE_MAX_VMS];
	struct lm_prom_state st;
	struct lm_pipeline p;
	struct lm_sink *s = NULL;
	char serr[512] = "";
	int ret, setup = 0;
	size_t len;
	char *text;

	if (!json || !rows || !csv || !live) {
		perror("san_replay: scratch files");
		exit(2);
	}
	lm_pipeline_init(&p, cfg);
	setup |= add(&p, lm_sink_json_new(json, &s), s, "JSON", NULL);
	setup |= add(&p, lm_sink_text_new(rows, &s), s, "rows", NULL);
	setup |= add(&p, lm_sink_csv_new(csv, &s), s, "CSV", NULL);
	setup |= add(&p, lm_sink_live_new(live, &s), s, "live", NULL);
	setup |= add(&p, lm_sink_prom_file_new(paths[F_PROM], &s, serr, sizeof(serr)),
		     s, "Prometheus file", serr);
	setup |= add(&p, http_sink(&s, serr, sizeof(serr)), s, "HTTP", serr);
	if (rec_path)
		setup |= add(&p, lm_sink_record_new(rec_path, &p.cfg, &s, serr, sizeof(serr)),
			     s, "recording", serr);
	if (setup)
		exit(2);
	ret = lm_replay(file, &p, err, errlen);
	lm_prom_init(&st);
	for (int i = 0; lm_pipeline_view(&p, i); i++)	/* each VM's snapshot in a fresh slot */
		lm_prom_update(&st, memset(&slot[i], 0, sizeof(slot[i])), lm_pipeline_view(&p, i));
	text = lm_prom_render(&st, &len);
	free(text);
	lm_prom_destroy(&st);
	if (lm_pipeline_finish(&p)) {
		fprintf(stderr, "san_replay: %s: writing an output failed\n", file);
		exit(2);
	}
	fclose(json);
	fclose(rows);
	fclose(csv);
	fclose(live);
	return ret;
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int c, n = 0;

	while (f && (c = getc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

static int same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	int ca, cb, same = fa && fb;

	while (same) {
		ca = getc(fa);
		cb = getc(fb);
		same = ca == cb;
		if (ca == EOF || cb == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

int main(int argc, char **argv)
{
	int i = 1, valid = 0, bad = 0;

	if (argc > 1 && !strcmp(argv[1], "--valid")) {
		valid = 1;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: san_replay [--valid] FILE...\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("san_replay: mkdtemp");
		return 2;
	}
	for (int k = 0; k < NFILES; k++)
		snprintf(paths[k], sizeof(paths[k]), "%s/%s", dir, names[k]);
	for (; i < argc; i++) {
		const char *f = argv[i], *rec = paths[F_REC];
		char err[512] = "", err2[512] = "", rerr[512] = "";
		struct lm_est_config cfg;
		struct lm_record *r;
		int ret, ret2 = 0, rret, lines;

		/* The settings FILE was recorded with, when its header reads. */
		lm_est_config_default(&cfg);
		if (!lm_record_open(f, &r, err, sizeof(err))) {
			cfg = *lm_record_config(r);
			lm_record_close(r);
		}
		ret = replay_all_sinks(f, &cfg, paths[F_FIRST], rec, err, sizeof(err));
		/* The new recording, replayed in turn. */
		lm_est_config_default(&cfg);
		ret2 = replay_all_sinks(rec, &cfg, paths[F_AGAIN], NULL, err2, sizeof(err2));
		rret = lm_report_make(f, paths[F_SVG], LM_REP_SVG, 960, rerr, sizeof(rerr));
		if (!rret)
			rret = lm_report_make(f, paths[F_HTML], LM_REP_HTML, 960, rerr, sizeof(rerr));
		lines = count_lines(paths[F_FIRST]);
		printf("%s: replay %s (%d JSON lines); its re-recording %s; report %s\n", f,
		       ret ? err : "ok", lines, ret2 ? err2 : "ok", rret ? rerr : "ok");
		if (valid && (ret || ret2 || rret || lines < 2)) {
			printf("  FAIL: a valid recording must replay and draw cleanly\n");
			bad++;
		} else if (valid && !same_file(paths[F_FIRST], paths[F_AGAIN])) {
			printf("  FAIL: the re-recording replays to other JSON than the recording\n");
			bad++;
		}
	}
	for (int k = 0; k < NFILES; k++)
		unlink(paths[k]);
	if (rmdir(dir))
		fprintf(stderr, "san_replay: %s: %s\n", dir, strerror(errno));
	return bad ? 1 : 0;
}

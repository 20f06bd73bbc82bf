// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The output sinks driven through the real pipeline and estimator by a
 * model migration (synth.h): CSV shape and stability, replay reproducing
 * the live output byte for byte, Prometheus exposition (file and a real
 * HTTP server on 127.0.0.1, probed with well-formed and malformed requests
 * over raw sockets; a port alone binds loopback only), the live view's
 * frames, and the report's chart.
 * Ports 47400-47449 belong to this test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "sinks/outputs.h"
#include "sinks/prom_metrics.h"
#include "report/report.h"
#include "sinks/text_fmt.h"
#include "record/record.h"
#include "record/replay.h"
#include "synth.h"
#include "unit.h"

#define PORT_BASE 47400

static const struct synth converging = {
	.pid = 4242, .t0_ns = 1764075600000000000ull, .ram = 256 << 20, .rate_Bps = 32 << 20,
	.dirty_Bps = 4 << 20, .wws = 256 << 20, .downtime_s = 0.3, .max_s = 60,
};
static const struct synth stuck = {
	.pid = 4343, .t0_ns = 1764075600000000000ull, .ram = 256 << 20, .rate_Bps = 16 << 20,
	.dirty_Bps = 64 << 20, .wws = 200 << 20, .downtime_s = 0.3, .max_s = 40,
};

static char tmpdir[] = "/tmp/lmtrace-test-outputs.XXXXXX";

static void feed(void *ctx, const struct lm_obs *o)
{
	lm_pipeline_feed(ctx, o);
}

static void init_pipe(struct lm_pipeline *p)
{
	struct lm_est_config cfg;

	lm_est_config_default(&cfg);
	lm_pipeline_init(p, &cfg);
}

/* Both model migrations through p, with names that need quoting. */
static void run_both(struct lm_pipeline *p)
{
	lm_pipeline_set_name(p, converging.pid, "vm-a");
	lm_pipeline_set_name(p, stuck.pid, "db \"primary\", rack\\3");
	synth_run(&converging, feed, p);
	synth_run(&stuck, feed, p);
}

/* Fields in one CSV line, honouring quotes. */
static int csv_fields(const char *line)
{
	int n = 1, quoted = 0;

	for (; *line && *line != '\n'; line++) {
		if (*line == '"')
			quoted = !quoted;
		else if (*line == ',' && !quoted)
			n++;
	}
	return n;
}

static char *csv_of_run(int with_record, const char *rec_path)
{
	struct lm_pipeline p;
	struct lm_sink *s;
	char *buf = NULL, err[256];
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	init_pipe(&p);
	ASSERT_EQ(lm_sink_csv_new(f, &s), 0, "csv sink");
	lm_pipeline_add_sink(&p, s);
	if (with_record) {
		ASSERT_EQ(lm_sink_record_new(rec_path, &p.cfg, &s, err, sizeof(err)), 0, "record sink");
		lm_pipeline_add_sink(&p, s);
		run_both(&p);
	} else {
		ASSERT_EQ(lm_replay(rec_path, &p, err, sizeof(err)), 0, "replay");
	}
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
	fclose(f);
	return buf;
}

static void test_csv_and_replay(void)
{
	char rec[512], *live, *replayed, *line;
	int lines = 0, header_fields, bad = 0, samples = 0, rounds = 0, quoted = 0;

	snprintf(rec, sizeof(rec), "%s/both.lmrec", tmpdir);
	live = csv_of_run(1, rec);
	replayed = csv_of_run(0, rec);
	if (!ASSERT_TRUE(live && replayed, "outputs"))
		return;
	ASSERT_TRUE(!strncmp(live, "ts_s,pid,vm,record,round,dirty_pages,", 37), "header first");
	header_fields = csv_fields(live);
	ASSERT_EQ(header_fields, 25, "columns (phase appended last)");
	for (line = live; *line; line = strchr(line, '\n') + 1) {
		lines++;
		if (csv_fields(line) != header_fields && bad++ < 3)
			fprintf(stderr, "  line %d has %d fields: %.80s\n", lines, csv_fields(line), line);
		samples += !!strstr(line, ",sample,");
		rounds += !!strstr(line, ",round,");
		quoted += !!strstr(line, ",\"db \"\"primary\"\", rack\\3\",");
	}
	ASSERT_EQ(bad, 0, "every line has every column");
	/* converging: 9 ticks, 4 rounds; stuck: 39 ticks, 1 + bulk + 2.x more rounds */
	ASSERT_TRUE(samples >= 45, "a line per sample");
	ASSERT_TRUE(rounds >= 6, "a line per round");
	ASSERT_TRUE(quoted > 10, "name with comma and quotes quoted");
	ASSERT_STREQ(replayed, live, "replay gives the live output, byte for byte");
	free(live);
	free(replayed);
}

/* Checks exposition lines: comments, or name{labels} value. */
static int prom_well_formed(const char *text, int *series)
{
	const char *l = text;
	int bad = 0;

	*series = 0;
	while (*l) {
		const char *end = strchr(l, '\n');
		char name[128];
		double v;

		if (!end)
			return -1;
		if (*l != '#') {
			if (sscanf(l, "%127[a-z_]{", name) != 1 || strncmp(name, "lmtrace_", 8) ||
			    !memchr(l, '}', end - l) ||
			    sscanf((const char *)memchr(l, '}', end - l) + 1, " %lf", &v) != 1)
				bad++;
			(*series)++;
		}
		l = end + 1;
	}
	return bad;
}

static char *prom_text_of_run(void)
{
	static struct lm_prom_vm slot[LM_PIPE_MAX_VMS];
	struct lm_prom_state st;
	struct lm_pipeline p;
	char *text;
	size_t len;

	init_pipe(&p);
	run_both(&p);
	lm_prom_init(&st);
	for (int i = 0; lm_pipeline_view(&p, i); i++)	/* each VM's snapshot in a fresh slot */
		lm_prom_update(&st, memset(&slot[i], 0, sizeof(slot[i])), lm_pipeline_view(&p, i));
	text = lm_prom_render(&st, &len);
	ASSERT_EQ(strlen(text), len, "length");
	lm_prom_destroy(&st);
	lm_pipeline_finish(&p);
	return text;
}

static void test_prom_text(void)
{
	char *text = prom_text_of_run();
	int series, ones = 0;
	const char *p;

	ASSERT_EQ(prom_well_formed(text, &series), 0, "exposition lines well formed");
	ASSERT_TRUE(series > 30, "series for both VMs");
	for (p = text; (p = strstr(p, "\nlmtrace_verdict{")); p++)
		ones += strstr(p, "\"} 1\n") && strstr(p, "\"} 1\n") < strchr(p + 1, '\n') + 1;
	ASSERT_EQ(ones, 2, "one current verdict per VM");
	ASSERT_TRUE(strstr(text, "# TYPE lmtrace_rounds_total counter\n") != NULL, "counter typed");
	ASSERT_TRUE(strstr(text, "# TYPE lmtrace_eta_seconds gauge\n") != NULL, "gauge typed");
	ASSERT_TRUE(strstr(text, "vm=\"db \\\"primary\\\", rack\\\\3\"") != NULL, "label escaped");
	ASSERT_TRUE(strstr(text, "lmtrace_verdict{pid=\"4242\",vm=\"vm-a\",verdict=\"converging\"} 1\n") != NULL,
		    "converging VM's verdict");
	free(text);
}

static void test_prom_file(void)
{
	char path[512], tmp[520], bad[512], err[512];
	struct lm_pipeline p;
	struct lm_sink *s;
	struct stat sb;
	char *text, *expect;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/lmtrace.prom", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	init_pipe(&p);
	ASSERT_EQ(lm_sink_prom_file_new(path, &s, err, sizeof(err)), 0, "prom file sink");
	lm_pipeline_add_sink(&p, s);
	run_both(&p);
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
	f = fopen(path, "r");
	if (!ASSERT_TRUE(f != NULL, "file written"))
		return;
	text = calloc(1, 1 << 20);
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	ASSERT_TRUE(len > 1000, "file has content");
	expect = prom_text_of_run();
	ASSERT_STREQ(text, expect, "file holds the final exposition");
	ASSERT_TRUE(stat(tmp, &sb) != 0, "no temporary file left");
	snprintf(bad, sizeof(bad), "%s/no/such/dir/x.prom", tmpdir);
	ASSERT_EQ(lm_sink_prom_file_new(bad, &s, err, sizeof(err)), -ENOENT, "bad directory");
	ASSERT_TRUE(strstr(err, "no/such/dir") && strstr(err, "directory"), "message names it");
	free(text);
	free(expect);
}

/* What http_raw saw besides a reply. */
#define HTTP_REFUSED	(-1)	/* no connection */
#define HTTP_HUNG	(-2)	/* connected, no reply and not closed within 15 s */

/*
 * Sends req (len bytes) to port, returns how many bytes came back (up to
 * cap; 0: closed without a reply) or HTTP_REFUSED / HTTP_HUNG; resp holds
 * the reply ("" if none). Prints how long the server took (information).
 */
static long http_raw(int port, const void *req, size_t len, char *resp, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	const char *r = req;
	struct timespec t0, t1;
	long got = 0, line = 0;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	resp[0] = 0;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (fd >= 0)
			close(fd);
		return HTTP_REFUSED;
	}
	if (len && send(fd, req, len, MSG_NOSIGNAL) < 0)
		goto out;
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 15000) <= 0) {	/* the server must answer or close */
			if (!got)
				got = HTTP_HUNG;
			break;
		}
		n = recv(fd, resp + got, cap - 1 - got, 0);
		if (n <= 0)
			break;
		got += n;
		if (got == (long)cap - 1)
			break;
	}
out:
	resp[got > 0 ? got : 0] = 0;
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	while ((size_t)line < len && line < 32 && r[line] != '\r')	/* req is no C string */
		line++;
	fprintf(stderr, "  %-32.*s -> %.12s (%.2f s)\n",
		len && r[0] > ' ' ? (int)line : 8, len && r[0] > ' ' ? r : "(binary)",
		got > 0 ? resp : got == HTTP_HUNG ? "(no reply, still open)" : "(closed)",
		(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return got;
}

/* Connects and sends req, half-closes, returns the socket (or -1). */
static int http_send(int port, const void *req, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    send(fd, req, len, MSG_NOSIGNAL) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	shutdown(fd, SHUT_WR);
	return fd;
}

/* Reads until the server closes fd (1) or 20 s pass (0); closes fd. */
static int http_wait_close(int fd, char *resp, size_t cap)
{
	size_t got = 0;
	int closed = 0;

	resp[0] = 0;
	while (fd >= 0) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 20000) <= 0)
			break;
		n = recv(fd, resp + got, cap - 1 - got, 0);
		if (n <= 0) {
			closed = 1;
			break;
		}
		got += n;
		resp[got] = 0;
	}
	if (fd >= 0)
		close(fd);
	return closed;
}

static int http_status(const char *resp)
{
	int status = 0;

	sscanf(resp, "HTTP/1.%*d %d", &status);
	return status;
}

static void test_http(void)
{
	static char resp[1 << 20];
	char addr[64], err[512], *junk;
	struct lm_pipeline p;
	struct lm_sink *s = NULL;
	int port = 0, ret = -1, series, idle[20], stalled[2];
	const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

	init_pipe(&p);
	for (int i = 0; i < 10 && ret; i++) {
		port = PORT_BASE + i;
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		ret = lm_sink_http_new(addr, &s, err, sizeof(err));
	}
	if (!ASSERT_EQ(ret, 0, "http sink on a free port"))
		return;
	lm_pipeline_add_sink(&p, s);
	run_both(&p);

	http_raw(port, get, strlen(get), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 200, "GET /metrics");
	ASSERT_TRUE(strstr(resp, "Content-Type: text/plain; version=0.0.4") != NULL, "content type");
	ASSERT_TRUE(strstr(resp, "\r\n\r\n") != NULL, "headers end");
	if (strstr(resp, "\r\n\r\n"))
		ASSERT_EQ(prom_well_formed(strstr(resp, "\r\n\r\n") + 4, &series), 0, "body well formed");
	ASSERT_TRUE(strstr(resp, "lmtrace_verdict{pid=\"4343\"") != NULL, "both VMs");

#define REQ(s) s, sizeof(s) - 1
	http_raw(port, REQ("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 404, "other path");
	http_raw(port, REQ("GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n"), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 404, "prefix of a path");
	http_raw(port, REQ("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 405, "POST");
	ASSERT_TRUE(strstr(resp, "Allow: GET, HEAD") != NULL, "Allow header");
	http_raw(port, REQ("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 405, "DELETE");
	http_raw(port, REQ("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 200, "HEAD");
	ASSERT_TRUE(!strstr(resp, "lmtrace_"), "HEAD has no body");
	/*
	 * Requests the server can only time out (binary junk, a request cut
	 * short): sent together and left pending while other clients are
	 * served, then each must be closed by the idle timeout.
	 */
	stalled[0] = http_send(port, REQ("\x00\x01\x02\xff garbage\r\n\r\n"));
	stalled[1] = http_send(port, REQ("GET /metr"));
	http_raw(port, get, strlen(get), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 200, "served while two clients stall");
	/* malformed: each gets its error status at once, never a hang */
	http_raw(port, REQ("GET /metrics HTTP/9.9\r\n\r\n"), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 505, "unknown HTTP version");
	http_raw(port, REQ("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n"), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 400, "bad header line");
	junk = malloc(200000);
	memcpy(junk, "GET /metrics HTTP/1.1\r\nX-Big: ", 30);
	memset(junk + 30, 'a', 200000 - 34);
	memcpy(junk + 200000 - 4, "\r\n\r\n", 4);
	http_raw(port, junk, 200000, resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 431, "200 kB header refused");
	free(junk);
	for (int i = 0; i < 2; i++) {
		ASSERT_TRUE(http_wait_close(stalled[i], resp, sizeof(resp)), "stalled client closed by the timeout");
		ASSERT_STREQ(resp, "", "stalled client closed without a reply");
	}
#undef REQ
	/* more idle connections than the limit, then a normal scrape still works */
	for (int i = 0; i < 20; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		idle[i] = socket(AF_INET, SOCK_STREAM, 0);
		connect(idle[i], (struct sockaddr *)&a, sizeof(a));
	}
	for (int i = 0; i < 20; i++)
		close(idle[i]);
	usleep(200000);
	http_raw(port, get, strlen(get), resp, sizeof(resp));
	ASSERT_EQ(http_status(resp), 200, "serves after a connection flood");

	/* the same port again: a clear message */
	ret = lm_sink_http_new(addr, &s, err, sizeof(err));
	ASSERT_EQ(ret, -EADDRINUSE, "port in use");
	ASSERT_TRUE(strstr(err, "pick another") != NULL, "says what to do");
	ASSERT_EQ(lm_sink_http_new("nonsense", &s, err, sizeof(err)), -EINVAL, "no port");
	ASSERT_TRUE(strstr(err, "[ADDR:]PORT") != NULL, "shows the form");
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
	ASSERT_EQ(http_raw(port, get, strlen(get), resp, sizeof(resp)), HTTP_REFUSED,
		  "no server after finish");
}

/* 0 if a TCP connection to addr:port is accepted, else errno. */
static int tcp_connect(const char *addr, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ret = 0;

	inet_pton(AF_INET, addr, &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		ret = errno;
	close(fd);
	return ret;
}

/* 0 if this process can bind addr:port itself, else errno. */
static int tcp_bind(const char *addr, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ret = 0;

	inet_pton(AF_INET, addr, &a.sin_addr);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1))
		ret = errno;
	close(fd);
	return ret;
}

/* lm_sink_http_new() with stderr caught in buf. */
static int http_new_caught(const char *addr, struct lm_sink **s, char *buf, size_t cap)
{
	char path[512], err[512];
	int saved, fd, ret;
	FILE *f;

	snprintf(path, sizeof(path), "%s/http.stderr", tmpdir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, STDERR_FILENO);
	close(fd);
	ret = lm_sink_http_new(addr, s, err, sizeof(err));
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fopen(path, "r");
	buf[f ? fread(buf, 1, cap - 1, f) : 0] = 0;
	if (f)
		fclose(f);
	if (ret)
		fprintf(stderr, "  %s: %s\n", addr, err);
	return ret;
}

/*
 * --listen without an address serves loopback only: 127.0.0.1 answers,
 * 127.0.0.2 (loopback too, but another address) is refused and still free
 * to bind. 0.0.0.0 answers there too, and says so on stderr, once.
 */
static void test_http_default_bind(void)
{
	static const char *const forms[] = { ":%d", "%d", "0.0.0.0:%d" };
	static char resp[1 << 16];
	const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char addr[64], msg[1024];
	struct lm_pipeline p;
	struct lm_sink *s = NULL;

	for (int f = 0; f < 3; f++) {
		int wide = f == 2, port = 0, ret = -1;

		init_pipe(&p);
		for (int i = 0; i < 10 && ret; i++) {
			port = PORT_BASE + 20 + 10 * f + i;
			snprintf(addr, sizeof(addr), forms[f], port);
			ret = http_new_caught(addr, &s, msg, sizeof(msg));
		}
		if (!ASSERT_EQ(ret, 0, "http sink on a free port"))
			continue;
		lm_pipeline_add_sink(&p, s);
		run_both(&p);
		fprintf(stderr, "  --listen %s\n", addr);
		http_raw(port, get, strlen(get), resp, sizeof(resp));
		ASSERT_EQ(http_status(resp), 200, "served on 127.0.0.1");
		if (wide) {
			ASSERT_EQ(tcp_connect("127.0.0.2", port), 0, "0.0.0.0: every address answers");
			ASSERT_TRUE(strstr(msg, "no TLS or authentication") && strstr(msg, addr),
				    "0.0.0.0: a warning naming the address");
			ASSERT_TRUE(strchr(msg, '\n') == msg + strlen(msg) - 1, "the warning is one line");
		} else {
			ASSERT_EQ(tcp_connect("127.0.0.2", port), ECONNREFUSED, "no address: 127.0.0.2 refused");
			ASSERT_EQ(tcp_bind("127.0.0.2", port), 0, "no address: the port is free elsewhere");
			ASSERT_STREQ(msg, "", "loopback: no warning");
		}
		ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
	}
	ASSERT_EQ(lm_sink_http_new("0", &s, msg, sizeof(msg)), -EINVAL, "port 0 refused");
	ASSERT_EQ(lm_sink_http_new(":65536", &s, msg, sizeof(msg)), -EINVAL, "port 65536 refused");
}

/* Display columns of a frame line: escapes skipped, UTF-8 counted once. */
static int columns(const char *l, const char *end)
{
	int n = 0;

	while (l < end) {
		if (*l == '\033') {
			l++;
			if (*l == '[')
				while (++l < end && !(*l >= '@' && *l <= '~'))
					;
			l++;
			continue;
		}
		if ((*l & 0xc0) != 0x80)
			n++;
		l++;
	}
	return n;
}

static void test_live(void)
{
	struct lm_pipeline p;
	struct lm_sink *s;
	char *buf = NULL, *l, *end;
	size_t len;
	int clears = 0, homes = 0, widest = 0;
	FILE *f = open_memstream(&buf, &len);

	setenv("NO_COLOR", "1", 1);
	init_pipe(&p);
	ASSERT_EQ(lm_sink_live_new(f, &s), 0, "live sink");
	lm_pipeline_add_sink(&p, s);
	run_both(&p);
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
	fclose(f);
	for (l = buf; (l = strstr(l, "\033[2J")); l++)
		clears++;
	for (l = buf; (l = strstr(l, "\033[H")); l++)
		homes++;
	ASSERT_EQ(clears, 1, "the screen is cleared once, not per frame");
	/* replayed at full speed: frames are rate-limited, the final one always drawn */
	ASSERT_TRUE(homes >= 2, "first and final frame");
	for (l = buf; *l; l = end + 1) {
		end = strchr(l, '\n');
		if (!end)
			break;
		if (columns(l, end) > widest)
			widest = columns(l, end);
		if (end - l >= 3 && strncmp(end - 3, "\033[K", 3) && !strstr(l, "\033[H"))
			ASSERT_TRUE(0, "every line clears its rest");
	}
	ASSERT_TRUE(widest <= 80, "fits 80 columns");
	/* the final frame */
	l = strstr(buf, "(final)");
	if (ASSERT_TRUE(l != NULL, "final frame")) {
		ASSERT_TRUE(strstr(l, "CONVERGING") != NULL, "verdict headline");
		ASSERT_TRUE(strstr(l, "dirty MiB/s") && strstr(l, "ETA s") && strstr(l, "throttle %"),
			    "units in headers");
		ASSERT_TRUE(strstr(l, "pid 4343") && strstr(l, "pid 4242"), "a block per VM");
		ASSERT_TRUE(strstr(l, "ended (completed)") != NULL, "end shown");
		ASSERT_TRUE(strstr(l, "▁") || strstr(l, "█"), "sparklines");
		ASSERT_TRUE(strstr(l, "\033[?25h") != NULL, "cursor shown again");
	}
	free(buf);
}

static void test_report(void)
{
	char rec[512], svg[512], html[512], *text, *p;
	char err[512];
	FILE *f;
	size_t n;

	snprintf(rec, sizeof(rec), "%s/both.lmrec", tmpdir);
	snprintf(svg, sizeof(svg), "%s/chart.svg", tmpdir);
	snprintf(html, sizeof(html), "%s/chart.html", tmpdir);
	ASSERT_EQ(lm_report_make(rec, svg, LM_REP_SVG, 960, err, sizeof(err)), 0, "report svg");
	ASSERT_EQ(lm_report_make(rec, html, LM_REP_HTML, 960, err, sizeof(err)), 0, "report html");
	text = calloc(1, 4 << 20);
	f = fopen(svg, "r");
	n = f ? fread(text, 1, (4 << 20) - 1, f) : 0;
	if (f)
		fclose(f);
	ASSERT_TRUE(n > 2000, "svg written");
	ASSERT_TRUE(!strncmp(text, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39), "svg root");
	ASSERT_TRUE(n > 7 && !strcmp(text + n - 7, "</svg>\n"), "svg closed");
	ASSERT_TRUE(strstr(text, "<g id=\"vm-4242\">") && strstr(text, "<g id=\"vm-4343\">"), "a chart per VM");
	ASSERT_TRUE(strstr(text, "class=\"dirty\" d=\"M") != NULL, "dirty rate steps");
	ASSERT_TRUE(strstr(text, ">rate (MiB/s)</text>") != NULL, "rates in MiB/s, as in the tables");
	ASSERT_TRUE(strstr(text, ">remaining (MiB)</text>") != NULL, "remaining in MiB");
	p = strstr(text, "class=\"transfer\" points=\"");
	ASSERT_TRUE(p && p[25] >= '0' && p[25] <= '9', "transfer line with points");
	ASSERT_TRUE(strstr(text, "class=\"remaining\" points=\"") != NULL, "remaining line");
	ASSERT_TRUE(strstr(text, "class=\"verdict-band\"") != NULL, "verdict band");
	ASSERT_TRUE(strstr(text, "class=\"verdict-change\"") != NULL, "verdict changes");
	ASSERT_TRUE(strstr(text, "class=\"migration-end\"") != NULL, "end marked");
	ASSERT_TRUE(strstr(text, "<line class=\"predicted-switchover\"") != NULL, "prediction marked");
	ASSERT_TRUE(strstr(text, "&quot;primary&quot;") != NULL, "names escaped");
	f = fopen(html, "r");
	n = f ? fread(text, 1, (4 << 20) - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = 0;
	ASSERT_TRUE(!strncmp(text, "<!DOCTYPE html>", 15), "html page");
	ASSERT_TRUE(strstr(text, "<svg ") && strstr(text, "class=\"events\""), "chart and history");
	ASSERT_TRUE(!strstr(text, "src=") && !strstr(text, "href="), "self-contained");
	free(text);
}

/* The reason's word wrap (live view, report): lines fit, "..." included. */
static void test_wrap(void)
{
	const char *reason = "round 5 left 131 MiB; 300 ms at 33.6 MB/s allows 9.6 MiB; best case: "
			     "no switchover in 81 s; throttle 62 % would converge";
	const char *s = reason, *next;
	char out[256] = "";
	int n, lines = 0;

	for (int l = 0; l < 2; l++, lines++) {
		n = lm_wrap_line(s, 40, l == 1, &next);
		ASSERT_TRUE(n + (l == 1 && *next ? 3 : 0) <= 40, "line and \"...\" fit the width");
		ASSERT_TRUE(s[n] == ' ' || s[n] == 0, "broken at a space");
		strncat(out, s, n);
		strcat(out, " ");
		s = next;
	}
	ASSERT_TRUE(*s != 0, "the rest is cut");
	ASSERT_TRUE(!strncmp(reason, out, strlen(out) - 1), "nothing lost or repeated before the cut");
	n = lm_wrap_line("short", 40, 1, &next);
	ASSERT_EQ(n, 5, "short text whole");
	ASSERT_EQ(*next, 0, "and nothing after it");
	n = lm_wrap_line("", 40, 0, &next);
	ASSERT_EQ(n, 0, "empty line");
}

/* Every tick: the newest history entry holds the estimate's dirty rate. */
static void check_hist(struct lm_sink *s, const struct lm_sink_vm *v,
		       const struct lm_obs_tick *t)
{
	const struct lm_vm_view *vm = v->view;
	int *mismatches = s->ctx;
	uint32_t last = (vm->hist_head + vm->hist_len - 1) % LM_HISTORY;

	if (vm->hist[last].dirty_Bps != vm->est.dirty_rate_Bps)
		(*mismatches)++;
}

/*
 * A continuous source (fentry) whose write events far outnumber the unique
 * pages of a round, and a completion sync with almost nothing dirty: both
 * once gave the rows and JSON a dirty rate of their own. Each sample's dirty
 * rate must be one number in every format.
 */
static void feed_continuous(struct lm_pipeline *p)
{
	const uint64_t t0 = 1764075600000000000ull, s = 1000000000ull;
	struct lm_obs o = { .pid = 77 };
	uint64_t tx = 0, events = 0;
	struct { double t; uint32_t round; uint64_t pages; double dur; uint32_t flags; } rounds[] = {
		{ 0.001, 1, 16384, 0, 0 }, { 4.0, 2, 2048, 4.0, 0 }, { 6.5, 3, 512, 2.5, 0 },
		{ 6.6, 4, 10, 0.1, LM_ROUND_FINAL },
	};
	size_t r = 0;

	o.kind = LM_OBS_START;
	o.ts_ns = t0;
	o.start.ram_bytes = 64 << 20;
	lm_pipeline_feed(p, &o);
	for (int t = 1; t <= 8; t++) {
		for (; r < sizeof(rounds) / sizeof(rounds[0]) && rounds[r].t <= t; r++) {
			memset(&o.round, 0, sizeof(o.round));
			o.kind = LM_OBS_ROUND;
			o.ts_ns = t0 + (uint64_t)(rounds[r].t * s);
			o.round.round = rounds[r].round;
			o.round.dirty_pages = rounds[r].pages;
			o.round.duration_ns = (uint64_t)(rounds[r].dur * s);
			o.round.flags = rounds[r].flags;
			o.round.ram_bytes = 64 << 20;
			o.round.tx_total = tx;
			lm_pipeline_feed(p, &o);
		}
		tx += 16 << 20;
		events += 100000;	/* ~390 MiB/s of write events */
		memset(&o.tick, 0, sizeof(o.tick));
		o.kind = LM_OBS_TICK;
		o.ts_ns = t0 + t * s;
		o.tick.interval_ns = s;
		o.tick.tx_total = tx;
		o.tick.dirty_events_total = events;
		o.tick.rounds = rounds[r - 1].round;
		o.tick.source = LM_SRC_FENTRY;
		lm_pipeline_feed(p, &o);
	}
	o.kind = LM_OBS_END;
	o.ts_ns = t0 + 9 * s;
	o.end.reason = LM_END_COMPLETED;
	lm_pipeline_feed(p, &o);
}

/* The n-th comma-separated field of line (no quoted fields here), as a number. */
static double csv_num(const char *line, int n)
{
	while (n-- > 0 && line)
		line = strchr(line, ',') ? strchr(line, ',') + 1 : NULL;
	return line && *line != ',' ? strtod(line, NULL) : -1;
}

static void test_one_dirty_rate(void)
{
	const double MiB = 1024.0 * 1024.0;
	double text[16], json[16], csv[16];
	int nt = 0, nj = 0, nc = 0, nonzero = 0, hist_mismatches = 0;
	struct lm_sink hist = { .name = "hist", .ctx = &hist_mismatches, .on_sample = check_hist };
	char *buf[3] = {}, *l;
	struct lm_pipeline p;
	struct lm_sink *s;
	size_t len[3];
	FILE *f[3];

	init_pipe(&p);
	for (int i = 0; i < 3; i++)
		f[i] = open_memstream(&buf[i], &len[i]);
	ASSERT_EQ(lm_sink_text_new(f[0], &s), 0, "text sink");
	lm_pipeline_add_sink(&p, s);
	ASSERT_EQ(lm_sink_json_new(f[1], &s), 0, "json sink");
	lm_pipeline_add_sink(&p, s);
	ASSERT_EQ(lm_sink_csv_new(f[2], &s), 0, "csv sink");
	lm_pipeline_add_sink(&p, s);
	lm_pipeline_add_sink(&p, &hist);
	feed_continuous(&p);
	ASSERT_EQ(lm_pipeline_finish(&p), 0, "finish");
	for (int i = 0; i < 3; i++)
		fclose(f[i]);
	for (l = buf[0]; *l && nt < 16; l = strchr(l, '\n') + 1)
		if (*l != '#' && strncmp(l, "TIME", 4) && sscanf(l, "%*s %*u %*u %lf", &text[nt]) == 1)
			nt++;
	for (l = buf[1]; (l = strstr(l, "\"dirty_pages_per_s\":")) && nj < 16; l++)
		json[nj++] = strtod(l + 20, NULL) * 4096 / MiB;
	for (l = buf[2]; *l && nc < 16; l = strchr(l, '\n') + 1)
		if (strstr(l, ",sample,") && strstr(l, ",sample,") < strchr(l, '\n'))
			csv[nc++] = csv_num(l, 8) / MiB;
	ASSERT_EQ(nt, 8, "a row per sample");
	ASSERT_EQ(nj, 8, "a JSON sample per sample");
	ASSERT_EQ(nc, 8, "a CSV sample per sample");
	for (int i = 0; i < nt && i < nj && i < nc; i++) {
		ASSERT_NEAR(text[i], csv[i], 0, 0.051, "rows show the CSV's dirty rate");
		ASSERT_NEAR(json[i], csv[i], 0, 0.0003, "JSON shows the CSV's dirty rate");
		nonzero += csv[i] > 0;
	}
	ASSERT_TRUE(nonzero >= 3, "dirty rates measured");
	ASSERT_EQ(hist_mismatches, 0, "the live view's history shows the same rate");
	for (int i = 0; i < 3; i++)
		free(buf[i]);
}

/*
 * A dirty-rate measurement (calc-dirty-rate, not a migration) in every
 * output, and through a recording: 2560 pages of 4 KiB in 1 s = 10 MiB/s.
 */
/* Live (record to rec) when replay is NULL, else replaying it; rows, JSON, CSV into buf. */
static void run_dirty_rate(struct lm_pipeline *p, const char *rec, const char *replay, char **buf,
			   size_t *len)
{
	struct lm_obs o = { .kind = LM_OBS_DIRTY_RATE, .pid = 77, .ts_ns = 1764075600000000000ull };
	char err[512];
	struct lm_sink *s;
	FILE *f[3];

	init_pipe(p);
	for (int i = 0; i < 3; i++)
		f[i] = open_memstream(&buf[i], &len[i]);
	lm_sink_text_new(f[0], &s);
	lm_pipeline_add_sink(p, s);
	lm_sink_json_new(f[1], &s);
	lm_pipeline_add_sink(p, s);
	lm_sink_csv_new(f[2], &s);
	lm_pipeline_add_sink(p, s);
	if (!replay) {
		ASSERT_EQ(lm_sink_record_new(rec, &p->cfg, &s, err, sizeof(err)), 0, "record sink");
		lm_pipeline_add_sink(p, s);
		o.dirty_rate.window_ns = 1000000000ull;
		o.dirty_rate.dirty_pages = 2560;
		o.dirty_rate.ram_bytes = 64 << 20;
		o.dirty_rate.syncs = 2;
		lm_pipeline_feed(p, &o);
	} else {
		ASSERT_EQ(lm_replay(replay, p, err, sizeof(err)), 0, "replay");
	}
	ASSERT_EQ(lm_pipeline_finish(p), 0, "finish");
	for (int i = 0; i < 3; i++)
		fclose(f[i]);
}

static void test_dirty_rate_record(void)
{
	char rec[512], *live[3] = {}, *again[3] = {};
	struct lm_pipeline p;
	size_t len[3];

	snprintf(rec, sizeof(rec), "%s/dirty-rate.lmrec", tmpdir);
	run_dirty_rate(&p, rec, NULL, live, len);
	ASSERT_TRUE(strstr(live[1], "\"type\":\"dirty_rate\"") != NULL, "JSON: a dirty_rate record");
	ASSERT_TRUE(strstr(live[1], "\"dirty_pages\":2560,") != NULL, "JSON: its pages");
	ASSERT_TRUE(strstr(live[1], "\"window_s\":1.000000,") != NULL, "JSON: its window");
	ASSERT_TRUE(strstr(live[1], "\"dirty_bytes_per_s\":10485760") != NULL, "JSON: its rate");
	ASSERT_TRUE(strstr(live[1], "\"type\":\"migration\"") == NULL, "JSON: no migration");
	ASSERT_TRUE(strstr(live[0], "dirty-rate measurement, not a migration: 2560 pages (10.0 MiB) "
			    "dirtied in 1.00 s, 10.0 MiB/s") != NULL, "rows: said as such");
	ASSERT_TRUE(strstr(live[2], ",dirty-rate,,2560,1.000,,10485760,") != NULL, "CSV: its own record");
	run_dirty_rate(&p, NULL, rec, again, len);
	for (int i = 0; i < 3; i++) {
		ASSERT_STREQ(again[i], live[i], "replayed as recorded");
		free(live[i]);
		free(again[i]);
	}
}

/*
 * A recording written by an lmtrace that is then killed: blocks close on a
 * wall-clock timer, so what was fed more than LM_REC_FLUSH_S ago is on disk.
 */
static void test_record_flush_timer(void)
{
	struct lm_pipeline p;
	struct lm_record *r;
	struct lm_rec_item it;
	struct lm_sink *s;
	char path[512], err[512];
	int n = 0, ret;
	struct lm_obs o = { .kind = LM_OBS_TICK, .pid = 99, .ts_ns = 1764075600000000000ull };

	snprintf(path, sizeof(path), "%s/killed.lmrec", tmpdir);
	init_pipe(&p);
	ASSERT_EQ(lm_sink_record_new(path, &p.cfg, &s, err, sizeof(err)), 0, "record sink");
	lm_pipeline_add_sink(&p, s);
	for (int i = 0; i < 5; i++, o.ts_ns += 1000000000)
		lm_pipeline_feed(&p, &o);
	usleep((LM_REC_FLUSH_S * 1000 + 200) * 1000);
	lm_pipeline_feed(&p, &o);	/* the first observation after the timer closes the block */
	/* read it now, as if lmtrace had been killed here */
	ASSERT_EQ(lm_record_open(path, &r, err, sizeof(err)), 0, "open a live recording");
	while ((ret = lm_record_next(r, &it)) > 0)
		n += it.type == LM_REC_E_OBS;
	ASSERT_EQ(ret, -ENODATA, "cut short, not corrupt");
	ASSERT_EQ(n, 6, "everything fed before the timer is on disk");
	lm_record_close(r);
	lm_pipeline_finish(&p);
}

int main(int argc, char **argv)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_csv_and_replay();
	test_one_dirty_rate();
	test_wrap();
	test_record_flush_timer();
	test_dirty_rate_record();
	test_prom_text();
	test_prom_file();
	test_http();
	test_http_default_bind();
	test_live();
	test_report();
	unit_tmpdir_done(tmpdir);
	return unit_done(argv[0]);
}

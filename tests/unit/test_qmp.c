// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The QMP client without QEMU: the typed parsers on replies captured from
 * QEMU 7.2.22 on this host (a migration with auto-converge, max-bandwidth
 * 32 MiB/s), and the protocol (greeting, ids, events, errors, timeouts, EOF)
 * against a scripted peer on a socketpair. tests/system/t_lab_qmp.sh runs the same
 * client against a real QEMU.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "trace/qmp.h"
#include "trace/qmp_act.h"
#include "trace/qmp_watch.h"
#include "lab_qmp.h"

/* ---- replies captured from QEMU 7.2.22 ---- */

static const char *greeting_7_2 =
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
	"\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}";

static const char *migrate_setup = "{\"return\": {\"status\": \"setup\"}}";
static const char *migrate_none = "{\"return\": {}}";

static const char *migrate_active_first_pass =
	"{\"return\": {\"expected-downtime\": 300, \"status\": \"active\", \"setup-time\": 29, "
	"\"total-time\": 500, \"ram\": {\"total\": 353181696, \"postcopy-requests\": 0, "
	"\"dirty-sync-count\": 1, \"multifd-bytes\": 0, \"pages-per-second\": 7865, "
	"\"downtime-bytes\": 0, \"page-size\": 4096, \"remaining\": 332427264, "
	"\"postcopy-bytes\": 0, \"mbps\": 258.23769230769233, \"transferred\": 16786010, "
	"\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 16786010, \"duplicate\": 979, "
	"\"dirty-pages-rate\": 0, \"skipped\": 0, \"normal-bytes\": 16744448, \"normal\": 4088}}}";

static const char *migrate_active_throttled =
	"{\"return\": {\"expected-downtime\": 2486, \"cpu-throttle-percentage\": 90, "
	"\"status\": \"active\", \"setup-time\": 29, \"total-time\": 26127, \"ram\": "
	"{\"total\": 353181696, \"postcopy-requests\": 0, \"dirty-sync-count\": 5, "
	"\"multifd-bytes\": 0, \"pages-per-second\": 8180, \"downtime-bytes\": 0, "
	"\"page-size\": 4096, \"remaining\": 26038272, \"postcopy-bytes\": 0, "
	"\"mbps\": 268.56720000000001, \"transferred\": 869483353, "
	"\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 869483353, \"duplicate\": 20460, "
	"\"dirty-pages-rate\": 2160, \"skipped\": 0, \"normal-bytes\": 867602432, \"normal\": 211817}}}";

static const char *migrate_completed =
	"{\"return\": {\"status\": \"completed\", \"setup-time\": 29, \"downtime\": 10, "
	"\"total-time\": 26913, \"ram\": {\"total\": 353181696, \"postcopy-requests\": 0, "
	"\"dirty-sync-count\": 8, \"multifd-bytes\": 0, \"pages-per-second\": 8180, "
	"\"downtime-bytes\": 10001448, \"page-size\": 4096, \"remaining\": 0, "
	"\"postcopy-bytes\": 0, \"mbps\": 268.80188424341611, \"transferred\": 902984361, "
	"\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 892982913, \"duplicate\": 20460, "
	"\"dirty-pages-rate\": 0, \"skipped\": 0, \"normal-bytes\": 901038080, \"normal\": 219980}}}";

static const char *migrate_params =
	"{\"return\": {\"cpu-throttle-tailslow\": false, \"xbzrle-cache-size\": 67108864, "
	"\"cpu-throttle-initial\": 90, \"announce-max\": 550, \"decompress-threads\": 2, "
	"\"compress-threads\": 8, \"compress-level\": 1, \"multifd-channels\": 2, "
	"\"multifd-zstd-level\": 1, \"announce-initial\": 50, \"block-incremental\": false, "
	"\"compress-wait-thread\": true, \"downtime-limit\": 300, \"tls-authz\": \"\", "
	"\"multifd-compression\": \"none\", \"announce-rounds\": 5, \"announce-step\": 100, "
	"\"tls-creds\": \"\", \"multifd-zlib-level\": 1, \"max-cpu-throttle\": 99, "
	"\"max-postcopy-bandwidth\": 0, \"tls-hostname\": \"\", \"throttle-trigger-threshold\": 50, "
	"\"max-bandwidth\": 33554432, \"x-checkpoint-delay\": 20000, \"cpu-throttle-increment\": 5}}";

static const char *status_postmigrate =
	"{\"return\": {\"status\": \"postmigrate\", \"singlestep\": false, \"running\": false}}";
static const char *event_pass =
	"{\"timestamp\": {\"seconds\": 1795612384, \"microseconds\": 487902}, "
	"\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": 1}}";
static const char *event_completed =
	"{\"timestamp\": {\"seconds\": 1795612411, \"microseconds\": 367037}, "
	"\"event\": \"MIGRATION\", \"data\": {\"status\": \"completed\"}}";

static json_t *return_of(const char *reply)
{
	json_t *msg = json_loads(reply, 0, NULL), *ret;

	ret = json_incref(json_object_get(msg, "return"));
	json_decref(msg);
	return ret;
}

static void test_parse_migrate_info(void)
{
	struct lm_qmp_migrate_info mi;
	json_t *r;

	r = return_of(migrate_none);
	ASSERT_EQ(lm_qmp_parse_migrate_info(r, &mi), 0, "parse {}");
	ASSERT_STREQ(mi.status, "none", "no migration yet");
	ASSERT_EQ(mi.has_ram, 0, "no ram before migrating");
	ASSERT_EQ(mi.expected_downtime_ms, -1, "no expected downtime");
	json_decref(r);

	r = return_of(migrate_setup);
	ASSERT_EQ(lm_qmp_parse_migrate_info(r, &mi), 0, "parse setup");
	ASSERT_STREQ(mi.status, "setup", "setup status");
	ASSERT_EQ(mi.has_ram, 0, "no ram in setup");
	json_decref(r);

	r = return_of(migrate_active_first_pass);
	ASSERT_EQ(lm_qmp_parse_migrate_info(r, &mi), 0, "parse active");
	ASSERT_STREQ(mi.status, "active", "active");
	ASSERT_EQ(mi.has_ram, 1, "ram present");
	ASSERT_EQ(mi.ram.transferred, 16786010, "transferred");
	ASSERT_EQ(mi.ram.remaining, 332427264, "remaining");
	ASSERT_EQ(mi.ram.total, 353181696, "total");
	ASSERT_EQ(mi.ram.dirty_sync_count, 1, "first sync");
	ASSERT_EQ(mi.ram.dirty_pages_rate, 0, "no rate before the second sync");
	ASSERT_EQ(mi.ram.page_size, 4096, "page size");
	ASSERT_NEAR(mi.ram.mbps, 258.2377, 1e-6, 0, "mbps is a real");
	ASSERT_EQ(mi.expected_downtime_ms, 300, "expected downtime");
	ASSERT_EQ(mi.cpu_throttle_pct, 0, "no throttle yet");
	ASSERT_EQ(mi.total_time_ms, 500, "total time");
	json_decref(r);

	r = return_of(migrate_active_throttled);
	ASSERT_EQ(lm_qmp_parse_migrate_info(r, &mi), 0, "parse throttled");
	ASSERT_EQ(mi.cpu_throttle_pct, 90, "throttle percentage");
	ASSERT_EQ(mi.ram.dirty_pages_rate, 2160, "dirty pages rate");
	ASSERT_EQ(mi.ram.dirty_sync_count, 5, "sync count");
	ASSERT_EQ(mi.expected_downtime_ms, 2486, "expected downtime");
	ASSERT_EQ(mi.ram.pages_per_second, 8180, "pages per second");
	json_decref(r);

	r = return_of(migrate_completed);
	ASSERT_EQ(lm_qmp_parse_migrate_info(r, &mi), 0, "parse completed");
	ASSERT_STREQ(mi.status, "completed", "completed");
	ASSERT_EQ(mi.downtime_ms, 10, "actual downtime");
	ASSERT_EQ(mi.expected_downtime_ms, -1, "no expected downtime once completed");
	ASSERT_EQ(mi.ram.transferred, 902984361, "final transferred");
	ASSERT_EQ(mi.ram.downtime_bytes, 10001448, "downtime bytes");
	ASSERT_EQ(mi.ram.precopy_bytes + mi.ram.downtime_bytes, mi.ram.transferred,
		  "precopy + downtime bytes = transferred");
	json_decref(r);

	r = json_string("not an object");
	ASSERT_EQ(lm_qmp_parse_migrate_info(r, &mi), -EPROTO, "reject non-object");
	json_decref(r);
}

static void test_parse_migrate_params(void)
{
	struct lm_qmp_migrate_params mp;
	json_t *r = return_of(migrate_params);

	ASSERT_EQ(lm_qmp_parse_migrate_params(r, &mp), 0, "parse params");
	ASSERT_EQ(mp.downtime_limit_ms, 300, "downtime-limit");
	ASSERT_EQ(mp.max_bandwidth, 33554432, "max-bandwidth");
	ASSERT_EQ(mp.cpu_throttle_initial, 90, "cpu-throttle-initial");
	ASSERT_EQ(mp.cpu_throttle_increment, 5, "cpu-throttle-increment");
	ASSERT_EQ(mp.max_cpu_throttle, 99, "max-cpu-throttle");
	ASSERT_EQ(mp.throttle_trigger_threshold, 50, "throttle-trigger-threshold");
	ASSERT_EQ(mp.cpu_throttle_tailslow, 0, "tailslow");
	json_decref(r);

	r = json_object();
	ASSERT_EQ(lm_qmp_parse_migrate_params(r, &mp), 0, "parse empty params");
	ASSERT_EQ(mp.downtime_limit_ms, -1, "absent downtime-limit");
	ASSERT_EQ(mp.cpu_throttle_tailslow, -1, "absent tailslow");
	json_decref(r);
}

/* ---- a scripted QMP peer on a socketpair ---- */

#define CLOSE_NOW "<close>"
#define STALL "<stall>"		/* stop answering (the client must time out) */
#define ID_MARK "<id>"		/* replaced by the id of the request just read */

struct step {
	const char *expect;		/* command the client must send, NULL = none */
	const char *send[4];		/* lines to send after it */
};

static int send_line(int fd, const char *line, long long id)
{
	char buf[4096];
	const char *mark = strstr(line, ID_MARK);
	int n;

	if (mark)
		n = snprintf(buf, sizeof(buf), "%.*s%lld%s\r\n", (int)(mark - line), line,
			     id, mark + strlen(ID_MARK));
	else
		n = snprintf(buf, sizeof(buf), "%s\r\n", line);
	return write(fd, buf, (size_t)n) == n ? 0 : -1;
}

/* Returns the id of the command read, -1 if it was not `expect`. */
static long long read_command(int fd, const char *expect)
{
	char buf[4096];
	size_t len = 0;
	json_t *msg;
	long long id = -1;
	const char *cmd;

	while (len < sizeof(buf) - 1 && read(fd, buf + len, 1) == 1 && buf[len] != '\n')
		len++;
	msg = json_loadb(buf, len, 0, NULL);
	cmd = json_string_value(json_object_get(msg, "execute"));
	if (cmd && !strcmp(cmd, expect))
		id = json_integer_value(json_object_get(msg, "id"));
	json_decref(msg);
	return id;
}

static void peer_run(int fd, const struct step *steps, int nsteps)
{
	long long id = 0;
	int i, j;

	for (i = 0; i < nsteps; i++) {
		if (steps[i].expect) {
			id = read_command(fd, steps[i].expect);
			if (id < 0)
				_exit(2);	/* the client sent something else */
		}
		for (j = 0; j < 4 && steps[i].send[j]; j++) {
			if (!strcmp(steps[i].send[j], CLOSE_NOW))
				_exit(0);
			if (!strcmp(steps[i].send[j], STALL)) {
				sleep(5);
				_exit(0);
			}
			if (send_line(fd, steps[i].send[j], id))
				_exit(3);
		}
	}
	/* Wait for the client to hang up. */
	while (read(fd, &id, 1) > 0)
		;
	_exit(0);
}

static pid_t peer_start(int *client_fd, const struct step *steps, int nsteps)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);	/* the peer only; the client must not need it */
		close(sv[0]);
		peer_run(sv[1], steps, nsteps);
	}
	close(sv[1]);
	*client_fd = sv[0];
	return pid;
}

/* The peer's exit status: 0 if it saw exactly the commands it expected. */
static int peer_finish(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : (WTERMSIG(status) == SIGTERM ? 0 : 128);
}

#define HANDSHAKE { NULL, { greeting_7_2 } }, \
		  { "qmp_capabilities", { "{\"return\": {}, \"id\": " ID_MARK "}" } }

static void test_protocol(void)
{
	struct step steps[] = {
		HANDSHAKE,
		/* An event before the reply, and a stale reply to an older id. */
		{ "query-status", { event_pass, "{\"return\": {}, \"id\": 999999}",
				    "{\"return\": {\"status\": \"running\", \"singlestep\": false, "
				    "\"running\": true}, \"id\": " ID_MARK "}" } },
		/* QEMU's text goes to a terminal: its escape sequence must not */
		{ "no-such-command", { "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
				       "\"The command \\u001b[2Jno-such-command has not been found\"}, "
				       "\"id\": " ID_MARK "}" } },
		{ "query-memory-size-summary", { "{\"return\": {\"base-memory\": 335544320, "
						 "\"plugged-memory\": 0}, \"id\": " ID_MARK "}" } },
		{ "migrate-set-capabilities", { "{\"return\": {}, \"id\": " ID_MARK "}" } },
		{ "migrate-set-parameters", { "{\"return\": {}, \"id\": " ID_MARK "}" } },
		{ "query-migrate", { "", event_completed, "{\"return\": {\"status\": \"completed\", "
				     "\"ram\": {\"transferred\": 902984361, \"dirty-sync-count\": 8}}, "
				     "\"id\": " ID_MARK "}" } },
		{ "query-status", { status_postmigrate } },	/* old QEMU style: no id echoed */
	};
	struct lm_qmp *q = NULL;
	struct lm_qmp_migrate_info mi;
	const json_t *ev;
	char status[32] = "";
	uint64_t ram = 0;
	int fd, running = -1, major = 0, minor = 0, micro = 0;
	pid_t peer = peer_start(&fd, steps, sizeof(steps) / sizeof(steps[0]));

	if (!ASSERT_TRUE(peer > 0, "start peer"))
		return;
	if (!ASSERT_EQ(lm_qmp_open_fd(&q, fd, 2000), 0, "open + capabilities"))
		goto out;
	lm_qmp_version(q, &major, &minor, &micro);
	ASSERT_EQ(major * 10000 + minor * 100 + micro, 70222, "version from greeting");

	ASSERT_EQ(lm_qmp_query_status(q, status, sizeof(status), &running), 0, "query-status");
	ASSERT_STREQ(status, "running", "status after an event and a stale reply");
	ASSERT_EQ(running, 1, "running");
	ASSERT_EQ(lm_qmp_events_seen(q), 1, "event kept");
	ev = lm_qmp_event(q, 1);
	ASSERT_STREQ(json_string_value(json_object_get(ev, "event")), "MIGRATION_PASS", "event name");
	ASSERT_TRUE(lm_qmp_event(q, 2) == NULL, "no event 2 yet");

	ASSERT_EQ(lm_qmp_execute(q, "no-such-command", NULL, NULL), -EREMOTEIO, "QMP error");
	ASSERT_STREQ(lm_qmp_error_class(q), "CommandNotFound", "error class");
	ASSERT_TRUE(strstr(lm_qmp_error_desc(q), "not been found") != NULL, "error desc");
	ASSERT_TRUE(strstr(lm_qmp_error_desc(q), "command ?[2Jno-such") != NULL,
		    "QEMU's control characters replaced, as every text from outside");

	ASSERT_EQ(lm_qmp_query_ram_size(q, &ram), 0, "query-memory-size-summary");
	ASSERT_EQ(ram, 335544320, "ram size");
	ASSERT_STREQ(lm_qmp_error_class(q), "", "error cleared by the next command");
	ASSERT_EQ(lm_qmp_set_migrate_capability(q, "auto-converge", 1), 0, "set capability");
	ASSERT_EQ(lm_qmp_set_migrate_param(q, "max-bandwidth", 32 << 20), 0, "set parameter");

	ASSERT_EQ(lm_qmp_query_migrate(q, &mi), 0, "query-migrate after a blank line and an event");
	ASSERT_STREQ(mi.status, "completed", "migration status");
	ASSERT_EQ(mi.ram.dirty_sync_count, 8, "sync count");
	ASSERT_EQ(lm_qmp_events_seen(q), 2, "second event kept");
	ASSERT_STREQ(json_string_value(json_object_get(json_object_get(lm_qmp_event(q, 2), "data"),
						       "status")), "completed", "event data");

	ASSERT_EQ(lm_qmp_query_status(q, status, sizeof(status), &running), 0, "reply without id");
	ASSERT_STREQ(status, "postmigrate", "status postmigrate");
	ASSERT_EQ(running, 0, "not running");
out:
	lm_qmp_close(q);
	ASSERT_EQ(peer_finish(peer), 0, "peer saw the expected commands");
}

/* The commands only the lab issues: postcopy, deferred incoming, calc-dirty-rate. */
static void test_lab_commands(void)
{
	struct step steps[] = {
		HANDSHAKE,
		{ "migrate-incoming", { "{\"return\": {}, \"id\": " ID_MARK "}" } },
		{ "migrate-start-postcopy", { "{\"return\": {}, \"id\": " ID_MARK "}" } },
		{ "query-migrate", { "{\"return\": {\"status\": \"postcopy-active\", \"ram\": "
				     "{\"postcopy-requests\": 1, \"postcopy-bytes\": 109158263, "
				     "\"precopy-bytes\": 140998231, \"transferred\": 250156494, "
				     "\"dirty-sync-count\": 2}}, \"id\": " ID_MARK "}" } },
		{ "calc-dirty-rate", { "{\"return\": {}, \"id\": " ID_MARK "}" } },
		{ "query-dirty-rate", { "{\"return\": {\"status\": \"measured\", \"sample-pages\": 0, "
					"\"dirty-rate\": 3, \"mode\": \"dirty-bitmap\", "
					"\"start-time\": 1625, \"calc-time\": 1}, \"id\": " ID_MARK "}" } },
	};
	struct lm_qmp *q = NULL;
	struct lm_qmp_migrate_info mi;
	json_t *raw = NULL, *rate = NULL;
	int fd;
	pid_t peer = peer_start(&fd, steps, sizeof(steps) / sizeof(steps[0]));

	if (!ASSERT_TRUE(peer > 0, "start peer"))
		return;
	if (!ASSERT_EQ(lm_qmp_open_fd(&q, fd, 2000), 0, "open + capabilities"))
		goto out;
	ASSERT_EQ(lm_qmp_migrate_incoming(q, "tcp:127.0.0.1:47200"), 0, "migrate-incoming");
	ASSERT_EQ(lm_qmp_migrate_start_postcopy(q), 0, "migrate-start-postcopy");
	ASSERT_EQ(lm_qmp_query_migrate_raw(q, &mi, &raw), 0, "query-migrate, raw");
	ASSERT_STREQ(mi.status, "postcopy-active", "postcopy status");
	ASSERT_EQ(mi.ram.dirty_sync_count, 2, "typed fields too");
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(raw, "ram"), "postcopy-bytes")),
		  109158263, "postcopy-bytes from the raw reply");
	ASSERT_EQ(lm_qmp_calc_dirty_rate(q, 1, "dirty-bitmap"), 0, "calc-dirty-rate");
	ASSERT_EQ(lm_qmp_query_dirty_rate(q, &rate), 0, "query-dirty-rate");
	ASSERT_STREQ(json_string_value(json_object_get(rate, "status")), "measured", "measured");
	ASSERT_EQ(json_integer_value(json_object_get(rate, "dirty-rate")), 3, "dirty-rate MB/s");
	json_decref(raw);
	json_decref(rate);
out:
	lm_qmp_close(q);
	ASSERT_EQ(peer_finish(peer), 0, "peer saw the expected commands");
}

static long long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000LL + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_failures(void)
{
	struct step stall[] = { HANDSHAKE, { "query-migrate", { STALL } } };
	struct step hangup[] = { HANDSHAKE, { "query-migrate", { CLOSE_NOW } } };
	struct step garbage[] = { HANDSHAKE, { "query-migrate", { "this is not json" } } };
	struct step not_qmp[] = { { NULL, { "{\"hello\": 1}" } } };
	struct step silent[] = { { NULL, { STALL } } };
	struct lm_qmp_migrate_info mi;
	struct lm_qmp *q = NULL;
	struct timespec t0;
	long long ms;
	int fd;
	pid_t peer;

	/* A QEMU that stops answering: bounded by the timeout, and the handle
	 * then reports it again rather than hanging. */
	peer = peer_start(&fd, stall, 3);
	ASSERT_EQ(lm_qmp_open_fd(&q, fd, 300), 0, "open (stall)");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(lm_qmp_query_migrate(q, &mi), -ETIMEDOUT, "timeout");
	ms = elapsed_ms(&t0);
	ASSERT_TRUE(ms >= 250 && ms < 3000, "timeout honoured");
	lm_qmp_close(q);
	peer_finish(peer);

	peer = peer_start(&fd, hangup, 3);
	ASSERT_EQ(lm_qmp_open_fd(&q, fd, 2000), 0, "open (hangup)");
	ASSERT_EQ(lm_qmp_query_migrate(q, &mi), -ECONNRESET, "QEMU closed the socket");
	ASSERT_EQ(lm_qmp_query_migrate(q, &mi), -ECONNRESET, "and stays closed (no SIGPIPE)");
	lm_qmp_close(q);
	peer_finish(peer);

	peer = peer_start(&fd, garbage, 3);
	ASSERT_EQ(lm_qmp_open_fd(&q, fd, 2000), 0, "open (garbage)");
	ASSERT_EQ(lm_qmp_query_migrate(q, &mi), -EPROTO, "not JSON");
	lm_qmp_close(q);
	peer_finish(peer);

	peer = peer_start(&fd, not_qmp, 1);
	ASSERT_EQ(lm_qmp_open_fd(&q, fd, 2000), -EPROTO, "greeting is not QMP");
	ASSERT_TRUE(q == NULL, "no handle on failure");
	peer_finish(peer);

	peer = peer_start(&fd, silent, 1);
	ASSERT_EQ(lm_qmp_open_fd(&q, fd, 200), -ETIMEDOUT, "no greeting (socket held by another client)");
	peer_finish(peer);

	ASSERT_EQ(lm_qmp_open(&q, "/nonexistent/qmp.sock", 200), -ENOENT, "no socket");
}

/*
 * --act's postcopy switch sent, QEMU silent past the timeout: it may have
 * switched, so the outcome is unknown, not failed (a failed one would let
 * a cancel follow a switch that may have happened).
 */
static void test_act_unanswered(void)
{
	struct step steps[] = {
		HANDSHAKE,
		{ "query-migrate-capabilities", { "{\"return\": [{\"state\": true, \"capability\": "
						  "\"postcopy-ram\"}], \"id\": " ID_MARK "}" } },
		{ "migrate-start-postcopy", { STALL } },
	};
	struct lm_act_decision d = { .action = LM_ACT_POSTCOPY, .round = 5 };
	struct lm_qmp_act_saved sv = {};
	struct lm_obs_action out;
	struct lm_qmp *q = NULL;
	char why[256];
	int fd;
	pid_t peer = peer_start(&fd, steps, sizeof(steps) / sizeof(steps[0]));

	if (!ASSERT_EQ(lm_qmp_open_fd(&q, fd, 300), 0, "open"))
		goto out;
	lm_qmp_act_run(q, &sv, &d, &out, why, sizeof(why));
	ASSERT_EQ(out.outcome, LM_ACT_UNKNOWN, "no answer in time: unknown, QEMU may have switched");
	ASSERT_EQ(out.error, -ETIMEDOUT, "the error says so");
	ASSERT_TRUE(strstr(why, "migrate-start-postcopy") != NULL, "the reason names the command");
out:
	lm_qmp_close(q);
	peer_finish(peer);
}

/* QEMU's parameters while lmtrace's throttle (78 %) and downtime limit (5,000 ms) are in force. */
#define PARAMS_OURS "{\"return\": {\"cpu-throttle-initial\": 78, \"cpu-throttle-increment\": 99, " \
		    "\"max-cpu-throttle\": 78, \"downtime-limit\": 5000}, \"id\": " ID_MARK "}"
#define SAVED_ORIGINALS { .throttle_saved = 1, .downtime_saved = 1, .initial = 20, .increment = 10, \
			  .max_throttle = 99, .downtime_limit_ms = 300, .set_throttle_pct = 78, \
			  .set_downtime_ms = 5000 }

/* Runs one release against a scripted QEMU; the peer's exit status (0: it saw what it expected). */
static int release_against(const struct step *steps, int nsteps, struct lm_qmp_act_saved *sv,
			   struct lm_obs_action *out, char *why, size_t len)
{
	struct lm_act_decision d = { .action = LM_ACT_RELEASE, .round = 9 };
	struct lm_qmp *q = NULL;
	int fd;
	pid_t peer = peer_start(&fd, steps, nsteps);

	if (ASSERT_EQ(lm_qmp_open_fd(&q, fd, 2000), 0, "open"))
		lm_qmp_act_run(q, sv, &d, out, why, len);
	lm_qmp_close(q);
	return peer_finish(peer);
}

/*
 * The release after a migration: QEMU refuses the throttle restore, and the
 * downtime limit is restored all the same; what failed stays saved for a
 * retry, and the reason gives the command that restores it by hand.
 */
static void test_release_each_on_its_own(void)
{
	struct step steps[] = {
		HANDSHAKE,
		{ "query-migrate-parameters", { PARAMS_OURS } },
		{ "migrate-set-parameters", { "{\"error\": {\"class\": \"GenericError\", \"desc\": "
					      "\"busy\"}, \"id\": " ID_MARK "}" } },
		{ "migrate-set-parameters", { "{\"return\": {}, \"id\": " ID_MARK "}" } },
		{ "query-migrate-parameters", { "{\"return\": {\"max-cpu-throttle\": 78, "
						"\"downtime-limit\": 300}, \"id\": " ID_MARK "}" } },
	};
	struct lm_qmp_act_saved sv = SAVED_ORIGINALS;
	struct lm_obs_action out = {};
	char why[LM_QMP_WHY_MAX] = "";

	ASSERT_EQ(release_against(steps, sizeof(steps) / sizeof(steps[0]), &sv, &out, why, sizeof(why)), 0,
		  "QEMU saw the check, both restores, then the read-back");
	ASSERT_EQ(out.outcome, LM_ACT_FAILED, "the release failed in part");
	ASSERT_EQ(out.qemu_downtime_ms, 300, "the downtime limit was restored all the same");
	ASSERT_EQ(sv.downtime_saved, 0, "restored: spent");
	ASSERT_EQ(sv.throttle_saved, 1, "not restored: kept for a retry");
	ASSERT_TRUE(strstr(why, "\"cpu-throttle-initial\":20") && strstr(why, "\"max-cpu-throttle\":99") &&
		    strstr(why, "migrate-set-parameters"), "the originals, as the command to run by hand");
}

/*
 * Someone set the throttle parameters after lmtrace did (by hand, say, from
 * an earlier release's message): the release leaves them, says so, and
 * forgets the originals; the downtime limit, still lmtrace's, is restored.
 */
static void test_release_leaves_a_change_made_since(void)
{
	struct step steps[] = {
		HANDSHAKE,
		{ "query-migrate-parameters", { "{\"return\": {\"cpu-throttle-initial\": 20, "
						"\"cpu-throttle-increment\": 10, \"max-cpu-throttle\": 50, "
						"\"downtime-limit\": 5000}, \"id\": " ID_MARK "}" } },
		{ "migrate-set-parameters", { "{\"return\": {}, \"id\": " ID_MARK "}" } },
		{ "query-migrate-parameters", { "{\"return\": {\"max-cpu-throttle\": 50, "
						"\"downtime-limit\": 300}, \"id\": " ID_MARK "}" } },
	};
	struct lm_qmp_act_saved sv = SAVED_ORIGINALS;
	struct lm_obs_action out = {};
	char why[LM_QMP_WHY_MAX] = "";

	ASSERT_EQ(release_against(steps, sizeof(steps) / sizeof(steps[0]), &sv, &out, why, sizeof(why)), 0,
		  "QEMU saw the check, one restore (the downtime limit's), then the read-back");
	ASSERT_EQ(out.outcome, LM_ACT_APPLIED, "nothing failed");
	ASSERT_EQ(out.qemu_throttle_pct, 50, "the throttle someone else set stays");
	ASSERT_EQ(out.qemu_downtime_ms, 300, "lmtrace's downtime limit was given back");
	ASSERT_EQ(sv.throttle_saved + sv.downtime_saved, 0, "nothing left to give back");
	ASSERT_TRUE(strstr(why, "left as they are") && strstr(why, "max-cpu-throttle 50, lmtrace set 78"),
		    "the reason says what was left and why");
	ASSERT_TRUE(strstr(why, "by hand") == NULL, "no command to run by hand");
}

/* QEMU refuses both restores with long errors: the command to run by hand still comes whole. */
static void test_release_command_whole(void)
{
	char refusal[400];
	struct step steps[] = {
		HANDSHAKE,
		{ "query-migrate-parameters", { PARAMS_OURS } },
		{ "migrate-set-parameters", { refusal } },
		{ "migrate-set-parameters", { refusal } },
		{ "query-migrate-parameters", { PARAMS_OURS } },
	};
	struct lm_qmp_act_saved sv = SAVED_ORIGINALS;
	struct lm_obs_action out = {};
	char why[LM_QMP_WHY_MAX] = "", desc[241];
	const char *cmd;

	memset(desc, 'x', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = 0;
	snprintf(refusal, sizeof(refusal), "{\"error\": {\"class\": \"GenericError\", \"desc\": \"%s\"}, "
		 "\"id\": " ID_MARK "}", desc);
	ASSERT_EQ(release_against(steps, sizeof(steps) / sizeof(steps[0]), &sv, &out, why, sizeof(why)), 0,
		  "QEMU saw both restores");
	ASSERT_EQ(out.outcome, LM_ACT_FAILED, "the release failed");
	cmd = strstr(why, "; by hand: ");
	ASSERT_TRUE(cmd && !strcmp(cmd, "; by hand: {\"execute\":\"migrate-set-parameters\",\"arguments\":"
				      "{\"cpu-throttle-initial\":20,\"cpu-throttle-increment\":10,"
				      "\"max-cpu-throttle\":99,\"downtime-limit\":300}}"),
		    "the whole command ends the reason, after QEMU's 2 x 240 characters");
}

/* A query unanswered before anything was sent: failed, not unknown (nothing can have changed). */
static void test_act_query_unanswered(void)
{
	struct step steps[] = {
		HANDSHAKE,
		{ "query-migrate-parameters", { STALL } },
	};
	struct lm_act_decision d = { .action = LM_ACT_DOWNTIME, .value = 5000, .round = 4 };
	struct lm_qmp_act_saved sv = {};
	struct lm_obs_action out;
	struct lm_qmp *q = NULL;
	char why[LM_QMP_WHY_MAX];
	int fd;
	pid_t peer = peer_start(&fd, steps, sizeof(steps) / sizeof(steps[0]));

	if (!ASSERT_EQ(lm_qmp_open_fd(&q, fd, 300), 0, "open"))
		goto out;
	lm_qmp_act_run(q, &sv, &d, &out, why, sizeof(why));
	ASSERT_EQ(out.outcome, LM_ACT_FAILED, "the query before the change timed out: failed");
	ASSERT_EQ(out.error, -ETIMEDOUT, "the error says it timed out");
	ASSERT_EQ(sv.downtime_saved, 0, "nothing saved: nothing was changed");
out:
	lm_qmp_close(q);
	peer_finish(peer);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_parse_migrate_info();
	test_parse_migrate_params();
	test_protocol();
	test_act_unanswered();
	test_act_query_unanswered();
	test_release_each_on_its_own();
	test_release_leaves_a_change_made_since();
	test_release_command_whole();
	test_lab_commands();
	test_failures();
	return unit_done(argv[0]);
}

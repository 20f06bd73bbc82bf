// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The QMP client (user/trace/qmp.c) against a real QEMU running the lab guest:
 * handshake, typed queries, parameters and capabilities round-trip, QEMU's
 * errors, events, the one-client-per-socket rule, a migration that fails,
 * and a QEMU that dies under the client. Run by tests/system/t_lab_qmp.sh.
 *
 *   qmp_real GUEST_ELF DIR
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "lab_qemu.h"

#define UNUSED_PORT "47390"	/* in the lab's range, nothing listens there */

static int has_event(struct lm_qmp *q, uint64_t after, const char *name)
{
	uint64_t seq;

	for (seq = after + 1; seq <= lm_qmp_events_seen(q); seq++)
		if (!strcmp(json_string_value(json_object_get(lm_qmp_event(q, seq), "event")) ?: "", name))
			return 1;
	return 0;
}

static int wait_event(struct lm_qmp *q, uint64_t after, const char *name)
{
	int i;

	for (i = 0; i < 20 && !has_event(q, after, name); i++)
		if (lm_qmp_read_events(q, 250) < 0)
			break;
	return has_event(q, after, name);
}

static int capability_state(struct lm_qmp *q, const char *name)
{
	json_t *ret = NULL, *c;
	size_t i;
	int state = -1;

	if (lm_qmp_execute(q, "query-migrate-capabilities", NULL, &ret))
		return -1;
	json_array_foreach(ret, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "capability")) ?: "", name))
			state = json_is_true(json_object_get(c, "state"));
	json_decref(ret);
	return state;
}

int main(int argc, char **argv)
{
	struct lab_vm_config cfg = { .qemu = "qemu-system-x86_64", .mem_mib = 128 };
	struct lab_qemu vm;
	struct lm_qmp *q, *tracer = NULL, *second = NULL;
	struct lm_qmp_migrate_info mi;
	struct lm_qmp_migrate_params mp;
	char status[32] = "";
	uint64_t ram = 0, ev;
	int major = 0, minor = 0, micro = 0, running = -1, i, err;

	if (argc != 3) {
		fprintf(stderr, "usage: qmp_real GUEST_ELF DIR\n");
		return 2;
	}
	signal(SIGPIPE, SIG_DFL);	/* the client must not need it ignored */
	cfg.guest = argv[1];
	snprintf(cfg.append, sizeof(cfg.append), "wss=8 rate=0");
	if (lab_qemu_start(&vm, "qmp", &cfg, argv[2], NULL)) {
		fprintf(stderr, "cannot start QEMU\n");
		return 1;
	}
	if (!ASSERT_EQ(lab_qemu_connect(&vm, 10000), 0, "connect and negotiate"))
		goto out;
	q = vm.qmp;
	lm_qmp_version(q, &major, &minor, &micro);
	fprintf(stderr, "QEMU %d.%d.%d\n", major, minor, micro);
	ASSERT_TRUE(major >= 5, "QEMU version from the greeting");

	ASSERT_EQ(lm_qmp_query_status(q, status, sizeof(status), &running), 0, "query-status");
	ASSERT_STREQ(status, "running", "guest running");
	ASSERT_EQ(running, 1, "running flag");
	ASSERT_EQ(lm_qmp_query_ram_size(q, &ram), 0, "query-memory-size-summary");
	ASSERT_EQ(ram, 128ull << 20, "RAM size is -m");
	ASSERT_EQ(lm_qmp_query_migrate(q, &mi), 0, "query-migrate before any migration");
	ASSERT_STREQ(mi.status, "none", "no migration yet");

	/* Parameters and capabilities round-trip through QEMU. */
	ASSERT_EQ(lm_qmp_set_migrate_param(q, "max-bandwidth", 12345678), 0, "set max-bandwidth");
	ASSERT_EQ(lm_qmp_set_migrate_param(q, "downtime-limit", 777), 0, "set downtime-limit");
	ASSERT_EQ(lm_qmp_set_migrate_param(q, "cpu-throttle-initial", 33), 0, "set cpu-throttle-initial");
	ASSERT_EQ(lm_qmp_query_migrate_params(q, &mp), 0, "query-migrate-parameters");
	ASSERT_EQ(mp.max_bandwidth, 12345678, "max-bandwidth read back");
	ASSERT_EQ(mp.downtime_limit_ms, 777, "downtime-limit read back");
	ASSERT_EQ(mp.cpu_throttle_initial, 33, "cpu-throttle-initial read back");
	ASSERT_TRUE(mp.cpu_throttle_increment > 0 && mp.max_cpu_throttle > 0, "throttle defaults present");
	ASSERT_EQ(capability_state(q, "auto-converge"), 0, "auto-converge off by default");
	ASSERT_EQ(lm_qmp_set_migrate_capability(q, "auto-converge", 1), 0, "enable auto-converge");
	ASSERT_EQ(capability_state(q, "auto-converge"), 1, "auto-converge on");

	/* QEMU's own errors. */
	ASSERT_EQ(lm_qmp_set_migrate_capability(q, "no-such-capability", 1), -EREMOTEIO, "bad capability");
	ASSERT_STREQ(lm_qmp_error_class(q), "GenericError", "error class");
	ASSERT_TRUE(lm_qmp_error_desc(q)[0] != '\0', "error description");
	ASSERT_EQ(lm_qmp_set_migrate_param(q, "downtime-limit", -5), -EREMOTEIO, "out-of-range value");
	ASSERT_EQ(lm_qmp_execute(q, "no-such-command", NULL, NULL), -EREMOTEIO, "unknown command");
	ASSERT_STREQ(lm_qmp_error_class(q), "CommandNotFound", "unknown command class");

	/* A second socket serves a tracer while the lab holds the first;
	 * a second client on a held socket gets no greeting. */
	ASSERT_EQ(lm_qmp_open(&tracer, vm.qmp2_path, 2000), 0, "tracer socket while the first is held");
	if (tracer) {
		ASSERT_EQ(lm_qmp_query_migrate_params(tracer, &mp), 0, "tracer reads parameters");
		ASSERT_EQ(mp.downtime_limit_ms, 777, "same parameters on both sockets");
	}
	ASSERT_EQ(lm_qmp_open(&second, vm.qmp_path, 300), -ETIMEDOUT, "held socket: no greeting, bounded");
	lm_qmp_close(second);

	/* Events arrive between commands and are kept. */
	ev = lm_qmp_events_seen(q);
	ASSERT_EQ(lm_qmp_execute(q, "stop", NULL, NULL), 0, "stop");
	ASSERT_TRUE(wait_event(q, ev, "STOP"), "STOP event");
	ASSERT_EQ(lm_qmp_query_status(q, status, sizeof(status), &running), 0, "query-status paused");
	ASSERT_STREQ(status, "paused", "paused");
	ev = lm_qmp_events_seen(q);
	ASSERT_EQ(lm_qmp_execute(q, "cont", NULL, NULL), 0, "cont");
	ASSERT_TRUE(wait_event(q, ev, "RESUME"), "RESUME event");

	/* A migration to a port where nobody listens fails, and says so. */
	ASSERT_EQ(lm_qmp_migrate(q, "tcp:127.0.0.1:" UNUSED_PORT), 0, "migrate accepted");
	for (i = 0; i < 50; i++) {
		err = lm_qmp_query_migrate(q, &mi);
		if (err || !strcmp(mi.status, "failed"))
			break;
		usleep(100000);
	}
	ASSERT_STREQ(mi.status, "failed", "migration to nowhere failed");
	ASSERT_EQ(lm_qmp_migrate_cancel(q), 0, "migrate_cancel with nothing to cancel");

	/* QEMU dies under the client: an error, not a hang or a SIGPIPE. */
	kill(vm.pid, SIGKILL);
	waitpid(vm.pid, NULL, 0);
	vm.pid = -vm.pid;
	err = lm_qmp_query_migrate(q, &mi);
	ASSERT_TRUE(err == -ECONNRESET || err == -EPIPE, "QEMU gone: connection reset");
	err = lm_qmp_query_migrate(q, &mi);
	ASSERT_TRUE(err == -ECONNRESET || err == -EPIPE, "and again, no SIGPIPE");
out:
	lm_qmp_close(tracer);
	lab_qemu_stop(&vm);
	return unit_done(argv[0]);
}

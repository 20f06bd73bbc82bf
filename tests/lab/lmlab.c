// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lmlab: a real QEMU/KVM live migration on loopback, in seconds.
 *
 * Starts a destination QEMU (-incoming) and a source QEMU running the lab
 * guest (tests/guest), waits until the guest has filled its working set,
 * sets bandwidth, downtime limit and capabilities, optionally waits for a
 * tracer (--ready/--go files), migrates, polls query-migrate, cancels after
 * a bound, checks that the guest runs on on the destination, and stops both
 * QEMUs by pid, on every path out.
 *
 * Variants: the transport (tcp, unix socket, multifd channels), xbzrle,
 * a switch to postcopy, a calc-dirty-rate before the migration, and a VNC
 * client on the source that QEMU sends real bytes to and that goes away
 * during the migration.
 *
 * Output (stdout or --out): one JSON object per line, each with "type" and
 * "ts" (Unix seconds): "lab" (what the driver did), "guest" (what the guest
 * reported on its serial port), "poll" (a query-migrate, QEMU's key names),
 * and a final "result". Progress for humans goes to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lab_qemu.h"
#include "lab_serial.h"
#include "lab_qmp.h"
#include "lab_vnc.h"

#define QBOOT_ROM "/usr/share/qemu/qboot.rom"

struct scenario {
	const char *name;
	const char *what;
	unsigned wss_mib, mem_mib;
	const char *rate;		/* MiB/s or "max" */
	unsigned bandwidth_mib, downtime_ms, bound_s;
	int auto_converge;
	int throttle_initial, throttle_increment;	/* -1 = QEMU's default */
};

/*
 * Bounds keep the whole end-to-end suite near three minutes on two cores.
 * autoconverge starts at 90 %: QEMU's stock 20 % + 10 %/step, one step per two
 * ~8 s sync periods, is still at 40 % after a minute here
 * (doc/host-behaviour.md, "QEMU's own numbers").
 */
static const struct scenario scenarios[] = {
	{ "converge", "4 MiB/s over 256 MiB at 32 MiB/s: converges in a few rounds",
	  256, 320, "4", 32, 300, 40, 0, -1, -1 },
	{ "stuck", "64 MiB/s over 256 MiB at 32 MiB/s: cannot converge, cancelled at the bound",
	  256, 320, "64", 32, 300, 25, 0, -1, -1 },
	{ "autoconverge", "stuck, saved by auto-converge (throttle from 90 %)",
	  256, 320, "64", 32, 300, 60, 1, 90, 10 },
	{ "zero", "8 MiB written in a 256 MiB guest: mostly zero pages, done at once",
	  8, 256, "1", 32, 300, 20, 0, -1, -1 },
};

enum transport { TRANSPORT_TCP, TRANSPORT_UNIX, TRANSPORT_MULTIFD };
static const char *const transport_names[] = { "tcp", "unix", "multifd" };

struct options {
	const struct scenario *sc;
	unsigned wss_mib, mem_mib, bandwidth_mib, downtime_ms, bound_s, poll_ms, port;
	char rate[16], pattern[16], pace[8];
	int auto_converge, throttle_initial, throttle_increment;
	int throttle_pct;		/* --throttle */
	double throttle_at_s;		/* --throttle-at, <0 = from the start */
	double cancel_at_s;		/* --cancel-at, <0 = never */
	int restart;			/* migrate again after --cancel-at */
	const char *out_path, *ready_path, *go_path, *dir, *qemu, *guest, *bios;
	const char *throttle_file;	/* --throttle-file: a percentage to apply when it appears */
	enum transport transport;	/* --transport */
	unsigned multifd_channels;	/* --multifd-channels */
	int xbzrle;			/* --xbzrle */
	unsigned xbzrle_cache_mib;	/* --xbzrle-cache, 0 = from --mem */
	double postcopy_after_s;	/* --postcopy-after, <0 = no postcopy */
	unsigned calc_dirty_rate_s;	/* --calc-dirty-rate, 0 = none */
	int vnc_client;			/* --vnc-client */
	double vnc_close_at_s;		/* --vnc-close-at */
	unsigned go_timeout_s;
	int keep, quiet;
	double linger_s;		/* --linger: keep the QEMUs this long after the end */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

static FILE *out;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int quiet;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "lmlab: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void err_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "lmlab: error: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Write one record: {"type": type, "ts": now, ...fields}; steals fields. */
static void emit(const char *type, json_t *fields)
{
	json_t *rec = json_pack("{s:s, s:f}", "type", type, "ts", now_s());
	char *text;

	if (fields)
		json_object_update(rec, fields);
	text = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (text) {
		fprintf(out, "%s\n", text);
		fflush(out);
	}
	free(text);
	json_decref(rec);
	json_decref(fields);
}

static void print_qemu_log_tail(const struct lab_qemu *vm)
{
	char line[512];
	FILE *f = fopen(vm->log_path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strstr(line, "requested feature"))	/* harmless CPUID noise */
			fprintf(stderr, "  %s QEMU: %s", vm->name, line);
	fclose(f);
}

/* ---- the guest's serial output ---- */

struct guest_watch {
	struct lab_serial serial;
	const char *vm;
	int filled, failed, reports;
	struct lab_guest_report first, last;	/* reports in the current window */
	int have_first;
};

static void guest_window_reset(struct guest_watch *g)
{
	g->have_first = 0;
	g->reports = 0;
}

/* Read what the guest wrote since last time; emit it as "guest" records. */
static void guest_poll(struct guest_watch *g)
{
	struct lab_guest_report r;
	unsigned long long pages, ms;
	char line[512];

	while (lab_serial_next(&g->serial, line, sizeof(line))) {
		if (!lab_guest_parse_report(line, &r)) {
			emit("guest", json_pack("{s:s, s:I, s:I, s:I, s:I}", "vm", g->vm,
						"t_ms", (json_int_t)r.t_ms,
						"pages_written", (json_int_t)r.pages_written,
						"rate_pages_s", (json_int_t)r.rate_pages_s,
						"stalled_ms", (json_int_t)r.stalled_ms));
			if (!g->have_first) {
				g->first = r;
				g->have_first = 1;
			}
			g->last = r;
			g->reports++;
		} else if (sscanf(line, "lm-guest: filled %llu pages in %llu ms", &pages, &ms) == 2) {
			emit("guest", json_pack("{s:s, s:I, s:I}", "vm", g->vm,
						"filled_pages", (json_int_t)pages, "fill_ms", (json_int_t)ms));
			g->filled = 1;
		} else if (strstr(line, "lm-guest: error")) {
			emit("guest", json_pack("{s:s, s:s}", "vm", g->vm, "error", line));
			err_say("%s guest: %s", g->vm, line + 10);
			g->failed = 1;
		} else if (line[0]) {
			emit("guest", json_pack("{s:s, s:s}", "vm", g->vm, "line", line));
		}
	}
}

/* Average guest dirty rate over the reports of the current window. */
static double guest_window_rate(const struct guest_watch *g)
{
	if (!g->have_first || g->last.t_ms <= g->first.t_ms)
		return -1;
	return (double)(g->last.pages_written - g->first.pages_written) * 1000.0 /
	       (double)(g->last.t_ms - g->first.t_ms);
}

/* ---- migration ---- */

static const struct options *opts;	/* what the poll records carry beyond the basics */

/* Copy obj[key] into rec under the same name, if QEMU sent it. */
static void copy_key(json_t *rec, const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v)
		json_object_set(rec, key, v);
}

/*
 * One query-migrate as a "poll" record. raw (QEMU's reply, may be NULL) adds
 * what the variant in use reports: postcopy, multifd and xbzrle numbers.
 */
static void emit_poll(const struct lm_qmp_migrate_info *mi, const json_t *raw, int attempt)
{
	const json_t *ram = json_object_get(raw, "ram");
	json_t *rec;

	rec = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:i, s:I, s:I}",
			"attempt", attempt, "status", mi->status,
			"transferred", (json_int_t)mi->ram.transferred,
			"remaining", (json_int_t)mi->ram.remaining,
			"total", (json_int_t)mi->ram.total,
			"dirty-pages-rate", (json_int_t)mi->ram.dirty_pages_rate,
			"dirty-sync-count", (json_int_t)mi->ram.dirty_sync_count,
			"expected-downtime", (json_int_t)mi->expected_downtime_ms,
			"mbps", mi->ram.mbps,
			"cpu-throttle-percentage", (int)mi->cpu_throttle_pct,
			"total-time", (json_int_t)mi->total_time_ms,
			"page-size", (json_int_t)mi->ram.page_size);
	if (opts && opts->postcopy_after_s >= 0) {
		copy_key(rec, ram, "postcopy-requests");
		copy_key(rec, ram, "postcopy-bytes");
		copy_key(rec, ram, "precopy-bytes");
		copy_key(rec, ram, "downtime-bytes");
		copy_key(rec, raw, "postcopy-blocktime");
	}
	if (opts && opts->transport == TRANSPORT_MULTIFD)
		copy_key(rec, ram, "multifd-bytes");
	if (opts && opts->xbzrle)
		copy_key(rec, raw, "xbzrle-cache");
	emit("poll", rec);
}

static int qmp_failed(const struct lab_qemu *vm, const char *what, int err)
{
	if (err == -EREMOTEIO)
		err_say("%s QEMU refused %s: %s (%s)", vm->name, what,
			lm_qmp_error_desc(vm->qmp), lm_qmp_error_class(vm->qmp));
	else
		err_say("%s QEMU: %s failed: %s", vm->name, what, strerror(-err));
	return err;
}

/* Both sides need multifd (and its channel count) and postcopy-ram; xbzrle only the source. */
static int setup_variant(struct lab_qemu *vm, const struct options *o, int source)
{
	int err;

	if (o->transport == TRANSPORT_MULTIFD) {
		err = lm_qmp_set_migrate_capability(vm->qmp, "multifd", 1);
		if (err)
			return qmp_failed(vm, "migrate-set-capabilities multifd", err);
		err = lm_qmp_set_migrate_param(vm->qmp, "multifd-channels", o->multifd_channels);
		if (err)
			return qmp_failed(vm, "migrate-set-parameters multifd-channels", err);
	}
	if (o->postcopy_after_s >= 0) {
		err = lm_qmp_set_migrate_capability(vm->qmp, "postcopy-ram", 1);
		if (err)
			return qmp_failed(vm, "migrate-set-capabilities postcopy-ram", err);
	}
	if (o->xbzrle && source) {
		err = lm_qmp_set_migrate_capability(vm->qmp, "xbzrle", 1);
		if (err)
			return qmp_failed(vm, "migrate-set-capabilities xbzrle", err);
		err = lm_qmp_set_migrate_param(vm->qmp, "xbzrle-cache-size",
					       (int64_t)o->xbzrle_cache_mib << 20);
		if (err)
			return qmp_failed(vm, "migrate-set-parameters xbzrle-cache-size", err);
	}
	return 0;
}

static int setup_source(struct lab_qemu *src, const struct options *o)
{
	json_t *params;
	int err;

	err = lm_qmp_set_migrate_capability(src->qmp, "auto-converge", o->auto_converge);
	if (err)
		return qmp_failed(src, "migrate-set-capabilities auto-converge", err);
	err = setup_variant(src, o, 1);
	if (err)
		return err;
	params = json_pack("{s:I, s:I}", "max-bandwidth", (json_int_t)o->bandwidth_mib << 20,
			   "downtime-limit", (json_int_t)o->downtime_ms);
	if (o->throttle_initial >= 0)
		json_object_set_new(params, "cpu-throttle-initial", json_integer(o->throttle_initial));
	if (o->throttle_increment >= 0)
		json_object_set_new(params, "cpu-throttle-increment", json_integer(o->throttle_increment));
	if (o->throttle_pct > 0 && o->throttle_at_s < 0) {
		/* QEMU 7.2 has no "set throttle" command: auto-converge applies
		 * cpu-throttle-initial at its next trigger; max = initial holds it there. */
		json_object_set_new(params, "cpu-throttle-initial", json_integer(o->throttle_pct));
		json_object_set_new(params, "max-cpu-throttle", json_integer(o->throttle_pct));
	} else if (o->throttle_pct > 0 || o->throttle_file) {
		/* Until --throttle-at: at most 1 %, i.e. no throttle to speak of. */
		json_object_set_new(params, "cpu-throttle-initial", json_integer(1));
		json_object_set_new(params, "max-cpu-throttle", json_integer(1));
	}
	err = lm_qmp_set_migrate_params(src->qmp, params);
	json_decref(params);
	if (err)
		return qmp_failed(src, "migrate-set-parameters", err);
	return 0;
}

static int apply_throttle(struct lab_qemu *src, int pct)
{
	json_t *params = json_pack("{s:i, s:i, s:i}", "cpu-throttle-initial", pct,
				   "max-cpu-throttle", pct, "cpu-throttle-increment", 99);
	int err = lm_qmp_set_migrate_params(src->qmp, params);

	json_decref(params);
	if (err)
		return qmp_failed(src, "migrate-set-parameters (throttle)", err);
	emit("lab", json_pack("{s:s, s:i, s:s}", "event", "throttle", "pct", pct, "note",
			      "applied by auto-converge at its next trigger"));
	return 0;
}

/* The first number in path, rounded; -1 if none. */
static int read_percentage(const char *path)
{
	FILE *f = fopen(path, "r");
	double v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%lf", &v) != 1)
		v = -1;
	fclose(f);
	return v < 0 ? -1 : (int)(v + 0.5);
}

/* The migration URI of an attempt: tcp/multifd on 127.0.0.1:port, unix in dir. */
static void migration_uri(const struct options *o, const char *dir, unsigned port,
			  int attempt, char *uri, size_t len)
{
	if (o->transport == TRANSPORT_UNIX)
		snprintf(uri, len, "unix:%s/mig%s.sock", dir, attempt > 1 ? "2" : "");
	else
		snprintf(uri, len, "tcp:127.0.0.1:%u", port);
}

/*
 * With capabilities to set on the destination (multifd, postcopy-ram) it
 * starts with -incoming defer, gets them, then migrate-incoming: a capability
 * must be in place before the source connects.
 */
static int start_destination(struct lab_qemu *dst, const struct lab_vm_config *cfg,
			     const char *dir, const char *name, const struct options *o,
			     const char *uri)
{
	int defer = o->transport == TRANSPORT_MULTIFD || o->postcopy_after_s >= 0;
	char status[32];
	int err;

	if (o->transport == TRANSPORT_UNIX)
		unlink(uri + strlen("unix:"));	/* a stale socket from an earlier run */
	err = lab_qemu_start(dst, name, cfg, dir, defer ? "defer" : uri);
	if (err) {
		err_say("cannot start %s: %s", cfg->qemu, strerror(-err));
		return err;
	}
	err = lab_qemu_connect(dst, 10000);
	if (!err)
		err = lm_qmp_query_status(dst->qmp, status, sizeof(status), NULL);
	if (!err && !strcmp(status, "inmigrate") && defer) {
		err = setup_variant(dst, o, 0);
		if (err)
			return err;
		err = lm_qmp_migrate_incoming(dst->qmp, uri);
		if (err)
			qmp_failed(dst, "migrate-incoming", err);
	}
	if (err || strcmp(status, "inmigrate")) {
		err_say("destination QEMU did not come up listening on %s%s", uri,
			err ? "" : " (status is not inmigrate)");
		print_qemu_log_tail(dst);
		fprintf(stderr, "  (port in use? pick another with --port)\n");
		return err ? err : -EPROTO;
	}
	say("destination QEMU pid %d listening on %s%s", dst->pid, uri,
	    defer ? " (migrate-incoming)" : "");
	return 0;
}

static int wait_go_file(const char *path, unsigned timeout_s)
{
	double deadline = mono_s() + timeout_s;

	say("waiting for %s before migrating", path);
	while (access(path, F_OK)) {
		if (stop_requested || mono_s() > deadline) {
			err_say("%s did not appear within %u s", path, timeout_s);
			return -ETIMEDOUT;
		}
		sleep_ms(50);
	}
	return 0;
}

static int write_ready_file(const char *path, const struct lab_qemu *src,
			    const struct lab_qemu *dst, const char *dir)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "src_pid=%d\ndst_pid=%d\nqmp=%s\ntracer_qmp=%s\nsrc_serial=%s\ndir=%s\n",
		src->pid, dst->pid, src->qmp_path, src->qmp2_path, src->serial_path, dir);
	if (fclose(f))
		return -errno;
	return rename(tmp, path) ? -errno : 0;	/* appears complete or not at all */
}

static int is_final(const char *status)
{
	return !strcmp(status, "completed") || !strcmp(status, "failed") ||
	       !strcmp(status, "cancelled");
}

/* Poll every poll_ms until the migration is final or must be cancelled. */
struct run_state {
	struct lm_qmp_migrate_info last;
	json_t *last_raw;		/* QEMU's last query-migrate reply */
	struct lm_qmp_migrate_info last_ram;	/* last reply with "ram" (a cancelled one has none) */
	uint32_t max_throttle_pct;
	int attempt;
	double started;		/* monotonic s at `migrate` */
	int cancelled_by_bound;
};

/* One query-migrate, recorded. */
static int poll_migration(struct lab_qemu *src, struct run_state *rs)
{
	int err;

	json_decref(rs->last_raw);
	rs->last_raw = NULL;
	err = lm_qmp_query_migrate_raw(src->qmp, &rs->last, &rs->last_raw);
	if (err)
		return qmp_failed(src, "query-migrate", err);
	emit_poll(&rs->last, rs->last_raw, rs->attempt);
	if (rs->last.has_ram)
		rs->last_ram = rs->last;
	if (rs->last.cpu_throttle_pct > rs->max_throttle_pct)
		rs->max_throttle_pct = rs->last.cpu_throttle_pct;
	return 0;
}

static int start_migration(struct lab_qemu *src, const char *uri, struct run_state *rs)
{
	int err;

	err = lm_qmp_migrate(src->qmp, uri);
	if (err)
		return qmp_failed(src, "migrate", err);
	rs->attempt++;
	rs->started = mono_s();
	memset(&rs->last_ram, 0, sizeof(rs->last_ram));
	rs->max_throttle_pct = 0;
	emit("lab", json_pack("{s:s, s:i, s:s}", "event", "migrate", "attempt", rs->attempt, "uri", uri));
	say("migration %d started to %s", rs->attempt, uri);
	return 0;
}

static int cancel_and_wait(struct lab_qemu *src, struct run_state *rs, struct guest_watch *g,
			   const char *why)
{
	double deadline = mono_s() + 10;
	int err;

	say("cancelling migration %d (%s)", rs->attempt, why);
	emit("lab", json_pack("{s:s, s:i, s:s}", "event", "cancel", "attempt", rs->attempt, "why", why));
	err = lm_qmp_migrate_cancel(src->qmp);
	if (err)
		return qmp_failed(src, "migrate_cancel", err);
	while (mono_s() < deadline) {
		err = poll_migration(src, rs);
		if (err)
			return err;
		guest_poll(g);
		if (is_final(rs->last.status))
			return 0;
		sleep_ms(100);
	}
	err_say("migration still '%s' 10 s after migrate_cancel", rs->last.status);
	return -ETIMEDOUT;
}

/* ---- the VNC client ---- */

#define VNC_PERIOD_MS 500	/* one full-screen update request per period */

/* A free TCP port on 127.0.0.1 for the source's VNC server: PORT+100.. */
static unsigned pick_vnc_port(unsigned port)
{
	unsigned p;

	for (p = port + 100; p < port + 200 && p <= 65535; p++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), free_port;

		if (p < 5900)		/* VNC display numbers start at 5900 */
			continue;
		if (fd < 0)
			return 0;
		free_port = !bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (free_port)
			return p;
	}
	return 0;
}

static json_t *vnc_counts(const struct lab_vnc *v)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
			 "bytes", (json_int_t)v->bytes, "handshake_bytes", (json_int_t)v->handshake_bytes,
			 "updates", (json_int_t)v->updates, "rects", (json_int_t)v->rects,
			 "pixel_bytes", (json_int_t)v->pixel_bytes,
			 "other_msgs", (json_int_t)v->other_msgs, "requests", (json_int_t)v->requests,
			 "lost_sync", v->lost_sync);
}

/* Read and re-request; on an error (QEMU closed it) record it and close. */
static void vnc_pump(struct lab_vnc *v, double t)
{
	int err;

	if (v->fd < 0)
		return;
	err = lab_vnc_pump(v, VNC_PERIOD_MS);
	if (err) {
		json_t *rec = vnc_counts(v);

		json_object_set_new(rec, "event", json_string("vnc-error"));
		json_object_set_new(rec, "error", json_string(strerror(-err)));
		json_object_set_new(rec, "t_s", json_real(t));
		emit("lab", rec);
		err_say("VNC client: %s", strerror(-err));
		lab_vnc_close(v);
	}
}

static void vnc_close(struct lab_vnc *v, double t, const char *why)
{
	json_t *rec;

	if (v->fd < 0)
		return;
	lab_vnc_pump(v, 1 << 30);	/* what has arrived, no new request */
	lab_vnc_close(v);
	rec = vnc_counts(v);
	json_object_set_new(rec, "event", json_string("vnc-close"));
	json_object_set_new(rec, "why", json_string(why));
	json_object_set_new(rec, "t_s", json_real(t));
	emit("lab", rec);
	say("VNC client closed %.1f s into the migration (%s): %.1f MiB in %llu updates",
	    t, why, v->bytes / 1048576.0, (unsigned long long)v->updates);
}

/* Wait ms, reading the guest's reports and pumping the VNC client. */
static void idle_ms(int ms, struct guest_watch *g, struct lab_vnc *v)
{
	double end = mono_s() + ms / 1000.0;

	while (mono_s() < end && !stop_requested) {
		sleep_ms(10);
		guest_poll(g);
		vnc_pump(v, -1);
	}
}

/*
 * calc-dirty-rate in dirty-bitmap mode (QEMU turns dirty logging on for
 * secs seconds, with no migration), polled until measured.
 */
static int run_calc_dirty_rate(struct lab_qemu *src, unsigned secs, struct guest_watch *g,
			       struct lab_vnc *v)
{
	double t0 = mono_s(), deadline = t0 + secs + 15;
	json_t *ret = NULL;
	const char *status;
	int err;

	emit("lab", json_pack("{s:s, s:i, s:s}", "event", "calc-dirty-rate", "calc_time_s", (int)secs,
			      "mode", "dirty-bitmap"));
	say("calc-dirty-rate over %u s (dirty-bitmap)", secs);
	err = lm_qmp_calc_dirty_rate(src->qmp, secs, "dirty-bitmap");
	if (err)
		return qmp_failed(src, "calc-dirty-rate", err);
	for (;;) {
		idle_ms(100, g, v);
		err = lm_qmp_query_dirty_rate(src->qmp, &ret);
		if (err)
			return qmp_failed(src, "query-dirty-rate", err);
		status = json_string_value(json_object_get(ret, "status"));
		if (status && !strcmp(status, "measured"))
			break;
		json_decref(ret);
		ret = NULL;
		if (stop_requested || mono_s() > deadline) {
			err_say("query-dirty-rate still '%s' %.0f s after calc-dirty-rate",
				status ? status : "?", mono_s() - t0);
			return -ETIMEDOUT;
		}
	}
	say("dirty rate %lld MB/s, measured in %.1f s",
	    (long long)json_integer_value(json_object_get(ret, "dirty-rate")), mono_s() - t0);
	emit("lab", json_pack("{s:s, s:f, s:o}", "event", "dirty-rate", "elapsed_s", mono_s() - t0,
			      "reply", ret));
	return 0;
}

/* The source's migration parameters as QEMU reports them ("when": before/after). */
static void emit_params(struct lab_qemu *src, const char *when)
{
	json_t *ret = NULL;
	int err = lm_qmp_execute(src->qmp, "query-migrate-parameters", NULL, &ret);

	if (err) {
		err_say("query-migrate-parameters (%s): %s", when, strerror(-err));
		return;
	}
	emit("params", json_pack("{s:s, s:o}", "when", when, "reply", ret));
}

/* After completion: the destination must run and its guest keep reporting. */
static int check_destination(struct lab_qemu *dst, struct guest_watch *dg, int *alive)
{
	double deadline = mono_s() + 8;
	unsigned long long first_t = 0;
	char status[32] = "";
	int running = 0, err, reports = 0;

	*alive = 0;
	while (mono_s() < deadline && !stop_requested) {
		/* The source says completed a little before the destination resumes. */
		if (!running) {
			err = lm_qmp_query_status(dst->qmp, status, sizeof(status), &running);
			if (err)
				return qmp_failed(dst, "query-status", err);
		}
		guest_poll(dg);
		if (dg->reports > reports) {
			if (!reports)
				first_t = dg->last.t_ms;
			reports = dg->reports;
		}
		/* Running, and two reports from the destination with time moving on. */
		if (running && reports >= 2 && dg->last.t_ms > first_t)
			break;
		sleep_ms(100);
	}
	*alive = running && reports >= 2 && dg->last.t_ms > first_t;
	say("destination: status %s, guest %s", status,
	    *alive ? "keeps running" : "does NOT report progress");
	return 0;
}

static const struct scenario *find_scenario(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
"Usage: lmlab [-s SCENARIO] [options]\n"
"A real QEMU/KVM live migration on loopback: destination + source QEMU running\n"
"the lab guest, migrated and polled; one JSON record per line on stdout.\n\n"
"Scenarios (-s, options given after it override the preset):\n");
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(f, "  %-13s %s (bound %u s)\n", scenarios[i].name, scenarios[i].what,
			scenarios[i].bound_s);
	fprintf(f,
"\nGuest and migration:\n"
"  --wss MIB            guest working set\n"
"  --rate MIB|max       guest dirty rate in MiB/s (0 = idle)\n"
"  --pattern seq|random page order\n"
"  --pace hlt|spin      the guest waits for its schedule in hlt (default) or\n"
"                       spinning: then a vCPU throttle of p %% cuts its rate to\n"
"                       (100-p) %% like a CPU-bound workload's\n"
"  --mem MIB            guest RAM\n"
"  --bandwidth MIB      max-bandwidth in MiB/s\n"
"  --downtime MS        downtime-limit\n"
"  --auto-converge      enable the auto-converge capability\n"
"  --throttle-initial PCT, --throttle-increment PCT   auto-converge steps\n"
"  --throttle PCT       hold the vCPU throttle at PCT (auto-converge, applied at\n"
"                       its next trigger: QEMU 7.2 has no direct command)\n"
"  --throttle-at SEC    apply --throttle only SEC seconds into the migration\n"
"  --throttle-file FILE apply the percentage written to FILE once it appears\n"
"                       (e.g. a throttle lmtrace recommended), like --throttle\n"
"  --bound SEC          cancel the migration after SEC seconds\n"
"  --cancel-at SEC      cancel after SEC seconds; with --restart migrate again\n"
"  --restart            (to a fresh destination on PORT+1)\n"
"Variants:\n"
"  --transport tcp|unix|multifd\n"
"                       tcp: tcp:127.0.0.1:PORT (default); unix: a UNIX socket\n"
"                       in DIR; multifd: capability multifd on both sides, the\n"
"                       destination started with -incoming defer\n"
"  --multifd-channels N multifd-channels for --transport multifd (default 2)\n"
"  --xbzrle             the xbzrle capability on the source\n"
"  --xbzrle-cache MIB   its cache (default: a quarter of --mem, a power of 2)\n"
"  --postcopy-after SEC postcopy-ram on both sides; migrate-start-postcopy SEC\n"
"                       seconds after migrate, if still active. Not cancelled at\n"
"                       the bound once in postcopy (it cannot be)\n"
"  --calc-dirty-rate SEC  before migrate: calc-dirty-rate (dirty-bitmap mode)\n"
"                       over SEC s, its result logged, then migrate 1 s later\n"
"  --vnc-client         a VNC server on the source (127.0.0.1, first free port\n"
"                       from PORT+100) and a client asking it for the whole\n"
"                       screen every 500 ms from 1 s before migrate until\n"
"  --vnc-close-at SEC   SEC seconds into the migration (default 3)\n"
"Harness:\n"
"  --ready FILE         write src_pid=, dst_pid=, qmp=, tracer_qmp= ... when the\n"
"                       guest has filled its working set, before migrating\n"
"  --go FILE            then wait until FILE exists (a tracer attached)\n"
"  --go-timeout SEC     (default 60)\n"
"  --out FILE           records to FILE instead of stdout\n"
"  --port N             destination port on 127.0.0.1 (default 47200)\n"
"  --dir DIR            sockets and logs here (default: a new mktemp -d, removed)\n"
"  --keep               keep the directory\n"
"  --linger SEC         after the end, keep both QEMUs SEC s more, then log the\n"
"                       source's query-migrate-parameters (\"params\" record, also\n"
"                       logged before migrate): what a tracer left behind\n"
"  --poll-ms MS         query-migrate period (default 250)\n"
"  --qemu PATH, --guest PATH\n"
"  --bios PATH|default  firmware (default: " QBOOT_ROM " if present, for a\n"
"                       0.3 s boot; else QEMU's SeaBIOS)\n"
"  -q                   no progress messages\n");
}

enum {
	OPT_WSS = 256, OPT_RATE, OPT_PATTERN, OPT_MEM, OPT_BW, OPT_DOWNTIME, OPT_AC,
	OPT_TINIT, OPT_TINC, OPT_THROTTLE, OPT_THROTTLE_AT, OPT_BOUND, OPT_CANCEL_AT,
	OPT_RESTART, OPT_READY, OPT_GO, OPT_GO_TIMEOUT, OPT_OUT, OPT_PORT, OPT_DIR, OPT_KEEP,
	OPT_POLL, OPT_QEMU, OPT_GUEST, OPT_PACE, OPT_THROTTLE_FILE, OPT_BIOS,
	OPT_TRANSPORT, OPT_MULTIFD_CHANNELS, OPT_XBZRLE, OPT_XBZRLE_CACHE, OPT_POSTCOPY_AFTER,
	OPT_CALC_DIRTY_RATE, OPT_VNC_CLIENT, OPT_VNC_CLOSE_AT, OPT_LINGER,
};

static const struct option long_opts[] = {
	{ "scenario", required_argument, 0, 's' },
	{ "wss", required_argument, 0, OPT_WSS },
	{ "rate", required_argument, 0, OPT_RATE },
	{ "pattern", required_argument, 0, OPT_PATTERN },
	{ "pace", required_argument, 0, OPT_PACE },
	{ "bios", required_argument, 0, OPT_BIOS },
	{ "mem", required_argument, 0, OPT_MEM },
	{ "bandwidth", required_argument, 0, OPT_BW },
	{ "downtime", required_argument, 0, OPT_DOWNTIME },
	{ "auto-converge", no_argument, 0, OPT_AC },
	{ "throttle-initial", required_argument, 0, OPT_TINIT },
	{ "throttle-increment", required_argument, 0, OPT_TINC },
	{ "throttle", required_argument, 0, OPT_THROTTLE },
	{ "throttle-at", required_argument, 0, OPT_THROTTLE_AT },
	{ "throttle-file", required_argument, 0, OPT_THROTTLE_FILE },
	{ "bound", required_argument, 0, OPT_BOUND },
	{ "cancel-at", required_argument, 0, OPT_CANCEL_AT },
	{ "restart", no_argument, 0, OPT_RESTART },
	{ "transport", required_argument, 0, OPT_TRANSPORT },
	{ "multifd-channels", required_argument, 0, OPT_MULTIFD_CHANNELS },
	{ "xbzrle", no_argument, 0, OPT_XBZRLE },
	{ "xbzrle-cache", required_argument, 0, OPT_XBZRLE_CACHE },
	{ "postcopy-after", required_argument, 0, OPT_POSTCOPY_AFTER },
	{ "calc-dirty-rate", required_argument, 0, OPT_CALC_DIRTY_RATE },
	{ "vnc-client", no_argument, 0, OPT_VNC_CLIENT },
	{ "vnc-close-at", required_argument, 0, OPT_VNC_CLOSE_AT },
	{ "ready", required_argument, 0, OPT_READY },
	{ "go", required_argument, 0, OPT_GO },
	{ "go-timeout", required_argument, 0, OPT_GO_TIMEOUT },
	{ "out", required_argument, 0, OPT_OUT },
	{ "port", required_argument, 0, OPT_PORT },
	{ "dir", required_argument, 0, OPT_DIR },
	{ "keep", no_argument, 0, OPT_KEEP },
	{ "linger", required_argument, 0, OPT_LINGER },
	{ "poll-ms", required_argument, 0, OPT_POLL },
	{ "qemu", required_argument, 0, OPT_QEMU },
	{ "guest", required_argument, 0, OPT_GUEST },
	{ "help", no_argument, 0, 'h' },
	{ 0 },
};

static void apply_scenario(struct options *o, const struct scenario *sc)
{
	o->sc = sc;
	o->wss_mib = sc->wss_mib;
	o->mem_mib = sc->mem_mib;
	snprintf(o->rate, sizeof(o->rate), "%s", sc->rate);
	o->bandwidth_mib = sc->bandwidth_mib;
	o->downtime_ms = sc->downtime_ms;
	o->bound_s = sc->bound_s;
	o->auto_converge = sc->auto_converge;
	o->throttle_initial = sc->throttle_initial;
	o->throttle_increment = sc->throttle_increment;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static char guest_default[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n;
	int c;

	memset(o, 0, sizeof(*o));
	apply_scenario(o, &scenarios[0]);
	snprintf(o->pattern, sizeof(o->pattern), "seq");
	snprintf(o->pace, sizeof(o->pace), "hlt");
	o->poll_ms = 250;
	o->port = 47200;
	o->throttle_at_s = -1;
	o->cancel_at_s = -1;
	o->go_timeout_s = 60;
	o->transport = TRANSPORT_TCP;
	o->multifd_channels = 2;
	o->postcopy_after_s = -1;
	o->vnc_close_at_s = 3;
	o->qemu = "qemu-system-x86_64";
	/*
	 * qboot (Debian's qemu-system-data ships it) boots the multiboot guest
	 * in ~0.3 s where SeaBIOS takes 4-11 s under this host's emulated vCPU.
	 */
	if (!access(QBOOT_ROM, R_OK))
		o->bios = QBOOT_ROM;
	/* The guest next to the driver: .output/lab/lmlab -> .output/guest/guest.elf */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(guest_default, sizeof(guest_default), "%s/../guest/guest.elf", dirname(self));
		o->guest = guest_default;
	}
	while ((c = getopt_long(argc, argv, "s:qh", long_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!find_scenario(optarg)) {
				err_say("unknown scenario '%s' (see --help)", optarg);
				return -EINVAL;
			}
			apply_scenario(o, find_scenario(optarg));
			break;
		case OPT_WSS: o->wss_mib = (unsigned)atoi(optarg); break;
		case OPT_RATE: snprintf(o->rate, sizeof(o->rate), "%s", optarg); break;
		case OPT_PATTERN: snprintf(o->pattern, sizeof(o->pattern), "%s", optarg); break;
		case OPT_PACE: snprintf(o->pace, sizeof(o->pace), "%s", optarg); break;
		case OPT_MEM: o->mem_mib = (unsigned)atoi(optarg); break;
		case OPT_BW: o->bandwidth_mib = (unsigned)atoi(optarg); break;
		case OPT_DOWNTIME: o->downtime_ms = (unsigned)atoi(optarg); break;
		case OPT_AC: o->auto_converge = 1; break;
		case OPT_TINIT: o->throttle_initial = atoi(optarg); break;
		case OPT_TINC: o->throttle_increment = atoi(optarg); break;
		case OPT_THROTTLE: o->throttle_pct = atoi(optarg); o->auto_converge = 1; break;
		case OPT_THROTTLE_AT: o->throttle_at_s = atof(optarg); break;
		case OPT_THROTTLE_FILE: o->throttle_file = optarg; o->auto_converge = 1; break;
		case OPT_BOUND: o->bound_s = (unsigned)atoi(optarg); break;
		case OPT_CANCEL_AT: o->cancel_at_s = atof(optarg); break;
		case OPT_RESTART: o->restart = 1; break;
		case OPT_READY: o->ready_path = optarg; break;
		case OPT_GO: o->go_path = optarg; break;
		case OPT_GO_TIMEOUT: o->go_timeout_s = (unsigned)atoi(optarg); break;
		case OPT_OUT: o->out_path = optarg; break;
		case OPT_PORT: o->port = (unsigned)atoi(optarg); break;
		case OPT_DIR: o->dir = optarg; break;
		case OPT_KEEP: o->keep = 1; break;
		case OPT_LINGER: o->linger_s = atof(optarg); break;
		case OPT_POLL: o->poll_ms = (unsigned)atoi(optarg); break;
		case OPT_QEMU: o->qemu = optarg; break;
		case OPT_GUEST: o->guest = optarg; break;
		case OPT_BIOS: o->bios = strcmp(optarg, "default") ? optarg : NULL; break;
		case OPT_TRANSPORT: {
			size_t i;

			for (i = 0; i < sizeof(transport_names) / sizeof(transport_names[0]); i++)
				if (!strcmp(optarg, transport_names[i]))
					break;
			if (i == sizeof(transport_names) / sizeof(transport_names[0])) {
				err_say("--transport must be tcp, unix or multifd");
				return -EINVAL;
			}
			o->transport = (enum transport)i;
			break;
		}
		case OPT_MULTIFD_CHANNELS: o->multifd_channels = (unsigned)atoi(optarg); break;
		case OPT_XBZRLE: o->xbzrle = 1; break;
		case OPT_XBZRLE_CACHE: o->xbzrle_cache_mib = (unsigned)atoi(optarg); o->xbzrle = 1; break;
		case OPT_POSTCOPY_AFTER: o->postcopy_after_s = atof(optarg); break;
		case OPT_CALC_DIRTY_RATE: o->calc_dirty_rate_s = (unsigned)atoi(optarg); break;
		case OPT_VNC_CLIENT: o->vnc_client = 1; break;
		case OPT_VNC_CLOSE_AT: o->vnc_close_at_s = atof(optarg); o->vnc_client = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		err_say("unexpected argument '%s' (see --help)", argv[optind]);
		return -EINVAL;
	}
	if (o->throttle_pct < 0 || o->throttle_pct > 99) {
		err_say("--throttle must be 1..99");
		return -EINVAL;
	}
	if (o->multifd_channels < 1 || o->multifd_channels > 255) {
		err_say("--multifd-channels must be 1..255 (2 or 4 in the lab)");
		return -EINVAL;
	}
	if (o->transport == TRANSPORT_MULTIFD && o->postcopy_after_s >= 0) {
		err_say("QEMU 7.2 cannot combine multifd with postcopy-ram");
		return -EINVAL;
	}
	if (o->postcopy_after_s >= 0 && o->cancel_at_s >= 0 && o->cancel_at_s >= o->postcopy_after_s) {
		err_say("--cancel-at must come before --postcopy-after (postcopy cannot be cancelled)");
		return -EINVAL;
	}
	if (o->xbzrle && !o->xbzrle_cache_mib) {
		/* A quarter of RAM, as a power of two (QEMU wants one): 64 MiB for 256-511 MiB. */
		o->xbzrle_cache_mib = 1;
		while (o->xbzrle_cache_mib * 2 <= o->mem_mib / 4)
			o->xbzrle_cache_mib *= 2;
	}
	if (!o->poll_ms || !o->bound_s || !o->mem_mib || o->port == 0 || o->port > 65534) {
		err_say("--poll-ms, --bound, --mem and --port must be positive (port < 65535)");
		return -EINVAL;
	}
	if (!o->guest || access(o->guest, R_OK)) {
		err_say("no guest at %s: build it with 'make guest' or pass --guest",
			o->guest ? o->guest : "(unknown)");
		return -ENOENT;
	}
	if (access("/dev/kvm", R_OK | W_OK)) {
		err_say("/dev/kvm is not usable (%s): the lab needs KVM", strerror(errno));
		return -ENODEV;
	}
	return 0;
}

static void remove_dir(const char *dir)
{
	char cmd[PATH_MAX + 16];
	const char *names[] = { "src.qmp", "src-tracer.qmp", "src.serial", "src.log",
				"dst.qmp", "dst-tracer.qmp", "dst.serial", "dst.log",
				"dst2.qmp", "dst2-tracer.qmp", "dst2.serial", "dst2.log",
				"mig.sock", "mig2.sock" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s/%s", dir, names[i]);
		unlink(cmd);
	}
	rmdir(dir);
}

int main(int argc, char **argv)
{
	struct lab_qemu src = { .name = "src" }, dst = { .name = "dst" };
	struct guest_watch sg = { .vm = "src" }, dg = { .vm = "dst" };
	struct lab_vm_config cfg = { 0 }, src_cfg;
	struct run_state rs = { 0 };
	struct lab_vnc vnc = { .fd = -1 };
	struct options o;
	struct sigaction sa = { .sa_handler = on_signal };
	char dir_buf[] = "/tmp/lmlab.XXXXXX", uri[PATH_MAX + 16], vnc_arg[32];
	const char *dir = NULL, *result_status = "error";
	double fill_deadline, guest_rate = -1, last_poll, postcopy_at = -1;
	int err, made_dir = 0, dest_alive = 0, throttle_done = 0, cancel_done = 0;
	int postcopy_bound_said = 0;
	unsigned port, vnc_port = 0;
	json_t *rec;

	out = stdout;
	err = parse_options(argc, argv, &o);
	if (err)
		return 2;
	quiet = o.quiet;
	opts = &o;
	if (o.out_path && !(out = fopen(o.out_path, "w"))) {
		err_say("cannot write %s: %s", o.out_path, strerror(errno));
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A watchdog over everything: boot, go-wait, migration, checks. */
	alarm(o.bound_s + o.go_timeout_s + 90 + o.calc_dirty_rate_s +
	      (o.postcopy_after_s >= 0 ? 30 : 0));

	if (o.dir) {
		dir = o.dir;
		if (mkdir(dir, 0700) && errno != EEXIST) {
			err_say("cannot create %s: %s", dir, strerror(errno));
			goto cleanup;
		}
	} else {
		dir = mkdtemp(dir_buf);
		if (!dir) {
			err_say("mkdtemp: %s", strerror(errno));
			goto cleanup;
		}
		made_dir = 1;
	}

	cfg.qemu = o.qemu;
	cfg.guest = o.guest;
	cfg.bios = o.bios;
	cfg.mem_mib = o.mem_mib;
	/* Reports every 100 ms: a round's truth is interpolated between them. */
	snprintf(cfg.append, sizeof(cfg.append), "wss=%u rate=%s pattern=%s pace=%s report_ms=100",
		 o.wss_mib, o.rate, o.pattern, o.pace);
	rec = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:i, s:i, s:i, s:i, s:b, s:i, s:i, s:i, s:s, s:s}",
			"event", "config", "scenario", o.sc->name, "guest_cmdline", cfg.append,
			"mem_mib", o.mem_mib, "wss_mib", o.wss_mib, "rate", o.rate,
			"pattern", o.pattern, "poll_ms", o.poll_ms,
			"bandwidth_mib", o.bandwidth_mib, "downtime_ms", o.downtime_ms,
			"bound_s", o.bound_s, "auto_converge", o.auto_converge,
			"throttle_initial", o.throttle_initial,
			"throttle_increment", o.throttle_increment,
			"throttle_pct", o.throttle_pct, "dir", dir,
			"transport", transport_names[o.transport]);
	if (o.transport == TRANSPORT_MULTIFD)
		json_object_set_new(rec, "multifd_channels", json_integer(o.multifd_channels));
	if (o.xbzrle)
		json_object_set_new(rec, "xbzrle_cache_mib", json_integer(o.xbzrle_cache_mib));
	if (o.postcopy_after_s >= 0)
		json_object_set_new(rec, "postcopy_after_s", json_real(o.postcopy_after_s));
	if (o.calc_dirty_rate_s)
		json_object_set_new(rec, "calc_dirty_rate_s", json_integer(o.calc_dirty_rate_s));
	if (o.vnc_client)
		json_object_set_new(rec, "vnc_close_at_s", json_real(o.vnc_close_at_s));
	emit("lab", rec);
	emit("lab", json_pack("{s:s, s:s}", "event", "firmware", "bios", o.bios ? o.bios : "default"));

	port = o.port;
	migration_uri(&o, dir, port, 1, uri, sizeof(uri));
	if (start_destination(&dst, &cfg, dir, "dst", &o, uri))
		goto cleanup;
	src_cfg = cfg;
	if (o.vnc_client) {
		vnc_port = pick_vnc_port(port);
		if (!vnc_port) {
			err_say("no free port for VNC in %u..%u", port + 100, port + 199);
			goto cleanup;
		}
		snprintf(vnc_arg, sizeof(vnc_arg), "127.0.0.1:%u", vnc_port - 5900);
		src_cfg.vnc = vnc_arg;
	}
	err = lab_qemu_start(&src, "src", &src_cfg, dir, NULL);
	if (err) {
		err_say("cannot start %s: %s", o.qemu, strerror(-err));
		goto cleanup;
	}
	err = lab_qemu_connect(&src, 10000);
	if (err) {
		err_say("source QEMU: no QMP on %s: %s", src.qmp_path, strerror(-err));
		print_qemu_log_tail(&src);
		goto cleanup;
	}
	say("source QEMU pid %d, guest '%s', %u MiB", src.pid, cfg.append, o.mem_mib);

	lab_serial_init(&sg.serial, src.serial_path);
	lab_serial_init(&dg.serial, dst.serial_path);
	fill_deadline = mono_s() + 60;	/* SeaBIOS alone can take 20 s on a loaded host */
	while (!sg.filled) {
		guest_poll(&sg);
		if (sg.failed || stop_requested || !lab_qemu_alive(&src) || mono_s() > fill_deadline) {
			err_say("the guest did not fill its working set (see %s)", src.serial_path);
			print_qemu_log_tail(&src);
			goto cleanup;
		}
		sleep_ms(100);
	}
	say("guest filled its working set");
	if (setup_source(&src, &o))
		goto cleanup;

	emit("lab", json_pack("{s:s, s:i, s:i, s:s, s:s, s:s}", "event", "ready",
			      "src_pid", src.pid, "dst_pid", dst.pid, "qmp", src.qmp_path,
			      "tracer_qmp", src.qmp2_path, "src_serial", src.serial_path));
	if (o.ready_path && (err = write_ready_file(o.ready_path, &src, &dst, dir))) {
		err_say("cannot write %s: %s", o.ready_path, strerror(-err));
		goto cleanup;
	}
	if (o.go_path && wait_go_file(o.go_path, o.go_timeout_s))
		goto cleanup;
	if (o.linger_s > 0)
		emit_params(&src, "before");

	if (o.vnc_client) {
		err = lab_vnc_connect(&vnc, vnc_port, 5000);
		if (err) {
			err_say("VNC client on 127.0.0.1:%u: %s", vnc_port, strerror(-err));
			print_qemu_log_tail(&src);
			goto cleanup;
		}
		emit("lab", json_pack("{s:s, s:i, s:s, s:i, s:i, s:i, s:i, s:s, s:I}", "event", "vnc-connect",
				      "port", (int)vnc_port, "version", vnc.version,
				      "width", vnc.width, "height", vnc.height, "bpp", vnc.bpp,
				      "depth", vnc.depth, "name", vnc.name,
				      "handshake_bytes", (json_int_t)vnc.handshake_bytes));
		say("VNC client on 127.0.0.1:%u: %ux%u, %u bpp", vnc_port, vnc.width, vnc.height, vnc.bpp);
	}
	if (o.calc_dirty_rate_s && run_calc_dirty_rate(&src, o.calc_dirty_rate_s, &sg, &vnc))
		goto cleanup;
	if (o.calc_dirty_rate_s || o.vnc_client)
		idle_ms(1000, &sg, &vnc);	/* apart from migrate's own syncs; VNC bytes flowing */

	guest_window_reset(&sg);
	if (start_migration(&src, uri, &rs))
		goto cleanup;
	last_poll = 0;
	for (;;) {
		double t = mono_s() - rs.started;

		if (stop_requested) {
			err_say("stopped by signal %d", (int)stop_requested);
			goto cleanup;
		}
		if (poll_migration(&src, &rs))
			goto cleanup;
		guest_poll(&sg);
		vnc_pump(&vnc, t);
		if (is_final(rs.last.status))
			break;
		if (vnc.fd >= 0 && t >= o.vnc_close_at_s)
			vnc_close(&vnc, t, "--vnc-close-at");
		if (o.postcopy_after_s >= 0 && postcopy_at < 0 && t >= o.postcopy_after_s &&
		    !strcmp(rs.last.status, "active")) {
			err = lm_qmp_migrate_start_postcopy(src.qmp);
			if (err) {
				qmp_failed(&src, "migrate-start-postcopy", err);
				goto cleanup;
			}
			postcopy_at = t;
			emit("lab", json_pack("{s:s, s:i, s:f}", "event", "postcopy-start",
					      "attempt", rs.attempt, "t_s", t));
			say("migrate-start-postcopy %.1f s into migration %d", t, rs.attempt);
		}
		if (o.throttle_pct > 0 && o.throttle_at_s >= 0 && !throttle_done && t >= o.throttle_at_s) {
			if (apply_throttle(&src, o.throttle_pct))
				goto cleanup;
			throttle_done = 1;
		}
		if (o.throttle_file && !throttle_done && !access(o.throttle_file, R_OK)) {
			int pct = read_percentage(o.throttle_file);

			if (pct < 1 || pct > 99) {
				err_say("%s does not hold a percentage 1..99", o.throttle_file);
				goto cleanup;
			}
			if (apply_throttle(&src, pct))
				goto cleanup;
			throttle_done = 1;
		}
		if (o.cancel_at_s >= 0 && !cancel_done && t >= o.cancel_at_s) {
			cancel_done = 1;
			if (cancel_and_wait(&src, &rs, &sg, "--cancel-at"))
				goto cleanup;
			if (!o.restart)
				break;
			/* The old destination gives up on a broken stream; use a fresh one. */
			lab_qemu_stop(&dst);
			port++;
			migration_uri(&o, dir, port, 2, uri, sizeof(uri));
			if (start_destination(&dst, &cfg, dir, "dst2", &o, uri))
				goto cleanup;
			lab_serial_init(&dg.serial, dst.serial_path);
			emit("lab", json_pack("{s:s, s:i}", "event", "restart", "dst_pid", dst.pid));
			guest_window_reset(&sg);
			if (start_migration(&src, uri, &rs))
				goto cleanup;
			continue;
		}
		if (t >= o.bound_s && !strncmp(rs.last.status, "postcopy", 8)) {
			/* Postcopy cannot be cancelled: the guest runs on the destination now. */
			if (!postcopy_bound_said) {
				postcopy_bound_said = 1;
				say("bound reached in %s: waiting up to 30 s more", rs.last.status);
				emit("lab", json_pack("{s:s, s:i, s:s}", "event", "bound-in-postcopy",
						      "attempt", rs.attempt, "status", rs.last.status));
			}
			if (t >= o.bound_s + 30) {
				err_say("still %s 30 s after the bound", rs.last.status);
				goto cleanup;
			}
		} else if (t >= o.bound_s) {
			rs.cancelled_by_bound = 1;
			if (cancel_and_wait(&src, &rs, &sg, "bound reached"))
				goto cleanup;
			break;
		}
		/*
		 * Keep the period regardless of how long the query took, and read
		 * the guest's reports every 10 ms meanwhile: their read time maps
		 * the guest's clock to the host's (lmcheck takes the smallest lag,
		 * which a 250 ms read period would floor at up to 50 ms against
		 * 100 ms reports).
		 */
		last_poll = mono_s();
		while (mono_s() - last_poll < o.poll_ms / 1000.0 && !stop_requested) {
			sleep_ms(10);
			guest_poll(&sg);
			vnc_pump(&vnc, mono_s() - rs.started);
		}
	}
	vnc_close(&vnc, mono_s() - rs.started, "migration over");
	guest_poll(&sg);
	guest_rate = guest_window_rate(&sg);
	say("migration %d %s after %.1f s: %llu sync rounds, %.1f MiB sent",
	    rs.attempt, rs.last.status, mono_s() - rs.started,
	    (unsigned long long)rs.last_ram.ram.dirty_sync_count, rs.last_ram.ram.transferred / 1048576.0);
	if (strcmp(rs.last.status, "completed"))
		say("%.1f MiB still to send at the last poll", rs.last_ram.ram.remaining / 1048576.0);
	if (!strcmp(rs.last.status, "completed"))
		say("downtime %lld ms (limit %u ms)", (long long)rs.last.downtime_ms, o.downtime_ms);

	if (!strcmp(rs.last.status, "completed")) {
		if (check_destination(&dst, &dg, &dest_alive))
			goto cleanup;
		result_status = dest_alive ? "completed" : "error";
	} else if (!strcmp(rs.last.status, "cancelled")) {
		result_status = "cancelled";
	} else {
		err_say("migration %s", rs.last.status);
		print_qemu_log_tail(&src);
		print_qemu_log_tail(&dst);
		result_status = "failed";
	}

	if (o.linger_s > 0) {
		idle_ms((int)(o.linger_s * 1000), &sg, &vnc);
		emit_params(&src, "after");
	}

cleanup:
	lab_vnc_close(&vnc);
	lab_qemu_stop(&src);
	lab_qemu_stop(&dst);
	rec = json_pack("{s:s, s:s, s:i, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:b}",
			"scenario", o.sc->name, "status", result_status,
			"attempts", rs.attempt, "cancelled_by_bound", rs.cancelled_by_bound,
			"total_time_ms", (json_int_t)rs.last.total_time_ms,
			"downtime_ms", (json_int_t)rs.last.downtime_ms,
			"dirty_sync_count", (json_int_t)rs.last_ram.ram.dirty_sync_count,
			"transferred", (json_int_t)rs.last_ram.ram.transferred,
			"remaining", (json_int_t)rs.last_ram.ram.remaining,
			"ram_total", (json_int_t)rs.last_ram.ram.total,
			"max_cpu_throttle_pct", (json_int_t)rs.max_throttle_pct,
			"guest_rate_pages_s", guest_rate,
			"dest_running", dest_alive);
	json_object_set_new(rec, "transport", json_string(transport_names[o.transport]));
	if (o.postcopy_after_s >= 0) {
		json_t *ram = json_object_get(rs.last_raw, "ram");

		json_object_set_new(rec, "postcopy_started_s",
				    postcopy_at >= 0 ? json_real(postcopy_at) : json_null());
		copy_key(rec, ram, "postcopy-requests");
		copy_key(rec, ram, "postcopy-bytes");
	}
	emit("result", rec);
	json_decref(rs.last_raw);
	if (dir && made_dir && !o.keep)
		remove_dir(dir);
	if (out != stdout)
		fclose(out);
	return !strcmp(result_status, "completed") || !strcmp(result_status, "cancelled") ? 0 : 1;
}

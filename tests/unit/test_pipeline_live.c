// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The pipeline's live entry points (track, set_name, event, poll, tick,
 * untrack, retire, finish), called as the tracing session calls them
 * (user/trace/session.c), with made-up BPF events in place of a VM: the
 * tests that trace a real QEMU need /dev/kvm, and replays go through
 * lm_pipeline_feed alone. Three VMs are tracked: A migrates (the initial
 * sync and four more, over a TCP stream told from its QMP socket by the
 * socket events, then the stream closes: completed); B stays idle (only
 * its display memory is harvested); C migrates two rounds and its process
 * exits, then its pid comes back as a new VM, D, which migrates on its own
 * until tracing stops. The JSON, CSV, Prometheus-file and live sinks are
 * attached. What is checked is what was fed, not what lmtrace said before:
 * each round's dirty pages and bytes in JSON and CSV (round 1 is the
 * initial sync, its bytes counted from logging on), nothing for B, C's
 * end for a process exit and its series gone from the Prometheus file once
 * retired, D's rounds numbered from 1 with its own numbers, the views'
 * totals, the sockets' roles, the live view's last frame, a clean finish.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/vmtrack.h"	/* LM_END_SETTLE_NS */
#include "sinks/outputs.h"
#include "unit.h"

#define MS		1000000ull
#define MiB		(1ull << 20)
#define REALTIME_NS	1764075600000000000ll	/* monotonic 0 is this Unix time */
#define PAGE		4096ull
#define VGA_PAGES	4096ull		/* display memory, logged from the VM's creation */
#define SLOT_RAM	0
#define SLOT_VGA	1
#define QMP_SK		0x1000		/* added to a VM's stream's sk: its QMP socket */
#define POLL_MS		20		/* the session's longest wait while a VM is busy */
#define TICK_MS		1000		/* -i 1 */
#define STOP_MS		11500		/* Ctrl-C */
#define LINE		8192
#define AF_UNIX_	1
#define AF_INET_	2
#define TCP_ESTABLISHED_ 1
#define TCP_FIN_WAIT1_	4
#define N(a)		((int)(sizeof(a) / sizeof((a)[0])))

enum { PID_A = 4101, PID_B = 4102, PID_C = 4103 };	/* D is C's pid again */
enum { A, B, C, D };

/* A sync at ms: the dirty pages of the RAM and display slots, the stream's byte counter then. */
struct sync {
	uint64_t ms, ram, vga, tx;
};

/* One VMM, as the test plays it. */
struct vm {
	uint32_t pid;
	const char *name;
	uint64_t track_ms;	/* found (its memory slots are made 1 ms later) */
	uint64_t ram_pages;	/* its RAM slot */
	uint64_t sk;		/* its migration stream */
	uint64_t qmp_ms;	/* its QMP socket's first send, 0 none */
	uint64_t display_ms;	/* display refresh harvests every so often, 0 none */
	uint64_t logon_ms;	/* dirty logging switched on for its RAM: migrate; 0 never */
	const struct sync *syncs;	/* [0] is the initial sync: round 1, every page */
	int nsyncs;
	uint64_t last_ms, last_tx;	/* the byte counter's last rise */
	uint64_t close_ms;	/* its stream closes: completed; 0 never */
	uint64_t exit_ms;	/* its process exits; 0 never */
};

static const struct sync syncs_a[] = {
	{ 3002, 65536, 4096, 4096 },	/* the stream's header went before the initial sync */
	{ 5000, 6000, 200, 60 * MiB },
	{ 7000, 3000, 100, 110 * MiB },
	{ 8500, 1500, 50, 150 * MiB },
	{ 9500, 400, 20, 175 * MiB },
};
static const struct sync syncs_c[] = {
	{ 2502, 65536, 4096, 8192 },
	{ 4500, 9000, 300, 80 * MiB },
};
static const struct sync syncs_d[] = {
	{ 6502, 131072, 4096, 2048 },
	{ 8000, 7000, 100, 70 * MiB },
	{ 10000, 4000, 60, 120 * MiB },
};

static const struct vm vms[] = {
	[A] = { .pid = PID_A, .name = "vm-a", .ram_pages = 65536, .sk = 0xa1, .qmp_ms = 200,
		.logon_ms = 3000, .syncs = syncs_a, .nsyncs = N(syncs_a),
		.last_ms = 9600, .last_tx = 176 * MiB, .close_ms = 9600 },
	[B] = { .pid = PID_B, .name = "vm-b", .ram_pages = 65536, .sk = 0xb1, .display_ms = 300 },
	[C] = { .pid = PID_C, .name = "vm-c", .ram_pages = 65536, .sk = 0xc1,
		.logon_ms = 2500, .syncs = syncs_c, .nsyncs = N(syncs_c),
		.last_ms = 5500, .last_tx = 90 * MiB, .exit_ms = 5500 },
	[D] = { .pid = PID_C, .name = "vm-d", .track_ms = 6000, .ram_pages = 131072, .sk = 0xd1,
		.logon_ms = 6500, .syncs = syncs_d, .nsyncs = N(syncs_d),
		.last_ms = 11000, .last_tx = 140 * MiB },
};

static struct lm_pipeline pl;
static char tmpdir[] = "/tmp/lmtrace-test-pipeline-live.XXXXXX";
static char prom_path[600];
static char *json, *csv, *live;
static size_t json_len, csv_len, live_len;
static FILE *json_f, *csv_f, *live_f;
static size_t json_mark;	/* JSON written when C was retired: C's records before, D's after */
static int bad_cookies;		/* lm_pipeline_tracked gave a pid that is not its cookie's VM's */

/* Sockets' roles the pipeline decided (the session tells BPF). */
static struct { uint32_t pid; uint64_t sk; int role; } roles[32];
static int nroles;

static void on_sock_role(void *ctx, uint32_t pid, const struct lm_stream *s)
{
	if (nroles < N(roles))
		roles[nroles++] = (typeof(roles[0])){ pid, s->sk, s->role };
}

/* The last role decided for sk of pid, -1 if none was. */
static int role_of(uint32_t pid, uint64_t sk)
{
	int i, role = -1;

	for (i = 0; i < nroles; i++)
		if (roles[i].pid == pid && roles[i].sk == sk)
			role = roles[i].role;
	return role;
}

/* ---- the VMMs, as BPF sees them ---------------------------------------- */

/* The VM's migration byte counter at t: 0 until its stream's first send, then straight lines through the syncs' readings. */
static uint64_t tx_at(const struct vm *v, uint64_t t)
{
	uint64_t t0 = v->logon_ms + 1, tx0 = 0, t1, tx1;
	int i;

	if (!v->logon_ms || t <= t0)
		return 0;
	for (i = 0; i <= v->nsyncs; i++) {
		t1 = i < v->nsyncs ? v->syncs[i].ms : v->last_ms;
		tx1 = i < v->nsyncs ? v->syncs[i].tx : v->last_tx;
		if (t <= t1)
			return tx0 + (tx1 - tx0) * (t - t0) / (t1 - t0);
		t0 = t1;
		tx0 = tx1;
	}
	return v->last_tx;
}

static void set_slot(const struct vm *v, uint64_t t, uint32_t slot, uint64_t pages, uint32_t flags)
{
	struct lm_event e = { .kind = LM_EV_SET_MEMSLOT, .pid = v->pid, .ts_ns = t * MS };

	e.set.slot = slot;
	e.set.memory_size = pages * PAGE;
	e.set.mem_flags = flags;
	e.set.tx_total = tx_at(v, t);
	lm_pipeline_event(&pl, &e);
}

static void get(const struct vm *v, uint64_t t, uint32_t slot, uint64_t npages, uint64_t pop,
		uint32_t flags)
{
	struct lm_event e = { .kind = LM_EV_GET_DIRTY_LOG, .pid = v->pid, .ts_ns = t * MS,
			      .flags = flags };

	e.get.slot = slot;
	e.get.npages = npages;
	e.get.dirty_pages = pop;
	e.get.mem_flags = LM_KVM_MEM_LOG_DIRTY_PAGES;
	e.get.call_ns = 10000;
	e.get.tx_total = tx_at(v, t);
	lm_pipeline_event(&pl, &e);
}

static void sock_event(const struct vm *v, uint32_t kind, uint64_t t, uint64_t sk, uint16_t family,
		       uint16_t role, uint64_t bytes, uint32_t oldstate, uint32_t newstate)
{
	struct lm_event e = { .kind = kind, .pid = v->pid, .ts_ns = t * MS };

	e.sock.sk = sk;
	e.sock.family = family;
	e.sock.role = role;
	e.sock.bytes = bytes;
	e.sock.last_send_ns = t * MS;
	e.sock.ino = sk + 1000;
	e.sock.oldstate = oldstate;
	e.sock.newstate = newstate;
	e.sock.tx_total = tx_at(v, t);
	lm_pipeline_event(&pl, &e);
}

#define FIRST_SEND(v, t, sk, fam, role) sock_event(v, LM_EV_SOCK_STATE, t, sk, fam, role, 100, 0, 0)
#define BYTES(v, t, sk, bytes) sock_event(v, LM_EV_SOCK_BYTES, t, sk, 0, 0, bytes, 0, 0)
#define CLOSE(v, t, sk, bytes) \
	sock_event(v, LM_EV_SOCK_STATE, t, sk, 0, 0, bytes, TCP_ESTABLISHED_, TCP_FIN_WAIT1_)

/* What the VMM does at t (ms): its BPF events, in time order. */
static void vm_step(const struct vm *v, uint64_t t)
{
	int i;

	if (t == v->track_ms + 1) {	/* QEMU makes its memory */
		set_slot(v, t, SLOT_RAM, v->ram_pages, 0);
		set_slot(v, t, SLOT_VGA, VGA_PAGES, LM_KVM_MEM_LOG_DIRTY_PAGES);
	}
	if (t == v->qmp_ms)
		FIRST_SEND(v, t, v->sk + QMP_SK, AF_UNIX_, LM_SOCK_UNDECIDED);
	if (v->logon_ms && t == v->logon_ms)	/* migrate: logging on for RAM */
		set_slot(v, t, SLOT_RAM, v->ram_pages, LM_KVM_MEM_LOG_DIRTY_PAGES);
	if (v->logon_ms && t == v->logon_ms + 1)	/* BPF counts it as the migration's */
		FIRST_SEND(v, t, v->sk, AF_INET_, LM_SOCK_MIGRATION);
	for (i = 0; i < v->nsyncs; i++) {
		/* the initial sync's full bitmaps are not counted in BPF: every page */
		uint32_t flags = i ? 0 : LM_GET_NOT_COUNTED;

		if (t == v->syncs[i].ms)
			get(v, t, SLOT_RAM, v->ram_pages, v->syncs[i].ram, flags);
		if (t == v->syncs[i].ms + 1)
			get(v, t, SLOT_VGA, VGA_PAGES, v->syncs[i].vga, flags);
	}
	if (v->display_ms && t > v->track_ms + 1 && t % v->display_ms == 0)
		get(v, t, SLOT_VGA, VGA_PAGES, 40, 0);	/* display refresh, no migration */
	if (v->close_ms && t == v->close_ms)
		CLOSE(v, t, v->sk, v->last_tx);
}

static int alive(const struct vm *v, uint64_t t)
{
	return t >= v->track_ms && (!v->exit_ms || t < v->exit_ms);
}

/* ---- the session's side ------------------------------------------------- */

/* Does the Prometheus file hold text? */
static int prom_has(const char *text)
{
	char *all = unit_slurp(prom_path);
	int has = strstr(all, text) != NULL;

	free(all);
	return has;
}

/* A VMM found (add_vm): tracked with its index as cookie, then named. */
static void track(int i)
{
	ASSERT_EQ(lm_pipeline_track(&pl, vms[i].pid, LM_SRC_BITMAP, REALTIME_NS, i, 0), 0, "tracked");
	lm_pipeline_set_name(&pl, vms[i].pid, vms[i].name);
}

/* The session's tick: every tracked VM's socket bytes, then its summed counters. */
static void tick_all(uint64_t t)
{
	uint32_t pid;
	int64_t i;
	int n;

	for (n = 0; lm_pipeline_tracked(&pl, n, &pid, &i); n++) {
		const struct vm *v = &vms[i];
		struct lm_vm_counters sum = { .tx_bytes = tx_at(v, t) };

		bad_cookies += v->pid != pid;
		if (v->logon_ms && t > v->logon_ms && (!v->close_ms || t < v->close_ms))
			BYTES(v, t, v->sk, tx_at(v, t));
		lm_pipeline_tick(&pl, pid, t * MS, &sum);
	}
}

/* C's process exited: its migration ended for that, it is no longer traced; still there. */
static void check_exited(const struct vm *v, uint64_t t)
{
	const struct lm_vm_view *view = lm_pipeline_vm(&pl, v->pid);
	uint32_t pid;
	int64_t cookie;
	int n;

	if (!ASSERT_TRUE(view != NULL, "C's view stays until it is retired"))
		return;
	ASSERT_EQ(view->end_reason, LM_END_PROC_EXIT, "C ended: its process exited");
	ASSERT_EQ(view->migrating, 0, "C no longer migrating");
	ASSERT_EQ(view->rounds, v->nsyncs, "C's rounds: as fed");
	ASSERT_EQ(view->tx_bytes, v->last_tx, "C's bytes: the last sample at the exit");
	for (n = 0; lm_pipeline_tracked(&pl, n, &pid, &cookie); n++)
		ASSERT_TRUE(pid != v->pid, "C no longer tracked");
	/* an event of the gone VMM still in the ring: nothing follows from it */
	get(v, t, SLOT_RAM, v->ram_pages, 500, 0);
	lm_pipeline_poll(&pl, (t + 100) * MS);
	ASSERT_EQ(view->rounds, v->nsyncs, "C's late events are ignored");
	ASSERT_TRUE(prom_has("lmtrace_rounds_total{pid=\"4103\",vm=\"vm-c\"} 2\n"),
		    "Prometheus: C listed until it is retired");
}

/* reap_exited without -p: the end, the last sample, the summary, then forgotten. */
static void exit_vm(int i, uint64_t t)
{
	const struct vm *v = &vms[i];
	struct lm_vm_counters sum = { .tx_bytes = tx_at(v, t) };

	lm_pipeline_untrack(&pl, v->pid, t * MS, LM_END_PROC_EXIT, &sum);
	check_exited(v, t);
	lm_pipeline_retire(&pl, v->pid);
	ASSERT_TRUE(lm_pipeline_vm(&pl, v->pid) == NULL, "C retired: its view freed");
	ASSERT_TRUE(!prom_has("pid=\"4103\""), "Prometheus: C's series gone once retired");
	ASSERT_TRUE(prom_has("lmtrace_rounds_total{pid=\"4101\",vm=\"vm-a\"}"), "Prometheus: A stays");
	ASSERT_TRUE(prom_has("lmtrace_rounds_total{pid=\"4102\",vm=\"vm-b\"} 0\n"), "Prometheus: B stays");
	fflush(json_f);
	json_mark = json_len;
}

/* Ctrl-C (close_session): time-driven work done, every VM untracked. */
static void stop(uint64_t t)
{
	uint32_t pid;
	int64_t i;

	lm_pipeline_poll(&pl, t * MS + LM_END_SETTLE_NS + LM_BURST_GAP_NS + 1);
	while (lm_pipeline_tracked(&pl, 0, &pid, &i)) {
		struct lm_vm_counters sum = { .tx_bytes = tx_at(&vms[i], t) };

		lm_pipeline_untrack(&pl, pid, t * MS, LM_END_TRACE_STOP, &sum);
	}
}

/* The session's loop, a millisecond at a time: events, polls, ticks, exits. */
static void run(void)
{
	uint64_t t;
	int i;

	for (t = 0; t <= STOP_MS; t++) {
		for (i = 0; i < N(vms); i++) {
			if (t == vms[i].track_ms)
				track(i);
			if (alive(&vms[i], t))
				vm_step(&vms[i], t);
		}
		if (t % POLL_MS == 0)
			lm_pipeline_poll(&pl, t * MS);
		if (t % TICK_MS == 0)
			tick_all(t);
		for (i = 0; i < N(vms); i++)
			if (vms[i].exit_ms && t == vms[i].exit_ms)
				exit_vm(i, t);
	}
	stop(STOP_MS);
}

static int add_sinks(void)
{
	struct lm_sink *s[4];
	char err[256];
	int i, ok = 1;

	snprintf(prom_path, sizeof(prom_path), "%s/lmtrace.prom", tmpdir);
	json_f = open_memstream(&json, &json_len);
	csv_f = open_memstream(&csv, &csv_len);
	live_f = open_memstream(&live, &live_len);
	ok &= ASSERT_EQ(lm_sink_json_new(json_f, &s[0]), 0, "JSON sink");
	ok &= ASSERT_EQ(lm_sink_csv_new(csv_f, &s[1]), 0, "CSV sink");
	ok &= ASSERT_EQ(lm_sink_prom_file_new(prom_path, &s[2], err, sizeof(err)), 0, "prom file sink");
	ok &= ASSERT_EQ(lm_sink_live_new(live_f, &s[3]), 0, "live sink");
	for (i = 0; ok && i < 4; i++)
		ok &= ASSERT_EQ(lm_pipeline_add_sink(&pl, s[i]), 0, "sink added");
	return ok;
}

/* ---- what came out ------------------------------------------------------ */

struct rec {
	long long round, dirty, tx;
};

/* The next line of text[*pos, end) into line; 0 at the end. */
static int next_line(const char *text, size_t end, size_t *pos, char *line)
{
	const char *nl;
	size_t n;

	if (*pos >= end)
		return 0;
	nl = memchr(text + *pos, '\n', end - *pos);
	n = nl ? (size_t)(nl - (text + *pos)) : end - *pos;
	snprintf(line, LINE, "%.*s", (int)n, text + *pos);
	*pos += n + 1;
	return 1;
}

/* The integer after "key": in a JSON line, -1 if absent or null. */
static long long num(const char *line, const char *key)
{
	char pat[64];
	const char *at;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	at = strstr(line, pat);
	return at && at[strlen(pat)] != 'n' ? strtoll(at + strlen(pat), NULL, 10) : -1;
}

static int is_record(const char *line, uint32_t pid, const char *type, const char *extra)
{
	char head[64];

	snprintf(head, sizeof(head), "\"pid\":%u,\"type\":\"%s\"", pid, type);
	return strstr(line, head) && (!extra || strstr(line, extra));
}

/* Records of pid and type (holding extra) in json[from, to); the last one into last. */
static int json_count(size_t from, size_t to, uint32_t pid, const char *type, const char *extra,
		      char *last)
{
	char line[LINE];
	size_t pos = from;
	int n = 0;

	while (next_line(json, to, &pos, line))
		if (is_record(line, pid, type, extra)) {
			n++;
			if (last)
				strcpy(last, line);
		}
	return n;
}

/* pid's round records in json[from, to), in order; how many there were. */
static int json_rounds(size_t from, size_t to, uint32_t pid, struct rec *r, int max)
{
	char line[LINE];
	size_t pos = from;
	int n = 0;

	while (next_line(json, to, &pos, line))
		if (is_record(line, pid, "round", NULL) && n++ < max)
			r[n - 1] = (struct rec){ num(line, "round"), num(line, "dirty_pages"),
						 num(line, "tx_bytes") };
	return n;
}

/* The CSV's round lines of pid and name (columns round, dirty_pages, round_tx_bytes); how many. */
static int csv_rounds(uint32_t pid, const char *name, struct rec *r, int max)
{
	char line[LINE], want[96], *f;
	size_t pos = 0;
	int n = 0;

	snprintf(want, sizeof(want), ",%u,%s,round,", pid, name);
	while (next_line(csv, csv_len, &pos, line)) {
		f = strstr(line, want);
		if (!f || n++ >= max)
			continue;
		f += strlen(want);
		r[n - 1].round = strtoll(f, &f, 10);
		r[n - 1].dirty = strtoll(f + 1, &f, 10);
		strtod(f + 1, &f);	/* round_duration_s */
		r[n - 1].tx = *f == ',' && f[1] != ',' ? strtoll(f + 1, NULL, 10) : -1;
	}
	return n;
}

/* The records are the VM's syncs: rounds from 1, its pages, its bytes since the sync before
 * (round 1's since logging went on, when the counter read 0). */
static void check_rounds(const char *out, const struct vm *v, const struct rec *r, int n)
{
	char what[128];
	int i;

	snprintf(what, sizeof(what), "%s: %s's rounds, one per sync", out, v->name);
	ASSERT_EQ(n, v->nsyncs, what);
	for (i = 0; i < n && i < v->nsyncs; i++) {
		snprintf(what, sizeof(what), "%s: %s's round %d numbered", out, v->name, i + 1);
		ASSERT_EQ(r[i].round, i + 1, what);
		snprintf(what, sizeof(what), "%s: %s's round %d dirty pages", out, v->name, i + 1);
		ASSERT_EQ(r[i].dirty, v->syncs[i].ram + v->syncs[i].vga, what);
		snprintf(what, sizeof(what), "%s: %s's round %d tx_bytes", out, v->name, i + 1);
		ASSERT_EQ(r[i].tx, v->syncs[i].tx - (i ? v->syncs[i - 1].tx : 0), what);
	}
}

/* Dirty pages of rounds 2 and later, as fed (what the view and summary add up). */
static uint64_t later_pages(const struct vm *v)
{
	uint64_t sum = 0;
	int i;

	for (i = 1; i < v->nsyncs; i++)
		sum += v->syncs[i].ram + v->syncs[i].vga;
	return sum;
}

/* The views after tracing stopped, before the summaries. */
static void check_views(void)
{
	const struct lm_vm_view *a = lm_pipeline_vm(&pl, PID_A), *b = lm_pipeline_vm(&pl, PID_B);
	const struct lm_vm_view *d = lm_pipeline_vm(&pl, PID_C);

	ASSERT_EQ(bad_cookies, 0, "each tracked pid came with its own cookie");
	if (!ASSERT_TRUE(a && b && d, "A, B and D have views"))
		return;
	ASSERT_EQ(a->rounds, vms[A].nsyncs, "A's view: rounds as fed");
	ASSERT_EQ(a->tx_bytes, vms[A].last_tx, "A's view: bytes, the counter's last reading");
	ASSERT_EQ(a->dirty_pages, later_pages(&vms[A]), "A's view: dirty pages of rounds >= 2");
	ASSERT_EQ(a->migrations, 1, "A's view: one migration");
	ASSERT_EQ(a->end_reason, LM_END_COMPLETED, "A's view: completed");
	ASSERT_STREQ(a->name, "vm-a", "A's view: its name");
	ASSERT_EQ(b->rounds + b->migrations + b->tx_bytes, 0, "B's view: no round, migration or bytes");
	ASSERT_EQ(d->rounds, vms[D].nsyncs, "D's view: its own rounds, not C's added");
	ASSERT_EQ(d->tx_bytes, vms[D].last_tx, "D's view: its own bytes");
	ASSERT_EQ(d->dirty_pages, later_pages(&vms[D]), "D's view: its own dirty pages");
	ASSERT_EQ(d->migrations, 1, "D's view: one migration");
	ASSERT_EQ(d->end_reason, LM_END_TRACE_STOP, "D's view: ended as tracing stopped");
	ASSERT_STREQ(d->name, "vm-d", "D's view: its name");
	ASSERT_EQ(lm_pipeline_error(&pl), 0, "no sink's stream failed");
}

static void check_json_vm(const struct vm *v, size_t from, size_t to, const char *end)
{
	char line[LINE], want[64], what[96];
	struct rec r[8];
	int n = json_rounds(from, to, v->pid, r, N(r));

	check_rounds("JSON", v, r, n);
	snprintf(want, sizeof(want), "\"vm\":\"%s\"", v->name);
	snprintf(what, sizeof(what), "JSON: %s's one start, with its name", v->name);
	ASSERT_EQ(json_count(from, to, v->pid, "migration", "\"event\":\"start\"", line), 1, what);
	ASSERT_TRUE(strstr(line, want) != NULL, what);
	snprintf(what, sizeof(what), "JSON: %s's one end: %s", v->name, end);
	ASSERT_EQ(json_count(from, to, v->pid, "migration", "\"event\":\"end\"", line), 1, what);
	snprintf(want, sizeof(want), "\"reason\":\"%s\"", end);
	ASSERT_TRUE(strstr(line, want) != NULL, what);
	snprintf(what, sizeof(what), "JSON: %s's summary", v->name);
	if (!ASSERT_EQ(json_count(from, to, v->pid, "summary", NULL, line), 1, what))
		return;
	ASSERT_EQ(num(line, "rounds"), v->nsyncs, what);
	ASSERT_EQ(num(line, "tx_bytes"), v->last_tx, what);
	ASSERT_EQ(num(line, "dirty_pages"), later_pages(v), what);
	ASSERT_EQ(num(line, "migrations"), 1, what);
	snprintf(want, sizeof(want), "\"end\":\"%s\"", end);
	ASSERT_TRUE(strstr(line, want) != NULL, what);
}

static void check_json(void)
{
	check_json_vm(&vms[A], 0, json_len, "completed");
	ASSERT_EQ(json_count(0, json_len, PID_B, "round", NULL, NULL), 0, "JSON: no round of B");
	ASSERT_EQ(json_count(0, json_len, PID_B, "migration", NULL, NULL), 0, "JSON: no start or end of B");
	ASSERT_EQ(json_count(0, json_len, PID_B, "dirty_rate", NULL, NULL), 0, "JSON: no dirty-rate window of B");
	ASSERT_EQ(json_count(0, json_len, PID_B, "summary", "\"end\":\"none\"", NULL), 1, "JSON: B's summary, no migration");
	ASSERT_TRUE(json_mark > 0 && json_mark < json_len, "JSON: C's retirement marked");
	check_json_vm(&vms[C], 0, json_mark, "process-exited");
	check_json_vm(&vms[D], json_mark, json_len, "trace-stopped");
	ASSERT_EQ(json_count(json_mark, json_len, PID_C, "migration", "\"vm\":\"vm-c\"", NULL), 0,
		  "JSON: nothing of C's after it was retired");
}

/* A CSV line whose record column (the fourth) says round. */
static int is_round_line(const char *line)
{
	int commas = 0;

	for (; *line && commas < 3; line++)
		commas += *line == ',';
	return strncmp(line, "round,", 6) == 0;
}

static void check_csv(void)
{
	static const int order[] = { A, C, D };
	char line[LINE];
	struct rec r[8];
	size_t pos = 0;
	int i, n, lines = 0;

	ASSERT_TRUE(strncmp(csv, "ts_s,pid,vm,record,round,", 25) == 0, "CSV: its header");
	for (i = 0; i < N(order); i++) {
		n = csv_rounds(vms[order[i]].pid, vms[order[i]].name, r, N(r));
		check_rounds("CSV", &vms[order[i]], r, n);
	}
	ASSERT_EQ(csv_rounds(PID_B, "vm-b", r, N(r)), 0, "CSV: no round of B");
	while (next_line(csv, csv_len, &pos, line))
		lines += is_round_line(line);
	ASSERT_EQ(lines, vms[A].nsyncs + vms[C].nsyncs + vms[D].nsyncs, "CSV: one line per round, no more");
}

static void check_final_outputs(void)
{
	const char *final = strstr(live, "(final)");

	ASSERT_TRUE(prom_has("lmtrace_rounds_total{pid=\"4101\",vm=\"vm-a\"} 5\n"), "Prometheus: A's rounds");
	ASSERT_TRUE(prom_has("lmtrace_tx_bytes_total{pid=\"4101\",vm=\"vm-a\"} 184549376\n"),
		    "Prometheus: A's bytes");
	ASSERT_TRUE(prom_has("lmtrace_rounds_total{pid=\"4103\",vm=\"vm-d\"} 3\n"), "Prometheus: D's own rounds");
	ASSERT_TRUE(prom_has("lmtrace_migrations_total{pid=\"4102\",vm=\"vm-b\"} 0\n"), "Prometheus: B, idle");
	ASSERT_TRUE(!prom_has("vm=\"vm-c\""), "Prometheus: nothing of C at the end");
	if (!ASSERT_TRUE(final != NULL, "live: the final frame"))
		return;
	ASSERT_TRUE(strstr(live, "lmtrace  3 VMs") != NULL, "live: three VMs on screen");
	ASSERT_TRUE(strstr(final, "vm-a") && strstr(final, "ended (completed)"), "live: A, completed");
	ASSERT_TRUE(strstr(final, "vm-b") && strstr(final, "waiting for a migration"), "live: B, idle");
	ASSERT_TRUE(strstr(final, "vm-d") && strstr(final, "ended (trace-stopped)"), "live: D, stopped");
	ASSERT_TRUE(!strstr(final, "vm-c"), "live: not the retired C");
}

static void check_roles(void)
{
	ASSERT_EQ(role_of(PID_A, vms[A].sk + QMP_SK), LM_SOCK_OTHER, "A's QMP socket: not the migration's");
	ASSERT_EQ(role_of(PID_A, vms[A].sk), LM_SOCK_MIGRATION, "A's stream: the migration's");
	ASSERT_EQ(role_of(PID_C, vms[C].sk), LM_SOCK_MIGRATION, "C's stream: the migration's");
	ASSERT_EQ(role_of(PID_C, vms[D].sk), LM_SOCK_MIGRATION, "D's stream: the migration's");
}

int main(int argc, char **argv)
{
	struct lm_est_config cfg;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("NO_COLOR", "1", 1);
	lm_est_config_default(&cfg);
	lm_pipeline_init(&pl, &cfg);
	lm_pipeline_on_sock_role(&pl, on_sock_role, NULL);
	if (add_sinks()) {
		run();
		check_views();
		ASSERT_EQ(lm_pipeline_finish(&pl), 0, "finish: every sink closed cleanly");
		fclose(json_f);
		fclose(csv_f);
		fclose(live_f);
		check_json();
		check_csv();
		check_final_outputs();
		check_roles();
		free(json);
		free(csv);
		free(live);
	}
	unit_tmpdir_done(tmpdir);
	return unit_done(argv[0]);
}

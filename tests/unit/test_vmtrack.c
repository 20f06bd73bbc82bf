// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * vmtrack's rules on made-up BPF events: migration start/end, rounds from
 * harvest bursts, manual-protect repeats, late attach, display-refresh
 * harvests and dirty-rate windows that are not a migration, which sockets
 * are the migration's, dirty-ring mode, SMM aliases, slot removal, and
 * the hooks attached on demand (an initial sync unseen or caught).
 */
#include <string.h>
#include "unit.h"
#include "core/vmtrack.h"

#define MS 1000000ull
#define PID 4242

static struct lm_obs out[64];
static int nout;

static void collect(void *ctx, const struct lm_obs *o)
{
	if (nout < 64)
		out[nout++] = *o;
}

static void set_slot(struct lm_vmtrack *t, uint64_t ts, uint32_t slot, uint64_t bytes, uint32_t flags)
{
	struct lm_event e = { .kind = LM_EV_SET_MEMSLOT, .pid = PID, .ts_ns = ts };

	e.set.slot = slot;
	e.set.memory_size = bytes;
	e.set.mem_flags = flags;
	lm_vmtrack_event(t, &e, collect, NULL);
}

static void get(struct lm_vmtrack *t, uint64_t ts, uint32_t slot, uint64_t npages,
		uint64_t pop, uint32_t flags, uint64_t tx, uint64_t vm_pages)
{
	struct lm_event e = { .kind = LM_EV_GET_DIRTY_LOG, .pid = PID, .ts_ns = ts, .flags = flags };

	e.get.slot = slot;
	e.get.npages = npages;
	e.get.dirty_pages = pop;
	e.get.mem_flags = LM_KVM_MEM_LOG_DIRTY_PAGES;
	e.get.call_ns = 10000;
	e.get.tx_total = tx;
	e.get.vm_pages = vm_pages;
	lm_vmtrack_event(t, &e, collect, NULL);
}

/* A reading of KVM's logging with no hook (vm_scan), as user space makes it. */
static void log_state(struct lm_vmtrack *t, uint64_t ts, uint64_t prev, uint64_t ram_pages,
		      uint64_t logged_pages, int hooks)
{
	struct lm_event e = { .kind = LM_EV_LOG_STATE, .pid = PID, .ts_ns = ts };

	e.log.vm_pages = ram_pages;
	e.log.ram_pages = ram_pages;
	e.log.logged_pages = logged_pages;
	e.log.prev_ns = prev;
	e.log.hooks = hooks;
	lm_vmtrack_event(t, &e, collect, NULL);
}

static int count_kind(uint32_t kind)
{
	int i, n = 0;

	for (i = 0; i < nout; i++)
		n += out[i].kind == kind;
	return n;
}

static const struct lm_obs *nth(uint32_t kind, int n)
{
	int i;

	for (i = 0; i < nout; i++)
		if (out[i].kind == kind && n-- == 0)
			return &out[i];
	return NULL;
}

/* QEMU-like: slots made, logging on, round 1, rounds, completion sync, socket close. */
static void test_qemu_like_migration(void)
{
	struct lm_vmtrack t;
	struct lm_event sock = { .kind = LM_EV_SOCK_STATE, .pid = PID };

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 1 * MS, 0, 256 << 20, 0);
	set_slot(&t, 2 * MS, 1, 16 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);	/* VGA: logged from creation */
	ASSERT_EQ(nout, 0, "no start at VM creation");
	set_slot(&t, 100 * MS, 0, 256 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	ASSERT_EQ(nout, 0, "start waits for the first harvest");
	/* round 1: first harvest after logging on (BPF marks it not counted) */
	get(&t, 102 * MS, 0, 65536, 65536, LM_GET_NOT_COUNTED, 1000, 0);
	get(&t, 103 * MS, 1, 4096, 7, 0, 1000, 0);
	/* round 2: slot 0 read again closes round 1 */
	get(&t, 1102 * MS, 0, 65536, 500, LM_GET_CLEARED_SINCE_LAST, 5001000, 0);
	ASSERT_EQ(count_kind(LM_OBS_START), 0, "no migration stream yet: start held");
	get(&t, 1103 * MS, 1, 4096, 3, LM_GET_CLEARED_SINCE_LAST, 5001000, 0);
	/* a 60 ms gap closes round 2 at the next poll; 5 MB went out: a migration */
	lm_vmtrack_poll(&t, 1170 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "one start");
	ASSERT_TRUE(out[0].kind == LM_OBS_START, "start first");
	ASSERT_EQ(nth(LM_OBS_START, 0)->ts_ns, 100 * MS, "started when logging went on");
	ASSERT_EQ(nth(LM_OBS_START, 0)->start.ram_bytes, (256 + 16) << 20, "start ram = logged slots");
	ASSERT_EQ(nth(LM_OBS_START, 0)->start.late, 0, "not late");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.round, 1, "round 1");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.dirty_pages, 65536 + 7, "round 1 pages");
	ASSERT_EQ(count_kind(LM_OBS_ROUND), 2, "gap closes round 2");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.dirty_pages, 503, "round 2 pages");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.duration_ns, 1000 * MS, "round 2 duration");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.tx_bytes, 5000000, "round 2 bytes");
	/* completion sync 1 ms later, no CLEAR: only the new bits count */
	get(&t, 1200 * MS, 0, 65536, 520, 0, 6000000, 0);
	get(&t, 1201 * MS, 1, 4096, 3, 0, 6000000, 0);
	lm_vmtrack_poll(&t, 1300 * MS, collect, NULL);
	ASSERT_EQ(nth(LM_OBS_ROUND, 2)->round.dirty_pages, 20, "repeat adds pop(now) - pop(before)");
	ASSERT_TRUE(nth(LM_OBS_ROUND, 2)->round.flags & LM_ROUND_FINAL, "completion sync flagged final");
	/* the migration socket (taken as such by BPF when it first sent) closes;
	 * no cancel follows within the settle time */
	sock.ts_ns = 101 * MS;
	sock.sock.sk = 0xa1;
	sock.sock.role = LM_SOCK_MIGRATION;
	lm_vmtrack_event(&t, &sock, collect, NULL);
	sock.ts_ns = 1400 * MS;
	sock.sock.oldstate = 1;
	sock.sock.newstate = 4;
	sock.sock.bytes = 6000000;
	lm_vmtrack_event(&t, &sock, collect, NULL);
	lm_vmtrack_poll(&t, 1500 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_END), 0, "end waits for the settle time");
	lm_vmtrack_poll(&t, 2000 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_END), 1, "completed");
	ASSERT_EQ(nth(LM_OBS_END, 0)->end.reason, LM_END_COMPLETED, "reason completed");
}

static void test_cancel_and_restart(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 1 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	get(&t, 2 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 0, 0);
	get(&t, 500 * MS, 0, 16384, 10, 0, 8 << 20, 0);	/* 8 MiB on the stream */
	set_slot(&t, 600 * MS, 0, 64 << 20, 0);		/* migrate_cancel */
	ASSERT_EQ(count_kind(LM_OBS_END), 1, "cancel ends it");
	ASSERT_EQ(nth(LM_OBS_END, 0)->end.reason, LM_END_CANCELLED, "reason cancelled");
	ASSERT_EQ(count_kind(LM_OBS_ROUND), 2, "open round flushed at the end");
	set_slot(&t, 700 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	get(&t, 702 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 0, 0);
	get(&t, 1000 * MS, 0, 16384, 10, 0, 16 << 20, 0);
	lm_vmtrack_poll(&t, 1100 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_START), 2, "restarted");
	ASSERT_EQ(nth(LM_OBS_ROUND, 2)->round.round, 1, "rounds restart at 1");
}

/* Attached mid-migration: sizes only from KVM; the first round seen is numbered 2. */
static void test_late_attach(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	get(&t, 10 * MS, 0, 65536, 300, LM_GET_SIZE_FROM_KERNEL, 0, 69632);
	get(&t, 11 * MS, 1, 4096, 2, LM_GET_SIZE_FROM_KERNEL, 0, 69632);
	lm_vmtrack_poll(&t, 100 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "late start");
	ASSERT_EQ(nth(LM_OBS_START, 0)->start.late, 1, "flagged late");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.round, 2, "first seen round is 2");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.dirty_pages, 302, "its pages");
	ASSERT_TRUE(nth(LM_OBS_ROUND, 0)->round.flags & LM_ROUND_LATE, "flagged late");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.duration_ns, 0, "its length is unknown");
}

/*
 * Hooks attached on demand, after the initial sync: round 1 is made from
 * KVM's logged pages at the middle of the two readings around the switch,
 * the first burst seen is round 2, and the hooks are wanted until the
 * migration ends, not after (QEMU leaves logging on when it completes).
 */
static void test_initial_sync_unseen(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	log_state(&t, 100 * MS, 0, 69632, 4096, 0);	/* VGA only: no hooks */
	ASSERT_EQ(lm_vmtrack_wants_hooks(&t), 0, "display logging alone wants no hooks");
	log_state(&t, 200 * MS, 100 * MS, 69632, 69632, 0);	/* switched on in (100, 200] ms */
	ASSERT_EQ(lm_vmtrack_wants_hooks(&t), 1, "logging on: hooks wanted");
	/* hooks attached at 200 ms; a whole period passes without a full bitmap */
	log_state(&t, 300 * MS, 200 * MS, 69632, 69632, 1);
	get(&t, 1200 * MS, 0, 65536, 300, LM_GET_SIZE_FROM_KERNEL, 9 << 20, 69632);
	get(&t, 1201 * MS, 1, 4096, 2, LM_GET_SIZE_FROM_KERNEL, 9 << 20, 69632);
	lm_vmtrack_poll(&t, 1300 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "one start");
	ASSERT_TRUE(nth(LM_OBS_START, 0)->start.flags & LM_START_SYNC_UNSEEN, "flagged unseen");
	ASSERT_EQ(nth(LM_OBS_START, 0)->start.late, 0, "not late: the switch was read");
	ASSERT_EQ(nth(LM_OBS_START, 0)->ts_ns, 150 * MS, "start between the two readings");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.round, 1, "round 1 made");
	ASSERT_TRUE(nth(LM_OBS_ROUND, 0)->round.flags & LM_ROUND_UNSEEN, "round 1 flagged");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.dirty_pages, 69632, "round 1 = KVM's logged pages");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.round, 2, "first burst seen is round 2");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.dirty_pages, 302, "its pages");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.duration_ns, 1050 * MS, "from the estimated start");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.tx_bytes, 9 << 20, "its bytes");
	/* cancelled, logging off: seen by the hooks, then by a reading */
	set_slot(&t, 1400 * MS, 0, 256 << 20, 0);
	ASSERT_EQ(count_kind(LM_OBS_END), 1, "cancel ends it");
	log_state(&t, 1500 * MS, 1400 * MS, 69632, 4096, 1);
	ASSERT_EQ(lm_vmtrack_wants_hooks(&t), 0, "logging off: no hooks");
}

/* The hooks attached between the switch and the initial sync: it is caught, the start is exact. */
static void test_initial_sync_caught(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	log_state(&t, 100 * MS, 0, 69632, 0, 0);
	log_state(&t, 200 * MS, 100 * MS, 69632, 69632, 0);
	get(&t, 203 * MS, 0, 65536, 65536, LM_GET_SIZE_FROM_KERNEL | LM_GET_MANUAL_PROTECT, 0, 69632);
	get(&t, 204 * MS, 1, 4096, 4096, LM_GET_SIZE_FROM_KERNEL | LM_GET_MANUAL_PROTECT, 0, 69632);
	get(&t, 1200 * MS, 0, 65536, 300, LM_GET_CLEARED_SINCE_LAST, 9 << 20, 69632);
	lm_vmtrack_poll(&t, 1300 * MS, collect, NULL);
	log_state(&t, 1300 * MS, 200 * MS, 69632, 69632, 1);
	ASSERT_EQ(count_kind(LM_OBS_ROUND), 2, "two rounds, none made");
	ASSERT_EQ(nth(LM_OBS_START, 0)->start.flags & LM_START_SYNC_UNSEEN, 0, "not flagged");
	ASSERT_EQ(nth(LM_OBS_START, 0)->ts_ns, 203 * MS - 10000, "started at the initial sync");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.dirty_pages, 65536 + 4096, "round 1 = the full bitmaps");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.round, 2, "then round 2");
	/* completed: the stream closes, logging stays on: the hooks go */
	ASSERT_EQ(lm_vmtrack_wants_hooks(&t), 1, "migrating: hooks wanted");
	lm_vmtrack_finish(&t, 2000 * MS, LM_END_COMPLETED, collect, NULL);
	log_state(&t, 2100 * MS, 1300 * MS, 69632, 69632, 1);
	ASSERT_EQ(lm_vmtrack_wants_hooks(&t), 0, "ended, logging left on: no hooks");
}

/*
 * The hooks caught a burst of full bitmaps but no switch (they came on
 * between QEMU's logging switch and its initial sync, or the reading that
 * would have told came later): the burst is the start, not a late attach.
 */
static void test_full_bitmaps_without_switch(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	log_state(&t, 100 * MS, 0, 69632, 0, 0);
	get(&t, 150 * MS, 0, 65536, 65536, LM_GET_SIZE_FROM_KERNEL | LM_GET_MANUAL_PROTECT, 4000, 69632);
	get(&t, 151 * MS, 1, 4096, 4096, LM_GET_SIZE_FROM_KERNEL | LM_GET_MANUAL_PROTECT, 4000, 69632);
	get(&t, 1150 * MS, 0, 65536, 300, LM_GET_CLEARED_SINCE_LAST, 9 << 20, 69632);
	lm_vmtrack_poll(&t, 1300 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "one start");
	ASSERT_EQ(nth(LM_OBS_START, 0)->start.late, 0, "not late");
	ASSERT_EQ(nth(LM_OBS_START, 0)->ts_ns, 150 * MS - 10000, "started at the initial sync");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.round, 1, "round 1");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.dirty_pages, 65536 + 4096, "round 1 = the full bitmaps");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.tx_bytes, (9 << 20) - 4000, "round 2: bytes since the sync");
	/* a burst that is not full, with no switch seen: a late attach, as before */
	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	get(&t, 150 * MS, 0, 65536, 65535, LM_GET_SIZE_FROM_KERNEL, 0, 69632);
	get(&t, 151 * MS, 1, 4096, 4096, LM_GET_SIZE_FROM_KERNEL, 0, 69632);
	lm_vmtrack_poll(&t, 300 * MS, collect, NULL);
	ASSERT_EQ(nth(LM_OBS_START, 0)->start.late, 1, "one bit short of full: late");
}

/* Display refresh: only the small VGA slot is harvested, no migration. */
static void test_display_refresh_is_not_a_migration(void)
{
	struct lm_vmtrack t;
	int i;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	for (i = 0; i < 5; i++) {
		get(&t, (10 + i * 30) * MS, 1, 4096, 100, LM_GET_SIZE_FROM_KERNEL, 0, 69632);
		lm_vmtrack_poll(&t, (10 + i * 30 + 60) * MS, collect, NULL);
	}
	ASSERT_EQ(nout, 0, "no start, no rounds");
}

static void sock_event(struct lm_vmtrack *t, uint32_t kind, uint64_t ts, uint64_t sk, uint16_t family,
		       uint16_t role, uint64_t bytes, uint32_t oldstate, uint32_t newstate)
{
	struct lm_event e = { .kind = kind, .pid = PID, .ts_ns = ts };

	e.sock.sk = sk;
	e.sock.family = family;
	e.sock.role = role;
	e.sock.bytes = bytes;
	e.sock.last_send_ns = ts;
	e.sock.ino = sk + 1000;
	e.sock.oldstate = oldstate;
	e.sock.newstate = newstate;
	lm_vmtrack_event(t, &e, collect, NULL);
}

#define FIRST_SEND(t, ts, sk, fam, role) sock_event(t, LM_EV_SOCK_STATE, ts, sk, fam, role, 100, 0, 0)
#define BYTES(t, ts, sk, bytes) sock_event(t, LM_EV_SOCK_BYTES, ts, sk, 0, 0, bytes, 0, 0)
/* the tick after a round of byte counts: where they are judged */
#define TICK(t, ts) do { struct lm_vm_counters _c = {}; lm_vmtrack_tick(t, ts, &_c, collect, NULL); } while (0)
#define CLOSE(t, ts, sk, bytes) sock_event(t, LM_EV_SOCK_STATE, ts, sk, 0, 0, bytes, 1, 7)
#define AF_UNIX_ 1
#define AF_INET_ 2

/* The role decided for sk, or -1 if none was handed out. */
static int decision(struct lm_vmtrack *t, uint64_t sk)
{
	const struct lm_stream *s;
	int role = -1;

	while (lm_vmtrack_next_decision(t, &s))
		if (s->sk == sk)
			role = s->role;
	return role;
}

/* calc-dirty-rate: logging on, a sync, a sync a second later, logging off, no stream. */
static void test_dirty_rate_window_is_not_a_migration(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 1 * MS, 0, 64 << 20, 0);
	set_slot(&t, 100 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	get(&t, 101 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 0, 0);
	get(&t, 1101 * MS, 0, 16384, 2560, LM_GET_CLEARED_SINCE_LAST, 2000, 0);	/* QMP replies only */
	lm_vmtrack_poll(&t, 1200 * MS, collect, NULL);
	ASSERT_EQ(nout, 0, "nothing said before it is known");
	set_slot(&t, 1300 * MS, 0, 64 << 20, 0);
	ASSERT_EQ(nout, 1, "one record");
	ASSERT_EQ(count_kind(LM_OBS_DIRTY_RATE), 1, "a dirty-rate measurement");
	ASSERT_EQ(nth(LM_OBS_DIRTY_RATE, 0)->dirty_rate.dirty_pages, 2560, "its unique pages");
	ASSERT_EQ(nth(LM_OBS_DIRTY_RATE, 0)->dirty_rate.window_ns, 1000 * MS, "its window");
	ASSERT_EQ(nth(LM_OBS_DIRTY_RATE, 0)->dirty_rate.ram_bytes, 64 << 20, "memory logged");
	ASSERT_EQ(count_kind(LM_OBS_START) + count_kind(LM_OBS_END), 0, "no migration");

	/* the real migration after it: rounds from 1, bytes on its stream */
	set_slot(&t, 3000 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	get(&t, 3001 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 0, 0);
	get(&t, 6000 * MS, 0, 16384, 300, LM_GET_CLEARED_SINCE_LAST, 64 << 20, 0);
	lm_vmtrack_poll(&t, 6100 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "then one migration");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.round, 1, "numbered from 1");
}

/* Pipe transports (exec:): no stream lmtrace sees, yet a third sync says migration. */
static void test_third_sync_confirms_without_stream(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 100 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	get(&t, 101 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 0, 0);
	get(&t, 2000 * MS, 0, 16384, 300, LM_GET_CLEARED_SINCE_LAST, 0, 0);
	get(&t, 2500 * MS, 0, 16384, 30, LM_GET_CLEARED_SINCE_LAST, 0, 0);
	ASSERT_EQ(count_kind(LM_OBS_START), 0, "two syncs: not yet");
	lm_vmtrack_poll(&t, 2600 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "third sync: a migration");
	ASSERT_EQ(count_kind(LM_OBS_ROUND), 3, "all three rounds");
	ASSERT_TRUE(nth(LM_OBS_START, 0)->start.flags & LM_START_NO_STREAM, "said: no stream seen");
	set_slot(&t, 2700 * MS, 0, 64 << 20, 0);
	ASSERT_EQ(nth(LM_OBS_END, 0)->end.reason, LM_END_CANCELLED, "then cancelled");
}

/*
 * The byte counter read at a sync can come back below the one read at the
 * sync before: that round's bytes are unknown (0) and flagged, never 2^64
 * minus the difference, and the next round counts from the newest reading.
 * Two causes: per-CPU sums read at different moments (behind by a send;
 * the next round then counts that send twice), and bytes first counted for
 * a socket that turned out not to be the migration's, taken back (a real
 * drop; the next round is exact).
 */
static void test_counter_backwards(void)
{
	struct lm_vmtrack t;
	const struct lm_obs *r;
	uint64_t sum = 0;
	int i;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 100 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	get(&t, 101 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 1000, 0);
	get(&t, 1000 * MS, 0, 16384, 300, LM_GET_CLEARED_SINCE_LAST, 5001000, 0);
	get(&t, 1500 * MS, 0, 16384, 30, LM_GET_CLEARED_SINCE_LAST, 4998720, 0);	/* 2,280 behind */
	get(&t, 2000 * MS, 0, 16384, 20, LM_GET_CLEARED_SINCE_LAST, 6001000, 0);
	lm_vmtrack_poll(&t, 2100 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_ROUND), 4, "four rounds");
	r = nth(LM_OBS_ROUND, 2);
	ASSERT_EQ(r->round.tx_bytes, 0, "the round whose counter went back: bytes unknown, 0");
	ASSERT_TRUE(r->round.flags & LM_ROUND_COUNTER_BACK, "and flagged");
	ASSERT_EQ(nth(LM_OBS_ROUND, 1)->round.flags & LM_ROUND_COUNTER_BACK, 0, "the round before is not");
	ASSERT_EQ(nth(LM_OBS_ROUND, 3)->round.tx_bytes, 1002280, "the next counts from the newest reading");
	ASSERT_EQ(nth(LM_OBS_ROUND, 3)->round.flags & LM_ROUND_COUNTER_BACK, 0, "and is not flagged");
	for (i = 0; i < 4; i++)
		sum += nth(LM_OBS_ROUND, i)->round.tx_bytes;
	ASSERT_EQ(sum, 6001000 + 2280, "the rounds add up to what was sent, the send read late counted twice");

	/* 3 MB taken back (a socket that was not the migration's), then 2 MB sent */
	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 100 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	get(&t, 101 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 0, 0);
	get(&t, 1000 * MS, 0, 16384, 300, LM_GET_CLEARED_SINCE_LAST, 8000000, 0);
	get(&t, 1500 * MS, 0, 16384, 30, LM_GET_CLEARED_SINCE_LAST, 5000000, 0);
	get(&t, 2000 * MS, 0, 16384, 20, LM_GET_CLEARED_SINCE_LAST, 7000000, 0);
	lm_vmtrack_poll(&t, 2100 * MS, collect, NULL);
	ASSERT_TRUE(nth(LM_OBS_ROUND, 2)->round.flags & LM_ROUND_COUNTER_BACK, "a real drop: flagged");
	ASSERT_EQ(nth(LM_OBS_ROUND, 3)->round.tx_bytes, 2000000, "the round after it: exact, not 3 MB short");
}

/*
 * Dirty-ring mode, logging on, then four ring resets a second apart with
 * these ring totals and 16 MiB more sent before each; the records collected.
 */
static void ring_resets(const uint64_t ring[4])
{
	struct lm_vmtrack t;
	struct lm_event e = { .kind = LM_EV_RESET_RINGS, .pid = PID };
	int i;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_RING, 0);
	set_slot(&t, 100 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	for (i = 0; i < 4; i++) {
		e.ts_ns = (200 + i * 1000) * MS;
		e.get.tx_total = (uint64_t)i << 24;
		e.get.ring_total = ring[i];
		lm_vmtrack_event(&t, &e, collect, NULL);
	}
}

/* A ring count read behind the last sync's: that round's pages are a lower bound, its bytes known. */
static void test_ring_counter_backwards(void)
{
	static const uint64_t ring[] = { 0, 1000, 900, 2900 };

	ring_resets(ring);
	ASSERT_EQ(count_kind(LM_OBS_ROUND), 4, "one round per reset");
	ASSERT_EQ(nth(LM_OBS_ROUND, 2)->round.dirty_pages, 0, "the ring read behind: 0 pages");
	ASSERT_TRUE(nth(LM_OBS_ROUND, 2)->round.flags & LM_ROUND_PARTIAL, "a lower bound");
	ASSERT_EQ(nth(LM_OBS_ROUND, 2)->round.flags & LM_ROUND_COUNTER_BACK, 0, "its bytes are not unknown");
	ASSERT_EQ(nth(LM_OBS_ROUND, 2)->round.tx_bytes, 1 << 24, "they are counted");
	ASSERT_EQ(nth(LM_OBS_ROUND, 3)->round.dirty_pages, 2000, "the next from the newest reading");
}

/*
 * Which sockets are the migration's: QMP (sending before logging went on),
 * the migration connection (BPF's guess, then its bytes), a VNC client that
 * connects during the migration and leaves; only the migration's close ends it.
 */
static void test_migration_streams(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 1 * MS, 0, 64 << 20, 0);
	FIRST_SEND(&t, 50 * MS, 0x10, AF_UNIX_, LM_SOCK_UNDECIDED);		/* QMP greeting */
	set_slot(&t, 10000 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	ASSERT_EQ(decision(&t, 0x10), LM_SOCK_OTHER, "QMP: sending long before, not the migration's");
	FIRST_SEND(&t, 10001 * MS, 0x20, AF_INET_, LM_SOCK_MIGRATION);	/* BPF's guess */
	get(&t, 10002 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 4000, 0);
	BYTES(&t, 10500 * MS, 0x20, 16 << 20);
	TICK(&t, 10500 * MS);
	ASSERT_EQ(decision(&t, 0x20), LM_SOCK_MIGRATION, "the stream: confirmed by its bytes");
	get(&t, 12000 * MS, 0, 16384, 300, LM_GET_CLEARED_SINCE_LAST, 48 << 20, 0);
	FIRST_SEND(&t, 13000 * MS, 0x30, AF_INET_, LM_SOCK_UNDECIDED);		/* VNC client */
	BYTES(&t, 14000 * MS, 0x20, 80 << 20);
	BYTES(&t, 14000 * MS, 0x30, 200 << 10);
	TICK(&t, 14000 * MS);
	BYTES(&t, 17000 * MS, 0x30, 300 << 10);
	TICK(&t, 17000 * MS);
	ASSERT_EQ(decision(&t, 0x30), LM_SOCK_OTHER, "VNC: a small share of the busiest, not the migration's");
	CLOSE(&t, 17500 * MS, 0x30, 300 << 10);
	lm_vmtrack_poll(&t, 19000 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_END), 0, "VNC leaving ends nothing");
	get(&t, 19100 * MS, 0, 16384, 30, LM_GET_CLEARED_SINCE_LAST, 90 << 20, 0);
	get(&t, 19200 * MS, 0, 16384, 31, 0, 91 << 20, 0);
	CLOSE(&t, 19300 * MS, 0x20, 91 << 20);
	lm_vmtrack_poll(&t, 20000 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_END), 1, "the migration's close ends it");
	ASSERT_EQ(nth(LM_OBS_END, 0)->end.reason, LM_END_COMPLETED, "completed");
	ASSERT_EQ(nth(LM_OBS_END, 0)->ts_ns, 19300 * MS, "at the close");
}

/*
 * A VNC client already sending screens when lmtrace attached, a second
 * before the migration: seen first inside the pre-window, busy (1.2 MB a
 * screen), yet a fraction of the migration's stream: not the migration's,
 * and its leaving ends nothing.
 */
static void test_busy_display_before_start(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 1 * MS, 0, 256 << 20, 0);
	FIRST_SEND(&t, 9000 * MS, 0x60, AF_INET_, LM_SOCK_UNDECIDED);	/* VNC */
	BYTES(&t, 9500 * MS, 0x60, 1200000);
	TICK(&t, 9500 * MS);
	set_slot(&t, 10000 * MS, 0, 256 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	FIRST_SEND(&t, 10001 * MS, 0x61, AF_INET_, LM_SOCK_MIGRATION);		/* the stream */
	get(&t, 10002 * MS, 0, 65536, 65536, LM_GET_NOT_COUNTED, 0, 0);
	BYTES(&t, 11000 * MS, 0x60, 3600000);
	BYTES(&t, 11000 * MS, 0x61, 33 << 20);
	TICK(&t, 11000 * MS);
	ASSERT_EQ(decision(&t, 0x61), LM_SOCK_MIGRATION, "the stream");
	ASSERT_TRUE(!lm_streams_is_migration(&t.streams, 0x60), "the display is not, for now");
	BYTES(&t, 13500 * MS, 0x60, 9600000);
	BYTES(&t, 13500 * MS, 0x61, 115 << 20);
	TICK(&t, 13500 * MS);
	ASSERT_EQ(decision(&t, 0x60), LM_SOCK_OTHER, "the display: a fraction of the stream");
	get(&t, 18000 * MS, 0, 65536, 60000, LM_GET_CLEARED_SINCE_LAST, 256 << 20, 0);
	CLOSE(&t, 20000 * MS, 0x60, 20000000);
	lm_vmtrack_poll(&t, 21000 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_END), 0, "its leaving ends nothing");
}

/* multifd: the channels share the load; the main channel carries little. */
static void test_multifd_channels(void)
{
	struct lm_vmtrack t;
	uint64_t ch;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 100 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	for (ch = 0x40; ch <= 0x44; ch++)
		FIRST_SEND(&t, 101 * MS, ch, AF_INET_, LM_SOCK_UNDECIDED);	/* BPF missed the window */
	get(&t, 102 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 0, 0);
	BYTES(&t, 1000 * MS, 0x40, 40 << 10);			/* main channel */
	for (ch = 0x41; ch <= 0x44; ch++)
		BYTES(&t, 1000 * MS, ch, (700 + ch - 0x40) << 10);	/* under 1 MiB each */
	TICK(&t, 1000 * MS);
	ASSERT_EQ(decision(&t, 0x41), -1, "not decided before the confirm time");
	BYTES(&t, 3200 * MS, 0x40, 50 << 10);
	for (ch = 0x41; ch <= 0x44; ch++)
		BYTES(&t, 3200 * MS, ch, (900 + ch - 0x40) << 10);
	TICK(&t, 3200 * MS);
	ASSERT_EQ(decision(&t, 0x42), LM_SOCK_MIGRATION, "a channel: its share of the busiest");
	ASSERT_TRUE(lm_streams_is_migration(&t.streams, 0x44), "every channel");
	ASSERT_TRUE(!lm_streams_is_migration(&t.streams, 0x40), "the main channel carries too little");
}

/* KubeVirt: a UNIX socket; its close comes from the fd table (synthesised like TCP's). */
static void test_unix_stream(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 100 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	FIRST_SEND(&t, 101 * MS, 0x50, AF_UNIX_, LM_SOCK_MIGRATION);
	get(&t, 102 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 100, 0);
	BYTES(&t, 1000 * MS, 0x50, 32 << 20);
	TICK(&t, 1000 * MS);
	get(&t, 2100 * MS, 0, 16384, 30, LM_GET_CLEARED_SINCE_LAST, 64 << 20, 0);
	get(&t, 2200 * MS, 0, 16384, 31, 0, 65 << 20, 0);
	lm_vmtrack_poll(&t, 2300 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "started");
	CLOSE(&t, 2250 * MS, 0x50, 65 << 20);
	lm_vmtrack_poll(&t, 3000 * MS, collect, NULL);
	ASSERT_EQ(nth(LM_OBS_END, 0)->end.reason, LM_END_COMPLETED, "completed over UNIX");
}

/* Dirty-ring mode: ring resets are the syncs; they start migrations too. */
static void test_dirty_ring_starts(void)
{
	static const uint64_t ring[] = { 0, 1000, 2000, 3000 };

	ring_resets(ring);
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "ring resets start a migration");
	ASSERT_EQ(count_kind(LM_OBS_ROUND), 4, "one round per reset");
	ASSERT_EQ(nth(LM_OBS_ROUND, 2)->round.dirty_pages, 1000, "pages pushed between resets");
}

/* SMM's address space aliases RAM; slots removed and re-added mid-way are no cancel. */
static void test_smm_and_slot_churn(void)
{
	struct lm_vmtrack t;

	nout = 0;
	lm_vmtrack_init(&t, PID, LM_SRC_BITMAP, 0);
	set_slot(&t, 100 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	set_slot(&t, 100 * MS, 1, 16 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	set_slot(&t, 100 * MS, 1 << 16 | 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);	/* SMM alias */
	ASSERT_EQ(lm_vmtrack_logged_bytes(&t), 80 << 20, "address space 1 not counted again");
	get(&t, 101 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 0, 0);
	get(&t, 1000 * MS, 0, 16384, 300, LM_GET_CLEARED_SINCE_LAST, 8 << 20, 0);
	lm_vmtrack_poll(&t, 1100 * MS, collect, NULL);
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "started");
	set_slot(&t, 1200 * MS, 0, 0, 0);						/* removed */
	set_slot(&t, 1201 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);		/* and back */
	ASSERT_EQ(count_kind(LM_OBS_END), 0, "a slot removed and re-added is no cancel");
	set_slot(&t, 1300 * MS, 0, 64 << 20, 0);
	ASSERT_EQ(count_kind(LM_OBS_END), 1, "logging switched off is");
}

int main(void)
{
	test_initial_sync_unseen();
	test_full_bitmaps_without_switch();
	test_initial_sync_caught();
	test_qemu_like_migration();
	test_cancel_and_restart();
	test_late_attach();
	test_display_refresh_is_not_a_migration();
	test_dirty_rate_window_is_not_a_migration();
	test_third_sync_confirms_without_stream();
	test_counter_backwards();
	test_ring_counter_backwards();
	test_migration_streams();
	test_multifd_channels();
	test_busy_display_before_start();
	test_unix_stream();
	test_dirty_ring_starts();
	test_smm_and_slot_churn();
	return unit_done("test_vmtrack");
}

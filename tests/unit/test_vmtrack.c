// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * vmtrack's rules on made-up BPF events: migration start/end, rounds from
 * harvest bursts, manual-protect repeats, late attach, display-refresh
 * harvests that are not a migration.
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
	ASSERT_EQ(count_kind(LM_OBS_START), 1, "one start");
	ASSERT_EQ(nth(LM_OBS_START, 0)->start.ram_bytes, (256 + 16) << 20, "start ram = logged slots");
	ASSERT_EQ(nth(LM_OBS_START, 0)->start.late, 0, "not late");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.round, 1, "round 1");
	ASSERT_EQ(nth(LM_OBS_ROUND, 0)->round.dirty_pages, 65536 + 7, "round 1 pages");
	get(&t, 1103 * MS, 1, 4096, 3, LM_GET_CLEARED_SINCE_LAST, 5001000, 0);
	/* a 60 ms gap closes round 2 at the next poll */
	lm_vmtrack_poll(&t, 1170 * MS, collect, NULL);
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
	/* the migration socket closes; no cancel follows within the settle time */
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
	get(&t, 500 * MS, 0, 16384, 10, 0, 0, 0);
	set_slot(&t, 600 * MS, 0, 64 << 20, 0);		/* migrate_cancel */
	ASSERT_EQ(count_kind(LM_OBS_END), 1, "cancel ends it");
	ASSERT_EQ(nth(LM_OBS_END, 0)->end.reason, LM_END_CANCELLED, "reason cancelled");
	ASSERT_EQ(count_kind(LM_OBS_ROUND), 2, "open round flushed at the end");
	set_slot(&t, 700 * MS, 0, 64 << 20, LM_KVM_MEM_LOG_DIRTY_PAGES);
	get(&t, 702 * MS, 0, 16384, 16384, LM_GET_NOT_COUNTED, 0, 0);
	lm_vmtrack_poll(&t, 800 * MS, collect, NULL);
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

int main(void)
{
	test_qemu_like_migration();
	test_cancel_and_restart();
	test_late_attach();
	test_display_refresh_is_not_a_migration();
	return unit_done("test_vmtrack");
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * From one VMM's BPF events to observations. The rules (see
 * doc/host-behaviour.md, "What a migration looks like from the kernel"):
 *  - A migration runs while at least half of the VM's memory is dirty-logged
 *    (KVM's own page count, else the slots we know): QEMU turns logging on for
 *    every RAM slot at start and off on cancel, while the VGA slot alone is
 *    logged from VM creation (and harvested for display refresh). It starts
 *    with the first harvest burst after logging was switched on (a burst of
 *    full bitmaps, even if the switch was not seen); attached late, with a
 *    harvest burst that covers most of the VM's memory.
 *  - The hooks may be attached only once a reading of KVM's memslots
 *    (LM_EV_LOG_STATE, no hook needed) shows logging on: the switch and
 *    often the initial sync ran unseen. A burst of full bitmaps is that
 *    sync; else it is made up as round 1 from KVM's logged pages, at the
 *    middle of the two readings around the switch, and flagged.
 *  - A round is a burst of KVM_GET_DIRTY_LOG calls; the next round starts when
 *    a slot is read again or after a 50 ms gap (a gap rule alone would merge
 *    the final syncs, which come 1 ms apart).
 *  - In manual-protect mode GET does not clear: a slot harvested again with no
 *    CLEAR in between (QEMU's completion sync) has only pop(now) - pop(before)
 *    new pages.
 *  - Round 1 (first harvest after logging was enabled) is RAM size.
 *  - Not every dirty-logging session is a migration: QEMU's calc-dirty-rate
 *    switches logging on, syncs, syncs again after a window and switches it
 *    off, with no migration stream. So START and the first rounds are held
 *    until a migration stream carries data (streams.h), or a third sync
 *    comes (a stream lmtrace cannot see: exec:, a pipe), or lmtrace attached
 *    mid-way; a session that ends before is reported as a dirty-rate
 *    measurement.
 *  - Only the migration's own sockets can end it: one closing after it
 *    carried data means completed, unless logging goes off right after.
 *  - Memory in address space 1 (x86 SMM) aliases RAM: not counted twice.
 *  - Removing a slot (memory_size 0) is a memory-map change, not a cancel.
 */
#include <string.h>
#include "core/units.h"
#include "core/vmtrack.h"

#define TCP_ESTABLISHED	1
#define TCP_FIN_WAIT1	4
#define TCP_CLOSE	7
#define TCP_CLOSE_WAIT	8

void lm_vmtrack_init(struct lm_vmtrack *t, uint32_t pid, uint32_t source,
		     int64_t realtime_offset_ns)
{
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->page_size = LM_PAGE_SIZE_DEFAULT;
	t->source = source;
	t->realtime_offset_ns = realtime_offset_ns;
	lm_streams_init(&t->streams, 0);
}

void lm_vmtrack_fixed_sock_roles(struct lm_vmtrack *t)
{
	t->streams.fixed = 1;
}

static void obs_init(const struct lm_vmtrack *t, struct lm_obs *o, uint32_t kind, uint64_t mono_ns)
{
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->pid = t->pid;
	o->ts_ns = mono_ns + t->realtime_offset_ns;
}

static struct lm_track_slot *find_slot(struct lm_vmtrack *t, uint32_t slot, int create)
{
	uint32_t i;

	for (i = 0; i < t->nslots; i++)
		if (t->slots[i].slot == slot)
			return &t->slots[i];
	if (!create || t->nslots >= LM_MAX_SLOTS_PER_VM)
		return NULL;
	memset(&t->slots[t->nslots], 0, sizeof(t->slots[0]));
	t->slots[t->nslots].slot = slot;
	return &t->slots[t->nslots++];
}

static void drop_slot(struct lm_vmtrack *t, struct lm_track_slot *s)
{
	*s = t->slots[--t->nslots];
}

uint64_t lm_vmtrack_logged_bytes(const struct lm_vmtrack *t)
{
	uint64_t bytes = 0;
	uint32_t i;

	for (i = 0; i < t->nslots; i++)
		if ((t->slots[i].mem_flags & LM_KVM_MEM_LOG_DIRTY_PAGES) && LM_SLOT_AS(t->slots[i].slot) == 0)
			bytes += t->slots[i].npages * t->page_size;
	return bytes;
}

static uint64_t known_bytes(const struct lm_vmtrack *t)
{
	uint64_t bytes = 0;
	uint32_t i;

	for (i = 0; i < t->nslots; i++)
		if (LM_SLOT_AS(t->slots[i].slot) == 0)
			bytes += t->slots[i].npages * t->page_size;
	return bytes;
}

int lm_mostly_logged(uint64_t logged_pages, uint64_t all_pages)
{
	return logged_pages > 0 && logged_pages * 2 >= all_pages;
}

static int mostly_logged(const struct lm_vmtrack *t)
{
	uint64_t all = known_bytes(t) / t->page_size;

	return lm_mostly_logged(lm_vmtrack_logged_bytes(t) / t->page_size,
				t->vm_pages > all ? t->vm_pages : all);
}

static void reset_migration(struct lm_vmtrack *t)
{
	uint32_t i;

	t->migrating = 0;
	t->late = 0;
	t->start_pending_ns = 0;
	t->start_unseen = 0;
	t->round1_made = 0;
	t->round = 0;
	t->in_burst = 0;
	t->have_prev_round = 0;
	t->close_pending_ns = 0;
	t->confirmed = 0;
	t->nheld = 0;
	lm_streams_prune(&t->streams);
	for (i = 0; i < t->nslots; i++) {
		t->slots[i].have_last_pop = 0;
		t->slots[i].in_burst = 0;
	}
}

static void decide_streams(struct lm_vmtrack *t, uint64_t now_ns);

/* Out now if the session is a migration, else held until it is known. */
static void put(struct lm_vmtrack *t, const struct lm_obs *o, lm_emit_fn emit, void *ctx)
{
	if (t->confirmed)
		emit(ctx, o);
	else if (t->nheld < LM_TRACK_HELD_MAX)
		t->held[t->nheld++] = *o;
}

static void confirm(struct lm_vmtrack *t, lm_emit_fn emit, void *ctx)
{
	uint32_t i;

	if (t->confirmed || !t->migrating)
		return;
	t->confirmed = 1;
	for (i = 0; i < t->nheld; i++)
		emit(ctx, &t->held[i]);
	t->nheld = 0;
}

/* Bytes on the migration's streams since logging was switched on. */
static uint64_t stream_bytes(const struct lm_vmtrack *t)
{
	return t->burst_tx_total > t->start_tx_total ? t->burst_tx_total - t->start_tx_total : 0;
}

static void start_migration(struct lm_vmtrack *t, uint64_t ns, int late, uint32_t flags,
			    uint64_t ram_bytes, lm_emit_fn emit, void *ctx)
{
	struct lm_obs o;

	t->start_pending_ns = 0;
	t->migrating = 1;
	t->late = late;
	t->start_ns = ns;
	/* Attached mid-migration: at least the initial sync happened unseen. */
	t->round = late ? 1 : 0;
	obs_init(t, &o, LM_OBS_START, ns);
	o.start.ram_bytes = ram_bytes;
	o.start.late = late;
	o.start.flags = flags;
	t->confirmed = 0;
	t->nheld = 0;
	put(t, &o, emit, ctx);
	/* attached mid-way: too late to tell; it is the migration we came for */
	if (late)
		confirm(t, emit, ctx);
	/* the sockets' bytes so far tell which carry it (late: all are candidates) */
	decide_streams(t, ns);
}

/*
 * Logging came on while the hooks were detached, and no full bitmap (the
 * initial sync, QEMU's KVM_DIRTY_LOG_INITIALLY_SET) was seen since they
 * attached: that sync ran before. Round 1 is made from the pages KVM has
 * logged, at the middle of the two readings around the switch.
 */
static void start_with_unseen_sync(struct lm_vmtrack *t, lm_emit_fn emit, void *ctx)
{
	uint64_t logged = t->kvm_logged_pages * t->page_size, at;
	struct lm_obs o;

	at = t->start_pending_ns + (t->logon_before_ns - t->start_pending_ns) / 2;
	start_migration(t, at, 0, LM_START_SYNC_UNSEEN, logged, emit, ctx);
	t->round = 1;
	t->round1_made = 1;
	obs_init(t, &o, LM_OBS_ROUND, at);
	o.round.round = 1;
	o.round.flags = LM_ROUND_UNSEEN;
	o.round.dirty_pages = t->kvm_logged_pages;
	o.round.tx_total = t->start_tx_total;
	o.round.ram_bytes = logged;
	put(t, &o, emit, ctx);
	t->prev_round_ns = at;
	t->prev_tx_total = t->start_tx_total;
	t->prev_ring_total = 0;
	t->have_prev_round = 1;
}

/*
 * The initial sync came after round 1 was made for it (QEMU took longer
 * than a reading period between switching logging on and syncing): it is
 * round 1, not round 2. Held observations still say when it was.
 */
static int absorb_late_initial_sync(struct lm_vmtrack *t)
{
	uint32_t i;

	if (!t->round1_made || t->round != 1 || !t->burst_all_set)
		return 0;
	for (i = 0; i < t->nheld; i++)
		t->held[i].ts_ns = t->burst_first_ns + t->realtime_offset_ns;
	t->start_ns = t->prev_round_ns = t->burst_first_ns;
	t->prev_tx_total = t->burst_tx_total;
	t->round1_made = 0;
	return 1;
}

/*
 * A burst while no migration runs, covering most of memory: the migration
 * starts now that the burst told us every logged slot. A burst of full
 * bitmaps is its initial sync (KVM sets every bit when logging comes on),
 * caught whether or not the switch was (a guest does not dirty every page
 * of every logged slot within one round: QEMU's x86 firmware slot is
 * read-only). Any other burst with no switch seen means it was under way
 * before we came.
 */
static void start_from_burst(struct lm_vmtrack *t, lm_emit_fn emit, void *ctx)
{
	uint64_t logged = lm_vmtrack_logged_bytes(t);

	if (t->start_pending_ns && !t->start_unseen) {
		start_migration(t, t->start_pending_ns, 0, 0, logged, emit, ctx);
	} else if (t->burst_all_set) {
		if (!t->start_pending_ns)	/* its stream starts after this sync */
			t->start_tx_total = t->burst_tx_total;
		start_migration(t, t->burst_enter_ns, 0, 0, logged, emit, ctx);
	} else if (t->start_pending_ns) {
		start_with_unseen_sync(t, emit, ctx);
	} else {
		start_migration(t, t->burst_enter_ns, 1, 0, logged, emit, ctx);
	}
}

/* The ROUND observation of the burst that just closed. */
static void fill_round(const struct lm_vmtrack *t, struct lm_obs *o)
{
	int back = 0;

	obs_init(t, o, LM_OBS_ROUND, t->burst_first_ns);
	o->round.round = t->round;
	o->round.flags = t->burst_flags;
	/* A completion sync: every slot harvested again without a CLEAR. */
	if (t->manual_protect && t->burst_any_repeat && !t->burst_any_cleared && t->round > 1)
		o->round.flags |= LM_ROUND_FINAL;
	o->round.dirty_pages = t->burst_pages;
	/* events lost since the last round (the ring buffer was full): this one is incomplete */
	if (t->lost_round_pending)
		o->round.flags |= LM_ROUND_PARTIAL;
	if (t->have_prev_round)
		o->round.duration_ns = t->burst_first_ns - t->prev_round_ns;
	else if (!t->late)
		o->round.duration_ns = t->burst_first_ns - t->start_ns;
	else	/* its previous sync happened before we attached */
		o->round.flags |= LM_ROUND_LATE;
	o->round.tx_total = t->burst_tx_total;
	if (t->have_prev_round)
		o->round.tx_bytes = lm_counter_delta(t->burst_tx_total, t->prev_tx_total, &back);
	else if (!t->late)	/* round 1: since logging was switched on */
		o->round.tx_bytes = lm_counter_delta(t->burst_tx_total, t->start_tx_total, &back);
	o->round.ram_bytes = lm_vmtrack_logged_bytes(t);
	o->round.sync_ns = t->burst_last_ns - t->burst_enter_ns;
	if (back)
		o->round.flags |= LM_ROUND_COUNTER_BACK;
	back = 0;
	if (t->source == LM_SRC_RING && t->have_prev_round)
		o->round.dirty_pages = lm_counter_delta(t->burst_ring_total, t->prev_ring_total, &back);
	if (back)	/* the ring's count read behind: this round's is unknown, a lower bound (0) */
		o->round.flags |= LM_ROUND_PARTIAL;
}

/* A stream carried data, or a third sync came: calc-dirty-rate does neither. */
static void confirm_if_migration(struct lm_vmtrack *t, lm_emit_fn emit, void *ctx)
{
	if (stream_bytes(t) >= LM_STREAM_MIN_BYTES || lm_streams_confirmed(&t->streams)) {
		confirm(t, emit, ctx);
	} else if (t->round >= LM_TRACK_HELD_MAX) {
		/* a migration over something lmtrace cannot see: say so at its start */
		if (!t->confirmed && t->nheld && !stream_bytes(t))
			t->held[0].start.flags |= LM_START_NO_STREAM;
		confirm(t, emit, ctx);
	}
}

static void close_burst(struct lm_vmtrack *t, lm_emit_fn emit, void *ctx)
{
	struct lm_obs o;
	uint32_t i;

	if (!t->in_burst)
		return;
	t->in_burst = 0;
	for (i = 0; i < t->nslots; i++)
		t->slots[i].in_burst = 0;
	if (!t->migrating) {
		/* Harvests outside a migration, e.g. display refresh of VGA memory. */
		if (!mostly_logged(t))
			return;
		start_from_burst(t, emit, ctx);
	} else if (absorb_late_initial_sync(t)) {
		return;
	}
	t->round++;
	fill_round(t, &o);
	t->lost_round_pending = 0;
	confirm_if_migration(t, emit, ctx);
	put(t, &o, emit, ctx);
	t->prev_round_ns = t->burst_first_ns;
	/* the newest readings are the next round's base, even when smaller (lm_counter_delta) */
	t->prev_tx_total = t->burst_tx_total;
	t->prev_ring_total = t->burst_ring_total;
	t->have_prev_round = 1;
}

static void open_burst(struct lm_vmtrack *t, const struct lm_event *e)
{
	t->in_burst = 1;
	t->burst_first_ns = e->ts_ns;
	t->burst_enter_ns = e->ts_ns - e->get.call_ns;
	t->burst_last_ns = e->ts_ns + e->get.count_ns;
	t->burst_pages = 0;
	t->burst_flags = 0;
	t->burst_any_cleared = 0;
	t->burst_any_repeat = 0;
	t->burst_all_set = 1;
	t->burst_tx_total = e->get.tx_total;
	t->burst_ring_total = e->get.ring_total;
}

/* Unique pages this harvest adds, given what the slot returned before. */
static uint64_t new_pages(struct lm_vmtrack *t, struct lm_track_slot *s, const struct lm_event *e)
{
	uint64_t pop = e->get.dirty_pages, fresh = pop;

	if (e->flags & LM_GET_MANUAL_PROTECT)
		t->manual_protect = 1;
	if (e->flags & LM_GET_CLEARED_SINCE_LAST) {
		/* CLEARs happen only in manual-protect mode */
		t->manual_protect = 1;
		t->burst_any_cleared = 1;
	} else if (t->manual_protect && s->have_last_pop) {
		/* GET does not clear here: only what came on top is new. */
		fresh = pop > s->last_pop ? pop - s->last_pop : 0;
		if (s->last_pop)
			t->burst_any_repeat = 1;
	}
	if (e->flags & LM_GET_NOT_COUNTED)
		fresh = e->get.npages;
	s->last_pop = pop;
	s->have_last_pop = 1;
	return fresh;
}

static void on_get(struct lm_vmtrack *t, const struct lm_event *e, lm_emit_fn emit, void *ctx)
{
	struct lm_track_slot *s = find_slot(t, e->get.slot, 1);

	if (!s)
		return;
	if (e->get.vm_pages)
		t->vm_pages = e->get.vm_pages;
	if (e->flags & LM_GET_SIZE_FROM_KERNEL) {
		/* A slot configured before we attached: KVM told us its size. */
		s->npages = e->get.npages;
		s->mem_flags = e->get.mem_flags;
	}
	if (t->in_burst && (s->in_burst || e->ts_ns > t->burst_last_ns + LM_BURST_GAP_NS))
		close_burst(t, emit, ctx);
	if (!t->in_burst)
		open_burst(t, e);
	s->in_burst = 1;
	/* The event's time is taken before its bitmap is counted. */
	t->burst_last_ns = e->ts_ns + e->get.count_ns;
	if (e->flags & LM_GET_SAMPLED)
		t->burst_flags |= LM_ROUND_SAMPLED;
	if (e->flags & (LM_GET_SIZE_UNKNOWN | LM_GET_READ_FAILED))
		t->burst_flags |= LM_ROUND_PARTIAL;
	if (e->get.dirty_pages < e->get.npages || !e->get.npages)
		t->burst_all_set = 0;
	t->burst_pages += new_pages(t, s, e);
}

/* A dirty-logging window that turned out to be no migration: its second sync. */
static void report_dirty_rate(struct lm_vmtrack *t, lm_emit_fn emit, void *ctx)
{
	const struct lm_obs *second = &t->held[2];
	struct lm_obs o;

	obs_init(t, &o, LM_OBS_DIRTY_RATE, 0);
	o.ts_ns = second->ts_ns;
	o.dirty_rate.window_ns = second->round.duration_ns;
	o.dirty_rate.dirty_pages = second->round.dirty_pages;
	o.dirty_rate.ram_bytes = second->round.ram_bytes;
	o.dirty_rate.syncs = 2;
	emit(ctx, &o);
}

static void end_migration(struct lm_vmtrack *t, uint64_t ns, uint32_t reason,
			  lm_emit_fn emit, void *ctx)
{
	struct lm_obs o;

	close_burst(t, emit, ctx);
	/* START, round 1 and round 2 held, then logging off: calc-dirty-rate */
	if (!t->confirmed && reason == LM_END_CANCELLED && t->nheld == LM_TRACK_HELD_MAX) {
		report_dirty_rate(t, emit, ctx);
		reset_migration(t);
		return;
	}
	confirm(t, emit, ctx);
	/* QEMU leaves logging on after a completed migration: no hooks for it */
	t->log_session_done = t->kvm_logging;
	obs_init(t, &o, LM_OBS_END, ns);
	o.end.reason = reason;
	if (reason == LM_END_COMPLETED)
		o.end.tx_total = t->close_tx_total;
	emit(ctx, &o);
	reset_migration(t);
}

static void decide_streams(struct lm_vmtrack *t, uint64_t now_ns)
{
	int window = t->migrating ? (t->late ? 2 : 1) : t->start_pending_ns ? 1 : 0;
	uint64_t start = t->migrating ? t->start_ns : t->start_pending_ns;

	lm_streams_decide(&t->streams, now_ns, window, window == 2 ? 0 : start);
}

static void on_set(struct lm_vmtrack *t, const struct lm_event *e, lm_emit_fn emit, void *ctx)
{
	struct lm_track_slot *s;

	/* the harvest before it was made under the old memory map */
	close_burst(t, emit, ctx);
	s = find_slot(t, e->set.slot, e->set.memory_size != 0);
	if (s && e->set.memory_size == 0)
		drop_slot(t, s);
	else if (s) {
		s->npages = e->set.memory_size / t->page_size;
		s->mem_flags = e->set.mem_flags;
		s->have_last_pop = 0;
	}
	if (t->migrating) {
		/* logging switched off (not a slot removed) for most of memory */
		if (e->set.memory_size && !mostly_logged(t))
			end_migration(t, e->ts_ns, LM_END_CANCELLED, emit, ctx);
	} else if (!mostly_logged(t)) {
		t->start_pending_ns = 0;
	} else if (!t->start_pending_ns) {
		t->log_session_done = 0;
		t->start_pending_ns = e->ts_ns;
		t->start_tx_total = e->set.tx_total;
		/* sockets busy since well before are not the migration's */
		decide_streams(t, e->ts_ns);
	}
}

/*
 * KVM's dirty logging, read without hooks (LM_EV_LOG_STATE). A switch on
 * between two readings while the hooks were detached starts a migration
 * whose SET and maybe initial sync were not seen; a switch off with no
 * hooks to see it ends one.
 */
static void on_log_state(struct lm_vmtrack *t, const struct lm_event *e, lm_emit_fn emit,
			 void *ctx)
{
	uint64_t all = e->log.ram_pages > e->log.vm_pages ? e->log.ram_pages : e->log.vm_pages;
	int was = t->kvm_logging, known = t->kvm_state_known;

	t->kvm_state_known = 1;
	t->kvm_logging = lm_mostly_logged(e->log.logged_pages, all);
	if (!t->kvm_logging) {
		t->log_session_done = 0;
		if (t->migrating && !t->close_pending_ns && !e->log.hooks)
			end_migration(t, e->ts_ns, LM_END_CANCELLED, emit, ctx);
		else if (!t->migrating && !t->in_burst)
			t->start_pending_ns = 0;
		return;
	}
	t->kvm_logged_pages = e->log.logged_pages;
	/* a whole reading period with the hooks on and no initial sync: it ran before */
	if (t->start_unseen && !t->migrating && !t->in_burst && e->log.hooks) {
		start_with_unseen_sync(t, emit, ctx);
		return;
	}
	if (was || !known || e->log.hooks || t->migrating || t->start_pending_ns)
		return;
	t->log_session_done = 0;
	/* it came on after the previous reading: sockets are judged from then */
	t->start_pending_ns = e->log.prev_ns;
	t->start_unseen = 1;
	t->logon_before_ns = e->ts_ns;
	/* its stream starts after the switch: the counter as last sampled */
	t->start_tx_total = t->last_tick_tx_total;
	decide_streams(t, e->ts_ns);
}

uint64_t lm_vmtrack_unseen_logon_ns(const struct lm_vmtrack *t)
{
	return t->start_unseen && !t->migrating ? t->start_pending_ns : 0;
}

int lm_vmtrack_wants_hooks(const struct lm_vmtrack *t)
{
	return lm_vmtrack_busy(t) || (t->kvm_logging && !t->log_session_done);
}

static void on_sock(struct lm_vmtrack *t, const struct lm_event *e, lm_emit_fn emit, void *ctx)
{
	int closing = e->sock.newstate == TCP_FIN_WAIT1 || e->sock.newstate == TCP_CLOSE ||
		      e->sock.newstate == TCP_CLOSE_WAIT;
	struct lm_stream *s = lm_streams_update(&t->streams, e);

	/* byte counts come in one socket at a time: judged together at the tick */
	if (!s || e->kind == LM_EV_SOCK_BYTES)
		return;
	/* what it carried until now decides what its closing means */
	decide_streams(t, e->ts_ns);
	if (closing)
		s->closed = 1;
	if (t->migrating && lm_streams_confirmed(&t->streams))
		confirm(t, emit, ctx);
	/* The migration's connection closing after it carried data. */
	if (t->migrating && closing && e->sock.oldstate == TCP_ESTABLISHED && s->bytes > 0 &&
	    s->role == LM_SOCK_MIGRATION && t->round > 1 && !t->close_pending_ns) {
		t->close_pending_ns = e->ts_ns;
		t->close_tx_total = e->sock.tx_total;
	}
}

int lm_vmtrack_next_decision(struct lm_vmtrack *t, const struct lm_stream **s)
{
	return lm_streams_next_decision(&t->streams, s);
}

/* Dirty-ring mode: a ring reset is a sync, and can start a migration. */
static void on_reset_rings(struct lm_vmtrack *t, const struct lm_event *e, lm_emit_fn emit,
			   void *ctx)
{
	if (!t->migrating && !t->start_pending_ns)
		return;
	close_burst(t, emit, ctx);
	open_burst(t, e);
	t->burst_pages = 0;
	close_burst(t, emit, ctx);
}

typedef void event_fn(struct lm_vmtrack *t, const struct lm_event *e, lm_emit_fn emit, void *ctx);

/* Each event kind's handler; a kind without one is ignored. */
static event_fn *const on_event[] = {
	[LM_EV_GET_DIRTY_LOG] = on_get,
	[LM_EV_SET_MEMSLOT] = on_set,
	[LM_EV_RESET_RINGS] = on_reset_rings,
	[LM_EV_SOCK_STATE] = on_sock,
	[LM_EV_SOCK_BYTES] = on_sock,
	[LM_EV_LOG_STATE] = on_log_state,
};

void lm_vmtrack_event(struct lm_vmtrack *t, const struct lm_event *e,
		      lm_emit_fn emit, void *ctx)
{
	if (e->kind < sizeof(on_event) / sizeof(on_event[0]) && on_event[e->kind])
		on_event[e->kind](t, e, emit, ctx);
}

int lm_vmtrack_busy(const struct lm_vmtrack *t)
{
	return t->migrating || t->start_pending_ns || t->in_burst || t->close_pending_ns;
}

void lm_vmtrack_poll(struct lm_vmtrack *t, uint64_t now_ns, lm_emit_fn emit, void *ctx)
{
	if (t->in_burst && now_ns > t->burst_last_ns + LM_BURST_GAP_NS)
		close_burst(t, emit, ctx);
	if (t->close_pending_ns && now_ns - t->close_pending_ns > LM_END_SETTLE_NS)
		end_migration(t, t->close_pending_ns, LM_END_COMPLETED, emit, ctx);
}

void lm_vmtrack_tick(struct lm_vmtrack *t, uint64_t now_ns, const struct lm_vm_counters *sum,
		     lm_emit_fn emit, void *ctx)
{
	struct lm_obs o;

	/* every socket's bytes are in (the caller sends them first): judge them together */
	decide_streams(t, now_ns);
	if (t->migrating && lm_streams_confirmed(&t->streams))
		confirm(t, emit, ctx);
	/* Held back until the end is settled: it will carry the earlier close time. */
	if (t->close_pending_ns)
		return;

	if (sum->clear_calls)
		t->manual_protect = 1;
	obs_init(t, &o, LM_OBS_TICK, now_ns);
	o.tick.interval_ns = t->last_tick_ns ? now_ns - t->last_tick_ns : 0;
	o.tick.tx_total = sum->tx_bytes;
	o.tick.acked_total = sum->acked_bytes;
	o.tick.dirty_events_total = t->source == LM_SRC_RING ? sum->ring_pushes : sum->dirty_events;
	o.tick.rounds = t->round;
	o.tick.source = t->source;
	o.tick.srtt_us = (uint32_t)sum->last_srtt_us;
	o.tick.cwnd = (uint32_t)sum->last_cwnd;
	/* events of this VM were lost: the round they belonged to is incomplete */
	if (sum->lost_events > t->lost_events && t->migrating)
		t->lost_round_pending = 1;
	t->lost_events = sum->lost_events;
	o.tick.lost_events_total = sum->lost_events;
	t->last_tick_ns = now_ns;
	t->last_tick_tx_total = sum->tx_bytes;
	emit(ctx, &o);
}

void lm_vmtrack_finish(struct lm_vmtrack *t, uint64_t now_ns, uint32_t reason,
		       lm_emit_fn emit, void *ctx)
{
	if (t->close_pending_ns)
		end_migration(t, t->close_pending_ns, LM_END_COMPLETED, emit, ctx);
	else if (t->migrating)
		end_migration(t, now_ns, reason, emit, ctx);
}

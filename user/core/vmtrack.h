/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Per-VM tracking: turns the BPF events of one VMM (memslot changes, dirty-log
 * harvests, socket events) and its counter snapshots into observations —
 * migration start/end, one record per sync round, periodic ticks.
 *
 * Pure: no BPF, no clocks (times come with the events and ticks), so the
 * round logic is unit-tested with made-up events.
 */
#ifndef LM_VMTRACK_H
#define LM_VMTRACK_H

#include <stdint.h>
#include "lmtrace.h"
#include "core/obs.h"
#include "core/streams.h"

typedef void (*lm_emit_fn)(void *ctx, const struct lm_obs *o);

/* LM_BURST_GAP_NS (lmtrace.h): a harvest burst ends when a slot is read again, or after it. */
/*
 * A migration socket closing ends a migration as completed unless dirty
 * logging is switched off (a cancel) within this delay.
 */
#define LM_END_SETTLE_NS	(500ull * 1000 * 1000)

struct lm_track_slot {
	uint32_t slot;		/* as_id << 16 | id */
	uint32_t mem_flags;
	uint64_t npages;
	uint64_t last_pop;	/* set bits at its previous harvest */
	int have_last_pop;
	int in_burst;
};

/*
 * Observations of a dirty-logging session held back until it is known to be
 * a migration (START, round 1 and, without a stream, round 2).
 */
#define LM_TRACK_HELD_MAX	3

struct lm_vmtrack {
	uint32_t pid;
	uint32_t page_size;
	int64_t realtime_offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint32_t source;		/* enum lm_dirty_source */
	struct lm_track_slot slots[LM_MAX_SLOTS_PER_VM];
	uint32_t nslots;
	int manual_protect;		/* a CLEAR was seen: GET does not clear */

	uint64_t vm_pages;		/* pages in all memslots, as KVM counts them */

	int migrating;
	int late;			/* started before lmtrace attached */
	uint64_t start_pending_ns;	/* logging switched on, first harvest not yet seen */
	uint64_t start_tx_total;	/* bytes counter when logging was switched on */
	uint64_t start_ns;
	uint32_t round;			/* rounds of this migration */
	/* logging came on while the hooks were detached, between start_pending_ns
	 * (the reading before) and this one */
	int start_unseen;
	uint64_t logon_before_ns;
	int round1_made;		/* round 1 was made for a sync not seen */

	/* dirty logging as KVM has it (LM_EV_LOG_STATE), read without hooks */
	int kvm_state_known, kvm_logging;
	uint64_t kvm_logged_pages;
	/* this logging session's migration ended (completed: QEMU leaves logging on) */
	int log_session_done;

	/* the burst being collected */
	int in_burst;
	uint64_t burst_first_ns, burst_last_ns, burst_enter_ns;
	uint64_t burst_pages, burst_tx_total, burst_ring_total;
	uint32_t burst_flags;
	int burst_any_cleared, burst_any_repeat;
	int burst_all_set;		/* every harvest returned a full bitmap */

	/* the previous round */
	uint64_t prev_round_ns, prev_tx_total, prev_ring_total;
	int have_prev_round;

	/* end of a completed migration, pending confirmation */
	uint64_t close_pending_ns;
	uint64_t close_tx_total;	/* the VM's migration bytes when the stream closed */

	/* ticks */
	uint64_t last_tick_ns;
	uint64_t last_tick_tx_total;
	uint64_t lost_events;		/* as of the last tick */
	int lost_round_pending;		/* some were lost since the last round */

	/* which sockets carry the migration */
	struct lm_streams streams;
	/* a dirty-logging session not yet known to be a migration */
	int confirmed;
	struct lm_obs held[LM_TRACK_HELD_MAX];
	uint32_t nheld;
};

void lm_vmtrack_init(struct lm_vmtrack *t, uint32_t pid, uint32_t source,
		     int64_t realtime_offset_ns);
void lm_vmtrack_event(struct lm_vmtrack *t, const struct lm_event *e,
		      lm_emit_fn emit, void *ctx);
/* 1 while something waits on time passing (a burst, an end to confirm, a start): poll often. */
int lm_vmtrack_busy(const struct lm_vmtrack *t);
/* Time passes: close an idle burst, confirm a completed migration. */
void lm_vmtrack_poll(struct lm_vmtrack *t, uint64_t now_ns, lm_emit_fn emit, void *ctx);
/* Periodic sample from the summed counters, after the sockets' LM_EV_SOCK_BYTES of the same time. */
void lm_vmtrack_tick(struct lm_vmtrack *t, uint64_t now_ns, const struct lm_vm_counters *sum,
		     lm_emit_fn emit, void *ctx);
/* The process is gone or tracing stops: flush and end an open migration. */
void lm_vmtrack_finish(struct lm_vmtrack *t, uint64_t now_ns, uint32_t reason,
		       lm_emit_fn emit, void *ctx);
/* The next decision about a socket's role to hand to BPF; 0 when none is left. */
int lm_vmtrack_next_decision(struct lm_vmtrack *t, const struct lm_stream **s);
/* --port given: BPF decides which sockets are the migration's. */
void lm_vmtrack_fixed_sock_roles(struct lm_vmtrack *t);
/*
 * 1 while the dirty-log hooks are needed for this VM: KVM has logging on for
 * most of its memory and that session's migration has not ended, or its
 * state has not been read yet.
 */
int lm_vmtrack_wants_hooks(const struct lm_vmtrack *t);
/*
 * Logging came on unseen by the hooks and the migration's start is pending:
 * the reading before the switch (it came on after it), else 0.
 */
uint64_t lm_vmtrack_unseen_logon_ns(const struct lm_vmtrack *t);
/* The rule for "a migration's logging": on for at least half of the VM's pages. */
int lm_mostly_logged(uint64_t logged_pages, uint64_t all_pages);
/* Bytes of guest memory under dirty logging (address space 0: SMM's aliases it). */
uint64_t lm_vmtrack_logged_bytes(const struct lm_vmtrack *t);

#endif /* LM_VMTRACK_H */

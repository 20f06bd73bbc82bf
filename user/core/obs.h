/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Observations: everything the estimator consumes, as plain timestamped
 * records. The live tracer produces them from BPF events; a recording stores
 * exactly these; replay feeds them back. Fixed-width fields so a recording is
 * portable (little-endian on disk, see record/record_codec.c).
 */
#ifndef LM_OBS_H
#define LM_OBS_H

#include <stdint.h>

enum lm_obs_kind {
	LM_OBS_START = 1,	/* migration started (dirty logging enabled) or first seen */
	LM_OBS_ROUND = 2,	/* one dirty-bitmap sync round completed */
	LM_OBS_TICK = 3,	/* periodic sample (every -i interval) */
	LM_OBS_END = 4,		/* migration ended: cancelled, completed or process gone */
	LM_OBS_PARAMS = 5,	/* migration parameters (command line or QMP) */
	LM_OBS_DIRTY_RATE = 6,	/* a dirty-logging window that was no migration (calc-dirty-rate) */
	LM_OBS_ACT_CONFIG = 7,	/* --act: the policies and bounds lmtrace may act on this VM with */
	LM_OBS_ACTION = 8,	/* what became of an action the policy decided (QEMU's reply) */
	LM_OBS_HEAD_START = 9,	/* an `lmtrace check` of this VM: the next migration starts from it */
};

enum lm_end_reason {
	LM_END_UNKNOWN = 0,
	LM_END_CANCELLED = 1,	/* dirty logging turned off */
	LM_END_COMPLETED = 2,	/* syncs stopped and the migration socket closed */
	LM_END_PROC_EXIT = 3,	/* the traced process exited */
	LM_END_TRACE_STOP = 4,	/* lmtrace stopped (Ctrl-C, -d) */
};

/* Dirty-page source in use (the best one that attached). */
enum lm_dirty_source {
	LM_SRC_BITMAP = 0,	/* popcount of KVM_GET_DIRTY_LOG bitmaps, per round */
	LM_SRC_RING = 1,	/* kvm:kvm_dirty_ring_push */
	LM_SRC_FENTRY = 2,	/* bitmap rounds + fentry mark_page_dirty_in_slot inside rounds */
	LM_SRC_KPROBE = 3,	/* bitmap rounds + kprobe mark_page_dirty_in_slot inside rounds */
};

struct lm_obs_start {
	uint64_t ram_bytes;	/* sum of dirty-logged memslots, 0 if unknown */
	uint32_t late;		/* 1 if lmtrace attached after the migration began */
	uint32_t flags;		/* LM_START_* */
};
/* Three syncs and no stream seen (exec:, a pipe): bytes, rates and the end are unknown. */
#define LM_START_NO_STREAM	(1u << 0)
/*
 * Dirty logging came on while the dirty-log hooks were detached and the
 * initial sync ran before they attached: the start is the middle of the two
 * readings of the VM's state around it (known to half the reading period),
 * and round 1 is made from what KVM says is logged.
 */
#define LM_START_SYNC_UNSEEN	(1u << 1)

struct lm_obs_round {
	uint32_t round;		/* 1-based; round 1 is the initial (all-RAM) sync */
	uint32_t flags;		/* LM_ROUND_* */
	uint64_t dirty_pages;	/* unique pages dirtied since the previous sync */
	uint64_t duration_ns;	/* time since the previous sync (0 for round 1) */
	uint64_t tx_bytes;	/* bytes sent on the migration connections during the round */
	uint64_t tx_total;	/* cumulative migration bytes at the sync */
	uint64_t ram_bytes;	/* guest RAM covered by dirty logging at the sync */
	uint64_t sync_ns;	/* time the sync burst took inside the VMM */
};
#define LM_ROUND_SAMPLED	(1u << 0) /* some bitmap was sampled, dirty_pages is scaled */
#define LM_ROUND_PARTIAL	(1u << 1) /* some slot size unknown: dirty_pages is a lower bound */
#define LM_ROUND_FINAL		(1u << 2) /* completion sync (repeat, VM stopped) */
#define LM_ROUND_LATE		(1u << 3) /* began before lmtrace attached: duration and bytes unknown (0) */
#define LM_ROUND_UNSEEN		(1u << 4) /* initial sync run before the hooks attached: made from KVM's logged pages */
/* the byte counter read smaller than at the previous sync: tx_bytes unknown (0) */
#define LM_ROUND_COUNTER_BACK	(1u << 5)

struct lm_obs_tick {
	uint64_t interval_ns;	/* since the previous tick */
	uint64_t tx_total;	/* cumulative migration bytes */
	uint64_t acked_total;	/* cumulative acked bytes (tcp_probe), 0 if unavailable */
	uint64_t dirty_events_total; /* cumulative continuous-source dirty events, 0 if none */
	uint32_t rounds;	/* rounds so far */
	uint32_t source;	/* enum lm_dirty_source */
	uint32_t srtt_us;
	uint32_t cwnd;
	uint64_t lost_events_total;	/* this VM's events lost (ring buffer full), cumulative */
};

struct lm_obs_end {
	uint32_t reason;	/* enum lm_end_reason */
	uint32_t pad;
	uint64_t tx_total;	/* cumulative migration bytes at the end, 0 if not known */
};

struct lm_obs_params {
	uint64_t downtime_limit_ms;	/* QEMU default 300 */
	uint64_t max_bandwidth;		/* bytes/s, 0 = unknown/unlimited */
	uint64_t ram_bytes;		/* 0 = unknown */
	uint32_t throttle_pct;		/* current vCPU throttle (auto-converge), 0 = none */
	uint32_t page_size;		/* 4096 */
	uint32_t qemu_status;		/* enum lm_qemu_status (query-migrate's status), 0 = unknown */
	uint32_t pad;
};

/* query-migrate's status, as far as lmtrace cares (QMP only). */
enum lm_qemu_status {
	LM_QEMU_UNKNOWN = 0,
	LM_QEMU_NONE = 1,		/* no migration yet */
	LM_QEMU_SETUP = 2,
	LM_QEMU_ACTIVE = 3,		/* pre-copy */
	LM_QEMU_POSTCOPY = 4,		/* postcopy-active (and -paused, -recover) */
	LM_QEMU_STOPPING = 5,		/* pre-switchover, device: the VM is stopped */
	LM_QEMU_COMPLETED = 6,
	LM_QEMU_FAILED = 7,
	LM_QEMU_CANCELLED = 8,		/* cancelling, cancelled */
};

/*
 * Dirty logging switched on, synced, synced again after a window, switched
 * off, and no migration stream: QEMU's calc-dirty-rate (dirty-bitmap mode),
 * as virsh domdirtyrate-calc and KubeVirt's probe run it. The second sync's
 * bitmap is exactly the unique pages dirtied in the window.
 */
struct lm_obs_dirty_rate {
	uint64_t window_ns;	/* first sync to the second */
	uint64_t dirty_pages;	/* unique pages dirtied in the window */
	uint64_t ram_bytes;	/* guest memory under dirty logging */
	uint32_t syncs;		/* syncs seen (2) */
	uint32_t pad;
};

/*
 * --act's settings for one VM, as an observation so that a recording
 * carries them and replay decides exactly as live did.
 */
struct lm_obs_act_config {
	uint32_t policies;		/* LM_ACT_P_* */
	uint32_t apply;			/* 0: dry run (decide, record, write nothing) */
	uint32_t max_throttle_pct;	/* --max-throttle */
	uint32_t max_downtime_ms;	/* --max-downtime, 0 = none given */
	uint64_t give_up_after_ms;	/* --give-up-after, 0 = none given */
	uint32_t identified;		/* 1: the QMP socket's server is this pid */
	uint32_t pad;
};
#define LM_ACT_P_THROTTLE	(1u << 0)
#define LM_ACT_P_DOWNTIME	(1u << 1)
#define LM_ACT_P_POSTCOPY	(1u << 2)
#define LM_ACT_P_CANCEL		(1u << 3)

/* What the policy decides (act_policy.h); LM_ACT_NONE is no decision. */
enum lm_act_kind {
	LM_ACT_NONE = 0,
	LM_ACT_THROTTLE = 1,	/* hold QEMU's vCPU throttle at value % */
	LM_ACT_DOWNTIME = 2,	/* downtime-limit = value ms */
	LM_ACT_POSTCOPY = 3,	/* migrate-start-postcopy */
	LM_ACT_CANCEL = 4,	/* migrate_cancel */
	LM_ACT_RELEASE = 5,	/* the migration ended: restore what lmtrace changed */
};

/* The outcome of one decided action, fed back by the tracer (or recorded). */
struct lm_obs_action {
	uint32_t action;	/* enum lm_act_kind */
	uint32_t outcome;	/* enum lm_act_outcome */
	uint32_t value;		/* throttle %, downtime-limit ms; 0 otherwise */
	uint32_t round;		/* the sync round it was decided at */
	int32_t error;		/* 0, or -errno of the QMP command (-EREMOTEIO: QEMU said no) */
	uint32_t qemu_throttle_pct;	/* QEMU's max-cpu-throttle after it (throttle, release) */
	uint32_t qemu_downtime_ms;	/* QEMU's downtime-limit after it (downtime, release) */
	uint32_t pad;
};
enum lm_act_outcome {
	LM_ACT_DRY_RUN = 0,	/* decided, not written (no --apply) */
	LM_ACT_APPLIED = 1,	/* QEMU accepted every command */
	LM_ACT_FAILED = 2,	/* a command failed (error says which way) */
	LM_ACT_REFUSED = 3,	/* not sent: QEMU cannot do it here (capability off, old QEMU) */
	LM_ACT_UNKNOWN = 4,	/* sent, no answer in time: QEMU may have carried it out */
};

/*
 * An `lmtrace check` of the VM (ts_ns is when it was made): its windows give
 * the live estimator a verdict from the start of a migration that begins
 * within max_age_s of it, until the migration's own rounds take over.
 */
#define LM_HEAD_START_WINDOWS	4
struct lm_obs_head_start {
	uint64_t ram_bytes;
	uint64_t resident_bytes;	/* RAM the guest has touched; 0 unknown */
	uint32_t nwin;
	uint32_t max_age_s;
	struct {
		uint32_t window_ms;	/* a calc-dirty-rate window */
		uint32_t pages;		/* unique pages dirtied in it */
	} win[LM_HEAD_START_WINDOWS];
};

struct lm_obs {
	uint32_t kind;		/* enum lm_obs_kind */
	uint32_t pid;		/* VMM process */
	uint64_t ts_ns;		/* Unix time, ns (CLOCK_REALTIME at the event) */
	union {
		struct lm_obs_start start;
		struct lm_obs_round round;
		struct lm_obs_tick tick;
		struct lm_obs_end end;
		struct lm_obs_params params;
		struct lm_obs_dirty_rate dirty_rate;
		struct lm_obs_act_config act_config;
		struct lm_obs_action action;
		struct lm_obs_head_start head_start;
	};
};
_Static_assert(sizeof(struct lm_obs) == 72, "lm_obs layout");

#endif /* LM_OBS_H */

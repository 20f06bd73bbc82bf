// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The estimator's intake (est_internal.h): each observation becomes state.
 * The guest clock (wall time x (1 - throttle)), the U(T) points of the
 * rounds and of a continuous dirty source, the link rate from the rounds
 * and the ticks, what a sync leaves to send, the completion sync and the
 * kernel's signs of a postcopy switch.
 */
#include <math.h>
#include <string.h>
#include "core/est_internal.h"
#include "core/model.h"
#include "core/units.h"

/* Bytes sent between the last iterative sync and the completion sync: "none". */
#define STOP_SENT_MAX		(64 * LM_KiB)
/* Shorter gaps between that sync and the completion sync are QEMU's own work (~0.5 ms here). */
#define STOP_GAP_MIN_S		0.002
/* Floor of unique pages per counted dirty event: one odd round must not scale them to nothing. */
#define EVENTS_UNIQUENESS_MIN	0.05
/* Weight of the newest tick in the tick-rate average: one lumpy tick moves it only halfway. */
#define TICK_RATE_WEIGHT	0.5
/*
 * Postcopy, from the kernel: after its switch sync QEMU syncs no more and
 * sends the rest of RAM with no bandwidth cap (max-postcopy-bandwidth is
 * unlimited): measured 400-560 MB/s after 32 MiB/s of pre-copy. Pre-copy's
 * own stop phase sends at most about a threshold uncapped. So: since the
 * last sync, more than POSTCOPY_THRESHOLDS thresholds sent, faster than
 * POSTCOPY_RATE_FACTOR x the pre-copy rate (the cap, or the rate of the
 * round that ended at that sync). Where pre-copy already ran at the link's
 * speed: more than POSTCOPY_PENDING_FACTOR x what was pending at that sync
 * plus POSTCOPY_MARGIN (pre-copy syncs again before it sent what was pending).
 */
#define POSTCOPY_RATE_FACTOR	2.0
#define POSTCOPY_THRESHOLDS	4.0
#define POSTCOPY_PENDING_FACTOR	2.0
#define POSTCOPY_MARGIN		(32 * LM_MiB)
/* Rates within this fraction of each other (or of the cap) are the same rate. */
#define RATE_STEADY		0.15
/* A round shorter than half a rate-limiter window sent next to nothing: it measures no link. */
#define RATE_ROUND_MIN_S	(LM_QEMU_QUANTUM_FREE_S / 2)
/* Rounds averaged for the link rate cover at least this long (a 100 ms round is one lumpy window). */
#define RATE_SPAN_S		1.0
/*
 * A bulk pass that sent less than this share of RAM was mostly zero pages:
 * scanning, not the link, set its pace, so its rate is no link rate.
 */
#define BULK_ZERO_SHARE		0.5

double rel_s(struct lm_estimator *e, uint64_t ts_ns)
{
	if (!e->have_base) {
		e->base_ts_ns = ts_ns;
		e->have_base = 1;
	}
	if (ts_ns < e->base_ts_ns)
		return 0;
	return (double)(ts_ns - e->base_ts_ns) / 1e9;
}

/* Guest seconds per wall second under the current throttle. */
double tscale_now(const struct lm_estimator *e)
{
	return 1 - e->throttle_pct_now / 100.0;
}

void advance_clock(struct lm_estimator *e, double now)
{
	if (now > e->last_ts_s) {
		e->guest_s += (now - e->last_ts_s) * tscale_now(e);
		e->last_ts_s = now;
	}
}

static void push_point(struct lm_estimator *e, double tau, double wall, double bytes, uint32_t round,
		       uint32_t from_ticks)
{
	struct lm_curve_point *p = &e->pts[e->npts % LM_CURVE_MAX_POINTS];

	p->tau_s = tau;
	p->wall_s = wall;
	p->bytes = bytes;
	p->round = round;
	p->from_ticks = from_ticks;
	e->npts++;
}

/*
 * In-round samples of a continuous source all measure windows that start at
 * the sync: good for an early warning inside the round, but a burst right
 * after the sync looks like a working set. Once the round is measured as a
 * whole they go.
 */
static void drop_tick_points(struct lm_estimator *e)
{
	struct lm_curve_point keep[LM_CURVE_MAX_POINTS];
	uint32_t i, k = 0, first = e->npts > LM_CURVE_MAX_POINTS ? e->npts - LM_CURVE_MAX_POINTS : 0;

	for (i = first; i < e->npts; i++)
		if (!e->pts[i % LM_CURVE_MAX_POINTS].from_ticks)
			keep[k++] = e->pts[i % LM_CURVE_MAX_POINTS];
	memset(e->pts, 0, sizeof(e->pts));
	memcpy(e->pts, keep, k * sizeof(keep[0]));
	e->npts = k;
}

/* The last sync is now: what is sent and run from here belongs to the next round. */
static void mark_sync(struct lm_estimator *e, double now)
{
	e->sync_ts_s = now;
	e->sync_tx = e->tx_total;
	e->sync_guest_s = e->guest_s;
}

void reset_migration(struct lm_estimator *e, double now)
{
	e->npts = 0;
	memset(e->pts, 0, sizeof(e->pts));
	e->nrounds = 0;
	e->last_round = 0;
	e->start_ts_s = now;
	e->tx_total_at_start = e->tx_total;
	mark_sync(e, now);
	e->pending_at_sync = (double)e->ram_bytes;
	e->last_round_dirty = 0;
	e->last_round_wall_s = 0;
	e->last_round_tscale = 1;
	e->last_round_rate_Bps = 0;
	e->last_round_raw_Bps = 0;
	e->nrate = 0;
	lm_evidence_reset(&e->ev);
	e->firm_given = 0;
	e->params_untested = 0;
	e->nc_rounds = e->conv_rounds = 0;
	e->bulk_s = 0;
	e->post_bulk_rounds = 0;
	e->events_at_sync = e->events_now;
	e->events_uniqueness = 1;
	e->cont_fail_ticks = 0;
	e->final_ts_s = -1;
	e->stop_ts_s = -1;
	e->final_pending = -1;
	e->migrating = 1;
	e->phase = LM_PHASE_BULK;
	e->cur.measured_downtime_ms = -1;
	e->postcopy_ts_s = -1;
	e->postcopy_end_s = -1;
	e->postcopy_by_qmp = 0;
}

/*
 * A round's bytes and length, for the link rate: the rate is the bytes of
 * the last rounds over their length, the newest first, until they cover
 * RATE_SPAN_S (short rounds are one or two rate-limiter windows each, too
 * lumpy alone). A bulk pass of mostly zero pages is left out: the link
 * was not the limit. If it is all there is, it stands until a tick or the
 * cap says better.
 */
static void push_rate(struct lm_estimator *e, double tx, double wall, int bulk)
{
	double sum_tx = 0, sum_wall = 0;
	uint32_t i;

	/* two syncs in a row (nothing left to send, or QEMU's completion sync): no link in it */
	if (wall < RATE_ROUND_MIN_S)
		return;
	e->last_round_raw_Bps = tx / wall;
	if (bulk && e->ram_bytes && tx < BULK_ZERO_SHARE * (double)e->ram_bytes) {
		if (!e->nrate && !e->have_tick_rate && !(e->cfg.max_bandwidth_Bps > 0))
			e->last_round_rate_Bps = tx / wall;
		return;
	}
	e->rate_tx[e->nrate % LM_EST_RATE_ROUNDS] = tx;
	e->rate_wall[e->nrate % LM_EST_RATE_ROUNDS] = wall;
	e->nrate++;
	for (i = 0; i < e->nrate && i < LM_EST_RATE_ROUNDS && sum_wall < RATE_SPAN_S; i++) {
		uint32_t k = (e->nrate - 1 - i) % LM_EST_RATE_ROUNDS;

		sum_tx += e->rate_tx[k];
		sum_wall += e->rate_wall[k];
	}
	e->last_round_rate_Bps = sum_tx / sum_wall;
}

/*
 * The transfer rate for predictions. Ticks are short and lumpy (the rate
 * limiter sends in 100 ms bursts): they only win when they say the rate
 * really moved (a drop); otherwise the last round's average holds, and a
 * migration running at its cap averages exactly the cap.
 */
static double rate_ticks(const struct lm_estimator *e, int use_ticks)
{
	double cap = e->cfg.max_bandwidth_Bps, round = e->last_round_rate_Bps, r = 0;

	if (e->have_tick_rate && e->tx_rate_ewma > 0 && (use_ticks || !(round > 0)))
		r = e->tx_rate_ewma;
	if (round > 0 && (!(r > 0) || fabs(r - round) < RATE_STEADY * round))
		r = round;
	if (!(r > 0))
		r = cap;
	if (cap > 0 && r > (1 - RATE_STEADY) * cap)
		r = cap;
	return r;
}

/* Between syncs: the ticks may say the rate moved. */
double rate_now(const struct lm_estimator *e)
{
	return rate_ticks(e, 1);
}

/* At a sync or a parameter change: the rounds' rate alone, so that the same rounds give the same verdict. */
double rate_rounds(const struct lm_estimator *e)
{
	return rate_ticks(e, 0);
}

double threshold(const struct lm_estimator *e, double rate)
{
	return rate * e->cfg.downtime_limit_s;
}

/*
 * The kernel's signs of a postcopy switch at the last sync (see
 * POSTCOPY_RATE_FACTOR). The pre-copy rate is the last round's even where
 * it is no link-rate measurement: a bulk pass cut short by the switch sent
 * less than half of RAM without being mostly zero pages.
 */
static int looks_like_postcopy(const struct lm_estimator *e, double now)
{
	double sent = sent_since(e, e->sync_tx), dt = now - e->sync_ts_s;
	double round = e->last_round_rate_Bps > 0 ? e->last_round_rate_Bps : e->last_round_raw_Bps;
	double precopy = fmax(e->cfg.max_bandwidth_Bps, round);

	if (e->nrounds < 2 || !(dt > 0))
		return 0;
	if (precopy > 0 && sent / dt > POSTCOPY_RATE_FACTOR * precopy &&
	    sent > POSTCOPY_THRESHOLDS * threshold(e, precopy) + LM_QEMU_DEVICE_STATE_BYTES)
		return 1;
	return sent > POSTCOPY_PENDING_FACTOR * e->pending_at_sync + POSTCOPY_MARGIN;
}

/* Switched to postcopy at the last sync: no more rounds, no pre-copy switchover. */
static void enter_postcopy(struct lm_estimator *e, int by_qmp)
{
	if (e->phase == LM_PHASE_POSTCOPY || e->phase == LM_PHASE_ENDED || e->phase == LM_PHASE_IDLE)
		return;
	e->phase = LM_PHASE_POSTCOPY;
	e->postcopy_ts_s = e->sync_ts_s;
	e->postcopy_tx = e->sync_tx;
	e->postcopy_by_qmp = by_qmp;
	/* the completion sync it may have looked like was the switch */
	e->final_ts_s = e->stop_ts_s = -1;
	e->final_pending = -1;
}

void check_postcopy(struct lm_estimator *e, double now)
{
	if (e->qemu_status == LM_QEMU_POSTCOPY)
		enter_postcopy(e, 1);
	else if (e->migrating && e->phase != LM_PHASE_POSTCOPY && looks_like_postcopy(e, now))
		enter_postcopy(e, 0);
}

static void on_initial_sync(struct lm_estimator *e, const struct lm_obs_round *r, double now)
{
	if (!e->ram_bytes)
		e->ram_bytes = r->dirty_pages * e->cfg.page_size;
	if (!e->migrating || e->nrounds)
		reset_migration(e, now);
	mark_sync(e, now);
	e->pending_at_sync = (double)e->ram_bytes;
	e->nrounds = 1;
	e->last_round = 1;
}

/* The completion sync: the VM is stopped, what is pending goes out now. */
static void on_completion_sync(struct lm_estimator *e, const struct lm_obs_round *r, double dirty,
			       double now)
{
	double sent = sent_since(e, e->sync_tx);

	e->final_pending = fmax(0, e->pending_at_sync - sent) + dirty;
	e->final_ts_s = now;
	/*
	 * Nothing sent since the last sync, yet a long gap: QEMU decided
	 * to stop right after that sync and stopping the vCPUs took the
	 * gap (90 ms seen under a 90 % throttle). QEMU's downtime counts it.
	 * Only with sync times from the kernel (sync_ns measured): traces
	 * derived from QMP polls place syncs to a poll period.
	 */
	e->stop_ts_s = r->sync_ns && sent < STOP_SENT_MAX && now - e->sync_ts_s > STOP_GAP_MIN_S ?
		       e->sync_ts_s : now;
	e->phase = LM_PHASE_SWITCHOVER;
	e->last_round = r->round;
}

/*
 * What QEMU must send after this sync: the leftover of the round (QEMU
 * syncs when what is left drops below the threshold, so at most that) plus
 * the pages dirtied that were not pending already (with a known working
 * set, the leftover covers that share of it).
 */
static double pending_after_sync(const struct lm_estimator *e, double wall, double tx, double dirty)
{
	double left, thr, rate;
	struct lm_curve c;

	/* no rate yet (a round shorter than a tick, e.g. uncapped): the round's own */
	rate = rate_now(e);
	if (!(rate > 0) && wall > 0)
		rate = tx / wall;
	thr = threshold(e, rate);
	left = fmax(0, e->pending_at_sync - tx);
	/*
	 * QEMU syncs once at most a threshold's worth of pages is left. Sent
	 * bytes short of that by more are zero pages (a few bytes each) in the
	 * bulk pass: it scanned all but those pages, and of what it left only
	 * the share that carried data in what it scanned costs bytes.
	 */
	if (thr > 0 && left > thr) {
		left = thr;
		if (e->phase == LM_PHASE_BULK)
			left *= clampd(tx / (e->pending_at_sync - thr), 0, 1);
	}
	lm_curve_build(&c, e->pts, e->npts, e->ram_bytes, 0);
	return left + dirty * (c.wws > 0 ? 1 - clampd(left / c.wws, 0, 1) : 1);
}

/* A continuous source counts write faults, a page many times: calibrate against the popcount. */
static void calibrate_events(struct lm_estimator *e, const struct lm_obs_round *r)
{
	uint64_t ev = e->events_now - e->events_at_sync;

	if (ev && r->dirty_pages)
		e->events_uniqueness = clampd((double)r->dirty_pages / (double)ev, EVENTS_UNIQUENESS_MIN, 1);
	e->events_at_sync = e->events_now;
}

/* A sync of the iterative phase (or the one ending the bulk pass): one U(T) point. */
static void on_iterative_sync(struct lm_estimator *e, const struct lm_obs_round *r, double dirty,
			      double wall, double now)
{
	double tx = r->tx_bytes ? (double)r->tx_bytes : sent_since(e, e->sync_tx);
	/* the round's own length, in guest time at the throttle that ran meanwhile */
	double tau = wall * (now > e->sync_ts_s ? (e->guest_s - e->sync_guest_s) / (now - e->sync_ts_s) :
			     tscale_now(e));

	int bulk = e->last_round <= 1 && e->phase == LM_PHASE_BULK;

	e->pending_at_sync = pending_after_sync(e, wall, tx, dirty);
	if (bulk && wall > 0)
		e->bulk_s = wall;
	drop_tick_points(e);
	if (wall > 0 && tau > 0) {
		push_point(e, tau, wall, dirty, r->round, 0);
		push_rate(e, tx, wall, bulk);
		e->post_bulk_rounds++;
	}
	lm_evidence_round(&e->ev, e->pending_at_sync, threshold(e, rate_rounds(e)));
	if (e->params_untested) {
		e->params_untested = 0;
		e->measured_now = 1;
	}
	e->last_round_dirty = dirty;
	e->last_round_wall_s = wall;
	e->last_round_tscale = wall > 0 && tau > 0 ? tau / wall : tscale_now(e);
	if (e->have_events)
		calibrate_events(e, r);
	mark_sync(e, now);
	e->last_round = r->round;
	e->phase = LM_PHASE_ITERATIVE;
}

void on_round(struct lm_estimator *e, const struct lm_obs_round *r, double now)
{
	double dirty = (double)r->dirty_pages * (double)e->cfg.page_size;
	double wall = r->duration_ns / 1e9;

	if (r->ram_bytes)
		e->ram_bytes = r->ram_bytes;
	if (r->round == 1) {
		on_initial_sync(e, r, now);
		return;
	}
	if (!e->migrating) {
		/* attached late: no bulk pass to measure, start from this round */
		reset_migration(e, now);
		e->phase = LM_PHASE_ITERATIVE;
	}
	e->nrounds++;
	/* QEMU syncs no more in postcopy: a sync says the kernel's signs misled */
	if (e->phase == LM_PHASE_POSTCOPY && !e->postcopy_by_qmp)
		e->postcopy_ts_s = -1;
	if (r->flags & LM_ROUND_FINAL)
		on_completion_sync(e, r, dirty, now);
	else
		on_iterative_sync(e, r, dirty, wall, now);
}

void on_tick(struct lm_estimator *e, const struct lm_obs_tick *t, double now)
{
	double interval = t->interval_ns / 1e9;

	if (e->prev_tick_ts_s > 0 || e->have_tick_rate || e->prev_tick_tx) {
		if (!(interval > 0))
			interval = now - e->prev_tick_ts_s;
		if (interval > 0 && t->tx_total >= e->prev_tick_tx && e->migrating &&
		    e->phase <= LM_PHASE_ITERATIVE) {
			double r = (double)(t->tx_total - e->prev_tick_tx) / interval;

			e->tx_rate_ewma = e->have_tick_rate ?
					  (1 - TICK_RATE_WEIGHT) * e->tx_rate_ewma + TICK_RATE_WEIGHT * r : r;
			e->have_tick_rate = 1;
		}
	}
	e->prev_tick_ts_s = now;
	e->prev_tick_tx = t->tx_total;
	if (t->dirty_events_total || t->source != LM_SRC_BITMAP) {
		e->have_events = 1;
		e->events_now = t->dirty_events_total;
		if (e->migrating && e->phase <= LM_PHASE_ITERATIVE && e->events_now >= e->events_at_sync) {
			double tau = e->guest_s - e->sync_guest_s;
			double u = e->events_uniqueness * (double)(e->events_now - e->events_at_sync) *
				   (double)e->cfg.page_size;

			if (tau >= CONT_MIN_TAU_S)
				push_point(e, tau, now - e->sync_ts_s, u, e->last_round + 1, 1);
		}
	}
}

/* A throttle, cap or downtime limit new to this migration: the verdict is predicted until a round ran under it. */
static void note_params_change(struct lm_estimator *e, const struct lm_est_config *old, uint32_t old_throttle)
{
	if (!e->have_params || !e->migrating || e->phase > LM_PHASE_ITERATIVE)
		return;
	if (old->downtime_limit_s == e->cfg.downtime_limit_s && old->max_bandwidth_Bps == e->cfg.max_bandwidth_Bps &&
	    old_throttle == e->throttle_pct_now)
		return;
	e->params_untested = 1;
	e->params_changed_now = 1;
	e->nc_rounds = e->conv_rounds = 0;
	lm_evidence_new_params(&e->ev);
}

void on_params(struct lm_estimator *e, const struct lm_obs_params *p)
{
	const struct lm_est_config old = e->cfg;
	uint32_t old_throttle = e->throttle_pct_now;

	if (p->downtime_limit_ms && p->downtime_limit_ms <= DOWNTIME_LIMIT_MAX_MS)
		e->cfg.downtime_limit_s = p->downtime_limit_ms / 1e3;
	if (p->max_bandwidth)
		e->cfg.max_bandwidth_Bps = (double)p->max_bandwidth;
	if (p->ram_bytes)
		e->ram_bytes = p->ram_bytes;
	if (p->page_size && p->page_size <= PAGE_SIZE_MAX && !(p->page_size & (p->page_size - 1)))
		e->cfg.page_size = p->page_size;
	e->throttle_pct_now = p->throttle_pct > LM_QEMU_THROTTLE_MAX_PCT ? LM_QEMU_THROTTLE_MAX_PCT : p->throttle_pct;
	e->qemu_status = p->qemu_status;
	note_params_change(e, &old, old_throttle);
	e->have_params = 1;
}

/* A check made at most its max age before this start speaks for it, once. */
void start_head_start(struct lm_estimator *e, uint64_t start_ns)
{
	uint64_t age = start_ns - e->head_start_ts_ns;

	e->head_start_live = e->head_start_valid && start_ns >= e->head_start_ts_ns &&
			     age <= (uint64_t)e->head_start.max_age_s * 1000000000ull;
	if (e->head_start_live) {
		e->head_start_valid = 0;
		e->head_start_age_s = age / 1e9;
	}
}

/* The migration ended: completed (a stream closed), cancelled, or its process gone. */
void on_end(struct lm_estimator *e, const struct lm_obs_end *end, double now)
{
	if (end->tx_total > e->tx_total)
		e->tx_total = end->tx_total;
	/* a postcopy shorter than a tick shows only now */
	if (end->reason == LM_END_COMPLETED)
		check_postcopy(e, now);
	if (e->phase == LM_PHASE_POSTCOPY)
		e->postcopy_end_s = now;
	if (e->migrating && end->reason == LM_END_COMPLETED && e->final_ts_s < 0 &&
	    e->phase == LM_PHASE_ITERATIVE) {
		/*
		 * Completed, yet no sync was marked final (seen on a real
		 * trace: the completion sync came 1.3 ms after the last one,
		 * unflagged): QEMU ends right after its completion sync, so
		 * the last sync was it.
		 */
		e->final_ts_s = e->stop_ts_s = e->sync_ts_s;
		e->final_pending = e->pending_at_sync;
	}
	if (e->migrating && end->reason == LM_END_COMPLETED && e->final_ts_s >= 0)
		e->cur.measured_downtime_ms = (now - e->stop_ts_s) * 1e3;
	e->migrating = 0;
	if (e->phase != LM_PHASE_POSTCOPY)
		e->phase = LM_PHASE_ENDED;
}

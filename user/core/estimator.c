// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The convergence estimator.
 *
 * Model. QEMU's pre-copy sends all RAM once (the bulk pass), then, whenever
 * what is left to send drops below threshold = bandwidth x downtime limit,
 * it syncs the dirty bitmap; if pending (leftover + newly dirtied) is still
 * above the threshold it keeps sending, else it stops the VM and sends the
 * rest (with the rate limit lifted). It checks once per rate-limiter window
 * (100 ms when capped), so rounds are quantized to that window.
 *
 * What a round has to resend is U(T), the unique bytes the guest dirties in
 * a window of T guest seconds. Each sync round k >= 2 measures one point of
 * it (the bitmap popcount over the round); a continuous source (write faults
 * counted between syncs, TICK.dirty_events_total) gives points inside a
 * round, hence during the bulk pass. For a stationary guest U is concave and
 * non-decreasing with U(0) = 0: linear for short windows, flat at the
 * writable working set (WWS) for long ones. The smallest such curve through
 * the measured points is their least concave majorant from the origin, flat
 * after its highest vertex. It is the best case the data allows: any real
 * curve lies on or above it. The estimator simulates QEMU's loop on that
 * curve (lm_precopy_sim_run() in precopy_sim.c).
 *
 * Verdict. not-converging: the rounds stopped shrinking above the
 * threshold (LM_EV_FIXED_POINT_ROUNDS in a row, evidence.h: the best case
 * that shrank them is refuted), or even the best case (busy-phase points
 * left out, the better of the measured rates, never above the cap) does
 * not switch over within the horizon, max(60 s, 20 x the bulk pass).
 * converging: the expected case (all points, knee guessed where unseen)
 * switches over well inside it with a short-window dirty/bandwidth ratio
 * below 0.8. Anything between is marginal: slow, bursty, or at the mercy of
 * the link. The verdict is a function of the sync rounds and the
 * parameters in force: at syncs and parameter changes the rate comes from
 * the rounds alone; ticks only refresh the numbers (remaining, ETA),
 * except that a continuous dirty source may say not-converging inside a
 * round when the guest keeps dirtying new pages faster than the link for
 * three ticks in a row. After the first firm verdict a hysteresis rule
 * (hold_verdict()) asks for evidence of a stated size before it changes.
 * A throttle, cap or downtime limit no round has run under yet gives the
 * expected case's verdict at once, marked predicted (a timer-paced guest
 * slows far less than 1 - p: the first round under it tests it). The
 * expected simulation gives the ETA, the syncs left and the pending bytes
 * at switchover, hence the downtime (at the stop-phase rate, which QEMU
 * does not cap: without switchover_bandwidth the iterative-rate figure is
 * an upper bound). The
 * measured downtime runs from the VM stop: the completion sync, or the sync
 * before it when nothing was sent in between (stopping throttled vCPUs took
 * 90 ms on a real trace); a completed migration whose completion sync came
 * unflagged ends at its last sync.
 *
 * Throttle. QEMU's auto-converge runs each vCPU (1 - p) of the time, so a
 * CPU-bound writer performs in T wall seconds the writes it would do in
 * (1 - p) T: U_p(T) = U((1 - p) T). Points are therefore stored in guest
 * time (wall time x (1 - throttle) over the round) and the curve is the
 * guest's own, whatever throttle was active. For a saturating curve this
 * matters: the plateau (the WWS) does not move, only the knee moves right,
 * to T_knee / (1 - p). A round of length T re-sends U((1 - p) T), which stays
 * at the WWS as long as (1 - p) T > T_knee: a throttle that only lowers the
 * long-window average WWS/T changes nothing. It helps once the short-window
 * slope, (1 - p) x U'(0), is below the transfer rate, so rounds shrink
 * geometrically. The recommended throttle is the smallest p for which the
 * simulation on U((1 - p) T) converges at the rate divided by (1 + margin).
 * When the curve is already flat at its shortest window, U'(0) is only
 * bounded below; we then assume the knee at half that window and say so
 * (the next rounds, shorter in guest time under throttle, measure it). A
 * writer paced by a timer rather than by CPU time is not slowed until p
 * exceeds 1 - (its rate / its CPU-bound peak rate): the model does not
 * cover it.
 *
 * Pure: no clocks, syscalls, allocation or printing (snprintf formats the
 * reason into the estimate). Same records in, same bytes out.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/estimator.h"
#include "core/curve.h"
#include "core/head_start.h"
#include "core/precopy_sim.h"
#include "core/units.h"

/* QEMU's rate-limiter window (BUFFER_DELAY): pending is checked once per window. */
#define QUANTUM_CAPPED_S	0.100
/* Without a cap ram_save_iterate() returns after at most MAX_WAIT (50 ms). */
#define QUANTUM_FREE_S		0.050
/* Device state sent while the VM is stopped (~330 KB measured here). */
#define DEVICE_STATE_BYTES	(320 * LM_KiB)
/* Bytes sent between the last iterative sync and the completion sync: "none". */
#define STOP_SENT_MAX		(64 * LM_KiB)
/* Shorter gaps between that sync and the completion sync are QEMU's own work (~0.5 ms here). */
#define STOP_GAP_MIN_S		0.002
/* Continuous-source ticks in a row whose best case fails before saying so. */
#define CONT_FAIL_TICKS		3
/* Shortest in-round window used as a U(T) point (a tick right after a sync says little). */
#define CONT_MIN_TAU_S		0.5
/* Guest time into a round before a continuous source's in-round points may move the verdict. */
#define CONT_ROUND_MIN_S	(2 * CONT_MIN_TAU_S)
/* Floor of unique pages per counted dirty event: one odd round must not scale them to nothing. */
#define EVENTS_UNIQUENESS_MIN	0.05
/* Weight of the newest tick in the tick-rate average: one lumpy tick moves it only halfway. */
#define TICK_RATE_WEIGHT	0.5
/* Measured rates above max-bandwidth x this are sampling noise (rate-limiter windows). */
#define RATE_CAP_SLACK		1.00
/*
 * "Not converging" = no switchover, even in the best case, within
 * max(HORIZON_MIN_S, HORIZON_BULK x the bulk pass). A migration that needs
 * twenty times its first pass is stuck for any operator (KubeVirt gives up
 * after 150 s per GiB, about five passes at 1 Gbit/s); a slower one that
 * would still finish is called marginal before that.
 */
#define HORIZON_MIN_S		60
#define HORIZON_BULK		20
/* A throttle this much above the one the last round ran under is not measured yet. */
#define THROTTLE_UNTESTED	0.05
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
/* Default headroom of the recommended throttle: converge at the rate / 1.25, not at the edge. */
#define THROTTLE_MARGIN_DEFAULT	0.25
/* QEMU's highest vCPU throttle (CPU_THROTTLE_PCT_MAX): no throttle above it exists. */
#define THROTTLE_MAX_PCT	99

/*
 * converging: the expected case switches over within this share of the
 * horizon (well inside it), with a short-window dirty/bandwidth ratio below
 * CONVERGING_RATIO: on a concave curve a round then dirties at most 80 % of
 * what it sends, so rounds shrink even if the rate dips a little.
 */
#define CONVERGING_HORIZON_SHARE 0.5
#define CONVERGING_RATIO	0.8

/*
 * Confidence is Laplace's rule of succession on the evidence: after n
 * rounds in a row, under the parameters in force, that supported the
 * verdict (best case failed or rounds did not shrink; or converging said),
 * the chance the next does too is (n + 1) / (n + 2). Never certain before
 * the switchover, since the guest may change: capped.
 */
#define CONF_STUCK_MAX		0.97
#define CONF_CONV_MAX		0.95
/* Marginal: it may go either way. */
#define CONF_MARGINAL		0.5
/*
 * Converging predicted for parameters no round has run under: the model
 * assumes a throttle of p slows the guest to (1 - p), true for a CPU-bound
 * writer only (a timer-paced one barely slows): little better than even.
 */
#define CONF_PREDICTED_CONV	0.55
/*
 * Not-converging predicted (the expected case fails under them): worth one
 * round of evidence, since the rounds before showed the guest at least this
 * busy and a throttle slows a guest at most to (1 - p); the knee is a guess.
 */
#define CONF_PREDICTED_STUCK	0.67
/*
 * Leaving a firm not-converging takes this many rounds in a row that each
 * shrank by the evidence share (LM_EV_SHRINK_SHARE): a random writer's
 * rounds wander by a quarter under one throttle (seen: 128, 112, 85, 94,
 * 128 MiB), so two shrinking in a row happen by chance; three is a trend.
 */
#define SHRINK_ROUNDS_TO_LEAVE	3
/* A round shorter than half a rate-limiter window sent next to nothing: it measures no link. */
#define RATE_ROUND_MIN_S	(QUANTUM_FREE_S / 2)
/* Rounds averaged for the link rate cover at least this long (a 100 ms round is one lumpy window). */
#define RATE_SPAN_S		1.0
/*
 * A bulk pass that sent less than this share of RAM was mostly zero pages:
 * scanning, not the link, set its pace, so its rate is no link rate.
 */
#define BULK_ZERO_SHARE		0.5

/*
 * Sanity bounds on settings from QMP, the command line or a recording
 * (which may hold anything); beyond them a value is taken as corrupt.
 */
#define DOWNTIME_LIMIT_MAX_MS	LM_DOWNTIME_LIMIT_MAX_MS
#define DOWNTIME_LIMIT_MAX_S	(DOWNTIME_LIMIT_MAX_MS / 1e3)
#define RATE_MIN_BPS		1		/* below a byte per second: no rate given (--bandwidth takes 1) */
#define HORIZON_MAX_S		1e6		/* ~11 days: no one waits that long for a verdict */
#define HORIZON_BULK_MAX	1000		/* a thousand bulk passes */
#define THROTTLE_MARGIN_MAX	10		/* aiming at a tenth of the link is already absurd */
#define PAGE_SIZE_MAX		(1ull << 30)	/* 1 GiB, the largest huge page */

/* The largest double below 2^64: from there on a byte count saturates. */
#define U64_SATURATE_D		18446744073709549568.0
/* An ended migration's reason starts so: ending again does not repeat it. */
#define ENDED_PREFIX		"ended after"

void lm_est_config_default(struct lm_est_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->downtime_limit_s = LM_DOWNTIME_LIMIT_DEFAULT_MS / 1e3;
	cfg->max_bandwidth_Bps = 0;
	cfg->page_size = LM_PAGE_SIZE_DEFAULT;
	cfg->switchover_bandwidth_Bps = 0;
	cfg->horizon_s = HORIZON_MIN_S;
	cfg->horizon_bulk = HORIZON_BULK;
	cfg->throttle_margin = THROTTLE_MARGIN_DEFAULT;
}

static double cfg_or(double v, double def)
{
	return v > 0 ? v : def;
}

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Bytes as an integer, saturating (a double beyond 2^64 is UB to convert). */
static uint64_t to_u64(double v)
{
	if (!(v > 0))
		return 0;
	return v >= U64_SATURATE_D ? UINT64_MAX : (uint64_t)v;
}

/* ---- state updates ----------------------------------------------------- */

static double rel_s(struct lm_estimator *e, uint64_t ts_ns)
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
static double tscale_now(const struct lm_estimator *e)
{
	return 1 - e->throttle_pct_now / 100.0;
}

static void advance_clock(struct lm_estimator *e, double now)
{
	if (now > e->last_ts_s) {
		e->guest_s += (now - e->last_ts_s) * tscale_now(e);
		e->last_ts_s = now;
	}
}

static void push_point(struct lm_estimator *e, double tau, double wall, double bytes, uint32_t round,
		       uint32_t from_ticks)
{
	struct lm_est_point *p = &e->pts[e->npts % LM_EST_MAX_POINTS];

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
	struct lm_est_point keep[LM_EST_MAX_POINTS];
	uint32_t i, k = 0, first = e->npts > LM_EST_MAX_POINTS ? e->npts - LM_EST_MAX_POINTS : 0;

	for (i = first; i < e->npts; i++)
		if (!e->pts[i % LM_EST_MAX_POINTS].from_ticks)
			keep[k++] = e->pts[i % LM_EST_MAX_POINTS];
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

static void reset_migration(struct lm_estimator *e, double now)
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
static double rate_now(const struct lm_estimator *e)
{
	return rate_ticks(e, 1);
}

/* At a sync or a parameter change: the rounds' rate alone, so that the same rounds give the same verdict. */
static double rate_rounds(const struct lm_estimator *e)
{
	return rate_ticks(e, 0);
}

static double threshold(const struct lm_estimator *e, double rate)
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
	double sent = (double)(e->tx_total - e->sync_tx), dt = now - e->sync_ts_s;
	double round = e->last_round_rate_Bps > 0 ? e->last_round_rate_Bps : e->last_round_raw_Bps;
	double precopy = fmax(e->cfg.max_bandwidth_Bps, round);

	if (e->nrounds < 2 || !(dt > 0))
		return 0;
	if (precopy > 0 && sent / dt > POSTCOPY_RATE_FACTOR * precopy &&
	    sent > POSTCOPY_THRESHOLDS * threshold(e, precopy) + DEVICE_STATE_BYTES)
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

static void check_postcopy(struct lm_estimator *e, double now)
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
	double sent = (double)(e->tx_total - e->sync_tx);

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
	double tx = r->tx_bytes ? (double)r->tx_bytes : (double)(e->tx_total - e->sync_tx);
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

static void on_round(struct lm_estimator *e, const struct lm_obs_round *r, double now)
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

static void on_tick(struct lm_estimator *e, const struct lm_obs_tick *t, double now)
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

static void on_params(struct lm_estimator *e, const struct lm_obs_params *p)
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
	e->throttle_pct_now = p->throttle_pct > THROTTLE_MAX_PCT ? THROTTLE_MAX_PCT : p->throttle_pct;
	e->qemu_status = p->qemu_status;
	note_params_change(e, &old, old_throttle);
	e->have_params = 1;
}

/* ---- the estimate ------------------------------------------------------ */

/* The inputs of one estimate: where the round stands, the rates, the thresholds, the curves. */
struct ctx {
	double now;		/* seconds since the first record */
	double rate;		/* transfer rate of the expected case */
	double rate_best;	/* the better of the measured rates: the best case's */
	double thr, thr_best;	/* switchover thresholds at those rates */
	double horizon;		/* not-converging: no switchover within this many seconds */
	double quantum;		/* QEMU's pending check period */
	double tscale;		/* guest seconds per wall second now (1 - throttle) */
	double sw_rate;		/* rate of the stop phase */
	double sent;		/* bytes sent since the last sync */
	double pending_now;	/* what that sync left, less what was sent since */
	int cont_ok;		/* a continuous source has measured part of the curve in this round */
	struct lm_curve c;	/* all points */
	struct lm_curve quiet;	/* busy phases left out: the best case */
};

/* The two runs of QEMU's loop a verdict rests on. */
struct sims {
	struct lm_curve exp;		/* all points, knee guessed when unseen: the expected curve */
	struct lm_precopy_sim best;		/* the quiet curve at the better rate */
	struct lm_precopy_sim expect;	/* the expected curve at the current rate: ETA, downtime */
	double lam;			/* short-window dirty rate (guest time now) / transfer rate */
	double lam_exp;			/* the same on the expected curve (its knee guessed) */
	int exp_failed;			/* the expected case did not switch over (expect then holds the best) */
};

/* What the runs say; each outcome has its verdict, its numbers and its reason. */
enum outcome {
	OUT_STUCK,		/* not-converging: even the best case does not switch over in time */
	OUT_CONVERGING,		/* converging */
	OUT_FIXED_POINT,	/* not-converging: rounds stopped shrinking above the threshold */
	OUT_PREDICTED_STUCK,	/* not-converging predicted: the expected case fails under new parameters */
	OUT_MARGINAL,		/* marginal: anything between */
};

static double downtime_ms(const struct ctx *x, double pending)
{
	return (pending + DEVICE_STATE_BYTES) / x->sw_rate * 1e3;
}

/* Smallest throttle (percent) whose simulation converges at rate / (1 + margin). */
static double recommend_throttle(const struct lm_estimator *e, const struct ctx *x,
				 const struct lm_precopy_sim *base, double *limit_Bps, int *guessed)
{
	struct lm_curve c = x->c;
	struct lm_precopy_sim s;
	int lo = -1, hi = THROTTLE_MAX_PCT, mid;
	double margin = cfg_or(e->cfg.throttle_margin, THROTTLE_MARGIN_DEFAULT);
	double rate = x->rate / (1 + margin);

	*guessed = lm_curve_guess_knee(&c, x->rate, x->tscale);
	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		s = *base;
		s.wws = c.wws;
		s.rate = rate;
		s.thr = threshold(e, rate);
		s.tscale = 1 - (mid < 0 ? 0 : mid) / 100.0;
		lm_precopy_sim_run(&c, &s);
		if (s.result == 1)
			hi = mid;
		else
			lo = mid;
	}
	*limit_Bps = (1 - hi / 100.0) * lm_curve_slope0(&c);
	return hi;
}

static void set_reason(struct lm_estimate *est, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_reason(struct lm_estimate *est, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(est->reason, sizeof(est->reason), fmt, ap);
	va_end(ap);
}

/* The settings this estimate is made under, for the outputs. */
static void export_settings(const struct lm_estimator *e, struct lm_estimate *est)
{
	est->page_size = e->cfg.page_size;
	est->downtime_limit_s = e->cfg.downtime_limit_s;
	est->max_bandwidth_Bps = e->cfg.max_bandwidth_Bps;
}

static void export_curve(struct lm_estimate *est, const struct lm_curve *c)
{
	int i, n = c->n - 1 < LM_EST_CURVE_MAX ? c->n - 1 : LM_EST_CURVE_MAX;

	/* the last vertices carry the plateau: keep them when trimming */
	for (i = 0; i < n; i++) {
		int src = c->n - n + i;

		est->curve_t_s[i] = c->t[src];
		est->curve_bytes[i] = c->u[src];
	}
	est->curve_n = n > 0 ? n : 0;
}

/* ---- the inputs -------------------------------------------------------- */

static void gather(const struct lm_estimator *e, struct ctx *x, int kind)
{
	double cap = e->cfg.max_bandwidth_Bps;

	memset(x, 0, sizeof(*x));
	x->now = e->last_ts_s;
	x->rate = kind == LM_OBS_TICK ? rate_now(e) : rate_rounds(e);
	x->rate_best = fmax(x->rate, e->last_round_rate_Bps);
	/* lumpy samples aside, QEMU does not average more than its cap */
	if (cap > 0) {
		x->rate = fmin(x->rate, RATE_CAP_SLACK * cap);
		x->rate_best = fmin(x->rate_best, RATE_CAP_SLACK * cap);
	}
	x->thr = threshold(e, x->rate);
	x->thr_best = threshold(e, x->rate_best);
	x->tscale = tscale_now(e);
	x->quantum = cap > 0 ? QUANTUM_CAPPED_S : QUANTUM_FREE_S;
	x->sw_rate = e->cfg.switchover_bandwidth_Bps > 0 ? e->cfg.switchover_bandwidth_Bps : x->rate;
	x->horizon = cfg_or(e->cfg.horizon_s, HORIZON_MIN_S);
	x->sent = (double)(e->tx_total - e->sync_tx);
	x->pending_now = fmax(0, e->pending_at_sync - x->sent);
	lm_curve_build(&x->c, e->pts, e->npts, e->ram_bytes, 0);
	lm_curve_build(&x->quiet, e->pts, e->npts, e->ram_bytes, 1);
	x->cont_ok = e->have_events && x->c.n >= 2 && e->guest_s - e->sync_guest_s >= CONT_ROUND_MIN_S;
}

/*
 * Rebuilds the estimate from scratch (same state, same bytes) with what
 * does not depend on the verdict. Kept from the previous one: the verdict,
 * the round it was first given at and the measured downtime.
 */
static void estimate_facts(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			   const struct lm_estimate *prev)
{
	memset(est, 0, sizeof(*est));
	est->verdict = prev->verdict;
	est->verdict_round = prev->verdict_round;
	est->previous_verdict = prev->previous_verdict;
	est->changed_because = prev->changed_because;
	est->measured_downtime_ms = prev->measured_downtime_ms;
	est->eta_s = est->downtime_ms = est->eta_min_s = est->total_s = -1;
	est->throttle_pct = est->dirty_limit_Bps = est->ratio = -1;
	est->postcopy_start_s = -1;
	est->rounds = e->nrounds;
	est->migrating = e->migrating;
	est->phase = e->phase;
	est->tx_rate_Bps = x->rate;
	est->threshold_bytes = x->thr;
	export_settings(e, est);
	/*
	 * Without a stop-phase rate the iterative one is used: a bound, since
	 * QEMU lifts any cap once the VM is stopped, unless QEMU itself said
	 * there is none (kernel-only, a 32 MiB/s cap looks like a slow link).
	 */
	est->downtime_is_bound = !(e->cfg.switchover_bandwidth_Bps > 0) &&
				 (e->cfg.max_bandwidth_Bps > 0 || !e->have_params);
	export_curve(est, &x->c);
	est->short_dirty_rate_Bps = lm_curve_slope0(&x->c);
	if (x->c.saturated) {
		est->wws_bytes = to_u64(x->c.wws);
	} else if (x->c.n >= 2) {
		est->wws_bytes = to_u64(x->c.max_u);
		est->wws_is_lower_bound = 1;
	}
	if (e->last_round_wall_s > 0) {
		est->dirty_rate_Bps = e->last_round_dirty / e->last_round_wall_s;
		if (x->rate > 0)
			est->ratio = est->dirty_rate_Bps / x->rate;
	}
}

/*
 * What is left to send now and, in the bulk pass, the rest of the pass and
 * the horizon it sets. Returns 0 while the bulk pass gives nothing to
 * predict from: RAM size unknown, or no dirty pages measured yet and more
 * than a threshold left.
 */
static int estimate_progress(const struct lm_estimator *e, struct lm_estimate *est, struct ctx *x)
{
	double horizon_bulk = cfg_or(e->cfg.horizon_bulk, HORIZON_BULK), rest;

	est->remaining_bytes = to_u64(x->pending_now);
	if (e->phase != LM_PHASE_BULK) {
		x->horizon = fmax(x->horizon, horizon_bulk * e->bulk_s);
		return 1;
	}
	rest = fmax(0, x->pending_now - x->thr) / x->rate;
	est->eta_min_s = rest;
	x->horizon = fmax(x->horizon, horizon_bulk * ((e->last_ts_s - e->sync_ts_s) + rest));
	/* the part already sent that the guest dirtied again comes back after the pass */
	if (x->c.n >= 2 && e->ram_bytes)
		est->remaining_bytes = to_u64(x->pending_now +
					      lm_curve_eval(&x->c, e->guest_s - e->sync_guest_s) *
					      fmin(1, x->sent / (double)e->ram_bytes));
	if (!e->ram_bytes || (!x->cont_ok && e->pending_at_sync >= x->thr))
		return 0;
	return 1;
}

/* ---- the verdict ------------------------------------------------------- */

static void simulate(const struct lm_estimator *e, const struct ctx *x, struct sims *s)
{
	struct lm_precopy_sim *b = &s->best, *ex = &s->expect;

	/* Best case: the smallest curve the points allow, the better of the two rates. */
	memset(b, 0, sizeof(*b));
	b->pending = e->pending_at_sync;
	b->sent = x->sent;
	b->tau0 = e->guest_s - e->sync_guest_s;
	b->rate = x->rate_best;
	b->thr = x->thr_best;
	b->tscale = x->tscale;
	b->horizon = x->horizon;
	b->quantum = x->quantum;
	b->wws = x->quiet.wws;
	lm_precopy_sim_run(&x->quiet, b);
	/* Expected: every point, the current rate, the knee guessed if unseen. */
	s->exp = x->c;
	lm_curve_guess_knee(&s->exp, x->rate, x->tscale);
	*ex = *b;
	ex->rate = x->rate;
	ex->thr = x->thr;
	ex->wws = x->c.wws;
	lm_precopy_sim_run(&s->exp, ex);
	s->exp_failed = ex->result != 1;
	if (ex->result != 1 && b->result == 1)
		*ex = *b;
	s->lam = lm_curve_slope0(&x->c) * x->tscale / x->rate;
	s->lam_exp = lm_curve_slope0(&s->exp) * x->tscale / x->rate;
}

/*
 * Parameters no round has run under yet (a throttle step, a new cap or
 * downtime limit): the verdict is the model's prediction for them. A
 * throttle raised since the last sync counts too, even if QEMU's report of
 * it came after that sync.
 */
static int predicting(const struct lm_estimator *e, const struct ctx *x)
{
	return e->params_untested ||
	       (e->post_bulk_rounds > 0 && x->tscale < e->last_round_tscale - THROTTLE_UNTESTED);
}

/*
 * not-converging: the rounds stopped shrinking above the threshold (a
 * fixed point, evidence.h), or even the best case does not switch over
 * within the horizon. converging: both cases switch over, the expected one
 * well inside the horizon, at a short-window dirty/bandwidth ratio below
 * CONVERGING_RATIO. Anything between is marginal.
 */
/*
 * For parameters no round has run under, no data can refute the best
 * case; the prediction is the expected case's: no switchover within the
 * horizon, or one well inside it at a dirty/bandwidth ratio below
 * CONVERGING_RATIO, else marginal. The first round under them tests it.
 */
static enum outcome judge_predicted(const struct ctx *x, const struct sims *s)
{
	if (s->best.result == 0)
		return OUT_STUCK;
	if (s->exp_failed)
		return OUT_PREDICTED_STUCK;
	if (s->lam_exp < CONVERGING_RATIO && s->expect.eta_s <= x->horizon * CONVERGING_HORIZON_SHARE)
		return OUT_CONVERGING;
	return OUT_MARGINAL;
}

static enum outcome judge(const struct lm_estimator *e, const struct ctx *x, const struct sims *s)
{
	if (predicting(e, x))
		return judge_predicted(x, s);
	if (lm_evidence_fixed_point(&e->ev))
		return OUT_FIXED_POINT;
	if (s->best.result == 0)
		return OUT_STUCK;
	if (!(s->best.result == 1 && s->lam < CONVERGING_RATIO && s->expect.result == 1 &&
	      s->expect.eta_s <= x->horizon * CONVERGING_HORIZON_SHARE))
		return OUT_MARGINAL;
	return OUT_CONVERGING;
}

/* Laplace's rule of succession: after n rounds in a row that passed a test, the chance the next does. */
static double succession(uint32_t n)
{
	return (n + 1.0) / (n + 2.0);
}

/* Rounds in a row, under these parameters, whose outcome supports each verdict. */
static void count_evidence(struct lm_estimator *e, enum outcome out)
{
	int stuck = out == OUT_STUCK || out == OUT_FIXED_POINT;

	e->nc_rounds = stuck ? e->nc_rounds + 1 : 0;
	e->conv_rounds = out == OUT_CONVERGING ? e->conv_rounds + 1 : 0;
}

/* ---- the reason, and the numbers that go with it ----------------------- */

static void explain_stuck(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			  const struct sims *s)
{
	const struct lm_precopy_sim *b = &s->best;
	char left[24], thr[24];
	int guessed = 0;
	double tp;

	tp = recommend_throttle(e, x, b, &est->dirty_limit_Bps, &guessed);
	est->throttle_pct = tp;
	est->evidence_rounds = e->nc_rounds > e->ev.still ? e->nc_rounds : e->ev.still;
	est->confidence = fmin(succession(est->evidence_rounds), CONF_STUCK_MAX);
	if (e->phase == LM_PHASE_BULK) {
		set_reason(est, "bulk pass: guest dirties %.1f MiB/s (short windows) vs %.1f MiB/s sent; "
			   "best case no switchover in %.0f s; throttle %.0f%%",
			   est->short_dirty_rate_Bps / LM_MiB, x->rate / LM_MiB, x->horizon, tp);
		return;
	}
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	lm_fmt_bytes(thr, sizeof(thr), x->thr);
	set_reason(est, "round %u left %s to resend; %.0f ms at %.1f MiB/s allows %s; "
		   "best case: no switchover in %.0f s; throttle %s%.0f%%",
		   e->last_round, left, e->cfg.downtime_limit_s * 1e3, x->rate / LM_MiB, thr,
		   x->horizon, guessed ? ">=" : "", tp);
}

/* When the expected run switches over, and with how much left for the stop phase. */
static void explain_eta(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			const struct sims *s)
{
	est->eta_s = s->expect.eta_s;
	est->total_s = (x->now - e->start_ts_s) + s->expect.eta_s;
	if (s->expect.final_pending >= 0)
		est->downtime_ms = downtime_ms(x, s->expect.final_pending);
}

static void explain_converging(const struct lm_estimator *e, struct lm_estimate *est,
			       const struct ctx *x, const struct sims *s)
{
	const struct lm_precopy_sim *ex = &s->expect;
	char left[24], thr[24];

	est->throttle_pct = 0;
	est->evidence_rounds = e->conv_rounds;
	est->confidence = est->predicted ? CONF_PREDICTED_CONV : fmin(succession(e->conv_rounds), CONF_CONV_MAX);
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	lm_fmt_bytes(thr, sizeof(thr), x->thr);
	if (e->phase == LM_PHASE_BULK && x->pending_now < x->thr && x->c.n < 2)
		set_reason(est, "RAM fits in the switchover threshold (%s)", thr);
	else
		set_reason(est, "round %u left %s; %.0f ms at %.1f MiB/s allows %s; "
			   "switchover in ~%.1f s after %u more sync%s, dirty/bw %.2f",
			   e->last_round, left, e->cfg.downtime_limit_s * 1e3, x->rate / LM_MiB, thr,
			   ex->eta_s, ex->rounds, ex->rounds == 1 ? "" : "s", s->lam);
}

/* The expected case fails under parameters no round has run under yet. */
static void explain_predicted_stuck(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
				    const struct sims *s)
{
	char left[24];
	int guessed = 0;

	est->throttle_pct = recommend_throttle(e, x, &s->best, &est->dirty_limit_Bps, &guessed);
	est->evidence_rounds = 0;
	est->confidence = CONF_PREDICTED_STUCK;
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	set_reason(est, "round %u left %s; expected case (dirty/bw %.2f, knee %s): no switchover in %.0f s; "
		   "throttle %s%.0f%%", e->last_round, left, s->lam_exp, guessed ? "guessed" : "measured",
		   x->horizon, guessed ? ">=" : "", est->throttle_pct);
}

/* Rounds that stopped shrinking above the threshold: the best case that shrank them is refuted. */
static void explain_fixed_point(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
				const struct sims *s)
{
	char left[24], thr[24];
	int guessed = 0;

	est->throttle_pct = recommend_throttle(e, x, &s->best, &est->dirty_limit_Bps, &guessed);
	est->evidence_rounds = e->nc_rounds > e->ev.still ? e->nc_rounds : e->ev.still;
	est->confidence = fmin(succession(est->evidence_rounds), CONF_STUCK_MAX);
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	lm_fmt_bytes(thr, sizeof(thr), x->thr);
	set_reason(est, "fixed point: rounds %u-%u each left %s or more, not shrinking, above the %s "
		   "threshold (%.0f ms at %.1f MiB/s); throttle %s%.0f%%",
		   e->last_round + 1 - e->ev.still, e->last_round, left, thr, e->cfg.downtime_limit_s * 1e3,
		   x->rate / LM_MiB, guessed ? ">=" : "", est->throttle_pct);
}

/* A verdict for parameters no round has run under: said as the model's prediction. */
static void mark_predicted(const struct lm_estimator *e, struct lm_estimate *est)
{
	char why[LM_REASON_MAX];

	memcpy(why, est->reason, sizeof(why));
	set_reason(est, "predicted for throttle %u%%, %.0f ms limit (no round under them yet): %s",
		   e->throttle_pct_now, e->cfg.downtime_limit_s * 1e3, why);
}

static void explain_marginal(const struct lm_estimator *e, struct lm_estimate *est,
			     const struct ctx *x, const struct sims *s)
{
	const struct lm_precopy_sim *b = &s->best;
	char left[24];
	int guessed = 0;
	double tp;

	est->confidence = CONF_MARGINAL;
	tp = recommend_throttle(e, x, b, &est->dirty_limit_Bps, &guessed);
	est->throttle_pct = tp;
	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	if (x->quiet.varying)
		set_reason(est, "round %u left %s; dirtying varies between rounds (busy phases): "
			   "switchover in %.0f s if quiet, never if busy; throttle %.0f%%",
			   e->last_round, left, b->eta_s, tp);
	else
		set_reason(est, "round %u left %s, dirty/bw %.2f at short windows; best case "
			   "switchover in %.0f s after %u syncs; throttle %.0f%% for a margin",
			   e->last_round, left, s->lam, b->eta_s >= 0 ? b->eta_s : x->horizon, b->rounds, tp);
}

static void estimate_bulk_unknown(const struct lm_estimator *e, struct lm_estimate *est,
				  const struct ctx *x, double sent)
{
	char a[24], b[24];
	double v = (double)e->ram_bytes;

	est->verdict = LM_VERDICT_UNKNOWN;
	est->confidence = 0;
	lm_fmt_bytes(a, sizeof(a), sent);
	if (v > 0) {
		lm_fmt_bytes(b, sizeof(b), v);
		set_reason(est, "bulk pass: %s of %s sent at %.1f MiB/s; the first sync after it "
			   "(in ~%.0f s) measures the dirty pages", a, b, x->rate / LM_MiB,
			   est->eta_min_s > 0 ? est->eta_min_s : 0);
	} else {
		set_reason(est, "bulk pass: %s sent at %.1f MiB/s; RAM size unknown", a, x->rate / LM_MiB);
	}
}

static void estimate_unknown(struct lm_estimate *est, const char *why)
{
	est->verdict = LM_VERDICT_UNKNOWN;
	set_reason(est, "%s", why);
}

/* Switched over: the numbers are final. Ended without: the last verdict stands. */
static void estimate_ended(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			   const struct lm_estimate *prev)
{
	char left[24];

	if (e->final_ts_s < 0) {
		/* cancelled or lost: the last verdict stands, with what it was based on */
		est->confidence = prev->confidence;
		if (strncmp(prev->reason, ENDED_PREFIX, sizeof(ENDED_PREFIX) - 1))
			set_reason(est, ENDED_PREFIX " %.1f s without switchover; %s",
				   x->now - e->start_ts_s, prev->reason);
		else
			memcpy(est->reason, prev->reason, sizeof(est->reason));
		return;
	}
	est->verdict = LM_VERDICT_CONVERGING;
	est->confidence = 1;
	est->eta_s = 0;
	est->total_s = e->final_ts_s - e->start_ts_s;
	if (x->sw_rate > 0)
		est->downtime_ms = downtime_ms(x, e->final_pending);
	lm_fmt_bytes(left, sizeof(left), e->final_pending);
	if (est->measured_downtime_ms >= 0)
		set_reason(est, "switched over after %.1f s, %u syncs; %s left for the stop "
			   "phase; measured downtime %.0f ms", est->total_s, e->nrounds, left,
			   est->measured_downtime_ms);
	else
		set_reason(est, "switched over after %.1f s, %u syncs; %s left for the stop phase",
			   est->total_s, e->nrounds, left);
}

/*
 * Postcopy: the guest runs on the destination since the switch and fetches
 * the pages it lacks on demand; the source sends the rest uncapped. The
 * pre-copy verdict stands (it is why postcopy was needed); no pre-copy
 * switchover or downtime is claimed.
 */
static void estimate_postcopy(const struct lm_estimator *e, struct lm_estimate *est,
			      const struct ctx *x, const struct lm_estimate *prev)
{
	double end = e->postcopy_end_s >= 0 ? e->postcopy_end_s : x->now;
	char sent[24];

	est->verdict = prev->verdict;
	est->confidence = prev->confidence;
	est->throttle_pct = prev->throttle_pct;
	est->dirty_limit_Bps = prev->dirty_limit_Bps;
	est->measured_downtime_ms = -1;
	est->remaining_bytes = 0;
	est->postcopy_start_s = e->postcopy_ts_s - e->start_ts_s;
	est->postcopy_bytes = e->tx_total > e->postcopy_tx ? e->tx_total - e->postcopy_tx : 0;
	est->postcopy_s = fmax(0, end - e->postcopy_ts_s);
	est->phase_from_qmp = e->postcopy_by_qmp;
	lm_fmt_bytes(sent, sizeof(sent), (double)est->postcopy_bytes);
	set_reason(est, "%s postcopy %.1f s after the start (%s): %s sent in %.1f s%s; the guest runs "
		   "on the destination, fetching pages on demand",
		   e->postcopy_end_s >= 0 ? "completed in" : "switched to", est->postcopy_start_s,
		   e->postcopy_by_qmp ? "QEMU's status" : "no syncs since, the stream uncapped", sent,
		   est->postcopy_s, e->postcopy_end_s >= 0 ? "" : " so far");
}

/* ---- holding the verdict between syncs --------------------------------- */

/*
 * Continuous evidence inside a round all comes from windows that start at
 * the last sync, so a burst looks like a working set. It may say
 * not-converging only while the guest is still dirtying new pages at its
 * initial rate, faster than the link, for CONT_FAIL_TICKS ticks in a row.
 */
static int cont_source_stuck(struct lm_estimator *e, const struct ctx *x)
{
	const struct lm_est_point *last = &e->pts[(e->npts - 1) % LM_EST_MAX_POINTS];
	double s0 = lm_curve_slope0(&x->c);
	int sustained = last->from_ticks && last->bytes >= LM_CURVE_ON_LINE * s0 * last->tau_s &&
			s0 * x->tscale > x->rate_best;

	e->cont_fail_ticks = sustained ? e->cont_fail_ticks + 1 : 0;
	return e->cont_fail_ticks >= CONT_FAIL_TICKS;
}

/* A firm verdict held against this sync's outcome: what holds it, and what would change it. */
static void explain_held(const struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			 const struct sims *s, enum lm_verdict old)
{
	char left[24], before[24];
	int guessed = 0;

	lm_fmt_bytes(left, sizeof(left), e->pending_at_sync);
	lm_fmt_bytes(before, sizeof(before), e->ev.prev_pending_before);
	if (old == LM_VERDICT_NOT_CONVERGING) {
		est->throttle_pct = recommend_throttle(e, x, &s->best, &est->dirty_limit_Bps, &guessed);
		est->evidence_rounds = e->ev.still;
		est->confidence = fmin(succession(e->ev.still), CONF_STUCK_MAX);
		est->eta_s = est->total_s = est->downtime_ms = -1;
		set_reason(est, "not-converging since round %u: round %u left %s (%s before); %u rounds in a "
			   "row shrinking by %.0f%% each would change it; throttle %s%.0f%%",
			   e->cur.verdict_round, e->last_round, left, before, SHRINK_ROUNDS_TO_LEAVE,
			   (1 - LM_EV_SHRINK_SHARE) * 100, guessed ? ">=" : "", est->throttle_pct);
		return;
	}
	est->throttle_pct = 0;
	est->evidence_rounds = e->ev.shrink;
	est->confidence = fmin(succession(e->ev.shrink), CONF_CONV_MAX);
	set_reason(est, "converging since round %u: round %u left %s, less than before (%s); only a round "
		   "that does not shrink above the threshold would change it",
		   e->cur.verdict_round, e->last_round, left, before);
}

/*
 * Between syncs the only new facts are bytes sent: a rate wobble (lumpy
 * ticks, a transient dip) must not flip the verdict back and forth. Ticks
 * and unchanged parameters only update the numbers (a continuous dirty
 * source may still say not-converging inside a round).
 */
static enum lm_verdict hold_between_syncs(struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
					  int kind, const struct lm_estimate *prev, enum lm_verdict v)
{
	enum lm_verdict old = prev->verdict;

	if (v != LM_VERDICT_NOT_CONVERGING)
		e->cont_fail_ticks = 0;
	else if (kind == LM_OBS_TICK && x->cont_ok && old != v && !cont_source_stuck(e, x))
		v = old;
	if ((kind == LM_OBS_TICK && x->cont_ok) || old == LM_VERDICT_UNKNOWN || v == old) {
		if (v != old)
			e->cause_now = old == LM_VERDICT_UNKNOWN ? LM_CHANGE_FIRST : LM_CHANGE_IN_ROUND;
		return v;
	}
	/* the last verdict stands, with what it said */
	est->confidence = prev->confidence;
	memcpy(est->reason, prev->reason, sizeof(est->reason));
	est->throttle_pct = prev->throttle_pct;
	est->dirty_limit_Bps = prev->dirty_limit_Bps;
	est->evidence_rounds = prev->evidence_rounds;
	est->predicted = prev->predicted;
	if (old == LM_VERDICT_NOT_CONVERGING)
		est->eta_s = est->total_s = est->downtime_ms = -1;
	return old;
}

/*
 * The hysteresis rule. Before the first firm verdict (converging or
 * not-converging) and from marginal, each sync's outcome is published. After
 * it, a sync moves the verdict only on evidence of a stated size:
 * not-converging goes only after SHRINK_ROUNDS_TO_LEAVE rounds in a row that
 * each left at most LM_EV_SHRINK_SHARE of what the sync before left;
 * converging goes only after a round that did not shrink above the
 * threshold. A parameter change gives the predicted verdict at once; the
 * first round under the new parameters tests it by the same rule.
 */
static enum lm_verdict hold_verdict(struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
				    const struct sims *s, int kind, const struct lm_estimate *prev,
				    enum lm_verdict v, enum outcome out)
{
	enum lm_verdict old = prev->verdict;
	int allowed;

	if (kind == LM_OBS_TICK || (kind == LM_OBS_PARAMS && !e->params_changed_now))
		return hold_between_syncs(e, est, x, kind, prev, v);
	if (v == old)
		return v;
	if (kind == LM_OBS_PARAMS) {
		e->cause_now = LM_CHANGE_PARAMETERS;
		return v;
	}
	if (old == LM_VERDICT_UNKNOWN || old == LM_VERDICT_MARGINAL || !e->firm_given) {
		e->cause_now = old == LM_VERDICT_UNKNOWN ? LM_CHANGE_FIRST :
			       out == OUT_FIXED_POINT ? LM_CHANGE_FIXED_POINT : LM_CHANGE_ROUNDS;
		return v;
	}
	if (old == LM_VERDICT_NOT_CONVERGING) {
		allowed = e->ev.shrink >= SHRINK_ROUNDS_TO_LEAVE;
		e->cause_now = LM_CHANGE_SHRINKING;
	} else {
		allowed = e->ev.still >= 1;
		e->cause_now = LM_CHANGE_GREW;
	}
	if (allowed) {
		if (e->measured_now)
			e->cause_now = LM_CHANGE_MEASURED;
		return v;
	}
	e->cause_now = LM_CHANGE_NONE;
	explain_held(e, est, x, s, old);
	return old;
}

static void estimate_verdict(struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x,
			     int kind, const struct lm_estimate *prev)
{
	struct sims s;
	enum outcome out;
	enum lm_verdict v;

	est->horizon_s = x->horizon;
	est->predicted = predicting(e, x);
	simulate(e, x, &s);
	out = judge(e, x, &s);
	if (kind == LM_OBS_ROUND)
		count_evidence(e, out);
	switch (out) {
	case OUT_PREDICTED_STUCK:
		v = LM_VERDICT_NOT_CONVERGING;
		explain_predicted_stuck(e, est, x, &s);
		break;
	case OUT_FIXED_POINT:
		v = LM_VERDICT_NOT_CONVERGING;
		explain_fixed_point(e, est, x, &s);
		break;
	case OUT_STUCK:
		v = LM_VERDICT_NOT_CONVERGING;
		explain_stuck(e, est, x, &s);
		break;
	case OUT_CONVERGING:
		v = LM_VERDICT_CONVERGING;
		explain_eta(e, est, x, &s);
		explain_converging(e, est, x, &s);
		break;
	default:
		v = LM_VERDICT_MARGINAL;
		explain_eta(e, est, x, &s);
		explain_marginal(e, est, x, &s);
		break;
	}
	if (est->predicted)
		mark_predicted(e, est);
	est->verdict = hold_verdict(e, est, x, &s, kind, prev, v, out);
	if (est->verdict == LM_VERDICT_CONVERGING || est->verdict == LM_VERDICT_NOT_CONVERGING)
		e->firm_given = 1;
}

/* Crafted or absurd input (a replayed file) must not leak inf/NaN to the outputs. */
static void sanitize(struct lm_estimate *est)
{
	double *unknown_if_bad[] = { &est->eta_s, &est->downtime_ms, &est->throttle_pct,
				     &est->dirty_limit_Bps, &est->ratio, &est->eta_min_s, &est->total_s,
				     &est->measured_downtime_ms };
	double *zero_if_bad[] = { &est->confidence, &est->dirty_rate_Bps, &est->tx_rate_Bps,
				  &est->short_dirty_rate_Bps, &est->threshold_bytes, &est->horizon_s };
	uint32_t i;

	for (i = 0; i < sizeof(unknown_if_bad) / sizeof(unknown_if_bad[0]); i++)
		if (!isfinite(*unknown_if_bad[i]))
			*unknown_if_bad[i] = -1;
	for (i = 0; i < sizeof(zero_if_bad) / sizeof(zero_if_bad[0]); i++)
		if (!isfinite(*zero_if_bad[i]))
			*zero_if_bad[i] = 0;
	for (i = 0; i < est->curve_n; i++)
		if (!isfinite(est->curve_t_s[i]) || !isfinite(est->curve_bytes[i]))
			est->curve_t_s[i] = est->curve_bytes[i] = 0;
	est->confidence = clampd(est->confidence, 0, 1);
	if (est->throttle_pct > THROTTLE_MAX_PCT)
		est->throttle_pct = THROTTLE_MAX_PCT;
}

/*
 * One estimate, after every record: the inputs, then by phase an unknown,
 * the final numbers, or a verdict from the runs of QEMU's loop, held
 * between syncs.
 */
/* A check made at most its max age before this start speaks for it, once. */
static void start_head_start(struct lm_estimator *e, uint64_t start_ns)
{
	uint64_t age = start_ns - e->head_start_ts_ns;

	e->head_start_live = e->head_start_valid && start_ns >= e->head_start_ts_ns &&
			     age <= (uint64_t)e->head_start.max_age_s * 1000000000ull;
	if (e->head_start_live) {
		e->head_start_valid = 0;
		e->head_start_age_s = age / 1e9;
	}
}

/*
 * Until the migration gives its own first firm verdict in the bulk pass,
 * the check's, marked from_check and predicted. It does not count as firm:
 * the rounds decide freely when they come.
 */
static void apply_head_start(struct lm_estimator *e, struct lm_estimate *est, const struct ctx *x)
{
	struct lm_head_start_in in = {
		.check = &e->head_start, .ram_bytes = e->ram_bytes, .page_size = e->cfg.page_size,
		.downtime_limit_s = e->cfg.downtime_limit_s,
		.switchover_Bps = e->cfg.switchover_bandwidth_Bps,
	};

	est->from_check = 0;
	if (!e->head_start_live || e->firm_given || e->phase != LM_PHASE_BULK)
		return;
	/* the cap when there is one: the verdict must not follow each tick's rate */
	in.bandwidth_Bps = e->cfg.max_bandwidth_Bps > 0 ? e->cfg.max_bandwidth_Bps : x->rate;
	in.age_s = e->head_start_age_s;
	in.since_start_s = x->now - e->start_ts_s;
	if (lm_head_start_estimate(&in, est) == 0)
		e->cause_now = LM_CHANGE_CHECK;
}

static int compute(struct lm_estimator *e, int kind)
{
	struct lm_estimate *est = &e->cur;
	const struct lm_estimate prev = *est;
	struct ctx x;

	gather(e, &x, kind);
	estimate_facts(e, est, &x, &prev);
	e->cause_now = e->phase == LM_PHASE_SWITCHOVER ? LM_CHANGE_SWITCHOVER :
		       e->phase == LM_PHASE_BULK || e->phase == LM_PHASE_ITERATIVE ? LM_CHANGE_ROUNDS :
		       LM_CHANGE_ENDED;
	if (e->phase == LM_PHASE_IDLE)
		estimate_unknown(est, "no migration seen yet");
	else if (e->phase == LM_PHASE_POSTCOPY)
		estimate_postcopy(e, est, &x, &prev);
	else if (e->phase == LM_PHASE_SWITCHOVER || e->phase == LM_PHASE_ENDED)
		estimate_ended(e, est, &x, &prev);
	else if (!(x.rate > 0))
		estimate_unknown(est, "no transfer rate measured yet");
	else if (!estimate_progress(e, est, &x))
		estimate_bulk_unknown(e, est, &x, (double)(e->tx_total - e->tx_total_at_start));
	else
		estimate_verdict(e, est, &x, kind, &prev);
	apply_head_start(e, est, &x);
	sanitize(est);
	if (est->verdict != prev.verdict) {
		est->verdict_round = e->last_round;
		est->previous_verdict = prev.verdict;
		est->changed_because = e->cause_now;
	}
	return est->verdict != prev.verdict;
}

void lm_est_init(struct lm_estimator *e, const struct lm_est_config *cfg)
{
	memset(e, 0, sizeof(*e));
	if (cfg)
		e->cfg = *cfg;
	else
		lm_est_config_default(&e->cfg);
	/* a config from a file may hold anything: keep only sane values */
	if (!(e->cfg.downtime_limit_s > 0) || !(e->cfg.downtime_limit_s <= DOWNTIME_LIMIT_MAX_S))
		e->cfg.downtime_limit_s = LM_DOWNTIME_LIMIT_DEFAULT_MS / 1e3;
	if (!(e->cfg.max_bandwidth_Bps >= RATE_MIN_BPS) || !isfinite(e->cfg.max_bandwidth_Bps))
		e->cfg.max_bandwidth_Bps = 0;
	if (!(e->cfg.switchover_bandwidth_Bps >= RATE_MIN_BPS) || !isfinite(e->cfg.switchover_bandwidth_Bps))
		e->cfg.switchover_bandwidth_Bps = 0;
	if (!(e->cfg.horizon_s > 0) || !(e->cfg.horizon_s <= HORIZON_MAX_S))
		e->cfg.horizon_s = 0;
	if (!(e->cfg.horizon_bulk > 0) || !(e->cfg.horizon_bulk <= HORIZON_BULK_MAX))
		e->cfg.horizon_bulk = 0;
	if (!(e->cfg.throttle_margin > 0) || !(e->cfg.throttle_margin <= THROTTLE_MARGIN_MAX))
		e->cfg.throttle_margin = 0;
	if (e->cfg.page_size > PAGE_SIZE_MAX || (e->cfg.page_size & (e->cfg.page_size - 1)))
		e->cfg.page_size = LM_PAGE_SIZE_DEFAULT;
	if (!e->cfg.page_size)
		e->cfg.page_size = LM_PAGE_SIZE_DEFAULT;
	e->events_uniqueness = 1;
	e->final_ts_s = -1;
	e->final_pending = -1;
	e->postcopy_ts_s = e->postcopy_end_s = -1;
	e->cur.verdict = LM_VERDICT_UNKNOWN;
	e->cur.eta_s = e->cur.downtime_ms = e->cur.eta_min_s = e->cur.total_s = -1;
	e->cur.throttle_pct = e->cur.dirty_limit_Bps = e->cur.ratio = -1;
	e->cur.measured_downtime_ms = -1;
	e->cur.postcopy_start_s = -1;
	snprintf(e->cur.reason, sizeof(e->cur.reason), "no migration seen yet");
	export_settings(e, &e->cur);
}

int lm_est_feed(struct lm_estimator *e, const struct lm_obs *o)
{
	double now = rel_s(e, o->ts_ns);

	if (o->kind == LM_OBS_ACT_CONFIG || o->kind == LM_OBS_ACTION)
		return 0;	/* --act's own records: nothing the model measures */
	if (o->kind == LM_OBS_HEAD_START) {
		/* made before lmtrace started: kept for the next migration, no clock */
		e->head_start = o->head_start;
		e->head_start_ts_ns = o->ts_ns;
		e->head_start_valid = o->head_start.nwin > 0;
		return 0;
	}
	e->params_changed_now = e->measured_now = 0;
	advance_clock(e, now);
	switch (o->kind) {
	case LM_OBS_START:
		if (o->start.ram_bytes)
			e->ram_bytes = o->start.ram_bytes;
		reset_migration(e, now);
		start_head_start(e, o->ts_ns);
		break;
	case LM_OBS_PARAMS:
		on_params(e, &o->params);
		check_postcopy(e, now);
		break;
	case LM_OBS_ROUND:
		if (o->round.tx_total)
			e->tx_total = o->round.tx_total;
		on_round(e, &o->round, now);
		break;
	case LM_OBS_TICK:
		if (o->tick.tx_total)
			e->tx_total = o->tick.tx_total;
		on_tick(e, &o->tick, now);
		check_postcopy(e, now);
		break;
	case LM_OBS_END:
		if (o->end.tx_total > e->tx_total)
			e->tx_total = o->end.tx_total;
		/* a postcopy shorter than a tick shows only now */
		if (o->end.reason == LM_END_COMPLETED)
			check_postcopy(e, now);
		if (e->phase == LM_PHASE_POSTCOPY)
			e->postcopy_end_s = now;
		if (e->migrating && o->end.reason == LM_END_COMPLETED && e->final_ts_s < 0 &&
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
		if (e->migrating && o->end.reason == LM_END_COMPLETED && e->final_ts_s >= 0)
			e->cur.measured_downtime_ms = (now - e->stop_ts_s) * 1e3;
		e->migrating = 0;
		if (e->phase != LM_PHASE_POSTCOPY)
			e->phase = LM_PHASE_ENDED;
		break;
	default:
		return 0;
	}
	return compute(e, o->kind);
}

const struct lm_estimate *lm_est_current(const struct lm_estimator *e)
{
	return &e->cur;
}

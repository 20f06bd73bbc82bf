// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The live tracing loop: BPF events and samples into the pipeline. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "core/act_policy.h"
#include "core/vmtrack.h"
#include "trace/procscan.h"
#include "trace/qmp_watch.h"
#include "trace/session.h"
#include "trace/tracer.h"
#include "trace/vm_scan.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/*
 * Longest wait for events while a migration runs, so time-driven work (burst
 * ends) runs promptly: harvest events come without a wake-up (waking lmtrace
 * inside the VMM's ioctl costs it ~8 us per slot). Between migrations the
 * loop sleeps until the next sample or the next reading of the VMs' logging.
 */
#define POLL_MAX_MS	20
/* --act decisions waiting to be carried out: one at a time, and a release. */
#define MAX_ACTS	8
/* How long lmtrace, stopping, waits for QEMU to take its last actions (a
 * release) before it says it is waiting. */
#define ACT_DRAIN_MS	5000
/* UNIX migration sockets watched for closing (no tracepoint says so). */
#define MAX_WATCHED	64

#define AF_UNIX_FAMILY	1
#define TCP_ESTABLISHED	1
#define TCP_CLOSE	7

/* A UNIX migration socket: closed once it leaves the VMM's fd table. */
struct watched_sock {
	uint32_t pid;
	uint64_t sk, ino, bytes, last_send_ns;
};

struct session {
	const struct lm_session_opts *opts;
	struct lm_pipeline *pipe;
	struct lm_tracer *tracer;
	int64_t realtime_offset_ns;
	struct lm_drops drops_seen;
	struct lm_qmp_watch qmp;	/* --qmp, for opts->pids[0] */
	int qmp_open;
	int started;			/* the loop ran: close what it opened */
	struct watched_sock watched[MAX_WATCHED];
	int nwatched;
	int full_warned;		/* the VM table filled: said once */
	struct lm_vm_scan scan;		/* dirty logging, read without hooks */
	struct { uint32_t pid; struct lm_act_decision d; } acts[MAX_ACTS];	/* decided, not yet sent */
	int nacts;
	int act_identified;		/* --qmp's socket is served by pids[0] */
	char act_warning[256];		/* a dry run on a socket it did not identify */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int64_t realtime_offset_ns(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (int64_t)(rt.tv_sec - mono.tv_sec) * 1000000000ll + (rt.tv_nsec - mono.tv_nsec);
}

static struct watched_sock *find_watched(struct session *s, uint32_t pid, uint64_t sk)
{
	int i;

	for (i = 0; i < s->nwatched; i++)
		if (s->watched[i].pid == pid && s->watched[i].sk == sk)
			return &s->watched[i];
	return NULL;
}

static int on_event(void *ctx, const struct lm_event *e)
{
	struct session *s = ctx;
	struct watched_sock *w;

	if (e->kind == LM_EV_SOCK_BYTES && (w = find_watched(s, e->pid, e->sock.sk))) {
		w->bytes = e->sock.bytes;
		w->last_send_ns = e->sock.last_send_ns;
	}
	lm_pipeline_event(s->pipe, e);
	return 0;
}

/* The pipeline decided what a socket is: BPF counts it so from its next send. */
static void on_sock_role(void *ctx, uint32_t pid, const struct lm_stream *st)
{
	struct session *s = ctx;
	int ret = lm_tracer_set_sock_role(s->tracer, st->sk, st->role);

	if (ret)
		lm_pipeline_message(s->pipe, 1, "pid %u: cannot tell BPF about a socket: %s; "
				    "its bytes may be miscounted", pid, strerror(-ret));
	if (st->role != LM_SOCK_MIGRATION || st->family != AF_UNIX_FAMILY || !st->ino ||
	    find_watched(s, pid, st->sk))
		return;
	if (s->nwatched == MAX_WATCHED) {
		lm_pipeline_message(s->pipe, 1, "pid %u: more than %d UNIX migration sockets: "
				    "the end of this migration may be missed", pid, MAX_WATCHED);
		return;
	}
	s->watched[s->nwatched++] = (struct watched_sock){
		.pid = pid, .sk = st->sk, .ino = st->ino, .bytes = st->bytes,
		.last_send_ns = st->last_send_ns };
}

/*
 * A UNIX migration socket that left the VMM's fd table closed at its last
 * send: told to the pipeline as a TCP close is (no tracepoint says it).
 */
static void check_watched(struct session *s)
{
	struct lm_event e = { .kind = LM_EV_SOCK_STATE };
	struct lm_vm_counters sum;
	int i = 0;

	while (i < s->nwatched) {
		struct watched_sock *w = &s->watched[i];

		if (lm_proc_has_socket(w->pid, w->ino) != 0) {
			i++;
			continue;
		}
		e.pid = w->pid;
		e.ts_ns = w->last_send_ns;
		e.sock.sk = w->sk;
		e.sock.family = AF_UNIX_FAMILY;
		e.sock.bytes = w->bytes;
		e.sock.last_send_ns = w->last_send_ns;
		e.sock.oldstate = TCP_ESTABLISHED;
		e.sock.newstate = TCP_CLOSE;
		if (lm_tracer_counters(s->tracer, w->pid, &sum) == 0)
			e.sock.tx_total = sum.tx_bytes;
		lm_pipeline_event(s->pipe, &e);
		*w = s->watched[--s->nwatched];
	}
}

/* The pipeline decided an action: carried out from the loop, never inside a feed. */
static void on_act(void *ctx, uint32_t pid, const struct lm_act_decision *d)
{
	struct session *s = ctx;

	if (s->nacts == MAX_ACTS) {
		lm_pipeline_message(s->pipe, 2, "pid %u: too many actions pending; %s dropped", pid,
				    lm_act_kind_name(d->action));
		return;
	}
	s->acts[s->nacts].pid = pid;
	s->acts[s->nacts].d = *d;
	s->nacts++;
}

static void feed_outcome(struct session *s, uint32_t pid, const struct lm_obs_action *a,
			 const char *why)
{
	struct lm_obs o = { .kind = LM_OBS_ACTION, .pid = pid,
			    .ts_ns = mono_ns() + s->realtime_offset_ns, .action = *a };

	if (why && why[0])
		lm_pipeline_message(s->pipe, 1, "pid %u: %s %s: %s", pid, lm_act_kind_name(a->action),
				    lm_act_outcome_name(a->outcome), why);
	lm_pipeline_feed(s->pipe, &o);
}

/* Why a decision to apply was not handed to the QMP thread. */
static const char *not_sent(int err)
{
	return err == -ESHUTDOWN ? "lmtrace is stopping: not sent" :
	       err == -ENOSPC ? "too many actions queued" : "no QMP connection: not sent";
}

/* Decisions out (a dry run answers at once), outcomes in. */
static void run_actions(struct session *s)
{
	struct lm_obs_action a;
	char why[LM_QMP_WHY_MAX];
	int i, apply = s->opts->act->apply;

	for (i = 0; i < s->nacts; i++) {
		const struct lm_act_decision *d = &s->acts[i].d;
		int err = -ENOTCONN;

		if (apply && s->qmp_open && !(err = lm_qmp_watch_submit(&s->qmp, d)))
			continue;
		a = (struct lm_obs_action){ .action = d->action, .value = d->value, .round = d->round,
					    .outcome = apply ? LM_ACT_FAILED : LM_ACT_DRY_RUN,
					    .error = apply ? err : 0 };
		feed_outcome(s, s->acts[i].pid, &a, apply ? not_sent(err) : "");
	}
	s->nacts = 0;
	while (s->qmp_open && lm_qmp_watch_outcome(&s->qmp, &a, why, sizeof(why)))
		feed_outcome(s, s->opts->pids[0], &a, why);
}

/*
 * --act on the one VM --qmp belongs to: only if the socket's server is that
 * pid (a wrong socket would have lmtrace act on another VM). Applying on a
 * VM it did not identify is an error, before anything else is set up; a
 * dry run says so and goes on.
 */
static int check_act_identity(struct session *s)
{
	const struct lm_session_opts *o = s->opts;
	char who[96];

	s->act_identified = s->qmp.peer_pid == o->pids[0];
	if (s->act_identified)
		return 0;
	if (s->qmp.peer_pid > 0)
		snprintf(who, sizeof(who), "is served by pid %d", s->qmp.peer_pid);
	else
		snprintf(who, sizeof(who), "has no server pid lmtrace can read (%s)",
			 strerror(-s->qmp.peer_pid));
	if (o->act->apply) {
		fprintf(stderr, "lmtrace: --act --apply: the QMP socket %s %s, not by -p %d: lmtrace "
			"acts only on a VM it is sure it identified (give QEMU's own -qmp socket of "
			"that pid)\n", o->qmp_path, who, (int)o->pids[0]);
		return -EINVAL;
	}
	snprintf(s->act_warning, sizeof(s->act_warning), "--act (dry run): the QMP socket %s %s, "
		 "not by pid %d: --apply would refuse to act on it", o->qmp_path, who, (int)o->pids[0]);
	return 0;
}

/* The VM is tracked: its --act settings go to the pipeline (and a recording). */
static void start_act(struct session *s)
{
	const struct lm_session_opts *o = s->opts;
	struct lm_obs obs = { .kind = LM_OBS_ACT_CONFIG, .pid = (uint32_t)o->pids[0] };

	if (s->act_warning[0])
		lm_pipeline_message(s->pipe, 1, "%s", s->act_warning);
	obs.ts_ns = mono_ns() + s->realtime_offset_ns;
	obs.act_config = *o->act;
	obs.act_config.identified = (uint32_t)s->act_identified;
	lm_pipeline_feed(s->pipe, &obs);
	lm_pipeline_on_act(s->pipe, on_act, s);
}

static int add_vm(struct session *s, pid_t pid)
{
	char name[64];
	int pidfd, ret;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	ret = lm_tracer_add_pid(s->tracer, pid);
	if (ret) {
		close(pidfd);
		return ret;
	}
	ret = lm_pipeline_track(s->pipe, pid, lm_tracer_source(s->tracer), s->realtime_offset_ns, pidfd,
				s->opts->port ? LM_TRACK_PORT_FILTER : 0);
	if (ret) {
		lm_tracer_remove_pid(s->tracer, pid);
		close(pidfd);
		return ret;
	}
	lm_proc_name(pid, name, sizeof(name));
	lm_pipeline_set_name(s->pipe, pid, name);
	fprintf(stderr, "lmtrace: Tracing pid %d (%s)\n", (int)pid, name);
	return 0;
}

static int is_tracked(const struct session *s, pid_t pid)
{
	int64_t fd;
	uint32_t p;
	int i;

	for (i = 0; lm_pipeline_tracked(s->pipe, i, &p, &fd); i++)
		if (p == (uint32_t)pid)
			return 1;
	return 0;
}

static void remove_vm(struct session *s, uint32_t pid, int64_t pidfd, uint32_t reason)
{
	struct lm_vm_counters sum;
	int have_sum = lm_tracer_counters(s->tracer, pid, &sum) == 0;

	int i = 0;

	lm_pipeline_untrack(s->pipe, pid, mono_ns(), reason, have_sum ? &sum : NULL);
	lm_tracer_remove_pid(s->tracer, pid);
	close((int)pidfd);
	while (i < s->nwatched) {
		if (s->watched[i].pid == pid)
			s->watched[i] = s->watched[--s->nwatched];
		else
			i++;
	}
}

/* -p given: each pid must exist and be a VMM. */
static int check_pids(const struct lm_session_opts *o)
{
	char name[64];
	int i, ret;

	for (i = 0; i < o->npids; i++) {
		ret = lm_proc_is_vmm(o->pids[i]);
		if (ret == -ESRCH) {
			fprintf(stderr, "lmtrace: pid %d: no such process\n", (int)o->pids[i]);
			return -ESRCH;
		}
		if (ret < 0) {
			fprintf(stderr, "lmtrace: pid %d: cannot read its open files: %s%s\n",
				(int)o->pids[i], strerror(-ret),
				ret == -EACCES ? " (run lmtrace as root)" : "");
			return ret;
		}
		if (ret == 0) {
			lm_proc_name(o->pids[i], name, sizeof(name));
			fprintf(stderr, "lmtrace: pid %d (%s) is not a VMM: it has neither /dev/kvm "
				"nor a KVM VM open\n", (int)o->pids[i], name);
			return -EINVAL;
		}
	}
	return 0;
}

/* --vm: the VMs the user named, by -name or UUID (all without it). */
static int wanted(const struct lm_session_opts *o, pid_t pid)
{
	int i;

	for (i = 0; i < o->nvms; i++)
		if (lm_proc_matches(pid, o->vms[i]))
			return 1;
	return !o->nvms;
}

/* Without -p: pick up VMMs as they appear. */
static void discover_vms(struct session *s)
{
	pid_t pids[LM_MAX_VMS + 1];
	int i, n, full = 0;

	/* the iterator sees VM files without reading every process's fds;
	 * /proc is the way when it cannot run */
	n = lm_vm_scan_find_vmms(s->tracer, pids, LM_MAX_VMS + 1);
	if (n < 0)
		n = lm_proc_find_vmms(pids, LM_MAX_VMS + 1);

	for (i = 0; i < n; i++)
		if (!is_tracked(s, pids[i]) && wanted(s->opts, pids[i]) && add_vm(s, pids[i]) == -ENOSPC)
			full = 1;
	/* said once each time the table fills, not at every scan */
	if (full && !s->full_warned)
		lm_pipeline_message(s->pipe, 1, "more than %d VMMs at once: the others are not traced "
				    "until one exits", LM_MAX_VMS);
	s->full_warned = full;
}

static void report_drops(struct session *s)
{
	struct lm_drops d;

	if (lm_tracer_drops(s->tracer, &d))
		return;
	if (lm_drops_total(&d) > lm_drops_total(&s->drops_seen))
		lm_pipeline_message(s->pipe, 1, "lost %llu events so far (ring buffer full: %llu, "
				    "ioctl map full: %llu, slot map full: %llu, socket map full: %llu): "
				    "numbers may be low",
				    (unsigned long long)lm_drops_total(&d),
				    (unsigned long long)d.ringbuf_full,
				    (unsigned long long)d.pending_full, (unsigned long long)d.slot_map_full,
				    (unsigned long long)d.sock_map_full);
	s->drops_seen = d;
}

/* Parameters first: the estimator sees them before the sample. Never waits on QEMU. */
static void poll_qmp(struct session *s, uint64_t now)
{
	struct lm_obs params;
	char msg[256];

	if (!s->qmp_open)
		return;
	if (lm_qmp_watch_poll(&s->qmp, now + s->realtime_offset_ns, &params, msg, sizeof(msg)))
		lm_pipeline_feed(s->pipe, &params);
	if (msg[0])
		lm_pipeline_message(s->pipe, 1, "%s", msg);
}

static void tick(struct session *s, uint64_t now)
{
	struct lm_vm_counters sum;
	int64_t fd;
	uint32_t pid;
	int i;

	poll_qmp(s, now);
	for (i = 0; lm_pipeline_tracked(s->pipe, i, &pid, &fd); i++) {
		/* what each socket carried, then the sample */
		lm_tracer_sock_bytes(s->tracer, pid, now, on_event, s);
		if (lm_tracer_counters(s->tracer, pid, &sum) == 0)
			lm_pipeline_tick(s->pipe, pid, now, &sum);
	}
	check_watched(s);
	report_drops(s);
}

/* Processes that exited: their last events first, then their end. */
static void reap_exited(struct session *s)
{
	struct pollfd pfd = { .events = POLLIN };
	uint32_t pid;
	int64_t fd;
	int i = 0;

	while (lm_pipeline_tracked(s->pipe, i, &pid, &fd)) {
		pfd.fd = (int)fd;
		if (poll(&pfd, 1, 0) <= 0) {
			i++;
			continue;
		}
		lm_tracer_poll(s->tracer, 0);
		fprintf(stderr, "lmtrace: pid %u exited\n", pid);
		remove_vm(s, pid, fd, LM_END_PROC_EXIT);
		/*
		 * Following every VMM (no -p), VMs come and go for weeks: a gone
		 * one's summary now, then it is forgotten (its series leave
		 * /metrics). With -p lmtrace ends with its VMMs: the last state
		 * stays in every output.
		 */
		if (!s->opts->npids)
			lm_pipeline_retire(s->pipe, pid);
	}
}

static int open_session(struct session *s)
{
	const struct lm_session_opts *o = s->opts;
	struct lm_tracer_opts topts = {
		.port = o->port, .verbose = o->verbose,
		.no_fentry = o->no_fentry, .no_kprobe = o->no_kprobe, .no_send_tp = o->no_send_tp,
	};
	char err[512];
	int i, ret;

	ret = check_pids(o);
	if (ret)
		return ret;
	if (o->qmp_path) {
		ret = lm_qmp_watch_open(&s->qmp, o->qmp_path, o->pids[0],
					(uint64_t)(o->interval_s * 1000), err, sizeof(err));
		if (ret) {
			fprintf(stderr, "lmtrace: %s\n", err);
			return ret;
		}
		s->qmp_open = 1;
		if (o->act) {
			ret = check_act_identity(s);
			if (ret)
				return ret;
		}
	}
	ret = lm_tracer_open(&s->tracer, &topts, on_event, s, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "lmtrace: %s\n", err);
		return ret;
	}
	lm_pipeline_on_sock_role(s->pipe, on_sock_role, s);
	fprintf(stderr, "lmtrace: %s\n", lm_tracer_describe(s->tracer));
	s->realtime_offset_ns = realtime_offset_ns();
	for (i = 0; i < o->npids; i++) {
		ret = add_vm(s, o->pids[i]);
		if (ret) {
			fprintf(stderr, "lmtrace: pid %d: cannot trace it: %s\n", (int)o->pids[i],
				strerror(-ret));
			return ret;
		}
	}
	/* before any migration: the estimator keeps it for the next one */
	if (o->check)
		lm_pipeline_feed(s->pipe, o->check);
	if (o->act)
		start_act(s);
	if (!o->npids) {
		discover_vms(s);
		if (!lm_pipeline_tracked(s->pipe, 0, &(uint32_t){ 0 }, &(int64_t){ 0 }))
			fprintf(stderr, "lmtrace: no process has a KVM VM open yet; waiting for one\n");
	}
	s->scan = (struct lm_vm_scan){ .tracer = s->tracer, .pipe = s->pipe,
				       .always = o->hooks_always };
	/* the VMs' logging known, and the hooks on where needed, before "started" */
	lm_vm_scan_run(&s->scan, mono_ns());
	fprintf(stderr, "lmtrace: Tracing started. Ctrl-C to stop.\n");
	return 0;
}

static int run_loop(struct session *s, volatile sig_atomic_t *stop)
{
	const struct lm_session_opts *o = s->opts;
	uint64_t interval_ns = o->interval_s * 1e9, start, now, next_tick, next_scan, wake;
	int ret = 0;

	s->started = 1;
	start = now = mono_ns();
	next_tick = start + interval_ns;
	next_scan = start + LM_SCAN_PERIOD_NS;
	while (!*stop) {
		int timeout;

		if (now >= next_scan) {
			lm_vm_scan_run(&s->scan, now);
			next_scan = now + LM_SCAN_PERIOD_NS;
		}
		wake = next_tick < next_scan ? next_tick : next_scan;
		timeout = (int)((wake > now ? wake - now : 0) / 1000000);

		if (lm_pipeline_busy(s->pipe) && timeout > POLL_MAX_MS)
			timeout = POLL_MAX_MS;
		ret = lm_tracer_poll(s->tracer, timeout);
		if (ret < 0) {
			fprintf(stderr, "lmtrace: reading events failed: %s\n", strerror(-ret));
			return ret;
		}
		now = mono_ns();
		lm_pipeline_poll(s->pipe, now);
		if (now >= next_tick) {
			tick(s, now);
			next_tick += interval_ns;
			if (next_tick < now)
				next_tick = now + interval_ns;
			if (!o->npids)
				discover_vms(s);
		}
		reap_exited(s);
		if (o->act)
			run_actions(s);
		if (lm_pipeline_error(s->pipe)) {
			/* a closed pipe (lmtrace -j | head) or a full disk: nothing to write to */
			fprintf(stderr, "lmtrace: writing output failed: %s; stopping\n",
				strerror(-lm_pipeline_error(s->pipe)));
			return lm_pipeline_error(s->pipe);
		}
		if (o->npids && !lm_pipeline_tracked(s->pipe, 0, &(uint32_t){ 0 }, &(int64_t){ 0 }))
			break;	/* every traced VMM is gone */
		if (o->duration_s > 0 && now - start >= o->duration_s * 1e9)
			break;
	}
	return 0;
}

/* Stopping: the last decisions (a release) carried out and accounted for, within a bound. */
static void drain_actions(struct session *s)
{
	uint64_t until = mono_ns() + ACT_DRAIN_MS * 1000000ull;

	run_actions(s);
	while (s->qmp_open && !lm_qmp_watch_idle(&s->qmp) && mono_ns() < until)
		usleep(20000);
	run_actions(s);
	if (!s->qmp_open)
		return;
	/* QEMU slower than that: the thread ends once its jobs are done, and their outcomes are told */
	if (!lm_qmp_watch_idle(&s->qmp))
		lm_pipeline_message(s->pipe, 1, "waiting for QEMU to answer --act's last commands");
	lm_qmp_watch_stop(&s->qmp);
	run_actions(s);
}

/* Ctrl-C or -d: close what is open, say nothing ended that did not. */
static void close_session(struct session *s)
{
	uint32_t pid;
	int64_t fd;

	if (s->started) {
		lm_tracer_poll(s->tracer, 0);
		lm_pipeline_poll(s->pipe, mono_ns() + LM_END_SETTLE_NS + LM_BURST_GAP_NS + 1);
		report_drops(s);
		fprintf(stderr, "lmtrace: %llu events lost\n",
			(unsigned long long)lm_drops_total(&s->drops_seen));
		while (lm_pipeline_tracked(s->pipe, 0, &pid, &fd))
			remove_vm(s, pid, fd, LM_END_TRACE_STOP);
		if (s->opts->act)
			drain_actions(s);
	}
	if (s->qmp_open)
		lm_qmp_watch_close(&s->qmp);
	lm_tracer_close(s->tracer);
}

int lm_session_run(const struct lm_session_opts *opts, struct lm_pipeline *pipe,
		   volatile sig_atomic_t *stop)
{
	struct session s = { .opts = opts, .pipe = pipe };
	int ret;

	ret = open_session(&s);
	if (!ret)
		ret = run_loop(&s, stop);
	close_session(&s);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Telling the migration's sockets from the VMM's others (rules in streams.h). */
#include <string.h>
#include "core/streams.h"


void lm_streams_init(struct lm_streams *ss, int fixed_roles)
{
	memset(ss, 0, sizeof(*ss));
	ss->fixed = fixed_roles;
}

static struct lm_stream *find(struct lm_streams *ss, uint64_t sk)
{
	uint32_t i;

	for (i = 0; i < ss->n; i++)
		if (ss->s[i].sk == sk)
			return &ss->s[i];
	return NULL;
}

static struct lm_stream *add(struct lm_streams *ss, const struct lm_event *e)
{
	struct lm_stream *s;

	if (ss->n >= LM_MAX_STREAMS_PER_VM) {
		ss->untracked++;
		return NULL;
	}
	s = &ss->s[ss->n++];
	memset(s, 0, sizeof(*s));
	s->sk = e->sock.sk;
	s->first_ns = e->ts_ns;
	s->role = e->sock.role;
	/* --port: BPF applied the user's choice; nothing to decide */
	s->decided = ss->fixed;
	s->told = 1;	/* nothing to tell BPF until a decision */
	return s;
}

struct lm_stream *lm_streams_update(struct lm_streams *ss, const struct lm_event *e)
{
	struct lm_stream *s = find(ss, e->sock.sk);

	/* the first send (oldstate 0) or anything else about a socket not met yet */
	if (!s)
		s = add(ss, e);
	if (!s)
		return NULL;
	if (e->sock.family)
		s->family = e->sock.family;
	if (e->sock.ino)
		s->ino = e->sock.ino;
	if (e->sock.bytes > s->bytes)
		s->bytes = e->sock.bytes;
	if (e->sock.last_send_ns > s->last_send_ns)
		s->last_send_ns = e->sock.last_send_ns;
	if (!s->decided && e->kind == LM_EV_SOCK_BYTES)
		s->role = e->sock.role;	/* BPF's current view, until we decide */
	return s;
}

static void decide(struct lm_stream *s, uint16_t role)
{
	if (s->decided)
		return;
	s->decided = 1;
	/* BPF must hear it unless it already counts it this way and stays so */
	s->told = 0;
	s->role = role;
}

/* Candidates: sockets not decided yet that may be the migration's. */
static int is_candidate(const struct lm_stream *s, int window, uint64_t window_start_ns)
{
	if (s->decided)
		return 0;
	return window == 2 || s->first_ns + LM_STREAM_PRE_WINDOW_NS >= window_start_ns;
}

/* What a socket carried since the window opened. */
static uint64_t since_window(const struct lm_stream *s)
{
	return s->bytes > s->base ? s->bytes - s->base : 0;
}

static uint64_t busiest(const struct lm_streams *ss, int window, uint64_t window_start_ns)
{
	uint64_t max = 0;
	uint32_t i;

	for (i = 0; i < ss->n; i++)
		if ((is_candidate(&ss->s[i], window, window_start_ns) ||
		     (ss->s[i].decided && ss->s[i].role == LM_SOCK_MIGRATION)) &&
		    since_window(&ss->s[i]) > max)
			max = since_window(&ss->s[i]);
	return max;
}

/* A new window: from now on sockets are judged on what they carry in it. */
static void open_window(struct lm_streams *ss, uint64_t window_start_ns)
{
	uint32_t i;

	ss->window_start_ns = window_start_ns;
	for (i = 0; i < ss->n; i++)
		ss->s[i].base = ss->s[i].first_ns >= window_start_ns ? 0 : ss->s[i].bytes;
}

void lm_streams_decide(struct lm_streams *ss, uint64_t now_ns, int window, uint64_t window_start_ns)
{
	uint64_t max, since, carried;
	uint32_t i;

	if (window && window_start_ns != ss->window_start_ns)
		open_window(ss, window_start_ns);
	max = busiest(ss, window, window_start_ns);
	for (i = 0; i < ss->n; i++) {
		struct lm_stream *s = &ss->s[i];

		if (s->decided)
			continue;
		since = s->first_ns > window_start_ns ? s->first_ns : window_start_ns;
		carried = since_window(s);
		if (!window) {
			/* BPF's guess after logging went on without a migration (display, dirty-rate) */
			if (s->role == LM_SOCK_MIGRATION && now_ns > s->first_ns + LM_STREAM_CONFIRM_NS)
				decide(s, LM_SOCK_UNDECIDED);
		} else if (!is_candidate(s, window, window_start_ns)) {
			decide(s, LM_SOCK_OTHER);
		} else if (carried >= LM_STREAM_MIN_BYTES && carried * LM_STREAM_PEER_SHARE >= max) {
			decide(s, LM_SOCK_MIGRATION);
		} else if (now_ns > since + LM_STREAM_CONFIRM_NS) {
			decide(s, carried && carried * LM_STREAM_PEER_SHARE >= max ?
				  LM_SOCK_MIGRATION : LM_SOCK_OTHER);
		}
	}
}

int lm_streams_next_decision(struct lm_streams *ss, const struct lm_stream **out)
{
	uint32_t i;

	for (i = 0; i < ss->n; i++) {
		struct lm_stream *s = &ss->s[i];

		if (s->told)
			continue;
		s->told = 1;
		/* an undone guess is undecided again: a later migration may claim it */
		if (s->role == LM_SOCK_UNDECIDED)
			s->decided = 0;
		*out = s;
		return 1;
	}
	return 0;
}

int lm_streams_is_migration(const struct lm_streams *ss, uint64_t sk)
{
	const struct lm_stream *s = find((struct lm_streams *)ss, sk);

	return s && s->role == LM_SOCK_MIGRATION;
}

int lm_streams_confirmed(const struct lm_streams *ss)
{
	uint32_t i;

	for (i = 0; i < ss->n; i++)
		if (ss->s[i].role == LM_SOCK_MIGRATION && (ss->s[i].decided || ss->fixed) &&
		    since_window(&ss->s[i]) >= LM_STREAM_MIN_BYTES)
			return 1;
	return 0;
}

void lm_streams_prune(struct lm_streams *ss)
{
	uint32_t i = 0;

	while (i < ss->n) {
		if (ss->s[i].closed)
			ss->s[i] = ss->s[--ss->n];
		else
			i++;
	}
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which of a VMM's stream sockets carry its migration. QEMU may migrate over
 * TCP (one connection, or several multifd channels), over a UNIX socket (as
 * KubeVirt does), or over a socket a management layer opened and passed in;
 * the same VMM also talks QMP, VNC/SPICE, NBD and chardevs on other sockets.
 * The rules, all on what the kernel shows:
 *  - With --port the user decided (BPF applies it): nothing to do here.
 *  - A socket that was already sending well before dirty logging was
 *    switched on (LM_STREAM_PRE_WINDOW_NS) is not the migration's.
 *  - The others that send during the migration are candidates, judged on
 *    what they carried since logging went on: one becomes a migration stream
 *    once it carried LM_STREAM_MIN_BYTES and at least 1/LM_STREAM_PEER_SHARE
 *    of the busiest (multifd's channels share the load; a display sending
 *    screens carries a fraction of a migration); after LM_STREAM_CONFIRM_NS
 *    the busiest is one whatever it carried (a slow link), and the rest are
 *    not (QMP replies, an idle or slow display).
 * BPF counts a socket that starts sending right after logging was switched
 * on as the migration's from its first byte (so round 1's bytes are exact)
 * until a decision here says otherwise. Pure: times come with the events.
 */
#ifndef LM_STREAMS_H
#define LM_STREAMS_H

#include <stdint.h>
#include "lmtrace.h"

/* Sockets tracked per VMM (QEMU has a handful; multifd adds up to 255 channels). */
#define LM_MAX_STREAMS_PER_VM	256
/* QEMU may flush its stream header just before it switches logging on. */
#define LM_STREAM_PRE_WINDOW_NS		(2ull * 1000 * 1000 * 1000)
/* A migration stream carries this much within seconds on any usable link. */
#define LM_STREAM_MIN_BYTES		(1ull << 20)
/* How long a candidate has to show what it carries. */
#define LM_STREAM_CONFIRM_NS		(3ull * 1000 * 1000 * 1000)
/* multifd channels carry similar shares: 1/4 of the busiest is one of them. */
#define LM_STREAM_PEER_SHARE		4

struct lm_stream {
	uint64_t sk;		/* kernel address, an identity only */
	uint64_t ino;		/* socket:[ino] in /proc/PID/fd */
	uint64_t first_ns;	/* first send seen */
	uint64_t last_send_ns;
	uint64_t bytes;		/* sent since lmtrace saw it */
	uint64_t base;		/* bytes when the current dirty-logging window opened */
	uint16_t family;
	uint16_t role;		/* enum lm_sock_role: decided here, else BPF's provisional one */
	uint8_t decided;	/* role is final */
	uint8_t told;		/* the decision was handed out (lm_streams_next_decision) */
	uint8_t closed;
};

struct lm_streams {
	struct lm_stream s[LM_MAX_STREAMS_PER_VM];
	uint32_t n;
	uint32_t untracked;	/* sockets past the table's size */
	uint64_t window_start_ns;	/* of the window the bases belong to */
	int fixed;		/* --port: BPF's roles are final */
};

void lm_streams_init(struct lm_streams *ss, int fixed_roles);
/* A socket event (first send, TCP state, bytes update); NULL if untracked. */
struct lm_stream *lm_streams_update(struct lm_streams *ss, const struct lm_event *e);
/*
 * Apply the rules at now_ns. window: 0 no migration under way (only BPF's
 * provisional guesses are undone after a while), 1 dirty logging switched on
 * at window_start_ns, 2 a migration found under way (late attach: every
 * socket seen is a candidate).
 */
void lm_streams_decide(struct lm_streams *ss, uint64_t now_ns, int window, uint64_t window_start_ns);
/* 1 and the next decision not handed out yet (then marked handed out), else 0. */
int lm_streams_next_decision(struct lm_streams *ss, const struct lm_stream **out);
/* The socket is (or for now counts as) one of the migration's. */
int lm_streams_is_migration(const struct lm_streams *ss, uint64_t sk);
/* A migration stream was found by what it carried (not only BPF's guess). */
int lm_streams_confirmed(const struct lm_streams *ss);
/* Forget sockets that closed (between migrations). */
void lm_streams_prune(struct lm_streams *ss);

#endif /* LM_STREAMS_H */

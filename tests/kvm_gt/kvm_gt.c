// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kvm_gt: the exact ground truth for lmtrace's dirty-page and byte counts.
 *
 * A tiny VMM (after the kernel's KVM selftests, dirty_log_test.c) that does
 * what QEMU's migration does as seen from the kernel: memslots created
 * without logging; at "migration start" every slot re-registered with
 * KVM_MEM_LOG_DIRTY_PAGES; round 1 = a KVM_GET_DIRTY_LOG burst; then per
 * round the guest writes a known set of pages and the host harvests them
 * with another burst (plus KVM_CLEAR_DIRTY_LOG in manual-protect mode), and
 * sends a known number of bytes over loopback TCP; at the end logging is
 * turned off (QEMU's cancel) and the socket closed. It checks every bitmap
 * KVM returns against what the guest wrote and prints the truth as JSON
 * lines; --compare checks lmtrace's JSON output against that truth.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm_gt_compare.h"
#include "kvm_gt_net.h"
#include "kvm_gt_plan.h"
#include "kvm_gt_vm.h"

#define GT_MAX_ROUNDS_OPT	1024
#define GT_SIGNAL_TIMEOUT_S	120
#define GT_PRELOGGED_SLOT_GPA	0x8000000ull	/* 128 MiB, right after them */
#define GT_HUGE_SLOT_GPA	0x10000000ull	/* 256 MiB, above the fixed slots */
/* Bytes sent per round are capped so a huge slot's round 1 stays quick. */
#define GT_MAX_PAGES_SENT	32768ull
#define GT_HEADER_BYTES		4113ull
/* --rounds entry "same": rewrite exactly the previous round's pages. */
#define GT_ROUND_SAME		UINT64_MAX

/* The fixed slots: different sizes, not contiguous in guest-physical space. */
static const struct { uint64_t gpa, size; } fixed_slots[] = {
	{ 0x0,        2ull << 20 },
	{ 0x1000000, 16ull << 20 },
	{ 0x4000000, 64ull << 20 },
};

#define GT_DEFAULT_ROUNDS "10,200,same,240,1000,0,3000,17"

static const char usage[] =
"Usage: kvm_gt [OPTIONS]\n"
"       kvm_gt --compare TRUTH.jsonl LMTRACE.jsonl [--sampled] [--bytes-lag]\n"
"\n"
"A tiny VMM on /dev/kvm that migrates nowhere but looks like QEMU's migration\n"
"to the kernel, and prints the exact dirty pages per round and bytes sent as\n"
"JSON lines (the ground truth lmtrace is tested against).\n"
"\n"
"  --mode plain|manual   plain: GET clears; manual: MANUAL_DIRTY_LOG_PROTECT2 with\n"
"                        INITIALLY_SET, GET then CLEAR like QEMU (default plain)\n"
"  --repeat              end with a second GET burst without CLEAR and without new\n"
"                        writes (QEMU's completion sync): 0 new pages\n"
"  --repeat-writes N     before that completion sync, the guest writes N pages that\n"
"                        were not dirty in the previous one (default 0)\n"
"  --rounds N,N,...      unique pages the guest writes before each sync from round 2\n"
"                        on; \"same\" rewrites the previous round's pages\n"
"                        (default " GT_DEFAULT_ROUNDS ")\n"
"  --dup-pct P           also write P %% of them a second time (default 10)\n"
"  --seed S              page choice seed (default 1)\n"
"  --round-gap-ms MS     pause before each round (default 100)\n"
"  --port PORT           the receiver's loopback port (default: any free one)\n"
"  --bytes-per-page B    bytes sent per dirty page of a round (default 4096)\n"
"  --prelogged-slot-mib N  add an N MiB (<= 128) slot with logging on from creation,\n"
"                        never toggled, like QEMU's VGA VRAM: a tracer learns its\n"
"                        size only from the kernel\n"
"  --huge-slot-gib N     add an N GiB sparse slot (MAP_NORESERVE) at 256 MiB\n"
"  --wait-signal         print 'ready pid=N port=P' and wait for SIGUSR1 before\n"
"                        the migration starts (to let a tracer attach)\n"
"  --linger-ms MS        stay alive this long after the end (default 200)\n"
"  --compare T L         compare lmtrace output L with truth T; --sampled: dirty\n"
"                        pages of rounds >= 2 are estimates (huge slot), held\n"
"                        to 1 % + 2 pages; --bytes-lag: bytes up to each round\n"
"                        may be one round late (hooks on demand, no --port)\n"
"\n"
"Exit status: 0 ok, 1 KVM or lmtrace disagreed with the truth, 2 usage or setup error.\n";

struct gt_opts {
	bool manual, repeat, wait_signal;
	uint64_t rounds[GT_MAX_ROUNDS_OPT];
	unsigned nrounds;
	unsigned dup_pct, round_gap_ms, linger_ms;
	uint64_t seed, bytes_per_page, huge_slot_gib, repeat_writes, prelogged_slot_mib;
	uint16_t port;
};

struct gt_state {
	struct gt_opts *o;
	struct gt_vm vm;
	struct gt_net net;
	struct gt_plan plan;
	uint64_t *prev[GT_MAX_SLOTS];	/* bitmaps of the previous GET (repeat check) */
	uint64_t ram_pages, dirty_sum;
	uint64_t sync_ns;		/* the last GET burst, as this VMM saw it */
	uint64_t sent_at_sync;		/* net.sent at the last GET burst */
	unsigned round;
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return (errno || end == s || *end || s[0] == '-') ? -EINVAL : 0;
}

static int parse_rounds(const char *s, struct gt_opts *o)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	o->nrounds = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nrounds >= GT_MAX_ROUNDS_OPT) {
			err = -EINVAL;
			break;
		}
		if (!strcmp(tok, "same")) {
			o->rounds[o->nrounds++] = GT_ROUND_SAME;
			continue;
		}
		if (parse_u64(tok, &o->rounds[o->nrounds++])) {
			err = -EINVAL;
			break;
		}
	}
	free(copy);
	return err;
}

/* The bitmap KVM must return for slot i in this round. */
static void expected_bitmap(struct gt_state *st, unsigned i, bool first, bool repeat,
			    uint64_t *out)
{
	const struct gt_slot *s = &st->vm.slots[i];
	size_t bytes = s->bitmap_words * sizeof(uint64_t);

	if (first && st->vm.manual_protect) {
		/* INITIALLY_SET: every page of the slot, nothing past its end. */
		memset(out, 0, bytes);
		for (uint64_t p = 0; p < s->npages; p++)
			out[p / 64] |= 1ull << (p % 64);
	} else if (first && s->always_log) {
		/* Logged since creation: the pre-migration writes are there. */
		memcpy(out, st->plan.expected[i], bytes);
	} else if (first) {
		memset(out, 0, bytes);		/* nothing written since logging on */
	} else if (repeat && st->vm.manual_protect) {
		/* No CLEAR since the previous GET: its bits stay, new ones add. */
		for (uint64_t w = 0; w < s->bitmap_words; w++)
			out[w] = st->prev[i][w] | st->plan.expected[i][w];
	} else {
		memcpy(out, st->plan.expected[i], bytes);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Compares KVM's bitmap with the expected one; prints the first difference. */
static int verify_slot(struct gt_state *st, unsigned i, const uint64_t *want)
{
	const struct gt_slot *s = &st->vm.slots[i];

	for (uint64_t w = 0; w < s->bitmap_words; w++) {
		uint64_t diff = s->bitmap[w] ^ want[w];

		if (!diff)
			continue;
		fprintf(stderr, "kvm_gt: round %u slot %u: KVM returned %" PRIu64
			" dirty pages, expected %" PRIu64 "; first difference at page %" PRIu64
			" (KVM %s it)\n", st->round, s->id,
			gt_bitmap_popcount(s->bitmap, s->bitmap_words),
			gt_bitmap_popcount(want, s->bitmap_words),
			w * 64 + (uint64_t)__builtin_ctzll(diff),
			(s->bitmap[w] & diff & -diff) ? "set" : "did not set");
		return -EIO;
	}
	return 0;
}

/* One sync: a GET burst over all slots, checked, then CLEARs (manual mode). */
static int harvest(struct gt_state *st, bool first, bool repeat, bool clear)
{
	uint64_t *want = NULL, t0;
	int err = 0;

	st->round++;
	t0 = now_ns();
	for (unsigned i = 0; i < st->vm.nslots && !err; i++)
		err = gt_vm_get_dirty_log(&st->vm, i);
	st->sync_ns = now_ns() - t0;
	for (unsigned i = 0; i < st->vm.nslots && !err; i++) {
		const struct gt_slot *s = &st->vm.slots[i];

		free(want);
		want = malloc(s->bitmap_words * sizeof(uint64_t));
		if (!want) {
			err = -ENOMEM;
			break;
		}
		expected_bitmap(st, i, first, repeat, want);
		err = verify_slot(st, i, want);
		memcpy(st->prev[i], s->bitmap, s->bitmap_words * sizeof(uint64_t));
	}
	for (unsigned i = 0; i < st->vm.nslots && !err && clear; i++)
		err = gt_vm_clear_dirty_log(&st->vm, i);
	free(want);
	return err;
}

/*
 * One round's line. Its tx_bytes are those sent since the previous sync (the
 * interval that ends with this one, as lmtrace's duration_s and tx_bytes
 * are); sending is synchronous and done long before the next burst, so the
 * split is exact.
 */
static void report_round(struct gt_state *st, uint64_t dirty_pages, bool repeat)
{
	printf("{\"round\":%u,\"dirty_pages\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
	       ",\"slots\":%u,\"sync_ms\":%.3f%s}\n", st->round, dirty_pages,
	       st->net.sent - st->sent_at_sync, st->vm.nslots, st->sync_ns / 1e6,
	       repeat ? ",\"repeat\":true" : "");
	st->sent_at_sync = st->net.sent;
}

/* What QEMU sends after a sync: the pages it found, plus some odd amount. */
static int send_round_data(struct gt_state *st, uint64_t pages)
{
	uint64_t bytes = (pages < GT_MAX_PAGES_SENT ? pages : GT_MAX_PAGES_SENT) *
			 st->o->bytes_per_page + 1000 + st->round;

	return gt_net_send(&st->net, bytes);
}

static int wait_for_go(const struct gt_state *st)
{
	struct timespec timeout = { .tv_sec = GT_SIGNAL_TIMEOUT_S };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	printf("ready pid=%d port=%u\n", (int)getpid(), st->net.port);
	fflush(stdout);
	if (sigtimedwait(&set, NULL, &timeout) != SIGUSR1) {
		fprintf(stderr, "kvm_gt: no SIGUSR1 within %d s, giving up\n", GT_SIGNAL_TIMEOUT_S);
		return -ETIMEDOUT;
	}
	return 0;
}

static int setup_vm(struct gt_state *st)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	int err;

	err = gt_vm_create(&st->vm, st->o->manual);
	for (unsigned i = 0; i < sizeof(fixed_slots) / sizeof(fixed_slots[0]) && !err; i++)
		err = gt_vm_add_slot(&st->vm, fixed_slots[i].gpa, fixed_slots[i].size, false);
	if (!err && st->o->prelogged_slot_mib)
		err = gt_vm_add_slot(&st->vm, GT_PRELOGGED_SLOT_GPA,
				     st->o->prelogged_slot_mib << 20, true);
	if (!err && st->o->huge_slot_gib)
		err = gt_vm_add_slot(&st->vm, GT_HUGE_SLOT_GPA, st->o->huge_slot_gib << 30,
				     false);
	if (!err)
		err = gt_vm_setup_vcpu(&st->vm);
	if (!err)
		err = gt_plan_init(&st->plan, &st->vm);
	for (unsigned i = 0; i < st->vm.nslots && !err; i++) {
		st->prev[i] = calloc(st->vm.slots[i].bitmap_words, sizeof(uint64_t));
		if (!st->prev[i])
			err = -ENOMEM;
		st->ram_pages += st->vm.slots[i].npages;
	}
	/* The guest runs before the migration too: none of this may show up. */
	if (!err)
		err = gt_plan_round(&st->plan, &st->vm, &rng, 100, 10, NULL);
	if (!err)
		err = gt_vm_write_pages(&st->vm, st->plan.gpas, st->plan.nwrites);
	return err;
}

static int migrate(struct gt_state *st)
{
	struct gt_opts *o = st->o;
	uint64_t rng = o->seed ? o->seed : 1;
	int err;

	err = gt_net_connect(&st->net);
	if (!err)
		err = gt_vm_set_logging(&st->vm, true);	/* migration start */
	/* QEMU's stream header and setup section go out before the first sync. */
	if (!err)
		err = gt_net_send(&st->net, GT_HEADER_BYTES);
	if (!err)
		err = harvest(st, true, false, o->manual);
	if (!err) {
		report_round(st, st->ram_pages, false);
		err = send_round_data(st, st->ram_pages);	/* the bulk pass */
	}

	for (unsigned r = 0; r < o->nrounds && !err; r++) {
		/* Before the completion sync QEMU does not clear: nor do we. */
		bool last_before_repeat = o->repeat && r + 1 == o->nrounds;

		sleep_ms(o->round_gap_ms);
		if (o->rounds[r] != GT_ROUND_SAME)	/* else the same list again */
			err = gt_plan_round(&st->plan, &st->vm, &rng, o->rounds[r],
					    o->dup_pct, NULL);
		if (err == -E2BIG)
			fprintf(stderr, "kvm_gt: %" PRIu64 " pages (+%u %%) do not fit one round\n",
				o->rounds[r], o->dup_pct);
		if (!err)
			err = gt_vm_write_pages(&st->vm, st->plan.gpas, st->plan.nwrites);
		if (!err)
			err = harvest(st, false, false, o->manual && !last_before_repeat);
		if (!err) {
			report_round(st, st->plan.unique, false);
			err = send_round_data(st, st->plan.unique);
		}
		st->dirty_sum += st->plan.unique;
	}
	if (!err && o->repeat) {
		sleep_ms(o->round_gap_ms);
		/* Only pages not dirty at the previous GET, so the count is exact
		 * whether one reads it as "new bits" or "pages written". */
		err = gt_plan_round(&st->plan, &st->vm, &rng, o->repeat_writes, o->dup_pct,
				    st->prev);
		if (!err)
			err = gt_vm_write_pages(&st->vm, st->plan.gpas, st->plan.nwrites);
		if (!err)
			err = harvest(st, false, true, false);
		if (!err) {
			report_round(st, st->plan.unique, true);
			err = send_round_data(st, st->plan.unique);
		}
		st->dirty_sum += st->plan.unique;
	}
	if (!err) {
		sleep_ms(o->round_gap_ms);
		err = gt_vm_set_logging(&st->vm, false);	/* migration cancel */
	}
	return err;
}

static int run(struct gt_opts *o)
{
	struct gt_state st = { .o = o };
	uint64_t received = 0;
	int err, ret = 2;

	/* The receiver forks first, so it never holds /dev/kvm. */
	err = gt_net_start_receiver(&st.net, o->port);
	if (err)
		return 2;
	err = setup_vm(&st);
	if (err)
		goto cleanup;
	if (o->wait_signal) {
		err = wait_for_go(&st);
		if (err)
			goto cleanup;
	}
	err = migrate(&st);
	if (err) {
		ret = err == -EIO ? 1 : 2;
		goto cleanup;
	}
	err = gt_net_finish(&st.net, &received);
	if (err)
		goto cleanup;
	if (received != st.net.sent) {
		fprintf(stderr, "kvm_gt: sent %" PRIu64 " bytes but the receiver counted %" PRIu64 "\n",
			st.net.sent, received);
		ret = 1;
		goto cleanup;
	}
	printf("{\"summary\":true,\"rounds\":%u,\"dirty_pages\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
	       ",\"ram_bytes\":%" PRIu64 ",\"pid\":%d,\"port\":%u,\"mode\":\"%s\",\"repeat\":%s}\n",
	       st.round, st.dirty_sum, received, st.ram_pages * (uint64_t)GT_PAGE_SIZE, (int)getpid(),
	       st.net.port, o->manual ? "manual" : "plain", o->repeat ? "true" : "false");
	fflush(stdout);
	sleep_ms(o->linger_ms);
	ret = 0;
cleanup:
	gt_net_abort(&st.net);
	gt_plan_free(&st.plan, &st.vm);
	for (unsigned i = 0; i < GT_MAX_SLOTS; i++)
		free(st.prev[i]);
	gt_vm_destroy(&st.vm);
	return ret;
}

int main(int argc, char **argv)
{
	enum { OPT_MODE = 256, OPT_REPEAT, OPT_ROUNDS, OPT_DUP, OPT_SEED, OPT_GAP, OPT_PORT,
	       OPT_BPP, OPT_HUGE, OPT_WAIT, OPT_LINGER, OPT_COMPARE, OPT_SAMPLED, OPT_LAG,
	       OPT_REPEAT_WRITES, OPT_PRELOGGED };
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "repeat", no_argument, NULL, OPT_REPEAT },
		{ "repeat-writes", required_argument, NULL, OPT_REPEAT_WRITES },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "dup-pct", required_argument, NULL, OPT_DUP },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "round-gap-ms", required_argument, NULL, OPT_GAP },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "bytes-per-page", required_argument, NULL, OPT_BPP },
		{ "huge-slot-gib", required_argument, NULL, OPT_HUGE },
		{ "prelogged-slot-mib", required_argument, NULL, OPT_PRELOGGED },
		{ "wait-signal", no_argument, NULL, OPT_WAIT },
		{ "linger-ms", required_argument, NULL, OPT_LINGER },
		{ "compare", no_argument, NULL, OPT_COMPARE },
		{ "sampled", no_argument, NULL, OPT_SAMPLED },
		{ "bytes-lag", no_argument, NULL, OPT_LAG },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct gt_opts o = { .dup_pct = 10, .round_gap_ms = 100, .linger_ms = 200,
			     .seed = 1, .bytes_per_page = 4096 };
	struct gt_compare_opts cmp = { 0 };
	bool compare = false;
	uint64_t v;
	sigset_t set;
	int c;

	parse_rounds(GT_DEFAULT_ROUNDS, &o);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case OPT_MODE:
			o.manual = !strcmp(optarg, "manual");
			bad = !o.manual && strcmp(optarg, "plain");
			break;
		case OPT_REPEAT: o.repeat = true; break;
		case OPT_REPEAT_WRITES: bad = parse_u64(optarg, &o.repeat_writes); break;
		case OPT_ROUNDS: bad = parse_rounds(optarg, &o); break;
		case OPT_DUP: bad = parse_u64(optarg, &v) || v > 100; o.dup_pct = (unsigned)v; break;
		case OPT_SEED: bad = parse_u64(optarg, &o.seed); break;
		case OPT_GAP: bad = parse_u64(optarg, &v) || v > 60000; o.round_gap_ms = (unsigned)v; break;
		case OPT_PORT: bad = parse_u64(optarg, &v) || v > 65535; o.port = (uint16_t)v; break;
		case OPT_BPP: bad = parse_u64(optarg, &o.bytes_per_page) || o.bytes_per_page > (1 << 20); break;
		case OPT_HUGE: bad = parse_u64(optarg, &o.huge_slot_gib) || o.huge_slot_gib > 4096; break;
		case OPT_PRELOGGED: bad = parse_u64(optarg, &o.prelogged_slot_mib) ||
					  o.prelogged_slot_mib > 128; break;
		case OPT_WAIT: o.wait_signal = true; break;
		case OPT_LINGER: bad = parse_u64(optarg, &v) || v > 60000; o.linger_ms = (unsigned)v; break;
		case OPT_COMPARE: compare = true; break;
		case OPT_SAMPLED: cmp.sampled = true; break;
		case OPT_LAG: cmp.bytes_lag = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: bad = 1; break;
		}
		if (bad) {
			fprintf(stderr, "kvm_gt: bad option or value (%s)\n%s", optarg ? optarg : "", usage);
			return 2;
		}
	}
	if (compare) {
		if (argc - optind != 2) {
			fprintf(stderr, "kvm_gt: --compare needs TRUTH.jsonl and LMTRACE.jsonl\n");
			return 2;
		}
		cmp.truth_path = argv[optind];
		cmp.lmtrace_path = argv[optind + 1];
		return gt_compare(&cmp);
	}
	if (optind != argc) {
		fprintf(stderr, "kvm_gt: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	/* Blocked from the start, so an early SIGUSR1 waits instead of killing us. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run(&o);
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * kvm_gt --compare: checks lmtrace's JSON lines against kvm_gt's ground truth
 * and prints every difference. Returns 0 when everything matched, 1 on a
 * mismatch, 2 when a file cannot be read.
 */
#ifndef KVM_GT_COMPARE_H
#define KVM_GT_COMPARE_H

#include <stdbool.h>

struct gt_compare_opts {
	const char *truth_path;
	const char *lmtrace_path;
	/* Huge slots: rounds >= 2 are sampled estimates, so their dirty pages
	 * are held to 1 % + 2 pages, not exactness; lmtrace must say they were
	 * sampled. */
	bool sampled;
	/* Hooks on demand, the stream found by lmtrace (no --port): bytes sent
	 * before lmtrace read that logging came on count at the stream's next
	 * send, at most one round late: up to each round, lmtrace's bytes lie
	 * between the truth's up to the round before and up to this one. */
	bool bytes_lag;
};

int gt_compare(const struct gt_compare_opts *opts);

#endif

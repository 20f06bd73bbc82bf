/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * kvm_gt's round plans: which guest pages to write in a round (a known set of
 * unique pages, some listed twice) and the dirty bitmap KVM must return for it.
 */
#ifndef KVM_GT_PLAN_H
#define KVM_GT_PLAN_H

#include <stdint.h>

#include "kvm_gt_vm.h"

struct gt_plan {
	uint32_t *gpas;		/* write order, duplicates included */
	uint32_t nwrites;
	uint64_t unique;	/* distinct pages in gpas */
	/* Per slot: one bit per page that the guest writes. */
	uint64_t *expected[GT_MAX_SLOTS];
};

int gt_plan_init(struct gt_plan *p, const struct gt_vm *vm);
/* Chooses `unique` distinct writable pages spread over all slots (slot first,
 * then page, so small slots get hit too), lists dup_pct % of them a second
 * time and shuffles. Pages set in exclude[slot] (may be NULL) are never
 * chosen. rng is the xorshift state; -E2BIG if it cannot fit. */
int gt_plan_round(struct gt_plan *p, const struct gt_vm *vm, uint64_t *rng,
		  uint64_t unique, unsigned dup_pct, uint64_t *const *exclude);
void gt_plan_free(struct gt_plan *p, const struct gt_vm *vm);

#endif

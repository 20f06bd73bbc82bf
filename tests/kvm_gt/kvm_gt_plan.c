// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* kvm_gt's round plans: see kvm_gt_plan.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_gt_plan.h"

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic for a given --seed, no libc state. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

int gt_plan_init(struct gt_plan *p, const struct gt_vm *vm)
{
	memset(p, 0, sizeof(*p));
	p->gpas = calloc(GT_MAX_LIST, sizeof(*p->gpas));
	if (!p->gpas)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->nslots; i++) {
		p->expected[i] = calloc(vm->slots[i].bitmap_words, sizeof(uint64_t));
		if (!p->expected[i])
			return -ENOMEM;
	}
	return 0;
}

int gt_plan_round(struct gt_plan *p, const struct gt_vm *vm, uint64_t *rng,
		  uint64_t unique, unsigned dup_pct, uint64_t *const *exclude)
{
	uint64_t writable = 0, dups = unique * dup_pct / 100;
	uint32_t n = 0;

	for (unsigned i = 0; i < vm->nslots; i++) {
		const struct gt_slot *s = &vm->slots[i];

		memset(p->expected[i], 0, s->bitmap_words * sizeof(uint64_t));
		writable += s->writable_limit - s->writable_first;
	}
	/* Rejection sampling stays fast while at most half the pages are taken. */
	if (unique > writable / 2 || unique + dups > GT_MAX_LIST)
		return -E2BIG;

	while (n < unique) {
		unsigned si = (unsigned)rng_below(rng, vm->nslots);
		const struct gt_slot *s = &vm->slots[si];
		uint64_t span = s->writable_limit - s->writable_first;
		uint64_t page, *word, bit;

		if (!span)
			continue;
		page = s->writable_first + rng_below(rng, span);
		word = &p->expected[si][page / 64];
		bit = 1ull << (page % 64);
		if ((*word & bit) || (exclude && (exclude[si][page / 64] & bit)))
			continue;
		*word |= bit;
		/* Write into the middle of the page: any byte dirties it. */
		p->gpas[n++] = (uint32_t)(s->gpa + page * GT_PAGE_SIZE + 0x80);
	}
	for (uint64_t d = 0; d < dups; d++)
		p->gpas[n++] = p->gpas[rng_below(rng, unique)] + 0x40;
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)rng_below(rng, i), t = p->gpas[i - 1];

		p->gpas[i - 1] = p->gpas[j];
		p->gpas[j] = t;
	}
	p->nwrites = n;
	p->unique = unique;
	return 0;
}

void gt_plan_free(struct gt_plan *p, const struct gt_vm *vm)
{
	free(p->gpas);
	for (unsigned i = 0; i < vm->nslots; i++)
		free(p->expected[i]);
	memset(p, 0, sizeof(*p));
}

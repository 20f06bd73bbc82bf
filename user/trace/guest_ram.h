/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* How much of a guest's RAM the guest has touched, from the VMM's memory map. */
#ifndef LM_GUEST_RAM_H
#define LM_GUEST_RAM_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Resident bytes of the VMM mapping that holds the guest's RAM (the largest
 * one at least about ram_bytes long): pages the guest never touched are
 * not resident, and QEMU sends them as zero pages. 0 or -errno (-ENOENT:
 * no such mapping, e.g. RAM split over several backends).
 */
int lm_guest_ram_resident(pid_t pid, uint64_t ram_bytes, uint64_t *resident);

#endif /* LM_GUEST_RAM_H */

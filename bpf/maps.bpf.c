// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The one definition of every shared map (see maps.bpf.h). */
#define LM_DEFINE_MAPS
#include "maps.bpf.h"

const volatile __u32 nr_cpus = 1;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

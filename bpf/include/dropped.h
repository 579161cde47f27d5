/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: the counter of samples an in-kernel table had no room for. A full
 * hash map refuses updates silently; tools count each refusal here (per
 * CPU, summed by user space) and report the total, so a full table is never
 * mistaken for a quiet system. */
#ifndef BPFTK_DROPPED_H
#define BPFTK_DROPPED_H

#include "bpftk.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

static __always_inline void count_dropped(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&dropped, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

#endif /* BPFTK_DROPPED_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: in-kernel log2 histograms. Each histogram also keeps the count and
 * the sum of what it recorded, so user space can report averages and totals
 * (libbpf-tools keeps only the buckets). pkg/histogram prints them. */
#ifndef BPFTK_HISTOGRAM_H
#define BPFTK_HISTOGRAM_H

#include "bpftk.h"

#ifndef HIST_SLOTS
#define HIST_SLOTS 32 /* 2^32 units: over an hour in usecs */
#endif

struct hist {
	__u64 slots[HIST_SLOTS];
	__u64 count;
	__u64 sum_ns;
};

/* log2_u64 returns floor(log2(v)), and 0 for 0. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/* hist_record adds a value of ns nanoseconds, bucketed in units of
 * unit_ns (1000 for usecs). The last bucket takes everything above it. */
static __always_inline void hist_record(struct hist *h, __u64 ns, __u64 unit_ns)
{
	__u32 slot = log2_u64(ns / unit_ns);

	if (slot >= HIST_SLOTS)
		slot = HIST_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
}

#endif /* BPFTK_HISTOGRAM_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: the event ring buffer and its loss counter.
 *
 * Events are reserved in place (no copy), and a failed reservation is
 * counted in lost_events, a per-CPU counter user space sums and reports:
 * a ring buffer on its own drops silently.
 *
 * Wakeups are batched. Waking the reader for every event costs a context
 * switch per event and makes the reader fight the traced workload for CPUs.
 * We wake it when a quarter of the ring is pending, or when no wakeup was sent
 * for wakeup_ns (so a quiet system still sees events at once); otherwise the
 * reader picks events up on its own short poll timer. */
#ifndef BPFTK_EVENTS_H
#define BPFTK_EVENTS_H

#include "bpftk.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* user space may resize before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost_events SEC(".maps");

const volatile __u64 wakeup_bytes = 0; /* 0: wake the reader on every event */
const volatile __u64 wakeup_ns = 10000000;

__u64 last_wakeup_ns = 0;

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost_events, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline void *event_reserve(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e)
		count_lost();
	return e;
}

static __always_inline void event_submit(void *e)
{
	__u64 flags = 0;

	if (wakeup_bytes) {
		__u64 now = bpf_ktime_get_ns();

		if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ||
		    now - last_wakeup_ns >= wakeup_ns) {
			last_wakeup_ns = now;
			flags = BPF_RB_FORCE_WAKEUP;
		} else {
			flags = BPF_RB_NO_WAKEUP;
		}
	}
	bpf_ringbuf_submit(e, flags);
}

#endif /* BPFTK_EVENTS_H */

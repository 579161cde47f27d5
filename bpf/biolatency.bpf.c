// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* biolatency: block I/O latency histograms, from the block_rq_* tracepoints
 * (tp_btf, or raw_tp where BTF-typed tracepoints are refused). The time from
 * issue (or, with -Q, insert) to completion is recorded in the kernel into a
 * histogram per disk and/or per flag set, as user space asked. */
#include "bpftk.h"
#include "filter.h"
#include "histogram.h"
#include "dropped.h"
#include "block.h"

const volatile bool per_disk = false; /* -D */
const volatile bool per_flag = false; /* -F */
const volatile bool queued = false;   /* -Q */
const volatile __u32 targ_dev = 0;    /* -d: kernel dev_t, 0 = every disk */
const volatile __u64 unit_ns = 1000;  /* -m: 1000000 */

struct hist_key {
	__u32 dev;
	__u32 cmd_flags;
};
const struct hist_key *unused_hist_key __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request *);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, struct hist);
} hists SEC(".maps");


static __always_inline int trace_start(struct request *rq, bool issue)
{
	__u64 ts;

	if (!current_cgroup_ok())
		return 0;
	if (targ_dev && request_dev(rq) != targ_dev)
		return 0;
	/* With -Q the clock starts at insert; issue must not restart it.
	 * Requests that bypass the scheduler are never inserted, so issue
	 * starts theirs. */
	if (issue && queued && bpf_map_lookup_elem(&start, &rq))
		return 0;
	ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&start, &rq, &ts, BPF_ANY))
		count_dropped();
	return 0;
}

static __always_inline int trace_done(struct request *rq)
{
	static const struct hist zero_hist;
	struct hist_key key = {};
	struct hist *h;
	__u64 *tsp, now = bpf_ktime_get_ns();
	__s64 delta;

	tsp = bpf_map_lookup_elem(&start, &rq);
	if (!tsp)
		return 0;
	delta = (__s64)(now - *tsp);
	bpf_map_delete_elem(&start, &rq);
	if (delta < 0)
		return 0;
	if (per_disk)
		key.dev = request_dev(rq);
	if (per_flag)
		key.cmd_flags = BPF_CORE_READ(rq, cmd_flags);
	h = bpf_map_lookup_elem(&hists, &key);
	if (!h) {
		bpf_map_update_elem(&hists, &key, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h) {
			count_dropped();
			return 0;
		}
	}
	hist_record(h, delta, unit_ns);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(btf_insert, struct request *rq)
{
	return trace_start(rq, false);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(btf_issue, struct request *rq)
{
	return trace_start(rq, true);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(btf_complete, struct request *rq)
{
	return trace_done(rq);
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(raw_insert, struct request *rq)
{
	return trace_start(rq, false);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(raw_issue, struct request *rq)
{
	return trace_start(rq, true);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(raw_complete, struct request *rq)
{
	return trace_done(rq);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

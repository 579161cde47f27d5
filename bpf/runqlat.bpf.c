// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* runqlat: run-queue latency histograms. A task's wait starts when it is
 * woken (sched_wakeup, sched_wakeup_new) or preempted while still runnable
 * (sched_switch with prev runnable), and ends when sched_switch puts it on a
 * CPU. tp_btf programs, with raw_tp twins for kernels that refuse them. */
#include "bpftk.h"
#include "filter.h"
#include "histogram.h"
#include "dropped.h"
#include "sched.h"

#define SECTION_NONE 0
#define SECTION_PID 1
#define SECTION_TID 2
#define SECTION_PIDNS 3

const volatile __u32 section = SECTION_NONE; /* -P, -L, --pidnss */
const volatile __u64 unit_ns = 1000;         /* -m: 1000000 */

struct hist_val {
	struct hist h;
	char comm[TASK_COMM_LEN];
};
const struct hist_val *unused_hist_val __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240); /* user space sizes it for the mode */
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240); /* user space sizes it for the mode */
	__type(key, __u32);
	__type(value, struct hist_val);
} hists SEC(".maps");


static __always_inline int enqueue(struct task_struct *t)
{
	__u32 tgid = BPF_CORE_READ(t, tgid), pid = BPF_CORE_READ(t, pid);
	__u64 ts;

	if (!pid)
		return 0; /* the idle task does not queue */
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (!task_cgroup_ok(t))
		return 0;
	ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&start, &pid, &ts, BPF_ANY))
		count_dropped();
	return 0;
}

static __always_inline int on_switch(struct task_struct *prev, struct task_struct *next)
{
	static const struct hist_val zero_val;
	struct hist_val *v;
	__u64 *tsp, now;
	__s64 delta;
	__u32 pid, key = 0;

	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);

	pid = BPF_CORE_READ(next, pid);
	tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;
	now = bpf_ktime_get_ns();
	delta = (__s64)(now - *tsp);
	bpf_map_delete_elem(&start, &pid);
	if (delta < 0)
		return 0;

	if (section == SECTION_PID)
		key = BPF_CORE_READ(next, tgid);
	else if (section == SECTION_TID)
		key = pid;
	else if (section == SECTION_PIDNS)
		key = BPF_CORE_READ(next, nsproxy, pid_ns_for_children, ns.inum);
	v = bpf_map_lookup_elem(&hists, &key);
	if (!v) {
		bpf_map_update_elem(&hists, &key, &zero_val, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&hists, &key);
		if (!v) {
			count_dropped();
			return 0;
		}
		if (section == SECTION_PID || section == SECTION_TID)
			BPF_CORE_READ_STR_INTO(&v->comm, next, comm);
	}
	hist_record(&v->h, delta, unit_ns);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(btf_wakeup, struct task_struct *p)
{
	return enqueue(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(btf_wakeup_new, struct task_struct *p)
{
	return enqueue(p);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(btf_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(prev, next);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(raw_wakeup, struct task_struct *p)
{
	return enqueue(p);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(raw_wakeup_new, struct task_struct *p)
{
	return enqueue(p);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(raw_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(prev, next);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

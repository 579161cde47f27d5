/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: process filters shared by the tools.
 *
 * All filters are volatile const: user space sets them before load, and the
 * verifier prunes the branches of filters that are off, so an unused filter
 * costs nothing at run time. PID is the thread-group id, TID the thread id,
 * as the user sees them. */
#ifndef BPFTK_FILTER_H
#define BPFTK_FILTER_H

#include "bpftk.h"

const volatile __u32 targ_tgid = 0;      /* -p: 0 = any process */
const volatile __u32 targ_tid = 0;       /* -t: 0 = any thread */
const volatile __u32 targ_uid = (__u32)-1; /* -u: -1 = any user */
const volatile bool filter_cg = false;   /* -c: cgroup_map[0] holds the cgroup */

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_map SEC(".maps");

/* current_cgroup_ok reports whether the current task is inside the cgroup
 * given with -c (or any task when no cgroup filter is set). */
static __always_inline bool current_cgroup_ok(void)
{
	if (!filter_cg)
		return true;
	return bpf_current_task_under_cgroup(&cgroup_map, 0) == 1;
}

/* current_task_ok applies the PID/TID/UID/cgroup filters to the current task. */
static __always_inline bool current_task_ok(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;

	if (targ_tgid && targ_tgid != tgid)
		return false;
	if (targ_tid && targ_tid != tid)
		return false;
	if (targ_uid != (__u32)-1 && targ_uid != (__u32)bpf_get_current_uid_gid())
		return false;
	return current_cgroup_ok();
}

#endif /* BPFTK_FILTER_H */

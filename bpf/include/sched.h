/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: the scheduler types runqlat reads, our own minimal CO-RE
 * definitions (only the fields we read). */
#ifndef BPFTK_SCHED_H
#define BPFTK_SCHED_H

#include "bpftk.h"
#include "filter.h"

#define TASK_RUNNING 0

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct pid_namespace {
	struct ns_common ns;
};

struct nsproxy {
	struct pid_namespace *pid_ns_for_children;
};

struct kernfs_node {
	__u64 id; /* the cgroup id: the cgroup directory's inode number */
};

struct cgroup_subsys_state {
	struct cgroup_subsys_state *parent;
};

struct cgroup {
	struct cgroup_subsys_state self;
	struct kernfs_node *kn;
};

struct css_set {
	struct cgroup *dfl_cgrp; /* the task's cgroup v2 */
};

struct task_struct {
	unsigned int __state; /* 5.14+ */
	int pid;
	int tgid;
	char comm[16];
	struct nsproxy *nsproxy;
	struct css_set *cgroups;
};

/* Before 5.14 the state was a long called state. */
struct task_struct___old {
	long state;
};

#pragma clang attribute pop

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___old *)t, state);
}

/* -c: the id of the cgroup (v2) to trace, set with filter_cg. */
const volatile __u64 targ_cgid = 0;

#define MAX_CGROUP_DEPTH 32

/* task_cgroup_ok reports whether t is inside the -c cgroup or below it.
 * Unlike current_cgroup_ok it asks about a task that need not be running:
 * a wakeup runs in the waker's context, often an interrupt, so the current
 * task says nothing about the task woken. Walks t's cgroup v2 and its
 * ancestors, comparing ids. */
static __always_inline bool task_cgroup_ok(struct task_struct *t)
{
	struct cgroup_subsys_state *css;
	struct cgroup *cg;
	int i;

	if (!filter_cg)
		return true;
	cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	for (i = 0; i < MAX_CGROUP_DEPTH && cg; i++) {
		if (BPF_CORE_READ(cg, kn, id) == targ_cgid)
			return true;
		css = BPF_CORE_READ(cg, self.parent);
		if (!css)
			break;
		/* the parent css is the parent cgroup's self member */
		cg = (void *)css - bpf_core_field_offset(struct cgroup, self);
	}
	return false;
}

#endif /* BPFTK_SCHED_H */

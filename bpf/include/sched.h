/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: the scheduler types runqlat reads, our own minimal CO-RE
 * definitions (only the fields we read). */
#ifndef BPFTK_SCHED_H
#define BPFTK_SCHED_H

#include "bpftk.h"

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

struct task_struct {
	unsigned int __state; /* 5.14+ */
	int pid;
	int tgid;
	char comm[16];
	struct nsproxy *nsproxy;
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

#endif /* BPFTK_SCHED_H */

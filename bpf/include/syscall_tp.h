/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: context layouts of the syscalls:sys_enter_* and sys_exit_*
 * tracepoints, as tracefs describes them in events/syscalls/<name>/format:
 * an 8-byte common header, the syscall number, then the arguments (or the
 * return value), each widened to 8 bytes. */
#ifndef BPFTK_SYSCALL_TP_H
#define BPFTK_SYSCALL_TP_H

#include "bpftk.h"

struct syscall_enter_ctx {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__u64 args[6];
};

struct syscall_exit_ctx {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__s64 ret;
};

#endif /* BPFTK_SYSCALL_TP_H */

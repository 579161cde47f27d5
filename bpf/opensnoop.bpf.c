// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* opensnoop: trace open(), openat() and openat2() through the syscalls
 * tracepoints. Entry saves the arguments per thread; exit reads the path and
 * emits one event with the result. The path is read at exit, when the kernel
 * has faulted the user string in, so it is rarely unreadable. */
#include "bpftk.h"
#include "filter.h"
#include "events.h"
#include "syscall_tp.h"

#define PATH_LEN 256

const volatile bool targ_failed = false;  /* -x: only failed opens */
const volatile __u32 self_tgid = 0;       /* the tool itself, never traced */
const volatile char targ_comm[TASK_COMM_LEN] = {}; /* -n: comm contains this */

struct open_args {
	const char *path;
	__u32 flags;
	__u32 mode;
};

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;
	__u32 flags;
	__u32 mode;
	char comm[TASK_COMM_LEN];
	char path[PATH_LEN];
};

/* Keeps struct event in the BTF, so bpf2go can generate its Go twin. */
const struct event *unused_event __attribute__((unused));

/* struct open_how of openat2(2), user ABI */
struct open_how {
	__u64 flags;
	__u64 mode;
	__u64 resolve;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct open_args);
} start SEC(".maps");

/* comm_matches reports whether comm contains targ_comm (plain substring, like
 * libbpf-tools' -n, but done here so filtered events never cross the ring). */
static __always_inline bool comm_matches(const char *comm)
{
	if (!targ_comm[0])
		return true;
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		int j;

		for (j = 0; j < TASK_COMM_LEN && i + j < TASK_COMM_LEN; j++) {
			if (!targ_comm[j])
				return true;
			if (comm[i + j] != targ_comm[j])
				break;
		}
		if (j < TASK_COMM_LEN && i + j < TASK_COMM_LEN && !targ_comm[j])
			return true;
		if (!comm[i])
			break;
	}
	return false;
}

static __always_inline int enter(const char *path, __u32 flags, __u32 mode)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct open_args args = { .path = path, .flags = flags, .mode = mode };
	__u32 tid = (__u32)id;

	if ((id >> 32) == self_tgid || !current_task_ok(id))
		return 0;
	if (targ_comm[0]) {
		char comm[TASK_COMM_LEN];

		bpf_get_current_comm(comm, sizeof(comm));
		if (!comm_matches(comm))
			return 0;
	}
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

static __always_inline int exit(struct syscall_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct open_args *args;
	struct event *e;
	__s32 ret = (__s32)ctx->ret;

	args = bpf_map_lookup_elem(&start, &tid);
	if (!args)
		return 0;
	if (targ_failed && ret >= 0)
		goto cleanup;

	e = event_reserve(sizeof(*e));
	if (!e)
		goto cleanup;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->flags = args->flags;
	e->mode = args->mode;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), args->path) < 0)
		e->path[0] = 0;
	event_submit(e);
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int enter_open(struct syscall_enter_ctx *ctx)
{
	return enter((const char *)ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct syscall_enter_ctx *ctx)
{
	return enter((const char *)ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int enter_openat2(struct syscall_enter_ctx *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return enter((const char *)ctx->args[1], how.flags, how.mode);
}

SEC("tracepoint/syscalls/sys_exit_open")
int exit_open(struct syscall_exit_ctx *ctx)
{
	return exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct syscall_exit_ctx *ctx)
{
	return exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct syscall_exit_ctx *ctx)
{
	return exit(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

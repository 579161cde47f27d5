/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: from a file descriptor of the current task to its socket, our own
 * minimal CO-RE definitions. */
#ifndef BPFTK_FILES_H
#define BPFTK_FILES_H

#include "bpftk.h"
#include "sock.h"

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct file {
	void *private_data;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct socket {
	struct sock *sk;
};

struct task_struct;
struct task_struct___files {
	struct files_struct *files;
};

#pragma clang attribute pop

/* fd_sock returns the sock behind fd in the current task, assuming the fd
 * is a socket (the caller knows: it was just returned by accept), or NULL. */
static __always_inline struct sock *fd_sock(int fd)
{
	struct task_struct___files *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f = NULL;
	struct socket *sock;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

#endif /* BPFTK_FILES_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: the base every BPF program includes.
 *
 * We define the handful of UAPI types and constants our programs use here,
 * instead of pulling <linux/bpf.h> (which drags in the arch-specific
 * asm/types.h and needs a multiarch include path). Kernel structures live in
 * kernel.h as CO-RE definitions. libbpf's helper headers come from the
 * system's libbpf-dev package. */
#ifndef BPFTK_H
#define BPFTK_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* enum bpf_map_type (UAPI, stable numbers) */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_HASH 5
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_CGROUP_ARRAY 8
#define BPF_MAP_TYPE_LRU_HASH 9
#define BPF_MAP_TYPE_RINGBUF 27

/* map update flags */
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

/* map creation flags */
#define BPF_F_NO_PREALLOC (1U << 0)

/* bpf_ringbuf_submit/output flags and bpf_ringbuf_query selectors */
#define BPF_RB_NO_WAKEUP (1ULL << 0)
#define BPF_RB_FORCE_WAKEUP (1ULL << 1)
#define BPF_RB_AVAIL_DATA 0

#define TASK_COMM_LEN 16

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#endif /* BPFTK_H */

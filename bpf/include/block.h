/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: the block-layer types biolatency reads, our own minimal CO-RE
 * definitions (only the fields we read; libbpf relocates them to wherever
 * the running kernel keeps them). */
#ifndef BPFTK_BLOCK_H
#define BPFTK_BLOCK_H

#include "bpftk.h"

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct gendisk {
	int major;
	int first_minor;
};

struct request_queue {
	struct gendisk *disk; /* 5.16+ */
};

struct request {
	struct request_queue *q;
	__u32 cmd_flags;
};

/* Before 5.17 the disk hung off the request itself. */
struct request___old {
	struct gendisk *rq_disk;
};

#pragma clang attribute pop

/* MKDEV as the kernel encodes dev_t internally: major << 20 | minor. */
static __always_inline __u32 request_dev(struct request *rq)
{
	struct gendisk *disk;

	if (bpf_core_field_exists(((struct request___old *)rq)->rq_disk))
		disk = BPF_CORE_READ((struct request___old *)rq, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return ((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor);
}

#endif /* BPFTK_BLOCK_H */

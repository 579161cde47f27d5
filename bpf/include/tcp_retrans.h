/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: the kernel types tcpretrans reads, our own minimal definitions.
 *
 * Only the fields we read are declared; preserve_access_index makes clang
 * emit CO-RE relocations, so libbpf finds each field at its offset in the
 * running kernel, whatever the layout or nesting (anonymous unions included). */
#ifndef BPFTK_TCP_RETRANS_H
#define BPFTK_TCP_RETRANS_H

#include "bpftk.h"
#include "sock.h"

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct trace_entry {
	unsigned short type;
};

/* tcp:tcp_retransmit_skb on kernels that report failed attempts too (they
 * added err). */
struct trace_event_raw_tcp_retransmit_skb {
	struct trace_entry ent;
	int state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
	int err;
};

/* The same tracepoint on older kernels, where it shared the tcp_event_sk_skb
 * class and fired for successful retransmits only. */
struct trace_event_raw_tcp_event_sk_skb {
	struct trace_entry ent;
	int state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

#pragma clang attribute pop

#endif /* BPFTK_TCP_RETRANS_H */

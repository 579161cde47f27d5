/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bpftk: the socket types the TCP tools read, our own minimal CO-RE
 * definitions (only the fields we read; libbpf finds each at its offset in
 * the running kernel, anonymous unions and all). */
#ifndef BPFTK_SOCK_H
#define BPFTK_SOCK_H

#include "bpftk.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LAST_ACK 9
#define TCP_CLOSING 11

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct in6_addr {
	__u8 s6_addr[16];
};

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol; /* a bitfield before 5.6: read it with BITFIELD_PROBED */
};

/* inet_sock begins with struct sock; inet_sport stays set after the local
 * port is released at close (skc_num is zeroed first). */
struct inet_sock {
	__be16 inet_sport;
};

struct tcp_sock {
	__u64 bytes_received;
	__u64 bytes_acked;
};

#pragma clang attribute pop

/* The endpoints of a socket, addresses as 16 bytes (IPv4 in the first 4),
 * ports in host order. */
struct endpoints {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 family;
	__u16 sport;
	__u16 dport;
};

static __always_inline void sock_endpoints(const struct sock *sk, struct endpoints *ep)
{
	ep->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	ep->sport = __builtin_bswap16(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	ep->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (ep->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)ep->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)ep->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)ep->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)ep->daddr, sk, __sk_common.skc_v6_daddr);
	}
}

#endif /* BPFTK_SOCK_H */

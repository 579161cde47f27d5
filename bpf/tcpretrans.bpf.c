// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tcpretrans: TCP retransmits from the tcp:tcp_retransmit_skb tracepoint, and
 * (with -l) tail loss probes from an fentry on tcp_send_loss_probe, which has
 * no tracepoint. Either one event per retransmit through the ring buffer, or
 * (-c) a count per flow kept in the kernel. */
#include "bpftk.h"
#include "events.h"
#include "dropped.h"
#include "tcp_retrans.h"

#define TYPE_RETRANS 1
#define TYPE_TLP 2

const volatile __u16 targ_family = 0; /* -4/-6: AF_INET or AF_INET6, 0 = both */
const volatile bool count_mode = false; /* -c */

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u16 family;
	__u16 sport; /* host order */
	__u16 dport; /* host order */
	__u8 state;
	__u8 type;
	__u8 saddr[16];
	__u8 daddr[16];
};
const struct event *unused_event __attribute__((unused));

struct flow {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 pad;
};
const struct flow *unused_flow __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct flow);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void record(struct flow *f, int state, __u8 type)
{
	if (count_mode) {
		__u64 one = 1, *n = bpf_map_lookup_elem(&counts, f);

		if (n) {
			__sync_fetch_and_add(n, 1);
		} else if (bpf_map_update_elem(&counts, f, &one, BPF_NOEXIST)) {
			/* Lost a race with another CPU creating it, or full. */
			n = bpf_map_lookup_elem(&counts, f);
			if (n) {
				__sync_fetch_and_add(n, 1);
			} else {
				count_dropped(); /* the flow table is full */
			}
		}
		return;
	}

	struct event *e = event_reserve(sizeof(*e));

	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->family = f->family;
	e->sport = f->sport;
	e->dport = f->dport;
	e->state = state;
	e->type = type;
	__builtin_memcpy(e->saddr, f->saddr, 16);
	__builtin_memcpy(e->daddr, f->daddr, 16);
	event_submit(e);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int handle_retransmit(void *ctx)
{
	struct flow f = {};
	int state;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb)) {
		struct trace_event_raw_tcp_retransmit_skb *tp = ctx;

		/* Newer kernels also report attempts that failed (err != 0);
		 * TcpRetransSegs and BCC count only the ones that went out. */
		if (bpf_core_field_exists(tp->err) && BPF_CORE_READ(tp, err))
			return 0;
		f.family = BPF_CORE_READ(tp, family);
		f.sport = BPF_CORE_READ(tp, sport);
		f.dport = BPF_CORE_READ(tp, dport);
		state = BPF_CORE_READ(tp, state);
		if (f.family == AF_INET) {
			bpf_core_read(f.saddr, 4, &tp->saddr);
			bpf_core_read(f.daddr, 4, &tp->daddr);
		} else {
			bpf_core_read(f.saddr, 16, &tp->saddr_v6);
			bpf_core_read(f.daddr, 16, &tp->daddr_v6);
		}
	} else {
		struct trace_event_raw_tcp_event_sk_skb *tp = ctx;

		f.family = BPF_CORE_READ(tp, family);
		f.sport = BPF_CORE_READ(tp, sport);
		f.dport = BPF_CORE_READ(tp, dport);
		state = BPF_CORE_READ(tp, state);
		if (f.family == AF_INET) {
			bpf_core_read(f.saddr, 4, &tp->saddr);
			bpf_core_read(f.daddr, 4, &tp->daddr);
		} else {
			bpf_core_read(f.saddr, 16, &tp->saddr_v6);
			bpf_core_read(f.daddr, 16, &tp->daddr_v6);
		}
	}
	if (targ_family && f.family != targ_family)
		return 0;
	record(&f, state, TYPE_RETRANS);
	return 0;
}

/* tcp_send_loss_probe(struct sock *sk): no tracepoint exists for it. */
SEC("fentry/tcp_send_loss_probe")
int BPF_PROG(handle_tlp, struct sock *sk)
{
	struct flow f = {};

	struct endpoints ep;

	sock_endpoints(sk, &ep);
	if (targ_family && ep.family != targ_family)
		return 0;
	__builtin_memcpy(f.saddr, ep.saddr, 16);
	__builtin_memcpy(f.daddr, ep.daddr, 16);
	f.family = ep.family;
	f.sport = ep.sport;
	f.dport = ep.dport;
	record(&f, BPF_CORE_READ(sk, __sk_common.skc_state), TYPE_TLP);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

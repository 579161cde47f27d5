// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tcplife: one event per TCP session at its close, with its lifespan, the
 * bytes each way (from the socket's own counters) and the process that owns
 * the socket, on both the connecting and the accepting side.
 *
 * Ownership, tracepoints only: state changes to ESTABLISHED on the passive
 * side and most closes run in softirq context, where the current task is
 * whoever was interrupted (libbpf-tools prints it: PID 0, swapper). So the
 * owner is remembered where the socket's process is known to be running:
 *   - CLOSE -> SYN_SENT happens inside connect();
 *   - sys_exit_accept4/accept return the fd of an accepted socket, which we
 *     resolve to its sock (current->files->fdt->fd[fd]->private_data->sk);
 *   - ESTABLISHED -> FIN_WAIT1 and CLOSE_WAIT -> LAST_ACK happen inside the
 *     owner's close() or shutdown(), whichever side closes first.
 * Only when none of these was seen does the close fall back to the current
 * task, as libbpf-tools always does.
 *
 * The peer: when the other end of a session is a socket on this machine
 * (loopback, containers, namespaces), its owner is found by the session's
 * endpoints seen from that end. Each owner is published under its socket's
 * endpoints once they are complete (after accept, at ESTABLISHED, at the
 * first close) and looked up reversed at close. */
#include "bpftk.h"
#include "filter.h"
#include "events.h"
#include "dropped.h"
#include "sock.h"
#include "files.h"
#include "syscall_tp.h"

const volatile __u16 targ_family = 0; /* -4/-6: AF_INET/AF_INET6, 0 = both */
const volatile bool filter_sport = false; /* -L: sports holds the ports */
const volatile bool filter_dport = false; /* -D: dports holds the ports */

struct event {
	__u64 ts_ns;
	__u64 span_ns;
	__u64 rx_b;
	__u64 tx_b;
	__u32 pid;
	__u32 peer_pid;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 owner_known; /* 0: the task current at close, as libbpf-tools */
	__u8 peer_known;  /* 1: peer_pid and peer_comm own the other end */
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[TASK_COMM_LEN];
	char peer_comm[TASK_COMM_LEN];
};
const struct event *unused_event __attribute__((unused));

/* What the state changes said about the sequence space the byte counters
 * include besides data: our SYN (connect side), our FIN once acked, the
 * peer's FIN once received. Each takes one sequence number, and
 * bytes_acked/bytes_received count sequence numbers. */
#define SEQ_SYN_SENT 1
#define SEQ_FIN_ACKED 2
#define SEQ_FIN_RCVD 4

struct session {
	__u64 start_ns;
	__u32 seq_flags;
};

struct owner {
	__u32 pid;
	bool cgroup_ok;
	char comm[TASK_COMM_LEN];
};

#define MAX_SOCKS 16384

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, const struct sock *);
	__type(value, struct session);
} birth SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, const struct sock *);
	__type(value, struct owner);
} owners SEC(".maps");

/* Owners by endpoints, for the peer lookup. LRU: an entry whose peer is
 * not on this machine is never looked up and is not deleted either. */
struct published {
	struct owner o;
	bool closed;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, struct endpoints);
	__type(value, struct published);
} by_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} sports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} dports SEC(".maps");


/* remember_owner records the current task as the owner of sk; first =
 * true keeps an owner already known. */
static __always_inline void remember_owner(const struct sock *sk, bool keep)
{
	struct owner o = {};

	o.pid = bpf_get_current_pid_tgid() >> 32;
	if (!o.pid)
		return;
	o.cgroup_ok = current_cgroup_ok();
	bpf_get_current_comm(&o.comm, sizeof(o.comm));
	bpf_map_update_elem(&owners, &sk, &o, keep ? BPF_NOEXIST : BPF_ANY);
}

/* publish_owner makes the owner of sk findable by its endpoints, once
 * they are complete (connect() picks the local port after SYN_SENT). */
static __always_inline void publish_owner(const struct sock *sk)
{
	struct published p = {};
	struct endpoints ep = {};
	struct owner *o;

	sock_endpoints(sk, &ep);
	if (!ep.sport || !ep.dport)
		return;
	o = bpf_map_lookup_elem(&owners, &sk);
	if (!o) {
		/* An entry left by an earlier session on these endpoints
		 * must not pose as this one's owner. */
		bpf_map_delete_elem(&by_endpoints, &ep);
		return;
	}
	p.o = *o;
	bpf_map_update_elem(&by_endpoints, &ep, &p, BPF_ANY);
}

/* peer_owner copies the other end's published owner into peer (true when
 * there is one) and does the bookkeeping of a close: the entries of a
 * session go once both ends have closed. It runs at every close, before the
 * filters, so that a close that prints nothing still does its part. */
static __always_inline bool peer_owner(const struct endpoints *ep, struct owner *peer)
{
	struct endpoints rev = {};
	struct published *other, *self;
	bool found = false;

	rev.family = ep->family;
	rev.sport = ep->dport;
	rev.dport = ep->sport;
	__builtin_memcpy(rev.saddr, ep->daddr, 16);
	__builtin_memcpy(rev.daddr, ep->saddr, 16);
	other = bpf_map_lookup_elem(&by_endpoints, &rev);
	if (other) {
		*peer = other->o;
		found = true;
		if (other->closed) {
			bpf_map_delete_elem(&by_endpoints, &rev);
			bpf_map_delete_elem(&by_endpoints, ep);
			return found;
		}
	}
	self = bpf_map_lookup_elem(&by_endpoints, ep);
	if (self)
		self->closed = true;
	return found;
}

static __always_inline int set_state(const struct sock *sk, int oldstate, int newstate)
{
	struct endpoints ep = {};
	struct session *sess;
	struct owner *o, peer = {};
	struct event *e;
	bool peer_known;
	__u64 now, tx, rx;
	__u32 flags = 0;

	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	ep.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (targ_family && ep.family != targ_family)
		return 0;

	sess = bpf_map_lookup_elem(&birth, &sk);
	if (newstate < TCP_FIN_WAIT1) {
		/* The span runs from the last of these (normally
		 * ESTABLISHED) to CLOSE, as in libbpf-tools. */
		now = bpf_ktime_get_ns();
		if (sess) {
			sess->start_ns = now;
		} else {
			struct session new = {.start_ns = now};

			if (bpf_map_update_elem(&birth, &sk, &new, BPF_ANY))
				count_dropped();
			sess = bpf_map_lookup_elem(&birth, &sk);
		}
	}
	if (!sess)
		return 0; /* a session we did not see start */
	if (newstate == TCP_SYN_SENT)
		flags = SEQ_SYN_SENT;
	else if (newstate == TCP_FIN_WAIT2)
		flags = SEQ_FIN_ACKED;
	else if (newstate == TCP_CLOSE_WAIT || newstate == TCP_CLOSING)
		flags = SEQ_FIN_RCVD;
	else if (newstate == TCP_CLOSE && (oldstate == TCP_LAST_ACK || oldstate == TCP_CLOSING))
		flags = SEQ_FIN_ACKED; /* the ACK of our FIN ends these */
	else if (newstate == TCP_CLOSE && oldstate == TCP_FIN_WAIT2)
		flags = SEQ_FIN_RCVD; /* the peer's FIN ends FIN_WAIT2 */
	sess->seq_flags |= flags;
	if (newstate == TCP_SYN_SENT) {
		remember_owner(sk, false);
	} else if (newstate == TCP_ESTABLISHED) {
		publish_owner(sk); /* the connecting side: owner known since SYN_SENT */
	} else if ((oldstate == TCP_ESTABLISHED && newstate == TCP_FIN_WAIT1) ||
		   (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK)) {
		remember_owner(sk, true);
		publish_owner(sk);
	}
	if (newstate != TCP_CLOSE)
		return 0;

	now = bpf_ktime_get_ns();
	sock_endpoints(sk, &ep);
	peer_known = peer_owner(&ep, &peer);
	if (filter_sport && !bpf_map_lookup_elem(&sports, &ep.sport))
		goto cleanup;
	if (filter_dport && !bpf_map_lookup_elem(&dports, &ep.dport))
		goto cleanup;
	o = bpf_map_lookup_elem(&owners, &sk);
	if (o) {
		if (targ_tgid && o->pid != targ_tgid)
			goto cleanup;
		if (filter_cg && !o->cgroup_ok)
			goto cleanup;
	} else {
		if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
			goto cleanup;
		if (!current_cgroup_ok())
			goto cleanup;
	}

	e = event_reserve(sizeof(*e));
	if (!e)
		goto cleanup;
	e->peer_known = peer_known;
	e->peer_pid = peer.pid;
	__builtin_memcpy(e->peer_comm, peer.comm, sizeof(e->peer_comm));
	e->ts_ns = now;
	e->span_ns = now - sess->start_ns;
	/* Payload bytes: the counters less the SYN and FINs they include. */
	tx = BPF_CORE_READ((struct tcp_sock *)sk, bytes_acked);
	rx = BPF_CORE_READ((struct tcp_sock *)sk, bytes_received);
	flags = sess->seq_flags;
	if ((flags & SEQ_SYN_SENT) && tx)
		tx--;
	if ((flags & SEQ_FIN_ACKED) && tx)
		tx--;
	if ((flags & SEQ_FIN_RCVD) && rx)
		rx--;
	e->tx_b = tx;
	e->rx_b = rx;
	e->family = ep.family;
	e->sport = ep.sport;
	e->dport = ep.dport;
	__builtin_memcpy(e->saddr, ep.saddr, 16);
	__builtin_memcpy(e->daddr, ep.daddr, 16);
	if (o) {
		e->pid = o->pid;
		e->owner_known = 1;
		__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	} else {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		e->owner_known = 0;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
	}
	event_submit(e);
cleanup:
	bpf_map_delete_elem(&birth, &sk);
	bpf_map_delete_elem(&owners, &sk);
	return 0;
}

/* raw_tp rather than tp_btf: it attaches by name, without the kernel's BTF
 * ID for the event, so the loader need not decode all of the kernel BTF
 * (pkg/btfmin); the program reads the socket through CO-RE either way. */
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(raw_set_state, const struct sock *sk, int oldstate, int newstate)
{
	return set_state(sk, oldstate, newstate);
}

/* The accepting process owns the socket accept() returned. */
static __always_inline int accepted(struct syscall_exit_ctx *ctx)
{
	const struct sock *sk;

	if (ctx->ret < 0)
		return 0;
	sk = fd_sock(ctx->ret);
	if (sk && bpf_map_lookup_elem(&birth, &sk)) {
		remember_owner(sk, false);
		publish_owner(sk);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct syscall_exit_ctx *ctx)
{
	return accepted(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct syscall_exit_ctx *ctx)
{
	return accepted(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

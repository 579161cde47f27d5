// tcplife traces TCP sessions: one line per closed session with its two
// ends, the bytes each way, its lifespan and the process that owned it.
package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bpftk/bpftk/pkg/cli"
	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/bpftk/bpftk/pkg/output"
	"github.com/bpftk/bpftk/pkg/ringbuf"
	ucli "github.com/urfave/cli/v2"
)

const description = `Trace TCP sessions: one line per session when it closes, with the owning
process, both endpoints, the bytes sent (acknowledged by the peer) and
received, and the lifespan from ESTABLISHED to CLOSE.

Attach points: raw_tp sock:inet_sock_set_state, and the tracepoints
syscalls:sys_exit_accept4 and sys_exit_accept where present.
No kprobes.

Which process a session belongs to: the state changes of a TCP socket mostly
run in softirq context, where the "current" process is whoever happened to be
interrupted (libbpf-tools prints PID 0 "swapper" for most accepted sessions).
bpftk records the owner where the owner is known to be running: in connect()
(the change to SYN_SENT), when accept() or accept4() returns the socket's fd
(resolved to the socket through the process's file table), and in the owner's
close() or shutdown() (the changes to FIN_WAIT1 and LAST_ACK). Only a session
seen through none of these falls back to the process current at close
("owner":"current" in --json).

When the other end of a session is also a socket on this machine (loopback,
containers, network namespaces) and tcplife saw its owner, --json adds that
process as peer_pid and peer_comm: each owner is also filed under its
session's endpoints, and looked up from the other side at close.

TX_KB and RX_KB are KiB with 2 decimals; --json has the exact bytes_tx and
bytes_rx and the duration in microseconds.

Examples:
   tcplife                # trace all TCP sessions
   tcplife -p 181         # only trace PID 181
   tcplife -L 80          # only trace local port 80
   tcplife -L 80,81       # only trace local ports 80 and 81
   tcplife -D 80          # only trace remote port 80
   tcplife -4             # only trace IPv4
   tcplife -6 -w          # only IPv6, with wide address columns
   tcplife -T             # include a time column (HH:MM:SS)
   tcplife -c /sys/fs/cgroup/unified/system.slice   # only this cgroup
   tcplife --json         # exact bytes and microseconds, one object per session`

func main() {
	cli.Main(cli.Tool{
		Name:        "tcplife",
		Usage:       "trace the lifespan of TCP sessions and summarize",
		Description: description,
		Duration:    true,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace this `PID` only"},
			&ucli.BoolFlag{Name: "ipv4", Aliases: []string{"4"}, Usage: "trace IPv4 only"},
			&ucli.BoolFlag{Name: "ipv6", Aliases: []string{"6"}, Usage: "trace IPv6 only"},
			&ucli.StringFlag{Name: "localport", Aliases: []string{"L"}, Usage: "comma-separated list of local `PORTS` to trace"},
			&ucli.StringFlag{Name: "remoteport", Aliases: []string{"D"}, Usage: "comma-separated list of remote `PORTS` to trace"},
			&ucli.BoolFlag{Name: "time", Aliases: []string{"T"}, Usage: "include a time column (HH:MM:SS)"},
			&ucli.BoolFlag{Name: "wide", Aliases: []string{"w"}, Usage: "wide column output (fits IPv6 addresses)"},
			cli.CgroupFlag,
		},
		Action: run,
	})
}

const (
	afInet  = 2
	afInet6 = 10
	// ringSize holds ~8,000 sessions between two reads.
	ringSize = 1 << 20
)

var hooks = []loader.Hook{
	// raw_tp only: see bpf/tcplife.bpf.c. Every kernel with tp_btf has it.
	{Choices: []loader.Choice{{Program: "raw_set_state", Kind: loader.RawTP, Event: "inet_sock_set_state"}}},
	{Optional: true, Choices: []loader.Choice{{Program: "exit_accept4", Kind: loader.Tracepoint, Group: "syscalls", Event: "sys_exit_accept4"}}},
	{Optional: true, Choices: []loader.Choice{{Program: "exit_accept", Kind: loader.Tracepoint, Group: "syscalls", Event: "sys_exit_accept"}}},
}

// parsePorts reads a -L/-D list: up to 1024 ports, each 1-65535.
func parsePorts(flag, s string) ([]uint16, error) {
	if s == "" {
		return nil, nil
	}
	var ports []uint16
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || p == 0 {
			return nil, cli.Usagef("invalid %s port %q: want 1-65535", flag, f)
		}
		ports = append(ports, uint16(p))
	}
	if len(ports) > 1024 {
		return nil, cli.Usagef("too many %s ports: at most 1024", flag)
	}
	return ports, nil
}

type config struct {
	json, time bool
	width      int
}

func run(r *cli.Run) error {
	if r.Bool("ipv4") && r.Bool("ipv6") {
		return cli.Usagef("-4 and -6 are mutually exclusive")
	}
	pid, err := r.PID("pid")
	if err != nil {
		return err
	}
	sports, err := parsePorts("-L", r.String("localport"))
	if err != nil {
		return err
	}
	dports, err := parsePorts("-D", r.String("remoteport"))
	if err != nil {
		return err
	}
	family := uint16(0)
	if r.Bool("ipv4") {
		family = afInet
	} else if r.Bool("ipv6") {
		family = afInet6
	}
	spec, err := loadTcplife()
	if err != nil {
		return fmt.Errorf("read BPF object: %w", err)
	}
	coll, err := loader.Load(loader.Options{
		Tool:  r.Tool,
		Spec:  spec,
		Hooks: hooks,
		Const: map[string]any{
			"targ_tgid":    pid,
			"targ_family":  family,
			"filter_sport": len(sports) > 0,
			"filter_dport": len(dports) > 0,
			"wakeup_bytes": uint64(ringSize / 4),
		},
		Sizes:      map[string]uint32{"events": ringSize},
		CgroupPath: r.String("cgroup"),
		NeedBTF:    true,
		Log:        r.LoaderLog(),
	})
	if err != nil {
		return err
	}
	defer coll.Close()
	for m, ports := range map[string][]uint16{"sports": sports, "dports": dports} {
		for _, p := range ports {
			if err := coll.Map(m).Put(p, uint8(1)); err != nil {
				return fmt.Errorf("set port filter: %w", err)
			}
		}
	}

	rd, err := ringbuf.Open[tcplifeEvent](coll.Map("events"), coll.Map("lost_events"))
	if err != nil {
		return err
	}
	defer rd.Close()

	cfg := config{json: r.JSON, time: r.Bool("time"), width: 15}
	if r.Bool("wide") {
		cfg.width = 39
	}
	out := r.Out
	if !cfg.json {
		out.WriteString(header(cfg))
	}
	if err := out.Flush(); err != nil {
		return err
	}
	err = rd.Print(r.Ctx, out, coll.Detach, func(b []byte, e *tcplifeEvent) []byte {
		return formatEvent(b, e, cfg, time.Now())
	})
	if err != nil {
		return err
	}
	dropped, err := ringbuf.SumPerCPU(coll.Map("dropped"))
	if err != nil {
		return err
	}
	return rd.Report(out, cfg.json, r.Warnf, ringbuf.Counter{
		JSON: "untracked_sessions",
		Text: "%d sessions not tracked: more than 16384 sockets were open at once",
		N:    dropped,
	}, ringbuf.Missed(coll.Missed()))
}

func header(c config) string {
	var b strings.Builder
	if c.time {
		fmt.Fprintf(&b, "%-8s ", "TIME")
	}
	fmt.Fprintf(&b, "%-7s %-16s %-*s %-5s %-*s %-5s %-6s %-6s %s\n",
		"PID", "COMM", c.width, "LADDR", "LPORT", c.width, "RADDR", "RPORT", "TX_KB", "RX_KB", "MS")
	return b.String()
}

// formatEvent appends one session as libbpf-tools' line or a JSON object.
func formatEvent(b []byte, e *tcplifeEvent, c config, now time.Time) []byte {
	comm := output.CString(e.Comm[:])
	if c.json {
		ip := 4
		if e.Family == afInet6 {
			ip = 6
		}
		b = output.Obj(b)
		b = append(b, `"time":"`...)
		b = now.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"', ',')
		b = output.Uint(b, "pid", uint64(e.Pid))
		b = output.Str(b, "comm", comm)
		if e.OwnerKnown != 0 {
			b = output.StrString(b, "owner", "socket")
		} else {
			b = output.StrString(b, "owner", "current")
		}
		if e.PeerKnown != 0 {
			b = output.Uint(b, "peer_pid", uint64(e.PeerPid))
			b = output.Str(b, "peer_comm", output.CString(e.PeerComm[:]))
		}
		b = output.Int(b, "ip", int64(ip))
		b = append(b, `"laddr":"`...)
		b = output.IP(e.Family, &e.Saddr).AppendTo(b)
		b = append(b, '"', ',')
		b = output.Uint(b, "lport", uint64(e.Sport))
		b = append(b, `"raddr":"`...)
		b = output.IP(e.Family, &e.Daddr).AppendTo(b)
		b = append(b, '"', ',')
		b = output.Uint(b, "rport", uint64(e.Dport))
		b = output.Uint(b, "bytes_tx", e.TxB)
		b = output.Uint(b, "bytes_rx", e.RxB)
		b = output.Uint(b, "duration_us", e.SpanNs/1000)
		return output.End(b)
	}
	if c.time {
		b = now.AppendFormat(b, "15:04:05")
		b = append(b, ' ')
	}
	b = output.UintLeft(b, uint64(e.Pid), 7)
	b = append(b, ' ')
	b = output.PadRight(b, comm, 16)
	b = append(b, ' ')
	mark := len(b)
	b = output.IP(e.Family, &e.Saddr).AppendTo(b)
	b = output.PadFrom(b, mark, c.width)
	b = append(b, ' ')
	b = output.UintLeft(b, uint64(e.Sport), 5)
	b = append(b, ' ')
	mark = len(b)
	b = output.IP(e.Family, &e.Daddr).AppendTo(b)
	b = output.PadFrom(b, mark, c.width)
	b = append(b, ' ')
	b = output.UintLeft(b, uint64(e.Dport), 5)
	b = append(b, ' ')
	b = output.FloatLeft(b, float64(e.TxB)/1024, 2, 6)
	b = append(b, ' ')
	b = output.FloatLeft(b, float64(e.RxB)/1024, 2, 6)
	b = append(b, ' ')
	b = output.FloatLeft(b, float64(e.SpanNs)/1e6, 2, 0)
	return append(b, '\n')
}

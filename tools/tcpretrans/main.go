// tcpretrans traces TCP retransmits system-wide: one line per retransmitted
// segment with the flow and its state, or (-c) a count per flow.
package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/bpftk/bpftk/pkg/bpfmap"
	"github.com/bpftk/bpftk/pkg/cli"
	"github.com/bpftk/bpftk/pkg/kernel"
	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/bpftk/bpftk/pkg/output"
	"github.com/bpftk/bpftk/pkg/ringbuf"
	"github.com/bpftk/bpftk/pkg/table"
	"github.com/cilium/ebpf"
	ucli "github.com/urfave/cli/v2"
)

const description = `Trace TCP retransmits: one line per retransmitted segment, with the local and
remote address and port and the TCP state. Only retransmits that were sent are
shown (the ones the kernel's TcpRetransSegs counter counts); newer kernels also
report failed attempts through the tracepoint, and those are skipped.

Attach points: tracepoint tcp:tcp_retransmit_skb (IPv4 and IPv6). With -l,
also fentry on tcp_send_loss_probe, because tail loss probes have no
tracepoint; on kernels that refuse fentry, -l fails with an error saying so.
(A loss probe that re-sends the last segment goes through the retransmit path
and is shown as R even without -l.)

PID is the task that was on the CPU, usually 0: retransmits are sent from
timers and softirqs, not by the process that owns the socket.

Count mode (-c) counts per flow in the kernel and prints a table on exit, or
every interval with [interval] [count]. Flows that did not fit in the kernel's
table (10240 flows) are counted and reported.

Examples:
   tcpretrans            # trace TCP retransmits
   tcpretrans -l         # also trace tail loss probe attempts
   tcpretrans -c         # count retransmits per flow, print at Ctrl-C
   tcpretrans -c 10      # ... and every 10 seconds
   tcpretrans -4         # trace IPv4 only
   tcpretrans -6         # trace IPv6 only
   tcpretrans -d 60      # trace for 60 seconds only
   tcpretrans --json     # machine-readable events`

func main() {
	cli.Main(cli.Tool{
		Name:        "tcpretrans",
		Usage:       "trace TCP retransmits",
		Description: description,
		Duration:    true,
		Histogram:   true, // [interval] [count], for -c
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "lossprobe", Aliases: []string{"l"}, Usage: "also trace tail loss probe attempts (needs fentry)"},
			&ucli.BoolFlag{Name: "count", Aliases: []string{"c"}, Usage: "count retransmits per flow instead of tracing each"},
			&ucli.BoolFlag{Name: "ipv4", Aliases: []string{"4"}, Usage: "trace IPv4 only"},
			&ucli.BoolFlag{Name: "ipv6", Aliases: []string{"6"}, Usage: "trace IPv6 only"},
		},
		Action: run,
	})
}

const (
	afInet  = 2
	afInet6 = 10

	typeRetrans = 1
	typeTLP     = 2
)

// ringSize: retransmits are rare next to opens; 1 MiB holds ~14,000 events.
const ringSize = 1 << 20

var retransHook = loader.Hook{Choices: []loader.Choice{{
	Program: "handle_retransmit", Kind: loader.Tracepoint, Group: "tcp", Event: "tcp_retransmit_skb",
}}}

var tlpChoice = loader.Choice{Program: "handle_tlp", Kind: loader.FEntry, Event: "tcp_send_loss_probe"}

func run(r *cli.Run) error {
	if r.Bool("ipv4") && r.Bool("ipv6") {
		return cli.Usagef("-4 and -6 are mutually exclusive")
	}
	count := r.Bool("count")
	if !count && r.Interval > 0 {
		return cli.Usagef("an interval only applies to count mode (-c)")
	}
	family := uint16(0)
	if r.Bool("ipv4") {
		family = afInet
	} else if r.Bool("ipv6") {
		family = afInet6
	}
	hooks := []loader.Hook{retransHook}
	if r.Bool("lossprobe") {
		if err := loader.CheckPrivileges(); err != nil {
			return err
		}
		if err := loader.Probe(tlpChoice); err != nil {
			return fmt.Errorf("-l: tail loss probes have no tracepoint and need fentry on tcp_send_loss_probe, which this kernel refuses (%v); run without -l", err)
		}
		hooks = append(hooks, loader.Hook{Choices: []loader.Choice{tlpChoice}})
	}

	spec, err := loadTcpretrans()
	if err != nil {
		return fmt.Errorf("read BPF object: %w", err)
	}
	coll, err := loader.Load(loader.Options{
		Tool:  r.Tool,
		Spec:  spec,
		Hooks: hooks,
		Const: map[string]any{
			"targ_family":  family,
			"count_mode":   count,
			"wakeup_bytes": uint64(ringSize / 4),
		},
		Sizes:   map[string]uint32{"events": ringSize},
		NeedBTF: true,
		Log:     r.LoaderLog(),
	})
	if err != nil {
		return err
	}
	defer coll.Close()

	if count {
		return runCount(r, coll)
	}
	return runEvents(r, coll)
}

func runEvents(r *cli.Run, coll *loader.Collection) error {
	rd, err := ringbuf.Open[tcpretransEvent](coll.Map("events"), coll.Map("lost_events"))
	if err != nil {
		return err
	}
	defer rd.Close()

	out := r.Out
	if !r.JSON {
		out.WriteString("Tracing retransmits ... Hit Ctrl-C to end\n")
		out.WriteString(header)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	err = rd.Print(r.Ctx, out, coll.Detach, func(b []byte, e *tcpretransEvent) []byte {
		return formatEvent(b, e, time.Now(), r.JSON)
	})
	if err != nil {
		return err
	}
	return rd.Report(out, r.JSON, r.Warnf, ringbuf.Missed(coll.Missed()))
}

const header = "TIME     PID     IP LADDR:LPORT          T> RADDR:RPORT          STATE\n"

// formatEvent appends one event as BCC's line or as a JSON object.
func formatEvent(b []byte, e *tcpretransEvent, now time.Time, asJSON bool) []byte {
	typ := byte('R')
	if e.Type == typeTLP {
		typ = 'L'
	}
	ip := 4
	if e.Family == afInet6 {
		ip = 6
	}
	state := kernel.TCPStateName(int(e.State))
	if asJSON {
		b = output.Obj(b)
		b = append(b, `"time":"`...)
		b = now.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"', ',')
		b = output.Uint(b, "pid", uint64(e.Pid))
		b = output.Int(b, "ip", int64(ip))
		b = append(b, `"laddr":"`...)
		b = appendAddr(b, e.Family, &e.Saddr)
		b = append(b, '"', ',')
		b = output.Uint(b, "lport", uint64(e.Sport))
		b = append(b, `"raddr":"`...)
		b = appendAddr(b, e.Family, &e.Daddr)
		b = append(b, '"', ',')
		b = output.Uint(b, "rport", uint64(e.Dport))
		b = output.StrString(b, "type", string(typ))
		b = output.StrString(b, "state", state)
		return output.End(b)
	}
	b = now.AppendFormat(b, "15:04:05")
	b = append(b, ' ')
	b = output.UintLeft(b, uint64(e.Pid), 7)
	b = append(b, ' ')
	b = output.IntLeft(b, int64(ip), 2)
	b = append(b, ' ')
	mark := len(b)
	b = appendEndpoint(b, e.Family, &e.Saddr, e.Sport)
	b = output.PadFrom(b, mark, 20)
	b = append(b, ' ', typ, '>', ' ')
	mark = len(b)
	b = appendEndpoint(b, e.Family, &e.Daddr, e.Dport)
	b = output.PadFrom(b, mark, 20)
	b = append(b, ' ')
	b = append(b, state...)
	return append(b, '\n')
}

func appendAddr(b []byte, family uint16, a *[16]uint8) []byte {
	return output.IP(family, a).AppendTo(b)
}

// appendEndpoint appends addr:port as BCC prints it (IPv6 without brackets).
func appendEndpoint(b []byte, family uint16, a *[16]uint8, port uint16) []byte {
	b = appendAddr(b, family, a)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(port), 10)
}

// runCount prints the per-flow counts every interval (clearing them) or
// once at the end.
func runCount(r *cli.Run, coll *loader.Collection) error {
	if !r.JSON {
		fmt.Fprintln(r.Out, "Tracing retransmits ... Hit Ctrl-C to end")
		if err := r.Out.Flush(); err != nil {
			return err
		}
	}
	return r.Reports(func() error {
		return printCounts(r, coll)
	}, coll.Detach)
}

type flowCount = bpfmap.Entry[tcpretransFlow, uint64]

// readCounts takes the per-flow counts out of the kernel, most retransmits
// first; IPv4 before IPv6 on a tie, then by address, so the order is stable.
func readCounts(m *ebpf.Map) ([]flowCount, error) {
	flows, err := bpfmap.Drain[tcpretransFlow, uint64](m)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(flows, func(a, b flowCount) int {
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Key.Family, b.Key.Family); c != 0 {
			return c
		}
		return output.IP(a.Key.Family, &a.Key.Saddr).Compare(output.IP(b.Key.Family, &b.Key.Saddr))
	})
	return flows, nil
}

func printCounts(r *cli.Run, coll *loader.Collection) error {
	flows, err := readCounts(coll.Map("counts"))
	if err != nil {
		return err
	}
	nDropped, err := ringbuf.SumPerCPU(coll.Map("dropped"))
	if err != nil {
		return err
	}
	missed := coll.Missed()
	now := time.Now()
	if r.JSON {
		_, err := r.Out.Write(countReport(flows, nDropped, missed, now).appendJSON(nil))
		return err
	}
	rows := make([][]string, 0, len(flows))
	for _, f := range flows {
		rows = append(rows, []string{
			string(appendEndpoint(nil, f.Key.Family, &f.Key.Saddr, f.Key.Sport)),
			string(appendEndpoint(nil, f.Key.Family, &f.Key.Daddr, f.Key.Dport)),
			strconv.FormatUint(f.Value, 10),
		})
	}
	fmt.Fprintln(r.Out)
	if r.Interval > 0 {
		fmt.Fprintln(r.Out, now.Format("15:04:05"))
	}
	if err := table.Write(r.Out, []string{"LADDR:LPORT", "RADDR:RPORT", "RETRANSMITS"}, rows, 2); err != nil {
		return err
	}
	if nDropped > 0 {
		r.Out.Flush()
		fmt.Fprintf(os.Stderr, "%s: %d retransmits not counted: the flow table (10240 flows) was full\n", r.Tool, nDropped)
	}
	if missed > 0 {
		r.Out.Flush()
		r.Warnf("missed %d retransmits: the kernel skipped the probe while another BPF program ran on that CPU", missed)
	}
	return r.Out.Flush()
}

type jsonFlow struct {
	IP          int    `json:"ip"`
	Laddr       string `json:"laddr"`
	Lport       uint16 `json:"lport"`
	Raddr       string `json:"raddr"`
	Rport       uint16 `json:"rport"`
	Retransmits uint64 `json:"retransmits"`
}

type jsonCounts struct {
	Time         string     `json:"time"`
	Flows        []jsonFlow `json:"flows"`
	Total        uint64     `json:"total"`
	CountDropped uint64     `json:"count_dropped"`
	Missed       uint64     `json:"missed_events"` // runs the kernel skipped (loader.Collection.Missed)
}

func (c jsonCounts) appendJSON(b []byte) []byte {
	b = output.Obj(b)
	b = output.StrString(b, "time", c.Time)
	b = append(output.Key(b, "flows"), '[')
	for _, f := range c.Flows {
		b = output.Obj(b)
		b = output.Int(b, "ip", int64(f.IP))
		b = output.StrString(b, "laddr", f.Laddr)
		b = output.Uint(b, "lport", uint64(f.Lport))
		b = output.StrString(b, "raddr", f.Raddr)
		b = output.Uint(b, "rport", uint64(f.Rport))
		b = output.Uint(b, "retransmits", f.Retransmits)
		b = output.Close(b, '}')
	}
	b = output.Close(b, ']')
	b = output.Uint(b, "total", c.Total)
	b = output.Uint(b, "count_dropped", c.CountDropped)
	b = output.Uint(b, "missed_events", c.Missed)
	return output.End(b)
}

func countReport(flows []flowCount, dropped, missed uint64, now time.Time) jsonCounts {
	rep := jsonCounts{Time: now.Format(time.RFC3339Nano), Flows: []jsonFlow{}, CountDropped: dropped, Missed: missed}
	for _, f := range flows {
		ip := 4
		if f.Key.Family == afInet6 {
			ip = 6
		}
		rep.Flows = append(rep.Flows, jsonFlow{
			IP:          ip,
			Laddr:       output.IP(f.Key.Family, &f.Key.Saddr).String(),
			Lport:       f.Key.Sport,
			Raddr:       output.IP(f.Key.Family, &f.Key.Daddr).String(),
			Rport:       f.Key.Dport,
			Retransmits: f.Value,
		})
		rep.Total += f.Value
	}
	return rep
}

// runqlat summarizes scheduler run-queue latency as log2 histograms: how
// long runnable tasks waited for a CPU.
package main

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/bpftk/bpftk/pkg/bpfmap"
	"github.com/bpftk/bpftk/pkg/cli"
	"github.com/bpftk/bpftk/pkg/histogram"
	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/bpftk/bpftk/pkg/output"
	"github.com/bpftk/bpftk/pkg/ringbuf"
	ucli "github.com/urfave/cli/v2"
)

const description = `Summarize run queue (scheduler) latency as a histogram: the time a task spent
runnable, waiting for a CPU, from its wakeup (or from being preempted while
still runnable) until it runs.

Attach points: tp_btf sched_wakeup, sched_wakeup_new and sched_switch; raw_tp
twins where BTF-typed tracepoints are refused. No kprobes.

Histograms are kept in the kernel; Ctrl-C prints the last one, and with an
interval each interval prints and clears. --json adds the count and the sum
of the waits to each histogram, so the average and the total run-queue delay
are one division away. The per-process (-P) table holds 10240 processes, the
per-thread (-L) table 32768 threads: waits that find the table full are
counted and reported, never dropped in silence. -c counts the waits of tasks
in that cgroup (v2) or below it, whoever woke them (libbpf-tools tests the
waker, which for a wakeup from an interrupt is whatever task it interrupted).

Examples:
   runqlat                # summarize run queue latency as a histogram
   runqlat 1 10           # print 1 second summaries, 10 times
   runqlat -mT 1          # 1s summaries, milliseconds, and timestamps
   runqlat -P             # show each PID separately
   runqlat -p 185         # trace PID 185 only
   runqlat -L             # show each TID separately
   runqlat --pidnss       # show each PID namespace separately
   runqlat -c /sys/fs/cgroup/unified/system.slice   # only this cgroup
   runqlat --json 5 1     # one JSON object after 5 seconds`

func main() {
	cli.Main(cli.Tool{
		Name:        "runqlat",
		Usage:       "summarize run queue (scheduler) latency as a histogram",
		Description: description,
		Histogram:   true,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "timestamp", Aliases: []string{"T"}, Usage: "include a timestamp in the output"},
			&ucli.BoolFlag{Name: "milliseconds", Aliases: []string{"m"}, Usage: "millisecond histogram"},
			&ucli.BoolFlag{Name: "pids", Aliases: []string{"P"}, Usage: "print a histogram per process ID"},
			&ucli.BoolFlag{Name: "tids", Aliases: []string{"L"}, Usage: "print a histogram per thread ID"},
			&ucli.BoolFlag{Name: "pidnss", Usage: "print a histogram per PID namespace"},
			&ucli.StringFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace this `PID` only"},
			cli.CgroupFlag,
		},
		Action: run,
	})
}

// Section kinds, as in bpf/runqlat.bpf.c.
const (
	sectionNone  = 0
	sectionPID   = 1
	sectionTID   = 2
	sectionPidns = 3
)

// histEntries is how many histograms each mode may need.
var histEntries = map[uint32]uint32{sectionNone: 1, sectionPID: 10240, sectionTID: 32768, sectionPidns: 1024}

var hooks = func() []loader.Hook {
	var h []loader.Hook
	for _, ev := range []struct{ event, suffix string }{
		{"sched_wakeup", "wakeup"}, {"sched_wakeup_new", "wakeup_new"}, {"sched_switch", "switch"},
	} {
		h = append(h, loader.Hook{Choices: []loader.Choice{
			{Program: "btf_" + ev.suffix, Kind: loader.TPBTF, Event: ev.event},
			{Program: "raw_" + ev.suffix, Kind: loader.RawTP, Event: ev.event},
		}})
	}
	return h
}()

func run(r *cli.Run) error {
	section := uint32(sectionNone)
	n := 0
	for flag, s := range map[string]uint32{"pids": sectionPID, "tids": sectionTID, "pidnss": sectionPidns} {
		if r.Bool(flag) {
			section = s
			n++
		}
	}
	if n > 1 {
		return cli.Usagef("-P, -L and --pidnss are mutually exclusive")
	}
	pid, err := r.PID("pid")
	if err != nil {
		return err
	}
	unit := histogram.Usecs
	if r.Bool("milliseconds") {
		unit = histogram.Msecs
	}
	spec, err := loadRunqlat()
	if err != nil {
		return fmt.Errorf("read BPF object: %w", err)
	}
	coll, err := loader.Load(loader.Options{
		Tool:  r.Tool,
		Spec:  spec,
		Hooks: hooks,
		Const: map[string]any{
			"section":   section,
			"unit_ns":   unit.Ns,
			"targ_tgid": pid,
		},
		// Every runnable task may be waiting at once; 32768 covers a
		// large machine's busiest moment.
		Sizes:      map[string]uint32{"hists": histEntries[section], "start": 32768},
		CgroupPath: r.String("cgroup"),
		NeedBTF:    true,
		Log:        r.LoaderLog(),
	})
	if err != nil {
		return err
	}
	defer coll.Close()

	if !r.JSON {
		fmt.Fprintln(r.Out, "Tracing run queue latency... Hit Ctrl-C to end.")
		if err := r.Out.Flush(); err != nil {
			return err
		}
	}
	var reported uint64
	return r.Reports(func() error {
		entries, err := bpfmap.Drain[uint32, runqlatHistVal](coll.Map("hists"))
		if err != nil {
			return err
		}
		rep := histogram.Report{Unit: unit, Time: time.Now(), Timestamp: r.Bool("timestamp"), Hists: sections(entries, section)}
		if err := rep.Write(r.Out, r.JSON); err != nil {
			return err
		}
		// The drop counter only grows: report what is new.
		dropped, err := ringbuf.SumPerCPU(coll.Map("dropped"))
		if err == nil && dropped > reported {
			r.Out.Flush()
			r.Warnf("%d waits not recorded: the in-kernel tables were full (%d histograms, 32768 waiting tasks)", dropped-reported, histEntries[section])
			reported = dropped
		}
		return err
	}, coll.Detach)
}

// sections orders the histograms by key and gives each the heading
// libbpf-tools prints ("pid = 181 bash") and its JSON keys.
func sections(entries []bpfmap.Entry[uint32, runqlatHistVal], section uint32) []histogram.Hist {
	slices.SortFunc(entries, func(a, b bpfmap.Entry[uint32, runqlatHistVal]) int { return cmp.Compare(a.Key, b.Key) })
	out := make([]histogram.Hist, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		h := histogram.Hist{Slots: e.Value.H.Slots[:], Count: e.Value.H.Count, SumNs: e.Value.H.SumNs, Keys: map[string]any{}}
		comm := string(output.CString(e.Value.Comm[:]))
		id := strconv.FormatUint(uint64(e.Key), 10)
		switch section {
		case sectionPID:
			h.Prefix = "\npid = " + id + " " + comm + "\n"
			h.Keys["pid"], h.Keys["comm"] = e.Key, comm
		case sectionTID:
			h.Prefix = "\ntid = " + id + " " + comm + "\n"
			h.Keys["tid"], h.Keys["comm"] = e.Key, comm
		case sectionPidns:
			h.Prefix = "\npidns = " + id + "\n"
			h.Keys["pidns"] = e.Key
		}
		out = append(out, h)
	}
	return out
}

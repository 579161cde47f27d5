// biolatency summarizes block device I/O latency as log2 histograms,
// aggregated in the kernel.
package main

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/bpftk/bpftk/pkg/bpfmap"
	"github.com/bpftk/bpftk/pkg/cli"
	"github.com/bpftk/bpftk/pkg/histogram"
	"github.com/bpftk/bpftk/pkg/kernel"
	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/bpftk/bpftk/pkg/ringbuf"
	"github.com/cilium/ebpf/btf"
	ucli "github.com/urfave/cli/v2"
)

const description = `Summarize block device I/O latency as a histogram: the time from issue to the
device (or, with -Q, from insertion into the OS queue) to completion.

Attach points: tp_btf block_rq_issue and block_rq_complete (block_rq_insert
with -Q); raw_tp twins where BTF-typed tracepoints are refused. No kprobes.

Histograms are kept in the kernel; Ctrl-C prints the last one, and with an
interval each interval prints and clears. Disk names come from the kernel's
dev_t through /sys/dev/block; -F flag names from the kernel's own BTF enums,
so they are right on every kernel version. --json adds the count and the sum
of the latencies to each histogram.

Examples:
   biolatency              # summarize block I/O latency as a histogram
   biolatency 1 10         # print 1 second summaries, 10 times
   biolatency -mT 1        # 1s summaries, milliseconds, and timestamps
   biolatency -Q           # include OS queued time in I/O time
   biolatency -D           # show each disk device separately
   biolatency -F           # show I/O flags separately
   biolatency -d sdc       # trace sdc only
   biolatency -c /sys/fs/cgroup/unified/system.slice   # only this cgroup
   biolatency --json 1 5   # five JSON objects, one per second`

func main() {
	cli.Main(cli.Tool{
		Name:        "biolatency",
		Usage:       "summarize block device I/O latency as a histogram",
		Description: description,
		Histogram:   true,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "timestamp", Aliases: []string{"T"}, Usage: "include a timestamp in the output"},
			&ucli.BoolFlag{Name: "milliseconds", Aliases: []string{"m"}, Usage: "millisecond histogram"},
			&ucli.BoolFlag{Name: "queued", Aliases: []string{"Q"}, Usage: "include OS queued time in I/O time"},
			&ucli.BoolFlag{Name: "disk", Aliases: []string{"D"}, Usage: "print a histogram per disk device"},
			&ucli.BoolFlag{Name: "flag", Aliases: []string{"F"}, Usage: "print a histogram per set of I/O flags"},
			&ucli.StringFlag{Name: "disks", Aliases: []string{"d"}, Usage: "trace this `DISK` only"},
			cli.CgroupFlag,
		},
		Action: run,
	})
}

// hooks: block_rq_insert is attached only with -Q.
func hooks(queued bool) []loader.Hook {
	hook := func(event, suffix string) loader.Hook {
		return loader.Hook{Choices: []loader.Choice{
			{Program: "btf_" + suffix, Kind: loader.TPBTF, Event: event},
			{Program: "raw_" + suffix, Kind: loader.RawTP, Event: event},
		}}
	}
	h := []loader.Hook{hook("block_rq_issue", "issue"), hook("block_rq_complete", "complete")}
	if queued {
		h = append(h, hook("block_rq_insert", "insert"))
	}
	return h
}

func run(r *cli.Run) error {
	var dev uint32
	if name := r.String("disks"); name != "" {
		d, err := kernel.DiskDev(name)
		if err != nil {
			return cli.Usagef("-d: %v", err)
		}
		dev = d
	}
	unit := histogram.Usecs
	if r.Bool("milliseconds") {
		unit = histogram.Msecs
	}
	perDisk, perFlag := r.Bool("disk"), r.Bool("flag")
	spec, err := loadBiolatency()
	if err != nil {
		return fmt.Errorf("read BPF object: %w", err)
	}
	coll, err := loader.Load(loader.Options{
		Tool:  r.Tool,
		Spec:  spec,
		Hooks: hooks(r.Bool("queued")),
		Const: map[string]any{
			"per_disk": perDisk,
			"per_flag": perFlag,
			"queued":   r.Bool("queued"),
			"targ_dev": dev,
			"unit_ns":  unit.Ns,
		},
		CgroupPath: r.String("cgroup"),
		NeedBTF:    true,
		Log:        r.LoaderLog(),
	})
	if err != nil {
		return err
	}
	defer coll.Close()

	var flagNames *kernel.BlockFlagNames
	if perFlag {
		spec, _ := btf.LoadKernelSpec() // nil: the fallback tables
		flagNames = kernel.NewBlockFlagNames(spec)
	}
	if !r.JSON {
		fmt.Fprintln(r.Out, "Tracing block device I/O... Hit Ctrl-C to end.")
		if err := r.Out.Flush(); err != nil {
			return err
		}
	}
	disks := map[uint32]string{}
	report := func() error {
		entries, err := bpfmap.Drain[biolatencyHistKey, histogram.KernelHist](coll.Map("hists"))
		if err != nil {
			return err
		}
		rep := histogram.Report{Unit: unit, Time: time.Now(), Timestamp: r.Bool("timestamp")}
		rep.Hists = sections(entries, perDisk, perFlag, func(d uint32) string {
			name, ok := disks[d]
			if !ok {
				if name = kernel.DiskName(d); name == "" {
					name = "Unknown"
				}
				disks[d] = name
			}
			return name
		}, flagNames)
		if err := rep.Write(r.Out, r.JSON); err != nil {
			return err
		}
		dropped, err := ringbuf.SumPerCPU(coll.Map("dropped"))
		if err == nil && dropped > 0 {
			r.Out.Flush()
			r.Warnf("%d I/Os not recorded: the in-kernel tables (10240 requests in flight, 10240 histograms) were full", dropped)
		}
		return err
	}
	return r.Reports(report, coll.Detach)
}

// sections orders the histograms as libbpf-tools prints them (by disk,
// then flags) and gives each its heading and JSON keys.
func sections(entries []bpfmap.Entry[biolatencyHistKey, histogram.KernelHist], perDisk, perFlag bool,
	diskName func(uint32) string, flags *kernel.BlockFlagNames) []histogram.Hist {
	slices.SortFunc(entries, func(a, b bpfmap.Entry[biolatencyHistKey, histogram.KernelHist]) int {
		if c := cmp.Compare(diskOrder(a.Key.Dev, perDisk, diskName), diskOrder(b.Key.Dev, perDisk, diskName)); c != 0 {
			return c
		}
		return cmp.Compare(a.Key.CmdFlags, b.Key.CmdFlags)
	})
	out := make([]histogram.Hist, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		keys := map[string]any{}
		prefix := ""
		if perDisk || perFlag {
			prefix = "\n"
			if perDisk {
				name := diskName(e.Key.Dev)
				prefix += "disk = " + name + "\t"
				keys["disk"] = name
			}
			if perFlag {
				name := flags.Name(e.Key.CmdFlags)
				prefix += "flags = " + name
				keys["flags"] = name
				keys["cmd_flags"] = e.Key.CmdFlags
			}
			prefix += "\n"
		}
		out = append(out, e.Value.Section(prefix, keys))
	}
	return out
}

func diskOrder(dev uint32, perDisk bool, name func(uint32) string) string {
	if !perDisk {
		return ""
	}
	return name(dev)
}

// opensnoop traces open(), openat() and openat2() system-wide: one line per
// completed call with the process, the result and the path.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/bpftk/bpftk/pkg/cli"
	"github.com/bpftk/bpftk/pkg/kernel"
	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/bpftk/bpftk/pkg/output"
	"github.com/bpftk/bpftk/pkg/ringbuf"
	ucli "github.com/urfave/cli/v2"
)

const description = `Trace open(), openat() and openat2() calls: one line per completed call.

Attach points: tracepoints syscalls:sys_enter_openat/sys_exit_openat, plus
sys_enter_open/sys_exit_open and sys_enter_openat2/sys_exit_openat2 where this
kernel has them. tracefs is mounted at /sys/kernel/tracing if it is not yet.

FD is the returned descriptor (-1 on failure), ERR the errno. Events that could
not be recorded (ring buffer full) are counted and reported on exit.

Examples:
   opensnoop             # trace all open() calls
   opensnoop -T          # include a timestamp column (seconds since start)
   opensnoop -U          # include a UID column
   opensnoop -x          # only show failed opens
   opensnoop -p 181      # only trace PID 181
   opensnoop -t 123      # only trace TID 123
   opensnoop -u 1000     # only trace UID 1000
   opensnoop -d 10       # trace for 10 seconds only
   opensnoop -n main     # only print process names containing "main"
   opensnoop -e          # show extended fields (open flags, octal)
   opensnoop -c /sys/fs/cgroup/unified/system.slice   # only this cgroup
   opensnoop --json | jq .path   # machine-readable events`

func main() {
	cli.Main(cli.Tool{
		Name:        "opensnoop",
		Usage:       "trace open family syscalls",
		Description: description,
		Duration:    true,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "timestamp", Aliases: []string{"T"}, Usage: "include a TIME(s) column"},
			&ucli.BoolFlag{Name: "print-uid", Aliases: []string{"U"}, Usage: "include a UID column"},
			&ucli.BoolFlag{Name: "failed", Aliases: []string{"x"}, Usage: "only show failed opens"},
			&ucli.StringFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace this `PID` only"},
			&ucli.StringFlag{Name: "tid", Aliases: []string{"t"}, Usage: "trace this `TID` only"},
			&ucli.StringFlag{Name: "uid", Aliases: []string{"u"}, Usage: "trace this `UID` only"},
			&ucli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "only trace process names containing `NAME`"},
			&ucli.BoolFlag{Name: "extended-fields", Aliases: []string{"e"}, Usage: "show extended fields (open flags)"},
			cli.CgroupFlag,
		},
		Action: run,
	})
}

// config is what the flags ask for.
type config struct {
	timestamp, printUID, extended, json bool
}

func run(r *cli.Run) error {
	pid, err := r.PID("pid")
	if err != nil {
		return err
	}
	tid, err := r.PID("tid")
	if err != nil {
		return err
	}
	uid, uidSet, err := r.UID("uid")
	if err != nil {
		return err
	}
	name := r.String("name")
	if len(name) >= 16 {
		return cli.Usagef("invalid --name %q: a process name has at most 15 characters", name)
	}
	var comm [16]byte
	copy(comm[:], name)

	consts := map[string]any{
		"targ_tgid":    pid,
		"targ_tid":     tid,
		"targ_failed":  r.Bool("failed"),
		"self_tgid":    uint32(os.Getpid()),
		"targ_comm":    comm,
		"wakeup_bytes": uint64(ringSize / 4),
	}
	if uidSet {
		consts["targ_uid"] = uid
	}
	spec, err := loadOpensnoop()
	if err != nil {
		return fmt.Errorf("read BPF object: %w", err)
	}
	start := kernel.MonotonicNow()
	coll, err := loader.Load(loader.Options{
		Tool:       r.Tool,
		Spec:       spec,
		Hooks:      hooks,
		Const:      consts,
		Sizes:      map[string]uint32{"events": ringSize},
		CgroupPath: r.String("cgroup"),
		Log:        r.LoaderLog(),
	})
	if err != nil {
		return err
	}
	defer coll.Close()

	rd, err := ringbuf.Open[opensnoopEvent](coll.Map("events"), coll.Map("lost_events"))
	if err != nil {
		return err
	}
	defer rd.Close()

	cfg := config{
		timestamp: r.Bool("timestamp"),
		printUID:  r.Bool("print-uid"),
		extended:  r.Bool("extended-fields"),
		json:      r.JSON,
	}
	out := r.Out
	if !cfg.json {
		out.WriteString(header(cfg))
	}
	if err := out.Flush(); err != nil {
		return err
	}
	err = rd.Print(r.Ctx, out, coll.Detach, func(b []byte, e *opensnoopEvent) []byte {
		return formatEvent(b, e, cfg, start)
	})
	if err != nil {
		return err
	}
	return rd.Report(out, cfg.json, r.Warnf, ringbuf.Missed(coll.Missed()))
}

// ringSize is the ring buffer size in bytes: about 13,000 events, tens of
// milliseconds of the busiest open() storm, while the reader is woken each
// quarter.
const ringSize = 4 << 20

// hooks: open(2) does not exist on arm64 and openat2(2) before 5.6, so
// those are optional; openat(2) is everywhere.
var hooks = append(append(syscallHooks("open", true), syscallHooks("openat", false)...), syscallHooks("openat2", true)...)

// syscallHooks returns the entry and exit tracepoint hooks of one syscall.
func syscallHooks(name string, optional bool) []loader.Hook {
	hook := func(dir string) loader.Hook {
		return loader.Hook{
			Optional: optional,
			Choices: []loader.Choice{{
				Program: dir + "_" + name,
				Kind:    loader.Tracepoint,
				Group:   "syscalls",
				Event:   "sys_" + dir + "_" + name,
			}},
		}
	}
	return []loader.Hook{hook("enter"), hook("exit")}
}

func header(c config) string {
	var b strings.Builder
	if c.timestamp {
		fmt.Fprintf(&b, "%-8s ", "TIME(s)")
	}
	if c.printUID {
		fmt.Fprintf(&b, "%-7s ", "UID")
	}
	fmt.Fprintf(&b, "%-6s %-16s %3s %3s ", "PID", "COMM", "FD", "ERR")
	if c.extended {
		fmt.Fprintf(&b, "%-8s ", "FLAGS")
	}
	b.WriteString("PATH\n")
	return b.String()
}

// formatEvent appends one event as a text or JSON line.
func formatEvent(b []byte, e *opensnoopEvent, c config, start uint64) []byte {
	fd, errno := int64(e.Ret), int64(0)
	if e.Ret < 0 {
		fd, errno = -1, -int64(e.Ret)
	}
	secs := float64(int64(e.TsNs-start)) / 1e9
	comm, path := output.CString(e.Comm[:]), output.CString(e.Path[:])
	if c.json {
		b = output.Obj(b)
		b = output.Float(b, "time_s", secs, 6)
		b = output.Uint(b, "pid", uint64(e.Pid))
		b = output.Uint(b, "tid", uint64(e.Tid))
		b = output.Uint(b, "uid", uint64(e.Uid))
		b = output.Str(b, "comm", comm)
		b = output.Int(b, "fd", fd)
		b = output.Int(b, "errno", errno)
		if errno != 0 {
			b = output.StrString(b, "error", kernel.ErrnoName(errno))
		}
		b = output.Uint(b, "flags", uint64(e.Flags))
		b = output.Uint(b, "mode", uint64(e.Mode))
		b = output.Str(b, "path", path)
		return output.End(b)
	}
	if c.timestamp {
		b = output.FloatLeft(b, secs, 3, 8)
		b = append(b, ' ')
	}
	if c.printUID {
		b = output.UintLeft(b, uint64(e.Uid), 7)
		b = append(b, ' ')
	}
	b = output.UintLeft(b, uint64(e.Pid), 6)
	b = append(b, ' ')
	b = output.PadRight(b, comm, 16)
	b = append(b, ' ')
	b = output.IntRight(b, fd, 3)
	b = append(b, ' ')
	b = output.IntRight(b, errno, 3)
	b = append(b, ' ')
	if c.extended {
		b = output.Octal(b, uint64(e.Flags), 8)
		b = append(b, ' ')
	}
	b = output.Printable(b, path)
	return append(b, '\n')
}

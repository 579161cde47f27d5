// Package cli is the frame every bpftk tool runs in: the flags they all share
// (-h, -V, -v, --json, and -d or [interval] [count] where they apply), short
// flag combining (-Tx), one context that ends on SIGINT, SIGTERM, the duration,
// the last interval or a closed stdout, and exit codes: 0 success, 1 runtime
// failure, 2 usage error. Errors are printed as one line prefixed with the
// tool's name.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bpftk/bpftk/pkg/output"
	ucli "github.com/urfave/cli/v2"
)

// Version and Commit are stamped by the Makefile with -ldflags -X.
var (
	Version = "dev"
	Commit  = "unknown"
)

// Tool describes one command-line tool.
type Tool struct {
	Name        string
	Usage       string // one line: what the tool shows
	Description string // examples and attach points, shown by --help
	Flags       []ucli.Flag
	// Histogram tools take [interval] [count] positional arguments.
	Histogram bool
	// Duration adds -d/--duration SECONDS (event tools).
	Duration bool
	Action   func(*Run) error
}

// Run is what a tool's action gets.
type Run struct {
	*ucli.Context
	Tool string
	// Ctx is done on SIGINT, SIGTERM, when the duration has passed, or when
	// the reader of stdout has gone.
	Ctx      context.Context
	Out      *output.Writer
	JSON     bool
	Verbose  bool
	Interval time.Duration // histogram tools: 0 means one report at the end
	Count    int           // histogram tools: reports to print, 0 = no limit
}

// LoaderLog is where loader messages go: stderr with -v, nowhere without.
func (r *Run) LoaderLog() io.Writer {
	if r.Verbose {
		return os.Stderr
	}
	return nil
}

// Warnf prints a one-line notice on stderr.
func (r *Run) Warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", r.Tool, fmt.Sprintf(format, args...))
}

// UsageError marks an error as the user's to fix: exit code 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a usage error.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Common flags.
var (
	jsonFlag     = &ucli.BoolFlag{Name: "json", Usage: "print one JSON object per event or report"}
	verboseFlag  = &ucli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print loader details (attach points chosen, verifier log)"}
	durationFlag = &ucli.StringFlag{Name: "duration", Aliases: []string{"d"}, Usage: "trace for `SECONDS` then exit (also accepts 500ms, 2m)"}
)

// NewApp builds the urfave/cli application for t. Main runs it; tests and
// the man-page generator use it directly.
func NewApp(t Tool) *ucli.App {
	flags := append([]ucli.Flag{}, t.Flags...)
	flags = append(flags, jsonFlag, verboseFlag)
	if t.Duration {
		flags = append(flags, durationFlag)
	}
	flags = append(flags, genManFlag, genCompletionFlag, planFlag)
	argsUsage := ""
	if t.Histogram {
		argsUsage = "[interval [count]]"
	}
	prose, examples := splitDescription(t.Description)
	app := &ucli.App{
		Name:                   t.Name,
		Usage:                  t.Usage,
		UsageText:              strings.TrimSpace(fmt.Sprintf("%s [options] %s", t.Name, argsUsage)),
		ArgsUsage:              argsUsage,
		Description:            prose,
		Metadata:               map[string]any{"examples": examples},
		CustomAppHelpTemplate:  helpTemplate,
		Version:                Version,
		Flags:                  flags,
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		Writer:                 os.Stdout,
		ErrWriter:              os.Stderr,
		OnUsageError: func(_ *ucli.Context, err error, _ bool) error {
			return UsageError{err}
		},
		// We decide exit codes ourselves, after the action returns.
		ExitErrHandler: func(*ucli.Context, error) {},
		Action: func(c *ucli.Context) error {
			return runAction(t, c)
		},
	}
	return app
}

func versionString(name string) string {
	return fmt.Sprintf("%s (bpftk) %s, commit %s, built with %s", name, Version, Commit, runtime.Version())
}

func init() {
	ucli.VersionFlag = &ucli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print the version, commit and Go version"}
	ucli.VersionPrinter = func(c *ucli.Context) {
		fmt.Fprintln(c.App.Writer, versionString(c.App.Name))
	}
}

// Main runs the tool with the process's arguments and exits.
func Main(t Tool) {
	os.Exit(Execute(t, os.Args))
}

// Execute runs the tool and returns its exit code.
func Execute(t Tool, args []string) int {
	// A closed stdout must surface as EPIPE on write (handled as a clean
	// end), not kill us with SIGPIPE before the final output is attempted.
	signal.Ignore(syscall.SIGPIPE)
	err := NewApp(t).Run(args)
	return report(t.Name, err)
}

func report(name string, err error) int {
	if err == nil || errors.Is(err, output.ErrClosed) {
		return ExitOK
	}
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	var ue UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "%s: %s (try %s --help)\n", name, msg, name)
		return ExitUsage
	}
	fmt.Fprintf(os.Stderr, "%s: %s\n", name, msg)
	return ExitFailure
}

func runAction(t Tool, c *ucli.Context) error {
	r := &Run{
		Context: c,
		Tool:    t.Name,
		Out:     output.New(os.Stdout),
		JSON:    c.Bool("json"),
		Verbose: c.Bool("verbose"),
	}
	if done, err := generateDocs(t, c, os.Stdout); done {
		return err
	}
	startPlan(c, r.JSON)
	args := c.Args().Slice()
	if t.Histogram {
		var err error
		if r.Interval, r.Count, err = parseIntervalCount(args); err != nil {
			return err
		}
	} else if len(args) > 0 {
		return Usagef("unexpected argument %q", args[0])
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if t.Duration && c.IsSet("duration") {
		d, err := ParseSeconds(c.String("duration"))
		if err != nil {
			return Usagef("invalid duration %q: %v", c.String("duration"), err)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	output.WatchClosed(os.Stdout, func() { cancel(output.ErrClosed) })
	r.Ctx = ctx

	err := planned(t.Action(r))
	if err == nil {
		err = r.Out.Flush()
	}
	if err == nil && errors.Is(context.Cause(ctx), output.ErrClosed) {
		return nil
	}
	return err
}

// ParseSeconds reads a duration given as whole seconds (libbpf-tools
// style) or as a Go duration such as 500ms.
func ParseSeconds(s string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, errors.New("want a number of seconds")
	}
	if d <= 0 {
		return 0, errors.New("must be greater than zero")
	}
	return d, nil
}

func parseIntervalCount(args []string) (time.Duration, int, error) {
	if len(args) > 2 {
		return 0, 0, Usagef("unexpected argument %q", args[2])
	}
	var interval time.Duration
	count := 0
	if len(args) >= 1 {
		d, err := ParseSeconds(args[0])
		if err != nil {
			return 0, 0, Usagef("invalid interval %q: %v", args[0], err)
		}
		interval = d
	}
	if len(args) == 2 {
		n, err := strconv.ParseUint(args[1], 10, 31)
		if err != nil || n == 0 {
			return 0, 0, Usagef("invalid count %q: want a positive number", args[1])
		}
		count = int(n)
	}
	return interval, count, nil
}

// PID reads a process or thread id flag: a positive number naming a task
// that exists now (a PID can only be traced once it exists). 0 when unset.
func (r *Run) PID(flag string) (uint32, error) {
	if !r.IsSet(flag) {
		return 0, nil
	}
	s := r.String(flag)
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || n > 1<<22 {
		return 0, Usagef("invalid --%s %q: want a positive process id", flag, s)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", n)); err != nil {
		return 0, Usagef("invalid --%s %d: no such process", flag, n)
	}
	return uint32(n), nil
}

// UID reads a user id flag; ok is false when it is unset.
func (r *Run) UID(flag string) (uid uint32, ok bool, err error) {
	if !r.IsSet(flag) {
		return 0, false, nil
	}
	s := r.String(flag)
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 {
		return 0, false, Usagef("invalid --%s %q: want a numeric user id", flag, s)
	}
	return uint32(n), true, nil
}

// CgroupFlag is the -c/--cgroup filter most tools offer.
var CgroupFlag = &ucli.StringFlag{Name: "cgroup", Aliases: []string{"c"}, Usage: "trace only tasks in the cgroup v2 directory `PATH` (and below)"}

// Ended reports why the run ended, for messages: nil while it is running.
func (r *Run) Ended() error { return context.Cause(r.Ctx) }

// Reports runs a histogram tool's print loop the way libbpf-tools does:
// with an interval, report every interval until Count reports are printed;
// and when the run ends (Ctrl-C, SIGTERM), detach the programs and report
// what was recorded since the last one. Without an interval that final
// report is the only one. Nothing more is printed once stdout has closed.
func (r *Run) Reports(report func() error, detach func()) error {
	var tick <-chan time.Time
	if r.Interval > 0 {
		t := time.NewTicker(r.Interval)
		defer t.Stop()
		tick = t.C
	}
	for printed := 0; ; {
		select {
		case <-r.Ctx.Done():
			detach()
			if errors.Is(r.Ended(), output.ErrClosed) {
				return nil
			}
			return report()
		case <-tick:
			if err := report(); err != nil {
				return err
			}
			if err := r.Out.Flush(); err != nil {
				return err
			}
			if printed++; r.Count > 0 && printed >= r.Count {
				detach()
				return nil
			}
		}
	}
}

package loader

import (
	"errors"
	"fmt"
	"github.com/bpftk/bpftk/pkg/output"
	"io"
	"strings"

	"golang.org/x/sys/unix"
)

// Plan mode (the frame's hidden --plan flag): Load runs the preflight checks
// and the attach-point choice it always runs, prints what it would attach,
// and returns ErrPlanned instead of loading anything. bpftk-doctor runs each
// tool this way, so its report is the loader's own decision, not a copy of
// its rules that could drift.
var (
	planOut  io.Writer
	planJSON bool
)

// ErrPlanned is what Load returns in plan mode once the plan is printed.
var ErrPlanned = errors.New("plan printed; nothing was loaded")

// SetPlan switches Load to plan mode, printing to w (JSON with asJSON).
func SetPlan(w io.Writer, asJSON bool) {
	planOut, planJSON = w, asJSON
}

// Plan is what Load would do on this kernel, for this caller.
type Plan struct {
	Tool string `json:"tool"`
	// Runnable: every check passed and every required hook has an attach
	// point, as far as this caller's privileges let the loader tell.
	Runnable   bool       `json:"runnable"`
	Privileges string     `json:"privileges"` // "ok" or what is missing
	Hooks      []PlanHook `json:"hooks"`
	Error      string     `json:"error,omitempty"` // why it cannot run
}

// PlanHook is one hook and the alternative the loader picked.
type PlanHook struct {
	Choices  []string `json:"choices"`
	Optional bool     `json:"optional,omitempty"`
	Chosen   string   `json:"chosen,omitempty"` // "tp_btf/sched_switch", "tracepoint/syscalls/sys_enter_openat"
	Kind     string   `json:"kind,omitempty"`
	Program  string   `json:"program,omitempty"`
	// Skipped: an optional hook this kernel has no attach point for.
	Skipped bool `json:"skipped,omitempty"`
	// Unknown: why the choice may differ when the tool runs with privileges
	// (a tp_btf probe needs CAP_BPF to load its test program).
	Unknown string `json:"unknown,omitempty"`
	Error   string `json:"error,omitempty"`
}

// AppendJSON appends the plan as one JSON line, in the form the json tags
// describe (bpftk-doctor decodes it with them).
func (pl Plan) AppendJSON(b []byte) []byte {
	b = output.Obj(b)
	b = output.StrString(b, "tool", pl.Tool)
	b = output.Bool(b, "runnable", pl.Runnable)
	b = output.StrString(b, "privileges", pl.Privileges)
	b = append(output.Key(b, "hooks"), '[')
	for _, h := range pl.Hooks {
		b = output.Obj(b)
		b = append(output.Key(b, "choices"), '[')
		for _, c := range h.Choices {
			b = append(output.AppendJSONString(b, []byte(c)), ',')
		}
		b = output.Close(b, ']')
		if h.Optional {
			b = output.Bool(b, "optional", true)
		}
		b = omitEmpty(b, "chosen", h.Chosen)
		b = omitEmpty(b, "kind", h.Kind)
		b = omitEmpty(b, "program", h.Program)
		if h.Skipped {
			b = output.Bool(b, "skipped", true)
		}
		b = omitEmpty(b, "unknown", h.Unknown)
		b = omitEmpty(b, "error", h.Error)
		b = output.Close(b, '}')
	}
	b = output.Close(b, ']')
	b = omitEmpty(b, "error", pl.Error)
	return output.End(b)
}

func omitEmpty(b []byte, k, v string) []byte {
	if v == "" {
		return b
	}
	return output.StrString(b, k, v)
}

// plan fills a Plan the way Load decides, and prints it.
func plan(o Options, logf func(string, ...any)) error {
	pl := Plan{Tool: o.Tool, Runnable: true, Privileges: "ok"}
	fail := func(err error) {
		if pl.Runnable {
			pl.Runnable, pl.Error = false, err.Error()
		}
	}
	if err := CheckPrivileges(); err != nil {
		pl.Privileges = err.Error()
		fail(err)
	}
	if o.NeedBTF {
		if err := CheckBTF(); err != nil {
			fail(err)
		}
	}
	p := newProber(logf)
	for _, h := range o.Hooks {
		ph := PlanHook{Optional: h.Optional}
		for _, c := range h.Choices {
			ph.Choices = append(ph.Choices, c.String())
		}
		c, err := p.choose(h)
		switch {
		case err != nil:
			ph.Error = err.Error()
			fail(err)
		case c == nil:
			ph.Skipped = true
		default:
			ph.Chosen, ph.Kind, ph.Program = c.String(), c.Kind.String(), c.Program
		}
		// An unprivileged tp_btf probe is refused, and the choice falls
		// through to the next alternative: say so rather than guess.
		for _, alt := range h.Choices {
			if c != nil && alt == *c {
				break
			}
			if alt.Kind == TPBTF && errors.Is(p.tpbtfRes[alt.Event], unix.EPERM) {
				ph.Unknown = fmt.Sprintf("%s could not be probed (needs CAP_BPF); with privileges it is preferred", alt)
				break
			}
		}
		pl.Hooks = append(pl.Hooks, ph)
	}
	if err := writePlan(planOut, pl, planJSON); err != nil {
		return err
	}
	return ErrPlanned
}

func writePlan(w io.Writer, pl Plan, asJSON bool) error {
	if asJSON {
		_, err := w.Write(pl.AppendJSON(nil))
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: runnable %v, privileges: %s\n", pl.Tool, pl.Runnable, pl.Privileges)
	for _, h := range pl.Hooks {
		switch {
		case h.Error != "":
			fmt.Fprintf(&b, "  %s: error: %s\n", strings.Join(h.Choices, " | "), h.Error)
		case h.Skipped:
			fmt.Fprintf(&b, "  %s: skipped (optional, not on this kernel)\n", strings.Join(h.Choices, " | "))
		default:
			fmt.Fprintf(&b, "  %s: program %s\n", h.Chosen, h.Program)
		}
		if h.Unknown != "" {
			fmt.Fprintf(&b, "    note: %s\n", h.Unknown)
		}
	}
	if pl.Error != "" {
		fmt.Fprintf(&b, "  cannot run: %s\n", pl.Error)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

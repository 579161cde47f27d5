// bpftk-doctor reports what this kernel offers to eBPF tracing tools, what
// the calling user may do with it, and, for every bpftk tool, whether it can
// run here and which attach points it would use.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bpftk/bpftk/pkg/cli"
	"github.com/bpftk/bpftk/pkg/table"
)

const toolName = "bpftk-doctor"

const description = `Report what this kernel offers to eBPF tracing tools and what the calling
user may do with it: kernel BTF, tracefs, the ring buffer map, tp_btf, raw_tp,
classic tracepoints, kprobes, fentry, uprobes, perf events, lockdown,
kernel.unprivileged_bpf_disabled, kernel.perf_event_paranoid and the caller's
capabilities. Then, for every bpftk tool (next to bpftk-doctor, else in
$PATH), whether it can run here and which attach points (tp_btf, raw_tp or
tracepoint) it would use: the tool itself is run with --plan, so this is the
loader's own choice. Nothing stays attached.

Without privileges the report is partial: probes that must load a program say
"unknown (needs CAP_BPF and CAP_PERFMON)".

Examples:
   bpftk-doctor            # what works here, as this user
   sudo bpftk-doctor       # the full answer
   bpftk-doctor -v         # also each tool's attach point per hook
   bpftk-doctor --json     # one JSON object for scripts`

func main() {
	cli.Main(cli.Tool{
		Name:        toolName,
		Usage:       "report which eBPF features this kernel offers and which bpftk tools can run",
		Description: description,
		Action:      run,
	})
}

// Report is the --json output.
type Report struct {
	Kernel []Feature    `json:"kernel"`
	Tools  []ToolReport `json:"tools"`
}

func run(r *cli.Run) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own directory: %w", err)
	}
	selfDir := filepath.Dir(self)
	rep := Report{Kernel: kernelFeatures()}
	for _, name := range toolNames(selfDir) {
		rep.Tools = append(rep.Tools, toolReport(selfDir, name))
	}
	if r.JSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = r.Out.Write(append(b, '\n'))
		return err
	}
	var rows [][]string
	for _, f := range rep.Kernel {
		rows = append(rows, []string{f.Name, f.Status, f.Detail})
	}
	if err := table.Write(r.Out, []string{"FEATURE", "AVAILABLE", "DETAIL"}, rows); err != nil {
		return err
	}
	r.Out.WriteString("\n")
	rows = rows[:0]
	for _, t := range rep.Tools {
		needs := strings.Join(t.Needs, ",")
		needs = strings.ReplaceAll(needs, "CAP_", "")
		rows = append(rows, []string{t.Tool, t.Status, t.Attach, needs, t.Note})
	}
	if len(rows) == 0 {
		rows = append(rows, []string{"(none found)", "", "", "", ""})
	}
	// NON-ROOT NEEDS: the capabilities (CAP_ dropped) for setcap.
	if err := table.Write(r.Out, []string{"TOOL", "RUNS HERE", "ATTACH", "NON-ROOT NEEDS", "NOTE"}, rows); err != nil {
		return err
	}
	if r.Verbose {
		for _, t := range rep.Tools {
			if t.Plan == nil {
				continue
			}
			fmt.Fprintf(r.Out, "\n%s (%s):\n", t.Tool, t.Path)
			for _, h := range t.Plan.Hooks {
				switch {
				case h.Error != "":
					fmt.Fprintf(r.Out, "  %s: %s\n", strings.Join(h.Choices, " | "), h.Error)
				case h.Skipped:
					fmt.Fprintf(r.Out, "  %s: skipped (optional, not on this kernel)\n", strings.Join(h.Choices, " | "))
				default:
					fmt.Fprintf(r.Out, "  %-45s program %s\n", h.Chosen, h.Program)
				}
			}
		}
	}
	return nil
}

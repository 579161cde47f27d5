package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bpftk/bpftk/pkg/cli"
	"github.com/bpftk/bpftk/pkg/loader"
)

// toolPkgPrefix is the import path prefix of every bpftk tool's main package:
// how the doctor recognises a sibling without running it.
const toolPkgPrefix = "github.com/bpftk/bpftk/tools/"

// ToolReport is one row of the tools report.
type ToolReport struct {
	Tool   string `json:"tool"`
	Status string `json:"status"` // "yes", "no", "not installed", "unknown (...)"
	Path   string `json:"path,omitempty"`
	Attach string `json:"attach,omitempty"` // summary of the chosen attach points
	// Needs: the capabilities a non-root user needs for this plan.
	Needs []string     `json:"needs,omitempty"`
	Note  string       `json:"note,omitempty"`
	Plan  *loader.Plan `json:"plan,omitempty"`
}

// bpftkTool returns the tool name when path is a bpftk tool binary.
func bpftkTool(path string) (string, bool) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", false
	}
	name, ok := strings.CutPrefix(bi.Path, toolPkgPrefix)
	return name, ok
}

// toolNames lists the tools to report on: those this build was made with
// (stamped by the Makefile) and every bpftk binary next to the doctor.
func toolNames(selfDir string) []string {
	seen := map[string]bool{}
	for _, n := range strings.Fields(cli.Tools) {
		seen[n] = true
	}
	if entries, err := os.ReadDir(selfDir); err == nil {
		for _, e := range entries {
			if e.Type().IsRegular() {
				if n, ok := bpftkTool(filepath.Join(selfDir, e.Name())); ok && n == e.Name() {
					seen[n] = true
				}
			}
		}
	}
	delete(seen, toolName)
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// locate finds a tool next to the doctor, then in $PATH; a binary of that
// name that is not bpftk's (BCC's libbpf-tools use the same names) does not
// count.
func locate(selfDir, name string) (path, note string) {
	p := filepath.Join(selfDir, name)
	if n, ok := bpftkTool(p); ok && n == name {
		return p, ""
	}
	if p, err := exec.LookPath(name); err == nil {
		if n, ok := bpftkTool(p); ok && n == name {
			return p, ""
		}
		return "", p + " is not a bpftk tool"
	}
	return "", ""
}

// planTimeout bounds one tool's --plan run (it loads the kernel BTF and
// probes tp_btf: well under a second).
const planTimeout = 30 * time.Second

// toolReport runs the tool with --plan --json: the loader's own preflight
// and attach choice, for this caller, nothing loaded.
func toolReport(selfDir, name string) ToolReport {
	r := ToolReport{Tool: name}
	path, note := locate(selfDir, name)
	if path == "" {
		r.Status, r.Note = "not installed", note
		return r
	}
	r.Path = path
	ctx, cancel := context.WithTimeout(context.Background(), planTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "--plan", "--json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	pl, err := parsePlan(stdout.Bytes())
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" && runErr != nil {
			msg = runErr.Error()
		}
		if msg == "" {
			msg = err.Error()
		}
		r.Status, r.Note = unknown("no plan"), msg
		return r
	}
	r.Plan = pl
	r.Attach = attachSummary(pl)
	r.Needs = needs(pl)
	switch {
	case pl.Runnable:
		r.Status = yes
	default:
		r.Status, r.Note = no, pl.Error
	}
	for _, h := range pl.Hooks {
		if h.Unknown != "" {
			r.Note = joinNote(r.Note, h.Unknown)
			break
		}
	}
	return r
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// parsePlan reads the plan: the last JSON object line on stdout.
func parsePlan(out []byte) (*loader.Plan, error) {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if bytes.HasPrefix(lines[i], []byte(`{"tool":`)) {
			var pl loader.Plan
			if err := json.Unmarshal(lines[i], &pl); err != nil {
				return nil, fmt.Errorf("bad plan: %w", err)
			}
			return &pl, nil
		}
	}
	return nil, fmt.Errorf("the tool printed no plan (too old for --plan?)")
}

// attachSummary counts the chosen attach kinds: "6 tracepoint", or
// "2 tp_btf, 1 raw_tp (1 optional skipped)".
func attachSummary(pl *loader.Plan) string {
	count := map[string]int{}
	var kinds []string
	skipped := 0
	for _, h := range pl.Hooks {
		if h.Skipped {
			skipped++
			continue
		}
		if h.Kind == "" {
			continue
		}
		if count[h.Kind] == 0 {
			kinds = append(kinds, h.Kind)
		}
		count[h.Kind]++
	}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", count[k], k))
	}
	s := strings.Join(parts, ", ")
	if skipped > 0 {
		s += fmt.Sprintf(" (%d optional skipped)", skipped)
	}
	return strings.TrimSpace(s)
}

// needs lists the capabilities a non-root user must hold to run the plan:
// CAP_BPF and CAP_PERFMON to load and attach, plus CAP_DAC_READ_SEARCH when
// a classic tracepoint is used, as its id is read from tracefs (mode 0700).
// tp_btf and raw_tp attach by name and need nothing more.
func needs(pl *loader.Plan) []string {
	caps := []string{"CAP_BPF", "CAP_PERFMON"}
	for _, h := range pl.Hooks {
		kind := h.Kind
		if kind == "" && h.Error != "" && len(h.Choices) > 0 {
			// Undecided for lack of privilege: the last alternative is
			// where the loader ends up when nothing better works.
			kind = strings.SplitN(h.Choices[len(h.Choices)-1], "/", 2)[0]
		}
		if kind == "tracepoint" {
			return append(caps, "CAP_DAC_READ_SEARCH")
		}
	}
	return caps
}

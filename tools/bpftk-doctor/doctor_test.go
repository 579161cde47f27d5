package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/bpftk/bpftk/pkg/testutil"
	"github.com/cilium/ebpf"
)

// siblings builds the doctor and every tool into one directory, as an
// installation has them, and returns the doctor's path and the tools' names.
func siblings(t *testing.T) (string, []string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(testutil.ModuleRoot(t), "tools"))
	if err != nil {
		t.Fatal(err)
	}
	var tools []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != toolName {
			testutil.BuildTool(t, e.Name())
			tools = append(tools, e.Name())
		}
	}
	if len(tools) == 0 {
		t.Fatal("no tools under tools/")
	}
	return testutil.BuildTool(t, toolName), tools
}

func runDoctor(t *testing.T, bin string) Report {
	t.Helper()
	r := testutil.Run(t, bin, "--json")
	if r.ExitCode != 0 {
		t.Fatalf("bpftk-doctor --json: exit %d: %s", r.ExitCode, r.Stderr)
	}
	var rep Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, r.Stdout)
	}
	return rep
}

func feature(t *testing.T, rep Report, name string) Feature {
	t.Helper()
	for _, f := range rep.Kernel {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no %q row in %+v", name, rep.Kernel)
	return Feature{}
}

// kernelConfig reads one option from /proc/config.gz: "y", "m" or "" (not
// set); ok is false when the kernel does not expose its config.
func kernelConfig(t *testing.T, option string) (value string, ok bool) {
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return "", false
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + option + `=(\w+)$`).FindSubmatch(b)
	if m == nil {
		return "", true
	}
	return string(m[1]), true
}

// TestKernelReport checks the doctor against what the kernel says of
// itself: its build config for kprobes, tracefs for tracepoints, BTF for
// tp_btf. On the test kernel kprobes and fentry are missing.
func TestKernelReport(t *testing.T) {
	testutil.RequireBPF(t)
	bin, _ := siblings(t)
	rep := runDoctor(t, bin)

	if v, ok := kernelConfig(t, "CONFIG_KPROBES"); ok {
		want := "no"
		if v == "y" {
			want = "yes"
		}
		if got := feature(t, rep, "kprobes"); got.Status != want {
			t.Errorf("kprobes: %+v, but CONFIG_KPROBES=%q", got, v)
		}
	}
	tracefs := "/sys/kernel/tracing/events/sched/sched_switch/id"
	if _, err := os.Stat(tracefs); err == nil {
		if got := feature(t, rep, "tracepoints"); got.Status != "yes" {
			t.Errorf("tracepoints: %+v, but %s exists", got, tracefs)
		}
	}
	if _, err := os.Stat(loader.VmlinuxBTF); err == nil {
		for _, name := range []string{"BTF", "tp_btf", "raw_tp", "ring buffer map"} {
			if got := feature(t, rep, name); got.Status != "yes" {
				t.Errorf("%s: %+v on a kernel with BTF", name, got)
			}
		}
	}
	// fentry is refused on the test kernel; elsewhere it must at least be
	// decided (root can probe it).
	if got := feature(t, rep, "fentry"); got.Status != "yes" && got.Status != "no" {
		t.Errorf("fentry undecided as root: %+v", got)
	}
	for _, c := range []string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"} {
		if got := feature(t, rep, "caller "+c); got.Status != "yes" {
			t.Errorf("root lacks %s: %+v", c, got)
		}
	}
	if testing.Verbose() {
		t.Logf("kprobes %+v, fentry %+v", feature(t, rep, "kprobes"), feature(t, rep, "fentry"))
	}
}

var usingLine = regexp.MustCompile(`: using (\S+) for program (\S+)`)

// kindType is the program type the loader gives each attach kind.
var kindType = map[string]ebpf.ProgramType{
	"tp_btf":     ebpf.Tracing,
	"raw_tp":     ebpf.RawTracepoint,
	"tracepoint": ebpf.TracePoint,
}

// TestPlanMatchesLoader runs every tool twice: the doctor's report (the
// tool's --plan) must name the attach points the tool then really uses, as
// its -v log says and as the kernel's list of loaded programs shows.
func TestPlanMatchesLoader(t *testing.T) {
	testutil.RequireBPF(t)
	bin, tools := siblings(t)
	rep := runDoctor(t, bin)
	byName := map[string]ToolReport{}
	for _, tr := range rep.Tools {
		byName[tr.Tool] = tr
	}
	for _, tool := range tools {
		t.Run(tool, func(t *testing.T) {
			tr, ok := byName[tool]
			if !ok || tr.Plan == nil {
				t.Fatalf("doctor has no plan for %s: %+v", tool, tr)
			}
			if tr.Status != "yes" || !tr.Plan.Runnable {
				t.Fatalf("%s not runnable as root: %+v", tool, tr)
			}
			planned := map[string]string{} // program -> attach point
			var programs []string
			for _, h := range tr.Plan.Hooks {
				if h.Chosen != "" {
					planned[h.Program] = h.Chosen
					programs = append(programs, h.Program)
				}
			}

			p := testutil.Start(t, filepath.Join(filepath.Dir(bin), tool), "-v")
			// Program types of what is live, by kernel name (15 chars).
			var gotTypes, wantTypes []string
			for _, id := range testutil.LoadedPrograms(t, programs...) {
				prog, err := ebpf.NewProgramFromID(id)
				if err != nil {
					continue
				}
				info, err := prog.Info()
				prog.Close()
				if err == nil {
					name := info.Name // full from BTF, or the kernel's 15 characters
					if len(name) > 15 {
						name = name[:15]
					}
					gotTypes = append(gotTypes, name+":"+info.Type.String())
				}
			}
			res := p.Stop()
			used := map[string]string{}
			for _, m := range usingLine.FindAllStringSubmatch(res.Stderr, -1) {
				used[m[2]] = m[1]
			}
			if !equalMaps(planned, used) {
				t.Errorf("plan %v, but the loader used %v\nstderr:\n%s", planned, used, res.Stderr)
			}
			for _, h := range tr.Plan.Hooks {
				if h.Chosen != "" {
					n := h.Program
					if len(n) > 15 {
						n = n[:15]
					}
					wantTypes = append(wantTypes, n+":"+kindType[h.Kind].String())
				}
			}
			sort.Strings(gotTypes)
			sort.Strings(wantTypes)
			if strings.Join(gotTypes, " ") != strings.Join(wantTypes, " ") {
				t.Errorf("loaded programs %v, plan says %v", gotTypes, wantTypes)
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestTable checks the human report: both tables, every tool listed.
func TestTable(t *testing.T) {
	testutil.RequireBPF(t)
	bin, tools := siblings(t)
	r := testutil.Run(t, bin)
	if r.ExitCode != 0 {
		t.Fatalf("exit %d: %s", r.ExitCode, r.Stderr)
	}
	for _, want := range append([]string{"FEATURE", "AVAILABLE", "tp_btf", "kernel.perf_event_paranoid", "TOOL", "RUNS HERE"}, tools...) {
		if !bytes.Contains([]byte(r.Stdout), []byte(want)) {
			t.Errorf("report lacks %q:\n%s", want, r.Stdout)
		}
	}
}

// Package testutil runs bpftk tools the way a user does, for end-to-end
// tests against the real kernel: build the binary once, start it as a
// subprocess, wait until its probes are attached, stop it with a signal and
// collect what it printed.
package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/cilium/ebpf"
)

// RequireBPF skips the test when it cannot load BPF programs (not root), and
// fails it instead when CI=true or BPFTK_REQUIRE_BPF=1, so that CI never
// passes by skipping.
func RequireBPF(t testing.TB) {
	t.Helper()
	err := loader.CheckPrivileges()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("this test loads BPF programs and %v", err)
	if os.Getenv("CI") == "true" || os.Getenv("BPFTK_REQUIRE_BPF") == "1" {
		t.Fatalf("%s; CI=true or BPFTK_REQUIRE_BPF=1 forbids skipping", msg)
	}
	t.Skip(msg)
}

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// BuildTool builds tools/<name> once per test binary and returns its path.
func BuildTool(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "bpftk-test-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, name)
	cmd := exec.Command("go", "build", "-o", out, "./tools/"+name)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, b)
	}
	built[name] = out
	return out
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Proc is a running tool.
type Proc struct {
	t      testing.TB
	Cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error
}

// Result is what a stopped tool left behind.
type Result struct {
	Stdout   string
	Stderr   string
	ExitCode int
}

// Lines returns stdout split into lines, without the trailing empty one.
func (r Result) Lines() []string {
	s := strings.TrimRight(r.Stdout, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Start runs bin with args and waits until the tool reports that all its
// probes are attached (the loader creates $BPFTK_READY_FILE). The process is
// killed when the test ends if it is still running.
func Start(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	p := &Proc{t: t, done: make(chan struct{})}
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Env = append(os.Environ(), loader.ReadyFileEnv+"="+ready)
	p.Cmd.Stdout = &p.stdout
	p.Cmd.Stderr = &p.stderr
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.Cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s %s exited before its probes were live: %v\nstdout:\n%s\nstderr:\n%s",
				filepath.Base(bin), strings.Join(args, " "), p.err, p.stdout.String(), p.stderr.String())
		case <-deadline:
			t.Fatalf("%s did not attach within 30s\nstderr:\n%s", filepath.Base(bin), p.stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Stdout returns what the tool has printed so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stop sends SIGINT, as Ctrl-C does, and waits for the tool to exit.
func (p *Proc) Stop() Result { return p.StopWith(syscall.SIGINT) }

// StopWith sends sig and waits (up to 20 s) for the tool to exit.
func (p *Proc) StopWith(sig syscall.Signal) Result {
	p.t.Helper()
	p.Cmd.Process.Signal(sig)
	return p.Wait(20 * time.Second)
}

// Wait waits for the tool to exit by itself.
func (p *Proc) Wait(timeout time.Duration) Result {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("tool did not exit within %v\nstderr:\n%s", timeout, p.stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		code = ee.ExitCode()
	} else if p.err != nil {
		p.t.Fatalf("wait: %v", p.err)
	}
	return Result{Stdout: p.stdout.String(), Stderr: p.stderr.String(), ExitCode: code}
}

// Run runs bin to completion (for usage errors and short runs) and returns
// its result.
func Run(t testing.TB, bin string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: code}
}

// LoadedPrograms returns the ids of loaded BPF programs whose names are in
// names (kernel program names are cut to 15 characters).
func LoadedPrograms(t testing.TB, names ...string) []ebpf.ProgramID {
	t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		if len(n) > 15 {
			n = n[:15]
		}
		want[n] = true
	}
	var ids []ebpf.ProgramID
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			break
		}
		id = next
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded meanwhile
		}
		info, err := prog.Info()
		prog.Close()
		// The kernel keeps 15 characters of a name; cilium/ebpf
		// restores the full one from BTF where it can.
		name := info.Name
		if len(name) > 15 {
			name = name[:15]
		}
		if err == nil && want[name] {
			ids = append(ids, id)
		}
	}
	return ids
}

// SingleLineError checks the shape every bpftk error has: exit code want,
// nothing on stdout, one line on stderr starting with "<tool>: ", no Go
// stack trace.
func SingleLineError(t testing.TB, r Result, tool string, want int) {
	t.Helper()
	if r.ExitCode != want {
		t.Errorf("exit code %d, want %d (stderr %q)", r.ExitCode, want, r.Stderr)
	}
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], tool+": ") {
		t.Errorf("stderr is not one line starting with %q: %q", tool+": ", r.Stderr)
	}
	if strings.Contains(r.Stderr, "goroutine ") || strings.Contains(r.Stderr, "panic") {
		t.Errorf("stderr has a Go stack trace: %s", r.Stderr)
	}
}

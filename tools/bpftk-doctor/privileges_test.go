package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/bpftk/bpftk/pkg/testutil"
	"golang.org/x/sys/unix"
)

// These tests run tools as user nobody holding only file capabilities, the
// least-privilege setup the README documents:
//
//	setcap cap_bpf,cap_perfmon,cap_dac_read_search+ep /usr/local/sbin/opensnoop

// capDir copies the built tools into a fresh directory user nobody can
// reach (test temp dirs are root-only) and gives each the capabilities.
func capDir(t *testing.T, caps string, tools ...string) string {
	t.Helper()
	setcap, err := exec.LookPath("setcap")
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("BPFTK_REQUIRE_BPF") == "1" {
			t.Fatal("setcap is missing (package libcap2-bin; scripts/install-deps.sh --test installs it)")
		}
		t.Skip("setcap is missing (package libcap2-bin)")
	}
	dir, err := os.MkdirTemp("", "bpftk-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools {
		dst := filepath.Join(dir, tool)
		copyFile(t, testutil.BuildTool(t, tool), dst)
		if caps == "" {
			continue
		}
		if out, err := exec.Command(setcap, caps+"+ep", dst).CombinedOutput(); err != nil {
			t.Fatalf("setcap %s %s: %v: %s", caps, dst, err, out)
		}
	}
	// The loader's readiness file must be writable by nobody.
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "run"), 0o777)
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func nobody(t *testing.T) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// nobodyProc is a tool running as nobody.
type nobodyProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan error
}

// startAs starts bin as nobody and waits until its probes are attached, or
// until it exits (then ready is false and the result is in the proc).
func startAs(t *testing.T, dir string, bin string, args ...string) (p *nobodyProc, ready bool) {
	t.Helper()
	readyFile := filepath.Join(dir, "run", "ready")
	os.Remove(readyFile)
	p = &nobodyProc{done: make(chan error, 1)}
	p.cmd = exec.Command(filepath.Join(dir, bin), args...)
	p.cmd.Env = append(os.Environ(), loader.ReadyFileEnv+"="+readyFile)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody(t)}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	deadline := time.After(30 * time.Second)
	for {
		if _, err := os.Stat(readyFile); err == nil {
			return p, true
		}
		select {
		case err := <-p.done:
			p.done <- err
			return p, false
		case <-deadline:
			t.Fatalf("%s did not attach within 30s: %s", bin, p.stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stop sends SIGINT and returns the exit code.
func (p *nobodyProc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	var err error
	select {
	case err = <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Fatal("tool did not exit on SIGINT")
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return 0
}

// openN opens path n times from this (root) process.
func openN(t *testing.T, path string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// linesWith returns opensnoop's output lines whose PATH column is path.
func linesWith(out, path string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, " "+path) {
			ls = append(ls, l)
		}
	}
	return ls
}

// marker creates a file with a name no other process opens.
func marker(t *testing.T, dir, name string) string {
	p := filepath.Join(dir, fmt.Sprintf("%s-%d", name, os.Getpid()))
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	return p
}

// TestCapabilitiesOnly: opensnoop attaches classic tracepoints, so a user
// with CAP_BPF and CAP_PERFMON alone is refused with a clear message (the
// tracepoint id lives in root-only tracefs); adding CAP_DAC_READ_SEARCH is
// enough, and every open of the workload is reported.
func TestCapabilitiesOnly(t *testing.T) {
	testutil.RequireBPF(t)

	t.Run("bpf+perfmon", func(t *testing.T) {
		dir := capDir(t, "cap_bpf,cap_perfmon", "opensnoop")
		p, ready := startAs(t, dir, "opensnoop")
		if ready {
			p.stop(t)
			t.Skip("tracefs is readable by nobody here: CAP_DAC_READ_SEARCH is not needed")
		}
		err := <-p.done
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("exit %v, want 1", err)
		}
		msg := strings.TrimSpace(p.stderr.String())
		if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "opensnoop: ") || !strings.Contains(msg, "CAP_DAC_READ_SEARCH") {
			t.Errorf("want one line naming CAP_DAC_READ_SEARCH, got %q", msg)
		}
	})

	t.Run("bpf+perfmon+dac_read_search", func(t *testing.T) {
		dir := capDir(t, "cap_bpf,cap_perfmon,cap_dac_read_search", "opensnoop")
		m := marker(t, dir, "marker")
		p, ready := startAs(t, dir, "opensnoop", "-U")
		if !ready {
			t.Fatalf("opensnoop as nobody with capabilities failed: %v\n%s", <-p.done, p.stderr.String())
		}
		openN(t, m, 7)
		time.Sleep(300 * time.Millisecond)
		if code := p.stop(t); code != 0 {
			t.Fatalf("exit %d: %s", code, p.stderr.String())
		}
		got := linesWith(p.stdout.String(), m)
		if len(got) != 7 {
			t.Fatalf("%d lines for %s, want 7:\n%s\nstderr: %s", len(got), m, p.stdout.String(), p.stderr.String())
		}
		for _, l := range got {
			f := strings.Fields(l) // UID PID COMM FD ERR PATH
			if f[0] != "0" || f[1] != strconv.Itoa(os.Getpid()) || f[4] != "0" {
				t.Errorf("line %q: want uid 0, pid %d, err 0", l, os.Getpid())
			}
		}
	})

	t.Run("cgroup filter", func(t *testing.T) {
		root := cgroup2Root(t)
		cg := filepath.Join(root, fmt.Sprintf("bpftk-caps-%d", os.Getpid()))
		if err := os.Mkdir(cg, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// Move anything left back to the root, then remove.
			if b, err := os.ReadFile(filepath.Join(cg, "cgroup.procs")); err == nil {
				for _, pid := range strings.Fields(string(b)) {
					os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(pid), 0)
				}
			}
			os.Remove(cg)
		})
		dir := capDir(t, "cap_bpf,cap_perfmon,cap_dac_read_search", "opensnoop")
		in, out := marker(t, dir, "in-cgroup"), marker(t, dir, "outside")
		p, ready := startAs(t, dir, "opensnoop", "-c", cg)
		if !ready {
			t.Fatalf("opensnoop -c as nobody failed: %v\n%s", <-p.done, p.stderr.String())
		}
		// A shell that joins the cgroup, then opens "in" three times; this
		// process opens "out" three times outside it.
		sh := exec.Command("sh", "-c", `echo $$ > "$1/cgroup.procs" && for i in 1 2 3; do : < "$2"; done`, "sh", cg, in)
		if b, err := sh.CombinedOutput(); err != nil {
			t.Fatalf("workload in cgroup: %v: %s", err, b)
		}
		openN(t, out, 3)
		time.Sleep(300 * time.Millisecond)
		if code := p.stop(t); code != 0 {
			t.Fatalf("exit %d: %s", code, p.stderr.String())
		}
		if n := len(linesWith(p.stdout.String(), in)); n != 3 {
			t.Errorf("%d opens inside the cgroup reported, want 3:\n%s", n, p.stdout.String())
		}
		if n := len(linesWith(p.stdout.String(), out)); n != 0 {
			t.Errorf("%d opens outside the cgroup reported, want 0", n)
		}
	})

	t.Run("doctor", func(t *testing.T) {
		// The doctor itself without privileges, opensnoop with its file
		// capabilities: a partial kernel report, and opensnoop runnable.
		dir := capDir(t, "", toolName)
		snoop := filepath.Join(dir, "opensnoop")
		copyFile(t, testutil.BuildTool(t, "opensnoop"), snoop)
		if out, err := exec.Command("setcap", "cap_bpf,cap_perfmon,cap_dac_read_search+ep", snoop).CombinedOutput(); err != nil {
			t.Fatalf("setcap: %v: %s", err, out)
		}
		cmd := exec.Command(filepath.Join(dir, toolName), "--json")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody(t)}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("doctor as nobody: %v: %s", err, stderr.String())
		}
		var rep Report
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		if f := feature(t, rep, "tp_btf"); f.Status != "unknown (needs CAP_BPF and CAP_PERFMON)" {
			t.Errorf("tp_btf as nobody: %+v", f)
		}
		if f := feature(t, rep, "caller CAP_BPF"); f.Status != "no" {
			t.Errorf("nobody has CAP_BPF? %+v", f)
		}
		if len(rep.Tools) != 1 || rep.Tools[0].Tool != "opensnoop" || rep.Tools[0].Status != "yes" {
			t.Fatalf("tools: %+v", rep.Tools)
		}
		if got := strings.Join(rep.Tools[0].Needs, ","); got != "CAP_BPF,CAP_PERFMON,CAP_DAC_READ_SEARCH" {
			t.Errorf("opensnoop needs %s", got)
		}
	})
}

// cgroup2Root returns where cgroup v2 is mounted (/sys/fs/cgroup, or
// /sys/fs/cgroup/unified on hybrid systems).
func cgroup2Root(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[2] == "cgroup2" {
			var st unix.Statfs_t
			if unix.Statfs(f[1], &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
				return f[1]
			}
		}
	}
	t.Skip("no cgroup v2 mount")
	return ""
}

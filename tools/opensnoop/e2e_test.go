package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/bpftk/bpftk/pkg/testutil"
	"golang.org/x/sys/unix"
)

// The workload is this test binary run again as a helper process: it waits
// for a line on stdin (so the test knows its PID before it opens anything),
// opens every path it was given, and reports on stdout the fd or errno each
// open returned. That report is the ground truth opensnoop must match.
const helperEnv = "OPENSNOOP_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		helperMain()
		return
	}
	os.Exit(m.Run())
}

func helperMain() {
	bufio.NewReader(os.Stdin).ReadString('\n')
	for i, path := range os.Args[1:] {
		var fd int
		var err error
		switch {
		case i%3 == 1:
			fd, err = unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC})
		case i%3 == 2 && runtime.GOARCH == "amd64":
			p, _ := unix.BytePtrFromString(path)
			r, _, e := unix.Syscall(unix.SYS_OPEN, uintptr(unsafe.Pointer(p)), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			fd = int(r)
			if e != 0 {
				fd, err = -1, e
			}
		default:
			fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			fmt.Printf("%s -1 %d\n", path, err.(syscall.Errno))
			continue
		}
		// Keep every fd open so each gets its own number.
		fmt.Printf("%s %d 0\n", path, fd)
	}
}

// open is one open the helper made.
type open struct {
	path  string
	fd    int
	errno int
}

// workload prepares n existing files and m missing ones in a fresh
// directory and returns their paths.
func workload(t *testing.T, n, m int) (dir string, paths []string) {
	dir = t.TempDir()
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("exists-%03d", i))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for i := 0; i < m; i++ {
		paths = append(paths, filepath.Join(dir, fmt.Sprintf("missing-%03d", i)))
	}
	return dir, paths
}

type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *strings.Builder
	Pid   int
}

// startHelper starts the helper, blocked until release is called.
func startHelper(t *testing.T, paths []string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], paths...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &strings.Builder{}
	cmd.Stdout = out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &helper{cmd: cmd, stdin: stdin, out: out, Pid: cmd.Process.Pid}
}

// release lets the helper open its files and returns what it saw.
func (h *helper) release(t *testing.T) []open {
	t.Helper()
	io.WriteString(h.stdin, "go\n")
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	var opens []open
	for _, line := range strings.Split(strings.TrimSpace(h.out.String()), "\n") {
		f := strings.Fields(line)
		fd, _ := strconv.Atoi(f[1])
		errno, _ := strconv.Atoi(f[2])
		opens = append(opens, open{f[0], fd, errno})
	}
	return opens
}

// textEvent is one parsed line of default text output.
type textEvent struct {
	pid, fd, errno int
	comm, path     string
}

func parseText(t *testing.T, lines []string) []textEvent {
	t.Helper()
	if len(lines) == 0 || lines[0] != "PID    COMM              FD ERR PATH" {
		t.Fatalf("first line is not the header: %q", lines)
	}
	var evs []textEvent
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 5 {
			t.Fatalf("short line %q", l)
		}
		pid, _ := strconv.Atoi(f[0])
		fd, _ := strconv.Atoi(f[2])
		errno, _ := strconv.Atoi(f[3])
		evs = append(evs, textEvent{pid: pid, comm: f[1], fd: fd, errno: errno, path: f[4]})
	}
	return evs
}

// inDir keeps the events about paths in dir.
func inDir(evs []textEvent, dir string) []textEvent {
	var out []textEvent
	for _, e := range evs {
		if strings.HasPrefix(e.path, dir+"/") {
			out = append(out, e)
		}
	}
	return out
}

// checkMatches asserts that got holds exactly the helper's opens, in order,
// with the helper's PID.
func checkMatches(t *testing.T, got []textEvent, want []open, pid int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("opensnoop reported %d opens of the test files, the helper made %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.path != w.path || g.fd != w.fd || g.errno != w.errno || g.pid != pid {
			t.Errorf("event %d: got pid=%d path=%s fd=%d err=%d, want pid=%d path=%s fd=%d err=%d",
				i, g.pid, g.path, g.fd, g.errno, pid, w.path, w.fd, w.errno)
		}
	}
}

func TestReportsEveryOpen(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "opensnoop")
	dir, paths := workload(t, 40, 20)

	p := testutil.Start(t, bin)
	ids := testutil.LoadedPrograms(t, "enter_openat", "exit_openat")
	if len(ids) < 2 {
		t.Fatalf("opensnoop is running but its programs are not loaded (found %v)", ids)
	}
	h := startHelper(t, paths)
	opens := h.release(t)
	time.Sleep(300 * time.Millisecond) // longer than the reader's poll
	res := p.Stop()
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d, stderr %q", res.ExitCode, res.Stderr)
	}

	got := inDir(parseText(t, res.Lines()), dir)
	checkMatches(t, got, opens, h.Pid)
	missing := 0
	for _, o := range opens {
		if o.errno == int(syscall.ENOENT) {
			missing++
		}
	}
	if missing != 20 {
		t.Errorf("helper saw %d ENOENT, want 20", missing)
	}
	if left := testutil.LoadedPrograms(t, "enter_openat", "exit_openat"); len(left) > 0 {
		for _, id := range left {
			for _, old := range ids {
				if id == old {
					t.Errorf("program %d is still loaded after opensnoop exited", id)
				}
			}
		}
	}
}

func TestPIDFilter(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "opensnoop")
	dir, paths := workload(t, 10, 5)

	target := startHelper(t, paths)
	other := startHelper(t, paths)
	p := testutil.Start(t, bin, "-p", strconv.Itoa(target.Pid))
	opens := target.release(t)
	other.release(t)
	time.Sleep(300 * time.Millisecond)
	res := p.Stop()

	evs := parseText(t, res.Lines())
	for _, e := range evs {
		if e.pid != target.Pid {
			t.Errorf("-p %d printed an event of PID %d: %+v", target.Pid, e.pid, e)
		}
	}
	checkMatches(t, inDir(evs, dir), opens, target.Pid)
}

func TestFailedOnly(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "opensnoop")
	dir, paths := workload(t, 10, 7)

	h := startHelper(t, paths)
	p := testutil.Start(t, bin, "-x", "-p", strconv.Itoa(h.Pid))
	opens := h.release(t)
	time.Sleep(300 * time.Millisecond)
	res := p.Stop()

	var failed []open
	for _, o := range opens {
		if o.fd < 0 {
			failed = append(failed, o)
		}
	}
	evs := parseText(t, res.Lines())
	for _, e := range evs {
		if e.fd != -1 || e.errno == 0 {
			t.Errorf("-x printed a successful open: %+v", e)
		}
	}
	checkMatches(t, inDir(evs, dir), failed, h.Pid)
}

func TestJSON(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "opensnoop")
	dir, paths := workload(t, 12, 6)

	h := startHelper(t, paths)
	p := testutil.Start(t, bin, "--json", "-p", strconv.Itoa(h.Pid))
	opens := h.release(t)
	time.Sleep(300 * time.Millisecond)
	res := p.Stop()

	lines := res.Lines()
	if len(lines) == 0 {
		t.Fatal("no output")
	}
	var evs []textEvent
	for _, l := range lines[:len(lines)-1] {
		var e struct {
			Pid   int     `json:"pid"`
			Tid   int     `json:"tid"`
			Comm  string  `json:"comm"`
			FD    int     `json:"fd"`
			Errno int     `json:"errno"`
			Error string  `json:"error"`
			Path  string  `json:"path"`
			Time  float64 `json:"time_s"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		if e.Errno == int(syscall.ENOENT) && e.Error != "ENOENT" {
			t.Errorf("errno 2 named %q, want ENOENT", e.Error)
		}
		evs = append(evs, textEvent{pid: e.Pid, comm: e.Comm, fd: e.FD, errno: e.Errno, path: e.Path})
	}
	checkMatches(t, inDir(evs, dir), opens, h.Pid)

	var sum struct {
		Summary *struct {
			Events     uint64 `json:"events"`
			LostEvents uint64 `json:"lost_events"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Summary == nil {
		t.Fatalf("last line is not the summary object: %q (%v)", lines[len(lines)-1], err)
	}
	if sum.Summary.Events != uint64(len(lines)-1) || sum.Summary.LostEvents != 0 {
		t.Errorf("summary %+v, want events=%d lost=0", *sum.Summary, len(lines)-1)
	}
}

// SIGTERM (plain `timeout`, `kill`) must still deliver every line to a pipe:
// libbpf-tools loses its whole stdio buffer there.
func TestSIGTERMFlushesPipe(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "opensnoop")
	dir, paths := workload(t, 25, 25)

	h := startHelper(t, paths)
	p := testutil.Start(t, bin, "-p", strconv.Itoa(h.Pid)) // stdout is a pipe
	opens := h.release(t)
	res := p.StopWith(syscall.SIGTERM) // at once: no sleep for the poll timer
	if res.ExitCode != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0 (stderr %q)", res.ExitCode, res.Stderr)
	}
	checkMatches(t, inDir(parseText(t, res.Lines()), dir), opens, h.Pid)
}

// `opensnoop | head -3` must end promptly, exit 0 and say nothing.
func TestClosedPipe(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "opensnoop")
	_, paths := workload(t, 50, 0)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "BPFTK_READY_FILE="+ready)
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for i := 0; ; i++ {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if i > 3000 {
			t.Fatal("opensnoop did not attach")
		}
		time.Sleep(5 * time.Millisecond)
	}
	startHelper(t, paths).release(t)

	br := bufio.NewReader(r)
	for i := 0; i < 3; i++ { // what head -3 does
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("read line %d: %v", i, err)
		}
	}
	r.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("opensnoop exited with %v after its reader closed, want 0", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("opensnoop still running 5 s after its reader closed the pipe")
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr not empty: %q", stderr.String())
	}
}

// Bad input: a one-line error, exit code 2, nothing attached.
func TestUsageErrors(t *testing.T) {
	bin := testutil.BuildTool(t, "opensnoop")
	for _, args := range [][]string{
		{"-z"},
		{"--no-such-flag"},
		{"-p", "abc"},
		{"-p", "0"},
		{"-p", "-5"},
		{"-p", "4194304"},
		{"-t", "x"},
		{"-u", "nobody"},
		{"-d", "soon"},
		{"-d", "0"},
		{"-n", "a-name-longer-than-15"},
		{"stray"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			testutil.SingleLineError(t, testutil.Run(t, bin, args...), "opensnoop", 2)
		})
	}
}

func TestDurationEndsRun(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "opensnoop")
	start := time.Now()
	res := testutil.Run(t, bin, "-d", "1", "-p", strconv.Itoa(os.Getpid()))
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("-d 1 ended after %v", el)
	}
	if !strings.HasPrefix(res.Stdout, "PID ") {
		t.Errorf("no header: %q", res.Stdout)
	}
}

func TestBadCgroup(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "opensnoop")
	testutil.SingleLineError(t, testutil.Run(t, bin, "-c", "/nonexistent/cgroup"), "opensnoop", 1)
	testutil.SingleLineError(t, testutil.Run(t, bin, "-c", t.TempDir()), "opensnoop", 1)
}

func TestCgroupFilter(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "opensnoop")
	dir, paths := workload(t, 8, 4)
	cg := testutil.NewCgroup(t)
	inside := startHelper(t, paths)
	outside := startHelper(t, paths)
	t.Cleanup(func() {
		inside.cmd.Process.Kill()
		inside.cmd.Wait()
	})
	testutil.MoveToCgroup(t, cg, inside.Pid)
	p := testutil.Start(t, bin, "-c", cg)
	opens := inside.release(t)
	outside.release(t)
	time.Sleep(300 * time.Millisecond)
	res := p.Stop()
	evs := parseText(t, res.Lines())
	for _, e := range evs {
		if e.pid != inside.Pid {
			t.Errorf("-c printed an event of PID %d, outside the cgroup", e.pid)
		}
	}
	checkMatches(t, inDir(evs, dir), opens, inside.Pid)
}

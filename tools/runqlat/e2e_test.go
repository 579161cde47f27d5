package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpftk/bpftk/pkg/testutil"
)

// The workload is this test binary run again as a helper process: on "go"
// it spins more threads than there are CPUs for a while, so they queue for
// the CPUs, then parks them (blocked, so their wait stops growing but their
// /proc entries stay readable) and says "parked"; it exits when stdin closes.
const helperEnv = "RUNQLAT_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "1":
		helperMain()
		return
	case "reader":
		// Blocks reading stdin one byte at a time: each byte the test
		// writes is a wakeup done by the test, in another cgroup.
		buf := make([]byte, 1)
		for {
			if _, err := os.Stdin.Read(buf); err != nil {
				return
			}
		}
	}
	os.Exit(m.Run())
}

func helperMain() {
	in := bufio.NewReader(os.Stdin)
	in.ReadString('\n')
	threads := 2*runtime.NumCPU() + 1
	runtime.GOMAXPROCS(threads + 2)
	spinFor, _ := time.ParseDuration(os.Getenv("SPIN"))
	var wg sync.WaitGroup
	park := make(chan struct{})
	var done sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		done.Add(1)
		go func() {
			runtime.LockOSThread() // one OS thread each, never shared
			end := time.Now().Add(spinFor)
			for time.Now().Before(end) {
			}
			done.Done()
			<-park
			wg.Done()
		}()
	}
	done.Wait()
	fmt.Println("parked")
	io.Copy(io.Discard, in)
	close(park)
	wg.Wait()
}

type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHelper(t *testing.T, spin time.Duration) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1", "SPIN="+spin.String())
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd, stdin, bufio.NewReader(stdout)}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	return h
}

// spin makes the helper contend for the CPUs and returns once its threads
// are parked.
func (h *helper) spin(t *testing.T) {
	t.Helper()
	fmt.Fprintln(h.stdin, "go")
	if line, err := h.out.ReadString('\n'); err != nil || line != "parked\n" {
		t.Fatalf("helper: %q %v", line, err)
	}
}

// runDelay is the kernel's own account of the time the threads of pid (or
// of every process, for pid 0) spent waiting on a run queue: the second
// field of /proc/<pid>/task/<tid>/schedstat, in ns, by thread.
func runDelay(t *testing.T, pid int) map[string]uint64 {
	t.Helper()
	pattern := "/proc/[0-9]*/task/*/schedstat"
	if pid != 0 {
		pattern = fmt.Sprintf("/proc/%d/task/*/schedstat", pid)
	}
	files, _ := filepath.Glob(pattern)
	out := map[string]uint64{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		fields := strings.Fields(string(b))
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(fields[1], 10, 64)
		out[filepath.Dir(f)] = v
	}
	return out
}

// delta is the run delay added between two snapshots; threads born in
// between count from zero.
func delta(before, after map[string]uint64) uint64 {
	var d uint64
	for k, v := range after {
		d += v - before[k]
	}
	return d
}

type jsonReport struct {
	Unit       string `json:"unit"`
	Histograms []struct {
		PID   uint32 `json:"pid"`
		Comm  string `json:"comm"`
		Count uint64 `json:"count"`
		SumNs uint64 `json:"sum_ns"`
	} `json:"histograms"`
}

func parse(t *testing.T, res testutil.Result) []jsonReport {
	t.Helper()
	var reps []jsonReport
	for _, line := range res.Lines() {
		var r jsonReport
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad JSON %q: %v", line, err)
		}
		reps = append(reps, r)
	}
	if len(reps) != 1 {
		t.Fatalf("want one report at Ctrl-C, got %d", len(reps))
	}
	return reps
}

// agree checks a runqlat total against the kernel's. The two clocks start
// and stop a wait at nearly the same moments (sched_info_enqueue next to
// the wakeup tracepoint, sched_info_arrive next to sched_switch), so each
// wait may differ by a few microseconds of code path and clock reads: allow
// 20 us per wait plus 3% for the window edges (waits in progress when the
// snapshots were taken). Counting nothing, or every wait twice, is far out.
func agree(t *testing.T, what string, got, count, want uint64) {
	t.Helper()
	tol := 0.03*float64(want) + 20e3*float64(count)
	t.Logf("%s: runqlat %d ns over %d waits, kernel run_delay %d ns (tolerance %.0f ns)", what, got, count, want, tol)
	if want < 100e6 {
		t.Fatalf("%s: the contention produced only %d ns of run delay; the test proves nothing", what, want)
	}
	if math.Abs(float64(got)-float64(want)) > tol {
		t.Fatalf("%s: runqlat measured %d ns of run-queue delay, the kernel's run_delay says %d ns", what, got, want)
	}
}

func TestPIDMatchesSchedstat(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "runqlat")
	h := startHelper(t, 2*time.Second)
	pid := h.cmd.Process.Pid
	p := testutil.Start(t, bin, "-p", strconv.Itoa(pid), "--json")
	before := runDelay(t, pid)
	h.spin(t)
	after := runDelay(t, pid)
	res := p.Stop()
	rep := parse(t, res)[0]
	if len(rep.Histograms) != 1 {
		t.Fatalf("want one histogram, got %d", len(rep.Histograms))
	}
	hist := rep.Histograms[0]
	agree(t, "-p", hist.SumNs, hist.Count, delta(before, after))
}

func TestGlobalMatchesSchedstat(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "runqlat")
	h := startHelper(t, 2*time.Second)
	p := testutil.Start(t, bin, "--json")
	before := runDelay(t, 0)
	h.spin(t)
	after := runDelay(t, 0)
	res := p.Stop()
	hist := parse(t, res)[0].Histograms[0]
	// Threads that ended inside the window took their run delay with
	// them; on a test machine they are few and short next to the
	// contention's seconds, and the tolerance covers them.
	agree(t, "global", hist.SumNs, hist.Count, delta(before, after))
}

func TestPerProcessShowsContender(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "runqlat")
	h := startHelper(t, time.Second)
	pid := uint32(h.cmd.Process.Pid)
	p := testutil.Start(t, bin, "-P", "--json")
	before := runDelay(t, int(pid))
	h.spin(t)
	after := runDelay(t, int(pid))
	res := p.Stop()
	comm := filepath.Base(os.Args[0])
	if len(comm) > 15 {
		comm = comm[:15]
	}
	for _, hist := range parse(t, res)[0].Histograms {
		if hist.PID == pid {
			if hist.Count == 0 || hist.Comm != comm {
				t.Fatalf("pid %d: count %d comm %q (want %q)", pid, hist.Count, hist.Comm, comm)
			}
			agree(t, "-P", hist.SumNs, hist.Count, delta(before, after))
			return
		}
	}
	t.Fatalf("no histogram for the contending pid %d:\n%s", pid, res.Stdout)
}

// TestCgroupCountsTheTaskWoken: -c attributes a wait to the cgroup of the
// task that waits, not of the task that woke it (libbpf-tools checks the
// current task at the wakeup, which is the waker, often an interrupt). A
// reader inside the cgroup is woken by every byte the test, outside it,
// writes into its pipe, while spinning threads outside keep the CPUs busy.
func TestCgroupCountsTheTaskWoken(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "runqlat")
	cg := testutil.NewCgroup(t)
	reader := exec.Command(os.Args[0])
	reader.Env = append(os.Environ(), helperEnv+"=reader")
	pipe, _ := reader.StdinPipe()
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pipe.Close(); reader.Wait() })
	testutil.MoveToCgroup(t, cg, reader.Process.Pid)
	spinner := startHelper(t, 2*time.Second)

	p := testutil.Start(t, bin, "-c", cg, "-P", "--json")
	before := runDelay(t, reader.Process.Pid)
	writes := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); writes++ {
			pipe.Write([]byte{'x'})
			time.Sleep(2 * time.Millisecond)
		}
	}()
	spinner.spin(t)
	<-done
	time.Sleep(100 * time.Millisecond)
	after := runDelay(t, reader.Process.Pid)
	res := p.Stop()

	var count, sum uint64
	for _, h := range parse(t, res)[0].Histograms {
		if int(h.PID) != reader.Process.Pid {
			t.Errorf("-c counted pid %d (%s), outside the cgroup", h.PID, h.Comm)
			continue
		}
		count, sum = h.Count, h.SumNs
	}
	want := delta(before, after)
	t.Logf("%d bytes written; runqlat: %d waits, %d ns; kernel run_delay of the reader: %d ns", writes, count, sum, want)
	// Bytes that arrive while the reader is still queued are read without
	// a new wakeup, so not every write counts; counting the waker's cgroup
	// instead would leave (nearly) none.
	if count < uint64(writes)/4 {
		t.Errorf("%d waits counted for the reader, which was woken by %d writes", count, writes)
	}
	// The same tolerance as agree: a few us per wait plus 3%.
	if tol := 0.03*float64(want) + 20e3*float64(count); math.Abs(float64(sum)-float64(want)) > tol {
		t.Errorf("runqlat measured %d ns of run-queue delay for the reader, the kernel's run_delay says %d ns", sum, want)
	}
}

func TestTextSectionsAndIntervals(t *testing.T) {
	testutil.RequireBPF(t)
	bin := testutil.BuildTool(t, "runqlat")
	res := testutil.Run(t, bin, "-P", "1", "2")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	if !strings.HasPrefix(res.Stdout, "Tracing run queue latency... Hit Ctrl-C to end.\n") {
		t.Fatalf("no banner:\n%s", res.Stdout)
	}
	if n := strings.Count(res.Stdout, "usecs               : count    distribution"); n < 2 {
		t.Fatalf("%d histograms in 2 intervals of a live system:\n%s", n, res.Stdout)
	}
	if !strings.Contains(res.Stdout, "\npid = 1 ") {
		t.Errorf("no section for pid 1:\n%s", res.Stdout)
	}
	// JSON intervals: exactly count objects.
	res = testutil.Run(t, bin, "--json", "1", "2")
	if n := len(res.Lines()); n != 2 || res.ExitCode != 0 {
		t.Fatalf("--json 1 2 printed %d reports (exit %d)", n, res.ExitCode)
	}
}

func TestUsageErrors(t *testing.T) {
	bin := testutil.BuildTool(t, "runqlat")
	for _, args := range [][]string{{"-P", "-L"}, {"-p", "0"}, {"-p", "abc"}, {"--bogus"}, {"1", "2", "3"}} {
		testutil.SingleLineError(t, testutil.Run(t, bin, args...), "runqlat", 2)
	}
}

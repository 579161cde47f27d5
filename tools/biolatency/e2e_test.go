package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpftk/bpftk/pkg/testutil"
	"golang.org/x/sys/unix"
)

// loopDev is a loop device backed by a temp file: a disk nobody else uses,
// so /sys/block/<name>/stat counts exactly the I/O the test makes.
type loopDev struct {
	name string // loop3
	path string // /dev/loop3
}

func newLoopDev(t *testing.T) *loopDev {
	t.Helper()
	backing := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, 16<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", "--direct-io=on", backing).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	path := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", path).Run() })
	// udev may probe a new device (blkid reads); let that finish before
	// the test takes its first snapshot.
	exec.Command("udevadm", "settle", "-t", "5").Run()
	d := &loopDev{name: filepath.Base(path), path: path}
	// Let udev finish probing the new device before anything is measured.
	if _, err := exec.LookPath("udevadm"); err == nil {
		exec.Command("udevadm", "settle", "--timeout=5").Run()
	}
	d.quiesce(t)
	return d
}

// ioStat is the part of /sys/block/<dev>/stat the test checks: completed
// requests by kind (Documentation/block/stat.rst fields 1, 5, 12 and 15).
type ioStat struct{ reads, writes, discards, flushes uint64 }

func (s ioStat) total() uint64 { return s.reads + s.writes + s.discards + s.flushes }

func (d *loopDev) stat(t *testing.T) ioStat {
	t.Helper()
	b, err := os.ReadFile("/sys/block/" + d.name + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	field := func(i int) uint64 {
		if i >= len(f) {
			return 0 // older kernels lack the discard and flush fields
		}
		v, _ := strconv.ParseUint(f[i], 10, 64)
		return v
	}
	return ioStat{field(0), field(4), field(11), field(14)}
}

// quiesce waits until nothing is in flight on the device: udev probes a new
// loop device with reads of its own, and one issued before biolatency
// attached but completed after the first snapshot would be in the stat
// delta without a start time for biolatency to measure from.
func (d *loopDev) quiesce(t *testing.T) {
	t.Helper()
	for i := 0; i < 500; i++ {
		b, err := os.ReadFile("/sys/block/" + d.name + "/inflight")
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(b)); len(f) == 2 && f[0] == "0" && f[1] == "0" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s still has I/O in flight after 5 s", d.name)
}

func (s ioStat) minus(o ioStat) ioStat {
	return ioStat{s.reads - o.reads, s.writes - o.writes, s.discards - o.discards, s.flushes - o.flushes}
}

// io makes writes and then reads of 4 KiB with O_DIRECT, each one request.
func (d *loopDev) io(t *testing.T, writes, reads int) {
	t.Helper()
	fd, err := unix.Open(d.path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	// O_DIRECT wants an aligned buffer: a page from mmap is.
	buf, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	for i := 0; i < writes; i++ {
		buf[0] = byte(i)
		// Every other block, so no two requests can merge.
		if _, err := unix.Pwrite(fd, buf, int64(i)*8192); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	for i := 0; i < reads; i++ {
		if _, err := unix.Pread(fd, buf, int64(i)*8192); err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

type jsonReport struct {
	Unit       string `json:"unit"`
	Histograms []struct {
		Disk    string `json:"disk"`
		Flags   string `json:"flags"`
		Count   uint64 `json:"count"`
		SumNs   uint64 `json:"sum_ns"`
		Buckets []struct {
			Low, High, Count uint64
		} `json:"buckets"`
	} `json:"histograms"`
}

func parseReports(t *testing.T, out string) []jsonReport {
	t.Helper()
	var reps []jsonReport
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r jsonReport
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad JSON %q: %v", line, err)
		}
		reps = append(reps, r)
	}
	return reps
}

// measure runs biolatency with args around a known workload and returns its
// output and what the disk's own counters say completed meanwhile.
func measure(t *testing.T, d *loopDev, args ...string) (testutil.Result, ioStat) {
	t.Helper()
	bin := testutil.BuildTool(t, "biolatency")
	p := testutil.Start(t, bin, args...)
	d.quiesce(t)
	before := d.stat(t)
	d.io(t, 37, 23)
	time.Sleep(100 * time.Millisecond)
	after := d.stat(t)
	res := p.Stop()
	if res.ExitCode != 0 {
		t.Fatalf("biolatency exited %d: %s", res.ExitCode, res.Stderr)
	}
	return res, after.minus(before)
}

func TestPerDiskCountMatchesStat(t *testing.T) {
	testutil.RequireBPF(t)
	d := newLoopDev(t)
	res, want := measure(t, d, "-D", "-d", d.name, "--json")
	reps := parseReports(t, res.Stdout)
	if len(reps) != 1 {
		t.Fatalf("want one report at Ctrl-C, got %d:\n%s", len(reps), res.Stdout)
	}
	var got, buckets uint64
	for _, h := range reps[0].Histograms {
		if h.Disk != d.name {
			t.Errorf("histogram for disk %q with -d %s", h.Disk, d.name)
		}
		got += h.Count
		for _, b := range h.Buckets {
			buckets += b.Count
		}
		if h.Count > 0 && h.SumNs == 0 {
			t.Error("sum_ns is 0")
		}
	}
	if want.total() == 0 || got != want.total() || buckets != got {
		t.Fatalf("biolatency counted %d I/Os (buckets %d), /sys/block/%s/stat says %d completed (%+v)", got, buckets, d.name, want.total(), want)
	}
	if reps[0].Unit != "usecs" {
		t.Errorf("unit %q", reps[0].Unit)
	}
}

func TestFlagsSeparateReadsAndWrites(t *testing.T) {
	testutil.RequireBPF(t)
	d := newLoopDev(t)
	res, want := measure(t, d, "-F", "-d", "/dev/"+d.name, "--json")
	var reads, writes, other uint64
	for _, h := range parseReports(t, res.Stdout)[0].Histograms {
		switch {
		case strings.HasSuffix(h.Flags, "Read"):
			reads += h.Count
		case strings.HasSuffix(h.Flags, "Write"):
			writes += h.Count
		default:
			other += h.Count
		}
	}
	if reads != want.reads || writes != want.writes || other != want.discards+want.flushes {
		t.Fatalf("-F: reads %d writes %d other %d; stat: %+v", reads, writes, other, want)
	}
}

// TestTextMilliseconds checks the text format against the same ground
// truth: heading, unit and the counts of the rows.
func TestTextMilliseconds(t *testing.T) {
	testutil.RequireBPF(t)
	d := newLoopDev(t)
	res, want := measure(t, d, "-m", "-D", "-d", d.name)
	lines := res.Lines()
	if len(lines) == 0 || lines[0] != "Tracing block device I/O... Hit Ctrl-C to end." {
		t.Fatalf("no banner:\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stdout, "\ndisk = "+d.name+"\t\n     msecs               : count    distribution\n") {
		t.Fatalf("no per-disk msecs histogram:\n%s", res.Stdout)
	}
	var got uint64
	for _, l := range lines {
		if f := strings.Fields(l); len(f) >= 5 && f[1] == "->" && f[3] == ":" {
			n, err := strconv.ParseUint(f[4], 10, 64)
			if err != nil {
				t.Fatalf("row %q", l)
			}
			got += n
		}
	}
	if got != want.total() {
		t.Fatalf("text rows count %d I/Os, stat says %d", got, want.total())
	}
}

// TestIntervals: "1 3" prints three reports and exits by itself, and the
// reports together hold every I/O the disk completed over the run.
func TestIntervals(t *testing.T) {
	testutil.RequireBPF(t)
	d := newLoopDev(t)
	bin := testutil.BuildTool(t, "biolatency")
	before := d.stat(t)
	p := testutil.Start(t, bin, "-d", d.name, "--json", "1", "3")
	for i := 0; i < 5; i++ {
		d.io(t, 5, 5)
		time.Sleep(300 * time.Millisecond)
	}
	res := p.Wait(10 * time.Second)
	want := d.stat(t).minus(before)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	reps := parseReports(t, res.Stdout)
	if len(reps) != 3 {
		t.Fatalf("want 3 reports, got %d:\n%s", len(reps), res.Stdout)
	}
	var got uint64
	for _, r := range reps {
		for _, h := range r.Histograms {
			got += h.Count
		}
	}
	// Every I/O was made within the first ~1.5 s, well inside the 3 s run.
	if got != want.total() {
		t.Fatalf("3 intervals counted %d I/Os, stat says %d", got, want.total())
	}
}

func TestBadDisk(t *testing.T) {
	bin := testutil.BuildTool(t, "biolatency")
	testutil.SingleLineError(t, testutil.Run(t, bin, "-d", "nosuchdisk0"), "biolatency", 2)
	testutil.SingleLineError(t, testutil.Run(t, bin, "-x"), "biolatency", 2)
	testutil.SingleLineError(t, testutil.Run(t, bin, "0"), "biolatency", 2)
}

// TestQueued: with -Q the clock starts at insert where the queue has a
// scheduler, at issue where it does not; either way every I/O is counted.
func TestQueued(t *testing.T) {
	testutil.RequireBPF(t)
	d := newLoopDev(t)
	res, want := measure(t, d, "-Q", "-d", d.name, "--json")
	var got uint64
	for _, h := range parseReports(t, res.Stdout)[0].Histograms {
		got += h.Count
	}
	if got != want.total() {
		t.Fatalf("-Q counted %d I/Os, stat says %d", got, want.total())
	}
}

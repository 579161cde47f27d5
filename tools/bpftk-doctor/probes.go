package main

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Feature is one row of the kernel report.
type Feature struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "yes", "no" or "unknown (...)"
	Detail string `json:"detail,omitempty"`
}

const (
	yes = "yes"
	no  = "no"
)

// unknown is the status of a probe this caller may not run.
func unknown(why string) string { return "unknown (" + why + ")" }

// Capability bits from linux/capability.h.
const (
	capDacReadSearch = 2
	capSysAdmin      = 21
	capPerfmon       = 38
	capBPF           = 39
)

var capNames = []struct {
	bit  uint
	name string
}{{capBPF, "CAP_BPF"}, {capPerfmon, "CAP_PERFMON"}, {capSysAdmin, "CAP_SYS_ADMIN"}, {capDacReadSearch, "CAP_DAC_READ_SEARCH"}}

// caps reads the effective capability set of this process.
func caps() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			var c uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &c)
			return c
		}
	}
	return 0
}

// prober runs the kernel checks with what it knows about the caller.
type prober struct {
	caps   uint64
	kernel *btf.Spec
	btfErr error
}

func (p *prober) has(bit uint) bool { return p.caps&(1<<bit) != 0 }

// canBPF: loading and attaching tracing programs is allowed for this caller.
func (p *prober) canBPF() bool {
	return p.has(capSysAdmin) || (p.has(capBPF) && p.has(capPerfmon))
}

// needs is the "unknown" status for a probe refused for lack of privilege.
const needsBPF = "needs CAP_BPF and CAP_PERFMON"

// verdict turns a probe's error into a status. EPERM for an unprivileged
// caller means it may not ask; for a privileged one, that the kernel refuses
// (kernels without BPF trampolines refuse fentry programs with EPERM).
func (p *prober) verdict(err error, what string) (string, string) {
	switch {
	case err == nil:
		return yes, what
	case (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)) && p.canBPF():
		return no, "refused although this caller is privileged (" + unix.ErrnoName(errnoOf(err)) + ")"
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return unknown(needsBPF), ""
	case errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT):
		return no, err.Error()
	}
	return unknown(err.Error()), ""
}

// errnoOf digs the errno out of a probe's error (EPERM when there is none).
func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, unix.EACCES) {
		return unix.EACCES
	}
	return unix.EPERM
}

// emptyProg is "return 0" for a probe program.
var emptyProg = asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}

func (p *prober) load(spec *ebpf.ProgramSpec) (*ebpf.Program, error) {
	spec.Instructions = emptyProg
	spec.License = "GPL"
	return ebpf.NewProgramWithOptions(spec, ebpf.ProgramOptions{KernelTypes: p.kernel})
}

// kernelFeatures probes what the kernel offers. Probes that load programs
// also attach them (for an instant), as only the attach proves the path.
func kernelFeatures() []Feature {
	p := &prober{caps: caps()}
	var fs []Feature
	add := func(name, status, detail string) { fs = append(fs, Feature{name, status, detail}) }
	addf := func(name string, f func() (string, string)) {
		st, d := f()
		add(name, st, d)
	}

	var u unix.Utsname
	unix.Uname(&u)
	add("kernel", unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]))

	if _, err := os.Stat(loader.VmlinuxBTF); err != nil {
		p.btfErr = err
		add("BTF", no, loader.VmlinuxBTF+" missing (CONFIG_DEBUG_INFO_BTF): no CO-RE, no tp_btf, no fentry")
	} else if p.kernel, p.btfErr = btf.LoadKernelSpec(); p.btfErr != nil {
		add("BTF", unknown(p.btfErr.Error()), loader.VmlinuxBTF)
	} else {
		add("BTF", yes, loader.VmlinuxBTF)
	}

	tfStatus, tfDetail, tracefs := tracefsState()
	add("tracefs", tfStatus, tfDetail)

	st, d := p.verdict(features.HaveMapType(ebpf.RingBuf), "BPF_MAP_TYPE_RINGBUF (5.8+)")
	add("ring buffer map", st, d)

	addf("tp_btf", p.tpBTF)
	addf("raw_tp", p.rawTP)
	addf("tracepoints", func() (string, string) { return p.tracepoint(tracefs) })
	addf("kprobes", p.kprobe)
	addf("fentry", p.fentry)
	addf("uprobes", p.uprobe)
	addf("perf events", p.perfEvent)

	addf("lockdown", lockdown)
	addf("kernel.unprivileged_bpf_disabled", sysctl("kernel/unprivileged_bpf_disabled", map[string]string{
		"0": "unprivileged BPF allowed", "1": "only privileged BPF (until reboot)", "2": "only privileged BPF (admin may re-enable)",
	}))
	addf("kernel.perf_event_paranoid", sysctl("kernel/perf_event_paranoid", map[string]string{
		"-1": "no restrictions", "0": "no raw tracepoint access without CAP_PERFMON", "1": "no CPU events without CAP_PERFMON",
		"2": "self-monitoring only without CAP_PERFMON", "3": "no perf_event_open without CAP_PERFMON (distribution patch)",
	}))
	for _, c := range capNames {
		st := no
		if p.has(c.bit) {
			st = yes
		}
		add("caller "+c.name, st, fmt.Sprintf("uid %d", os.Getuid()))
	}
	return fs
}

// tracefsState says where tracefs is mounted and whether this caller can
// read it, or whether it could be mounted.
func tracefsState() (status, detail, path string) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return unknown(err.Error()), "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) >= 3 && fl[2] == "tracefs" {
			path = fl[1]
			break
		}
	}
	if path == "" {
		b, _ := os.ReadFile("/proc/filesystems")
		if !strings.Contains(string(b), "\ttracefs\n") {
			return no, "not mounted, and the kernel has no tracefs (CONFIG_TRACING)", ""
		}
		return no, fmt.Sprintf("not mounted; mountable at %s (the tools do it as root): mount -t tracefs nodev %s", loader.DefaultTracefs, loader.DefaultTracefs), ""
	}
	if _, err := os.ReadDir(filepath.Join(path, "events")); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return yes, "mounted at " + path + "; not readable by this caller (needs root or CAP_DAC_READ_SEARCH)", path
		}
		return yes, "mounted at " + path + ": " + err.Error(), path
	}
	return yes, "mounted at " + path + ", readable", path
}

// probeEvent is the tracepoint the attach probes use: present on every
// kernel, cheap to hook for an instant.
const probeEvent = "sched_switch"

func (p *prober) tpBTF() (string, string) {
	if p.btfErr != nil {
		return no, "needs kernel BTF"
	}
	if !p.canBPF() {
		return unknown(needsBPF), ""
	}
	prog, err := p.load(&ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: probeEvent})
	if err != nil {
		return p.verdict(err, "")
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
	if err != nil {
		return p.verdict(err, "")
	}
	l.Close()
	return yes, "BTF-typed raw tracepoints (5.5+): loaded and attached to " + probeEvent
}

func (p *prober) rawTP() (string, string) {
	if !p.canBPF() {
		if err := features.HaveProgramType(ebpf.RawTracepoint); err != nil {
			return p.verdict(err, "")
		}
		return unknown(needsBPF), ""
	}
	prog, err := p.load(&ebpf.ProgramSpec{Type: ebpf.RawTracepoint})
	if err != nil {
		return p.verdict(err, "")
	}
	defer prog.Close()
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: probeEvent, Program: prog})
	if err != nil {
		return p.verdict(err, "")
	}
	l.Close()
	return yes, "raw tracepoints (4.17+), no tracefs needed: attached to " + probeEvent
}

func (p *prober) tracepoint(tracefs string) (string, string) {
	if tracefs == "" {
		return no, "tracefs is not mounted (the tools mount it when run as root)"
	}
	if _, err := os.Stat(filepath.Join(tracefs, "events/sched", probeEvent, "id")); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return unknown("tracefs not readable: needs root or CAP_DAC_READ_SEARCH"), ""
		}
		return no, err.Error()
	}
	if !p.canBPF() {
		return unknown(needsBPF), "tracefs has the events"
	}
	prog, err := p.load(&ebpf.ProgramSpec{Type: ebpf.TracePoint})
	if err != nil {
		return p.verdict(err, "")
	}
	defer prog.Close()
	l, err := link.Tracepoint("sched", probeEvent, prog, nil)
	if err != nil {
		return p.verdict(err, "")
	}
	l.Close()
	return yes, "classic tracepoints via tracefs: attached to sched:" + probeEvent
}

// pmu reports whether the kernel registered a perf PMU of that name, which
// is how kprobes and uprobes are created without tracefs.
func pmu(name string) bool {
	_, err := os.Stat("/sys/bus/event_source/devices/" + name + "/type")
	return err == nil
}

func (p *prober) kprobe() (string, string) {
	// Since 4.17 a kernel with kprobe events registers the kprobe PMU;
	// older ones only have kprobe_events in tracefs.
	if !pmu("kprobe") {
		if _, err := os.Stat(loader.DefaultTracefs + "/kprobe_events"); err != nil {
			return no, "no kprobe PMU and no kprobe_events (kernel built without CONFIG_KPROBES)"
		}
	}
	if !p.canBPF() {
		return unknown(needsBPF), "the kernel has kprobe events"
	}
	prog, err := p.load(&ebpf.ProgramSpec{Type: ebpf.Kprobe})
	if err != nil {
		return p.verdict(err, "")
	}
	defer prog.Close()
	l, err := link.Kprobe("do_nanosleep", prog, nil)
	if err != nil {
		return p.verdict(err, "")
	}
	l.Close()
	return yes, "attached to do_nanosleep"
}

func (p *prober) fentry() (string, string) {
	if p.btfErr != nil {
		return no, "needs kernel BTF"
	}
	if !p.canBPF() {
		return unknown(needsBPF), ""
	}
	prog, err := p.load(&ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, AttachTo: "do_nanosleep"})
	if err != nil {
		st, d := p.verdict(err, "")
		if st == no {
			d = "the kernel refuses fentry programs: " + d
		}
		return st, d
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceFEntry})
	if err != nil {
		return p.verdict(err, "")
	}
	l.Close()
	return yes, "BPF trampolines: attached to do_nanosleep"
}

func (p *prober) uprobe() (string, string) {
	if !pmu("uprobe") {
		if _, err := os.Stat(loader.DefaultTracefs + "/uprobe_events"); err != nil {
			return no, "no uprobe PMU and no uprobe_events (kernel built without CONFIG_UPROBE_EVENTS)"
		}
	}
	if !p.canBPF() {
		return unknown(needsBPF), "the kernel has uprobe events"
	}
	// The kernel refuses uprobe perf events to CAP_PERFMON alone (EACCES,
	// seen on 6.18): they need CAP_SYS_ADMIN.
	if !p.has(capSysAdmin) {
		return unknown("needs CAP_SYS_ADMIN"), "the kernel has uprobe events; creating one needs CAP_SYS_ADMIN"
	}
	// Probe this binary's entry point, which has run already: the probe
	// is attached and detached without ever firing. The binary is
	// stripped, so the address is computed from the ELF headers.
	self, err := os.Executable()
	if err != nil {
		return unknown(err.Error()), ""
	}
	off, err := entryOffset(self)
	if err != nil {
		return unknown(err.Error()), ""
	}
	ex, err := link.OpenExecutable(self)
	if err != nil {
		return unknown(err.Error()), ""
	}
	prog, err := p.load(&ebpf.ProgramSpec{Type: ebpf.Kprobe})
	if err != nil {
		return p.verdict(err, "")
	}
	defer prog.Close()
	l, err := ex.Uprobe("", prog, &link.UprobeOptions{Address: off, PID: os.Getpid()})
	if err != nil {
		return p.verdict(err, "")
	}
	l.Close()
	return yes, "attached to this binary's entry point"
}

// entryOffset returns the file offset of an ELF file's entry point.
func entryOffset(path string) (uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for _, pr := range f.Progs {
		if pr.Type == elf.PT_LOAD && pr.Flags&elf.PF_X != 0 && f.Entry >= pr.Vaddr && f.Entry < pr.Vaddr+pr.Memsz {
			return f.Entry - pr.Vaddr + pr.Off, nil
		}
	}
	return 0, fmt.Errorf("%s: entry point not in an executable segment", path)
}

func (p *prober) perfEvent() (string, string) {
	// User-space only, on this task: what perf_event_paranoid 2 still
	// allows anyone; tracing needs CAP_PERFMON on top.
	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Bits: unix.PerfBitDisabled | unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOSYS) {
			return no, "perf_event_open: " + err.Error()
		}
		return unknown("perf_event_open: " + err.Error()), ""
	}
	unix.Close(fd)
	return yes, "perf_event_open works (software event on this task)"
}

func lockdown() (string, string) {
	b, err := os.ReadFile("/sys/kernel/security/lockdown")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "none", "no lockdown LSM (or securityfs not mounted)"
		}
		return unknown(err.Error()), ""
	}
	// "none [integrity] confidentiality": the bracketed word is active.
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '['); i >= 0 {
		if j := strings.IndexByte(s[i:], ']'); j > 0 {
			mode := s[i+1 : i+j]
			switch mode {
			case "integrity":
				return mode, "BPF works; kernel memory writes are refused"
			case "confidentiality":
				return mode, "bpf_probe_read of kernel memory is refused: most tracing tools fail"
			}
			return mode, s
		}
	}
	return s, ""
}

func sysctl(name string, meaning map[string]string) func() (string, string) {
	return func() (string, string) { return readSysctl(name, meaning) }
}

func readSysctl(name string, meaning map[string]string) (string, string) {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return unknown(err.Error()), ""
	}
	v := strings.TrimSpace(string(b))
	return v, meaning[v]
}

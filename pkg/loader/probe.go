package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bpftk/bpftk/pkg/btfmin"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// prober answers "does this attach point work here?" once per question.
type prober struct {
	logf     func(string, ...any)
	kernel   *btf.Spec
	btfErr   error
	btfDone  bool
	tracefs  string
	tfErr    error
	tfDone   bool
	tpbtfRes map[string]error
	// tpbtfOK: the kernel loaded one tp_btf program, so it takes them in
	// general; other events then only need their BTF typedef. Each probe
	// load costs milliseconds of kernel BTF lookups, and startup counts.
	tpbtfOK bool
	// cache holds the decoded kernel BTF for the probes and the load
	// itself: decoding it takes ~13 ms, and cilium/ebpf would do it
	// again for every program loaded on its own.
	cache *btf.Cache
	// roots: the kernel type names the program's CO-RE relocations and
	// the raw tracepoint checks look up; non-nil lets minimalBTF cut them
	// out of the kernel BTF instead of decoding all of it.
	roots   []string
	min     *btf.Spec
	minDone bool
}

func newProber(logf func(string, ...any)) *prober {
	return &prober{logf: logf, tpbtfRes: map[string]error{}, cache: btf.NewCache()}
}

func (p *prober) kernelBTF() (*btf.Spec, error) {
	if !p.btfDone {
		p.btfDone = true
		if _, err := os.Stat(VmlinuxBTF); err != nil {
			p.btfErr = err
		} else {
			p.kernel, p.btfErr = p.cache.Kernel()
		}
	}
	return p.kernel, p.btfErr
}

// minimalBTF returns the kernel types named in p.roots with what they hold
// by value (pkg/btfmin): ~2 ms where the full decode takes ~13. Nil when
// there are no roots or the kernel BTF cannot be cut; callers then use the
// full decode.
func (p *prober) minimalBTF() *btf.Spec {
	if !p.minDone && p.roots != nil {
		p.minDone = true
		var err error
		if p.min, err = btfmin.Kernel(p.roots); err != nil {
			p.logf("cannot cut the needed types out of the kernel BTF, decoding all of it: %v", err)
			p.min = nil
		}
	}
	return p.min
}

func (p *prober) tracefsPath() (string, error) {
	if !p.tfDone {
		p.tfDone = true
		p.tracefs, p.tfErr = EnsureTracefs(p.logf)
	}
	return p.tracefs, p.tfErr
}

// choose returns the first alternative of h that this kernel supports, nil
// for an optional hook with none, or an error naming what is missing.
func (p *prober) choose(h Hook) (*Choice, error) {
	var reasons []error
	for i := range h.Choices {
		c := h.Choices[i]
		err := p.supported(c)
		if err == nil {
			return &c, nil
		}
		// Without tracefs, or without the right to read it, no classic
		// tracepoint can be attached: that is the user's problem to fix,
		// not a reason to skip a hook.
		if c.Kind == Tracepoint && p.tfErr != nil {
			return nil, p.tfErr
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, err
		}
		p.logf("%s unavailable: %v", c, err)
		reasons = append(reasons, err)
	}
	if h.Optional {
		return nil, nil
	}
	return nil, fmt.Errorf("no attach point available on this kernel (tried %s): %w", joinChoices(h), errors.Join(reasons...))
}

func (p *prober) supported(c Choice) error {
	switch c.Kind {
	case TPBTF:
		return p.tpBTF(c.Event)
	case RawTP:
		return p.rawTP(c.Event)
	case FEntry:
		return p.fentry(c.Event)
	case Tracepoint:
		dir, err := p.tracefsPath()
		if err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(dir, "events", c.Group, c.Event, "id")); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				// tracefs is root-only (mode 0700); the event id the
				// attach needs is read from it.
				return fmt.Errorf("cannot read tracefs at %s to find tracepoint %s:%s: %w (run as root, or add CAP_DAC_READ_SEARCH to CAP_BPF and CAP_PERFMON)", dir, c.Group, c.Event, err)
			}
			return fmt.Errorf("tracepoint %s:%s does not exist on this kernel", c.Group, c.Event)
		}
		return nil
	}
	return fmt.Errorf("unknown attach kind %v", c.Kind)
}

// tpBTF loads a two-instruction tp_btf program against the event, the only
// reliable test: the BTF typedef may exist while tracing programs are
// refused (lockdown, missing JIT support).
func (p *prober) tpBTF(event string) error {
	if err, ok := p.tpbtfRes[event]; ok {
		return err
	}
	err := p.tracing(TPBTF, event, "btf_trace_"+event, "tracepoint")
	p.tpbtfRes[event] = err
	return err
}

// fentry loads a two-instruction fentry program against the function: the
// kernel refuses fentry outright on some architectures and configurations
// even where BTF names the function.
func (p *prober) fentry(fn string) error {
	return p.tracing(FEntry, fn, fn, "kernel function")
}

// tracing loads an empty BTF tracing program of that kind (tp_btf or fentry)
// against target, after checking that typeName is in the kernel BTF.
func (p *prober) tracing(kind Kind, target, typeName, what string) error {
	at := ebpf.AttachTraceRawTp
	if kind == FEntry {
		at = ebpf.AttachTraceFEntry
	}
	spec, err := p.kernelBTF()
	if err != nil {
		return fmt.Errorf("no kernel BTF: %w", err)
	}
	if _, err := spec.AnyTypeByName(typeName); err != nil {
		return fmt.Errorf("%s %s is not in the kernel BTF", what, target)
	}
	if kind == TPBTF && p.tpbtfOK {
		return nil
	}
	// A collection of one, so that the load shares the decoded BTF.
	coll, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"probe": {
		Type:       ebpf.Tracing,
		AttachType: at,
		AttachTo:   target,
		License:    "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	}}}, ebpf.CollectionOptions{Cache: p.cache, Programs: ebpf.ProgramOptions{KernelTypes: spec}})
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			// cilium/ebpf appends a memlock hint to EPERM, but memlock is
			// already raised here: the kernel itself says no.
			err = unix.EPERM
		}
		return fmt.Errorf("%s program refused: %w", kind, err)
	}
	coll.Close()
	if kind == TPBTF {
		p.tpbtfOK = true
	}
	return nil
}

// rawTP checks that a tracepoint of that name exists, from BTF when the
// kernel has it, else from tracefs when it is mounted; with neither it lets
// the attach itself decide.
func (p *prober) rawTP(event string) error {
	// The cut BTF holds the event's typedef (btfRoots asks for it); the
	// full decode is only worth it when something else needed it already.
	var spec *btf.Spec
	if !p.btfDone {
		spec = p.minimalBTF()
	}
	if spec == nil {
		spec, _ = p.kernelBTF()
	}
	if spec != nil {
		var td *btf.Typedef
		if err := spec.TypeByName("btf_trace_"+event, &td); err != nil {
			return fmt.Errorf("tracepoint %s does not exist on this kernel", event)
		}
		return nil
	}
	if dir, _ := findTracefs(); dir != "" {
		if m, _ := filepath.Glob(filepath.Join(dir, "events", "*", event)); len(m) == 0 {
			return fmt.Errorf("tracepoint %s does not exist on this kernel", event)
		}
	}
	return nil
}

// Probe reports whether this kernel supports one attach point, with the
// reason when it does not. Tools use it to explain a mode that cannot work
// here before they load anything.
func Probe(c Choice) error {
	// As in Load: without this, old kernels refuse the probe program for
	// lack of locked memory, which is not the answer asked for.
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("raise RLIMIT_MEMLOCK: %w", err)
	}
	return newProber(func(string, ...any) {}).supported(c)
}

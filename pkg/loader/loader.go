package loader

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Kind is the kind of kernel attach point a program uses.
type Kind int

const (
	// TPBTF is a BTF-typed raw tracepoint (SEC("tp_btf/...")): typed
	// arguments, no tracefs, the cheapest; needs kernel BTF (5.5+).
	TPBTF Kind = iota
	// RawTP is a raw tracepoint (SEC("raw_tp/...")): untyped arguments, no
	// tracefs (4.17+).
	RawTP
	// Tracepoint is a classic tracepoint (SEC("tracepoint/group/event")):
	// resolved through tracefs, stable argument layout.
	Tracepoint
	// FEntry is a BTF-typed function entry probe (SEC("fentry/func")): an
	// optional extra for kernel functions no tracepoint covers. Many
	// kernels refuse it (no trampoline support on the arch, lockdown), so
	// tools use it only where a feature is otherwise impossible.
	FEntry
)

func (k Kind) String() string {
	switch k {
	case TPBTF:
		return "tp_btf"
	case RawTP:
		return "raw_tp"
	case Tracepoint:
		return "tracepoint"
	case FEntry:
		return "fentry"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Choice is one way to attach a hook: a program of the collection and the
// kernel event it attaches to.
type Choice struct {
	Program string // program name in the collection spec
	Kind    Kind
	Group   string // tracepoint group (e.g. "syscalls"); Tracepoint only
	Event   string // tracepoint name (e.g. "sys_enter_openat", "sched_switch"); function for FEntry
}

func (c Choice) String() string {
	if c.Kind == Tracepoint {
		return fmt.Sprintf("tracepoint/%s/%s", c.Group, c.Event)
	}
	return fmt.Sprintf("%s/%s", c.Kind, c.Event)
}

// Hook is one place the tool must (or may) attach, with its alternatives in
// order of preference. The first alternative the kernel supports is loaded;
// the others are dropped from the spec before load.
type Hook struct {
	Choices []Choice
	// Optional hooks are skipped when no alternative exists on this kernel
	// (open(2) on arm64, openat2 before 5.6).
	Optional bool
}

// Options describe one tool's collection and how to configure it.
type Options struct {
	Tool  string               // tool name, for messages
	Spec  *ebpf.CollectionSpec // from the bpf2go load function
	Hooks []Hook               // where to attach
	Const map[string]any       // volatile const variables to set before load
	Sizes map[string]uint32    // map max_entries overrides
	// CgroupPath restricts the tool to tasks in this cgroup v2 directory: it
	// sets the filter_cg constant and puts the directory into cgroup_map.
	CgroupPath string
	NeedBTF    bool      // the programs use CO-RE; fail early without BTF
	Log        io.Writer // verbose loader messages; nil for none
}

// Collection is a loaded, attached set of programs. Close detaches and
// releases everything.
type Collection struct {
	coll     *ebpf.Collection
	links    []link.Link
	Attached []Choice
}

// Map returns the map of that name; it panics on a name the program does
// not define, which is a bug in the tool, not a runtime condition.
func (c *Collection) Map(name string) *ebpf.Map {
	m := c.coll.Maps[name]
	if m == nil {
		panic("loader: no map named " + name)
	}
	return m
}

// Detach closes every link, so no program runs any more, but keeps the maps
// so that what the programs recorded can still be read.
func (c *Collection) Detach() {
	for _, l := range c.links {
		l.Close()
	}
	c.links = nil
}

// Missed is how many times the kernel skipped one of the attached programs
// instead of running it: its BPF recursion protection drops a program's run
// when a BPF program is already running on that CPU (another tool's, or one
// interrupted by the event). Those events are lost before any map or ring
// could count them; only the kernel knows. Kernels count these misses for
// tracepoint and raw tracepoint programs since about 6.7; older ones drop
// such runs without a trace and this reads 0.
func (c *Collection) Missed() uint64 {
	var n uint64
	for _, ch := range c.Attached {
		if p := c.coll.Programs[ch.Program]; p != nil {
			if st, err := p.Stats(); err == nil {
				n += st.RecursionMisses
			}
		}
	}
	return n
}

// Close detaches all programs and frees the collection.
func (c *Collection) Close() {
	if c == nil {
		return
	}
	c.Detach()
	if c.coll != nil {
		c.coll.Close()
		c.coll = nil
	}
}

// Load runs the preflight checks, picks and loads one program per hook with
// the configuration applied, and attaches them all. On any failure nothing
// stays attached.
func Load(o Options) (*Collection, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "%s: "+format+"\n", append([]any{o.Tool}, args...)...)
		}
	}
	if planOut != nil {
		return nil, plan(o, logf)
	}
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	if o.NeedBTF {
		if err := CheckBTF(); err != nil {
			return nil, err
		}
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; newer ones
	// use memory cgroups and this is a no-op.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("raise RLIMIT_MEMLOCK: %w", err)
	}

	p := newProber(logf)
	if o.NeedBTF {
		p.roots = btfRoots(o)
	}
	var chosen []Choice
	for _, h := range o.Hooks {
		c, err := p.choose(h)
		if err != nil {
			return nil, err
		}
		if c != nil {
			logf("using %s for program %s", c, c.Program)
			chosen = append(chosen, *c)
		}
	}

	spec := o.Spec.Copy()
	keep := map[string]bool{}
	for _, c := range chosen {
		keep[c.Program] = true
	}
	for name := range spec.Programs {
		if !keep[name] {
			delete(spec.Programs, name)
		}
	}
	var cgroup *os.File
	if o.CgroupPath != "" {
		f, err := OpenCgroup(o.CgroupPath)
		if err != nil {
			return nil, err
		}
		cgroup = f
		defer cgroup.Close()
	}

	consts := o.Const
	if cgroup != nil {
		consts = make(map[string]any, len(o.Const)+2)
		for k, v := range o.Const {
			consts[k] = v
		}
		consts["filter_cg"] = true
		// Programs that ask about a task other than the current one
		// (runqlat: the task woken) match the cgroup by id.
		if _, ok := spec.Variables["targ_cgid"]; ok {
			var st unix.Stat_t
			if err := unix.Fstat(int(cgroup.Fd()), &st); err != nil {
				return nil, fmt.Errorf("cgroup %s: %w", o.CgroupPath, err)
			}
			consts["targ_cgid"] = st.Ino
		}
	}
	for name, v := range consts {
		vs, ok := spec.Variables[name]
		if !ok {
			return nil, fmt.Errorf("BPF program has no variable %q", name)
		}
		if err := vs.Set(v); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}
	for name, n := range o.Sizes {
		ms, ok := spec.Maps[name]
		if !ok {
			return nil, fmt.Errorf("BPF program has no map %q", name)
		}
		ms.MaxEntries = n
	}

	// The kernel types to relocate against: the full decode when a tp_btf
	// or fentry choice needed it anyway, else only the types the program
	// names (far cheaper). Either way only vmlinux: none of our types
	// live in modules, and reading every module's BTF costs milliseconds
	// on distribution kernels.
	kernelTypes, trimmed := p.kernel, false
	if !p.btfDone && o.NeedBTF {
		kernelTypes = p.minimalBTF()
		trimmed = kernelTypes != nil
		if trimmed {
			logf("CO-RE relocations resolved against the kernel types the program names, cut from %s", VmlinuxBTF)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Cache: p.cache, Programs: ebpf.ProgramOptions{KernelTypes: kernelTypes}})
	if err != nil && trimmed && strings.Contains(err.Error(), "CO-RE") {
		// Cannot happen by design (the cut keeps every member of every
		// type asked for); should a relocation fail anyway, the full BTF
		// decides. Other load errors (verifier, permissions) would only
		// repeat.
		logf("load against the cut kernel BTF failed, retrying with all of it: %v", err)
		coll, err = ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Cache: p.cache})
	}
	if err != nil {
		return nil, explainLoadError(err, o.Log != nil)
	}
	c := &Collection{coll: coll}
	if cgroup != nil {
		if err := c.Map("cgroup_map").Put(uint32(0), uint32(cgroup.Fd())); err != nil {
			c.Close()
			return nil, fmt.Errorf("set cgroup filter: %w", err)
		}
	}
	for _, ch := range chosen {
		l, err := attach(ch, coll.Programs[ch.Program])
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("attach %s: %w", ch, err)
		}
		c.links = append(c.links, l)
		c.Attached = append(c.Attached, ch)
	}
	logf("%d programs attached", len(c.links))
	signalReady()
	return c, nil
}

// btfRoots lists the kernel type names the program can ask for: every
// named struct, union, enum and typedef in its BTF (CO-RE relocations name
// them, flavour suffixes and all) and the typedef BTF gives each raw
// tracepoint of the hooks.
func btfRoots(o Options) []string {
	roots := []string{}
	if o.Spec != nil && o.Spec.Types != nil {
		for t, err := range o.Spec.Types.All() {
			if err != nil {
				break
			}
			switch t.(type) {
			case *btf.Struct, *btf.Union, *btf.Enum, *btf.Typedef, *btf.Fwd:
				if name := t.TypeName(); name != "" {
					roots = append(roots, name)
				}
			}
		}
	}
	for _, h := range o.Hooks {
		for _, c := range h.Choices {
			if c.Kind == RawTP {
				roots = append(roots, "btf_trace_"+c.Event)
			}
		}
	}
	return roots
}

func attach(ch Choice, prog *ebpf.Program) (link.Link, error) {
	if prog == nil {
		return nil, fmt.Errorf("program %s was not loaded", ch.Program)
	}
	switch ch.Kind {
	case TPBTF:
		return link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
	case RawTP:
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: ch.Event, Program: prog})
	case Tracepoint:
		return link.Tracepoint(ch.Group, ch.Event, prog, nil)
	case FEntry:
		return link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceFEntry})
	}
	return nil, fmt.Errorf("unknown attach kind %v", ch.Kind)
}

// explainLoadError turns the common load failures into advice. The verifier
// log is long, so it is shown in full only with -v.
func explainLoadError(err error, verbose bool) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		if verbose {
			return fmt.Errorf("load BPF programs: %+v", ve)
		}
		return fmt.Errorf("load BPF programs: the kernel's verifier rejected them (%v); run with -v for the verifier log", ve.Cause)
	}
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("load BPF programs: %w (are you root, or is the kernel locked down? check /sys/kernel/security/lockdown and kernel.unprivileged_bpf_disabled)", err)
	}
	return fmt.Errorf("load BPF programs: %w", err)
}

// OpenCgroup opens a cgroup v2 directory for the -c/--cgroup filter.
func OpenCgroup(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", path, unwrapPathError(err))
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("cgroup %s: %w", path, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		f.Close()
		return nil, fmt.Errorf("cgroup %s: not a cgroup v2 directory (cgroup v2 is usually mounted at /sys/fs/cgroup or /sys/fs/cgroup/unified)", path)
	}
	return f, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadyFileEnv names a file the loader creates once every probe is attached.
// Tests and benchmarks use it to start their workload only when the tool is
// live.
const ReadyFileEnv = "BPFTK_READY_FILE"

func signalReady() {
	if p := os.Getenv(ReadyFileEnv); p != "" {
		os.WriteFile(p, nil, 0o600)
	}
}

// joinChoices lists the alternatives of a hook for an error message.
func joinChoices(h Hook) string {
	var s []string
	for _, c := range h.Choices {
		s = append(s, c.String())
	}
	return strings.Join(s, ", ")
}

// Package btfmin cuts, out of the kernel's BTF, the few types a program's
// CO-RE relocations are resolved against, in a fraction of the time a full
// decode takes.
//
// cilium/ebpf decodes and indexes all of /sys/kernel/btf/vmlinux (~150,000
// types) before it relocates anything, then inflates the whole type graph
// reachable from struct sock or struct task_struct: ~13 ms of a ~20 ms
// startup. A relocation only looks at types by name and at the members on
// its access path, so this package keeps the named types the program asks
// for with everything they contain by value, and turns every pointer into a
// pointer to void: CO-RE matches pointer members by kind only. The result is
// a few hundred types, built by one linear scan of the raw BTF.
//
// The BTF format is described in the kernel's Documentation/bpf/btf.rst.
package btfmin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// Kinds, from the BTF format.
const (
	kindInt       = 1
	kindPtr       = 2
	kindArray     = 3
	kindStruct    = 4
	kindUnion     = 5
	kindEnum      = 6
	kindFwd       = 7
	kindTypedef   = 8
	kindVolatile  = 9
	kindConst     = 10
	kindRestrict  = 11
	kindFunc      = 12
	kindFuncProto = 13
	kindVar       = 14
	kindDatasec   = 15
	kindFloat     = 16
	kindDeclTag   = 17
	kindTypeTag   = 18
	kindEnum64    = 19
)

const (
	magic      = 0xeb9f
	headerLen  = 24
	typeHeader = 12 // name_off, info, size/type
)

// VmlinuxPath is where the running kernel exposes its BTF.
const VmlinuxPath = "/sys/kernel/btf/vmlinux"

// ErrUnsupported: the BTF holds something this package does not parse (a
// newer format); the caller falls back to the full decode.
var ErrUnsupported = errors.New("unsupported BTF")

// Kernel returns the types named in names (see Extract) from the running
// kernel's BTF. The file is mapped, not read: its ~5 MB would otherwise sit
// in the heap, and in the tool's peak RSS, until the next collection.
func Kernel(names []string) (*btf.Spec, error) {
	f, err := os.Open(VmlinuxPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	raw, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", VmlinuxPath, err)
	}
	// Extract copies what it keeps.
	defer unix.Munmap(raw)
	return Extract(raw, names)
}

// Extract returns a spec with every struct, union, enum, typedef and
// forward declaration of raw whose name is in names, and the types those
// contain by value (members, array elements, typedef targets, qualifiers).
// Pointers point to void. Names carrying a CO-RE flavour ("task_struct___old")
// stand for their essential name.
func Extract(raw []byte, names []string) (*btf.Spec, error) {
	in, err := parse(raw)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		if i := strings.Index(n, "___"); i > 0 {
			n = n[:i]
		}
		if n != "" {
			want[n] = true
		}
	}
	keep := make([]bool, len(in.off))
	var work []uint32
	for id := 1; id < len(in.off); id++ {
		switch in.kind(uint32(id)) {
		case kindStruct, kindUnion, kindEnum, kindEnum64, kindTypedef, kindFwd:
			if nameOff := in.u32(in.at(uint32(id))); nameOff != 0 && want[string(in.str(nameOff))] {
				keep[id] = true
				work = append(work, uint32(id))
			}
		}
	}
	for len(work) > 0 {
		id := work[len(work)-1]
		work = work[:len(work)-1]
		for _, ref := range in.valueRefs(id) {
			if ref != 0 && int(ref) < len(keep) && !keep[ref] {
				keep[ref] = true
				work = append(work, ref)
			}
		}
	}
	out, err := in.write(keep)
	if err != nil {
		return nil, err
	}
	return btf.LoadSpecFromReader(bytes.NewReader(out))
}

// rawBTF is the parsed layout of one BTF blob.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type rawBTF struct {
	bo    byteOrder
	types []byte
	strs  []byte
	off   []uint32 // off[id]: offset of type id in types; off[0] is void
}

func parse(raw []byte) (*rawBTF, error) {
	if len(raw) < headerLen {
		return nil, fmt.Errorf("BTF too short: %w", ErrUnsupported)
	}
	var bo byteOrder = binary.LittleEndian
	if bo.Uint16(raw) != magic {
		bo = binary.BigEndian
		if bo.Uint16(raw) != magic {
			return nil, fmt.Errorf("no BTF magic: %w", ErrUnsupported)
		}
	}
	if raw[2] != 1 {
		return nil, fmt.Errorf("BTF version %d: %w", raw[2], ErrUnsupported)
	}
	hdrLen := bo.Uint32(raw[4:])
	typeOff, typeLen := bo.Uint32(raw[8:]), bo.Uint32(raw[12:])
	strOff, strLen := bo.Uint32(raw[16:]), bo.Uint32(raw[20:])
	if hdrLen < headerLen || uint64(hdrLen) > uint64(len(raw)) {
		return nil, fmt.Errorf("BTF header length %d: %w", hdrLen, ErrUnsupported)
	}
	body := raw[hdrLen:]
	if uint64(typeOff)+uint64(typeLen) > uint64(len(body)) || uint64(strOff)+uint64(strLen) > uint64(len(body)) {
		return nil, fmt.Errorf("BTF sections out of bounds: %w", ErrUnsupported)
	}
	in := &rawBTF{bo: bo, types: body[typeOff : typeOff+typeLen], strs: body[strOff : strOff+strLen]}
	in.off = make([]uint32, 1, 1+len(in.types)/32)
	for p := 0; p < len(in.types); {
		if p+typeHeader > len(in.types) {
			return nil, fmt.Errorf("truncated type at %d: %w", p, ErrUnsupported)
		}
		in.off = append(in.off, uint32(p))
		n, err := in.extra(p)
		if err != nil {
			return nil, err
		}
		if p+typeHeader+n > len(in.types) {
			return nil, fmt.Errorf("truncated type at %d: %w", p, ErrUnsupported)
		}
		p += typeHeader + n
	}
	return in, nil
}

func (in *rawBTF) u32(p int) uint32 { return in.bo.Uint32(in.types[p:]) }

func (in *rawBTF) at(id uint32) int { return int(in.off[id]) }

func (in *rawBTF) kind(id uint32) int { return int(in.u32(in.at(id)+4)>>24) & 0x1f }

func (in *rawBTF) vlen(p int) int { return int(in.u32(p+4) & 0xffff) }

// extra is the size of the kind-specific data after the type at p.
func (in *rawBTF) extra(p int) (int, error) {
	vlen := in.vlen(p)
	switch k := int(in.u32(p+4)>>24) & 0x1f; k {
	case kindInt, kindVar, kindDeclTag:
		return 4, nil
	case kindArray:
		return 12, nil
	case kindStruct, kindUnion, kindDatasec, kindEnum64:
		return 12 * vlen, nil
	case kindEnum, kindFuncProto:
		return 8 * vlen, nil
	case kindPtr, kindFwd, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFunc, kindFloat, kindTypeTag:
		return 0, nil
	default:
		return 0, fmt.Errorf("BTF kind %d: %w", k, ErrUnsupported)
	}
}

func (in *rawBTF) str(off uint32) []byte {
	if uint64(off) >= uint64(len(in.strs)) {
		return nil
	}
	s := in.strs[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// valueRefs lists the types that type id contains by value; pointers
// contain nothing (they are rewritten to point to void).
func (in *rawBTF) valueRefs(id uint32) []uint32 {
	p := in.at(id)
	switch in.kind(id) {
	case kindTypedef, kindVolatile, kindConst, kindRestrict, kindTypeTag:
		return []uint32{in.u32(p + 8)}
	case kindArray:
		return []uint32{in.u32(p + typeHeader), in.u32(p + typeHeader + 4)}
	case kindStruct, kindUnion:
		refs := make([]uint32, 0, in.vlen(p))
		for i := 0; i < in.vlen(p); i++ {
			refs = append(refs, in.u32(p+typeHeader+12*i+4))
		}
		return refs
	case kindFuncProto:
		refs := []uint32{in.u32(p + 8)}
		for i := 0; i < in.vlen(p); i++ {
			refs = append(refs, in.u32(p+typeHeader+8*i+4))
		}
		return refs
	}
	return nil
}

// write emits the kept types, renumbered in their original order, with a
// string table of just their names.
func (in *rawBTF) write(keep []bool) ([]byte, error) {
	newID := make([]uint32, len(keep)) // 0: not kept, so void
	var ids []uint32
	for id := 1; id < len(keep); id++ {
		if keep[id] {
			ids = append(ids, uint32(id))
			newID[id] = uint32(len(ids))
		}
	}

	strs := []byte{0}
	strOff := map[string]uint32{"": 0}
	name := func(off uint32) uint32 {
		s := in.str(off)
		if o, ok := strOff[string(s)]; ok {
			return o
		}
		o := uint32(len(strs))
		strs = append(append(strs, s...), 0)
		strOff[string(s)] = o
		return o
	}
	ref := func(id uint32) uint32 {
		if int(id) < len(newID) {
			return newID[id]
		}
		return 0
	}

	var types []byte
	put := func(v uint32) { types = in.bo.AppendUint32(types, v) }
	for _, id := range ids {
		p := in.at(id)
		info := in.u32(p + 4)
		put(name(in.u32(p)))
		put(info)
		kind, vlen := in.kind(id), in.vlen(p)
		switch kind {
		case kindPtr:
			put(0)
		case kindTypedef, kindVolatile, kindConst, kindRestrict, kindTypeTag, kindFuncProto:
			put(ref(in.u32(p + 8)))
		default: // size, or unused
			put(in.u32(p + 8))
		}
		d := p + typeHeader
		switch kind {
		case kindInt:
			put(in.u32(d))
		case kindArray:
			put(ref(in.u32(d)))
			put(ref(in.u32(d + 4)))
			put(in.u32(d + 8))
		case kindStruct, kindUnion:
			for i := 0; i < vlen; i++ {
				m := d + 12*i
				put(name(in.u32(m)))
				put(ref(in.u32(m + 4)))
				put(in.u32(m + 8))
			}
		case kindEnum:
			for i := 0; i < vlen; i++ {
				m := d + 8*i
				put(name(in.u32(m)))
				put(in.u32(m + 4))
			}
		case kindEnum64:
			for i := 0; i < vlen; i++ {
				m := d + 12*i
				put(name(in.u32(m)))
				put(in.u32(m + 4))
				put(in.u32(m + 8))
			}
		case kindFuncProto:
			for i := 0; i < vlen; i++ {
				m := d + 8*i
				put(name(in.u32(m)))
				put(ref(in.u32(m + 4)))
			}
		case kindPtr, kindFwd, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFloat, kindTypeTag:
		default:
			// Never reached by value from a kept type.
			return nil, fmt.Errorf("BTF kind %d kept by value: %w", kind, ErrUnsupported)
		}
	}

	hdr := make([]byte, 0, headerLen)
	hdr = in.bo.AppendUint16(hdr, magic)
	hdr = append(hdr, 1, 0) // version, flags
	hdr = in.bo.AppendUint32(hdr, headerLen)
	hdr = in.bo.AppendUint32(hdr, 0)
	hdr = in.bo.AppendUint32(hdr, uint32(len(types)))
	hdr = in.bo.AppendUint32(hdr, uint32(len(types)))
	hdr = in.bo.AppendUint32(hdr, uint32(len(strs)))
	return append(append(hdr, types...), strs...), nil
}

package btfmin

import (
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf/btf"
)

var names = []string{"task_struct", "sock", "tcp_sock", "inet_sock", "request", "files_struct___x", "btf_trace_inet_sock_set_state", "no_such_type_bpftk"}

func vmlinux(t testing.TB) []byte {
	raw, err := os.ReadFile(VmlinuxPath)
	if err != nil {
		t.Skipf("no kernel BTF to test against: %v", err)
	}
	return raw
}

// TestMatchesFullDecode: every type asked for has, in the extract, the same
// size and the same members at the same offsets as in cilium/ebpf's full
// decode of the kernel BTF; members that are pointers point to void.
func TestMatchesFullDecode(t *testing.T) {
	raw := vmlinux(t)
	small, err := Extract(raw, names)
	if err != nil {
		t.Fatal(err)
	}
	full, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"task_struct", "sock", "tcp_sock", "inet_sock", "request", "files_struct"} {
		var want, got *btf.Struct
		if err := full.TypeByName(n, &want); err != nil {
			t.Fatalf("%s in full: %v", n, err)
		}
		if err := small.TypeByName(n, &got); err != nil {
			t.Fatalf("%s in extract: %v", n, err)
		}
		if got.Size != want.Size || len(got.Members) != len(want.Members) {
			t.Fatalf("%s: size %d, %d members; want %d, %d", n, got.Size, len(got.Members), want.Size, len(want.Members))
		}
		for i, m := range want.Members {
			g := got.Members[i]
			if g.Name != m.Name || g.Offset != m.Offset || g.BitfieldSize != m.BitfieldSize {
				t.Errorf("%s member %d: %s@%d, want %s@%d", n, i, g.Name, g.Offset, m.Name, m.Offset)
			}
			ws, err := btf.Sizeof(m.Type)
			if err != nil {
				t.Fatal(err)
			}
			gs, err := btf.Sizeof(g.Type)
			if err != nil {
				t.Fatalf("%s.%s: %v", n, g.Name, err)
			}
			if gs != ws {
				t.Errorf("%s.%s: size %d, want %d", n, m.Name, gs, ws)
			}
			if p, ok := btf.UnderlyingType(g.Type).(*btf.Pointer); ok {
				if _, void := p.Target.(*btf.Void); !void {
					t.Errorf("%s.%s: pointer to %v, want void", n, g.Name, p.Target)
				}
			}
		}
	}
	var td *btf.Typedef
	if err := small.TypeByName("btf_trace_inet_sock_set_state", &td); err != nil {
		t.Errorf("tracepoint typedef: %v", err)
	}
	if _, err := small.AnyTypeByName("no_such_type_bpftk"); !errors.Is(err, btf.ErrNotFound) {
		t.Errorf("unknown name: %v", err)
	}
	n := 0
	for range small.All() {
		n++
	}
	t.Logf("%d types kept", n)
}

func TestBadInput(t *testing.T) {
	for _, raw := range [][]byte{nil, make([]byte, 24), {0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := Extract(raw, names); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Extract(%x) = %v, want ErrUnsupported", raw, err)
		}
	}
}

// TestTruncated: a type whose members run past the types section is an
// error, not a panic.
func TestTruncated(t *testing.T) {
	raw := []byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0}
	// One struct (kind 4) with 2 members but no member data.
	raw = append(raw, 0, 0, 0, 0, 2, 0, 0, 4, 8, 0, 0, 0, 0)
	if _, err := Extract(raw, names); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Extract = %v, want ErrUnsupported", err)
	}
}

func BenchmarkExtract(b *testing.B) {
	raw := vmlinux(b)
	for b.Loop() {
		if _, err := Extract(raw, names); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFullDecode(b *testing.B) {
	for b.Loop() {
		s, err := btf.LoadKernelSpec()
		if err != nil {
			b.Fatal(err)
		}
		var st *btf.Struct
		if err := s.TypeByName("tcp_sock", &st); err != nil {
			b.Fatal(err)
		}
	}
}

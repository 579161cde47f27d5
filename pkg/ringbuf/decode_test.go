package ringbuf

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// sample mirrors the shape bpf2go generates: fixed-size fields, C layout.
type sample struct {
	Ts   uint64
	Pid  uint32
	Ret  int32
	Comm [16]int8
}

func TestDecode(t *testing.T) {
	var raw bytes.Buffer
	binary.Write(&raw, binary.NativeEndian, uint64(123456789))
	binary.Write(&raw, binary.NativeEndian, uint32(4242))
	binary.Write(&raw, binary.NativeEndian, int32(-2))
	raw.WriteString("cat\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	raw.Write([]byte{0xde, 0xad}) // ring records are padded to 8 bytes: extra bytes are fine

	var s sample
	if err := Decode(raw.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Ts != 123456789 || s.Pid != 4242 || s.Ret != -2 || s.Comm[0] != 'c' || s.Comm[3] != 0 {
		t.Errorf("decoded %+v", s)
	}
	if err := Decode(raw.Bytes()[:10], &s); err == nil {
		t.Error("a short record decoded without error")
	}
}

func BenchmarkDecode(b *testing.B) {
	raw := make([]byte, 304)
	var s struct {
		A [38]uint64
	}
	for i := 0; i < b.N; i++ {
		Decode(raw, &s)
	}
}

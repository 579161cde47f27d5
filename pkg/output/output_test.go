package output

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	for _, in := range []string{"", "plain", "quote\" back\\slash", "tab\tnl\n\x01\x1f", "héllo", "bad\xff\xfeutf8", "/tmp/\u2028"} {
		b := AppendJSONString(nil, []byte(in))
		if !json.Valid(b) {
			t.Errorf("%q -> invalid JSON %s", in, b)
			continue
		}
		var back string
		json.Unmarshal(b, &back)
		if utf8.ValidString(in) && back != in {
			t.Errorf("%q round-tripped to %q", in, back)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add([]byte("a\"b\\c\n\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if b := AppendJSONString(nil, in); !json.Valid(b) {
			t.Fatalf("%q -> invalid JSON %s", in, b)
		}
	})
}

func TestObject(t *testing.T) {
	b := Obj(nil)
	b = Int(b, "fd", -1)
	b = Uint(b, "pid", 7)
	b = Float(b, "t", 1.5, 3)
	b = StrString(b, "p", "x")
	b = Bool(b, "ok", true)
	b = End(b)
	want := `{"fd":-1,"pid":7,"t":1.500,"p":"x","ok":true}` + "\n"
	if string(b) != want {
		t.Errorf("got %s want %s", b, want)
	}
	if string(End(Obj(nil))) != "{}\n" {
		t.Error("empty object")
	}
}

func TestColumns(t *testing.T) {
	cases := []struct{ got, want string }{
		{string(IntRight(nil, -1, 3)), " -1"},
		{string(IntRight(nil, 12345, 3)), "12345"},
		{string(IntLeft(nil, 42, 6)), "42    "},
		{string(UintLeft(nil, 0, 3)), "0  "},
		{string(FloatLeft(nil, 1.23456, 3, 8)), "1.235   "},
		{string(Octal(nil, 0o2000000, 8)), "02000000"},
		{string(Octal(nil, 0, 8)), "00000000"},
		{string(PadRight(nil, []byte("abc"), 5)), "abc  "},
		{string(PadRightString(nil, "toolong", 3)), "toolong"},
		{string(CString([]int8{'h', 'i', 0, 'x'})), "hi"},
		{string(CString([]int8{'a', 'b'})), "ab"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %q want %q", i, c.got, c.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	got := string(Printable(nil, []byte("a\nb\tc\x01\x7fé")))
	if want := `a\nb\tc\x01\x7fé`; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

// TestNested: arrays and objects built with Key and Close, and values of
// every type Any knows, parse back with encoding/json to the same values.
func TestNested(t *testing.T) {
	b := Obj(nil)
	b = Any(b, "s", "a\"b")
	b = Any(b, "u32", uint32(7))
	b = Any(b, "i", -3)
	b = Any(b, "u64", uint64(1)<<40)
	b = Any(b, "other", 1.5)
	b = append(Key(b, "empty"), '[')
	b = Close(b, ']')
	b = append(Key(b, "list"), '[')
	for i := 0; i < 2; i++ {
		b = Obj(b)
		b = Uint(b, "n", uint64(i))
		b = Close(b, '}')
	}
	b = Close(b, ']')
	b = End(b)
	want := `{"s":"a\"b","u32":7,"i":-3,"u64":1099511627776,"other":"1.5","empty":[],"list":[{"n":0},{"n":1}]}` + "\n"
	if string(b) != want {
		t.Fatalf("got %s want %s", b, want)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
}

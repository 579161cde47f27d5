package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func cstr(s string, n int) []int8 {
	b := make([]int8, n)
	for i := 0; i < len(s) && i < n-1; i++ {
		b[i] = int8(s[i])
	}
	return b
}

// goldenEvents cover success, failure, a long comm, odd bytes in a path and
// a large uid.
func goldenEvents() []opensnoopEvent {
	mk := func(ts uint64, pid, uid uint32, ret int32, flags uint32, comm, path string) opensnoopEvent {
		e := opensnoopEvent{TsNs: ts, Pid: pid, Tid: pid + 1, Uid: uid, Ret: ret, Flags: flags, Mode: 0o644}
		copy(e.Comm[:], cstr(comm, 16))
		copy(e.Path[:], cstr(path, 256))
		return e
	}
	return []opensnoopEvent{
		mk(1_000_000_000, 12412, 0, 3, 0o2000000, "cat", "/etc/ld.so.cache"),
		mk(1_250_000_000, 12412, 0, -2, 0o2000000, "cat", "/usr/lib/locale/locale-archive"),
		mk(2_000_500_000, 4194303, 4294967294, 1023, 0o101, "a-very-long-comm", "relative/path"),
		mk(3_999_999_999, 1, 1000, -13, 0, "sh", "quote\"tab\tnl\n\xff.txt"),
	}
}

func TestGolden(t *testing.T) {
	const start = 500_000_000
	for name, cfg := range map[string]config{
		"default.txt":  {},
		"all.txt":      {timestamp: true, printUID: true, extended: true},
		"events.jsonl": {json: true},
	} {
		var out []byte
		if !cfg.json {
			out = append(out, header(cfg)...)
		}
		for _, e := range goldenEvents() {
			out = formatEvent(out, &e, cfg, start)
		}
		path := filepath.Join("testdata", name)
		if *update {
			os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(want) {
			t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", name, out, want)
		}
	}
}

func BenchmarkFormatText(b *testing.B) {
	evs := goldenEvents()
	buf := make([]byte, 0, 1024)
	cfg := config{timestamp: true}
	for i := 0; i < b.N; i++ {
		buf = formatEvent(buf[:0], &evs[i%len(evs)], cfg, 0)
	}
}

func BenchmarkFormatJSON(b *testing.B) {
	evs := goldenEvents()
	buf := make([]byte, 0, 1024)
	cfg := config{json: true}
	for i := 0; i < b.N; i++ {
		buf = formatEvent(buf[:0], &evs[i%len(evs)], cfg, 0)
	}
}

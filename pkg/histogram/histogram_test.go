package histogram

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Reference texts, as libbpf-tools prints them (see
// ../shared/reference/libbpf-tools-detail.md, section 1.5).
const refRunqlatP = `     usecs               : count    distribution
         0 -> 1          : 0        |                                        |
         2 -> 3          : 0        |                                        |
         4 -> 7          : 0        |                                        |
         8 -> 15         : 1        |****************************************|
        16 -> 31         : 0        |                                        |
        32 -> 63         : 1        |****************************************|
`

const refMsecs = `     msecs               : count    distribution
         0 -> 1          : 48       |****************************************|
`

func TestReferenceText(t *testing.T) {
	if got := string(AppendLog2(nil, []uint64{0, 0, 0, 1, 0, 1, 0, 0}, "usecs")); got != refRunqlatP {
		t.Errorf("got\n%s\nwant\n%s", got, refRunqlatP)
	}
	if got := string(AppendLog2(nil, []uint64{48}, "msecs")); got != refMsecs {
		t.Errorf("got\n%s\nwant\n%s", got, refMsecs)
	}
	if got := AppendLog2(nil, make([]uint64, 32), "usecs"); len(got) != 0 {
		t.Errorf("an empty histogram printed %q, want nothing", got)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestGoldenLog2(t *testing.T) {
	// Leading empty buckets, a gap, and a bar that rounds down to nothing.
	spread := []uint64{0, 0, 5, 120, 800, 3, 0, 41, 1}
	golden(t, "spread.txt", AppendLog2(nil, spread, "usecs"))

	// Buckets past 2^32 switch to the wide layout; 2^63 still aligns.
	wide := make([]uint64, 64)
	wide[0], wide[33], wide[63] = 7, 1, 3
	golden(t, "wide.txt", AppendLog2(nil, wide, "nsecs"))

	// Counts so large that count*40 overflows 64 bits.
	huge := []uint64{1 << 62, 1 << 61, ^uint64(0), 12345678901234}
	golden(t, "huge.txt", AppendLog2(nil, huge, "usecs"))

	golden(t, "linear.txt", AppendLinear(nil, []uint64{0, 0, 4, 0, 9, 2, 0}, 0, 5, "percent"))
}

func TestStars(t *testing.T) {
	for _, c := range []struct {
		count, max uint64
		want       int
	}{{0, 10, 0}, {10, 10, 40}, {5, 10, 20}, {1, 41, 0}, {^uint64(0), ^uint64(0), 40}, {1 << 63, ^uint64(0), 20}} {
		if got := stars(c.count, c.max, 40); got != c.want {
			t.Errorf("stars(%d,%d) = %d want %d", c.count, c.max, got, c.want)
		}
	}
}

func TestLog2Slot(t *testing.T) {
	for v, want := range map[uint64]int{0: 0, 1: 0, 2: 1, 3: 1, 4: 2, 1023: 9, 1024: 10, 1 << 63: 63} {
		if got := Log2Slot(v); got != want {
			t.Errorf("Log2Slot(%d) = %d want %d", v, got, want)
		}
	}
}

func sectioned() *Report {
	return &Report{
		Unit:      Usecs,
		Time:      time.Date(2026, 11, 25, 13, 4, 5, 0, time.UTC),
		Timestamp: true,
		Hists: []Hist{
			{Prefix: "\ndisk = vda\t\n", Keys: map[string]any{"disk": "vda"}, Slots: []uint64{0, 1, 2, 3}, Count: 6, SumNs: 21000},
			{Prefix: "\ndisk = loop0\t\n", Keys: map[string]any{"disk": "loop0"}, Slots: []uint64{9}, Count: 9, SumNs: 4500},
			{Prefix: "\ndisk = sdb\t\n", Keys: map[string]any{"disk": "sdb"}, Slots: []uint64{0, 0}, Count: 0},
		},
	}
}

func TestGoldenSections(t *testing.T) {
	r := sectioned()
	golden(t, "sections.txt", r.AppendText(nil))
	j := r.JSON().AppendJSON(nil)
	golden(t, "sections.json", j)

	var back JSONReport
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Histograms []struct {
			Disk  string  `json:"disk"`
			Count uint64  `json:"count"`
			Sum   float64 `json:"sum"`
		} `json:"histograms"`
	}
	json.Unmarshal(j, &parsed)
	if h := parsed.Histograms[0]; h.Disk != "vda" || h.Count != 6 || h.Sum != 21 {
		t.Errorf("first section parsed as %+v", h)
	}
}

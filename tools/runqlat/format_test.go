package main

import (
	"testing"

	"github.com/bpftk/bpftk/pkg/bpfmap"
	"github.com/bpftk/bpftk/pkg/histogram"
)

func entry(key uint32, comm string, slot int, n uint64) bpfmap.Entry[uint32, runqlatHistVal] {
	e := bpfmap.Entry[uint32, runqlatHistVal]{Key: key}
	for i := range comm {
		e.Value.Comm[i] = int8(comm[i])
	}
	e.Value.H.Slots[slot] = n
	e.Value.H.Count = n
	e.Value.H.SumNs = n * 1000
	return e
}

func TestSectionHeadings(t *testing.T) {
	for _, c := range []struct {
		section uint32
		want    []string
		key     string
	}{
		{sectionNone, []string{"", ""}, ""},
		{sectionPID, []string{"\npid = 7 sshd\n", "\npid = 181 bash\n"}, "pid"},
		{sectionTID, []string{"\ntid = 7 sshd\n", "\ntid = 181 bash\n"}, "tid"},
		{sectionPidns, []string{"\npidns = 7\n", "\npidns = 181\n"}, "pidns"},
	} {
		got := sections([]bpfmap.Entry[uint32, runqlatHistVal]{entry(181, "bash", 3, 4), entry(7, "sshd", 1, 2)}, c.section)
		for i, w := range c.want {
			if got[i].Prefix != w {
				t.Errorf("section %d: heading %q, want %q", c.section, got[i].Prefix, w)
			}
		}
		if c.key != "" && got[0].Keys[c.key] != uint32(7) {
			t.Errorf("section %d: keys %v", c.section, got[0].Keys)
		}
		if got[1].Count != 4 || got[1].SumNs != 4000 || got[1].Slots[3] != 4 {
			t.Errorf("section %d: counts not carried: %+v", c.section, got[1])
		}
	}
}

// TestReportPerInterval: a report prints the histograms it is given and
// nothing else; clearing is the map drain's job (bpfmap.Drain deletes what
// it read), so an interval with no samples prints an empty report.
func TestReportPerInterval(t *testing.T) {
	rep := histogram.Report{Unit: histogram.Usecs, Hists: sections(nil, sectionPID)}
	if got := string(rep.AppendText(nil)); got != "\n" {
		t.Errorf("empty interval printed %q", got)
	}
}

package main

import (
	"testing"

	"github.com/bpftk/bpftk/pkg/bpfmap"
	"github.com/bpftk/bpftk/pkg/histogram"
	"github.com/bpftk/bpftk/pkg/kernel"
)

func one(e bpfmap.Entry[biolatencyHistKey, histogram.KernelHist]) []bpfmap.Entry[biolatencyHistKey, histogram.KernelHist] {
	return []bpfmap.Entry[biolatencyHistKey, histogram.KernelHist]{e}
}

func TestSections(t *testing.T) {
	h := func(dev, flags uint32, slot int, n uint64) bpfmap.Entry[biolatencyHistKey, histogram.KernelHist] {
		e := bpfmap.Entry[biolatencyHistKey, histogram.KernelHist]{Key: biolatencyHistKey{Dev: dev, CmdFlags: flags}}
		e.Value.Slots[slot] = n
		e.Value.Count = n
		return e
	}
	names := map[uint32]string{kernel.KernelDev(253, 0): "vda", kernel.KernelDev(7, 1): "loop1"}
	disk := func(d uint32) string { return names[d] }
	flags := kernel.NewBlockFlagNames(nil)
	entries := []bpfmap.Entry[biolatencyHistKey, histogram.KernelHist]{
		h(kernel.KernelDev(253, 0), 1|1<<11, 3, 5),
		h(kernel.KernelDev(7, 1), 0, 2, 7),
		h(kernel.KernelDev(253, 0), 0, 1, 2),
	}
	got := sections(entries, true, true, disk, flags)
	want := []string{"\ndisk = loop1\tflags = Read\n", "\ndisk = vda\tflags = Read\n", "\ndisk = vda\tflags = Sync-Write\n"}
	if len(got) != len(want) {
		t.Fatalf("%d sections", len(got))
	}
	for i := range want {
		if got[i].Prefix != want[i] {
			t.Errorf("section %d heading %q, want %q", i, got[i].Prefix, want[i])
		}
	}
	if got[0].Keys["disk"] != "loop1" || got[0].Keys["flags"] != "Read" || got[0].Count != 7 {
		t.Errorf("keys %v count %d", got[0].Keys, got[0].Count)
	}
	if s := sections(one(h(kernel.KernelDev(253, 0), 1|1<<11, 3, 5)), true, false, disk, flags); s[0].Prefix != "\ndisk = vda\t\n" {
		t.Errorf("-D heading %q", s[0].Prefix)
	}
	if s := sections(one(h(kernel.KernelDev(253, 0), 1|1<<11, 3, 5)), false, true, disk, flags); s[0].Prefix != "\nflags = Sync-Write\n" {
		t.Errorf("-F heading %q", s[0].Prefix)
	}
	if s := sections(one(h(kernel.KernelDev(253, 0), 1|1<<11, 3, 5)), false, false, disk, flags); s[0].Prefix != "" || len(s[0].Keys) != 0 {
		t.Errorf("plain heading %q keys %v", s[0].Prefix, s[0].Keys)
	}
}

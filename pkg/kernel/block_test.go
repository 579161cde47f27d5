package kernel

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestBlockFlagNames(t *testing.T) {
	for _, spec := range []*btf.Spec{nil, kernelSpec(t)} {
		n := NewBlockFlagNames(spec)
		for flags, want := range map[uint32]string{
			0:                         "Read",
			1:                         "Write",
			1 | 1<<11:                 "Sync-Write",
			0 | 1<<19:                 "ReadAhead-Read",
			0 | 1<<13 | 1<<12:         "Priority-Metadata-Read",
			1 | 1<<15 | 1<<14 | 1<<11: "Idle-NoMerge-Sync-Write",
			2:                         "Flush",
			200:                       "Unknown",
		} {
			if got := n.Name(flags); got != want {
				t.Errorf("btf=%v: Name(%#x) = %q, want %q", spec != nil, flags, got, want)
			}
		}
	}
}

func kernelSpec(t *testing.T) *btf.Spec {
	s, err := btf.LoadKernelSpec()
	if err != nil {
		t.Logf("no kernel BTF (%v): checking the fallback tables only", err)
		return nil
	}
	return s
}

func TestDiskNames(t *testing.T) {
	root := t.TempDir()
	sysBlock, procPartitions = root, filepath.Join(root, "partitions")
	t.Cleanup(func() { sysBlock, procPartitions = "/sys", "/proc/partitions" })
	mk := func(p, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(content), 0o644)
	}
	mk("dev/block/253:0/uevent", "MAJOR=253\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n")
	mk("class/block/vda/dev", "253:0\n")
	mk("devices/vda/vda1/dev", "253:1\n")
	mk("devices/vda/vda1/partition", "1\n")
	os.Symlink(filepath.Join(root, "devices/vda/vda1"), filepath.Join(root, "class/block/vda1"))
	mk("partitions", "major minor  #blocks  name\n\n 7        0     102400 loop0\n")

	if got := DiskName(KernelDev(253, 0)); got != "vda" {
		t.Errorf("DiskName(253:0) = %q", got)
	}
	if got := DiskName(KernelDev(7, 0)); got != "loop0" {
		t.Errorf("DiskName(7:0) from /proc/partitions = %q", got)
	}
	if got := DiskName(KernelDev(9, 9)); got != "" {
		t.Errorf("DiskName(unknown) = %q", got)
	}
	for name, want := range map[string]uint32{"vda": KernelDev(253, 0), "/dev/vda": KernelDev(253, 0), "loop0": KernelDev(7, 0)} {
		if got, err := DiskDev(name); err != nil || got != want {
			t.Errorf("DiskDev(%q) = %#x, %v; want %#x", name, got, err, want)
		}
	}
	if _, err := DiskDev("vda1"); err == nil || err.Error() != "vda1 is a partition; block I/O is traced per whole disk: use vda" {
		t.Errorf("DiskDev(partition) error = %v", err)
	}
	if _, err := DiskDev("nosuch"); err == nil {
		t.Error("DiskDev(nosuch) found a disk")
	}
}

package kernel

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// sysBlock and procPartitions are variables so tests can point them at a
// fixture tree.
var (
	sysBlock       = "/sys"
	procPartitions = "/proc/partitions"
)

// KernelDev encodes major:minor the way the kernel keeps dev_t inside
// (MKDEV: major << 20 | minor), which is what BPF programs read from a
// gendisk.
func KernelDev(major, minor uint32) uint32 { return major<<20 | minor&0xfffff }

// SplitKernelDev is the inverse of KernelDev.
func SplitKernelDev(dev uint32) (major, minor uint32) { return dev >> 20, dev & 0xfffff }

// DiskName returns the name of the block device with that kernel dev_t
// (e.g. "vda", "loop3"), from /sys/dev/block/MAJ:MIN, or /proc/partitions
// where sysfs is not mounted; "" when neither knows it.
func DiskName(dev uint32) string {
	major, minor := SplitKernelDev(dev)
	uevent := filepath.Join(sysBlock, "dev", "block", fmt.Sprintf("%d:%d", major, minor), "uevent")
	if b, err := os.ReadFile(uevent); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "DEVNAME="); ok {
				return name
			}
		}
	}
	parts, _ := readPartitions()
	for _, p := range parts {
		if p.major == major && p.minor == minor {
			return p.name
		}
	}
	return ""
}

// DiskDev resolves a disk name given by the user ("vda", "/dev/vda",
// "loop0") to its kernel dev_t. A partition is refused with a hint: the
// block tracepoints see I/O against the whole disk.
func DiskDev(name string) (uint32, error) {
	name = strings.TrimPrefix(name, "/dev/")
	if name == "" || strings.Contains(name, "/") {
		return 0, fmt.Errorf("invalid disk name %q", name)
	}
	dir := filepath.Join(sysBlock, "class", "block", name)
	if b, err := os.ReadFile(filepath.Join(dir, "dev")); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
			parent := filepath.Base(filepath.Dir(mustEval(dir)))
			return 0, fmt.Errorf("%s is a partition; block I/O is traced per whole disk: use %s", name, parent)
		}
		return parseMajMin(strings.TrimSpace(string(b)))
	}
	parts, err := readPartitions()
	if err != nil {
		return 0, fmt.Errorf("disk %s not found (and %s: %v)", name, procPartitions, err)
	}
	for _, p := range parts {
		if p.name == name {
			return KernelDev(p.major, p.minor), nil
		}
	}
	return 0, fmt.Errorf("disk %s not found (see /proc/partitions for the disks of this machine)", name)
}

func mustEval(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func parseMajMin(s string) (uint32, error) {
	maj, min, ok := strings.Cut(s, ":")
	a, err1 := strconv.ParseUint(maj, 10, 12)
	b, err2 := strconv.ParseUint(min, 10, 20)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad device number %q", s)
	}
	return KernelDev(uint32(a), uint32(b)), nil
}

type partition struct {
	major, minor uint32
	name         string
}

// readPartitions parses /proc/partitions: "major minor #blocks name".
func readPartitions() ([]partition, error) {
	f, err := os.Open(procPartitions)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []partition
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			continue
		}
		a, err1 := strconv.ParseUint(fields[0], 10, 32)
		b, err2 := strconv.ParseUint(fields[1], 10, 32)
		if err1 != nil || err2 != nil {
			continue // the header line
		}
		out = append(out, partition{uint32(a), uint32(b), fields[3]})
	}
	return out, sc.Err()
}

// Package loader turns a bpf2go collection spec into attached programs: it
// checks that the machine can run them, sets the tool's configuration
// constants, picks an attach point for each hook by probing the kernel, and
// detaches everything again on Close or after a partial failure.
package loader

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Capability bits from linux/capability.h.
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// VmlinuxBTF is where the kernel exposes its own type information.
const VmlinuxBTF = "/sys/kernel/btf/vmlinux"

// DefaultTracefs is where we mount tracefs when nobody has.
const DefaultTracefs = "/sys/kernel/tracing"

// ErrPrivilege reports that the caller lacks the capabilities to load BPF.
var ErrPrivilege = errors.New("need root, or the capabilities CAP_BPF and CAP_PERFMON (run with sudo, or see the README for setcap)")

// effectiveCaps reads the effective capability set of this process.
func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}

// CheckPrivileges fails unless this process may load and attach tracing
// programs: CAP_SYS_ADMIN, or CAP_BPF together with CAP_PERFMON.
func CheckPrivileges() error {
	caps, err := effectiveCaps()
	if err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	has := func(c uint) bool { return caps&(1<<c) != 0 }
	if has(capSysAdmin) || (has(capBPF) && has(capPerfmon)) {
		return nil
	}
	return ErrPrivilege
}

// CheckBTF fails when the kernel does not expose its BTF, which CO-RE
// relocations and tp_btf programs need.
func CheckBTF() error {
	if _, err := os.Stat(VmlinuxBTF); err != nil {
		return fmt.Errorf("kernel BTF is missing (%s): this tool needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions since 2020)", VmlinuxBTF)
	}
	return nil
}

// mountsFile is a variable so tests can point it elsewhere.
var mountsFile = "/proc/self/mounts"

// findTracefs returns the tracefs mount point from /proc/self/mounts, or the
// tracing directory of a debugfs mount on kernels that only have it there.
func findTracefs() (string, error) {
	f, err := os.Open(mountsFile)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var debugfs string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		switch fields[2] {
		case "tracefs":
			return fields[1], nil
		case "debugfs":
			if debugfs == "" {
				debugfs = fields[1]
			}
		}
	}
	if debugfs != "" {
		if st, err := os.Stat(debugfs + "/tracing/events"); err == nil && st.IsDir() {
			return debugfs + "/tracing", nil
		}
	}
	return "", nil
}

// EnsureTracefs returns where tracefs is mounted, mounting it at
// /sys/kernel/tracing if nobody has. Classic tracepoints need it to resolve
// an event's id; tp_btf and raw_tp do not.
func EnsureTracefs(logf func(string, ...any)) (string, error) {
	path, err := findTracefs()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", mountsFile, err)
	}
	if path != "" {
		return path, nil
	}
	if err := unix.Mount("tracefs", DefaultTracefs, "tracefs", 0, ""); err != nil {
		return "", fmt.Errorf("tracefs is not mounted and mounting it at %s failed: %v; run as root or mount it with: mount -t tracefs nodev %s", DefaultTracefs, err, DefaultTracefs)
	}
	logf("mounted tracefs at %s", DefaultTracefs)
	return DefaultTracefs, nil
}

// Package kernel holds small facts about the running system that tools
// need to present what the kernel reports: clocks, errno names.
package kernel

import (
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// MonotonicNow returns CLOCK_MONOTONIC in nanoseconds, the clock of
// bpf_ktime_get_ns().
func MonotonicNow() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

// ErrnoName returns the symbolic name of an errno ("ENOENT"), or the number.
func ErrnoName(errno int64) string {
	if n := unix.ErrnoName(syscall.Errno(errno)); n != "" {
		return n
	}
	return strconv.FormatInt(errno, 10)
}

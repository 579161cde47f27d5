package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// NetNS is a network namespace a test created; it is deleted (with every
// interface and nftables rule in it) when the test ends, also on failure.
type NetNS struct {
	Name string
}

// NewNetNS creates a named network namespace with loopback up.
func NewNetNS(t testing.TB, name string) *NetNS {
	t.Helper()
	exec.Command("ip", "netns", "del", name).Run() // a leftover of a killed run
	MustRun(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ns := &NetNS{Name: name}
	ns.Exec(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Exec runs a command inside the namespace and fails the test if it fails.
func (ns *NetNS) Exec(t testing.TB, args ...string) string {
	t.Helper()
	return MustRun(t, append([]string{"ip", "netns", "exec", ns.Name}, args...)...)
}

// Do runs fn on an OS thread that has entered the namespace. Sockets fn
// creates stay in the namespace after it returns, whatever thread uses them.
func (ns *NetNS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread never returns to the pool: it is left in the
		// namespace, and Go discards a locked thread when its goroutine
		// exits without unlocking.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// SNMP returns one counter of /proc/net/snmp as seen inside the namespace,
// e.g. SNMP(t, "Tcp", "RetransSegs").
func (ns *NetNS) SNMP(t testing.TB, group, name string) uint64 {
	t.Helper()
	return ns.counter(t, "snmp", group, name)
}

// Netstat returns one counter of /proc/net/netstat (same layout as snmp),
// e.g. Netstat(t, "TcpExt", "TCPRetransFail").
func (ns *NetNS) Netstat(t testing.TB, group, name string) uint64 {
	t.Helper()
	return ns.counter(t, "netstat", group, name)
}

func (ns *NetNS) counter(t testing.TB, file, group, name string) uint64 {
	t.Helper()
	var v uint64
	err := ns.Do(func() error {
		b, err := os.ReadFile("/proc/thread-self/net/" + file)
		if err != nil {
			return err
		}
		v, err = ParseSNMP(string(b), group, name)
		return err
	})
	if err != nil {
		t.Fatalf("read %s in %s: %v", file, ns.Name, err)
	}
	return v
}

// ParseSNMP finds a counter in /proc/net/snmp or netstat text: each group is a header
// line of names followed by a line of values.
func ParseSNMP(text, group, name string) (uint64, error) {
	lines := strings.Split(text, "\n")
	for i := 0; i+1 < len(lines); i++ {
		names := strings.Fields(lines[i])
		values := strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != group+":" || len(values) != len(names) || values[0] != group+":" {
			continue
		}
		for j, n := range names {
			if n == name {
				var v uint64
				_, err := fmt.Sscan(values[j], &v)
				return v, err
			}
		}
	}
	return 0, fmt.Errorf("no %s %s in snmp", group, name)
}

// MustRun runs a command and fails the test with its output if it fails.
func MustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

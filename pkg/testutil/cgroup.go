package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NewCgroup creates an empty cgroup v2 for the test under the v2 hierarchy
// and removes it at cleanup, once the processes the test moved into it have
// gone (register their cleanup after this call, so it runs first). It skips
// the test where no cgroup v2 hierarchy is mounted.
func NewCgroup(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	root := ""
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "cgroup2" {
			root = f[1]
			break
		}
	}
	if root == "" {
		t.Skip("no cgroup v2 hierarchy mounted")
	}
	cg := filepath.Join(root, fmt.Sprintf("bpftk-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A process that just exited may still be counted for a moment.
		for i := 0; i < 50; i++ {
			if os.Remove(cg) == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("cgroup %s could not be removed", cg)
	})
	return cg
}

// MoveToCgroup moves process pid into the cgroup.
func MoveToCgroup(t testing.TB, cg string, pid int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Fatalf("move %d into %s: %v", pid, cg, err)
	}
}

package loader

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindTracefs(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		mountsFile = filepath.Join(dir, "mounts")
		os.WriteFile(mountsFile, []byte(s), 0o644)
	}
	defer func(old string) { mountsFile = old }(mountsFile)

	write("proc /proc proc rw 0 0\ntracefs /sys/kernel/tracing tracefs rw 0 0\n")
	if p, _ := findTracefs(); p != "/sys/kernel/tracing" {
		t.Errorf("tracefs: got %q", p)
	}
	write("proc /proc proc rw 0 0\nsysfs /sys sysfs rw 0 0\n")
	if p, _ := findTracefs(); p != "" {
		t.Errorf("none mounted: got %q", p)
	}
	// An old kernel with tracing only inside debugfs.
	dbg := filepath.Join(dir, "debug")
	os.MkdirAll(filepath.Join(dbg, "tracing", "events"), 0o755)
	write("debugfs " + dbg + " debugfs rw 0 0\n")
	if p, _ := findTracefs(); p != filepath.Join(dbg, "tracing") {
		t.Errorf("debugfs: got %q", p)
	}
}

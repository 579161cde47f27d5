// Package packaging tests what a distribution packager and a user get from
// the Makefile: the installed file list, man pages that render, completion
// scripts that parse and complete every flag, --help with examples and
// attach points, -V, cross builds and reproducible builds. Everything is
// generic over the tools/ directories.
package packaging

import (
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/bpftk/bpftk/pkg/testutil"
)

// tools lists the tool directories.
func tools(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(testutil.ModuleRoot(t), "tools"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatal("no tools")
	}
	return names
}

// makeIn runs make in the module root with the build and output dirs moved
// under the test's temp dir, so the work tree's bin/ and build/ are left
// alone.
func makeIn(t *testing.T, tmp string, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory",
		"BINDIR=" + filepath.Join(tmp, "bin"), "GENDIR=" + filepath.Join(tmp, "bin"), "BUILDDIR=" + filepath.Join(tmp, "build")}, args...)...)
	cmd.Dir = testutil.ModuleRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var (
	installOnce sync.Once
	installDir  string
	installErr  string
)

// installed runs `make install DESTDIR=... PREFIX=/usr` once.
func installed(t *testing.T) string {
	t.Helper()
	installOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "bpftk-install-")
		if err != nil {
			installErr = err.Error()
			return
		}
		installDir = tmp
		cmd := exec.Command("make", "--no-print-directory", "install", "PREFIX=/usr", "DESTDIR="+filepath.Join(tmp, "root"),
			"BINDIR="+filepath.Join(tmp, "bin"), "GENDIR="+filepath.Join(tmp, "bin"), "BUILDDIR="+filepath.Join(tmp, "build"))
		cmd.Dir = testutil.ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = err.Error() + "\n" + string(out)
		}
	})
	if installErr != "" {
		t.Fatalf("make install: %s", installErr)
	}
	return filepath.Join(installDir, "root")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if installDir != "" {
		os.RemoveAll(installDir)
	}
	os.Exit(code)
}

func fileList(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, "/"+rel)
		}
		return nil
	})
	sort.Strings(files)
	return files
}

// TestInstallUninstall checks the exact installed file list and modes, and
// that uninstall removes every one of them.
func TestInstallUninstall(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	makeIn(t, tmp, "install", "PREFIX=/usr", "DESTDIR="+root)
	var want []string
	for _, tool := range tools(t) {
		want = append(want, "/usr/sbin/"+tool, "/usr/share/man/man8/"+tool+".8",
			"/usr/share/bash-completion/completions/"+tool, "/usr/share/zsh/site-functions/_"+tool)
	}
	sort.Strings(want)
	got := fileList(t, root)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("installed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range got {
		st, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(f, "/usr/sbin/") {
			mode = 0o755
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", f, st.Mode().Perm(), mode)
		}
	}
	makeIn(t, tmp, "uninstall", "PREFIX=/usr", "DESTDIR="+root)
	if left := fileList(t, root); len(left) > 0 {
		t.Errorf("uninstall left %v", left)
	}
}

// helpFlags returns the long flags --help lists.
func helpFlags(help string) []string {
	_, opts, _ := strings.Cut(help, "\nOPTIONS:\n")
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(--[a-z0-9-]+)`).FindAllStringSubmatch(opts, -1) {
		flags = append(flags, m[1])
	}
	return flags
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestHelp: every tool's --help has BCC-style examples and names its attach
// points.
func TestHelp(t *testing.T) {
	root := installed(t)
	for _, tool := range tools(t) {
		help := run(t, filepath.Join(root, "usr/sbin", tool), "--help")
		_, ex, ok := strings.Cut(help, "\nEXAMPLES:\n")
		if !ok {
			t.Errorf("%s --help has no EXAMPLES section:\n%s", tool, help)
			continue
		}
		ex, _, _ = strings.Cut(ex, "\n\n")
		lines := strings.Split(ex, "\n")
		if len(lines) < 2 {
			t.Errorf("%s: fewer than two examples", tool)
		}
		for _, l := range lines {
			if !strings.HasPrefix(strings.TrimSpace(l), tool) && !strings.HasPrefix(strings.TrimSpace(l), "sudo "+tool) {
				t.Errorf("%s: example %q does not run %s", tool, l, tool)
			}
		}
		if !regexp.MustCompile(`\b(tracepoints?|tp_btf|raw_tp)\b`).MatchString(help) {
			t.Errorf("%s --help names no attach point (tracepoint, tp_btf, raw_tp)", tool)
		}
		if len(helpFlags(help)) < 4 {
			t.Errorf("%s --help lists too few options: %v", tool, helpFlags(help))
		}
	}
}

// TestVersion: -V names the tool, the version and commit from git, and the
// Go version it was built with.
func TestVersion(t *testing.T) {
	root := installed(t)
	mod := testutil.ModuleRoot(t)
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = mod
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("git %v: %v (not a git checkout)", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	version := git("describe", "--tags", "--always", "--dirty")
	commit := git("rev-parse", "--short=12", "HEAD")
	goVersion := strings.TrimSpace(run(t, "go", "env", "GOVERSION"))
	for _, tool := range tools(t) {
		for _, flag := range []string{"-V", "--version"} {
			got := strings.TrimSpace(run(t, filepath.Join(root, "usr/sbin", tool), flag))
			want := tool + " (bpftk) " + version + ", commit " + commit + ", built with " + goVersion
			if got != want {
				t.Errorf("%s %s: %q, want %q", tool, flag, got, want)
			}
		}
	}
}

// TestManPages: each page renders without groff warnings, through man(1)
// too, and documents every option --help lists.
func TestManPages(t *testing.T) {
	root := installed(t)
	for _, tool := range tools(t) {
		page := filepath.Join(root, "usr/share/man/man8", tool+".8")
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", page)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", page, err, out)
		}
		// The text a reader sees, formatting stripped.
		cmd = exec.Command("groff", "-man", "-Tutf8", "-P-cbou", page)
		cmd.Env = append(os.Environ(), "LANG=C.UTF-8")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("groff %s: %v", page, err)
		}
		text := strings.Join(strings.Fields(string(out)), " ") // justification adds blanks
		for _, want := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXAMPLES", "EXIT STATUS", tool + " - "} {
			if !strings.Contains(text, want) {
				t.Errorf("%s.8 rendered lacks %q:\n%s", tool, want, text)
			}
		}
		// And through man(1), as a user reads it (minimized container
		// images replace man with a stub that says so).
		cmd = exec.Command("man", "-l", page)
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=100", "LANG=C.UTF-8")
		mout, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("man -l %s: %v\n%s", page, err, mout)
		} else if m := strings.Join(strings.Fields(string(mout)), " "); !strings.Contains(m, "minimized") && !strings.Contains(m, tool+" - ") {
			t.Errorf("man -l %s does not show the NAME line:\n%s", page, mout)
		}
		help := run(t, filepath.Join(root, "usr/sbin", tool), "--help")
		for _, f := range helpFlags(help) {
			if !strings.Contains(text, f) {
				t.Errorf("%s.8 does not document %s", tool, f)
			}
		}
	}
}

// TestCompletion: the scripts parse, and bash completes every option.
func TestCompletion(t *testing.T) {
	root := installed(t)
	for _, tool := range tools(t) {
		bash := filepath.Join(root, "usr/share/bash-completion/completions", tool)
		zsh := filepath.Join(root, "usr/share/zsh/site-functions", "_"+tool)
		run(t, "bash", "-n", bash)
		if _, err := exec.LookPath("zsh"); err == nil {
			run(t, "zsh", "-n", zsh)
		}
		// Complete "--" as bash would after "tool --<TAB>".
		got := run(t, "bash", "-c", `source "$1"; COMP_WORDS=("$2" --); COMP_CWORD=1; `+
			`$(complete -p "$2" | sed -n 's/.*-F \([^ ]*\) .*/\1/p'); printf '%s\n' "${COMPREPLY[@]}"`, "bash", bash, tool)
		help := run(t, filepath.Join(root, "usr/sbin", tool), "--help")
		for _, f := range helpFlags(help) {
			if !strings.Contains("\n"+got, "\n"+f+"\n") {
				t.Errorf("bash completion of %s -- lacks %s (got %q)", tool, f, got)
			}
		}
		z, _ := os.ReadFile(zsh)
		for _, f := range helpFlags(help) {
			if !strings.Contains(string(z), f) {
				t.Errorf("zsh completion of %s lacks %s", tool, f)
			}
		}
	}
}

// TestCrossBuild: make GOARCH=arm64 builds every tool for arm64 (the
// committed bpf2go objects are little-endian and their Go files are built
// for arm64), and the docs still come from host binaries.
func TestCrossBuild(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("host is arm64")
	}
	tmp := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "GOARCH=arm64", "build", "docs",
		"BINDIR="+filepath.Join(tmp, "bin/arm64"), "GENDIR="+filepath.Join(tmp, "host"), "BUILDDIR="+filepath.Join(tmp, "build"))
	cmd.Dir = testutil.ModuleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make GOARCH=arm64: %v\n%s", err, out)
	}
	for _, tool := range tools(t) {
		f, err := elf.Open(filepath.Join(tmp, "bin/arm64", tool))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != elf.EM_AARCH64 {
			t.Errorf("%s: machine %v, want aarch64", tool, f.Machine)
		}
		f.Close()
		if st, err := os.Stat(filepath.Join(tmp, "build/man", tool+".8")); err != nil || st.Size() == 0 {
			t.Errorf("%s.8 not generated in a cross build: %v", tool, err)
		}
	}
}

// TestReproducible builds HEAD twice, in two clones with empty build
// caches, and compares the binaries byte for byte.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("two full builds; skipped with -short")
	}
	cmd := exec.Command("bash", "scripts/check-reproducible.sh")
	cmd.Dir = testutil.ModuleRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check-reproducible: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

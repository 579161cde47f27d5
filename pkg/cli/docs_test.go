package cli

import (
	"os/exec"
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"
)

var docTool = Tool{
	Name:  "fakesnoop",
	Usage: "trace fake things",
	Description: `Trace fake things.

Attach points: tracepoint fake:fake_event.

Examples:
   fakesnoop            # trace everything
   fakesnoop -p 181     # only PID 181
`,
	Histogram: true,
	Flags: []ucli.Flag{
		&ucli.BoolFlag{Name: "timestamp", Aliases: []string{"T"}, Usage: "include a TIME(s) column"},
		&ucli.StringFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace this `PID` only"},
		CgroupFlag,
	},
	Action: func(*Run) error { return nil },
}

func TestSplitDescription(t *testing.T) {
	prose, ex := splitDescription(docTool.Description)
	if prose != "Trace fake things.\n\nAttach points: tracepoint fake:fake_event." {
		t.Errorf("prose %q", prose)
	}
	if len(ex) != 2 || ex[1] != "fakesnoop -p 181     # only PID 181" {
		t.Errorf("examples %q", ex)
	}
	if p, ex := splitDescription("no examples here"); p != "no examples here" || ex != nil {
		t.Errorf("no examples: %q %q", p, ex)
	}
}

func setupApp(t *testing.T) *ucli.App {
	app := NewApp(docTool)
	app.Setup()
	return app
}

func TestManPage(t *testing.T) {
	man := ManPage(docTool, setupApp(t))
	for _, want := range []string{
		".TH FAKESNOOP 8", ".SH NAME", `fakesnoop \- trace fake things`, ".SH SYNOPSIS", `[\fIinterval\fR [\fIcount\fR]]`,
		".SH OPTIONS", `\fB\-\-pid\fR \fIPID\fR, \fB\-p\fR \fIPID\fR`, `\fB\-\-cgroup\fR \fIPATH\fR`,
		`\fB\-\-json\fR`, `\fB\-V\fR`, ".SH EXAMPLES", `.B fakesnoop \-p 181`, "only PID 181", ".SH EXIT STATUS",
	} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q:\n%s", want, man)
		}
	}
	// Hidden flags are for packagers, not readers.
	if strings.Contains(man, `generate\-`) {
		t.Errorf("man page shows a hidden flag:\n%s", man)
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff not installed: rendering not checked")
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(man)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}

func TestCompletion(t *testing.T) {
	app := setupApp(t)
	bash, err := Completion(docTool, app, "bash")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--pid|-p)", "--cgroup|-c)", "compgen -d", "-T", "--timestamp", "complete -F _bpftk_fakesnoop fakesnoop"} {
		if !strings.Contains(bash, want) {
			t.Errorf("bash completion lacks %q:\n%s", want, bash)
		}
	}
	if err := exec.Command("bash", "-n", "-c", bash).Run(); err != nil {
		t.Errorf("bash -n: %v", err)
	}
	zsh, err := Completion(docTool, app, "zsh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#compdef fakesnoop", `{--pid=,-p}'[trace this PID only]:PID:_pids'`, "'1::interval (seconds):'", "TIME(s)"} {
		if !strings.Contains(zsh, want) {
			t.Errorf("zsh completion lacks %q:\n%s", want, zsh)
		}
	}
	if _, err := Completion(docTool, app, "fish"); err == nil {
		t.Error("fish accepted")
	}
}

func TestHelpHasExamples(t *testing.T) {
	app := NewApp(docTool)
	var b strings.Builder
	app.Writer = &b
	if err := app.Run([]string{"fakesnoop", "--help"}); err != nil {
		t.Fatal(err)
	}
	help := b.String()
	if !strings.Contains(help, "\nEXAMPLES:\n   fakesnoop            # trace everything\n") || strings.Contains(help, "generate") {
		t.Errorf("help:\n%s", help)
	}
}

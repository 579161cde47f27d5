package cli

import (
	"errors"
	"os"

	"github.com/bpftk/bpftk/pkg/loader"
	ucli "github.com/urfave/cli/v2"
)

// planFlag makes the tool print which attach points it would use on this
// kernel (the loader's preflight and choice, nothing loaded) and exit 0.
// Hidden: bpftk-doctor runs every tool with --plan --json.
var planFlag = &ucli.BoolFlag{Name: "plan", Hidden: true, Usage: "print the attach plan for this kernel and exit without loading"}

// startPlan switches the loader to plan mode when --plan was given.
func startPlan(c *ucli.Context, asJSON bool) {
	if c.Bool(planFlag.Name) {
		loader.SetPlan(os.Stdout, asJSON)
	}
}

// planned turns the loader's "plan printed" into success.
func planned(err error) error {
	if errors.Is(err, loader.ErrPlanned) {
		return nil
	}
	return err
}

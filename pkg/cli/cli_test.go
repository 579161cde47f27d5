package cli

import (
	"errors"
	"testing"
	"time"

	ucli "github.com/urfave/cli/v2"
)

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "500ms": 500 * time.Millisecond, "2m": 2 * time.Minute} {
		if got, err := ParseSeconds(in); err != nil || got != want {
			t.Errorf("%q: got %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "-1", "abc", "0s", "-3s"} {
		if _, err := ParseSeconds(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestIntervalCount(t *testing.T) {
	iv, n, err := parseIntervalCount([]string{"2", "5"})
	if err != nil || iv != 2*time.Second || n != 5 {
		t.Errorf("2 5: %v %v %v", iv, n, err)
	}
	iv, n, err = parseIntervalCount(nil)
	if err != nil || iv != 0 || n != 0 {
		t.Errorf("none: %v %v %v", iv, n, err)
	}
	for _, args := range [][]string{{"0"}, {"-1"}, {"x"}, {"1", "0"}, {"1", "x"}, {"1", "2", "3"}} {
		if _, _, err := parseIntervalCount(args); !errors.As(err, &UsageError{}) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// exitCode runs a tool whose action records the flags it saw.
func exitCode(t *testing.T, args ...string) (int, map[string]bool) {
	seen := map[string]bool{}
	code := Execute(Tool{
		Name:      "fake",
		Histogram: true,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "timestamp", Aliases: []string{"T"}},
			&ucli.BoolFlag{Name: "failed", Aliases: []string{"x"}},
		},
		Action: func(r *Run) error {
			seen["T"], seen["x"], seen["json"] = r.Bool("timestamp"), r.Bool("failed"), r.JSON
			if r.Interval == time.Second {
				return errors.New("runtime failure")
			}
			return nil
		},
	}, append([]string{"fake"}, args...))
	return code, seen
}

func TestExitCodesAndShortFlags(t *testing.T) {
	code, seen := exitCode(t, "-Tx", "--json")
	if code != 0 || !seen["T"] || !seen["x"] || !seen["json"] {
		t.Errorf("-Tx --json: code %d, seen %v", code, seen)
	}
	if code, _ := exitCode(t, "-z"); code != ExitUsage {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code, _ := exitCode(t, "1", "2", "3"); code != ExitUsage {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
	if code, _ := exitCode(t, "1"); code != ExitFailure {
		t.Errorf("runtime failure: exit %d, want 1", code)
	}
	if code, _ := exitCode(t, "--help"); code != 0 {
		t.Errorf("--help: exit %d", code)
	}
}

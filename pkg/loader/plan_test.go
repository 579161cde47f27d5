package loader_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/bpftk/bpftk/pkg/loader"
	"github.com/bpftk/bpftk/pkg/testutil"
)

// TestPlan: in plan mode Load prints the alternative each hook gets on this
// kernel and loads nothing (the spec is not even looked at).
func TestPlan(t *testing.T) {
	testutil.RequireBPF(t)
	var buf bytes.Buffer
	loader.SetPlan(&buf, true)
	defer loader.SetPlan(nil, false)
	coll, err := loader.Load(loader.Options{
		Tool: "fake",
		Hooks: []loader.Hook{
			{Choices: []loader.Choice{
				{Program: "btf", Kind: loader.TPBTF, Event: "sched_switch"},
				{Program: "raw", Kind: loader.RawTP, Event: "sched_switch"},
			}},
			{Choices: []loader.Choice{
				{Program: "raw2", Kind: loader.RawTP, Event: "sched_wakeup"},
			}},
			{Optional: true, Choices: []loader.Choice{
				{Program: "none", Kind: loader.RawTP, Event: "no_such_event_bpftk"},
			}},
		},
	})
	if coll != nil || !errors.Is(err, loader.ErrPlanned) {
		t.Fatalf("Load in plan mode: %v, %v", coll, err)
	}
	var pl loader.Plan
	if err := json.Unmarshal(buf.Bytes(), &pl); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if !pl.Runnable || pl.Privileges != "ok" || len(pl.Hooks) != 3 {
		t.Fatalf("plan %+v", pl)
	}
	h := pl.Hooks
	if h[0].Chosen != "tp_btf/sched_switch" || h[0].Kind != "tp_btf" || h[0].Program != "btf" {
		t.Errorf("hook 0: %+v (the kernel has BTF and tp_btf)", h[0])
	}
	if h[1].Chosen != "raw_tp/sched_wakeup" || h[1].Program != "raw2" {
		t.Errorf("hook 1: %+v", h[1])
	}
	if !h[2].Skipped || h[2].Chosen != "" {
		t.Errorf("hook 2: %+v, want skipped", h[2])
	}
}

// TestPlanJSON: the hand-built JSON of a plan is exactly what encoding/json
// makes of it with the json tags, omitempty included (bpftk-doctor decodes
// it with them).
func TestPlanJSON(t *testing.T) {
	for _, pl := range []loader.Plan{
		{Tool: "t", Hooks: []loader.PlanHook{}},
		{Tool: "x\"y", Runnable: true, Privileges: "ok", Error: "e", Hooks: []loader.PlanHook{
			{Choices: []string{"tp_btf/a", "raw_tp/a"}, Chosen: "raw_tp/a", Kind: "raw_tp", Program: "p"},
			{Choices: []string{}, Optional: true, Skipped: true, Unknown: "u", Error: "no"},
		}},
	} {
		want, err := json.Marshal(pl)
		if err != nil {
			t.Fatal(err)
		}
		if got := pl.AppendJSON(nil); string(got) != string(want)+"\n" {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

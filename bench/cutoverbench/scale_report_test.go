package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// The hub's serial boot of its modules (wait-modules) is reported apart:
// the cutover without it is judged against the same limit.
func TestScaleReportSetsWaitModulesApart(t *testing.T) {
	ms := time.Millisecond
	evs := []Event{
		{Event: "step-start", Action: reconcile.StartUnit, At: 100 * ms},
		{Event: "step-done", Action: reconcile.StartUnit, At: 200 * ms},
		{Event: "step-start", Action: reconcile.WaitModules, At: 200 * ms},
		{Event: "step-done", Action: reconcile.WaitModules, At: 30200 * ms},
	}
	r := scaleReport{ScaleResult: ScaleResult{
		Cutover10:            []time.Duration{700 * ms},
		Cutover10WaitModules: []time.Duration{200 * ms},
		Cutover500: []ScaleCutover{{
			Modules: 500, StopProcsGone: 1000 * ms, Start: 100 * ms,
			Cutover: 31500 * ms, Events: evs, ModulesUp: 412,
		}},
	}}
	var out bytes.Buffer
	renderScale(&out, r)
	s := out.String()
	for _, want := range []string{
		"| 30000.0 ms (412 of 500) | 1500.0 ms | 400.0 ms |",
		"700.0 ms (200.0 ms)",
		"Without `wait-modules`",
		"median overhead 400.0 ms (min 400.0 ms, max 400.0 ms): **met**",
		"(1500.0 ms − 500.0 ms) ÷ 490 = 2.04 ms: **missed**",
		"box A's 500 modules were all gone 1000.0 ms after SIGTERM (median), about 2.00 ms a module",
		"the reconciler's own share is the rest, about 0.04 ms per extra module",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

// The -json file is one JSON object per line, a cutover's events summarised
// into its parts.
func TestScaleLinesAreOneObjectPerLine(t *testing.T) {
	ms := time.Millisecond
	r := scaleReport{ScaleResult: ScaleResult{
		NoopSystem: []Pair{{Ours: 50 * ms, Tool: 20 * ms, OursRSS: 14000}},
		Cutover10:  []time.Duration{700 * ms}, Cutover10WaitModules: []time.Duration{200 * ms},
		Cutover500: []ScaleCutover{{Modules: 500, Cutover: 31500 * ms, Observe: []Pair{{Ours: ms, Tool: ms}},
			Events: []Event{
				{Event: "step-start", Action: reconcile.WaitModules, At: 200 * ms},
				{Event: "step-done", Action: reconcile.WaitModules, At: 30200 * ms},
			}}},
	}, Systemd: "252"}
	var b bytes.Buffer
	writeScaleLines(&b, r)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want machine, noop, cutover-10, observe, cutover-500:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if _, ok := m["events"]; ok {
			t.Errorf("line keeps the raw events: %s", l)
		}
	}
	if !strings.Contains(lines[4], `"record":"cutover-500"`) || !strings.Contains(lines[4], `"wait-modules":30000000000`) {
		t.Errorf("cutover line %s", lines[4])
	}
}

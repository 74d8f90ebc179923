package main

import (
	"bytes"
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
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

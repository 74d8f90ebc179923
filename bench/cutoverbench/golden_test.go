package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parachute/reconcile/internal/goldenfile"
	"github.com/parachute/reconcile/reconcile"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the renderers")

// golden compares got with testdata/name (or rewrites it with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, *update)
}

// decode reads testdata/name as JSON into v.
func decode(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// goldenRuns are cutover runs for render: testdata/runs.json is nine real
// runs, frozen from an earlier bench/REPORT.runs.json; the others reach the branches
// the real runs do not (a missed target, no wait-healthy, failed steps,
// pidfiles left behind, an action phaseOrder does not list).
func goldenRuns(t *testing.T) map[string][]Run {
	var real []Run
	decode(t, "runs.json", &real)
	ms := time.Millisecond
	odd := func(cutover time.Duration, left ...string) Run {
		return Run{
			StopPortsFree: 30 * ms, StopProcsGone: 45 * ms, SlowestPort: 1940,
			StartDBus: 70 * ms, StartDBusJob: 40 * ms, StartSystemctl: 65 * ms, StartSystemctlExit: 50 * ms,
			Cutover: cutover, Applied: 4, Noop: []time.Duration{30 * ms, 50 * ms}, Processes: 17,
			Plan: 20 * ms, Observe: []time.Duration{9 * ms}, Reload: []time.Duration{3 * ms, 5 * ms},
			LeftPidfiles: left,
			Events: []Event{
				{Event: "step-start", N: 1, Action: reconcile.Stop, Target: "detached hub", At: 10 * ms},
				{Event: "step-failed", N: 1, Action: reconcile.Stop, Target: "detached hub", Elapsed: "12ms", Error: "stop detached hub (pid 7): gone", At: 22 * ms},
				{Event: "step-start", N: 2, Action: reconcile.StartUnit, Target: "hub unit", At: 25 * ms},
				{Event: "step-done", N: 2, Action: reconcile.StartUnit, Target: "hub unit", Elapsed: "60ms", At: 85 * ms},
				{Event: "step-start", N: 3, Action: reconcile.WaitModules, Target: "modules", At: 86 * ms},
				{Event: "step-done", N: 3, Action: reconcile.WaitModules, Target: "modules", Elapsed: "bogus", At: 186 * ms},
			},
		}
	}
	// The fixture of TestRenderVerdictAndOverhead, met and missed.
	simple := func(cutover time.Duration) []Run {
		r := simpleRun(cutover)
		return []Run{r, r, r, r, r}
	}
	return map[string][]Run{
		"real":   real,
		"odd":    {odd(300*ms, "hub/run/hub.pid"), odd(240 * ms), odd(260*ms, "vault/run/vault.pid", "hub/run/hub.pid"), odd(900 * ms)},
		"met":    simple(100 * ms),
		"missed": simple(200 * ms),
	}
}

// goldenScales are inputs for renderScale: testdata/scale.json is
// bench/REPORT.scale.jsonl decoded back into a scaleReport (each cutover's
// parts as one step each); the others reach the branches it does not.
func goldenScales(t *testing.T) map[string]scaleReport {
	var real scaleReport
	decode(t, "scale.json", &real)
	ms := time.Millisecond
	pairs := func(quiet bool, ours ...time.Duration) []Pair {
		var ps []Pair
		for i, o := range ours {
			p := Pair{Ours: o, Tool: 20*ms + time.Duration(i)*ms, OursRSS: 9000 + int64(i)*700}
			if quiet && i != 1 {
				p.Quiet, p.Text = o-5*ms, o-3*ms
			}
			ps = append(ps, p)
		}
		return ps
	}
	evs := func(portFree, waitModules time.Duration) []Event {
		return []Event{
			{Event: "step-start", Action: reconcile.WaitPortFree, At: 100 * ms},
			{Event: "step-done", Action: reconcile.WaitPortFree, At: 100*ms + portFree},
			{Event: "step-start", Action: reconcile.WaitModules, At: 200 * ms},
			{Event: "step-done", Action: reconcile.WaitModules, At: 200*ms + waitModules},
		}
	}
	full := scaleReport{
		ScaleResult: ScaleResult{
			Unrelated:  2000,
			NoopSystem: pairs(true, 25*ms, 28*ms, 31*ms),
			Observe100: pairs(false, 30*ms, 44*ms),
			Cutover10:  []time.Duration{700 * ms},
			Cutover500: []ScaleCutover{
				{Modules: 500, StopProcsGone: 800 * ms, StopPortsFree: 600 * ms, Start: 90 * ms, StartModules: 5 * time.Second,
					Cutover: 2 * time.Second, Events: evs(30*ms, 900*ms), Applied: 1508, ModulesUp: 500,
					PlanRSS: 19000, CutoverRSS: 21000, AbsentRSS: 18000, Observe: pairs(false, 400*ms), Processes: 2506},
				{Modules: 500, StopProcsGone: 850 * ms, StopPortsFree: 650 * ms, Start: 95 * ms,
					Cutover: 1900 * ms, Events: evs(20*ms, 800*ms), Applied: 1508, ModulesUp: 499,
					PlanRSS: 19500, CutoverRSS: 20500, AbsentRSS: 18500, Observe: pairs(false, 380*ms, 390*ms), Processes: 2507},
			},
			ProcessesNoop: 11,
		},
		UserResult: UserResult{NoopUser: pairs(true, 40*ms, 45*ms)},
		Systemd:    "systemd 257", Kernel: "6.1",
	}
	noopOnly := full
	noopOnly.Observe100, noopOnly.Cutover500, noopOnly.NoopUser = nil, nil, pairs(false, 40*ms)
	small := full
	small.Cutover500 = []ScaleCutover{{Modules: 10, StopProcsGone: 80 * ms, Start: 60 * ms, Cutover: 3 * time.Second, Events: evs(ms, 0)}}
	small.Cutover10, small.NoopUser = nil, nil
	observeOnly := full
	observeOnly.Cutover500 = nil
	return map[string]scaleReport{
		"real":         real,
		"full":         full,
		"noop-only":    noopOnly,
		"small":        small,
		"observe-only": observeOnly,
		// The fixture of TestScaleReportSetsWaitModulesApart.
		"wait-modules": {ScaleResult: ScaleResult{
			Cutover10:            []time.Duration{700 * ms},
			Cutover10WaitModules: []time.Duration{200 * ms},
			Cutover500: []ScaleCutover{{
				Modules: 500, StopProcsGone: 1000 * ms, Start: 100 * ms, Cutover: 31500 * ms, ModulesUp: 412,
				Events: []Event{
					{Event: "step-start", Action: reconcile.StartUnit, At: 100 * ms},
					{Event: "step-done", Action: reconcile.StartUnit, At: 200 * ms},
					{Event: "step-start", Action: reconcile.WaitModules, At: 200 * ms},
					{Event: "step-done", Action: reconcile.WaitModules, At: 30200 * ms},
				},
			}},
		}},
	}
}

// TestRenderGolden pins the text of the cutover report (section 2).
func TestRenderGolden(t *testing.T) {
	for name, runs := range goldenRuns(t) {
		t.Run(name, func(t *testing.T) {
			golden(t, "report-"+name+".golden", renderTo(func(w io.Writer) { render(w, runs) }))
		})
	}
}

// TestRenderScaleGolden pins the text of the scale report (section 3).
func TestRenderScaleGolden(t *testing.T) {
	for name, r := range goldenScales(t) {
		t.Run(name, func(t *testing.T) {
			golden(t, "scale-"+name+".golden", renderTo(func(w io.Writer) { renderScale(w, r) }))
		})
	}
}

// renderTo returns what f writes.
func renderTo(f func(io.Writer)) []byte {
	var b bytes.Buffer
	f(&b)
	return b.Bytes()
}

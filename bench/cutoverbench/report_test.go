package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		in            []time.Duration
		med, min, max time.Duration
	}{
		{[]time.Duration{5 * ms}, 5 * ms, 5 * ms, 5 * ms},
		{[]time.Duration{9 * ms, 1 * ms, 4 * ms}, 4 * ms, 1 * ms, 9 * ms},
		{[]time.Duration{8 * ms, 2 * ms, 4 * ms, 6 * ms}, 5 * ms, 2 * ms, 8 * ms},
	} {
		orig := append([]time.Duration(nil), tc.in...)
		s := summarize(tc.in)
		if s.med != tc.med || s.min != tc.min || s.max != tc.max || s.n != len(tc.in) {
			t.Errorf("summarize(%v) = %+v, want med %v min %v max %v", orig, s, tc.med, tc.min, tc.max)
		}
		for i := range orig {
			if tc.in[i] != orig[i] {
				t.Fatalf("summarize reordered its input: %v", tc.in)
			}
		}
	}
	if s := summarize(nil); s != (stats{}) {
		t.Errorf("summarize(nil) = %+v", s)
	}
}

// ev is an event at a time in milliseconds.
func ev(kind string, n int, a reconcile.Action, atMs float64, elapsed string) Event {
	return Event{Event: kind, N: n, Action: a, At: time.Duration(atMs * float64(time.Millisecond)), Elapsed: elapsed}
}

func TestPhasesAttributeEveryInterval(t *testing.T) {
	events := []Event{
		ev("step-start", 1, reconcile.WriteUnit, 30, ""),
		ev("step-done", 1, reconcile.WriteUnit, 110, "80ms"),
		// The batched stops: all signalled, then waited for together.
		ev("step-start", 2, reconcile.Stop, 111, ""),
		ev("step-start", 3, reconcile.Stop, 113, ""),
		ev("step-done", 3, reconcile.Stop, 121, "10ms"),
		ev("step-done", 2, reconcile.Stop, 131, "20ms"),
		ev("step-start", 4, reconcile.WaitPortFree, 132, ""),
		ev("step-done", 4, reconcile.WaitPortFree, 133, "1ms"),
		ev("step-start", 5, reconcile.StartUnit, 134, ""),
		ev("step-done", 5, reconcile.StartUnit, 234, "100ms"),
		ev("step-start", 6, reconcile.WaitHealthy, 235, ""),
		ev("step-failed", 6, reconcile.WaitHealthy, 1235, "1s"),
	}
	wall := 1275 * time.Millisecond
	parts, steps, order := phases(events, wall)
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	want := map[string]time.Duration{
		phaseStartup:                   ms(30),
		string(reconcile.WriteUnit):    ms(80),
		phaseBetween:                   ms(1 + 1 + 1 + 1),
		string(reconcile.Stop):         ms(2 + 8 + 10),
		string(reconcile.WaitPortFree): ms(1),
		string(reconcile.StartUnit):    ms(100),
		string(reconcile.WaitHealthy):  ms(1000),
		phaseVerify:                    ms(40),
	}
	var sum time.Duration
	for k, d := range parts {
		sum += d
		if want[k] != d {
			t.Errorf("part %s = %v, want %v", k, d, want[k])
		}
	}
	if len(parts) != len(want) {
		t.Errorf("parts %v, want the keys of %v", parts, want)
	}
	if sum != wall {
		t.Errorf("parts add up to %v, want the wall time %v", sum, wall)
	}
	if steps[string(reconcile.Stop)] != 2 || steps[string(reconcile.WaitHealthy)] != 1 {
		t.Errorf("steps %v", steps)
	}
	if order[0] != phaseStartup || order[len(order)-1] != phaseVerify {
		t.Errorf("order %v", order)
	}

	// No events at all (a no-op run): everything is start-up.
	parts, _, _ = phases(nil, ms(50))
	if len(parts) != 1 || parts[phaseStartup] != ms(50) {
		t.Errorf("no events: %v", parts)
	}
}

func TestReportedTakesTheBatchedStopsOnce(t *testing.T) {
	got := reported([]Event{
		ev("step-done", 2, reconcile.Stop, 0, "9ms"),
		ev("step-done", 3, reconcile.Stop, 0, "20ms"),
		ev("step-done", 4, reconcile.WaitPortFree, 0, "1ms"),
		ev("step-done", 5, reconcile.WaitPortFree, 0, "2ms"),
		ev("step-failed", 6, reconcile.WaitHealthy, 0, "30s"),
	})
	if got[string(reconcile.Stop)] != 20*time.Millisecond || got[string(reconcile.WaitPortFree)] != 3*time.Millisecond {
		t.Errorf("reported = %v", got)
	}
	if _, ok := got[string(reconcile.WaitHealthy)]; ok {
		t.Errorf("a failed step counted as done: %v", got)
	}
}

func TestPortFree(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "0.0.0.0:0"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v (skipped)", addr, err)
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		if portFree(port) {
			t.Errorf("port %d held on %s reported free", port, addr)
		}
		l.Close()
		if !portFree(port) {
			t.Errorf("port %d reported held after its listener closed", port)
		}
	}
}

// simpleRun is a run of two steps (write-unit 50 ms, wait-healthy 30 ms)
// against a limit of 25 ms: the fixture of the verdict tests.
func simpleRun(cutover time.Duration) Run {
	ms := time.Millisecond
	return Run{
		StopPortsFree: 5 * ms, StopProcsGone: 9 * ms,
		StartDBus: 20 * ms, StartSystemctl: 25 * ms,
		Cutover: cutover, Noop: []time.Duration{40 * ms},
		Events: []Event{
			ev("step-start", 1, reconcile.WriteUnit, 10, ""),
			ev("step-done", 1, reconcile.WriteUnit, 60, "50ms"),
			ev("step-start", 2, reconcile.WaitHealthy, 61, ""),
			ev("step-done", 2, reconcile.WaitHealthy, 91, "30ms"),
		},
	}
}

func TestRenderVerdictAndOverhead(t *testing.T) {
	ms := time.Millisecond
	run := simpleRun
	for _, tc := range []struct {
		cutover time.Duration
		verdict string
		over    string
		rest    string
	}{
		{100 * ms, "**met**", "75.0 ms", "the overhead would be 45.0 ms (median; min 45.0 ms, max 45.0 ms), within the target"},
		{200 * ms, "**missed**", "175.0 ms", "the overhead would be 145.0 ms (median; min 145.0 ms, max 145.0 ms), still over the target"},
	} {
		var b bytes.Buffer
		render(&b, []Run{run(tc.cutover), run(tc.cutover), run(tc.cutover), run(tc.cutover), run(tc.cutover)})
		out := b.String()
		if !strings.Contains(out, "Median overhead "+tc.over) || !strings.Contains(out, tc.verdict) {
			t.Errorf("cutover %v: want overhead %s and %s in\n%s", tc.cutover, tc.over, tc.verdict, out)
		}
		if !strings.Contains(out, "Without its wait-healthy step (30.0 ms median), "+tc.rest) {
			t.Errorf("cutover %v: want %q in\n%s", tc.cutover, tc.rest, out)
		}
		// limit = 5 ms stop + 20 ms (the faster start).
		if !strings.Contains(out, "| **limit** = stop + start | 25.0 ms |") {
			t.Errorf("limit row missing or wrong:\n%s", out)
		}
	}
}

func TestOverheadSourcesAddUpToTheOverhead(t *testing.T) {
	r := Run{
		StopPortsFree: 4 * time.Millisecond, StartDBus: 20 * time.Millisecond, StartDBusJob: 12 * time.Millisecond,
		StartSystemctl: 30 * time.Millisecond, Cutover: 400 * time.Millisecond,
		Events: []Event{
			ev("step-start", 1, reconcile.WriteUnit, 40, ""),
			ev("step-done", 1, reconcile.WriteUnit, 160, "120ms"),
			ev("step-start", 2, reconcile.Stop, 161, ""),
			ev("step-done", 2, reconcile.Stop, 180, "19ms"),
			ev("step-start", 3, reconcile.RemovePidfile, 181, ""),
			ev("step-done", 3, reconcile.RemovePidfile, 182, "1ms"),
			ev("step-start", 4, reconcile.WaitPortFree, 183, ""),
			ev("step-done", 4, reconcile.WaitPortFree, 184, "1ms"),
			ev("step-start", 5, reconcile.StartUnit, 185, ""),
			ev("step-done", 5, reconcile.StartUnit, 335, "150ms"),
			ev("step-start", 6, reconcile.WaitHealthy, 336, ""),
			ev("step-done", 6, reconcile.WaitHealthy, 356, "20ms"),
			// The hub's boot of its modules, which no limit includes, and
			// an action the breakdown has no row of its own for.
			ev("step-start", 7, reconcile.WaitModules, 357, ""),
			ev("step-done", 7, reconcile.WaitModules, 377, "20ms"),
			ev("step-start", 8, "some-new-action", 378, ""),
			ev("step-done", 8, "some-new-action", 380, "2ms"),
		},
	}
	var sum time.Duration
	for _, src := range overheadSources {
		sum += src.of(r)
	}
	if want := r.overhead(); sum != want || want != 376*time.Millisecond {
		t.Fatalf("sources add up to %v, overhead %v (want 376ms)", sum, want)
	}
	if got := r.overheadWithoutModules(); got != 356*time.Millisecond {
		t.Errorf("overhead without wait-modules = %v, want 356ms", got)
	}
}

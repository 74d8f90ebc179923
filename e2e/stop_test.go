package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/reconcile"
)

// sigtermModule is a module binary for the layout tool: a script that runs
// the stand-in module under the same argv[0] (so attribution still sees
// parachute-<short>) and, for vault and surface started with
// STANDIN_IGNORE_SIGTERM set, adds --ignore-sigterm. Only the detached
// modules the layout tool starts have that variable; the ones the hub unit
// starts later do not, so stopping the unit stays quick.
const sigtermModule = `#!/bin/bash
if [ -n "${STANDIN_IGNORE_SIGTERM:-}" ]; then
	case "${0##*/}" in
	parachute-vault|parachute-surface) set -- "$@" --ignore-sigterm ;;
	esac
fi
exec -a "$0" %s "$@"
`

// TestSigtermIgnored lays out a detached-era box in which vault and surface
// ignore SIGTERM, with a 2 s stop grace period: the cutover must SIGKILL
// them once that period has passed, all stops sharing it (one grace period
// in total, not one per module), and converge.
func TestSigtermIgnored(t *testing.T) {
	t.Parallel()
	const grace = 2 * time.Second
	b := newBox(t)
	script := filepath.Join(b.dir, "sigterm-module")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(sigtermModule, b.bins.standinModule)), 0o755); err != nil {
		t.Fatal(err)
	}
	b.layout("timeouts: {stop: 2s, portFree: 10s, healthy: 3s}\n", "--module-binary", script, "--wrapper", "scribe")
	out, err := b.run(append([]string{"env", "STANDIN_IGNORE_SIGTERM=1"}, b.layoutArgs("--module-binary", script, "--wrapper", "scribe", "--start")...)...)
	if err != nil {
		t.Fatalf("layout --start: %v\n%s", err, out)
	}
	s := b.observe()
	old := boxPids(s)
	data := b.dataFiles()
	info := b.procs(old...)
	ignoring := 0
	for _, pid := range old {
		if strings.Contains(info[pid].Argv, "--ignore-sigterm") {
			ignoring++
		}
	}
	if ignoring != 2 {
		t.Fatalf("%d detached processes ignore SIGTERM, want 2 (vault, surface): %+v", ignoring, info)
	}

	t0 := time.Now()
	r := b.converge("supervised")
	took := time.Since(t0)
	var slowest time.Duration
	for _, ev := range r.events {
		if ev["action"] != string(reconcile.Stop) || ev["event"] != "step-done" {
			continue
		}
		d, err := time.ParseDuration(ev["elapsed"].(string))
		if err != nil {
			t.Fatalf("elapsed %v: %v", ev["elapsed"], err)
		}
		t.Logf("stop %v done after %s", ev["target"], d)
		slowest = max(slowest, d)
		target := ev["target"].(string)
		ignores := target == "detached module vault" || target == "detached module surface"
		switch {
		case ignores && (d < grace || d > grace+1500*time.Millisecond):
			t.Errorf("%s ignores SIGTERM and was gone after %s; want SIGKILL at the %s grace period", target, d, grace)
		case !ignores && d >= grace:
			t.Errorf("%s honours SIGTERM but took %s", target, d)
		}
	}
	if slowest < grace || slowest >= 2*grace {
		t.Errorf("the stops took %s together; want one grace period (%s), not one per module", slowest, grace)
	}
	t.Logf("the whole cutover took %s (stops %s)", took, slowest)
	b.checkSupervised(old)
	b.sameData(data)
	b.noTwoHubs(0)
}

// TestSetsidGrandchild lays out surface through a wrapper whose child calls
// setsid: the process on surface's port is neither the pidfile's pid nor
// in its group. The cutover must still stop it and converge.
func TestSetsidGrandchild(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	sum := b.layout(fastTimeouts, "--start", "--wrapper", "scribe", "--setsid-child", "surface")
	s := b.observe()
	surface := moduleOf(t, sum, "surface")
	var holder int
	for _, p := range s.Ports {
		if p.Port == surface.Port {
			for _, l := range p.Listeners {
				holder = l.Pids[0]
			}
		}
	}
	if holder == 0 || holder == surface.Pid {
		t.Fatalf("surface's port holder %d, wrapper %d: want a grandchild that is not the wrapper", holder, surface.Pid)
	}
	old := boxPids(s)
	data := b.dataFiles()
	r := b.converge("supervised")
	stopped := false
	for _, st := range r.doc.Applied {
		if st.Action == reconcile.Stop && st.Pid == holder {
			stopped = true
			t.Logf("stop %d: %s", st.Pid, st.Reason)
		}
	}
	if !stopped {
		t.Errorf("no stop step for the setsid grandchild %d: %v", holder, stepNames(r.doc.Applied))
	}
	b.checkSupervised(append(old, surface.Pid))
	b.sameData(data)
	b.noTwoHubs(0)
}

// TestSigtermToTheReconciler stops a cutover half-way: vault and surface
// ignore SIGTERM under a 20 s stop grace period, and the reconciler gets
// SIGTERM a second into the wait. It must not die by the signal nor wait
// the grace period out: the run's context ends the wait, it exits 1
// (failed, safe to retry) with its document, and the next run converges.
func TestSigtermToTheReconciler(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	script := filepath.Join(b.dir, "sigterm-module")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(sigtermModule, b.bins.standinModule)), 0o755); err != nil {
		t.Fatal(err)
	}
	b.layout("timeouts: {stop: 20s, portFree: 10s, healthy: 10s}\n", "--module-binary", script, "--wrapper", "scribe")
	if out, err := b.run(append([]string{"env", "STANDIN_IGNORE_SIGTERM=1"}, b.layoutArgs("--module-binary", script, "--wrapper", "scribe", "--start")...)...); err != nil {
		t.Fatalf("layout --start: %v\n%s", err, out)
	}
	old := boxPids(b.observe())
	// Inside the sandbox: start the cutover, SIGTERM it after a second,
	// report how it ended and how long it took.
	sh := `start=$(date +%s%N)
"$1" reconcile --desired supervised --spec "$2" --output json >"$3" 2>&1 &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
code=$?
echo "exit=$code took_ms=$(( ($(date +%s%N) - start) / 1000000 ))"`
	out, err := b.run("sh", "-c", sh, "sh", b.bins.parachute, b.spec, filepath.Join(b.dir, "cut.out"))
	if err != nil {
		t.Fatalf("the interrupted cutover: %v\n%s", err, out)
	}
	run, _ := os.ReadFile(filepath.Join(b.dir, "cut.out"))
	var code, took int
	_, tail, _ := strings.Cut(out, "exit=") // sh may say "Terminated" first
	if _, err := fmt.Sscanf(tail, "%d took_ms=%d", &code, &took); err != nil {
		t.Fatalf("no exit line in %q: %v", out, err)
	}
	t.Logf("SIGTERM a second in: exit %d after %d ms\n%s", code, took, run)
	switch {
	case code == 128+15:
		t.Fatalf("the reconciler died by SIGTERM in the middle of a stop, instead of ending its run")
	case code != 1:
		t.Errorf("exit %d, want 1 (failed, safe to retry)", code)
	}
	if took > 10000 {
		t.Errorf("the run took %d ms after SIGTERM; the stop's 20 s grace must not be waited out", took)
	}
	if !strings.Contains(string(run), "context canceled") {
		t.Errorf("the run's output does not say it was cancelled:\n%s", run)
	}
	b.converge("supervised")
	b.checkSupervised(old)
}

package reconcile_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

func actions(p reconcile.Plan) []string {
	var out []string
	for _, st := range p.Steps {
		out = append(out, string(st.Action))
	}
	return out
}

func indexOf(p reconcile.Plan, a reconcile.Action) (first, last int) {
	first, last = -1, -1
	for i, st := range p.Steps {
		if st.Action == a {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

func TestDetachedEraToSupervisedOrder(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	pids := detachedEra(w)
	p := reconcile.Compute(desired(w, spec.Supervised), w.Snapshot())
	if p.Outcome != reconcile.OutcomeChanges {
		t.Fatalf("outcome = %s, want changes; blockers %+v", p.Outcome, p.Blockers)
	}
	fw, _ := indexOf(p, reconcile.WriteUnit)
	fs, ls := indexOf(p, reconcile.Stop)
	fp, lp := indexOf(p, reconcile.WaitPortFree)
	su, _ := indexOf(p, reconcile.StartUnit)
	wh, _ := indexOf(p, reconcile.WaitHealthy)
	wm, _ := indexOf(p, reconcile.WaitModules)
	if !(fw == 0 && fw < fs && ls < fp && lp < su && su < wh && wh+1 == wm && wm == len(p.Steps)-1) {
		t.Fatalf("order wrong: %v", actions(p))
	}
	stopped := map[int]bool{}
	for _, st := range p.Steps {
		if st.Action == reconcile.Stop {
			stopped[st.Pid] = true
			if st.StartTicks == 0 {
				t.Errorf("stop of pid %d carries no start time to check", st.Pid)
			}
		}
	}
	for _, name := range []string{"hub", "vault", "scribe", "surface"} {
		if !stopped[pids[name]] {
			t.Errorf("detached %s (pid %d) has no stop step: %v", name, pids[name], actions(p))
		}
	}
	// The wrapper leads its group: it is signalled as a group, which
	// reaches the child that holds :1943; the child gets no step of its own.
	for _, st := range p.Steps {
		if st.Action == reconcile.Stop && st.Pid == pids["scribe"] && st.Pgid != pids["scribe"] {
			t.Errorf("wrapper stop does not signal its group: %+v", st)
		}
		if st.Action == reconcile.Stop && st.Pid == pids["scribe-child"] {
			t.Errorf("wrapper child stopped separately although its group is signalled")
		}
		// The old hub shares the CLI's group: never signal that group.
		if st.Action == reconcile.Stop && st.Pid == pids["hub"] && st.Pgid != 0 {
			t.Errorf("hub stop signals group %d, which is not its own", st.Pgid)
		}
	}
	// Every declared port is waited for before the start.
	waited := map[int]bool{}
	for _, st := range p.Steps[:su] {
		if st.Action == reconcile.WaitPortFree {
			waited[st.Port] = true
		}
	}
	for _, port := range []int{1939, 1940, 1943, 1946} {
		if !waited[port] {
			t.Errorf("no wait-port-free for :%d before start-unit", port)
		}
	}
	if w := p.Steps[fw]; !strings.Contains(w.Content, "ExecStart=") || w.Path == "" {
		t.Errorf("write-unit lacks content or path: %+v", w)
	}
}

func TestSquatterBlocksAndStopsNothing(t *testing.T) {
	for _, port := range []int{1939, 1943} {
		w := actuatetest.New(home, 1939, threeModules)
		detachedEra(w)
		// Free the port, then put a stranger on it.
		snap := w.Snapshot()
		for _, l := range snap.Ports {
			if l.Port == port && len(l.Listeners) > 0 {
				pid := l.Listeners[0].Pids[0]
				w.Signal(pid, 0, 9)
				if p, ok := w.Proc(pid); ok {
					t.Fatalf("setup: pid %d still alive: %+v", pid, p)
				}
			}
		}
		stranger := w.Spawn(actuatetest.Proc{Argv: []string{"python3", "-m", "http.server", "1943"}, Ports: []int{port}})
		p := reconcile.Compute(desired(w, spec.Supervised), w.Snapshot())
		if p.Outcome != reconcile.OutcomeBlocked {
			t.Fatalf(":%d: outcome %s, want blocked", port, p.Outcome)
		}
		for _, st := range p.Steps {
			if st.Action != reconcile.WriteUnit {
				t.Errorf(":%d: blocked plan has step %s %s", port, st.Action, st.Target)
			}
		}
		found := false
		for _, b := range p.Blockers {
			if b.Pid == stranger && b.Port == port && len(b.Argv) > 0 && b.Argv[0] == "python3" && b.Fix != "" {
				found = true
			}
		}
		if !found {
			t.Errorf(":%d: no blocker naming pid %d with argv: %+v", port, stranger, p.Blockers)
		}
	}
}

func TestReusedPidIsNeverStopped(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	// The pidfile was written, then its process died and the pid went to
	// a process that is not ours.
	stranger := w.Spawn(actuatetest.Proc{Argv: []string{"sleep", "1000"}})
	w.WriteFileNow(filepath.Join(home, "vault/run/vault.pid"), "")
	w.WriteFileNow(filepath.Join(home, "vault/run/vault.pid"), strconv.Itoa(stranger)+"\n")
	p := reconcile.Compute(desired(w, spec.Supervised), w.Snapshot())
	for _, st := range p.Steps {
		if st.Action == reconcile.Stop && st.Pid == stranger {
			t.Fatalf("plan stops reused pid %d: %+v", stranger, st)
		}
	}
	var removed bool
	for _, st := range p.Steps {
		if st.Action == reconcile.RemovePidfile && strings.HasSuffix(st.Path, "vault.pid") {
			removed = true
		}
	}
	if !removed {
		t.Errorf("stale pidfile not removed: %v", actions(p))
	}
}

func TestConvergedIsEmptyForEveryModel(t *testing.T) {
	for _, m := range []spec.Model{spec.Supervised, spec.Detached, spec.Absent} {
		w := actuatetest.New(home, 1939, threeModules)
		detachedEra(w)
		d := desired(w, m)
		p, err := converge(w, d, 3)
		if err != nil {
			t.Fatalf("%s: apply: %v", m, err)
		}
		if !p.Converged || len(p.Steps) != 0 {
			t.Fatalf("%s: not converged after 3 runs: %s %v %+v", m, p.Outcome, actions(p), p.Blockers)
		}
		if len(w.Violations) > 0 {
			t.Errorf("%s: violations: %v", m, w.Violations)
		}
		again := reconcile.Compute(d, w.Snapshot())
		if !again.Converged || len(again.Steps) != 0 {
			t.Errorf("%s: second plan not empty: %v", m, actions(again))
		}
	}
}

func TestSupervisedConvergesInOneRun(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	pids := detachedEra(w)
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	if _, err := actuator(w).Apply(t.Context(), p); err != nil {
		t.Fatalf("apply: %v", err)
	}
	after := reconcile.Compute(d, w.Snapshot())
	if !after.Converged {
		t.Fatalf("not converged after one apply: %v %+v", actions(after), after.Blockers)
	}
	for name, pid := range pids {
		if _, ok := w.Proc(pid); ok {
			t.Errorf("detached %s (pid %d) survived", name, pid)
		}
	}
	u := w.UnitState("parachute-hub.service")
	if u.Active != "active" || !u.Enabled {
		t.Errorf("hub unit %+v, want active and enabled", u)
	}
	if len(w.Violations) > 0 {
		t.Errorf("violations: %v", w.Violations)
	}
}

func TestCrashAtEveryStepResumes(t *testing.T) {
	for _, m := range []spec.Model{spec.Supervised, spec.Detached, spec.Absent} {
		for _, ev := range []string{"step-start", "step-done"} {
			base := actuatetest.New(home, 1939, threeModules)
			detachedEra(base)
			if m != spec.Supervised {
				// Start from a supervised box for the other directions.
				if _, err := converge(base, desired(base, spec.Supervised), 3); err != nil {
					t.Fatal(err)
				}
			}
			n := len(reconcile.Compute(desired(base, m), base.Snapshot()).Steps)
			if m == spec.Detached && n == 0 {
				t.Fatalf("%s: no steps from a supervised box", m)
			}
			for k := 1; k <= n; k++ {
				w := actuatetest.New(home, 1939, threeModules)
				detachedEra(w)
				if m != spec.Supervised {
					if _, err := converge(w, desired(w, spec.Supervised), 3); err != nil {
						t.Fatal(err)
					}
				}
				d := desired(w, m)
				snap := w.Snapshot()
				p := reconcile.Compute(d, snap)
				applyCrashing(w, p, snap, k, ev)
				final, err := converge(w, d, 2)
				if err != nil || !final.Converged {
					t.Errorf("%s, killed at %s of step %d: rerun did not converge: %v %v %+v", m, ev, k, err, actions(final), final.Blockers)
				}
				if len(w.Violations) > 0 {
					t.Errorf("%s, killed at %s of step %d: %v", m, ev, k, w.Violations)
				}
			}
		}
	}
}

func TestPendingUnitOnlyWaits(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	d := desired(w, spec.Supervised)
	if _, err := converge(w, d, 3); err != nil {
		t.Fatal(err)
	}
	u := w.UnitState("parachute-hub.service")
	// The hub is restarting: the unit is activating and nothing listens.
	w.Signal(u.MainPID, 0, 9)
	u.Active, u.MainPID = "activating", 0
	w.SetUnit(u)
	p := reconcile.Compute(d, w.Snapshot())
	if p.Outcome != reconcile.OutcomePending {
		t.Fatalf("outcome %s, want pending: %v", p.Outcome, actions(p))
	}
	for _, st := range p.Steps {
		if st.Action != reconcile.WaitHealthy && st.Action != reconcile.WaitPortFree {
			t.Errorf("pending plan has %s", st.Action)
		}
	}
}

func TestHandEditedUnitIsDriftNotRestart(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	d := desired(w, spec.Supervised)
	if _, err := converge(w, d, 3); err != nil {
		t.Fatal(err)
	}
	content, _ := w.File(w.UnitPath)
	w.WriteFileNow(w.UnitPath, strings.Replace(content, "RestartSec=5", "RestartSec=30", 1))
	p := reconcile.Compute(d, w.Snapshot())
	if !p.Converged || len(p.Steps) != 0 {
		t.Fatalf("a healthy hub with a hand-edited unit must not be touched: %v", actions(p))
	}
	if len(p.Notes) == 0 || !strings.Contains(strings.Join(p.Notes, "\n"), "drift") {
		t.Errorf("no drift note: %v", p.Notes)
	}
}

func TestLeftoverDetachedHubNextToUnitIsNotConverged(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	d := desired(w, spec.Supervised)
	// Crash between writing the unit and stopping: the unit file is there,
	// the detached hub still answers /health.
	detachedEra(w)
	snap := w.Snapshot()
	p := reconcile.Compute(d, snap)
	applyCrashing(w, p, snap, 2, "step-start")
	if _, ok := w.File(w.UnitPath); !ok {
		t.Fatal("setup: unit file not written")
	}
	again := reconcile.Compute(d, w.Snapshot())
	if again.Converged {
		t.Fatal("a detached hub answering /health next to an installed unit is reported converged")
	}
}

func TestStaleUnitDisabledBeforeStops(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	w.SetUnit(actuatetest.Unit{Name: "parachute-vault.service", Enabled: true, Active: "active", Argv: []string{"/usr/bin/parachute-vault", "serve"}, Port: 1940})
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	di, _ := indexOf(p, reconcile.DisableUnit)
	su, _ := indexOf(p, reconcile.StartUnit)
	if di < 0 || su < 0 || di > su {
		t.Fatalf("want disable-unit before start-unit: %v", actions(p))
	}
	for _, st := range p.Steps {
		if st.Action == reconcile.Stop {
			t.Errorf("stale unit's process stopped by signal (Restart=always would undo it): %+v", st)
		}
	}
	final, err := converge(w, d, 3)
	if err != nil || !final.Converged {
		t.Fatalf("not converged: %v %v", err, actions(final))
	}
}

func TestSameInputSamePlan(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	detachedEra(w)
	snap := w.Snapshot()
	a := reconcile.Compute(desired(w, spec.Supervised), snap)
	b := reconcile.Compute(desired(w, spec.Supervised), snap)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two plans of one snapshot differ")
	}
}

func TestHubUnitInTheOtherScopeBlocksSupervised(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	snap := w.Snapshot()
	snap.OtherScope = &state.UnitFile{Path: "/etc/systemd/system/parachute-hub.service", Exists: true}
	p := reconcile.Compute(desired(w, spec.Supervised), snap)
	if p.Outcome != reconcile.OutcomeBlocked || !strings.Contains(p.Blockers[0].Reason, "other scope") {
		t.Fatalf("outcome %s, blockers %+v", p.Outcome, p.Blockers)
	}
	// In the other models its hub would be killed as an orphan and
	// restarted by its manager for ever: blocked too.
	if d := reconcile.Compute(desired(w, spec.Detached), snap); d.Outcome != reconcile.OutcomeBlocked {
		t.Errorf("detached is not blocked by a hub unit out of reach: %s", d.Outcome)
	}
}

// Leaving the supervised model, the port waits excuse nobody: a process
// left in the stopped unit's control group still holds its port, so the
// detached hub does not start (and hub.port is not removed) over it. Only
// a supervised plan, whose next start is that unit, lets its members hold.
func TestPortWaitsExcuseTheUnitOnlyWhenSupervised(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	detachedEra(w)
	if _, err := converge(w, desired(w, spec.Supervised), 3); err != nil {
		t.Fatal(err)
	}
	for _, m := range []spec.Model{spec.Detached, spec.Absent} {
		p := reconcile.Compute(desired(w, m), w.Snapshot())
		waits := 0
		for _, st := range p.Steps {
			if st.Action == reconcile.WaitPortFree {
				waits++
				if st.Members != nil {
					t.Errorf("%s: %s excuses the unit's members %+v", m, st.Target, *st.Members)
				}
			}
		}
		if m == spec.Detached && waits == 0 {
			t.Fatalf("%s: no port waits before the detached start: %v", m, actions(p))
		}
	}
}

// A run of the reconciler's own timer or boot unit (Type=oneshot: systemd
// kills what a run leaves in its control group when it exits) never starts
// a detached hub, and stops nothing on the way: the hub would die moments
// later while the run reported success. From cron or a login session it
// does.
func TestNoDetachedStartFromTheReconcilersOwnUnit(t *testing.T) {
	for _, tc := range []struct {
		cgroup  string
		blocked bool
	}{
		{"/system.slice/parachute-reconcile.service", true},
		{"/system.slice/parachute-reconcile-boot.service", true},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/parachute-reconcile.service", true},
		{"/system.slice/cron.service", false},
		{"/user.slice/user-1000.slice/session-4.scope", false},
	} {
		t.Run(tc.cgroup, func(t *testing.T) {
			w := actuatetest.New(home, 1939, threeModules)
			detachedEra(w)
			w.Self = w.Spawn(actuatetest.Proc{PPid: 99, Pgid: 99, Argv: []string{"parachute", "reconcile"}, Cgroup: tc.cgroup})
			p := reconcile.Compute(desired(w, spec.Detached), w.Snapshot())
			var starts int
			for _, st := range p.Steps {
				if st.Action == reconcile.StartDetached {
					starts++
				}
			}
			blocked := slices.ContainsFunc(p.Blockers, func(b reconcile.Blocker) bool {
				return strings.Contains(b.Reason, "would be killed at once")
			})
			if blocked != tc.blocked {
				t.Fatalf("blocked %t, want %t: blockers %+v", blocked, tc.blocked, p.Blockers)
			}
			if tc.blocked && len(p.Steps) != 0 {
				t.Errorf("blocked, yet steps: %v", p.Steps)
			}
			if !tc.blocked && starts != 1 {
				t.Errorf("%d start-detached steps, want 1: %v", starts, p.Steps)
			}
		})
	}
}

// A run that dies between the detached hub's start and the last of its
// two records leaves a box the next runs finish: hub.pid and hub.port both
// written, the hub the one that answers, and no second hub.
func TestDetachedRecordsAfterAFailedWrite(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	d := desired(w, spec.Detached)
	w.FailAfter("write", 2, errors.New("no space left on device")) // the touch of the log, then one record, then this
	p := reconcile.Compute(d, w.Snapshot())
	_, _ = actuator(w).Apply(context.Background(), p)
	p, err := converge(w, d, 4)
	if err != nil || p.Outcome != reconcile.OutcomeConverged {
		t.Fatalf("after the failed write: outcome %s, %v; blockers %+v, notes %q", p.Outcome, err, p.Blockers, p.Notes)
	}
	for _, f := range []string{"hub/run/hub.pid", "hub/run/hub.port"} {
		if _, ok := w.File(filepath.Join(home, f)); !ok {
			t.Errorf("%s missing on a converged detached box", f)
		}
	}
	hubs := 0
	for _, pid := range w.Pids() {
		if pr, _ := w.Proc(pid); slices.Equal(pr.Argv, w.HubArgv) {
			hubs++
		}
	}
	if hubs != 1 {
		t.Errorf("%d hubs running, want 1", hubs)
	}
}

// A hub unit the manager cannot load (masked, or a drop-in's bad setting)
// while its file is parachute's own: a start would fail on every run, so
// the run is blocked with the manager's own remedy, and nothing is
// stopped.
func TestUnloadableHubUnitBlocksTheStart(t *testing.T) {
	w, d := supervisedBox(t)
	if err := w.Stop(context.Background(), w.UnitName); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ load, want string }{
		{"masked", "is masked"},
		{"bad-setting", "LoadState=bad-setting"},
		{"error", "LoadState=error"},
		{"loaded", ""},
	} {
		t.Run(tc.load, func(t *testing.T) {
			snap := w.Snapshot()
			snap.Unit.LoadState = tc.load
			p := reconcile.Compute(d, snap)
			blocked := slices.ContainsFunc(p.Blockers, func(b reconcile.Blocker) bool { return tc.want != "" && strings.Contains(b.Reason, tc.want) })
			if blocked != (tc.want != "") {
				t.Fatalf("blockers %+v, want one saying %q", p.Blockers, tc.want)
			}
			starts := slices.ContainsFunc(p.Steps, func(st reconcile.Step) bool { return st.Action == reconcile.StartUnit })
			if blocked == starts {
				t.Errorf("blocked %t, start-unit planned %t: %v", blocked, starts, p.Steps)
			}
		})
	}
}

// Without services.json the box declares no modules, and module pidfiles
// are not looked for: a run says so rather than let a converged verdict
// pass for "nothing of the box runs".
func TestMissingManifestIsNoted(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	detachedEra(w)
	for _, exists := range []bool{true, false} {
		d := desired(w, spec.Absent)
		if !exists {
			d.Manifest.Exists, d.Manifest.Modules = false, []spec.Module{}
		}
		p := reconcile.Compute(d, w.Snapshot())
		noted := slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "does not exist, so the box declares no modules") })
		if noted == exists {
			t.Errorf("services.json exists %t: noted %t; notes %q", exists, noted, p.Notes)
		}
	}
}

// A run that cannot render the hub unit (no hub command on its PATH) while
// the installed unit needs no rewrite keeps the unit, and says so.
func TestUnrenderableUnitIsNoted(t *testing.T) {
	w, d := supervisedBox(t)
	d.HubCommand, d.HubCommandProblem = nil, "parachute is not on PATH"
	p := reconcile.Compute(d, w.Snapshot())
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "cannot be rendered by this run") }) {
		t.Errorf("no note; notes %q, blockers %+v", p.Notes, p.Blockers)
	}
	if !p.Converged {
		t.Errorf("a running hub unit whose file needs nothing: not converged: %s %+v", p.Outcome, p.Steps)
	}
}

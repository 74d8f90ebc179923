package reconcile_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

// supervisedBox is a converged supervised box of the three modules.
func supervisedBox(t *testing.T) (*actuatetest.World, spec.Desired) {
	t.Helper()
	w := actuatetest.New(home, 1939, threeModules)
	d := desired(w, spec.Supervised)
	if p, err := converge(w, d, 3); err != nil || !p.Converged {
		t.Fatalf("setup: %v %v %+v", err, actions(p), p.Blockers)
	}
	return w, d
}

// silence stops the module listening on port (the hub's child) and returns
// a snapshot taken age after the hub started.
func silence(t *testing.T, w *actuatetest.World, port int, age time.Duration) state.Snapshot {
	t.Helper()
	for _, pid := range w.Pids() {
		if p, ok := w.Proc(pid); ok && len(p.Ports) == 1 && p.Ports[0] == port {
			w.Signal(pid, 0, 9)
		}
	}
	s := w.Snapshot()
	u := w.UnitState("parachute-hub.service")
	for _, p := range s.Processes {
		if p.Pid == u.MainPID {
			s.Taken = p.Started.Add(age)
		}
	}
	return s
}

func moduleState(t *testing.T, p reconcile.Plan, short string) reconcile.ModuleReport {
	t.Helper()
	for _, m := range p.Modules {
		if m.Short == short {
			return m
		}
	}
	t.Fatalf("no report for module %s: %+v", short, p.Modules)
	return reconcile.ModuleReport{}
}

// Issue: modules booting right after a cutover were reported "degraded …
// the supervisor restarts it". Within timeouts.modules of the hub's start a
// silent module is booting; past it, down; the box is converged either way.
func TestModuleStatesUnderRunningHub(t *testing.T) {
	w, d := supervisedBox(t)
	p := reconcile.Compute(d, w.Snapshot())
	for _, m := range p.Modules {
		if m.State != reconcile.ModuleUp {
			t.Errorf("module %s = %s (%s), want up", m.Short, m.State, m.Evidence)
		}
	}
	if len(p.Modules) != 3 {
		t.Fatalf("modules reported: %+v", p.Modules)
	}

	s := silence(t, w, 1940, 700*time.Millisecond)
	p = reconcile.Compute(d, s)
	if !p.Converged {
		t.Fatalf("a booting module made the box unconverged: %v", actions(p))
	}
	if m := moduleState(t, p, "vault"); m.State != reconcile.ModuleBooting {
		t.Errorf("vault 0.7 s after the hub started = %s (%s), want booting", m.State, m.Evidence)
	}
	for _, n := range p.Notes {
		if strings.Contains(n, "degraded") || strings.Contains(n, "restarts it") {
			t.Errorf("note still claims the supervisor restarts it: %s", n)
		}
	}

	s.Taken = s.Taken.Add(d.Timeouts.Modules)
	if m := moduleState(t, reconcile.Compute(d, s), "vault"); m.State != reconcile.ModuleDown {
		t.Errorf("vault past the bound = %s, want down", m.State)
	}

	s.Idle = []state.IdleModule{{Name: "parachute-vault", Short: "vault", Port: 1940,
		Unstartable: "no startCmd resolvable: /opt/vault/.parachute/module.json does not exist"}}
	if m := moduleState(t, reconcile.Compute(d, s), "vault"); m.State != reconcile.ModuleUnstartable || !strings.Contains(m.Evidence, "module.json") {
		t.Errorf("vault without a start command = %s (%s), want unstartable naming module.json", m.State, m.Evidence)
	}

	giveUp := "[supervisor] vault crashed 3x within 60000ms — giving up."
	s.Idle = []state.IdleModule{{Name: "parachute-vault", Short: "vault", Port: 1940, StartCmd: []string{"parachute-vault", "serve"}, LastLog: giveUp, GivenUp: true}}
	m := moduleState(t, reconcile.Compute(d, s), "vault")
	if m.State != reconcile.ModuleGivenUp || !strings.Contains(m.Evidence, giveUp) {
		t.Errorf("vault given up on = %s (%s), want given-up with the hub's line", m.State, m.Evidence)
	}
}

// After a cutover the run waits for the modules: the plan ends in
// wait-modules carrying every module with its health path.
func TestStartWaitsForModules(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	detachedEra(w)
	p := reconcile.Compute(desired(w, spec.Supervised), w.Snapshot())
	last := p.Steps[len(p.Steps)-1]
	if last.Action != reconcile.WaitModules || len(last.Modules) != 3 || last.Dir != home {
		t.Fatalf("last step %+v, want wait-modules of 3 modules", last)
	}
}

// Issue: a crash-looping unit was "pending" and only waited, run after run,
// with no cause shown.
func TestCrashLoopIsFailedWithCause(t *testing.T) {
	w, d := supervisedBox(t)
	u := w.UnitState("parachute-hub.service")
	w.Signal(u.MainPID, 0, 9)
	u.Active, u.MainPID = "activating", 0
	w.SetUnit(u)
	s := w.Snapshot()
	s.Unit.SubState = "auto-restart"
	s.Unit.Result, s.Unit.ExecMainCode, s.Unit.ExecMainStatus, s.Unit.NRestarts = "exit-code", 1, 1, 4
	s.Unit.Journal = []string{"parachute-hub.service: Main process exited, code=exited, status=1/FAILURE"}
	s.HubLog = []string{"error: cannot open hub.db: permission denied"}
	p := reconcile.Compute(d, s)
	if p.Outcome != reconcile.OutcomeFailed || p.Failure == nil {
		t.Fatalf("outcome %s failure %+v, want failed", p.Outcome, p.Failure)
	}
	f := p.Failure
	if !strings.Contains(f.Manager, "exited with status 1") || !strings.Contains(f.Manager, "4 automatic restarts") || !strings.Contains(f.Manager, "Result=exit-code") {
		t.Errorf("manager account %q", f.Manager)
	}
	if len(f.Journal) != 1 || len(f.HubLog) != 1 || !strings.Contains(f.Reason, "crash-loops") {
		t.Errorf("failure %+v", f)
	}
	for _, st := range p.Steps {
		if st.Action == reconcile.StartUnit || st.Action == reconcile.WaitHealthy {
			t.Errorf("a crash loop with nothing to change gets %s", st.Action)
		}
	}

	// The spec is corrected: the unit is rewritten and restarted now, not
	// waited out.
	d.HubCommand = append(append([]string(nil), d.HubCommand...), "--fixed")
	p = reconcile.Compute(d, s)
	if p.Outcome != reconcile.OutcomeChanges {
		t.Fatalf("corrected spec under a crash loop: outcome %s %v", p.Outcome, actions(p))
	}
	wu, _ := indexOf(p, reconcile.WriteUnit)
	su, _ := indexOf(p, reconcile.StartUnit)
	if wu < 0 || su < wu || !strings.Contains(p.Steps[su].Reason, "crash-loops") {
		t.Errorf("want write-unit then start-unit naming the crash loop: %v", actions(p))
	}
}

// Issue: a drop-in ExecStartPre=/bin/false took the box down for a start
// bound to fail. It is a blocker before anything is stopped.
func TestBreakingDropInBlocksBeforeStops(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	detachedEra(w)
	s := w.Snapshot()
	s.Unit.DropIns = []state.UnitFile{{Path: "/etc/systemd/system/parachute-hub.service.d/override.conf", Exists: true,
		Content: "[Service]\nExecStartPre=/bin/false\n", Breaks: []string{"ExecStartPre=/bin/false always exits 1"}}}
	p := reconcile.Compute(desired(w, spec.Supervised), s)
	if p.Outcome != reconcile.OutcomeBlocked {
		t.Fatalf("outcome %s, want blocked: %v", p.Outcome, actions(p))
	}
	if f, _ := indexOf(p, reconcile.Stop); f >= 0 {
		t.Errorf("a blocked plan stops: %v", actions(p))
	}
	found := false
	for _, b := range p.Blockers {
		found = found || (strings.Contains(b.Reason, "override.conf") && strings.Contains(b.Fix, "revert"))
	}
	if !found {
		t.Errorf("no drop-in blocker: %+v", p.Blockers)
	}
}

// Issue: D-Bus lost mid-run exited 3 ("retrying will not help"). A manager
// that exists but did not answer is a failure (exit 1), and nothing is done.
func TestManagerTransportFailureIsFailedNotBlocked(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	detachedEra(w)
	s := w.Snapshot()
	s.Unit.Available, s.Unit.Reach, s.Unit.Problem = false, state.Unanswered, "system manager did not answer: dbus: connection closed by user"
	p := reconcile.Compute(desired(w, spec.Supervised), s)
	if p.Outcome != reconcile.OutcomeFailed || len(p.Steps) != 0 || len(p.Blockers) != 0 {
		t.Fatalf("outcome %s steps %v blockers %+v, want failed with nothing to do", p.Outcome, actions(p), p.Blockers)
	}
	s.Unit.Reach = state.NoSystemManager
	if p := reconcile.Compute(desired(w, spec.Supervised), s); p.Outcome != reconcile.OutcomeBlocked {
		t.Errorf("no manager at all: outcome %s, want blocked", p.Outcome)
	}
}

// Issue: a module row on the hub's port (or --port on a module's) passed
// silently and the module never ran.
func TestModuleOnHubPortBlocks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hubPort int
		mods    []spec.Module
	}{
		{"row on 1939", 1939, []spec.Module{{Name: "parachute-vault", Short: "vault", Port: 1939}, {Name: "parachute-scribe", Short: "scribe", Port: 1943}}},
		{"--port 1940", 1940, threeModules},
	} {
		w := actuatetest.New(home, tc.hubPort, tc.mods)
		for _, m := range []spec.Model{spec.Supervised, spec.Detached} {
			p := reconcile.Compute(desired(w, m), w.Snapshot())
			ok := false
			for _, b := range p.Blockers {
				ok = ok || strings.Contains(b.Reason, "the hub's own port") && strings.Contains(b.Fix, "services.json")
			}
			if p.Outcome != reconcile.OutcomeBlocked || !ok {
				t.Errorf("%s, %s: outcome %s blockers %+v", tc.name, m, p.Outcome, p.Blockers)
			}
		}
	}
}

// Issue: cron without PARACHUTE_HOME created a fresh home and installed an
// empty hub. A run that would start a hub in a missing home is blocked,
// naming the home and how it was resolved.
func TestMissingHomeBlocksStarts(t *testing.T) {
	w := actuatetest.New(home, 1939, nil)
	for _, m := range []spec.Model{spec.Supervised, spec.Detached} {
		d := desired(w, m)
		d.HomeMissing, d.HomeFrom = true, "the default, ~/.parachute"
		p := reconcile.Compute(d, w.Snapshot())
		if p.Outcome != reconcile.OutcomeBlocked || len(p.Blockers) == 0 ||
			!strings.Contains(p.Blockers[0].Reason, home) || !strings.Contains(p.Blockers[0].Reason, "the default") {
			t.Errorf("%s: outcome %s blockers %+v", m, p.Outcome, p.Blockers)
		}
	}
	d := desired(w, spec.Absent)
	d.HomeMissing = true
	if p := reconcile.Compute(d, w.Snapshot()); !p.Converged {
		t.Errorf("absent on a missing home: %s %+v", p.Outcome, p.Blockers)
	}
}

// Issue: root's parachute-vault.service, active while the box runs as a
// user, was never reported. It is, with the exact command.
func TestOtherScopeStaleUnitNoted(t *testing.T) {
	w, d := supervisedBox(t)
	s := w.Snapshot()
	s.StaleUnits = append(s.StaleUnits, state.StaleUnit{Name: "parachute-vault.service", Short: "vault", Scope: "system",
		LoadState: "loaded", ActiveState: "active", UnitFileState: "enabled", Manageable: false,
		ExecStart: [][]string{{"/usr/local/bin/parachute-vault", "serve"}}})
	p := reconcile.Compute(d, s)
	notes := strings.Join(p.Notes, "\n")
	if !strings.Contains(notes, "sudo systemctl disable --now parachute-vault.service") {
		t.Errorf("notes %q lack the fix", notes)
	}
}

// Issue: a pidfile naming the reconciler's parent failed remove-pidfile on
// every run (exit 1, "safe to retry", for ever). Its claim fails the trust
// model (the parent is protected): the file is removed as stale without a
// signal, and the next plan is converged.
func TestPidfileNamingOurParentConverges(t *testing.T) {
	w, d := supervisedBox(t)
	s := w.Snapshot()
	if _, ok := w.Proc(s.Parent); !ok {
		t.Fatalf("setup: the parent %d is not a live process of the world", s.Parent)
	}
	w.WriteFileNow(home+"/vault/run/vault.pid", strconv.Itoa(s.Parent)+"\n")
	if pf := reconcile.Compute(d, w.Snapshot()); len(pf.Steps) == 0 {
		t.Fatal("setup: the pidfile is not seen")
	}
	p, err := converge(w, d, 2)
	if err != nil || !p.Converged {
		t.Fatalf("a pidfile naming our parent: %v %s %v %+v", err, p.Outcome, actions(p), p.Blockers)
	}
	if _, ok := w.File(home + "/vault/run/vault.pid"); ok {
		t.Error("the pidfile naming our parent is still there")
	}
	if _, ok := w.Proc(s.Parent); !ok {
		t.Error("our parent was stopped")
	}
	if len(w.Violations) > 0 {
		t.Errorf("violations: %v", w.Violations)
	}
}

package reconcile_test

// Each test here pins a defect of the planner that was fixed: its comment
// names the docs/design.md rule the defect broke, and the test fails
// against the code it was found in.

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

// TestAbsentIsNotConvergedWhileAnUnmanageableStaleUnitRuns: absent means "no module
// process of this box" (docs/design.md, the table of models). A system-scope parachute-vault.service
// (not manageable by this user) runs vault on :1940. The absent planner
// never calls holderBlockers: the stale-unit holder is skipped by
// collectStops, staleUnits() only notes it, and the plan is *converged*:
// exit 0 to cron/Ansible while a module of the box runs. Detached and
// supervised block on the very same holder (planner.go:143-148).
// Fix: in absent, block on a stale-unit holder that is not manageable (or
// on any active unmanageable stale unit).
func TestAbsentIsNotConvergedWhileAnUnmanageableStaleUnitRuns(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	w.SetUnit(actuatetest.Unit{Name: "parachute-vault.service", Active: "active", Enabled: true,
		Cgroup: "/system.slice/parachute-vault.service",
		Argv:   []string{"/home/op/.bun/bin/parachute-vault", "serve"}, Port: 1940})
	snap := w.Snapshot()
	for i := range snap.StaleUnits {
		if snap.StaleUnits[i].Name == "parachute-vault.service" {
			snap.StaleUnits[i].Scope, snap.StaleUnits[i].Manageable = "system", false
		}
	}
	p := reconcile.Compute(desired(w, spec.Absent), snap)
	if p.Converged {
		t.Errorf("absent reported converged while the system unit parachute-vault.service runs vault on :1940 (holders %+v, notes %q)", p.Holders, p.Notes)
	}
}

// TestSupervisedConvergesWhenTheUnitsHubWritesItsPidfile: with hub.command set to the
// detached-era `bun …/src/hub-server.ts` (the spec allows any command), the
// hub inside the unit writes hub/run/hub.pid and hub.port naming itself
// (docs/upstream-hub.md §3.3). collectStops rightly spares the unit-owned pid, but
// removePidfiles (planner.go:283) still plans remove-pidfile for its live
// pidfile; the actuator refuses (rule 4: "pidfiles are removed only for
// processes that are gone") and the step fails. Every run fails the same
// way: exit 1 forever on a healthy supervised box.
// Fix: skip (or note) a live pidfile whose process is unit-owned, and keep
// hub.port with it.
func TestSupervisedConvergesWhenTheUnitsHubWritesItsPidfile(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	d := desired(w, spec.Supervised)
	if p, err := converge(w, d, 3); err != nil || !p.Converged {
		t.Fatalf("setup: %v %v", err, actions(p))
	}
	u := w.UnitState(w.UnitName)
	// What hub-server.ts does at boot, from inside the unit.
	w.WriteFileNow(filepath.Join(home, "hub/run/hub.pid"), fmt.Sprintf("%d\n", u.MainPID))
	w.WriteFileNow(filepath.Join(home, "hub/run/hub.port"), "1939\n")
	p, err := converge(w, d, 3)
	if err != nil || !p.Converged {
		t.Errorf("a healthy supervised hub that writes its own pidfile never converges: %v; plan %v", err, actions(p))
	}
}

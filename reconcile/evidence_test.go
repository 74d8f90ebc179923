package reconcile_test

// Each test here pins a defect of the planner that was fixed: its comment
// names the docs/design.md rule the defect broke, and the test fails
// against the code it was found in.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

// TestOrphanGroupHoldingTheReconcilerIsNeverGroupSignalled: an
// orphan hub (no pidfile, attributed by its command) leads a process group
// that also holds the reconciler, e.g. because the leftover hub ran
// `sh -c 'parachute reconcile'` (an update hook). The planner's guard,
// world.protectedGroup (planner.go:271), looks Self and Parent up in the
// snapshot's process table, but observe only records holders with their
// ancestors and pidfile processes with their groups and descendants
// (observe/proc.go relevant()): the reconciler is in neither set, so the
// guard answers "not protected" and the plan sends kill(-pgid) to our own
// group. Rule 2: "pid 1, our own pid and our parent are never signalled"
// (and with them their groups). The actuator has no second guard either
// (see actuate/signal_test.go).
// Fix: carry Self's and Parent's pgid in the Snapshot (observe always
// knows them: getpgrp(), getpgid(getppid())) and compare against those;
// never infer protection from the absence of a row.
func TestOrphanGroupHoldingTheReconcilerIsNeverGroupSignalled(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	hub := w.Spawn(actuatetest.Proc{Argv: []string{"/home/op/.bun/bin/bun", "/opt/hub/src/hub-server.ts", "--port", "1939"}, Ports: []int{w.HubPort}})
	sh := w.Spawn(actuatetest.Proc{PPid: hub, Pgid: hub, Argv: []string{"/bin/sh", "-c", "parachute reconcile"}})
	self := w.Spawn(actuatetest.Proc{PPid: sh, Pgid: hub, Argv: []string{"parachute", "reconcile"}})
	w.Self = self

	d := desired(w, spec.Supervised)
	snap := w.Snapshot()
	p := reconcile.Compute(d, snap)
	for _, st := range p.Steps {
		if st.Action == reconcile.Stop && st.Pgid == hub {
			t.Errorf("plan signals process group %d, which holds the reconciler (pid %d): %s", hub, self, st.Reason)
		}
	}
	if p.Outcome != reconcile.OutcomeBlocked {
		_, _ = actuator(w).Apply(context.Background(), p)
		for _, v := range w.Violations {
			if strings.Contains(v, fmt.Sprintf("protected pid %d", self)) {
				t.Errorf("applying the plan: %s", v)
			}
		}
	}
}

// TestDescendantOfASiblingIsNotOurs: a detached-era module (runner,
// pidfile verified) ran a job that put itself in its own process group and
// listens on surface's declared port. world.ours (classify.go:155-166)
// calls it "detached-ours" because it *descends* from a pidfile process, and
// in the second case "orphan" because some ancestor is a hub process. Rule 2
// lists exactly three kinds of evidence: the pidfile's own process, its
// process group, or a holder whose argv/exe/cwd names the owner *of that
// port*; "a sibling module is not the owner". A descendant in another group
// is none of these: this is upstream pitfall 16 (cross-killing a sibling's
// child) and pitfall 2 (blind-killing an operator's dev server) again.
// Fix: drop the bare-descendant arms (or require the descendant to still be
// in the pidfile process's group/session, or to be attributable itself); an
// unattributable holder is foreign and blocks.
func TestDescendantOfASiblingIsNotOurs(t *testing.T) {
	runnerMod := spec.Module{Name: "parachute-runner", Short: "runner", Port: 1950}
	mods := append(append([]spec.Module(nil), threeModules...), runnerMod)
	surface := 1946

	for _, tc := range []string{"pidfile-runner", "runner-under-orphan-hub"} {
		t.Run(tc, func(t *testing.T) {
			w := actuatetest.New(home, 1939, mods)
			parent := 1
			if tc == "runner-under-orphan-hub" {
				parent = w.Spawn(actuatetest.Proc{Argv: []string{"/home/op/.bun/bin/bun", "/opt/hub/src/hub-server.ts", "--port", "1939"}, Ports: []int{w.HubPort}})
			}
			runner := w.Spawn(actuatetest.Proc{PPid: parent, Argv: []string{"/home/op/.bun/bin/parachute-runner", "serve"}, Ports: []int{runnerMod.Port}})
			if tc == "pidfile-runner" {
				w.WriteFileNow(filepath.Join(home, "runner/run/runner.pid"), fmt.Sprintf("%d\n", runner))
			}
			// The CI job: its own group, an operator's dev server on :1946.
			job := w.Spawn(actuatetest.Proc{PPid: runner, Argv: []string{"python3", "-m", "http.server", "1946"}, Ports: []int{surface}})

			for _, m := range []spec.Model{spec.Supervised, spec.Detached, spec.Absent} {
				p := reconcile.Compute(desired(w, m), w.Snapshot())
				for _, st := range p.Steps {
					if st.Action == reconcile.Stop && (st.Pid == job || st.Pgid == job) {
						t.Errorf("%s: plan signals pid %d (python3 on surface's :%d, a child of sibling runner pid %d): %s", m, job, surface, runner, st.Reason)
					}
				}
			}
		})
	}
}

// TestOtherScopeHubUnitIsNotKilledAsAnOrphan: a hub unit is installed
// in the other scope (say the system one, seen by a user run) and its hub
// holds :1939. For supervised the planner blocks on that (models.go:26), but
// detached and absent only note it (otherScopeNote) and classify its hub as
// an "orphan" by its command line, so the plan SIGTERMs a process that a
// service manager owns and restarts (Restart=always): the run stops things
// and then cannot finish (as a user: EPERM on root's hub, exit 1 every
// minute from cron; as root: the unit respawns the hub, which fights the
// detached hub we start, or makes absent never converge). The planner
// already refuses this for stale module units ("a kill would be undone by
// Restart=", planner.go:192); the other scope's hub unit needs the same.
// Exit code should be 3 (blocked: needs a person), not a retry loop.
// Fix: treat a holder whose cgroup is another scope's parachute-hub.service
// (or any holder when OtherScope is active) as a blocker in every model.
func TestOtherScopeHubUnitIsNotKilledAsAnOrphan(t *testing.T) {
	for _, m := range []spec.Model{spec.Detached, spec.Absent} {
		w := actuatetest.New(home, 1939, threeModules)
		sysHub := w.Spawn(actuatetest.Proc{Argv: append([]string(nil), w.HubArgv...), Cgroup: "/system.slice/parachute-hub.service", Ports: []int{w.HubPort}})
		snap := w.Snapshot()
		snap.OtherScope = &state.UnitFile{Path: "/etc/systemd/system/parachute-hub.service", Exists: true}
		p := reconcile.Compute(desired(w, m), snap)
		for _, st := range p.Steps {
			if st.Action == reconcile.Stop && (st.Pid == sysHub || st.Pgid == sysHub) {
				t.Errorf("%s: plan signals pid %d, the hub of the system-scope unit (cgroup /system.slice/parachute-hub.service): %s", m, sysHub, st.Reason)
			}
		}
		if p.Outcome != reconcile.OutcomeBlocked {
			t.Errorf("%s: outcome %s, want blocked (a hub unit in the other scope is out of reach)", m, p.Outcome)
		}
	}
}

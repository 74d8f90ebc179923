package reconcile_test

// Each test here pins a defect of the planner that was fixed: its comment
// names the docs/design.md rule the defect broke, and the test fails
// against the code it was found in.

import (
	"testing"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

// TestUnknownPortStateBlocks: observe could not read a socket table
// (tcp6 unreadable) and says so in Snapshot.Problems ("port 1946: cannot
// tell whether it is free"). snapshot.go documents "The planner treats
// unknowns as blockers", and docs/design.md's exit 3 covers "unreadable state", but
// the planner never reads Snapshot.Problems at all. The plan stops every
// detached process; then wait-port-free asks observe.PortHolders, which
// fails on the same unreadable table, so the run ends with the box down
// (nothing running, no unit started) and exits 1 "safe to retry" on every
// rerun. "A run that stops things then finds it cannot finish."
// Fix: turn port-state problems (and pidfile-unreadable problems, and
// "start times unknown") into blockers before any stop is planned.
func TestUnknownPortStateBlocks(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	pids := detachedEra(w)
	w.Signal(pids["surface"], 0, 9) // :1946 shows no listener…
	snap := w.Snapshot()
	// …but observe could not read tcp6, so it cannot tell (observe.go:505).
	snap.Problems = append(snap.Problems,
		"listening sockets unknown: open /proc/net/tcp6: permission denied",
		"port 1946: cannot tell whether it is free")
	p := reconcile.Compute(desired(w, spec.Supervised), snap)
	var stops []string
	for _, st := range p.Steps {
		if st.Action == reconcile.Stop {
			stops = append(stops, st.Target)
		}
	}
	if p.Outcome != reconcile.OutcomeBlocked || len(stops) > 0 {
		t.Errorf("outcome %s with stops %v although observe could not tell whether :1946 is free; want blocked, nothing stopped", p.Outcome, stops)
	}
}

// TestUnknownLingerPlansNoChanges: observe leaves Snapshot.Linger nil
// when it cannot tell (no user name, /var/lib/systemd/linger unreadable).
// models.go:59 reads nil as "off", so a healthy supervised user-scope box
// plans write-unit (+ enable-linger + daemon-reload) on every run and is
// never converged: cron gets exit 1 every minute and a daemon-reload each
// time. An unknown must be a blocker or a note, not a step that can never
// make itself true.
func TestUnknownLingerPlansNoChanges(t *testing.T) {
	w := actuatetest.New(home, 1939, threeModules)
	d := desired(w, spec.Supervised)
	if p, err := converge(w, d, 3); err != nil || !p.Converged {
		t.Fatalf("setup: %v %v", err, actions(p))
	}
	snap := w.Snapshot()
	snap.Linger = nil
	p := reconcile.Compute(d, snap)
	if p.Outcome == reconcile.OutcomeChanges {
		t.Errorf("linger unknown on a converged box plans %v: a step that cannot change what observe sees, so the box never converges", actions(p))
	}
}

package cli

import (
	"errors"
	"testing"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/reconcile"
)

// A run whose apply failed on a step only a person can pass ends blocked
// (exit 3) with that step's error as its blocker and no steps; any other
// failure, or a box that converged anyway, is left as the plan says.
func TestBlockedByApply(t *testing.T) {
	changes := reconcile.Plan{Outcome: reconcile.OutcomeChanges, Blockers: []reconcile.Blocker{},
		Steps: []reconcile.Step{{N: 1, Action: reconcile.WriteUnit, Linger: true}}}
	refused := &actuate.StepError{Step: changes.Steps[0], Err: &actuate.NeedsPerson{
		Err: errors.New("enable linger for uid 1000: not permitted"), Fix: "as root: loginctl enable-linger op; then run again"}}

	p := blockedByApply(changes, refused)
	if p.Outcome != reconcile.OutcomeBlocked || len(p.Steps) != 0 || len(p.Blockers) != 1 ||
		p.Blockers[0].Reason != "enable linger for uid 1000: not permitted" || p.Blockers[0].Fix != "as root: loginctl enable-linger op; then run again" {
		t.Errorf("refused linger: %+v", p)
	}
	if code := exitCode(result{Plan: p}); code != ExitBlocked {
		t.Errorf("exit %d, want %d", code, ExitBlocked)
	}
	if p := blockedByApply(changes, errors.New("connection reset")); p.Outcome != reconcile.OutcomeChanges || len(p.Steps) != 1 {
		t.Errorf("another failure: %+v", p)
	}
	converged := reconcile.Plan{Outcome: reconcile.OutcomeConverged, Converged: true, Blockers: []reconcile.Blocker{}}
	if p := blockedByApply(converged, refused); p.Outcome != reconcile.OutcomeConverged {
		t.Errorf("converged anyway: %+v", p)
	}
}

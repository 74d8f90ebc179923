package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

func runReconcile(ctx context.Context, inv *invocation) int {
	r, code := prepare(inv)
	if r == nil {
		return code
	}
	defer r.sys.Close()
	if r.opts.plan {
		return r.planOnly(ctx)
	}
	if code, done := r.lookFirst(ctx); done {
		return code
	}
	unlock, code := lock(ctx, r.cmd.title(), r.desired.Home, r.opts.wait, r.stderr)
	if unlock == nil {
		return code
	}
	defer unlock()
	return r.apply(ctx)
}

// planOnly is --plan: observe, plan, show, change nothing.
func (r *run) planOnly(ctx context.Context) int {
	snap, err := r.observe(ctx)
	if err != nil {
		pf(r.stderr, "%s: %v\n", r.cmd.title(), err)
		return ExitBlocked
	}
	p := reconcile.Compute(r.desired, snap)
	return r.shown(r.view.Plan(p, snap, applyHint(r.cmd.title(), r.args)), planExit(p))
}

// lookFirst observes before the lock is taken when the box's home is not
// known to be this user's, and ends the run when it must.
func (r *run) lookFirst(ctx context.Context) (int, bool) {
	d := r.desired
	if d.Owner.Known && d.Owner.UID == d.User.UID {
		return 0, false
	}
	// Look before taking the lock, which is a write: a box without a home
	// (Owner unknown) that needs nothing must not get one just to hold a
	// lock, and a run on a home that belongs to someone else (root on a
	// user's box) is blocked and writes nothing at all, not even the lock
	// file.
	snap, err := r.observe(ctx)
	if err == nil {
		if p := reconcile.Compute(d, snap); p.Converged || p.Outcome == reconcile.OutcomeBlocked {
			return r.finish(result{Plan: p, Snapshot: snap}), true
		}
	}
	if why := notOwnersBox(d); why != "" {
		pf(r.stderr, "%s: %s\n", r.cmd.title(), why)
		return ExitBlocked, true
	}
	return 0, false
}

// notOwnersBox says why d's box is not this user's to act on: its home is
// known to belong to another uid. "" when it is the user's, or unknown.
func notOwnersBox(d spec.Desired) string {
	if !d.Owner.Known || d.Owner.UID == d.User.UID {
		return ""
	}
	return fmt.Sprintf("%s belongs to uid %d, not to this user (uid %d); run it as the owner", d.Home, d.Owner.UID, d.User.UID)
}

// planExit maps a plan (with --plan) to its exit code.
func planExit(p reconcile.Plan) int {
	switch p.Outcome {
	case reconcile.OutcomeConverged:
		return ExitConverged
	case reconcile.OutcomeBlocked:
		return ExitBlocked
	case reconcile.OutcomeFailed:
		return ExitFailed
	case reconcile.OutcomeChanges, reconcile.OutcomePending:
	}
	return ExitChanges
}

// applyHint is the command that applies what --plan showed: title is the
// command as invoked ("parachute reconcile", "parachute-reconcile reconcile").
func applyHint(title string, args []string) string {
	var kept []string
	for _, a := range args {
		if a != "--plan" {
			kept = append(kept, a)
		}
	}
	return strings.TrimSpace(title + " " + strings.Join(kept, " "))
}

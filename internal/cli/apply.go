package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/converge"
	"github.com/parachute/reconcile/metrics"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

var _ converge.Clock = actuate.RealClock{}

// applying is an applying run across its attempts.
type applying struct {
	*run
	deadline time.Time
	applied  []reconcile.Step // every step completed, over all attempts
	last     result           // the last plan and snapshot, and the error of the apply that led to them
	acted    bool             // the last attempt applied steps
	why      string           // for --verbose: why the last attempt asked for another
}

// exitError ends a run with code: a failure no attempt can get past.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// apply is the level-based loop: observe, plan, apply, observe again to
// verify. Without --until-converged that is one attempt; with it, attempts
// repeat on the converge loop's backoff until converged or the deadline.
func (r *run) apply(ctx context.Context) int {
	start := r.clock.Now()
	a := &applying{run: r, deadline: start}
	if r.opts.until {
		a.deadline = start.Add(r.opts.timeout)
	}
	r.sys.actuator.Events = r.view.Event
	loop := converge.Loop{Clock: r.clock, Deadline: a.deadline, Waiting: a.waiting}
	err := loop.Until(ctx, a.attempt)
	if ee, ok := errors.AsType[*exitError](err); ok {
		pf(r.stderr, "%s: %v\n", r.cmd.title(), ee.err)
		return ee.code
	}
	res := a.last
	res.Applied = a.applied
	res.Took = r.clock.Now().Sub(start)
	if a.acted && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// Cut short after changing something: say so, unless a step's
		// own error already does.
		res.Err = cmp.Or(res.Err, err)
	}
	return r.finish(res)
}

// attempt is one pass. A converged box is done; a blocked or failed one,
// or one an apply did not converge, asks for another (the loop ends the
// run at the deadline); an observation that fails is terminal.
func (a *applying) attempt(ctx context.Context, n int) (converge.Result, error) {
	snap, err := a.observe(ctx)
	if err != nil {
		return converge.Result{}, backoff.Permanent(&exitError{ExitBlocked, err})
	}
	p := reconcile.Compute(a.desired, snap)
	a.last, a.acted = result{Plan: p, Snapshot: snap}, false
	switch p.Outcome {
	case reconcile.OutcomeConverged:
		return converge.Result{}, nil
	case reconcile.OutcomeBlocked, reconcile.OutcomeFailed:
		// At boot a blocker may pass (the user manager comes up, a
		// squatter exits): look again until the deadline.
		a.why = stuck(p) + "; looking again in"
		return converge.Result{Requeue: true}, nil
	case reconcile.OutcomeChanges, reconcile.OutcomePending:
		// Apply below.
	}
	a.signals.arm() // from here on the box changes: end the run, not the process
	a.view.Attempt(n, p, snap)
	done, applyErr := a.applyPlan(ctx, p)
	a.applied = append(a.applied, done...)
	snap, err = a.observe(ctx)
	if err != nil {
		return converge.Result{}, backoff.Permanent(&exitError{ExitFailed, fmt.Errorf("verify: %w", err)})
	}
	p = blockedByApply(reconcile.Compute(a.desired, snap), applyErr)
	a.last, a.acted = result{Plan: p, Snapshot: snap, Err: applyErr}, true
	if p.Converged {
		return converge.Result{}, nil
	}
	a.why = fmt.Sprintf("not converged after attempt %d (%v); again in", n, applyErr)
	return converge.Result{Requeue: true}, nil
}

// blockedByApply is p, not converged after an apply that failed on a step
// only a person can pass (actuate.NeedsPerson), turned into the blocked
// plan it is: the step's error as the blocker, and no steps, so the run
// ends with exit 3 and its document says blocked, not failed.
func blockedByApply(p reconcile.Plan, applyErr error) reconcile.Plan {
	np, ok := errors.AsType[*actuate.NeedsPerson](applyErr)
	if !ok || p.Converged {
		return p
	}
	p.Blockers = append(p.Blockers, reconcile.Blocker{Reason: np.Error(), Fix: np.Fix})
	p.Outcome, p.Steps = reconcile.OutcomeBlocked, []reconcile.Step{}
	return p
}

// applyPlan applies p. With --until-converged the deadline bounds each
// apply too: a step cut short leaves the box as resumable as a killed run.
func (a *applying) applyPlan(ctx context.Context, p reconcile.Plan) ([]reconcile.Step, error) {
	if a.opts.until {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, a.deadline)
		defer cancel()
	}
	return a.sys.actuator.Apply(ctx, p)
}

// waiting tells a --verbose run why it waits, and how long.
func (a *applying) waiting(_ int, d time.Duration) {
	if a.opts.verbose {
		pf(a.stderr, "%s: %s %s\n", a.cmd.title(), a.why, d.Round(time.Millisecond).String())
	}
}

// stuck says why a plan cannot go on: its first blocker, or its failure.
func stuck(p reconcile.Plan) string {
	switch {
	case len(p.Blockers) > 0:
		return "blocked: " + p.Blockers[0].Reason
	case p.Failure != nil:
		return "failed: " + p.Failure.Reason
	}
	return "failed"
}

// finish shows how an applying run ended, writes its metrics when asked,
// and returns its exit code. With --quiet a converged run that changed
// nothing prints nothing at all.
func (r *run) finish(res result) int {
	code := exitCode(res)
	if path := r.desired.Textfile; path != "" {
		if err := metrics.WriteTextfile(path, runMetrics(r.desired, res, code, r.clock.Now())); err != nil {
			pf(r.stderr, "%s: %v\n", r.cmd.title(), err)
		}
	}
	if r.opts.quiet && res.Plan.Converged && len(res.Applied) == 0 && res.Err == nil {
		return code
	}
	return r.shown(r.view.Result(res), code)
}

// exitCode is the exit code of a run that ended with res: 0 converged, 3
// blocked, 1 anything else.
func exitCode(res result) int {
	switch {
	case res.Plan.Converged:
		return ExitConverged
	case res.Plan.Outcome == reconcile.OutcomeBlocked:
		return ExitBlocked
	}
	return ExitFailed
}

// runMetrics is what the metrics say of a run that ended with res.
func runMetrics(d spec.Desired, res result, code int, now time.Time) metrics.Run {
	return metrics.Run{Home: d.Home, Desired: string(d.Model), Outcome: res.Plan.Outcome,
		Converged: res.Plan.Converged, Changed: len(res.Applied) > 0, Blockers: len(res.Plan.Blockers),
		StepsApplied: len(res.Applied), ExitCode: code, Duration: res.Took, Finished: now, Modules: res.Plan.Modules}
}

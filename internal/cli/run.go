package cli

import (
	"context"

	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/spec"
)

// A run is a command at work on a box: the invocation, the desired state
// (spec file, flags and the world's defaults), the system wired for it, and
// the view its output goes through.
type run struct {
	*invocation
	desired spec.Desired
	sys     *system
	view    view
}

// prepare loads the desired state and wires the system. A nil run means
// the command ends there, with the exit code returned. The service
// manager's connection is started first (platform.predial; by Start, when
// the process began with it), to be ready when the observation asks.
func prepare(inv *invocation) (*run, int) {
	plat := inv.early
	inv.early = nil
	if plat == nil {
		plat = newPlatform()
		plat.predial()
	}
	d, err := loadDesired(inv.opts, inv.fs)
	if err != nil {
		plat.close()
		return nil, inv.loadFailed(err)
	}
	return &run{invocation: inv, desired: d, sys: newSystem(d, inv.clock, plat), view: newView(inv.opts.output, inv.cmd.title(), inv.stdout, inv.stderr)}, 0
}

// observe takes one snapshot; with --verbose it reports what could not be
// read.
func (r *run) observe(ctx context.Context) (observe.Snapshot, error) {
	snap, err := r.sys.observer.Observe(ctx, r.desired)
	if err == nil {
		r.withJournal(ctx, &snap)
	}
	if err == nil && r.opts.verbose {
		for _, p := range snap.Problems {
			pf(r.stderr, "%s: observe: %s\n", r.cmd.title(), p)
		}
	}
	return snap, err
}

// shown is code once the view has written, or 1 when it could not.
func (r *run) shown(err error, code int) int {
	if err != nil {
		pf(r.stderr, "%s: write output: %v\n", r.cmd.title(), err)
		return ExitFailed
	}
	return code
}

func runObserve(ctx context.Context, inv *invocation) int {
	r, code := prepare(inv)
	if r == nil {
		return code
	}
	defer r.sys.Close()
	snap, err := r.observe(ctx)
	if err != nil {
		pf(r.stderr, "%s: %v\n", r.cmd.title(), err)
		return ExitBlocked
	}
	return r.shown(r.view.Snapshot(snap), ExitConverged)
}

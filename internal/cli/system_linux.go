package cli

import (
	"context"
	"os"
	"sync"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/internal/sdbus"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

func newProcesses() actuate.Processes { return actuate.OSProcesses{} }

// newUnits returns the systemd manager of loc's scope, dialled on first use
// so that --plan and converged runs that change nothing never connect for it.
func newUnits(loc unitfile.Location, d spec.Desired, logPath string, closers *[]func()) actuate.Units {
	l := &lazyUnits{scope: loc.Scope, uid: d.User.UID, log: logPath}
	*closers = append(*closers, l.close)
	return l
}

// lazyUnits dials the manager when the first unit step runs.
type lazyUnits struct {
	scope string
	uid   int
	log   string

	mu sync.Mutex
	u  *actuate.SystemdUnits
}

// get dials once it succeeds; a failed dial is tried again at the next call
// (the user manager may come up while --until-converged waits).
func (l *lazyUnits) get(ctx context.Context) (*actuate.SystemdUnits, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.u != nil {
		return l.u, nil
	}
	conn, err := sdbus.Dial(context.WithoutCancel(ctx), l.scope, l.uid, os.Getenv)
	if err != nil {
		return nil, err
	}
	l.u = &actuate.SystemdUnits{Conn: conn, UID: l.uid, Getenv: os.Getenv, LogHint: l.log}
	return l.u, nil
}

func (l *lazyUnits) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.u != nil {
		l.u.Conn.Close()
	}
}

func (l *lazyUnits) Reload(ctx context.Context) error {
	u, err := l.get(ctx)
	if err != nil {
		return err
	}
	return u.Reload(ctx)
}

func (l *lazyUnits) EnableLinger(ctx context.Context, user string) error {
	u, err := l.get(ctx)
	if err != nil {
		return err
	}
	return u.EnableLinger(ctx, user)
}

func (l *lazyUnits) Start(ctx context.Context, name, path string) error {
	u, err := l.get(ctx)
	if err != nil {
		return err
	}
	return u.Start(ctx, name, path)
}

func (l *lazyUnits) Stop(ctx context.Context, name string) error {
	u, err := l.get(ctx)
	if err != nil {
		return err
	}
	return u.Stop(ctx, name)
}

// Unload implements actuate.Units: nothing to do for systemd.
func (l *lazyUnits) Unload(context.Context, string) error { return nil }

func (l *lazyUnits) Owner(ctx context.Context, name string) (actuate.Ownership, error) {
	u, err := l.get(ctx)
	if err != nil {
		return actuate.Ownership{}, err
	}
	return u.Owner(ctx, name)
}

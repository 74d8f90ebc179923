package cli

import (
	"context"
	"os"
	"strconv"
	"sync"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/internal/sdbus"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

func newProcesses() actuate.Processes { return actuate.OSProcesses{} }

// platform shares one connection per systemd manager between the observer
// and the actuator for the whole run (a user-bus dial costs tens of
// milliseconds), dialled on first use so that a run that changes nothing
// connects only to observe.
type platform struct {
	mu    sync.Mutex
	conns map[string]*sdbus.Conn // by scope and uid
}

func newPlatform() *platform { return &platform{conns: map[string]*sdbus.Conn{}} }

// dial returns the run's connection to the manager of scope for uid; a
// failed dial is tried again at the next call (the user manager may come up
// while --until-converged waits).
func (p *platform) dial(ctx context.Context, scope string, uid int) (*sdbus.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := scope + "/" + strconv.Itoa(uid)
	if c := p.conns[key]; c != nil {
		if c.Connected() {
			return c, nil
		}
		// The bus went away mid-run (dbus-daemon restarted): a closed
		// connection never comes back, a new one may.
		c.Close()
		delete(p.conns, key)
	}
	c, err := sdbus.Dial(context.WithoutCancel(ctx), scope, uid, os.Getenv)
	if err != nil {
		return nil, err
	}
	p.conns[key] = c
	return c, nil
}

func (p *platform) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, c := range p.conns {
		c.Close()
		delete(p.conns, k)
	}
}

// unitObserver is observe's systemd observer on the run's connections.
func (p *platform) unitObserver() observe.UnitObserver {
	return observe.Managers{GOOS: "linux", Systemd: observe.SystemdUnits{
		Dial: func(ctx context.Context, scope string, uid int) (observe.SystemdManager, error) {
			c, err := p.dial(ctx, scope, uid)
			if err != nil {
				return nil, err
			}
			return keepOpen{c}, nil
		},
		Linger: sdbus.Linger,
	}}
}

// keepOpen hands the observer a connection it may Close: the run closes it.
type keepOpen struct{ *sdbus.Conn }

// Close implements observe.SystemdManager: a no-op, the platform owns it.
func (keepOpen) Close() {}

// units is the actuator's systemd manager for loc's scope.
func (p *platform) units(loc unitfile.Location, d spec.Desired, logPath string) actuate.Units {
	return &lazyUnits{p: p, scope: loc.Scope, uid: d.User.UID, log: logPath}
}

// lazyUnits connects when the first unit step runs.
type lazyUnits struct {
	p     *platform
	scope string
	uid   int
	log   string
}

func (l *lazyUnits) get(ctx context.Context) (*actuate.SystemdUnits, error) {
	c, err := l.p.dial(ctx, l.scope, l.uid)
	if err != nil {
		return nil, err
	}
	return &actuate.SystemdUnits{Manager: c, UID: l.uid, Getenv: os.Getenv, LogHint: l.log}, nil
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

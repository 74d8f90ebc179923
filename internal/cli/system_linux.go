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
// connects only to observe — or before, by predial.
type platform struct {
	mu    sync.Mutex
	conns map[string]*dialing // by scope and uid
}

// dialing is one connection, being dialled until done is closed.
type dialing struct {
	done chan struct{}
	conn *sdbus.Conn
	err  error
	// early marks a predial: its failure is not an answer to a caller,
	// who dials again.
	early bool
}

func newPlatform() *platform { return &platform{conns: map[string]*dialing{}} }

// predial starts connecting to the manager a run of this process most
// likely asks (root's system manager, a user's own), while the run reads
// its spec and the box: the connection and its handshake take a
// millisecond or two of the manager's time, which a converged tick would
// otherwise wait for. A guess that turns out wrong costs an unused
// connection, closed with the rest; a failure is forgotten.
func (p *platform) predial(ctx context.Context) {
	scope, uid := spec.ScopeUser, os.Geteuid()
	if uid == 0 {
		scope = spec.ScopeSystem
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.startLocked(ctx, string(scope), uid, true)
}

// startLocked starts dialling scope/uid unless a dial is there already.
func (p *platform) startLocked(ctx context.Context, scope string, uid int, early bool) *dialing {
	key := scope + "/" + strconv.Itoa(uid)
	if d := p.conns[key]; d != nil {
		return d
	}
	d := &dialing{done: make(chan struct{}), early: early}
	p.conns[key] = d
	go func() {
		defer close(d.done)
		d.conn, d.err = sdbus.Dial(context.WithoutCancel(ctx), scope, uid, os.Getenv)
	}()
	return d
}

// dial returns the run's connection to the manager of scope for uid; a
// failed dial is tried again at the next call (the user manager may come up
// while --until-converged waits).
func (p *platform) dial(ctx context.Context, scope string, uid int) (*sdbus.Conn, error) {
	key := scope + "/" + strconv.Itoa(uid)
	for {
		p.mu.Lock()
		d := p.startLocked(ctx, scope, uid, false)
		p.mu.Unlock()
		select {
		case <-d.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if d.err == nil && d.conn.Connected() {
			return d.conn, nil
		}
		// Failed, or the bus went away mid-run (dbus-daemon restarted): a
		// closed connection never comes back, a new one may.
		p.mu.Lock()
		if p.conns[key] == d {
			delete(p.conns, key)
		}
		p.mu.Unlock()
		if d.conn != nil {
			d.conn.Close()
		}
		if d.err != nil && !d.early {
			return nil, d.err
		}
	}
}

// close closes every connection, waiting for one still being dialled.
func (p *platform) close() {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[string]*dialing{}
	p.mu.Unlock()
	for _, d := range conns {
		<-d.done
		if d.conn != nil {
			d.conn.Close()
		}
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

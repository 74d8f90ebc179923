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
	// dialer is sdbus.Dial (tests count and fail dials through it).
	dialer func(ctx context.Context, scope string, uid int, getenv func(string) string) (*sdbus.Conn, error)
	// life is the connections' context: it outlives a cancelled run (the
	// actuator may still need the manager to finish a step) and ends at
	// close, which unblocks a dial still in progress.
	life context.Context
	end  context.CancelFunc
}

// dialing is one connection, being dialled until done is closed.
type dialing struct {
	done chan struct{}
	conn *sdbus.Conn
	err  error
}

func newPlatform() *platform {
	life, end := context.WithCancel(context.Background())
	return &platform{conns: map[string]*dialing{}, dialer: sdbus.Dial, life: life, end: end}
}

// predial starts connecting to the manager a run of this process most
// likely asks (root's system manager, a user's own), while the run reads
// its spec and the box: the connection and its handshake take a
// millisecond or two of the manager's time, which a converged tick would
// otherwise wait for. A guess that turns out wrong costs an unused
// connection, closed with the rest; a failure is dialled again by dial.
func (p *platform) predial() {
	scope, uid := spec.ScopeUser, os.Getuid() // the uid a run dials for (currentUser)
	if uid == 0 {
		scope = spec.ScopeSystem
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.startLocked(string(scope), uid)
}

// startLocked starts dialling scope/uid unless a dial is there already.
func (p *platform) startLocked(scope string, uid int) *dialing {
	key := scope + "/" + strconv.Itoa(uid)
	if d := p.conns[key]; d != nil {
		return d
	}
	d := &dialing{done: make(chan struct{})}
	p.conns[key] = d
	go func() {
		defer close(d.done)
		d.conn, d.err = p.dialer(p.life, scope, uid, os.Getenv)
	}()
	return d
}

// dial returns the run's connection to the manager of scope for uid; a
// failed dial is tried again at the next call (the user manager may come up
// while --until-converged waits). A connection dialled before (by predial or
// an earlier call) that failed or has since closed (dbus-daemon restarted)
// is replaced by one fresh dial, whose answer is returned as it is: never
// more than one dial per call.
func (p *platform) dial(ctx context.Context, scope string, uid int) (*sdbus.Conn, error) {
	key := scope + "/" + strconv.Itoa(uid)
	for {
		p.mu.Lock()
		d, earlier := p.conns[key], true
		if d == nil {
			d, earlier = p.startLocked(scope, uid), false
		}
		p.mu.Unlock()
		select {
		case <-d.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if d.err == nil && (!earlier || d.conn.Connected()) {
			return d.conn, nil
		}
		p.mu.Lock()
		if p.conns[key] == d {
			delete(p.conns, key)
		}
		p.mu.Unlock()
		if !earlier {
			return nil, d.err
		}
		// A closed connection never comes back; a new one may.
		if d.conn != nil {
			d.conn.Close()
		}
	}
}

// close closes every connection. It first ends the connections' context,
// so that a dial still in progress (a manager that accepted and then never
// answered) gives up instead of holding the run's exit.
func (p *platform) close() {
	p.end()
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

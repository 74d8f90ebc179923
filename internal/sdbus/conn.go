package sdbus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"

	"github.com/parachute/reconcile/state"
)

// Conn is a connection to one systemd manager. It is safe for concurrent
// use. Close it when done.
//
// Reads (UnitProps, LoadStates) go over a connection of this package's
// own (wireconn.go), a flight of calls per round trip. The changes go
// through go-systemd, whose job tracking needs godbus's signal dispatch:
// its connection is a second one, dialled on the first change, so a run
// that only looks pays for neither. From then on the reads go over it too
// and the first is closed: the manager sends its signals to every private
// connection, and only godbus's reader drains them while a run waits
// between its steps; the reads' connection, read only when asked, would
// hold them all (in the kernel's buffer, then in the manager's memory).
type Conn struct {
	wire     *wireConn
	scope    string
	endpoint Endpoint
	life     context.Context // Dial's: the changes' connection lives as long

	mu    sync.Mutex // guards the changes' connection
	raw   *godbus.Conn
	sd    *sddbus.Conn
	sdErr error
}

// Props are the properties of one unit as its manager sees it: state's
// UnitProps, so that the observer's interface names no type of this package.
type Props = state.UnitProps

// Dial connects to the manager of scope ("system" or "user") for uid, trying
// the Endpoints in order and returning the last error when none answers.
// getenv reads the environment (os.Getenv). The connection authenticates
// with EXTERNAL as the process's effective uid and lives until Close or
// until ctx ends, whichever comes first, so pass the run's context, not a
// per-call timeout.
func Dial(ctx context.Context, scope string, uid int, getenv func(string) string) (*Conn, error) {
	eps, err := Endpoints(scope, uid, getenv, socketExists)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ep := range eps {
		w, err := dialWire(ctx, ep, os.Geteuid())
		if err == nil {
			return &Conn{wire: w, scope: scope, endpoint: ep, life: ctx}, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep.Address, err))
	}
	return nil, fmt.Errorf("%s manager unreachable: %w", scope, errors.Join(errs...))
}

// dialEndpoint opens, authenticates and (on a bus) registers one godbus
// connection, for go-systemd: a run that changes something pays godbus's
// four-round-trip authentication once (handshake.go says why the reads do
// not).
func dialEndpoint(ctx context.Context, ep Endpoint) (*godbus.Conn, error) {
	conn, err := godbus.Dial(ep.Address, godbus.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	// EXTERNAL with the numeric uid, as go-systemd does: no user name
	// lookup, and the kernel vouches for it (SO_PEERCRED).
	if err := conn.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(os.Geteuid()))}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if !ep.Private {
		if err := conn.Hello(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("hello: %w", err)
		}
	}
	return conn, nil
}

// manager is go-systemd's connection to the same endpoint, dialled on
// first use (a failed dial is not tried again on this Conn: the platform
// dials a new Conn). go-systemd dials twice (one connection for calls, one
// for signals); both are this one: godbus delivers replies and signals on
// one connection and closes it once.
func (c *Conn) manager() (*sddbus.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sd == nil && c.sdErr == nil {
		raw, err := dialEndpoint(c.life, c.endpoint)
		if err != nil {
			c.sdErr = fmt.Errorf("%s manager: %w", c.scope, err)
			return nil, c.sdErr
		}
		c.raw = raw
		c.sd, c.sdErr = sddbus.NewConnection(func() (*godbus.Conn, error) { return raw, nil })
		c.wire.close() // the reads go over raw now (Conn)
	}
	return c.sd, c.sdErr
}

// changes is go-systemd's connection once a change has opened it, else nil.
func (c *Conn) changes() *godbus.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw
}

// Scope is the scope the connection was dialled for.
func (c *Conn) Scope() string { return c.scope }

// Endpoint is where the connection went.
func (c *Conn) Endpoint() Endpoint { return c.endpoint }

// Connected reports whether the connection still stands (a dbus-daemon
// that restarted leaves it closed for good: dial again).
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw != nil {
		return c.raw.Connected()
	}
	return c.wire.connected() && c.sdErr == nil
}

// Close closes the connection (both, once the changes' is open).
func (c *Conn) Close() {
	c.wire.close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw != nil {
		c.raw.Close()
	}
}

const (
	systemdDest  = "org.freedesktop.systemd1"
	systemdPath  = "/org/freedesktop/systemd1"
	unitIface    = "org.freedesktop.systemd1.Unit"
	serviceIface = "org.freedesktop.systemd1.Service"
)

// A unitProp is one property UnitProps reads; a required one fails the read
// when the manager does not answer it, the others (newer than some
// managers: NRestarts since 235) are left zero.
type unitProp struct {
	iface, name string
	required    bool
}

// stateProps are read for every unit; outcomeProps, how the last run of
// its main process ended, only for a unit that is not active and running:
// a converged box's tick does not ask for them.
var (
	stateProps = []unitProp{
		{unitIface, "LoadState", true}, {unitIface, "ActiveState", true}, {unitIface, "SubState", true},
		{unitIface, "UnitFileState", false}, {unitIface, "FragmentPath", true}, {unitIface, "NeedDaemonReload", true},
		{unitIface, "DropInPaths", true},
		{serviceIface, "MainPID", true}, {serviceIface, "ControlGroup", true}, {serviceIface, "ExecStart", false},
	}
	outcomeProps = []unitProp{
		{serviceIface, "Result", false}, {serviceIface, "ExecMainCode", false}, {serviceIface, "ExecMainStatus", false},
		{serviceIface, "NRestarts", false},
	}
)

// UnitProps reads the properties of unit name. A unit the manager does not
// know is not an error: its LoadState is "not-found" (systemd loads units
// on demand when asked about them).
//
// Each property is one Get, all of a flight sent before the first answer
// is read: one round trip (two for a service not active and running), and
// the manager computes only what is asked (a GetAll of the Service
// interface is some 200 properties, 11 KB).
func (c *Conn) UnitProps(ctx context.Context, name string) (Props, error) {
	obj := "/org/freedesktop/systemd1/unit/" + sddbus.PathBusEscape(name)
	service := strings.HasSuffix(name, ".service")
	vals, failed, err := c.getProps(ctx, obj, stateProps, service)
	if err != nil {
		return Props{}, fmt.Errorf("read unit %s: %w", name, err)
	}
	p := Props{
		LoadState:        str(vals["LoadState"]),
		ActiveState:      str(vals["ActiveState"]),
		SubState:         str(vals["SubState"]),
		UnitFileState:    str(vals["UnitFileState"]),
		FragmentPath:     str(vals["FragmentPath"]),
		NeedDaemonReload: vals["NeedDaemonReload"] == true,
	}
	if failed != nil && p.LoadState != "not-found" {
		// A unit that does not exist has no service properties worth
		// failing over; anything else unanswered is an error.
		return Props{}, fmt.Errorf("read unit %s: %w", name, failed)
	}
	if d, ok := vals["DropInPaths"].([]string); ok && len(d) > 0 {
		p.DropInPaths = d
	}
	if !service || p.LoadState == "not-found" {
		return p, nil
	}
	if pid, ok := vals["MainPID"].(uint32); ok {
		p.MainPID = int(pid)
	}
	p.ControlGroup = str(vals["ControlGroup"])
	p.ExecStart = execStart(vals["ExecStart"])
	if p.ActiveState != "active" || p.SubState != "running" {
		out, _, err := c.getProps(ctx, obj, outcomeProps, service)
		if err != nil {
			// Not "no outcome": the question was never answered.
			return Props{}, fmt.Errorf("read unit %s: %w", name, err)
		}
		p.Result = str(out["Result"])
		p.ExecMainCode = intProp(out["ExecMainCode"])
		p.ExecMainStatus = intProp(out["ExecMainStatus"])
		p.NRestarts = intProp(out["NRestarts"])
	}
	return p, nil
}

// getProps sends one Get per property in props (the Service ones only for
// a service) as one flight, and returns the values by name and the first
// required one the manager refused (failed); err is the connection's.
func (c *Conn) getProps(ctx context.Context, obj string, props []unitProp, service bool) (vals map[string]any, failed, err error) {
	var asked []unitProp
	var calls []call
	for _, p := range props {
		if p.iface == serviceIface && !service {
			continue
		}
		asked = append(asked, p)
		calls = append(calls, call{dest: systemdDest, path: obj, iface: "org.freedesktop.DBus.Properties", member: "Get", args: []any{p.iface, p.name}})
	}
	var values func(i int) (any, error)
	if raw := c.changes(); raw != nil {
		values, err = getVia(ctx, raw, calls)
	} else {
		values, err = getWire(ctx, c.wire, calls)
	}
	if err != nil {
		return nil, nil, err
	}
	vals = make(map[string]any, len(asked))
	for i := range asked {
		v, err := values(i)
		if err != nil {
			if asked[i].required && failed == nil {
				failed = fmt.Errorf("%s: %w", asked[i].name, err)
			}
			continue
		}
		vals[asked[i].name] = v
	}
	return vals, failed, nil
}

// getWire makes calls over the reads' connection and returns each one's
// value (a variant's, for a Get).
func getWire(ctx context.Context, w *wireConn, calls []call) (func(int) (any, error), error) {
	answers, err := w.roundTrip(ctx, calls)
	if err != nil {
		return nil, err
	}
	return func(i int) (any, error) { return answerValue(answers[i], "v") }, nil
}

// getVia makes the same calls over go-systemd's godbus connection, all in
// flight before the first answer is awaited.
func getVia(ctx context.Context, raw *godbus.Conn, calls []call) (func(int) (any, error), error) {
	pending := make([]*godbus.Call, len(calls))
	for i, c := range calls {
		pending[i] = raw.Object(c.dest, godbus.ObjectPath(c.path)).GoWithContext(ctx, c.iface+"."+c.member, 0, make(chan *godbus.Call, 1), c.args...)
	}
	for _, p := range pending {
		<-p.Done
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !raw.Connected() {
		return nil, errors.New("connection closed")
	}
	return func(i int) (any, error) {
		var v godbus.Variant
		if err := pending[i].Store(&v); err != nil {
			return nil, err
		}
		return v.Value(), nil
	}, nil
}

// answerValue is the one value of an answer whose signature must be sig;
// an error answer is its error.
func answerValue(m *message, sig string) (any, error) {
	if m.typ == msgError {
		return nil, replyError(m)
	}
	if m.signature != sig {
		return nil, fmt.Errorf("the answer's signature is %q, not %q", m.signature, sig)
	}
	vs, err := m.values()
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

// LoadStates asks for the LoadState of every unit in names in one call
// (ListUnitsByNames) and returns them by name: "not-found" for a unit the
// manager has no file for. It is how an observation checks a dozen possible
// stale units for the price of one round trip.
func (c *Conn) LoadStates(ctx context.Context, names []string) (map[string]string, error) {
	list := call{dest: systemdDest, path: systemdPath, iface: "org.freedesktop.systemd1.Manager", member: "ListUnitsByNames", args: []any{names}}
	out := map[string]string{}
	var err error
	if raw := c.changes(); raw != nil {
		var units []struct {
			Name, Description, LoadState, ActiveState, SubState, Followed string
			Path                                                          godbus.ObjectPath
			JobID                                                         uint32
			JobType                                                       string
			JobPath                                                       godbus.ObjectPath
		}
		err = raw.Object(list.dest, godbus.ObjectPath(list.path)).CallWithContext(ctx, list.iface+"."+list.member, 0, names).Store(&units)
		for _, u := range units {
			out[u.Name] = u.LoadState
		}
	} else {
		var answers []*message
		var v any
		if answers, err = c.wire.roundTrip(ctx, []call{list}); err == nil {
			v, err = answerValue(answers[0], "a(ssssssouso)")
		}
		if err == nil {
			for _, u := range v.([][]any) {
				out[u[0].(string)] = u[2].(string)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list units %s: %w", strings.Join(names, ", "), err)
	}
	return out, nil
}

// intProp reads an integer property of any D-Bus integer width (0 when it
// is missing or not a number: older managers lack NRestarts).
func intProp(v any) int {
	switch n := v.(type) {
	case int32:
		return int(n)
	case uint32:
		return int(n)
	case int64:
		return int(n)
	case uint64:
		return int(n)
	}
	return 0
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Reload is `systemctl daemon-reload`: the manager rereads every unit file.
// It returns once the reload is done.
func (c *Conn) Reload(ctx context.Context) error {
	m, err := c.manager()
	if err == nil {
		err = m.ReloadContext(ctx)
	}
	if err != nil {
		return fmt.Errorf("daemon-reload %s manager: %w", c.scope, err)
	}
	return nil
}

// Enable is `systemctl enable NAMES…`: it links the units into the targets
// their [Install] sections name, then reloads the manager as systemctl does.
func (c *Conn) Enable(ctx context.Context, names []string) error {
	if _, err := c.EnableFiles(ctx, names); err != nil {
		return err
	}
	return c.Reload(ctx)
}

// EnableFiles is `systemctl enable --no-reload NAMES…`: the install links
// only. A unit the manager has not loaded yet reads them when it loads; one
// it has loaded keeps reporting its old UnitFileState until a Reload.
// linked says whether the manager made or removed a link (false when
// every link was already in place); it is what the files say, not the
// manager's possibly stale UnitFileState. Only "symlink" and "unlink"
// changes count, as systemctl counts them: the others the manager reports
// (a destination not present, a dangling or masked unit) change nothing.
func (c *Conn) EnableFiles(ctx context.Context, names []string) (linked bool, err error) {
	m, err := c.manager()
	var changes []sddbus.EnableUnitFileChange
	if err == nil {
		_, changes, err = m.EnableUnitFilesContext(ctx, names, false, false)
	}
	if err != nil {
		return false, fmt.Errorf("enable %s: %w", strings.Join(names, ", "), err)
	}
	for _, ch := range changes {
		if ch.Type == "symlink" || ch.Type == "unlink" {
			return true, nil
		}
	}
	return false, nil
}

// Disable is `systemctl disable NAMES…`: it removes the units' install
// links, then reloads the manager as systemctl does. It does not stop them.
func (c *Conn) Disable(ctx context.Context, names []string) error {
	if err := c.DisableFiles(ctx, names); err != nil {
		return err
	}
	return c.Reload(ctx)
}

// DisableFiles is `systemctl disable --no-reload NAMES…`: the install links
// only, for a caller that changes more files and reloads once after. A name
// with neither a unit file nor a link left is refused by the manager
// (IsNoSuchUnit); a link whose file is gone is still removed.
func (c *Conn) DisableFiles(ctx context.Context, names []string) error {
	m, err := c.manager()
	if err == nil {
		_, err = m.DisableUnitFilesContext(ctx, names, false)
	}
	if err != nil {
		return fmt.Errorf("disable %s: %w", strings.Join(names, ", "), err)
	}
	return nil
}

// NoSuchUnit is the D-Bus error systemd answers an install-link change
// (DisableUnitFiles, EnableUnitFiles) with when a name has no unit file
// in any unit directory and no link to remove: "Unit file NAME does not
// exist." systemd gives the same name to "Unit NAME not loaded." (GetUnit;
// StopUnit on an inactive unit it could not load): what it means depends
// on the call it answers, and each caller reads it for its own call
// (actuate.SystemdUnits.Stop for both, the timer's removal for
// DisableUnitFiles).
const NoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"

// IsNoSuchUnit reports whether err is, or wraps, the manager's NoSuchUnit
// answer. Nothing else — a dropped connection, a refusal, a timeout — is:
// those say nothing about what the manager has.
func IsNoSuchUnit(err error) bool {
	if de, ok := errors.AsType[godbus.Error](err); ok {
		return de.Name == NoSuchUnit
	}
	de, ok := errors.AsType[*godbus.Error](err) // godbus.NewError's form
	return ok && de != nil && de.Name == NoSuchUnit
}

// Start starts unit name (mode "replace") and waits for its job. It returns
// the job result; anything but "done" (failed, timeout, canceled,
// dependency, skipped) is also an error naming the unit. For a
// Type=simple service "done" means forked, not healthy.
func (c *Conn) Start(ctx context.Context, name string) (string, error) {
	return c.job(ctx, "start", name, (*sddbus.Conn).StartUnitContext)
}

// Restart restarts unit name (mode "replace") and waits for its job, as
// Start does. A start job on a unit waiting to restart (auto-restart) only
// waits for the restart timer; a restart job runs it now.
func (c *Conn) Restart(ctx context.Context, name string) (string, error) {
	return c.job(ctx, "restart", name, (*sddbus.Conn).RestartUnitContext)
}

// Stop stops unit name (mode "replace") and waits for its job; any result
// but "done" is an error naming the unit.
func (c *Conn) Stop(ctx context.Context, name string) error {
	_, err := c.job(ctx, "stop", name, (*sddbus.Conn).StopUnitContext)
	return err
}

// ResetFailed is `systemctl reset-failed NAME`: it clears the failed state
// and the start-limit counter. It is not a job: it returns at once.
func (c *Conn) ResetFailed(ctx context.Context, name string) error {
	m, err := c.manager()
	if err == nil {
		err = m.ResetFailedUnitContext(ctx, name)
	}
	if err != nil {
		return fmt.Errorf("reset-failed %s: %w", name, err)
	}
	return nil
}

// job queues a start or stop job and waits for its result or ctx.
func (c *Conn) job(ctx context.Context, verb, name string, queue func(*sddbus.Conn, context.Context, string, string, chan<- string) (int, error)) (string, error) {
	m, err := c.manager()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", verb, name, err)
	}
	// Buffered: go-systemd delivers the result while holding its job lock,
	// so it must never block, even after we stopped waiting.
	ch := make(chan string, 1)
	if _, err := queue(m, ctx, name, "replace", ch); err != nil {
		return "", fmt.Errorf("%s %s: %w", verb, name, err)
	}
	select {
	case r := <-ch:
		if r != "done" {
			return r, fmt.Errorf("%s %s: job %s", verb, name, r)
		}
		return r, nil
	case <-ctx.Done():
		return "", fmt.Errorf("%s %s: waiting for the job: %w", verb, name, ctx.Err())
	}
}

// execStart decodes the ExecStart property, a(sasbttttuii): per command its
// path, its argv, and status fields this package does not need.
func execStart(v any) [][]string {
	cmds, ok := v.([][]any)
	if !ok {
		return nil
	}
	var out [][]string
	for _, c := range cmds {
		if len(c) < 2 {
			continue
		}
		if argv, ok := c[1].([]string); ok && len(argv) > 0 {
			out = append(out, argv)
		}
	}
	return out
}

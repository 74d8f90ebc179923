package sdbus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"

	"github.com/parachute/reconcile/state"
)

// Conn is a connection to one systemd manager. It is safe for concurrent
// use. Close it when done.
type Conn struct {
	c        *sddbus.Conn
	scope    string
	endpoint Endpoint
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
		c, err := sddbus.NewConnection(once(func() (*godbus.Conn, error) { return dialEndpoint(ctx, ep) }))
		if err == nil {
			return &Conn{c: c, scope: scope, endpoint: ep}, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep.Address, err))
	}
	return nil, fmt.Errorf("%s manager unreachable: %w", scope, errors.Join(errs...))
}

// once makes go-systemd's NewConnection, which dials twice (one
// connection for method calls, one only for signals), share one
// connection for both: a second dial, authentication and, on a bus, Hello
// cost as much as everything else a no-op run asks. godbus delivers
// signals and replies on the same connection, and closes it once.
func once(dial func() (*godbus.Conn, error)) func() (*godbus.Conn, error) {
	var conn *godbus.Conn
	return func() (*godbus.Conn, error) {
		if conn != nil {
			return conn, nil
		}
		c, err := dial()
		if err != nil {
			return nil, err
		}
		conn = c
		return conn, nil
	}
}

// dialEndpoint opens, authenticates and (on a bus) registers one connection.
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

// Scope is the scope the connection was dialled for.
func (c *Conn) Scope() string { return c.scope }

// Endpoint is where the connection went.
func (c *Conn) Endpoint() Endpoint { return c.endpoint }

// Connected reports whether the connection still stands (a dbus-daemon
// that restarted leaves it closed for good: dial again).
func (c *Conn) Connected() bool { return c.c.Connected() }

// Close closes the connection.
func (c *Conn) Close() { c.c.Close() }

// UnitProps reads the properties of unit name. A unit the manager does not
// know is not an error: its LoadState is "not-found" (systemd loads units
// on demand when asked about them).
func (c *Conn) UnitProps(ctx context.Context, name string) (Props, error) {
	u, err := c.c.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return Props{}, fmt.Errorf("read unit %s: %w", name, err)
	}
	p := Props{
		LoadState:        str(u["LoadState"]),
		ActiveState:      str(u["ActiveState"]),
		SubState:         str(u["SubState"]),
		UnitFileState:    str(u["UnitFileState"]),
		FragmentPath:     str(u["FragmentPath"]),
		NeedDaemonReload: u["NeedDaemonReload"] == true,
	}
	if d, ok := u["DropInPaths"].([]string); ok {
		p.DropInPaths = d
	}
	if strings.HasSuffix(name, ".service") && p.LoadState != "not-found" {
		s, err := c.c.GetUnitTypePropertiesContext(ctx, name, "Service")
		if err != nil {
			return Props{}, fmt.Errorf("read service %s: %w", name, err)
		}
		if pid, ok := s["MainPID"].(uint32); ok {
			p.MainPID = int(pid)
		}
		p.ControlGroup = str(s["ControlGroup"])
		p.Result = str(s["Result"])
		p.ExecMainCode = intProp(s["ExecMainCode"])
		p.ExecMainStatus = intProp(s["ExecMainStatus"])
		p.NRestarts = intProp(s["NRestarts"])
		p.ExecStart = execStart(s["ExecStart"])
	}
	return p, nil
}

// LoadStates asks for the LoadState of every unit in names in one call
// (ListUnitsByNames) and returns them by name: "not-found" for a unit the
// manager has no file for. It is how an observation checks a dozen possible
// stale units for the price of one round trip.
func (c *Conn) LoadStates(ctx context.Context, names []string) (map[string]string, error) {
	st, err := c.c.ListUnitsByNamesContext(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("list units %s: %w", strings.Join(names, ", "), err)
	}
	out := make(map[string]string, len(st))
	for _, u := range st {
		out[u.Name] = u.LoadState
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
	if err := c.c.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload %s manager: %w", c.scope, err)
	}
	return nil
}

// Enable is `systemctl enable NAMES…`: it links the units into the targets
// their [Install] sections name, then reloads the manager as systemctl does.
func (c *Conn) Enable(ctx context.Context, names []string) error {
	if _, _, err := c.c.EnableUnitFilesContext(ctx, names, false, false); err != nil {
		return fmt.Errorf("enable %s: %w", strings.Join(names, ", "), err)
	}
	return c.Reload(ctx)
}

// EnableFiles is `systemctl enable --no-reload NAMES…`: the install links
// only. A unit the manager has not loaded yet reads them when it loads; one
// it has loaded keeps reporting its old UnitFileState until a Reload.
func (c *Conn) EnableFiles(ctx context.Context, names []string) error {
	if _, _, err := c.c.EnableUnitFilesContext(ctx, names, false, false); err != nil {
		return fmt.Errorf("enable %s: %w", strings.Join(names, ", "), err)
	}
	return nil
}

// Disable is `systemctl disable NAMES…`: it removes the units' install
// links, then reloads the manager as systemctl does. It does not stop them.
func (c *Conn) Disable(ctx context.Context, names []string) error {
	if _, err := c.c.DisableUnitFilesContext(ctx, names, false); err != nil {
		return fmt.Errorf("disable %s: %w", strings.Join(names, ", "), err)
	}
	return c.Reload(ctx)
}

// Start starts unit name (mode "replace") and waits for its job. It returns
// the job result; anything but "done" (failed, timeout, canceled,
// dependency, skipped) is also an error naming the unit. For a
// Type=simple service "done" means forked, not healthy.
func (c *Conn) Start(ctx context.Context, name string) (string, error) {
	return c.job(ctx, "start", name, c.c.StartUnitContext)
}

// Restart restarts unit name (mode "replace") and waits for its job, as
// Start does. A start job on a unit waiting to restart (auto-restart) only
// waits for the restart timer; a restart job runs it now.
func (c *Conn) Restart(ctx context.Context, name string) (string, error) {
	return c.job(ctx, "restart", name, c.c.RestartUnitContext)
}

// Stop stops unit name (mode "replace") and waits for its job; any result
// but "done" is an error naming the unit.
func (c *Conn) Stop(ctx context.Context, name string) error {
	_, err := c.job(ctx, "stop", name, c.c.StopUnitContext)
	return err
}

// ResetFailed is `systemctl reset-failed NAME`: it clears the failed state
// and the start-limit counter. It is not a job: it returns at once.
func (c *Conn) ResetFailed(ctx context.Context, name string) error {
	if err := c.c.ResetFailedUnitContext(ctx, name); err != nil {
		return fmt.Errorf("reset-failed %s: %w", name, err)
	}
	return nil
}

// job queues a start or stop job and waits for its result or ctx.
func (c *Conn) job(ctx context.Context, verb, name string, queue func(context.Context, string, string, chan<- string) (int, error)) (string, error) {
	// Buffered: go-systemd delivers the result while holding its job lock,
	// so it must never block, even after we stopped waiting.
	ch := make(chan string, 1)
	if _, err := queue(ctx, name, "replace", ch); err != nil {
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

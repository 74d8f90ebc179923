package sdbus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	godbus "github.com/godbus/dbus/v5"

	"github.com/parachute/reconcile/spec"
)

// busConfig is a private bus daemon that anyone on this machine may own
// names on; it listens only on a socket in the test's directory.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus runs a private dbus-daemon (a real bus, our own process) and
// returns its socket. The daemon is killed by pid when the test ends.
func startBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon not installed")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(busConfig, sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	// --print-address writes the address once the daemon listens: no polling.
	cmd := exec.Command(daemon, "--config-file="+cfg, "--nofork", "--nopidfile", "--print-address=1")
	var stderr strings.Builder // "failed to set fd limit" and the like, shown on failure
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // our own child, by its pid
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("dbus-daemon: %s", stderr.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, sock) {
		t.Fatalf("dbus-daemon printed %q, %v", line, err)
	}
	return sock
}

// fakeSystemd answers the org.freedesktop.systemd1 calls sdbus makes, over a
// real bus connection, with systemd's signatures, and emits JobRemoved as
// systemd does.
type fakeSystemd struct {
	conn  *godbus.Conn
	mu    sync.Mutex
	units map[string]map[string]any // name -> properties
	jobs  uint32
	fail  map[string]string // unit -> job result to report instead of done
	calls []string
}

type unitObject struct {
	f    *fakeSystemd
	name string
}

// Get is org.freedesktop.DBus.Properties.Get on a unit object: systemd's
// UnknownProperty for a property the unit's interface does not have.
func (u unitObject) Get(iface, name string) (godbus.Variant, *godbus.Error) {
	all, _ := u.GetAll(iface)
	v, ok := all[name]
	if !ok {
		return godbus.Variant{}, godbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{"Unknown property " + name})
	}
	return v, nil
}

// GetAll is org.freedesktop.DBus.Properties.GetAll on a unit object.
func (u unitObject) GetAll(iface string) (map[string]godbus.Variant, *godbus.Error) {
	u.f.mu.Lock()
	defer u.f.mu.Unlock()
	props, ok := u.f.units[u.name]
	if !ok {
		props = map[string]any{"LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "",
			"NeedDaemonReload": false, "FragmentPath": "", "MainPID": uint32(0), "ControlGroup": "", "Result": "success"}
	}
	if _, ok := props["DropInPaths"]; !ok {
		props["DropInPaths"] = []string{}
	}
	unitKeys := []string{"LoadState", "ActiveState", "SubState", "UnitFileState", "NeedDaemonReload", "FragmentPath", "DropInPaths"}
	serviceKeys := []string{"MainPID", "ControlGroup", "Result"}
	keys := unitKeys
	if iface == "org.freedesktop.systemd1.Service" {
		keys = serviceKeys
	}
	out := map[string]godbus.Variant{}
	for _, k := range keys {
		out[k] = godbus.MakeVariant(props[k])
	}
	return out, nil
}

type manager struct{ f *fakeSystemd }

func (m manager) job(verb, name, mode string) (godbus.ObjectPath, *godbus.Error) {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.calls = append(m.f.calls, verb+" "+name+" "+mode)
	props, ok := m.f.units[name]
	if !ok {
		return "", godbus.NewError("org.freedesktop.systemd1.NoSuchUnit", []any{"Unit " + name + " not found."})
	}
	result := "done"
	if r, ok := m.f.fail[name]; ok && verb == "start" {
		result = r
		props["ActiveState"], props["SubState"], props["Result"] = "failed", "failed", "exit-code"
	} else if verb == "start" {
		props["ActiveState"], props["SubState"], props["MainPID"] = "active", "running", uint32(4242)
	} else {
		props["ActiveState"], props["SubState"], props["MainPID"] = "inactive", "dead", uint32(0)
	}
	m.f.jobs++
	id := m.f.jobs
	path := godbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id))
	go func() { // after the reply, as systemd does
		time.Sleep(time.Millisecond)
		_ = m.f.conn.Emit("/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager.JobRemoved", id, path, name, result)
	}()
	return path, nil
}

func (m manager) StartUnit(name, mode string) (godbus.ObjectPath, *godbus.Error) {
	return m.job("start", name, mode)
}

func (m manager) StopUnit(name, mode string) (godbus.ObjectPath, *godbus.Error) {
	return m.job("stop", name, mode)
}

func (m manager) Reload() *godbus.Error {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.calls = append(m.f.calls, "reload")
	return nil
}

type change struct{ Type, Filename, Destination string }

func (m manager) EnableUnitFiles(files []string, runtime, force bool) (bool, []change, *godbus.Error) {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.calls = append(m.f.calls, fmt.Sprintf("enable %v runtime=%v force=%v", files, runtime, force))
	var ch []change
	for _, f := range files {
		if p, ok := m.f.units[f]; ok {
			p["UnitFileState"] = "enabled"
			ch = append(ch, change{"symlink", "/etc/systemd/system/multi-user.target.wants/" + f, "/etc/systemd/system/" + f})
		}
	}
	return true, ch, nil
}

func (m manager) DisableUnitFiles(files []string, runtime bool) ([]change, *godbus.Error) {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.calls = append(m.f.calls, fmt.Sprintf("disable %v runtime=%v", files, runtime))
	for _, f := range files {
		if p, ok := m.f.units[f]; ok {
			p["UnitFileState"] = "disabled"
		}
	}
	return []change{}, nil
}

// unitStatus is one entry of ListUnitsByNames, a(ssssssouso).
type unitStatus struct {
	Name, Description, LoadState, ActiveState, SubState, Followed string
	Path                                                          godbus.ObjectPath
	JobID                                                         uint32
	JobType                                                       string
	JobPath                                                       godbus.ObjectPath
}

// ListUnitsByNames answers as systemd does: an entry for every name,
// not-found for a unit it has no file for.
func (m manager) ListUnitsByNames(names []string) ([]unitStatus, *godbus.Error) {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	var out []unitStatus
	for _, n := range names {
		st := unitStatus{Name: n, LoadState: "not-found", ActiveState: "inactive", SubState: "dead", Path: "/org/freedesktop/systemd1/unit/x", JobPath: "/"}
		if p, ok := m.f.units[n]; ok {
			st.LoadState, st.ActiveState, st.SubState = p["LoadState"].(string), p["ActiveState"].(string), p["SubState"].(string)
		}
		out = append(out, st)
	}
	return out, nil
}

func (m manager) ResetFailedUnit(name string) *godbus.Error {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.calls = append(m.f.calls, "reset-failed "+name)
	if p, ok := m.f.units[name]; ok && p["ActiveState"] == "failed" {
		p["ActiveState"], p["SubState"] = "inactive", "dead"
	}
	return nil
}

// startFakeSystemd connects to the bus at sock, owns org.freedesktop.systemd1
// and exports the manager and the given units.
func startFakeSystemd(t *testing.T, sock string, units map[string]map[string]any) *fakeSystemd {
	t.Helper()
	conn, err := dialEndpoint(context.Background(), Endpoint{Address: "unix:path=" + godbus.EscapeBusAddressValue(sock), Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakeSystemd{conn: conn, units: units, fail: map[string]string{}}
	if err := conn.Export(manager{f}, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"parachute-hub.service", "parachute-vault.service", "broken.service"} {
		path := godbus.ObjectPath("/org/freedesktop/systemd1/unit/" + busEscape(name))
		if err := conn.Export(unitObject{f, name}, path, "org.freedesktop.DBus.Properties"); err != nil {
			t.Fatal(err)
		}
	}
	reply, err := conn.RequestName("org.freedesktop.systemd1", godbus.NameFlagDoNotQueue)
	if err != nil || reply != godbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.systemd1: %v, %v", reply, err)
	}
	return f
}

// busEscape is systemd's object path escaping of a unit name.
func busEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9' && i > 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return b.String()
}

// TestConnOverARealBus drives every Conn method over a real dbus-daemon
// against a stand-in for systemd that speaks its D-Bus interface: dialling
// by DBUS_SESSION_BUS_ADDRESS, EXTERNAL auth, Hello, property types, job
// waiting on JobRemoved, failures named with the unit, and Close leaving no
// goroutine behind (TestMain's goleak).
func TestConnOverARealBus(t *testing.T) {
	sock := startBus(t)
	f := startFakeSystemd(t, sock, map[string]map[string]any{
		"parachute-hub.service": {"LoadState": "loaded", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "disabled",
			"NeedDaemonReload": true, "FragmentPath": "/etc/systemd/system/parachute-hub.service", "MainPID": uint32(0),
			"ControlGroup": "/system.slice/parachute-hub.service", "Result": "success"},
		"broken.service": {"LoadState": "loaded", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "disabled",
			"NeedDaemonReload": false, "FragmentPath": "/etc/systemd/system/broken.service", "MainPID": uint32(0), "ControlGroup": "", "Result": "success"},
	})
	f.fail["broken.service"] = "failed"

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, string(spec.ScopeUser), os.Getuid(), env("DBUS_SESSION_BUS_ADDRESS", "unix:path="+godbus.EscapeBusAddressValue(sock), "XDG_RUNTIME_DIR", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Scope() != string(spec.ScopeUser) || c.Endpoint().Socket != sock || c.Endpoint().Private {
		t.Errorf("connected to %+v (%s)", c.Endpoint(), c.Scope())
	}

	p, err := c.UnitProps(ctx, "parachute-hub.service")
	if err != nil {
		t.Fatal(err)
	}
	want := Props{LoadState: "loaded", ActiveState: "inactive", SubState: "dead", UnitFileState: "disabled", NeedDaemonReload: true,
		FragmentPath: "/etc/systemd/system/parachute-hub.service", ControlGroup: "/system.slice/parachute-hub.service", Result: "success"}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("UnitProps = %+v\nwant %+v", p, want)
	}
	p, err = c.UnitProps(ctx, "parachute-vault.service")
	if err != nil || p.LoadState != "not-found" {
		t.Errorf("unknown unit: %+v, %v", p, err)
	}
	states, err := c.LoadStates(ctx, []string{"parachute-hub.service", "parachute-vault.service"})
	if want := map[string]string{"parachute-hub.service": "loaded", "parachute-vault.service": "not-found"}; err != nil || !reflect.DeepEqual(states, want) {
		t.Errorf("LoadStates = %v, %v; want %v", states, err, want)
	}

	if err := c.Enable(ctx, []string{"parachute-hub.service"}); err != nil {
		t.Fatal(err)
	}
	// From the first change on, the reads go over go-systemd's connection,
	// which drains the manager's signals, and the reads' own is closed.
	if c.wire.connected() || !c.Connected() {
		t.Errorf("after a change: reads' connection open %t, Conn connected %t; want closed, connected", c.wire.connected(), c.Connected())
	}
	states, err = c.LoadStates(ctx, []string{"parachute-hub.service", "parachute-vault.service"})
	if want := map[string]string{"parachute-hub.service": "loaded", "parachute-vault.service": "not-found"}; err != nil || !reflect.DeepEqual(states, want) {
		t.Errorf("LoadStates after a change = %v, %v; want %v", states, err, want)
	}
	if r, err := c.Start(ctx, "parachute-hub.service"); err != nil || r != "done" {
		t.Fatalf("Start = %q, %v", r, err)
	}
	p, _ = c.UnitProps(ctx, "parachute-hub.service")
	if p.ActiveState != "active" || p.MainPID != 4242 || p.UnitFileState != "enabled" {
		t.Errorf("after enable+start: %+v", p)
	}
	if err := c.Stop(ctx, "parachute-hub.service"); err != nil {
		t.Fatal(err)
	}
	if err := c.Disable(ctx, []string{"parachute-hub.service"}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Start(ctx, "broken.service")
	if r != "failed" || err == nil || err.Error() != "start broken.service: job failed" {
		t.Errorf("failing start = %q, %v", r, err)
	}
	// A unit that is not running has its outcome read too (the second
	// flight); a running one does not need it.
	if p, err := c.UnitProps(ctx, "broken.service"); err != nil || p.ActiveState != "failed" || p.Result != "exit-code" {
		t.Errorf("failed unit: %+v, %v; want its Result", p, err)
	}
	if err := c.ResetFailed(ctx, "broken.service"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, "missing.service"); err == nil || !strings.Contains(err.Error(), "start missing.service") || !strings.Contains(err.Error(), "not found") {
		t.Errorf("start of an unknown unit: %v", err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	calls := strings.Join(f.calls, "\n")
	f.mu.Unlock()
	wantCalls := strings.Join([]string{
		"enable [parachute-hub.service] runtime=false force=false", "reload",
		"start parachute-hub.service replace",
		"stop parachute-hub.service replace",
		"disable [parachute-hub.service] runtime=false", "reload",
		"start broken.service replace",
		"reset-failed broken.service",
		"start missing.service replace",
		"reload",
	}, "\n")
	if calls != wantCalls {
		t.Errorf("systemd saw\n%s\nwant\n%s", calls, wantCalls)
	}
}

// TestDialBusWithoutSystemd: a bus with no systemd on it dials, and the
// first property read names the unit and the missing service.
func TestDialBusWithoutSystemd(t *testing.T) {
	sock := startBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, string(spec.ScopeUser), os.Getuid(), env("DBUS_SESSION_BUS_ADDRESS", "unix:path="+sock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.UnitProps(ctx, "parachute-hub.service")
	if err == nil || !strings.Contains(err.Error(), "read unit parachute-hub.service") || !strings.Contains(err.Error(), "org.freedesktop.systemd1") {
		t.Errorf("err = %v", err)
	}
}

// Only the manager's NoSuchUnit answer, wrapped or not, is NoSuchUnit.
func TestIsNoSuchUnit(t *testing.T) {
	nsu := godbus.Error{Name: NoSuchUnit, Body: []any{"Unit file x.timer does not exist."}}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nsu, true},
		{fmt.Errorf("disable x.timer: %w", nsu), true},
		{&nsu, true},
		{godbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied"}, false},
		{godbus.Error{Name: "org.freedesktop.DBus.Error.NoReply"}, false},
		{errors.New(NoSuchUnit), false},
		{nil, false},
	} {
		if got := IsNoSuchUnit(c.err); got != c.want {
			t.Errorf("IsNoSuchUnit(%#v) = %t, want %t", c.err, got, c.want)
		}
	}
}

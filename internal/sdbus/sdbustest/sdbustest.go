// Package sdbustest is a working in-memory systemd manager with the methods
// of sdbus.Conn, for tests of code that reads or drives units: unit files
// appear with AddFile, Reload loads them, EnableFiles/DisableFiles make and
// remove install links (UnitFileState follows them at the next load, as
// systemd's does), Enable/Disable/Start/Stop change state as systemd would,
// and FailNext makes the next call of a method fail.
//
// It never talks to a real manager and starts no process: a started
// service gets a made-up MainPID.
package sdbustest

import (
	"context"
	"fmt"
	"sort"
	"sync"

	godbus "github.com/godbus/dbus/v5"

	"github.com/parachute/reconcile/internal/sdbus"
	"github.com/parachute/reconcile/unitfile"
)

// Manager is one fake systemd manager (one scope). Safe for concurrent use.
type Manager struct {
	mu       sync.Mutex
	files    map[string]string // name -> content on "disk"
	loaded   map[string]string // name -> content at the last Reload
	links    map[string]bool   // name -> its install links are in place
	units    map[string]*sdbus.Props
	failNext map[string][]error
	results  map[string]string // name -> start job result to give (failed, timeout, …)
	nextPid  int
	cgroup   string
	calls    []string
	closed   bool
}

// New returns a manager with no units whose services live under cgroupBase
// ("/user.slice/user-1000.slice/user@1000.service/app.slice").
func New(cgroupBase string) *Manager {
	return &Manager{
		files: map[string]string{}, loaded: map[string]string{}, links: map[string]bool{}, units: map[string]*sdbus.Props{},
		failNext: map[string][]error{}, results: map[string]string{}, nextPid: 4000, cgroup: cgroupBase,
	}
}

// AddFile puts a unit file on the fake disk (as writing it would). The
// manager notices on the next Reload; until then a loaded unit reports
// NeedDaemonReload.
func (m *Manager) AddFile(name, content string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[name] = content
}

// RemoveFile deletes a unit file from the fake disk.
func (m *Manager) RemoveFile(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, name)
}

// FailNext makes the next call of method ("UnitProps", "Reload", "Enable",
// "Disable", "EnableFiles", "DisableFiles", "Start", "Restart", "Stop",
// "ResetFailed") return err; calls queue up.
func (m *Manager) FailNext(method string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failNext[method] = append(m.failNext[method], err)
}

// FailStart makes every later start of name end with job result (failed,
// timeout, …) and the unit in the failed state, until FailStart(name, "").
func (m *Manager) FailStart(name, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results[name] = result
}

// Calls lists the calls made so far, as "Method name…", in order.
func (m *Manager) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.calls...)
}

// Closed reports whether Close was called.
func (m *Manager) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

func (m *Manager) enter(ctx context.Context, method, arg string) error {
	m.calls = append(m.calls, method+" "+arg)
	if err := ctx.Err(); err != nil {
		return err
	}
	if q := m.failNext[method]; len(q) > 0 {
		m.failNext[method] = q[1:]
		return q[0]
	}
	return nil
}

// unit returns name's state, loading it on demand as systemd does.
func (m *Manager) unit(name string) *sdbus.Props {
	u, ok := m.units[name]
	if !ok {
		u = &sdbus.Props{LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}
		if _, ok := m.files[name]; ok {
			u.LoadState, u.UnitFileState, u.FragmentPath = "loaded", m.fileState(name), "/fake/"+name
			m.loaded[name] = m.files[name]
		}
		m.units[name] = u
	}
	content, onDisk := m.files[name]
	u.NeedDaemonReload = u.LoadState != "not-found" && (!onDisk || content != m.loaded[name])
	u.ExecStart = unitfile.ExecStarts([]byte(m.loaded[name]))
	return u
}

// UnitProps returns name's properties.
func (m *Manager) UnitProps(ctx context.Context, name string) (sdbus.Props, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(ctx, "UnitProps", name); err != nil {
		return sdbus.Props{}, fmt.Errorf("read unit %s: %w", name, err)
	}
	return *m.unit(name), nil
}

// Reload rereads every unit file.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Reload", ""); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	for name, u := range m.units {
		content, ok := m.files[name]
		switch {
		case ok:
			if u.LoadState == "not-found" {
				u.LoadState, u.FragmentPath = "loaded", "/fake/"+name
			}
			u.UnitFileState = m.fileState(name)
			m.loaded[name] = content
		case u.ActiveState == "inactive":
			// Garbage-collected, as systemd does; a failed unit stays
			// until reset-failed.
			delete(m.units, name)
			delete(m.loaded, name)
		default:
			u.LoadState, u.FragmentPath, u.UnitFileState = "not-found", "", ""
		}
	}
	for name := range m.units {
		m.unit(name)
	}
	return nil
}

// fileState is the UnitFileState a load of name reports.
func (m *Manager) fileState(name string) string {
	if m.links[name] {
		return "enabled"
	}
	return "disabled"
}

// Enable is EnableFiles, then Reload.
func (m *Manager) Enable(ctx context.Context, names []string) error {
	m.mu.Lock()
	err := m.enter(ctx, "Enable", fmt.Sprint(names))
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("enable %v: %w", names, err)
	}
	if _, err := m.EnableFiles(ctx, names); err != nil {
		return err
	}
	return m.Reload(ctx)
}

// EnableFiles makes the units' install links (their files must exist) and
// says whether any was missing. A loaded unit goes on reporting its old
// UnitFileState until a Reload.
func (m *Manager) EnableFiles(ctx context.Context, names []string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(ctx, "EnableFiles", fmt.Sprint(names)); err != nil {
		return false, fmt.Errorf("enable %v: %w", names, err)
	}
	for _, n := range names {
		if _, ok := m.files[n]; !ok {
			return false, fmt.Errorf("enable %s: unit file %s does not exist", n, n)
		}
	}
	linked := false
	for _, n := range names {
		linked = linked || !m.links[n]
		m.links[n] = true
	}
	return linked, nil
}

// Disable is DisableFiles, then Reload.
func (m *Manager) Disable(ctx context.Context, names []string) error {
	m.mu.Lock()
	err := m.enter(ctx, "Disable", fmt.Sprint(names))
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("disable %v: %w", names, err)
	}
	if err := m.DisableFiles(ctx, names); err != nil {
		return err
	}
	return m.Reload(ctx)
}

// DisableFiles removes the units' install links, by name: a unit whose
// file is gone loses them too. As systemd, it answers sdbus.NoSuchUnit
// when a name has neither a file nor links and the call removed no link
// at all (systemd fails such a call only when nothing succeeded).
func (m *Manager) DisableFiles(ctx context.Context, names []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(ctx, "DisableFiles", fmt.Sprint(names)); err != nil {
		return fmt.Errorf("disable %v: %w", names, err)
	}
	missing, removed := "", false
	for _, n := range names {
		_, onDisk := m.files[n]
		if !onDisk && !m.links[n] && missing == "" {
			missing = n
		}
		removed = removed || m.links[n]
		delete(m.links, n)
	}
	if missing != "" && !removed {
		return fmt.Errorf("disable %v: %w", names, godbus.Error{Name: sdbus.NoSuchUnit, Body: []any{"Unit file " + missing + " does not exist."}})
	}
	return nil
}

// Links reports whether name's install links are in place.
func (m *Manager) Links(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.links[name]
}

// Start starts a loaded unit: active/running with a new MainPID, or the
// result set by FailStart.
func (m *Manager) Start(ctx context.Context, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Start", name); err != nil {
		return "", fmt.Errorf("start %s: %w", name, err)
	}
	return m.start(name)
}

// start is Start once its call is counted (m.mu held).
func (m *Manager) start(name string) (string, error) {
	u := m.unit(name)
	if u.LoadState != "loaded" {
		return "", fmt.Errorf("start %s: unit %s not found", name, name)
	}
	if r := m.results[name]; r != "" {
		u.ActiveState, u.SubState, u.MainPID, u.ControlGroup, u.Result = "failed", "failed", 0, "", "exit-code"
		return r, fmt.Errorf("start %s: job %s", name, r)
	}
	if u.ActiveState != "active" {
		m.nextPid++
		u.ActiveState, u.SubState, u.MainPID, u.Result = "active", "running", m.nextPid, "success"
		u.ControlGroup = m.cgroup + "/" + name
	}
	return "done", nil
}

// Restart stops a unit and starts it again, as Start does: one call, as
// the manager's RestartUnit is (a failure injected for Start is not its).
func (m *Manager) Restart(ctx context.Context, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Restart", name); err != nil {
		return "", fmt.Errorf("restart %s: %w", name, err)
	}
	if u := m.unit(name); u.ActiveState == "active" {
		u.ActiveState = "inactive" // start makes it active anew
	}
	return m.start(name)
}

// Stop stops a unit; stopping an inactive unit is done at once.
func (m *Manager) Stop(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Stop", name); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	u := m.unit(name)
	if u.LoadState == "not-found" && u.ActiveState == "inactive" {
		// systemd's answer for an inactive unit it could not load
		// (not-found, error, bad-setting).
		return fmt.Errorf("stop %s: %w", name, godbus.Error{Name: sdbus.NoSuchUnit, Body: []any{"Unit " + name + " not loaded."}})
	}
	if u.ActiveState != "failed" {
		u.ActiveState, u.SubState = "inactive", "dead"
	}
	u.MainPID, u.ControlGroup = 0, ""
	return nil
}

// ResetFailed turns a failed unit inactive.
func (m *Manager) ResetFailed(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(ctx, "ResetFailed", name); err != nil {
		return fmt.Errorf("reset-failed %s: %w", name, err)
	}
	if u := m.unit(name); u.ActiveState == "failed" {
		u.ActiveState, u.SubState = "inactive", "dead"
	}
	return nil
}

// Close marks the manager closed; it keeps working (a test may reuse it).
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
}

// Units lists the names the manager has loaded, sorted.
func (m *Manager) Units() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.units {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

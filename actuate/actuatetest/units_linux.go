package actuatetest

// The world's service managers as the observer asks them: the systemd
// user manager's answer (what systemd would say over D-Bus about the hub
// unit, its stale module units and linger) and launchd's, through the real
// observer's launchd code and the fake launchctl. The managers are the
// world's; every judgement about what they say is the observer's.

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/parachute/reconcile/internal/launchctl"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
	"github.com/parachute/reconcile/unitfile"
)

// worldUnits is observe.UnitObserver for the world. Snapshot holds the
// world's lock while the observer asks it.
type worldUnits struct {
	w *World
	// mac is launchd's view, read before the lock (launchd worlds only).
	mac launchdView
}

var _ observe.UnitObserver = worldUnits{}

// ObserveUnit implements observe.UnitObserver.
func (u worldUnits) ObserveUnit(_ context.Context, q observe.UnitQuery) (observe.UnitReport, error) {
	if q.Manager == spec.ManagerLaunchd {
		return u.w.launchdReport(u.mac)
	}
	return u.w.systemdReport(q), nil
}

// locate names the world's hub unit (observe.Observer.Locate).
func (w *World) locate(spec.Desired) observe.UnitQuery {
	if w.Manager == spec.ManagerLaunchd {
		return observe.UnitQuery{Manager: spec.ManagerLaunchd, Scope: w.LaunchdDomain(), Name: w.UnitName, Path: w.UnitPath, User: w.User}
	}
	return observe.UnitQuery{Manager: spec.ManagerSystemd, Scope: string(spec.ScopeUser), Name: w.UnitName, Path: w.UnitPath, User: w.User}
}

// systemdReport is the user manager's answer about q's unit, its stale
// module units (those of q.StaleShorts the manager has) and linger.
func (w *World) systemdReport(q observe.UnitQuery) observe.UnitReport {
	var rep observe.UnitReport
	u := &rep.Unit
	*u = state.Unit{Manager: spec.ManagerSystemd, Available: !w.ManagerDown, Scope: q.Scope, Name: q.Name, File: w.unitFile(q.Path)}
	linger := w.Linger
	rep.Linger = &linger
	if w.ManagerDown {
		u.Problem, u.Reach = "user manager unreachable: /run/user/1000/bus does not exist", state.NoUserManager
		return rep
	}
	u.LoadState = "not-found"
	if u.File.Exists {
		u.LoadState, u.UnitFileState = "loaded", "disabled"
	}
	hub := w.units[q.Name]
	if hub == nil {
		hub = &Unit{Name: q.Name}
	}
	if hub.Enabled && u.File.Exists {
		u.UnitFileState = "enabled"
	}
	u.ActiveState = cmp.Or(hub.Active, "inactive")
	u.MainPID, u.ControlGroup = hub.MainPID, hub.Cgroup
	rep.Stale = w.staleUnits(q)
	return rep
}

// staleUnits are the units the manager has under the names of q's stale
// module shorts.
func (w *World) staleUnits(q observe.UnitQuery) []state.StaleUnit {
	var out []state.StaleUnit
	for _, short := range q.StaleShorts {
		name, ok := unitfile.StaleUnitName(spec.ManagerSystemd, short)
		su := w.units[name]
		if !ok || su == nil || name == q.Name {
			continue
		}
		st := state.StaleUnit{Name: name, Short: short, Scope: q.Scope, LoadState: "loaded", ActiveState: cmp.Or(su.Active, "inactive"),
			UnitFileState: "disabled", MainPID: su.MainPID, ControlGroup: su.Cgroup, Manageable: true}
		if len(su.Argv) > 0 {
			st.ExecStart = [][]string{su.Argv}
		}
		if su.Enabled {
			st.UnitFileState = "enabled"
		}
		out = append(out, st)
	}
	return out
}

// unitFile is a file of the world as observe reports a unit file or plist.
func (w *World) unitFile(path string) state.UnitFile {
	uf := state.UnitFile{Path: path}
	f, ok := w.files[path]
	if !ok {
		return uf
	}
	uf.Exists, uf.Content, uf.Symlink = true, string(f.data), f.symlink
	if f.symlink == "" && strings.HasSuffix(path, ".plist") {
		if _, err := unitfile.ParseLaunchd(f.data); err != nil {
			uf.ParseError = err.Error()
		}
	}
	return uf
}

// launchdView is what Snapshot learns from launchd before it takes the
// world's lock (the fake launchctl locks the world to look at processes).
type launchdView struct {
	rep      observe.UnitReport
	disabled map[string]bool
	err      error
}

// observeLaunchd runs the real observer's launchd code against w.Launchctl.
func (w *World) observeLaunchd() launchdView {
	if w.Launchctl == nil {
		return launchdView{err: fmt.Errorf("no launchctl: set World.Launchctl")}
	}
	q := observe.UnitQuery{Manager: spec.ManagerLaunchd, Scope: w.LaunchdDomain(), Name: w.UnitName, Path: w.UnitPath,
		StaleShorts: unitfile.StaleShorts(), User: w.User}
	ctx := context.Background()
	rep, err := observe.LaunchdUnits{Launchctl: w.Launchctl}.ObserveUnit(ctx, q)
	v := launchdView{rep: rep, err: err, disabled: map[string]bool{}}
	if out, _, code, err := w.Launchctl.Run(ctx, "print-disabled", q.Scope); err == nil && code == 0 {
		v.disabled = launchctl.ParseDisabled(out)
	}
	return v
}

// launchdReport is launchd's view as the observer reports it. The observer
// reads plists from the real disk, and this world's files live in memory:
// the file fields, and the file-derived UnitFileState, are filled from the
// world instead.
func (w *World) launchdReport(v launchdView) (observe.UnitReport, error) {
	if v.err != nil {
		return observe.UnitReport{}, v.err
	}
	rep := observe.UnitReport{Unit: v.rep.Unit, Problems: v.rep.Problems}
	rep.Unit.File = w.unitFile(w.UnitPath)
	if rep.Unit.Available && rep.Unit.UnitFileState == "" && rep.Unit.File.Exists {
		rep.Unit.UnitFileState = "enabled"
	}
	byName := map[string]state.StaleUnit{}
	for _, st := range v.rep.Stale {
		byName[st.Name] = st
	}
	for _, short := range unitfile.StaleShorts() {
		label, ok := unitfile.StaleUnitName(spec.ManagerLaunchd, short)
		if !ok {
			continue
		}
		if st, ok := w.staleAgent(v, label, short, byName); ok {
			byName[label] = st
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rep.Stale = append(rep.Stale, byName[name])
	}
	return rep, nil
}

// staleAgent is the stale module agent label as launchd and the world's
// LaunchAgents directory show it, and whether it exists in either.
func (w *World) staleAgent(v launchdView, label, short string, loaded map[string]state.StaleUnit) (state.StaleUnit, bool) {
	f, onDisk := w.files[w.AgentPath(label)]
	st, isLoaded := loaded[label]
	if !isLoaded && !onDisk {
		return st, false
	}
	if !isLoaded {
		st = state.StaleUnit{Name: label, Short: short, Scope: w.LaunchdDomain(), Manageable: true}
		if argv := unitfile.ProgramArguments(f.data); len(argv) > 0 {
			st.ExecStart = [][]string{argv}
		}
	}
	switch {
	case v.disabled[label]:
		st.UnitFileState = "disabled"
	case onDisk:
		st.UnitFileState = "enabled"
	}
	return st, true
}

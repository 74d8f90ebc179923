package observe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/parachute/reconcile/internal/sdbus"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
	"github.com/parachute/reconcile/unitfile"
)

// SystemdManager is what the systemd unit observer reads from a manager
// connection (an sdbus connection, or sdbustest.Manager in tests).
type SystemdManager interface {
	UnitProps(ctx context.Context, name string) (state.UnitProps, error)
	Close()
}

// SystemdUnits observes the hub unit under systemd: the unit file (and the
// other scope's, read only), the manager's view over D-Bus, stale
// per-module units and linger. It only reads.
type SystemdUnits struct {
	// Dial connects to the manager of scope ("user" or "system") for uid.
	Dial func(ctx context.Context, scope string, uid int) (SystemdManager, error)
	// Linger reports whether user lingers (sdbus.Linger); nil skips linger.
	Linger func(ctx context.Context, user string) (bool, error)
	// SystemUnitDirs is where a user's run looks for stale module units of
	// the system scope before it asks the system manager; nil is the
	// system manager's load path (unitDirs). Tests point it elsewhere.
	SystemUnitDirs []string
}

var _ UnitObserver = SystemdUnits{}

// ObserveUnit implements UnitObserver. A manager that cannot be reached is
// not an error: Unit.Available is false and Unit.Problem says why (for
// example "user manager unreachable: /run/user/1000/bus does not exist (no
// user session and linger off? …)"); files are still read.
//
// Stale units: each q.StaleShorts' parachute-<short>.service is asked of
// our scope's manager and reported when the manager knows it (LoadState is
// not not-found) or its file is in our unit directory; the other scope is
// seen through its unit directory only, read only (Manageable=false): root
// manages the system scope and never a user's manager, a user never the
// system's.
func (s SystemdUnits) ObserveUnit(ctx context.Context, q UnitQuery) (UnitReport, error) {
	var rep UnitReport
	u := &rep.Unit
	u.Manager, u.Scope, u.Name = spec.ManagerSystemd, q.Scope, q.Name
	var problem string
	u.File, problem = readUnitFile(q.Path, parseSystemd)
	rep.Problems = appendNonEmpty(rep.Problems, problem)

	mgr := s.dial(ctx, q, u)
	var states <-chan map[string]string
	if mgr != nil {
		defer mgr.Close()
		// The stale units' load states are asked for at the same time as
		// the hub's properties: both are in flight on the one connection.
		states = loadStatesAsync(ctx, mgr, staleNames(q))
		if !s.readHub(ctx, mgr, q, &rep) {
			mgr = nil // asking again about stale units would only repeat it
		}
	}
	if q.Path != "" {
		// The manager lists only the drop-ins of a unit it has loaded,
		// as of its last reload; the directories say what the next start
		// will apply. `systemctl edit` writes beside our file, which is
		// one of them when our file is where systemd looks (ranked there,
		// below the control and transient directories), else last.
		dirs := dropInDirs(q.Scope, q.Name, q.User.Home, runtimeDir(q.User.UID))
		if own := q.Path + ".d"; !slices.Contains(dirs, own) {
			dirs = append(dirs, own)
		}
		var problems []string
		u.DropIns, problems = scanDropIns(dirs, u.DropIns)
		rep.Problems = append(rep.Problems, problems...)
	}
	if q.OtherPath != "" {
		f, problem := readUnitFile(q.OtherPath, parseSystemd)
		rep.Problems = appendNonEmpty(rep.Problems, problem)
		if f.Exists {
			rep.OtherScope = &f
		}
	}
	s.staleUnits(ctx, mgr, states, q, &rep)
	if q.Scope == string(spec.ScopeUser) && q.User.Name != "" && s.Linger != nil {
		on, err := s.Linger(ctx, q.User.Name)
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
		} else {
			rep.Linger = &on
		}
	}
	return rep, nil
}

// dial connects to q's manager; nil (with u's Problem and Reach saying
// why) when it cannot.
func (s SystemdUnits) dial(ctx context.Context, q UnitQuery, u *Unit) SystemdManager {
	if s.Dial == nil {
		u.Problem, u.Reach = "no systemd connection configured", NoManager
		return nil
	}
	m, err := s.Dial(ctx, q.Scope, q.User.UID)
	if err == nil {
		return m
	}
	u.Problem = err.Error()
	// Only a missing socket says the manager is not there; any other
	// error is a conversation that failed, which a rerun may not meet.
	var missing *sdbus.MissingError
	switch {
	case !errors.As(err, &missing):
		u.Reach = Unanswered
	case q.Scope == string(spec.ScopeUser):
		u.Reach = NoUserManager
	default:
		u.Reach = NoSystemManager
	}
	return nil
}

// readHub fills rep.Unit from the manager's view of the hub unit; false
// when the manager did not answer.
func (s SystemdUnits) readHub(ctx context.Context, mgr SystemdManager, q UnitQuery, rep *UnitReport) bool {
	u := &rep.Unit
	p, err := mgr.UnitProps(ctx, q.Name)
	if err != nil {
		u.Problem = fmt.Sprintf("%s manager did not answer: %v", q.Scope, err)
		u.Reach = Unanswered
		return false
	}
	u.Available = true
	u.LoadState, u.ActiveState, u.SubState, u.UnitFileState = p.LoadState, p.ActiveState, p.SubState, p.UnitFileState
	u.MainPID, u.ControlGroup, u.NeedDaemonReload = p.MainPID, p.ControlGroup, p.NeedDaemonReload
	u.Result, u.ExecMainCode, u.ExecMainStatus, u.NRestarts = p.Result, p.ExecMainCode, p.ExecMainStatus, p.NRestarts
	if p.FragmentPath != "" && p.FragmentPath != q.Path {
		u.FragmentPath = p.FragmentPath
	}
	for _, path := range p.DropInPaths {
		f, problem := readUnitFile(path, nil)
		rep.Problems = appendNonEmpty(rep.Problems, problem)
		u.DropIns = append(u.DropIns, f)
	}
	return true
}

// staleNames are the systemd unit names of q's stale shorts.
func staleNames(q UnitQuery) []string {
	var names []string
	for _, short := range q.StaleShorts {
		if name, ok := unitfile.StaleUnitName(spec.ManagerSystemd, short); ok {
			names = append(names, name)
		}
	}
	return names
}

// loadStatesAsync asks mgr for the LoadState of every name in one round
// trip when it can list by names, and delivers the answer (nil when it
// cannot, or on an error) on the channel it returns.
func loadStatesAsync(ctx context.Context, mgr SystemdManager, names []string) <-chan map[string]string {
	out := make(chan map[string]string, 1)
	bl, ok := mgr.(interface {
		LoadStates(context.Context, []string) (map[string]string, error)
	})
	if !ok || len(names) == 0 {
		out <- nil
		return out
	}
	go func() {
		ls, err := bl.LoadStates(ctx, names)
		if err != nil {
			ls = nil
		}
		out <- ls
	}()
	return out
}

// staleUnits reports each of q's stale module units that our scope's
// manager knows or whose file is in our unit directory, and the other
// scope's, read only.
func (s SystemdUnits) staleUnits(ctx context.Context, mgr SystemdManager, statesc <-chan map[string]string, q UnitQuery, rep *UnitReport) {
	otherScope := string(spec.ScopeSystem)
	if q.Scope == string(spec.ScopeSystem) {
		otherScope = string(spec.ScopeUser)
	}
	// One round trip for every candidate's LoadState when the manager can
	// list by names; then full properties only for the ones it knows.
	var states map[string]string
	if statesc != nil {
		states = <-statesc
	}
	if mgr == nil {
		states = nil
	}
	// In order, per short: our scope's unit, then the other scope's.
	type entry struct {
		st    StaleUnit
		other bool // the other scope's, still to be asked about
		known bool // reported whatever the other scope's manager says
	}
	var entries []entry
	// The other scope's manager is asked (read only) only when one of
	// those units has a file anywhere it loads units from: a user's
	// converged tick does not open a second bus connection for nothing,
	// and a unit the system loaded from /usr/lib or /run is seen all the
	// same.
	askOther := false
	var otherDirs []string
	if q.Scope == string(spec.ScopeUser) {
		otherDirs = s.SystemUnitDirs
		if otherDirs == nil {
			otherDirs = unitDirs(otherScope, "", "")
		}
	}
	for _, short := range q.StaleShorts {
		name, ok := unitfile.StaleUnitName(spec.ManagerSystemd, short)
		if !ok {
			continue
		}
		if st, ok := s.ourStale(ctx, mgr, states, q, name, short, rep); ok {
			entries = append(entries, entry{st: st, known: true})
		}
		if q.OtherPath != "" {
			other, problem := readUnitFile(filepath.Join(filepath.Dir(q.OtherPath), name), nil)
			rep.Problems = appendNonEmpty(rep.Problems, problem)
			entries = append(entries, entry{StaleUnit{Name: name, Short: short, Scope: otherScope, Manageable: false,
				ExecStart: unitfile.ExecStarts([]byte(other.Content))}, true, other.Exists})
			askOther = askOther || other.Exists || unitFileIn(otherDirs, name)
		}
	}
	var view otherView
	if askOther {
		view = s.otherScope(ctx, q)
		defer view.close()
	}
	for _, e := range entries {
		if known := e.other && view.fill(ctx, &e.st); e.known || known {
			rep.Stale = append(rep.Stale, e.st)
		}
	}
}

// unitFileIn reports whether a unit file (or a link: a masked or linked
// unit) named name is in one of dirs, without following anything.
func unitFileIn(dirs []string, name string) bool {
	for _, d := range dirs {
		if _, err := os.Lstat(filepath.Join(d, name)); err == nil {
			return true
		}
	}
	return false
}

// ourStale is the stale unit name in our own scope, and whether it exists
// (the manager knows it, or its file is on disk).
func (s SystemdUnits) ourStale(ctx context.Context, mgr SystemdManager, states map[string]string, q UnitQuery, name, short string, rep *UnitReport) (StaleUnit, bool) {
	var onDisk bool
	st := StaleUnit{Name: name, Short: short, Scope: q.Scope, Manageable: true}
	if q.Path != "" {
		f, problem := readUnitFile(filepath.Join(filepath.Dir(q.Path), name), nil)
		rep.Problems = appendNonEmpty(rep.Problems, problem)
		onDisk = f.Exists
		st.ExecStart = unitfile.ExecStarts([]byte(f.Content))
	}
	known := false
	if ls, listed := states[name]; listed && (ls == "not-found" || ls == "") {
		// Known not to exist: no need to ask again.
	} else if mgr != nil {
		p, err := mgr.UnitProps(ctx, name)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("stale unit %s: %v", name, err))
		} else if p.LoadState != "not-found" && p.LoadState != "" {
			known = true
			st.LoadState, st.ActiveState, st.UnitFileState = p.LoadState, p.ActiveState, p.UnitFileState
			st.MainPID, st.ControlGroup = p.MainPID, p.ControlGroup
			if len(p.ExecStart) > 0 {
				st.ExecStart = p.ExecStart // what the manager loaded, drop-ins included
			}
		}
	}
	return st, known || onDisk
}

// otherView is the other scope's manager, asked read-only about stale
// module units: a user's run asks the system manager (every user may read
// unit properties on the system bus). Root never asks a user's manager.
type otherView struct {
	mgr    SystemdManager
	states map[string]string
}

// otherScope dials the system manager for a user-scope run; the zero view
// (nothing known) when that is not the case or the manager cannot be asked.
func (s SystemdUnits) otherScope(ctx context.Context, q UnitQuery) otherView {
	if q.Scope != string(spec.ScopeUser) || s.Dial == nil {
		return otherView{}
	}
	m, err := s.Dial(ctx, string(spec.ScopeSystem), q.User.UID)
	if err != nil {
		return otherView{}
	}
	v := otherView{mgr: m}
	if bl, ok := m.(interface {
		LoadStates(context.Context, []string) (map[string]string, error)
	}); ok {
		var names []string
		for _, short := range q.StaleShorts {
			if name, ok := unitfile.StaleUnitName(spec.ManagerSystemd, short); ok {
				names = append(names, name)
			}
		}
		if ls, err := bl.LoadStates(ctx, names); err == nil {
			v.states = ls
		}
	}
	return v
}

func (v otherView) close() {
	if v.mgr != nil {
		v.mgr.Close()
	}
}

// fill asks the other manager about st; it reports whether it knows it.
func (v otherView) fill(ctx context.Context, st *StaleUnit) bool {
	if v.mgr == nil {
		return false
	}
	if ls, listed := v.states[st.Name]; v.states != nil && (!listed || ls == "not-found" || ls == "") {
		return false
	}
	p, err := v.mgr.UnitProps(ctx, st.Name)
	if err != nil || p.LoadState == "not-found" || p.LoadState == "" {
		return false
	}
	st.LoadState, st.ActiveState, st.UnitFileState = p.LoadState, p.ActiveState, p.UnitFileState
	st.MainPID, st.ControlGroup = p.MainPID, p.ControlGroup
	if len(p.ExecStart) > 0 {
		st.ExecStart = p.ExecStart
	}
	return true
}

// runtimeDir is the user's XDG runtime directory, /run/user/<uid>.
func runtimeDir(uid int) string { return "/run/user/" + strconv.Itoa(uid) }

func parseSystemd(data []byte) error {
	_, err := unitfile.ParseSystemd(data)
	return err
}

// DialSystemd dials the real manager through sdbus with the environment
// getenv reads: SystemdUnits.Dial for production.
func DialSystemd(getenv func(string) string) func(ctx context.Context, scope string, uid int) (SystemdManager, error) {
	return func(ctx context.Context, scope string, uid int) (SystemdManager, error) {
		c, err := sdbus.Dial(ctx, scope, uid, getenv)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

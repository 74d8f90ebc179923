package reconcile

import (
	"cmp"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
	"github.com/parachute/reconcile/unitfile"
)

// logFile is the hub's log, relative to the home: the unit's
// StandardOutput=append: and the detached hub write it.
const logFile = "hub/logs/hub.log"

// supervised plans the move to one hub unit that boots the modules.
func (b *builder) supervised() {
	u := b.w.s.Unit
	loc, content, renderErr := b.unitWanted()

	b.trustBlockers()
	b.homeBlocker()
	b.hubPortRows()
	b.holderBlockers()
	b.pidfileBlockers()
	if !u.Available {
		b.managerBlocker("the supervised model needs a service manager")
	}
	b.otherScopeBlocker()

	h := b.hubUnitState()

	// 1. The unit file: written before anything is stopped.
	needWrite := b.unitFile(loc, content, renderErr, h)

	if h.crashLoop && !needWrite && !h.heldByOthers && u.Available {
		// Nothing this run would change touches why the hub exits:
		// restarting it once more would only add to the loop. Say why.
		b.failure = b.unitFailure(fmt.Sprintf("the hub unit %s crash-loops (%s): the hub exits soon after it starts, and the manager restarts it", loc.Name, u.ActiveState+"/"+u.SubState))
		h.realStart, h.needStart = false, false
	}
	b.dropInBlockers(h.realStart)

	// 2-4. Stale units, then every detached process and orphan, then pidfiles.
	b.staleUnits()
	b.collectStops(func(int) bool { return false })
	b.removePidfiles(func(state.Pidfile) bool { return false }, false)

	// 5. Ports, start, health.
	b.startAndWait(loc, h)

	// Modules: reported, never acted on (the hub's supervisor starts
	// them; we never spawn one or restart the unit for one).
	if h.active && h.heldByUnit && h.healthyFromUnit {
		b.modules = b.moduleReports(b.w.unitOwned, b.w.processStarted(u.MainPID))
	}
}

// hubUnit is what the supervised plan concludes about the hub unit and
// its port before it chooses any step.
type hubUnit struct {
	heldByUnit, heldByOthers bool // who holds the hub port
	healthyFromUnit          bool // /health answered 2xx from inside the unit
	active                   bool
	// crashLoop is a unit in auto-restart: not starting, but its hub
	// exited and the manager will run it again, and again — a loop a
	// changed unit must interrupt at once rather than wait out.
	crashLoop bool
	starting  bool
	// realStart: the unit must be (re)started — it neither runs nor
	// starts, or something else holds its port (then it is crash-looping
	// on the bind). needStart also covers an active unit that is not
	// enabled: start-unit on it only enables it, and its file is not
	// rewritten, since the running hub would keep the old one.
	realStart, needStart bool
}

func (b *builder) hubUnitState() hubUnit {
	w := b.w
	s, u := w.s, w.s.Unit
	var h hubUnit
	for _, hd := range b.holders {
		if hd.Port != s.HubPort {
			continue
		}
		if hd.Verdict == VerdictUnit {
			h.heldByUnit = true
		} else {
			h.heldByOthers = true
		}
	}
	h.healthyFromUnit = s.Health.OK && s.Health.AnsweredBy > 0 && w.unitOwned(s.Health.AnsweredBy)
	h.active = u.ActiveState == "active"
	h.crashLoop = u.ActiveState == "activating" && u.SubState == "auto-restart"
	h.starting = (u.ActiveState == "activating" && !h.crashLoop) || u.ActiveState == "reloading"
	h.realStart = !(h.active || h.starting) || h.heldByOthers
	h.needStart = h.realStart || (h.active && !isEnabledish(u.UnitFileState))
	return h
}

// unitFile plans the write-unit step (or the blocker that prevents it) and
// the notes about the file on disk; it reports whether the file must be
// written.
func (b *builder) unitFile(loc unitfile.Location, content string, renderErr error, h hubUnit) bool {
	w := b.w
	s, u := w.s, w.s.Unit
	var diffs []string
	if u.File.Exists && renderErr == nil {
		var err error
		if diffs, err = b.unitDiffs(loc, content); err != nil {
			diffs = []string{"the file does not parse: " + err.Error()}
		}
	}
	userUnit := loc.Manager == spec.ManagerSystemd && loc.Scope == string(spec.ScopeUser)
	lingerOff := userUnit && s.Linger != nil && !*s.Linger
	if userUnit && s.Linger == nil {
		b.note("linger of %s is unknown; without it the hub stops at logout (loginctl enable-linger %s)", w.d.User.Name, w.d.User.Name)
	}
	needWrite := !u.File.Exists || lingerOff || (h.realStart && (len(diffs) > 0 || u.NeedDaemonReload))
	if needWrite || h.needStart {
		// write-unit creates the hub's log; the manager appends to it
		// once the unit starts.
		b.linkBlockers(logFile)
	}
	b.unitDriftNotes(diffs, h.realStart)
	if u.File.Exists && u.File.Symlink == "" && renderErr == nil && len(diffs) == 0 && b.unloadableBlocker(loc, h) {
		return false
	}
	if !needWrite {
		if renderErr != nil && u.File.Exists {
			// Often this run's PATH (cron's) lacks what the unit names by
			// absolute path: the installed file may well work, so no block;
			// but if the hub fails to start, this is the first suspect.
			b.note("the hub unit cannot be rendered by this run (%v); the installed %s is used as it is", renderErr, u.File.Path)
		}
		return false
	}
	switch {
	case renderErr != nil:
		b.block(Blocker{Reason: "cannot render the hub unit: " + renderErr.Error(),
			Fix: "set hub.command in the spec file (--spec), or put parachute and bun on PATH"})
	case u.File.Symlink != "":
		b.block(Blocker{Reason: fmt.Sprintf("%s is a symlink to %s; parachute never writes through a link it did not create", u.File.Path, u.File.Symlink),
			Fix: fmt.Sprintf("remove the link (rm %s) and run again", u.File.Path)})
	default:
		b.write = append(b.write, Step{Action: WriteUnit, Target: "hub unit " + loc.Name, Reason: b.writeReason(diffs, lingerOff),
			Path: loc.Path, Under: loc.Root, Content: content, Unit: loc.Name, Scope: loc.Scope, Linger: lingerOff, User: lingerUser(lingerOff, w.d.User.Name),
			Reload: needsReload(u, content), Dir: w.d.Home, Log: unitfile.LogPath(w.d.Home)})
	}
	return true
}

// unloadableBlocker blocks a start of the hub unit the manager cannot load
// although its file is what parachute writes (the caller checks): masked,
// or a setting that is an error (usually a drop-in's: a second
// ExecStart=). Rewriting the file would not change that, the start would
// fail on every run, and on a cutover only after the detached hub was
// stopped. A manager that reports such a unit also reports it in need of a
// reload, so the check cannot wait for one; a drop-in fixed but not yet
// loaded is covered by the fix's reload. It reports whether it blocked.
func (b *builder) unloadableBlocker(loc unitfile.Location, h hubUnit) bool {
	u := b.w.s.Unit
	if !h.needStart || loc.Manager != spec.ManagerSystemd {
		return false
	}
	user := systemctlScope(loc.Scope)
	switch u.LoadState {
	case "masked":
		b.block(Blocker{Reason: fmt.Sprintf("the hub unit %s is masked; the manager refuses to start it", loc.Name),
			Fix: fmt.Sprintf("unmask it if it should run (systemctl %sunmask %s), then run again", user, loc.Name)})
	case "bad-setting", "error":
		b.block(Blocker{Reason: fmt.Sprintf("the manager cannot load the hub unit %s (LoadState=%s) although its file is what parachute writes: a drop-in or a manager setting breaks it", loc.Name, u.LoadState),
			Fix: fmt.Sprintf("systemctl %sstatus %s names the setting; remove the drop-in that sets it (systemctl %srevert %s, which reloads), or fix it and run systemctl %sdaemon-reload; then run again", user, loc.Name, user, loc.Name, user)})
	default:
		return false
	}
	return true
}

// unitDriftNotes reports what differs between the unit the manager runs
// and the one parachute writes, when this run does not rewrite it.
func (b *builder) unitDriftNotes(diffs []string, realStart bool) {
	u := b.w.s.Unit
	if u.File.Exists && len(diffs) > 0 && !realStart {
		// A hand-edited unit under a running hub: overwriting would revert
		// the edit and applying it would need a restart. Report, do not act.
		b.note("drift: %s differs from what parachute writes (%s); the running hub is left alone — delete the file and run again to restore it",
			u.File.Path, strings.Join(diffs, "; "))
	}
	for _, di := range u.DropIns {
		// Someone's `systemctl edit`: applied on top of our file, never
		// rewritten by us. Shown, because it can undo what the unit
		// guarantees (PARACHUTE_BIND_HOST=127.0.0.1, the command).
		b.note("drift: the drop-in %s changes the hub unit: %s", di.Path, oneLine(di.Content))
	}
	if u.FragmentPath != "" {
		b.note("drift: the manager loads the hub unit from %s, not %s", u.FragmentPath, u.File.Path)
	}
	if u.File.Exists && u.NeedDaemonReload && !realStart && len(diffs) == 0 {
		b.note("the service manager has not reloaded %s since it changed; it applies at the next restart", u.File.Path)
	}
}

// writeReason says why write-unit writes the file.
func (b *builder) writeReason(diffs []string, lingerOff bool) string {
	u := b.w.s.Unit
	reason := "the hub unit is not installed; it is written (not started) before anything is stopped, so an interrupted run resumes"
	switch {
	case !u.File.Exists && lingerOff:
		reason += "; linger is enabled so the user manager runs without a login"
	case !u.File.Exists:
	case len(diffs) > 0:
		reason = "the unit on disk differs: " + strings.Join(diffs, "; ")
	case u.NeedDaemonReload:
		reason = "the service manager has not loaded the file on disk (daemon-reload)"
	default:
		reason = "linger is off for " + b.w.d.User.Name + ": without it the user manager, and the hub, stop at logout and do not start at boot"
	}
	return reason
}

// startAndWait plans the waits for free ports, the start and the health
// check of the supervised model.
func (b *builder) startAndWait(loc unitfile.Location, h hubUnit) {
	s, u := b.w.s, b.w.s.Unit
	switch {
	case h.starting && !h.heldByOthers:
		// The unit is starting: nothing destructive against it or its
		// children; wait for it.
		b.pendingOnly = true
		b.waitStopped()
		b.healthy = append(b.healthy, b.waitHealthy("the hub unit is "+u.ActiveState+"; waiting for it to answer"))
	case h.needStart:
		b.waitPorts(s.Ports, "must be free of processes outside the hub unit before it starts")
		b.start = append(b.start, Step{Action: StartUnit, Target: "hub unit " + loc.Name, Unit: loc.Name, Scope: loc.Scope,
			Path: u.File.Path, Reason: b.startReason()})
		b.healthy = append(b.healthy, b.waitHealthy("the hub must answer /health from inside the unit"))
		if h.realStart {
			b.healthy = append(b.healthy, b.waitModules()...)
		}
	case b.failure != nil:
		b.waitStopped()
	default:
		b.waitStopped()
		if !h.healthyFromUnit || len(b.stops) > 0 || !h.heldByUnit {
			b.healthy = append(b.healthy, b.waitHealthy(healthWhy(s.Health, h.heldByUnit)))
		}
	}
}

func (b *builder) startReason() string {
	u := b.w.s.Unit
	if u.SubState == "auto-restart" {
		return fmt.Sprintf("the hub unit crash-loops (%s); restart it with the unit written above once every declared port is free", cmp.Or(managerAccount(u), "auto-restart"))
	}
	switch u.ActiveState {
	case "", "inactive":
		return "enable and start the hub unit once every declared port is free"
	case "active":
		return "the hub unit runs but is not enabled: enable it so it starts at boot (it keeps running)"
	case "failed":
		why := "the hub unit failed"
		if acct := managerAccount(u); acct != "" {
			why += " (" + acct + ")"
		}
		return why + "; reset it and start it again once every declared port is free"
	default:
		return fmt.Sprintf("the hub unit is %s but the hub port is held by another process; start it once the port is free", u.ActiveState)
	}
}

func healthWhy(h state.Health, held bool) string {
	switch {
	case !held:
		return "the hub unit is active but not listening yet"
	case !h.OK:
		return fmt.Sprintf("the hub unit holds the port but /health did not answer 2xx (%s)", cmp.Or(h.Error, "status "+strconv.Itoa(h.Status)))
	default:
		return "confirm the hub answers /health from inside the unit after the leftovers are stopped"
	}
}

// waitStopped waits for the ports whose holders the plan stops.
func (b *builder) waitStopped() {
	stopped := b.stoppedPorts()
	var ports []state.Port
	for _, p := range b.w.s.Ports {
		if stopped[p.Port] {
			ports = append(ports, p)
		}
	}
	b.waitPorts(ports, "was held by a process being stopped")
}

// waitHealthy waits for /health from the hub the model wants: the unit's
// (Unit set) or the detached one (Unit empty).
func (b *builder) waitHealthy(reason string) Step {
	st := Step{Action: WaitHealthy, Target: "hub on :" + strconv.Itoa(b.w.s.HubPort), Port: b.w.s.HubPort, Reason: reason,
		Members: b.w.members()}
	if b.w.d.Model == spec.Supervised {
		st.Unit, st.Scope = cmp.Or(b.w.s.Unit.Name, unitfile.SystemdName), b.w.s.Unit.Scope
	} else {
		// A hub the run does not start itself is hub.pid's.
		for _, pf := range b.w.s.Pidfiles {
			if pf.Service == "hub" {
				st.Pid = pf.Pid
			}
		}
	}
	return st
}

// members is who belongs to the hub unit as observed.
func (w *world) members() *Members {
	u := w.s.Unit
	return &Members{Manager: u.Manager, ControlGroup: u.ControlGroup, MainPID: u.MainPID}
}

// needsReload reports whether writing want over the unit as observed
// leaves the manager with a stale view: it has the unit loaded and the
// file changes, or it never loaded the file on disk.
func needsReload(u state.Unit, want string) bool {
	loaded := u.LoadState != "" && u.LoadState != "not-found"
	changed := !u.File.Exists || u.File.Content != want
	return (changed && loaded) || u.NeedDaemonReload
}

// unitSteps plans the hub unit's removal, why being the reason steps give:
// stop it when it is active, failed or enabled, then delete its file.
// Nothing when the unit is neither on disk nor loaded; a blocker when the
// manager cannot be reached or the file is a symlink.
func (b *builder) unitSteps(why string) {
	w := b.w
	u := w.s.Unit
	loaded := u.LoadState == "loaded" || isActiveish(u.ActiveState) || u.ActiveState == "failed"
	if !u.File.Exists && !loaded {
		return
	}
	if !u.Available {
		b.managerBlocker("the hub unit must be stopped first")
		return
	}
	name := cmp.Or(u.Name, "parachute-hub.service")
	if isActiveish(u.ActiveState) || u.ActiveState == "failed" || isEnabledish(u.UnitFileState) {
		b.units = append(b.units, Step{Action: StopUnit, Target: "hub unit " + name, Unit: name, Scope: u.Scope,
			Reason: fmt.Sprintf("the hub unit is %s/%s; %s", cmp.Or(u.ActiveState, "?"), cmp.Or(u.UnitFileState, "?"), why)})
	}
	if u.File.Exists {
		if u.File.Symlink != "" {
			b.block(Blocker{Reason: fmt.Sprintf("%s is a symlink to %s; parachute never deletes through a link it did not create", u.File.Path, u.File.Symlink),
				Fix: fmt.Sprintf("remove the link yourself (rm %s) and run again", u.File.Path)})
			return
		}
		b.units = append(b.units, Step{Action: RemoveUnit, Target: "hub unit " + name, Unit: name, Scope: u.Scope, Path: u.File.Path, Under: filepath.Dir(u.File.Path),
			Reason: "no hub unit may remain on disk: " + why})
	}
}

// detached plans the rollback: no unit, the hub as a detached session leader.
func (b *builder) detached() {
	w := b.w
	s := w.s
	b.trustBlockers()
	b.homeBlocker()
	b.hubPortRows()
	b.holderBlockers()
	b.pidfileBlockers()

	// Is our detached hub already up? hub.pid live, every listener on the
	// hub port is it or its descendant, and /health came from one of those.
	var hub *state.Pidfile
	for i, pf := range s.Pidfiles {
		if pf.Service == "hub" && pf.State == state.PidLive {
			hub = &s.Pidfiles[i]
		}
	}
	isHubTree := func(pid int) bool {
		if hub == nil || pid <= 0 {
			return false
		}
		if pid == hub.Pid {
			return true
		}
		for _, a := range w.ancestors(pid) {
			if a == hub.Pid {
				return true
			}
		}
		return false
	}
	// Only the hub command itself, as its own session (what start-detached
	// makes), counts: a detached-era hub-server.ts runs no supervisor, so
	// keeping it would strand the modules.
	running := false
	if hub != nil && !w.unitOwned(hub.Pid) && w.isDetachedHub(hub.Pid) {
		held, others := false, false
		for _, h := range b.holders {
			if h.Port == s.HubPort {
				if isHubTree(h.Pid) {
					held = true
				} else {
					others = true
				}
			}
		}
		running = held && !others && s.Health.OK && isHubTree(s.Health.AnsweredBy)
	}

	b.otherScopeBlocker()
	b.unitSteps("the detached model runs the hub without a service manager")
	b.staleUnits()
	b.collectStops(func(pid int) bool { return running && isHubTree(pid) })
	b.removePidfiles(func(pf state.Pidfile) bool { return running && hub != nil && pf.Path == hub.Path }, running)
	if running {
		b.waitStopped()
		if s.HubPortFile == nil || s.HubPortFile.Port != s.HubPort {
			b.note("the detached hub (pid %d) answers, but hub/run/hub.port is missing or wrong; parachute start/stop fall back to :1939", hub.Pid)
		}
		b.modules = b.moduleReports(isHubTree, w.processStarted(hub.Pid))
		return
	}
	b.startDetached()
}

// startDetached plans the detached hub's start: its command, free ports,
// then the start, health and the modules' boot.
func (b *builder) startDetached() {
	w := b.w
	if len(w.d.HubCommand) == 0 {
		b.block(Blocker{Reason: "cannot start the hub: " + cmp.Or(w.d.HubCommandProblem, "its command is unknown"),
			Fix: "set hub.command in the spec file (--spec), or put parachute and bun on PATH"})
		return
	}
	if svc := w.ownOneshot(); svc != "" {
		b.block(Blocker{Reason: fmt.Sprintf("this run is part of %s, which systemd stops when the run ends, with every process the run started: a detached hub started here would be killed at once", svc),
			Fix: "start the detached box from a shell or cron (parachute reconcile --desired detached); keep the timer for the supervised model only"})
		return
	}
	b.linkBlockers(logFile, "hub/run/hub.pid", "hub/run/hub.port")
	b.waitPorts(b.w.s.Ports, "must be free before the detached hub starts")
	home := w.d.Home
	b.start = append(b.start, Step{Action: StartDetached, Target: "detached hub",
		Reason: "start the hub as its own session, recorded in hub/run/hub.pid and hub.port, output appended to hub/logs/hub.log",
		Argv:   w.d.HubCommand, Env: detachedEnv(w.d), Dir: home, Log: unitfile.LogPath(home),
		Pidfile:  spec.PidfilePath(home, "hub"),
		PortFile: spec.HubPortPath(home), Port: w.d.HubPort})
	b.healthy = append(b.healthy, b.waitHealthy("the detached hub must answer /health from its own pid"))
	b.healthy = append(b.healthy, b.waitModules()...)
}

// detachedEnv is the environment the detached hub gets on top of the
// reconciler's own: the unit's five variables, then the spec's extras.
func detachedEnv(d spec.Desired) []string {
	env := []string{
		"PARACHUTE_BIND_HOST=127.0.0.1",
		"PARACHUTE_HOME=" + d.Home,
		"PORT=" + strconv.Itoa(d.HubPort),
	}
	keys := make([]string, 0, len(d.HubEnv))
	for k := range d.HubEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+d.HubEnv[k])
	}
	return env
}

// otherScopeBlocker blocks on a hub unit in the scope this run does not
// manage: in supervised two hubs would fight over the port at every boot; in
// detached or absent its hub would be killed as an orphan and restarted by
// its manager, for ever.
func (b *builder) otherScopeBlocker() {
	if o := b.w.s.OtherScope; o != nil && o.Exists {
		b.block(Blocker{Reason: fmt.Sprintf("a hub unit is also installed in the other scope (%s), out of this run's reach", o.Path),
			Fix: fmt.Sprintf("remove it as its owner (systemctl [--user] disable --now parachute-hub.service, then delete %s), or pass --scope to manage that one", o.Path)})
	}
}

// absent plans the uninstall: no unit, nothing of the box running.
func (b *builder) absent() {
	b.trustBlockers()
	b.otherScopeBlocker()
	b.pidfileBlockers()
	b.staleHolderBlockers()
	b.unitSteps("the absent model leaves nothing installed")
	b.staleUnits()
	b.collectStops(func(int) bool { return false })
	b.removePidfiles(func(state.Pidfile) bool { return false }, false)
	b.waitStopped()
	for _, h := range b.holders {
		if h.Verdict == VerdictForeign || h.Verdict == VerdictUnknown {
			b.note("port %d is held by pid %d (%s), which is not part of the box; left alone", h.Port, h.Pid, h.Verdict)
		}
	}
}

// ownOneshot returns the reconciler's own timer or boot unit when this run
// is one of its runs (its control group's unit is ownUnits), else "".
// Those units are Type=oneshot: when the run exits, systemd stops the unit
// and kills whatever is left in its control group, a detached hub the run
// started included.
func (w *world) ownOneshot() string {
	p, ok := w.procs[w.s.Self]
	if !ok {
		return ""
	}
	unit := cgroupUnit(p.Cgroup)
	if ok, _ := path.Match(ownUnits, unit); ok {
		return unit
	}
	return ""
}

// isDetachedHub reports whether pid runs the desired hub command as the
// leader of its own session.
func (w *world) isDetachedHub(pid int) bool {
	p, ok := w.procs[pid]
	if !ok || p.Sid != p.Pid || len(w.d.HubCommand) == 0 || len(p.Argv) < len(w.d.HubCommand) {
		return false
	}
	for i, a := range w.d.HubCommand {
		if p.Argv[i] != a {
			return false
		}
	}
	return true
}

// lingerUser names the user whose linger write-unit enables, when it does.
func lingerUser(on bool, name string) string {
	if on {
		return name
	}
	return ""
}

// oneLine folds a small file into one line for a note.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			parts = append(parts, l)
		}
	}
	out := strings.Join(parts, "; ")
	if len(out) > 200 {
		out = spec.CutAtRune(out, 200) + "…" // never half a character
	}
	return out
}

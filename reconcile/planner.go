package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
	"github.com/parachute/reconcile/unitfile"
)

// Compute diffs the snapshot against the desired model and returns the plan.
// It is a pure function: the same inputs always give the same plan, and a
// converged snapshot gives a plan without steps.
//
// The order of steps is the order of docs/design.md's safety rules: the unit file
// is written before anything is stopped; stale module units are disabled
// before the processes they would respawn are stopped; every stop comes
// before any wait for a free port; every declared port is waited for before
// the hub starts. When a blocker exists the plan stops nothing at all (it
// may still show the write-unit step, as a preview; the actuator applies
// nothing from a blocked plan).
func Compute(d spec.Desired, s state.Snapshot) Plan {
	b := &builder{w: newWorld(d, s)}
	b.holders = b.w.classify()
	switch d.Model {
	case spec.Detached:
		b.stopWhy = "; only the hub we start detached may run"
		b.detached()
	case spec.Absent:
		b.stopWhy = "; the absent model leaves nothing running"
		b.absent()
	case spec.Supervised:
		b.stopWhy = "; nothing may run outside the hub unit, which starts once every port is free"
		b.supervised()
	default:
		// spec refuses any other model; a Desired built elsewhere is
		// refused here rather than planned as one of the three.
		b.block(Blocker{Reason: fmt.Sprintf("unknown model %q", d.Model),
			Fix: "choose --desired supervised, detached or absent"})
	}
	if m := d.Manifest; !m.Exists && m.Path != "" {
		// The hub reads a missing file as no modules, and so does spec; but
		// modules started while it existed may still run, unseen.
		b.note("%s does not exist, so the box declares no modules: no module's pidfile or process was looked for", m.Path)
	}
	return b.finish(d.Model)
}

type builder struct {
	w        *world
	holders  []Holder
	blockers []Blocker
	notes    []string

	write   []Step
	units   []Step // stop-unit, remove-unit
	disable []Step
	stops   []Step
	pidfile []Step
	waits   []Step // wait-port-free
	after   []Step // remove hub.port, once the ports are free
	start   []Step // start-unit / start-detached
	healthy []Step

	pendingOnly bool // the unit is starting: the plan only waits
	// failure is why the box is not converged when no step can help now;
	// halt means nothing at all may be done (the manager did not answer).
	failure *Failure
	halt    bool
	modules []ModuleReport
	// stopWhy ends every stop's reason: why the model needs it gone.
	stopWhy string
}

func (b *builder) block(bl Blocker) { b.blockers = append(b.blockers, bl) }
func (b *builder) note(format string, a ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, a...))
}

// finish orders the steps, numbers them and decides the outcome.
func (b *builder) finish(m spec.Model) Plan {
	p := Plan{Desired: m, Holders: b.holders, Notes: b.notes, Blockers: b.blockers}
	if p.Holders == nil {
		p.Holders = []Holder{}
	}
	if p.Blockers == nil {
		p.Blockers = []Blocker{}
	}
	if probs := b.w.s.Problems; len(probs) > 0 {
		if b.destructive() {
			b.blockers = append(b.blockers, Blocker{
				Reason: "the observation is incomplete, and a plan that stops or starts anything must not guess: " + strings.Join(probs, "; "),
				Fix:    "if a permission is what stopped it, run as root (or as the box's user); if a pidfile is not a regular file (a FIFO, a directory), move it aside; the reason lists what could not be read",
			})
			p.Blockers = b.blockers
		} else {
			for _, pr := range probs {
				p.Notes = append(p.Notes, "not observed: "+pr)
			}
		}
	}
	p.Failure, p.Modules = b.failure, b.modules
	var steps []Step
	if b.halt && len(b.blockers) == 0 {
		// Nothing is known of the unit: no step can be chosen safely.
	} else if len(b.blockers) > 0 {
		// Rule: a run that cannot finish changes nothing. The unit file
		// is shown, not written, so a person can read what would be.
		steps = append(steps, b.write...)
	} else {
		for _, group := range [][]Step{b.write, b.units, b.disable, b.stops, b.pidfile, b.waits, b.after, b.start, b.healthy} {
			steps = append(steps, group...)
		}
	}
	for i := range steps {
		steps[i].N = i + 1
	}
	if steps == nil {
		steps = []Step{}
	}
	p.Steps = steps
	switch {
	case len(b.blockers) > 0:
		p.Outcome = OutcomeBlocked
	case len(steps) == 0 && b.failure != nil:
		p.Outcome = OutcomeFailed
	case len(steps) == 0:
		p.Outcome, p.Converged = OutcomeConverged, true
	case b.pendingOnly && onlyWaits(steps):
		p.Outcome = OutcomePending
	default:
		p.Outcome = OutcomeChanges
	}
	return p
}

// destructive reports whether the plan stops, starts, disables or deletes
// anything (pidfiles included: an incomplete observation may have judged
// one wrongly).
func (b *builder) destructive() bool {
	return len(b.units)+len(b.disable)+len(b.stops)+len(b.pidfile)+len(b.after)+len(b.start) > 0
}

func onlyWaits(steps []Step) bool {
	for _, st := range steps {
		if st.Action != WaitHealthy && st.Action != WaitPortFree {
			return false
		}
	}
	return true
}

// ---- shared pieces ----

// holderBlockers turns every foreign or unknown holder (and every holder in a
// stale unit we may not manage) into a blocker with what to do about it.
func (b *builder) holderBlockers() {
	for _, h := range b.holders {
		if b.recorded(h.Port) && (h.Verdict == VerdictForeign || h.Verdict == VerdictUnknown) {
			b.note("hub.port records :%d, now held by pid %d, which is not the box's (%s check: %s); left alone, and hub.port is stale",
				h.Port, h.Pid, h.Check, h.Evidence)
			continue
		}
		switch h.Verdict {
		case VerdictForeign, VerdictUnknown:
			bl := Blocker{Port: h.Port, Pid: h.Pid, User: h.User, Argv: h.Argv, Verdict: h.Verdict, Check: h.Check}
			what := "the hub"
			if h.Owner != "hub" {
				what = "module " + h.Owner
			}
			switch {
			case h.Verdict == VerdictUnknown:
				bl.Reason = fmt.Sprintf("port %d (%s) is held, owner unknown: %s", h.Port, what, h.Evidence)
				bl.Fix = fmt.Sprintf("run as root (or as the owning user) to see who holds it: ss -ltnp 'sport = :%d'", h.Port)
			case h.Check == CheckProtected || h.Check == CheckOwner:
				bl.Reason = fmt.Sprintf("port %d (%s) is held by a protected process: %s", h.Port, what, h.Evidence)
				bl.Fix = fmt.Sprintf("stop pid %d yourself if it is safe, or move %s to another port; then run again", h.Pid, what)
			default:
				bl.Reason = fmt.Sprintf("port %d (%s) is held by an unrelated process (%s check): %s", h.Port, what, h.Check, h.Evidence)
				bl.Fix = fmt.Sprintf("stop pid %d yourself if it is safe (kill %d), or move %s to another port; then run again", h.Pid, h.Pid, what)
			}
			b.block(bl)
		case VerdictDetached, VerdictOrphan, VerdictUnit, VerdictStaleUnit:
			// The box's own: stopped by the plan, kept in the unit, or
			// left to the stale unit's step (staleHolderBlockers).
		}
	}
	b.staleHolderBlockers()
}

// recorded reports whether port is one only hub.port names.
func (b *builder) recorded(port int) bool {
	for _, p := range b.w.s.Ports {
		if p.Port == port {
			return p.Recorded
		}
	}
	return false
}

// staleHolderBlockers blocks on a declared port held by a stale module unit
// this user cannot stop (a system unit seen by a user): it would come back.
func (b *builder) staleHolderBlockers() {
	for _, h := range b.holders {
		if h.Verdict != VerdictStaleUnit {
			continue
		}
		if su, ok := b.w.staleUnitOf(h.Pid); ok && !su.Manageable {
			b.block(Blocker{Port: h.Port, Pid: h.Pid, User: h.User, Argv: h.Argv, Verdict: h.Verdict,
				Reason: fmt.Sprintf("port %d is held by the %s unit %s, which this user cannot stop", h.Port, su.Scope, su.Name),
				Fix:    otherScopeFix(su, b.w.d.User.Name)})
		}
	}
}

// pidfileBlockers blocks on a pidfile whose live process cannot be inspected:
// it may be ours, and we must not guess.
func (b *builder) pidfileBlockers() {
	for _, pf := range b.w.s.Pidfiles {
		if pf.State == state.PidUnknown {
			b.block(Blocker{Pid: pf.Pid, Verdict: VerdictUnknown,
				Reason: fmt.Sprintf("%s names live pid %d, which cannot be inspected: %s", pf.Path, pf.Pid, pf.Reason),
				Fix:    fmt.Sprintf("run as the user that owns pid %d (or root); if it is not part of the box, delete %s", pf.Pid, pf.Path)})
		}
	}
}

// stopTarget is a process the plan will signal.
type stopTarget struct {
	pid, pgid int
	start     uint64
	what      string // "detached hub", "detached module vault", "orphan on :1940"
	hub       bool   // the hub's own process (its pidfile's, or on its port): stopped first in the list
	evidence  string
	ports     []int
}

// collectStops gathers every process of ours outside any unit that must go:
// live pidfile processes and attributable holders of declared ports, minus
// those keep() spares. Holders in a group that is signalled as a whole are
// folded into the group's step.
func (b *builder) collectStops(keep func(pid int) bool) {
	targets := b.stopTargets(keep)
	b.w.foldGroups(targets)
	var pids []int
	for pid := range targets {
		pids = append(pids, pid)
	}
	// Hub first, then by pid: deterministic and readable.
	sort.Slice(pids, func(i, j int) bool {
		if hi, hj := targets[pids[i]].hub, targets[pids[j]].hub; hi != hj {
			return hi
		}
		return pids[i] < pids[j]
	})
	for _, pid := range pids {
		t := targets[pid]
		sort.Ints(t.ports)
		who := fmt.Sprintf("pid %d", t.pid)
		if t.pgid > 0 {
			who = fmt.Sprintf("pid %d, group %d", t.pid, t.pgid)
		}
		reason := fmt.Sprintf("%s (%s): %s", t.what, who, t.evidence)
		if len(t.ports) > 0 {
			reason += "; holds " + portList(t.ports)
		}
		reason += b.stopWhy
		b.stops = append(b.stops, Step{Action: Stop, Target: t.what, Reason: reason, Pid: t.pid, Pgid: t.pgid, StartTicks: t.start})
	}
}

// stopTargets are the processes collectStops stops, by pid: every live
// pidfile process whose claim holds, and every detached or orphan holder
// of a declared port, unless protected, spared by keep, inside the hub
// unit or inside a stale unit.
func (b *builder) stopTargets(keep func(pid int) bool) map[int]*stopTarget {
	w := b.w
	targets := map[int]*stopTarget{}
	portsOf := map[int][]int{}
	for _, h := range b.holders {
		if h.Pid > 0 {
			portsOf[h.Pid] = append(portsOf[h.Pid], h.Port)
		}
	}
	addTarget := func(pid int, what, evidence string, hub bool) {
		if check, _ := w.protected(pid); check != "" || pid <= 0 || keep(pid) || w.unitOwned(pid) {
			return // the last word: nothing protected is ever a target
		}
		if _, stale := w.staleUnitOf(pid); stale {
			return // the disable-unit step stops it; a kill would be undone by Restart=
		}
		if t, ok := targets[pid]; ok {
			t.ports = appendUnique(t.ports, portsOf[pid]...)
			t.hub = t.hub || hub
			return
		}
		p := w.procs[pid]
		t := &stopTarget{pid: pid, start: p.StartTicks, what: what, hub: hub, evidence: evidence, ports: appendUnique(nil, portsOf[pid]...)}
		if p.Pgid == pid && w.mayGroupSignal(pid) {
			t.pgid = pid
		}
		targets[pid] = t
	}
	for _, pf := range w.s.Pidfiles {
		c, ok := w.fileClaims[pf.Path]
		if !ok || !c.ok {
			continue
		}
		what := "detached hub"
		if pf.Service != "hub" {
			what = "detached module " + pf.Service
		}
		addTarget(pf.Pid, what, c.why, pf.Service == "hub")
	}
	for _, h := range b.holders {
		if h.Verdict != VerdictDetached && h.Verdict != VerdictOrphan {
			continue
		}
		what := fmt.Sprintf("orphan on :%d", h.Port)
		if h.Verdict == VerdictDetached {
			what = fmt.Sprintf("detached process on :%d", h.Port)
		}
		addTarget(h.Pid, what, h.Evidence, h.Owner == "hub")
	}
	return targets
}

// foldGroups folds members of a group that is signalled as a whole into
// its leader's target.
func (w *world) foldGroups(targets map[int]*stopTarget) {
	var pids []int
	for pid := range targets {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	for _, pid := range pids {
		t := targets[pid]
		p := w.procs[pid]
		if t.pgid == 0 && p.Pgid > 1 {
			if leader, ok := targets[p.Pgid]; ok && leader.pgid == p.Pgid {
				leader.ports = appendUnique(leader.ports, t.ports...)
				delete(targets, pid)
			}
		}
	}
}

// removePidfiles adds a remove-pidfile step for every pidfile except those
// keep() spares, and for hub.port unless keepPortFile. Live ones come after
// their stop (the actuator checks the process is gone before deleting); a
// file whose live pid is not the box's by the evidence (claimOf) is stale
// and removed, its pid left alone, with the check that failed in the
// step's reason. hub.port goes last, after the waits: only once the port it
// records is free.
func (b *builder) removePidfiles(keep func(state.Pidfile) bool, keepPortFile bool) {
	keepPort := keepPortFile
	for _, pf := range b.w.s.Pidfiles {
		if keep(pf) || pf.State == state.PidUnknown {
			continue
		}
		if pf.State == state.PidLive && b.w.unitOwned(pf.Pid) {
			// The unit's own process wrote it (a hub-server.ts command
			// writes hub.pid and hub.port itself): not a detached leftover.
			if pf.Service == "hub" {
				keepPort = true
			}
			continue
		}
		st := Step{Action: RemovePidfile, Target: pidfileTarget(pf), Path: pf.Path, Under: b.w.d.Home, Pid: pf.Pid}
		switch pf.State {
		case state.PidLive:
			if c := b.w.fileClaims[pf.Path]; !c.ok {
				// The box's process would have passed: the one the file
				// named is gone, and the file with it. The pid is never
				// touched.
				st.Reason = fmt.Sprintf("pid %d is not the box's (%s check: %s); the file is stale and pid %d is left alone", pf.Pid, c.check, c.why, pf.Pid)
				st.Pid = 0
				break
			}
			st.StartTicks = b.w.procs[pf.Pid].StartTicks
			st.Reason = fmt.Sprintf("pid %d is being stopped; its pidfile goes with it", pf.Pid)
		case state.PidDead:
			st.Reason = fmt.Sprintf("pid %d is no longer running", pf.Pid)
			st.Pid = 0 // gone when observed; a new process with that pid is not its
		case state.PidReused:
			st.Reason = fmt.Sprintf("pid %d is now a different process (%s); the process the file named is gone and pid %d is left alone", pf.Pid, pf.Reason, pf.Pid)
			st.Pid = 0 // nothing to wait for: the named process is gone
		case state.PidUnknown:
			continue // pidfileBlockers blocks on it; never removed
		case state.PidInvalid:
			st.Reason = fmt.Sprintf("the file names no process (%s)", cmp.Or(pf.Reason, "not a pid"))
			st.Pid = 0
		}
		b.pidfile = append(b.pidfile, st)
	}
	if pf := b.w.s.HubPortFile; pf != nil && !keepPort {
		reason := "hub.port belongs to a detached hub, which is going away"
		if pf.Port > 0 && pf.Port != b.w.s.HubPort {
			reason = fmt.Sprintf("hub.port records :%d for a detached hub, which is going away; removed once :%d is free", pf.Port, pf.Port)
		}
		b.after = append(b.after, Step{Action: RemovePidfile, Target: "hub port file", Path: pf.Path, Under: b.w.d.Home, Reason: reason})
	}
}

// stoppedPorts are the ports whose holders the plan's stops reach (the
// pid itself, or a member of the group it signals).
func (b *builder) stoppedPorts() map[int]bool {
	stopped := map[int]bool{}
	for _, st := range b.stops {
		for _, h := range b.holders {
			if h.Pid == st.Pid || (st.Pgid > 0 && b.w.procs[h.Pid].Pgid == st.Pgid) {
				stopped[h.Port] = true
			}
		}
	}
	return stopped
}

func pidfileTarget(pf state.Pidfile) string {
	if pf.Service == "hub" {
		return "hub pidfile"
	}
	return "pidfile of " + pf.Service
}

// waitPorts adds wait-port-free for each port in ports. A port only
// hub.port records is waited for only when the plan stops its holder: it
// is no port of the box's, and a stranger may have it now.
//
// Only a supervised plan lets the hub unit's own processes hold a port
// while it waits (Members): the unit it starts next is that unit. A
// detached or absent plan stops the unit first, and anything left in its
// control group (KillMode=process, a stray child) still holds the port:
// nothing starts, and hub.port is not removed, until it is gone.
func (b *builder) waitPorts(ports []state.Port, why string) {
	stopped := b.stoppedPorts()
	var members *Members
	if b.w.d.Model == spec.Supervised {
		members = b.w.members()
	}
	for _, p := range ports {
		if p.Recorded && !stopped[p.Port] {
			continue
		}
		b.waits = append(b.waits, Step{Action: WaitPortFree, Target: "port " + strconv.Itoa(p.Port), Port: p.Port,
			Reason: fmt.Sprintf(":%d (%s) %s", p.Port, p.Label(), why), Members: members})
	}
}

// staleUnits disables every stale module unit we may manage that is active or
// would start again (enabled); reports the others.
func (b *builder) staleUnits() {
	for _, su := range b.w.s.StaleUnits {
		running := isActiveish(su.ActiveState)
		enabled := isEnabledish(su.UnitFileState)
		if !running && !enabled {
			continue
		}
		if ours, why := b.w.staleUnitOurs(su); !ours {
			b.note("%s (%s scope) is %s/%s and named like a per-module unit of an older install, but it is left alone: %s",
				su.Name, su.Scope, cmp.Or(su.ActiveState, "?"), cmp.Or(su.UnitFileState, "?"), why)
			continue
		}
		if !su.Manageable {
			b.note("stale module unit %s (%s scope) is %s/%s and restarts %s behind the hub's back, but this run cannot change it: %s",
				su.Name, su.Scope, cmp.Or(su.ActiveState, "?"), cmp.Or(su.UnitFileState, "?"), su.Short, otherScopeFix(su, b.w.d.User.Name))
			continue
		}
		b.disable = append(b.disable, Step{Action: DisableUnit, Target: "stale unit " + su.Name, Unit: su.Name, Scope: su.Scope,
			Reason: fmt.Sprintf("%s is %s and %s: a per-module unit from an older install that restarts %s behind the hub's back (hub#522)",
				su.Name, cmp.Or(su.ActiveState, "loaded"), cmp.Or(su.UnitFileState, "present"), su.Short)})
	}
}

// otherScopeFix is the exact command that disables a stale unit of the
// scope this run does not manage.
func otherScopeFix(su state.StaleUnit, user string) string {
	if su.Scope == string(spec.ScopeUser) {
		return fmt.Sprintf("systemctl --user -M %s@ disable --now %s", cmp.Or(user, "<user>"), su.Name)
	}
	return "sudo systemctl disable --now " + su.Name
}

func isActiveish(s string) bool {
	switch s {
	case "active", "activating", "reloading", "deactivating", "running":
		return true
	}
	return false
}

func isEnabledish(s string) bool {
	switch s {
	case "enabled", "enabled-runtime", "static", "indirect", "linked", "linked-runtime", "generated", "alias":
		return true
	}
	return false
}

// unitWanted renders the unit or plist the desired state asks for. An
// explicit --manager that is not the platform's own is rendered for the
// platform it belongs to, so that --plan can preview it (observe then
// reports the manager unavailable, which blocks the run).
func (b *builder) unitWanted() (unitfile.Location, string, error) {
	w := b.w
	goos := w.s.GOOS
	switch w.d.Manager {
	case spec.ManagerLaunchd:
		goos = "darwin"
	case spec.ManagerSystemd:
		goos = "linux"
	case spec.ManagerAuto:
		// The platform observed.
	}
	loc, err := unitfile.Locate(goos, w.d)
	if err != nil {
		return loc, "", err
	}
	if len(w.d.HubCommand) == 0 {
		return loc, "", fmt.Errorf("the hub command is unknown: %s", cmp.Or(w.d.HubCommandProblem, "set hub.command in the spec file"))
	}
	content, err := unitfile.Render(loc, unitfile.NewHub(goos, w.s.GOARCH, w.d, loc))
	return loc, string(content), err
}

// unitDiffs compares the file on disk with want by meaning.
func (b *builder) unitDiffs(loc unitfile.Location, want string) ([]string, error) {
	return unitfile.Compare(loc.Manager, []byte(want), []byte(b.w.s.Unit.File.Content))
}

// managerBlocker blocks when the service manager cannot be asked.
func (b *builder) managerBlocker(why string) {
	u := b.w.s.Unit
	if u.Reach == state.Unanswered {
		// The manager is there but the conversation failed: a rerun may
		// pass, so it is a failure (exit 1), not a person's problem.
		b.managerFailure(why)
		return
	}
	fix := "run on a box with systemd (Linux) or launchd (macOS), or choose --desired detached"
	switch u.Reach {
	case state.NoUserManager:
		fix = fmt.Sprintf("log in as %s once, or enable linger as root: loginctl enable-linger %s", b.w.d.User.Name, b.w.d.User.Name)
	case state.NoDomain:
		// Over SSH there is no gui/<uid> domain, and launchd refuses the
		// hub's agent in user/<uid> (error 134): it would start only at the
		// next desktop login anyway.
		fix = fmt.Sprintf("log in to %s's desktop session (or Screen Sharing) so that %s exists, then run again; or choose --desired detached", b.w.d.User.Name, cmp.Or(u.Scope, "the gui domain"))
	case state.OtherPlatform, state.NoManager, state.NoSystemManager, state.Unanswered, state.ObserverFailed, state.Reached:
		if u.Manager == spec.ManagerLaunchd && b.w.s.GOOS != "darwin" {
			fix = "launchd exists only on macOS: run this on the Mac, or use --manager systemd here"
		}
	default:
		panic(fmt.Sprintf("reconcile: unknown manager reach %q", u.Reach))
	}
	b.block(Blocker{Reason: fmt.Sprintf("%s: %s", why, cmp.Or(u.Problem, "no service manager")), Fix: fix})
}

func portList(ports []int) string {
	var s []string
	for _, p := range ports {
		s = append(s, ":"+strconv.Itoa(p))
	}
	return strings.Join(s, ", ")
}

func appendUnique(list []int, xs ...int) []int {
	for _, x := range xs {
		if !slices.Contains(list, x) {
			list = append(list, x)
		}
	}
	return list
}

// trustBlockers applies the trust model's rules about who the run acts for
// and what it may believe (rules 1 and 7): a run acts only as the box's
// owner, or as root on a home root owns; it believes no input someone else
// could have written; and it writes (or lets the manager write) nothing
// through a symlink planted under the home (linkBlockers, called where a
// model decides to write).
func (b *builder) trustBlockers() {
	d, s := b.w.d, b.w.s
	if d.Owner.Known && d.Owner.UID != s.User.UID {
		owner := cmp.Or(d.Owner.Name, fmt.Sprintf("#%d", d.Owner.UID))
		bl := Blocker{Check: CheckOwner,
			Reason: fmt.Sprintf("%s belongs to %s (uid %d), and this run is %s (uid %d): a run acts only for the box's owner",
				d.Home, owner, d.Owner.UID, cmp.Or(s.User.Name, "?"), s.User.UID)}
		if s.User.UID == 0 {
			bl.Reason += "; as root it would put the box's unit, processes and files under root"
			bl.Fix = fmt.Sprintf("run it as the owner: sudo -u %s parachute reconcile --home %s …", owner, d.Home)
		} else {
			bl.Fix = fmt.Sprintf("run it as %s (the owner of %s)", owner, d.Home)
		}
		b.block(bl)
	}
	for _, u := range d.Untrusted {
		if u.What == "hub command" && d.Model == spec.Absent {
			continue // absent runs nothing
		}
		b.block(Blocker{Check: CheckFile,
			Reason: fmt.Sprintf("the %s %s cannot be trusted: %s", u.What, u.Path, u.Why),
			Fix:    "make it (and every directory above it) owned by the box's owner or root and not writable by group or others (chmod go-w), then run again"})
	}
}

// linkBlockers blocks on a symlink planted on the way to any of writes,
// the files under the home the plan writes or has the manager write.
func (b *builder) linkBlockers(writes ...string) {
	for _, l := range b.w.s.Links {
		if !slices.Contains(writes, l.For) {
			continue
		}
		b.block(Blocker{Check: CheckFile,
			Reason: fmt.Sprintf("%s is a symlink to %q, on the way to %s, which this run would write; parachute never writes through a link it did not create", l.Path, l.Target, l.For),
			Fix:    fmt.Sprintf("remove the link (rm %s) and run again", l.Path)})
	}
}

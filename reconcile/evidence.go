package reconcile

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
	"github.com/parachute/reconcile/unitfile"
)

// This file is the trust model's one evidence function (docs/design.md,
// "The trust model"): everything that decides whether a process, a
// pidfile's claim or a unit is the box's. A reader can audit what a root
// run may signal from here alone; the planner only ever stops what
// evidence() or claimOf() call ours, and never a protected process.

// Check names the test a piece of evidence passed or failed. Holders and
// blockers carry it so that a person (and a machine) sees exactly which
// check decided.
type Check string

// The checks, in the order they are applied.
const (
	// CheckProtected: pid 1, a kernel thread, the reconciler or one of its
	// ancestors, or a process of a user other than the box's owner.
	CheckProtected Check = "protected"
	// CheckFile: the pidfile itself cannot be believed (who may write it).
	CheckFile Check = "file"
	// CheckStartTime: the pid started after its pidfile was written.
	CheckStartTime Check = "start-time"
	// CheckOwner: the process does not run as the box's owner.
	CheckOwner Check = "owner"
	// CheckMarker: argv, exe or cwd name (or do not name) the owner of the
	// port by a whole path component.
	CheckMarker Check = "marker"
	// CheckPort: the process (or its group) holds the row's declared port.
	CheckPort Check = "port"
	// CheckEnvironment: its environment carries this box's PARACHUTE_HOME.
	CheckEnvironment Check = "environment"
	// CheckUnit: it runs inside another service's control group, where
	// only a marker is evidence.
	CheckUnit Check = "unit"
	// CheckPidfile: named by a pidfile whose claim stands.
	CheckPidfile Check = "pidfile"
	// CheckAncestor: descends from a process that is the box's by one of
	// the checks above (never by an ancestor's cwd).
	CheckAncestor Check = "ancestor"
	// CheckUnreadable: the details needed to decide cannot be read.
	CheckUnreadable Check = "unreadable"
)

// launchPlaces are the service units a detached box may have been started
// from (cron, at, a user's manager, the reconciler's own timer and boot
// units): a process inside one of them is judged like one in a login
// session. Any other service's control group (sshd.service,
// postgresql.service, …) is somebody's service; its processes are ours only
// on marker evidence, never on a pidfile's word.
var launchPlaces = []string{"cron.service", "crond.service", "anacron.service", "atd.service", ownUnits, "user@*.service"}

// ownUnits matches the reconciler's own timer and boot service units.
const ownUnits = "parachute-reconcile*.service"

// claim is the planner's verdict on one live pidfile.
type claim struct {
	pf state.Pidfile
	// ok is whether the pid is the box's.
	ok bool
	// check is the check that decided, why says how, in a sentence.
	check Check
	why   string
}

// owner is the uid the box belongs to.
func (w *world) owner() int {
	if w.d.Owner.Known {
		return w.d.Owner.UID
	}
	return w.s.User.UID
}

// protected reports whether pid must never be signalled whatever the
// evidence, the check that says so and why: pid 0/1, a kernel thread, the
// reconciler and every ancestor of it (CheckProtected), and any process
// whose user is not the box's owner or cannot be read (CheckOwner). The
// check is "" for a process that is not protected.
func (w *world) protected(pid int) (Check, string) {
	switch {
	case pid <= 1:
		return CheckProtected, fmt.Sprintf("pid %d is init", pid)
	case pid == w.s.Self:
		return CheckProtected, fmt.Sprintf("pid %d is this reconciler", pid)
	case pid == w.s.Parent || slices.Contains(w.s.Ancestors, pid):
		return CheckProtected, fmt.Sprintf("pid %d is an ancestor of this reconciler", pid)
	}
	p, ok := w.procs[pid]
	if !ok {
		return "", ""
	}
	switch {
	case p.Kernel:
		return CheckProtected, fmt.Sprintf("pid %d is a kernel thread", pid)
	case slices.Contains(p.Unreadable, "uid"):
		return CheckOwner, fmt.Sprintf("the user of pid %d cannot be read", pid)
	case p.UID != w.owner():
		return CheckOwner, fmt.Sprintf("pid %d runs as %s, not as the box's owner %s", pid, userOf(p), w.ownerName())
	}
	return "", ""
}

func (w *world) ownerName() string {
	if w.d.Owner.Name != "" {
		return fmt.Sprintf("%s (uid %d)", w.d.Owner.Name, w.owner())
	}
	return fmt.Sprintf("uid %d", w.owner())
}

// foreignService returns the service unit whose control group holds p when
// it is somebody else's service (not the hub unit, not a launch place), or
// "".
func foreignService(p state.Process) string {
	unit := cgroupUnit(p.Cgroup)
	if !strings.HasSuffix(unit, ".service") {
		return "" // a login session or terminal scope, or no systemd at all
	}
	for _, pat := range launchPlaces {
		if ok, _ := path.Match(pat, unit); ok {
			return ""
		}
	}
	return unit
}

// cgroupUnit is the innermost service or scope unit of a control group
// path ("" when there is none).
func cgroupUnit(cg string) string {
	unit := ""
	for _, c := range strings.Split(cg, "/") {
		if strings.HasSuffix(c, ".service") || strings.HasSuffix(c, ".scope") {
			unit = c
		}
	}
	return unit
}

// rowMarkers returns the markers and declared ports of the row a pidfile
// belongs to: the hub's command and ports (hubPorts), or the module's.
func (w *world) rowMarkers(pf state.Pidfile) ([]spec.Marker, []int) {
	if pf.Service == "hub" {
		return w.d.HubMarkers(), w.hubPorts()
	}
	var markers []spec.Marker
	var ports []int
	for _, m := range w.s.Modules {
		if m.Name == pf.Module || (pf.Module == "" && (m.Short == pf.Service || slices.Contains(m.LegacyShorts, pf.Service))) {
			markers = append(markers, m.Markers()...)
			ports = append(ports, m.Port)
		}
	}
	return markers, ports
}

// hubPorts are the ports a hub of this box may hold: the declared hub port
// and the one a trusted hub.port records (a detached hub there is ours,
// rule 8).
func (w *world) hubPorts() []int {
	ports := []int{w.s.HubPort}
	if hp := w.s.HubPortFile; hp != nil && hp.Port > 0 && hp.Untrusted == "" && hp.Port != w.s.HubPort {
		ports = append(ports, hp.Port)
	}
	return ports
}

// attributes finds one of markers in p (argv, exe, and cwd for markers that
// allow it), ignoring markers that are never evidence for this box.
func (w *world) attributes(markers []spec.Marker, p state.Process) (spec.Match, bool) {
	return spec.Attributes(markers, w.d.Home, p.Argv, p.Exe, p.Cwd)
}

// holdsPort reports whether pid, or a member of the group it leads, holds
// one of ports.
func (w *world) holdsPort(pid int, ports []int) (int, bool) {
	for _, port := range w.s.Ports {
		if !slices.Contains(ports, port.Port) {
			continue
		}
		for _, l := range port.Listeners {
			for _, h := range l.Pids {
				if h == pid || (w.procs[h].Pgid == pid && w.procs[pid].Pgid == pid) {
					return port.Port, true
				}
			}
		}
	}
	return 0, false
}

// claimOf decides whether the live process a pidfile names is the box's
// (rule 4): the file is trusted, the process is not protected, runs as the
// owner, and is further identified by a marker of the file's row, by
// holding the row's port, or by carrying this box's PARACHUTE_HOME. A row
// without markers gets no shortcut, and inside another service's control
// group only a marker counts.
func (w *world) claimOf(pf state.Pidfile) claim {
	c := claim{pf: pf}
	p, ok := w.procs[pf.Pid]
	if !ok {
		c.check, c.why = CheckUnreadable, fmt.Sprintf("%s names pid %d, which could not be read", pf.Path, pf.Pid)
		return c
	}
	if pf.Untrusted != "" {
		c.check, c.why = CheckFile, fmt.Sprintf("%s is not to be trusted: %s", pf.Path, pf.Untrusted)
		return c
	}
	if check, why := w.protected(pf.Pid); check != "" {
		c.check, c.why = check, why
		return c
	}
	markers, ports := w.rowMarkers(pf)
	if m, ok := w.attributes(markers, p); ok {
		c.ok, c.check, c.why = true, CheckMarker, fmt.Sprintf("%s names pid %d, started before the file was written, running as the owner; %s", pf.Path, pf.Pid, m)
		return c
	}
	if unit := foreignService(p); unit != "" {
		c.check, c.why = CheckUnit, fmt.Sprintf("%s names pid %d, which runs inside %s's control group, and there only a marker counts: its argv, exe and cwd name none of %s", pf.Path, pf.Pid, unit, markerList(markers))
		return c
	}
	if port, ok := w.holdsPort(pf.Pid, ports); ok {
		c.ok, c.check, c.why = true, CheckPort, fmt.Sprintf("%s names pid %d, started before the file was written, running as the owner and holding its row's port %d", pf.Path, pf.Pid, port)
		return c
	}
	if p.EnvHome != "" && path.Clean(p.EnvHome) == w.d.Home {
		c.ok, c.check, c.why = true, CheckEnvironment, fmt.Sprintf("%s names pid %d, started before the file was written, running as the owner with PARACHUTE_HOME=%s", pf.Path, pf.Pid, w.d.Home)
		return c
	}
	c.check = CheckMarker
	c.why = fmt.Sprintf("%s names pid %d (%s), but nothing else says it is the box's: its argv, exe and cwd name none of %s, it holds none of %s, and its environment does not carry PARACHUTE_HOME=%s",
		pf.Path, pf.Pid, argvShort(p.Argv), markerList(markers), portsOrNone(ports), w.d.Home)
	return c
}

// evidence decides whether pid, which holds port (0: none), is a process
// of this box outside any unit, with the check that decided and why. It is
// the only place holders are attributed; unit and stale-unit membership
// are decided before it is asked.
func (w *world) evidence(pid, port int) (Verdict, Check, string) {
	p, ok := w.procs[pid]
	if !ok {
		return VerdictUnknown, CheckUnreadable, fmt.Sprintf("pid %d exited or could not be read while observing", pid)
	}
	if check, why := w.protected(pid); check != "" {
		return VerdictForeign, check, why + "; it is never signalled"
	}
	if c, ok := w.claims[pid]; ok && c.ok {
		return VerdictDetached, CheckPidfile, c.why
	}
	if p.Pgid > 1 && p.Pgid != pid {
		if c, ok := w.claims[p.Pgid]; ok && c.ok && w.mayGroupSignal(p.Pgid) {
			return VerdictDetached, CheckPidfile, fmt.Sprintf("pid %d is in process group %d, led by pid %d of %s", pid, p.Pgid, p.Pgid, c.pf.Path)
		}
	}
	own := w.ownerMarkers(port)
	if m, ok := w.attributes(own, p); ok {
		return VerdictOrphan, CheckMarker, fmt.Sprintf("no pidfile names pid %d, but its %s, the owner of port %d", pid, m, port)
	}
	if c, ok := w.claims[pid]; ok && !c.ok {
		return VerdictForeign, c.check, c.why
	}
	if unit := foreignService(p); unit != "" {
		return VerdictForeign, CheckUnit, fmt.Sprintf("pid %d runs inside %s's control group and its argv, exe and cwd name none of %s (the owner of port %d)", pid, unit, markerList(own), port)
	}
	if v, why, ok := w.byAncestor(pid, port); ok {
		return v, CheckAncestor, why
	}
	if len(p.Argv) == 0 && slices.Contains(p.Unreadable, "argv") {
		return VerdictUnknown, CheckUnreadable, fmt.Sprintf("the command line of pid %d cannot be read", pid)
	}
	return VerdictForeign, CheckMarker, fmt.Sprintf("pid %d is not named by a pidfile of the box, and its argv, exe and cwd name none of %s (the owner of port %d)", pid, markerList(own), port)
}

// byAncestor attributes pid through its nearest ancestor that is someone:
// a pidfile process whose claim stands (ours if it may hold port), a
// process that runs the owner of port, a sibling module (then it is not
// ours: a CI job a runner started is not the runner), or the hub (whose
// children are the modules it supervises). An ancestor counts by what it
// runs (its exe and spec.Program of its argv), never by what it merely
// mentions — an editor open on the hub's cli.ts is not the hub — nor by its
// cwd; the walk stops at the hub unit and at any protected process.
func (w *world) byAncestor(pid, port int) (Verdict, string, bool) {
	if port <= 0 {
		return "", "", false
	}
	own, siblings, hub := w.ownerMarkers(port), w.siblingMarkers(port), w.d.HubMarkers()
	for _, a := range w.ancestors(pid) {
		if w.unitOwned(a) {
			return "", "", false
		}
		if check, _ := w.protected(a); check != "" {
			return "", "", false
		}
		if c, ok := w.claims[a]; ok {
			if c.ok && w.ownsPort(c.pf, port) {
				return VerdictDetached, fmt.Sprintf("pid %d descends from pid %d: %s", pid, a, c.why), true
			}
			return "", "", false
		}
		ap, ok := w.procs[a]
		if !ok {
			return "", "", false
		}
		ap.Argv, ap.Cwd = spec.Program(ap.Argv), "" // what it runs, not what it mentions or where
		if m, ok := w.attributes(own, ap); ok {
			return VerdictOrphan, fmt.Sprintf("pid %d descends from pid %d, whose %s, the owner of port %d", pid, a, m, port), true
		}
		if _, ok := w.attributes(siblings, ap); ok {
			return "", "", false
		}
		if m, ok := w.attributes(hub, ap); ok {
			return VerdictOrphan, fmt.Sprintf("pid %d descends from pid %d, a hub process (its %s)", pid, a, m), true
		}
	}
	return "", "", false
}

// mayGroupSignal reports whether group pgid may be signalled as a whole:
// it holds no protected process the snapshot saw (the reconciler's own
// group, an ancestor's, another user's process: observe records the
// reconciler and all its ancestors among the processes).
func (w *world) mayGroupSignal(pgid int) bool {
	return pgid > 1 && !w.protectedGroups[pgid]
}

// staleUnitOurs decides whether a unit named like a stale module unit is
// one (rule 6): its short is in the hub's catalogue of every era, and what
// it runs names that module. A unit whose command is unknown, or runs
// something else, is not the box's.
func (w *world) staleUnitOurs(su state.StaleUnit) (bool, string) {
	if !slices.Contains(unitfile.KnownShorts, su.Short) {
		return false, fmt.Sprintf("%s is not named after a module of the hub's catalogue", su.Name)
	}
	// The module's markers as a parachute-<short> row would have them
	// (its name, and its npm package for a first-party module), plus
	// those of any row the box declares for that short.
	markers := spec.Module{Name: "parachute-" + su.Short}.Markers()
	for _, m := range w.s.Modules {
		if m.Short == su.Short || slices.Contains(m.LegacyShorts, su.Short) {
			markers = append(markers, m.Markers()...)
		}
	}
	if len(su.ExecStart) == 0 {
		return false, fmt.Sprintf("what %s runs cannot be read, so it cannot be told from an unrelated unit", su.Name)
	}
	for _, argv := range su.ExecStart {
		if m, ok := spec.Attributes(markers, w.d.Home, argv, "", ""); ok {
			return true, fmt.Sprintf("%s runs %s: its %s", su.Name, argvShort(argv), m)
		}
	}
	return false, fmt.Sprintf("%s runs %s, which names none of %s", su.Name, argvShort(su.ExecStart[0]), markerList(markers))
}

// markerList names markers for a message.
func markerList(ms []spec.Marker) string {
	var vs []string
	for _, m := range ms {
		vs = append(vs, fmt.Sprintf("%q", m.Value))
	}
	if len(vs) == 0 {
		return "its row's markers (the row has none: a bare name such as \"vault\" is no evidence)"
	}
	return strings.Join(vs, ", ")
}

func portsOrNone(ports []int) string {
	if len(ports) == 0 {
		return "any declared port (the row declares none)"
	}
	return portList(ports)
}

// argvShort is argv for a message (state.CommandLine), at most 200
// bytes.
func argvShort(argv []string) string {
	s := state.CommandLine(argv)
	if len(s) > 200 {
		s = spec.CutAtRune(s, 200) + "…"
	}
	return cmp.Or(s, "no command line")
}

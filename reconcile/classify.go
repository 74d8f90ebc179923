package reconcile

import (
	"fmt"
	"sort"

	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/spec"
)

// world indexes a Snapshot for the planner's questions. It is built once per
// Plan call and never mutated afterwards.
type world struct {
	d     spec.Desired
	s     observe.Snapshot
	procs map[int]observe.Process
	// pidfileOf maps a live, verified pidfile pid to its pidfile.
	pidfileOf map[int]observe.Pidfile
	// launchd is true when the unit is a launchd job (ownership by pid tree,
	// not cgroup).
	launchd bool
}

func newWorld(d spec.Desired, s observe.Snapshot) *world {
	w := &world{d: d, s: s, procs: make(map[int]observe.Process, len(s.Processes)), pidfileOf: map[int]observe.Pidfile{}}
	for _, p := range s.Processes {
		w.procs[p.Pid] = p
	}
	for _, pf := range s.Pidfiles {
		if pf.State == observe.PidLive && pf.Pid > 0 {
			if _, dup := w.pidfileOf[pf.Pid]; !dup {
				w.pidfileOf[pf.Pid] = pf
			}
		}
	}
	w.launchd = s.Unit.Manager == "launchd"
	return w
}

// protected reports whether pid must never be signalled whatever the
// evidence: pid 0/1, the reconciler itself and its parent.
func (w *world) protected(pid int) bool {
	return pid <= 1 || pid == w.s.Self || pid == w.s.Parent
}

// ancestors returns pid's ancestors from its parent up to (not including)
// pid 1, as far as the snapshot's process table reaches.
func (w *world) ancestors(pid int) []int {
	var out []int
	seen := map[int]bool{pid: true}
	for cur := w.procs[pid].PPid; cur > 1 && !seen[cur]; {
		seen[cur] = true
		out = append(out, cur)
		p, ok := w.procs[cur]
		if !ok {
			break
		}
		cur = p.PPid
	}
	return out
}

// inCgroup reports whether the process lives in cgroup cg or below it.
func inCgroup(p observe.Process, cg string) bool { return observe.InCgroup(p.Cgroup, cg) }

// unitOwned reports whether pid belongs to the hub unit: inside its control
// group (systemd) or in the job's process tree (launchd).
func (w *world) unitOwned(pid int) bool {
	u := w.s.Unit
	p, ok := w.procs[pid]
	if !ok {
		return false
	}
	if w.launchd {
		if u.MainPID <= 1 {
			return false
		}
		if pid == u.MainPID {
			return true
		}
		for _, a := range w.ancestors(pid) {
			if a == u.MainPID {
				return true
			}
		}
		return false
	}
	return inCgroup(p, u.ControlGroup)
}

// staleUnitOf returns the stale module unit whose cgroup holds pid.
func (w *world) staleUnitOf(pid int) (observe.StaleUnit, bool) {
	p, ok := w.procs[pid]
	if !ok {
		return observe.StaleUnit{}, false
	}
	for _, su := range w.s.StaleUnits {
		if inCgroup(p, su.ControlGroup) || (su.MainPID > 1 && su.MainPID == pid) {
			return su, true
		}
	}
	return observe.StaleUnit{}, false
}

// ownerMarkers returns the attribution markers for the owner of port: the
// hub's command for the hub port, else those of every module declared on
// it (vault mounts share one port).
func (w *world) ownerMarkers(port int) []string {
	if port == w.s.HubPort {
		return w.d.HubMarkers()
	}
	var m []string
	for _, mod := range w.s.Modules {
		if mod.Port == port {
			m = append(m, mod.Markers()...)
		}
	}
	return m
}

// ours decides whether pid is a process of this box outside any unit, and
// why. It is the only place rule 2 of DESIGN.md is applied.
func (w *world) ours(pid, port int) (Verdict, string) {
	p, ok := w.procs[pid]
	if !ok {
		return VerdictUnknown, fmt.Sprintf("pid %d exited or could not be read while observing", pid)
	}
	if pf, ok := w.pidfileOf[pid]; ok {
		return VerdictDetached, fmt.Sprintf("pid %d is named by %s and started before the file was written", pid, pf.Path)
	}
	// In the group led by a verified pidfile process (wrapper children).
	if p.Pgid > 1 && p.Pgid != pid {
		if pf, ok := w.pidfileOf[p.Pgid]; ok {
			return VerdictDetached, fmt.Sprintf("pid %d is in process group %d, led by pid %d of %s", pid, p.Pgid, p.Pgid, pf.Path)
		}
	}
	if port > 0 {
		if m, ok := spec.Attributes(w.ownerMarkers(port), p.Argv, p.Exe, p.Cwd); ok {
			return VerdictOrphan, fmt.Sprintf("no pidfile names pid %d, but its command line mentions %q, the owner of port %d", pid, m, port)
		}
	}
	// A descendant (a wrapper's child, one that called setsid) belongs to
	// its nearest ancestor that is someone: a pidfile process, the port's
	// owner, the hub, or a sibling module. Only the first two and the hub
	// (whose children are the modules it supervises) make it ours; a child
	// of a sibling on this port is a stranger (a CI job the runner started
	// is not the runner).
	hub, own, siblings := w.d.HubMarkers(), w.ownerMarkers(port), w.siblingMarkers(port)
	for _, a := range w.ancestors(pid) {
		if w.unitOwned(a) {
			break
		}
		if pf, ok := w.pidfileOf[a]; ok {
			if w.ownsPort(pf, port) {
				return VerdictDetached, fmt.Sprintf("pid %d descends from pid %d of %s", pid, a, pf.Path)
			}
			break
		}
		ap, ok := w.procs[a]
		if !ok || port <= 0 {
			break
		}
		if m, ok := spec.Attributes(own, ap.Argv, ap.Exe, ap.Cwd); ok {
			return VerdictOrphan, fmt.Sprintf("pid %d descends from pid %d whose command line mentions %q, the owner of port %d", pid, a, m, port)
		}
		if _, ok := spec.Attributes(siblings, ap.Argv, ap.Exe, ap.Cwd); ok {
			break
		}
		if m, ok := spec.Attributes(hub, ap.Argv, ap.Exe, ap.Cwd); ok {
			return VerdictOrphan, fmt.Sprintf("pid %d descends from pid %d, a hub process (%q)", pid, a, m)
		}
	}
	if len(p.Argv) == 0 && containsStr(p.Unreadable, "argv") {
		return VerdictUnknown, fmt.Sprintf("the command line of pid %d cannot be read", pid)
	}
	return VerdictForeign, fmt.Sprintf("pid %d is not named by any pidfile and its command line does not mention the owner of port %d", pid, port)
}

// ownsPort reports whether the process of pidfile pf may hold port: the hub
// any declared port (it supervises the modules), a module its own.
func (w *world) ownsPort(pf observe.Pidfile, port int) bool {
	if pf.Service == "hub" {
		return true
	}
	for _, m := range w.s.Modules {
		if m.Port == port && (m.Short == pf.Service || m.Name == pf.Module || containsStr(m.LegacyShorts, pf.Service)) {
			return true
		}
	}
	return false
}

// siblingMarkers are the markers of every module not declared on port: a
// process that carries them belongs to another module.
func (w *world) siblingMarkers(port int) []string {
	var m []string
	for _, mod := range w.s.Modules {
		if mod.Port != port {
			m = append(m, mod.Markers()...)
		}
	}
	return m
}

// classify returns one Holder per (port, holding pid) and per socket whose
// owner cannot be read, sorted by port then pid.
func (w *world) classify() []Holder {
	var hs []Holder
	for _, port := range w.s.Ports {
		seen := map[int]bool{}
		for _, l := range port.Listeners {
			if len(l.Pids) == 0 {
				hs = append(hs, Holder{
					Port: port.Port, Owner: port.Owner, Verdict: VerdictUnknown,
					User:     fmt.Sprintf("uid %d", l.UID),
					Evidence: fmt.Sprintf("%s is listening (socket inode %d, uid %d) but no readable process holds it", l.Addr, l.Inode, l.UID),
				})
				continue
			}
			for _, pid := range l.Pids {
				if seen[pid] {
					continue
				}
				seen[pid] = true
				h := Holder{Port: port.Port, Owner: port.Owner, Pid: pid}
				if p, ok := w.procs[pid]; ok {
					h.Argv, h.User = p.Argv, userOf(p)
				}
				switch {
				case w.unitOwned(pid):
					h.Verdict = VerdictUnit
					h.Evidence = w.unitEvidence(pid)
				default:
					if su, ok := w.staleUnitOf(pid); ok {
						h.Verdict = VerdictStaleUnit
						h.Evidence = fmt.Sprintf("pid %d runs in the stale unit %s", pid, su.Name)
					} else {
						h.Verdict, h.Evidence = w.ours(pid, port.Port)
					}
				}
				hs = append(hs, h)
			}
		}
	}
	sort.SliceStable(hs, func(i, j int) bool {
		if hs[i].Port != hs[j].Port {
			return hs[i].Port < hs[j].Port
		}
		return hs[i].Pid < hs[j].Pid
	})
	return hs
}

func (w *world) unitEvidence(pid int) string {
	if w.launchd {
		return fmt.Sprintf("pid %d is the job %s (pid %d) or its descendant", pid, w.s.Unit.Name, w.s.Unit.MainPID)
	}
	return fmt.Sprintf("pid %d runs in %s's control group %s", pid, w.s.Unit.Name, w.s.Unit.ControlGroup)
}

func userOf(p observe.Process) string {
	if p.User != "" {
		return p.User
	}
	return fmt.Sprintf("uid %d", p.UID)
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

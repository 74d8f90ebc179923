package reconcile

import (
	"fmt"
	"slices"
	"sort"

	"github.com/parachute/reconcile/internal/procfs"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

// world indexes a Snapshot for the planner's questions. It is built once per
// Plan call and never mutated afterwards.
type world struct {
	d     spec.Desired
	s     state.Snapshot
	procs map[int]state.Process
	// fileClaims is the verdict on each live pidfile's claim (claimOf),
	// by path; claims the same by pid, where a pid several files name is
	// the box's when any of their claims stands (the others are stale).
	fileClaims map[string]claim
	claims     map[int]claim
	// protectedGroups are the process groups holding a protected process.
	protectedGroups map[int]bool
	// ourStale are the stale units that are the box's (staleUnitOurs),
	// by name and scope.
	ourStale map[[2]string]bool
	// launchd is true when the unit is a launchd job (ownership by pid tree,
	// not cgroup).
	launchd bool
}

func newWorld(d spec.Desired, s state.Snapshot) *world {
	w := &world{d: d, s: s, procs: make(map[int]state.Process, len(s.Processes)),
		fileClaims: map[string]claim{}, claims: map[int]claim{}}
	for _, p := range s.Processes {
		w.procs[p.Pid] = p
	}
	w.ourStale = map[[2]string]bool{}
	for _, su := range s.StaleUnits {
		if ours, _ := w.staleUnitOurs(su); ours {
			w.ourStale[[2]string{su.Name, su.Scope}] = true
		}
	}
	w.protectedGroups = map[int]bool{}
	for _, p := range s.Processes {
		if check, _ := w.protected(p.Pid); check != "" {
			w.protectedGroups[p.Pgid] = true
		}
	}
	for _, pf := range s.Pidfiles {
		if pf.State != state.PidLive || pf.Pid <= 0 {
			continue
		}
		c := w.claimOf(pf)
		w.fileClaims[pf.Path] = c
		if prev, dup := w.claims[pf.Pid]; !dup || (c.ok && !prev.ok) {
			w.claims[pf.Pid] = c
		}
	}
	w.launchd = s.Unit.Manager == spec.ManagerLaunchd
	return w
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
func inCgroup(p state.Process, cg string) bool { return procfs.InCgroup(p.Cgroup, cg) }

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
func (w *world) staleUnitOf(pid int) (state.StaleUnit, bool) {
	p, ok := w.procs[pid]
	if !ok {
		return state.StaleUnit{}, false
	}
	for _, su := range w.s.StaleUnits {
		if !w.ourStale[[2]string{su.Name, su.Scope}] {
			continue
		}
		if inCgroup(p, su.ControlGroup) || (su.MainPID > 1 && su.MainPID == pid) {
			return su, true
		}
	}
	return state.StaleUnit{}, false
}

// ownerMarkers returns the attribution markers for the owner of port: the
// hub's for the hub port and for the port hub.port records (a detached hub
// there is ours, rule 8), and those of every module declared on it (vault
// mounts share one port).
func (w *world) ownerMarkers(port int) []spec.Marker {
	var m []spec.Marker
	if slices.Contains(w.hubPorts(), port) {
		m = append(m, w.d.HubMarkers()...)
	}
	for _, mod := range w.s.Modules {
		if mod.Port == port && port != w.s.HubPort {
			m = append(m, mod.Markers()...)
		}
	}
	return m
}

// ownsPort reports whether the process of pidfile pf may hold port: the hub
// any declared port (it supervises the modules), a module its own.
func (w *world) ownsPort(pf state.Pidfile, port int) bool {
	if pf.Service == "hub" {
		return true
	}
	_, ports := w.rowMarkers(pf)
	return slices.Contains(ports, port)
}

// siblingMarkers are the markers of every module not declared on port: a
// process that carries them belongs to another module.
func (w *world) siblingMarkers(port int) []spec.Marker {
	var m []spec.Marker
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
						h.Verdict, h.Check, h.Evidence = w.evidence(pid, port.Port)
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

func userOf(p state.Process) string {
	if p.User != "" {
		return p.User
	}
	return fmt.Sprintf("uid %d", p.UID)
}

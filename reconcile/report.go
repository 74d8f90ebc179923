package reconcile

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
	"github.com/parachute/reconcile/unitfile"
)

// moduleReports says what each declared module is doing under a hub that
// runs (inHub tells whether a pid belongs to that hub: its unit, or the
// detached hub's tree). started is when the hub's process started (zero
// when unknown). A module the hub cannot start, or that its supervisor
// gave up on, is reported as exactly that, never as "the supervisor
// restarts it".
func (b *builder) moduleReports(inHub func(pid int) bool, started time.Time) []ModuleReport {
	s := b.w.s
	idle := map[string]state.IdleModule{}
	for _, im := range s.Idle {
		idle[im.Name] = im
	}
	listeners := map[int][]state.Listener{}
	for _, p := range s.Ports {
		listeners[p.Port] = p.Listeners
	}
	bound := b.w.d.Timeouts.Modules
	var out []ModuleReport
	for _, m := range s.Modules {
		if m.Port == s.HubPort {
			continue // reported as a blocker: the hub holds that port
		}
		r := ModuleReport{Name: m.Name, Short: m.Short, Port: m.Port}
		if ls := listeners[m.Port]; len(ls) > 0 {
			r.State, r.Evidence = b.listening(m.Port, ls, inHub)
			out = append(out, r)
			continue
		}
		im := idle[m.Name]
		age := s.Taken.Sub(started)
		switch {
		case im.Unstartable != "":
			r.State, r.Evidence = ModuleUnstartable, im.Unstartable
		case im.GivenUp:
			r.State, r.Evidence = ModuleGivenUp, "the hub's supervisor gave up on it: "+im.LastLog+" — it stays down until the hub restarts"
		case !started.IsZero() && bound > 0 && age < bound:
			r.State = ModuleBooting
			r.Evidence = fmt.Sprintf("not listening on :%d yet; the hub started %s ago and starts its modules one by one (bound %s)", m.Port, age.Round(100*time.Millisecond), bound)
		case im.Missing != "":
			r.State, r.Evidence = ModuleUnstartable, im.Missing
		default:
			r.State = ModuleDown
			r.Evidence = fmt.Sprintf("not listening on :%d", m.Port)
			if !started.IsZero() {
				r.Evidence += fmt.Sprintf(" %s after the hub started", age.Round(time.Second))
			}
			r.Evidence += "; the hub's supervisor has not given up on it"
			if im.LastLog != "" {
				r.Evidence += " (last: " + im.LastLog + ")"
			}
		}
		out = append(out, r)
	}
	return out
}

// listening judges a module whose port has listeners: up when one of them
// is the hub's, else down with who holds the port instead.
func (b *builder) listening(port int, ls []state.Listener, inHub func(int) bool) (ModuleState, string) {
	var others []string
	for _, l := range ls {
		for _, pid := range l.Pids {
			if inHub(pid) {
				return ModuleUp, fmt.Sprintf("listening on %s (pid %d, under the hub)", l.Addr, pid)
			}
			others = append(others, strconv.Itoa(pid))
		}
	}
	if len(others) == 0 {
		return ModuleDown, fmt.Sprintf(":%d is held by a process whose owner cannot be read, so the hub cannot start the module there", port)
	}
	return ModuleDown, fmt.Sprintf(":%d is held by pid %s, outside the hub, so the hub's supervisor refuses to start the module (port_squatter)", port, strings.Join(others, ", "))
}

// processStarted is when pid started, zero when the snapshot lacks it.
func (w *world) processStarted(pid int) time.Time {
	if p, ok := w.procs[pid]; ok {
		return p.Started
	}
	return time.Time{}
}

// waitModules is the step, after a start, that waits (bounded) for the
// modules the hub boots.
func (b *builder) waitModules() []Step {
	var mods []spec.Module
	for _, m := range b.w.s.Modules {
		if m.Port != b.w.s.HubPort {
			mods = append(mods, m)
		}
	}
	if len(mods) == 0 {
		return nil
	}
	return []Step{{Action: WaitModules, Target: fmt.Sprintf("%d %s", len(mods), plural(len(mods), "module", "modules")),
		Reason:  fmt.Sprintf("the hub starts its modules one by one after it answers; wait up to %s for each it can start to answer its health path", b.w.d.Timeouts.Modules),
		Modules: mods, Dir: b.w.d.Home, Log: unitfile.LogPath(b.w.d.Home)}}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// hubPortRows blocks on rows that declare the hub's own port: the hub binds
// it first, so such a module can never run, and the plan would otherwise
// say nothing about it.
func (b *builder) hubPortRows() {
	s := b.w.s
	for _, m := range s.Modules {
		if m.Port != s.HubPort {
			continue
		}
		fix := fmt.Sprintf("give the row %s its own port in %s", spec.ShownName(m.Name), b.w.d.Manifest.Path)
		if s.HubPort != spec.DefaultHubPort {
			fix += fmt.Sprintf(", or run the hub on another port than %d (--port, hub.port in the spec file)", s.HubPort)
		}
		b.block(Blocker{Port: m.Port,
			Reason: fmt.Sprintf("module %s is declared on port %d, the hub's own port: the hub binds it first, so the module can never run", spec.ShownName(m.Name), m.Port),
			Fix:    fix})
	}
}

// homeBlocker blocks a run that would start a hub in a home that does not
// exist: an empty box started by a cron line without PARACHUTE_HOME is
// never what was meant.
func (b *builder) homeBlocker() {
	d := b.w.d
	if !d.HomeMissing {
		return
	}
	b.block(Blocker{
		Reason: fmt.Sprintf("PARACHUTE_HOME %s does not exist (resolved from %s); parachute never creates a box", d.Home, cmp.Or(d.HomeFrom, "the defaults")),
		Fix:    "pass --home DIR (or set PARACHUTE_HOME) to the box's directory; a new box is made by the hub's own `parachute init`",
	})
}

// managerAccount is the manager's own words on how the hub last ended.
func managerAccount(u state.Unit) string {
	var parts []string
	if u.Result != "" {
		parts = append(parts, "Result="+u.Result)
	}
	switch u.ExecMainCode {
	case 1:
		parts = append(parts, fmt.Sprintf("the hub exited with status %d", u.ExecMainStatus))
	case 2:
		parts = append(parts, fmt.Sprintf("the hub was killed by signal %d", u.ExecMainStatus))
	case 3:
		parts = append(parts, fmt.Sprintf("the hub dumped core (signal %d)", u.ExecMainStatus))
	}
	if u.LastExitCode != 0 {
		parts = append(parts, fmt.Sprintf("last exit code %d", u.LastExitCode))
	}
	if u.NRestarts > 0 {
		parts = append(parts, fmt.Sprintf("%d automatic %s", u.NRestarts, plural(u.NRestarts, "restart", "restarts")))
	}
	return strings.Join(parts, ", ")
}

// unitFailure describes a hub unit that failed or crash-loops.
func (b *builder) unitFailure(reason string) *Failure {
	u := b.w.s.Unit
	return &Failure{Reason: reason, Manager: managerAccount(u), HubLog: b.w.s.HubLog, Journal: u.Journal,
		Fix: "the lines below are the hub's own; fix what they say (or hub.command in the spec file) and run again — a changed unit is applied at once, without waiting out the restarts"}
}

// managerFailure is the failure for a manager that did not answer.
func (b *builder) managerFailure(why string) {
	u := b.w.s.Unit
	b.failure = &Failure{Reason: fmt.Sprintf("%s: the %s manager did not answer (%s)", why, cmp.Or(u.Manager, "service"), u.Problem),
		Fix: "run again: a bus that restarted answers the next run; if it persists, check `systemctl status dbus` (or `systemctl --user status`)"}
	b.halt = true
}

// systemctlScope is systemctl's flag for scope, with its trailing space:
// "--user " for the user manager, "" for the system's.
func systemctlScope(scope string) string {
	if scope == string(spec.ScopeUser) {
		return "--user "
	}
	return ""
}

// dropInBlockers blocks a start that a drop-in is certain to break (an
// ExecStartPre= or ExecStart= that cannot run, or always fails): the box
// would go down for a start bound to fail.
func (b *builder) dropInBlockers(starting bool) {
	if !starting {
		return
	}
	u := b.w.s.Unit
	user := systemctlScope(u.Scope)
	for _, di := range u.DropIns {
		for _, br := range di.Breaks {
			b.block(Blocker{
				Reason: fmt.Sprintf("the drop-in %s would make the hub unit fail before the hub runs: %s", di.Path, br),
				Fix:    fmt.Sprintf("fix or remove it (rm %s, or systemctl %srevert %s), then run again; nothing was stopped", di.Path, user, cmp.Or(u.Name, "parachute-hub.service")),
			})
		}
	}
}

package actuatetest

// The world as a Mac: the hub's LaunchAgent instead of a systemd unit. The
// launchd itself (domains, loaded jobs, overrides, the bootout window) is
// launchdtest.Launchctl, which starts and stops its jobs' programs here
// through SpawnJob and StopTree; Snapshot asks it through the real
// observer's launchd code (observe.LaunchdUnits), so what the planner sees
// is what `launchctl print` would have shown.

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// NewMac returns an empty Mac: the user op (uid 501, home /Users/op), the hub
// command under /Users/op/.bun, the LaunchAgent computer.parachute.hub not
// installed. Set Launchctl (launchdtest.New) before taking a Snapshot.
func NewMac(home string, hubPort int, modules []spec.Module) *World {
	w := New(home, hubPort, modules)
	// The systemd unit table keeps one inert entry under the hub's name (the
	// systemd part of Snapshot reads it); launchd's jobs are Launchctl's.
	delete(w.units, w.UnitName)
	w.Manager = spec.ManagerLaunchd
	w.User = spec.User{Name: "op", UID: 501, Home: "/Users/op"}
	w.HubArgv = []string{"/Users/op/.bun/bin/bun", "/Users/op/.bun/install/global/node_modules/@openparachute/hub/src/cli.ts", "serve"}
	w.UnitName = unitfile.LaunchdLabel
	w.UnitPath = filepath.Join(w.User.Home, unitfile.LaunchAgentsDir, unitfile.LaunchdLabel+".plist")
	w.UnitCgroup = ""
	w.units[w.UnitName] = &Unit{Name: w.UnitName}
	for _, pid := range []int{99, 100} {
		w.procs[pid].UID = w.User.UID
	}
	return w
}

// LaunchdDomain is the hub's domain on this Mac: gui/<uid>.
func (w *World) LaunchdDomain() string { return fmt.Sprintf("gui/%d", w.User.UID) }

// AgentPath is where the plist of label lives: ~/Library/LaunchAgents.
func (w *World) AgentPath(label string) string {
	return filepath.Join(w.User.Home, unitfile.LaunchAgentsDir, label+".plist")
}

// JobSpawn says how launchd starts a job's program.
type JobSpawn struct {
	// Label names the job in Violations.
	Label string
	Argv  []string
	// Port is what a program other than the hub listens on (a stale module
	// agent's PORT); the hub binds HubPort and boots its modules.
	Port int
	// Requested is true when a launchctl command (bootstrap, kickstart)
	// asked for the start rather than launchd's own KeepAlive respawn. A
	// requested start of the hub while a declared port is held by any
	// process is a Violation (docs/design.md rule 1: every holder is outside a
	// job that has no process yet).
	Requested bool
}

// SpawnJob starts a job's program the way launchd does: a child of launchd
// (pid 1) leading its own session. The hub binds HubPort, or exits at once
// when it is held; another program listens on Port, or exits at once when
// it is held. It returns the pid and whether the process still runs.
func (w *World) SpawnJob(js JobSpawn) (pid int, alive bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	hub := &Proc{Argv: js.Argv}
	if w.isHub(hub) && js.Requested {
		for _, port := range w.declared() {
			if h := w.holder(port); h != nil {
				w.Violations = append(w.Violations, fmt.Sprintf("launchd job %s started while :%d is held by pid %d outside it", js.Label, port, h.Pid))
			}
		}
	}
	pid = w.spawn(Proc{Argv: append([]string(nil), js.Argv...), PPid: 1, Sid: -1})
	p := w.procs[pid]
	p.Sid, p.Pgid = pid, pid
	switch {
	case w.isHub(p):
		w.bootHub(p)
	case js.Port > 0 && w.holder(js.Port) != nil:
		w.kill(p) // EADDRINUSE
	case js.Port > 0:
		p.Ports = []int{js.Port}
	}
	return pid, !p.dead
}

// StopTree ends pid and every process descending from it, as a hub does with
// the modules it started when launchd sends it SIGTERM.
func (w *World) StopTree(pid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	root, ok := w.procs[pid]
	if !ok || root.dead {
		return
	}
	for _, p := range w.sortedProcs() {
		if !p.dead && p.Pid != pid && w.descends(p, pid) {
			w.kill(p)
		}
	}
	w.kill(root)
}

// Alive reports whether pid is a live process.
func (w *World) Alive(pid int) bool {
	_, ok := w.Proc(pid)
	return ok
}

// FilesUnder returns the paths of the files in dir (not below it), sorted.
func (w *World) FilesUnder(dir string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for path := range w.files {
		if filepath.Dir(path) == dir {
			out = append(out, path)
		}
	}
	sort.Strings(out)
	return out
}

// ModTime returns when path was last written, and whether it exists.
func (w *World) ModTime(path string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, ok := w.files[path]
	return f.mtime, ok
}

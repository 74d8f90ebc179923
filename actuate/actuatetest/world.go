// Package actuatetest is a working, in-memory Parachute box for tests: a
// process table with groups, sessions, start times and signals; listening
// ports with exclusive binds; files; a service manager with units, control
// groups and job results; a hub that answers /health and boots its modules;
// and a clock that only moves when someone sleeps.
//
// It implements every interface the actuator consumes and produces the
// state.Snapshot the planner reads, so a test can run observe → plan →
// apply → observe in memory, crash the run at any step, and check the box.
// Failures are switched on with FailNext; nothing asserts call sequences.
package actuatetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

// Proc is one fake process.
type Proc struct {
	Pid, PPid, Pgid, Sid int
	Start                uint64
	UID                  int
	Argv                 []string
	Cgroup               string
	// Ports the process listens on.
	Ports []int
	// IgnoreTERM makes SIGTERM a no-op; SlowExit delays the exit after
	// SIGTERM by that much fake time.
	IgnoreTERM bool
	SlowExit   time.Duration
	// Unreadable hides the process's details (another user's process seen
	// by a non-root reconciler).
	Unreadable bool
	termAt     time.Time
	dead       bool
}

// Unit is one fake unit.
type Unit struct {
	Name    string
	Enabled bool
	Active  string // "", active, activating, failed
	MainPID int
	// Cgroup is the unit's control group.
	Cgroup string
	// Stale units run this argv on this port when active.
	Argv []string
	Port int
	// retryAt is when an activating unit tries to start its hub again
	// (RestartSec=).
	retryAt time.Time
}

// World is the fake box.
type World struct {
	mu sync.Mutex

	Home    string
	HubPort int
	Modules []spec.Module
	User    spec.User
	Self    int
	// HubArgv is the hub command; a process whose argv starts with it
	// answers /health like a hub.
	HubArgv []string
	// UnitName, UnitPath and UnitCgroup describe the hub unit.
	UnitName, UnitPath, UnitCgroup string
	Linger                         bool
	// ManagerDown makes the manager unreachable.
	ManagerDown bool
	// Manager is the service manager Snapshot reports: "" (systemd, the
	// units above) or spec.ManagerLaunchd (a Mac, see NewMac), whose jobs
	// Launchctl knows.
	Manager spec.Manager
	// Launchctl is the Mac's launchctl (launchdtest.Launchctl), asked by
	// Snapshot when Manager is spec.ManagerLaunchd.
	Launchctl observe.Launchctl

	now      time.Time
	boot     time.Time
	nextPid  int
	procs    map[int]*Proc
	files    map[string]file
	units    map[string]*Unit
	failNext map[string]error
	// looks counts Held calls.
	looks int

	// Violations records every breach of a safety invariant the world can
	// see: a hub unit started while a declared port was held by a process
	// outside it, a signal to a protected pid, two hubs alive at once.
	Violations []string
}

type file struct {
	data    []byte
	mtime   time.Time
	symlink string
}

// New returns an empty world: no processes but the reconciler (pid 100,
// whose parent is pid 99), no files, the hub unit not installed.
func New(home string, hubPort int, modules []spec.Module) *World {
	t := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	w := &World{
		Home: home, HubPort: hubPort, Modules: modules, Self: 100,
		User:     spec.User{Name: "op", UID: 1000, Home: "/home/op"},
		HubArgv:  []string{"/home/op/.bun/bin/bun", "/opt/hub/src/cli.ts", "serve"},
		UnitName: "parachute-hub.service", UnitPath: "/home/op/.config/systemd/user/parachute-hub.service",
		UnitCgroup: "/user.slice/user-1000.slice/user@1000.service/app.slice/parachute-hub.service",
		now:        t, boot: t.Add(-time.Hour), nextPid: 1000,
		procs: map[int]*Proc{}, files: map[string]file{}, units: map[string]*Unit{}, failNext: map[string]error{},
	}
	w.procs[1] = &Proc{Pid: 1, Pgid: 1, Sid: 1, Argv: []string{"/sbin/init"}, Start: 1}
	w.procs[99] = &Proc{Pid: 99, PPid: 1, Pgid: 99, Sid: 99, UID: 1000, Argv: []string{"/bin/sh"}, Start: 2}
	w.procs[100] = &Proc{Pid: 100, PPid: 99, Pgid: 100, Sid: 99, UID: 1000, Argv: []string{"parachute", "reconcile"}, Start: 3}
	w.units[w.UnitName] = &Unit{Name: w.UnitName, Cgroup: w.UnitCgroup}
	return w
}

// FailNext makes the next call of op fail with err. Ops: "write", "remove",
// "reload", "start", "stop", "linger", "signal", "start-detached", "probe",
// "holders".
func (w *World) FailNext(op string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failNext[op] = err
}

func (w *World) fail(op string) error {
	if err, ok := w.failNext[op]; ok {
		delete(w.failNext, op)
		return err
	}
	return nil
}

func (w *World) ticks(t time.Time) uint64 { return uint64(t.Sub(w.boot) / (10 * time.Millisecond)) }

// Spawn adds a live process. pgid 0 makes it lead its own group; sid 0
// puts it in its parent's session. The new pid is returned.
func (w *World) Spawn(p Proc) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spawn(p)
}

func (w *World) spawn(p Proc) int {
	w.nextPid++
	p.Pid = w.nextPid
	if p.PPid == 0 {
		p.PPid = 1
	}
	if p.Pgid == 0 {
		p.Pgid = p.Pid
	}
	if p.Sid == 0 {
		if parent, ok := w.procs[p.PPid]; ok {
			p.Sid = parent.Sid
		} else {
			p.Sid = p.Pid
		}
	}
	if p.UID == 0 && !p.Unreadable {
		p.UID = w.User.UID
	}
	w.now = w.now.Add(10 * time.Millisecond)
	p.Start = w.ticks(w.now)
	w.procs[p.Pid] = &p
	return p.Pid
}

// WriteFileNow puts a file in the world (mtime = now).
func (w *World) WriteFileNow(path, content string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(10 * time.Millisecond)
	w.files[path] = file{data: []byte(content), mtime: w.now}
}

// Symlink makes path a symlink to target.
func (w *World) Symlink(path, target string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files[path] = file{symlink: target, mtime: w.now}
}

// File returns a file's content and whether it exists.
func (w *World) File(path string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, ok := w.files[path]
	return string(f.data), ok
}

// Pids lists every live process's pid, sorted.
func (w *World) Pids() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	for _, p := range w.sortedProcs() {
		if !p.dead {
			out = append(out, p.Pid)
		}
	}
	return out
}

// Proc returns a copy of a live process.
func (w *World) Proc(pid int) (Proc, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.procs[pid]
	if !ok || p.dead {
		return Proc{}, false
	}
	return *p, true
}

// UnitState returns a copy of a unit.
func (w *World) UnitState(name string) Unit {
	w.mu.Lock()
	defer w.mu.Unlock()
	if u, ok := w.units[name]; ok {
		return *u
	}
	return Unit{Name: name}
}

// SetUnit replaces a unit's state (for stale units and hand-made setups).
// An active unit with Argv gets a main process in its cgroup.
func (w *World) SetUnit(u Unit) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if u.Cgroup == "" {
		u.Cgroup = "/user.slice/user-1000.slice/user@1000.service/app.slice/" + u.Name
	}
	if u.Active == "active" && len(u.Argv) > 0 && u.MainPID == 0 {
		var ports []int
		if u.Port > 0 {
			ports = []int{u.Port}
		}
		u.MainPID = w.spawn(Proc{Argv: u.Argv, Cgroup: u.Cgroup, Ports: ports})
	}
	if u.Active == "activating" && u.MainPID == 0 {
		u.retryAt = w.now.Add(5 * time.Second)
	}
	w.units[u.Name] = &u
}

// holder returns the live process holding port, if any.
func (w *World) holder(port int) *Proc {
	for _, p := range w.sortedProcs() {
		if p.dead {
			continue
		}
		for _, pp := range p.Ports {
			if pp == port {
				return p
			}
		}
	}
	return nil
}

func (w *World) sortedProcs() []*Proc {
	ps := make([]*Proc, 0, len(w.procs))
	for _, p := range w.procs {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Pid < ps[j].Pid })
	return ps
}

func (w *World) isHub(p *Proc) bool {
	if len(p.Argv) < len(w.HubArgv) {
		return false
	}
	for i := range w.HubArgv {
		if p.Argv[i] != w.HubArgv[i] {
			return false
		}
	}
	return true
}

// kill ends a process; its ports close. A hub takes its unsupervised
// children along only when they are in the unit's cgroup (the manager kills
// the cgroup); detached children survive, as real ones do.
func (w *World) kill(p *Proc) {
	p.dead = true
	p.Ports = nil
	for _, c := range w.procs {
		if c.PPid == p.Pid && !c.dead {
			c.PPid = 1
		}
	}
}

// advance moves the clock and lets processes that were told to exit go.
func (w *World) advance(d time.Duration) {
	w.now = w.now.Add(d)
	for _, p := range w.sortedProcs() {
		if !p.dead && !p.termAt.IsZero() && !w.now.Before(p.termAt) {
			w.kill(p)
		}
	}
	// An activating hub unit retries its start after RestartSec, as
	// systemd's auto-restart does.
	if u := w.units[w.UnitName]; u != nil && u.Active == "activating" && u.MainPID == 0 && !u.retryAt.IsZero() && !w.now.Before(u.retryAt) {
		u.retryAt = time.Time{}
		w.startHubUnit(u)
	}
}

// startHubUnit starts the hub in the unit's control group: active when it
// binds, failed when the port is taken.
func (w *World) startHubUnit(u *Unit) {
	pid := w.spawn(Proc{Argv: append([]string(nil), w.HubArgv...), Cgroup: u.Cgroup})
	hub := w.procs[pid]
	w.bootHub(hub)
	if hub.dead {
		u.Active, u.MainPID = "failed", 0
		return
	}
	u.Active, u.MainPID = "active", pid
}

// ---- actuate.Clock ----

// Now is the fake time.
func (w *World) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

// Sleep advances the fake time by d.
func (w *World) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(d)
	return nil
}

// ---- actuate.Processes ----

// Identity implements actuate.Processes.
func (w *World) Identity(pid int) (actuate.Identity, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.procs[pid]
	if !ok || p.dead {
		return actuate.Identity{}, actuate.ErrGone
	}
	return actuate.Identity{StartTicks: p.Start, PPid: p.PPid, Pgid: p.Pgid, Cgroup: p.Cgroup}, nil
}

// Signal implements actuate.Processes.
func (w *World) Signal(pid, pgid int, sig syscall.Signal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("signal"); err != nil {
		return err
	}
	var victims []*Proc
	if pgid > 0 {
		for _, p := range w.sortedProcs() {
			if p.Pgid == pgid && !p.dead {
				victims = append(victims, p)
			}
		}
	} else if p, ok := w.procs[pid]; ok && !p.dead {
		victims = append(victims, p)
	}
	if len(victims) == 0 {
		return syscall.ESRCH
	}
	for _, p := range victims {
		if p.Pid <= 1 || p.Pid == w.Self || p.Pid == 99 {
			w.Violations = append(w.Violations, fmt.Sprintf("signal %d sent to protected pid %d", sig, p.Pid))
			continue
		}
		switch {
		case sig == syscall.SIGKILL:
			w.kill(p)
		case p.IgnoreTERM:
		case p.SlowExit > 0:
			if p.termAt.IsZero() {
				p.termAt = w.now.Add(p.SlowExit)
			}
		default:
			w.kill(p)
		}
	}
	return nil
}

// GroupAlive implements actuate.Processes.
func (w *World) GroupAlive(pgid int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.procs {
		if p.Pgid == pgid && !p.dead {
			return true
		}
	}
	return false
}

// StartDetached implements actuate.Processes: the hub starts as a session
// leader, binds the hub port (or exits at once when it is taken) and boots
// its modules as children in their own groups.
func (w *World) StartDetached(argv, env []string, dir, log string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("start-detached"); err != nil {
		return 0, err
	}
	pid := w.spawn(Proc{Argv: append([]string(nil), argv...), PPid: 1, Sid: -1})
	p := w.procs[pid]
	p.Sid = pid
	w.bootHub(p)
	return pid, nil
}

// bootHub binds the hub port for p and starts its modules, like serve.
func (w *World) bootHub(p *Proc) {
	if h := w.holder(w.HubPort); h != nil {
		w.kill(p) // "hub port is already in use"
		return
	}
	for _, q := range w.procs {
		if !q.dead && q != p && w.isHub(q) && len(q.Ports) > 0 {
			w.Violations = append(w.Violations, fmt.Sprintf("two hubs: pid %d starts while pid %d runs", p.Pid, q.Pid))
		}
	}
	p.Ports = []int{w.HubPort}
	for _, m := range w.Modules {
		if w.holder(m.Port) != nil {
			continue // the real supervisor reports port_squatter and moves on
		}
		w.spawn(Proc{PPid: p.Pid, Argv: []string{"/opt/mods/" + m.Name + "/bin/" + m.Name, "serve"}, Cgroup: p.Cgroup, Ports: []int{m.Port}})
	}
}

// ---- actuate.Files ----

// WriteFile implements actuate.Files. The fake refuses a symlink at the
// file itself (its directories have no links).
func (w *World) WriteFile(_, path string, data []byte, perm os.FileMode) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("write"); err != nil {
		return false, err
	}
	if f, ok := w.files[path]; ok {
		if f.symlink != "" {
			return false, fmt.Errorf("write %s: refusing to write through a symlink", path)
		}
		if string(f.data) == string(data) {
			return false, nil
		}
	}
	w.now = w.now.Add(time.Millisecond)
	w.files[path] = file{data: append([]byte(nil), data...), mtime: w.now}
	return true, nil
}

// Remove implements actuate.Files.
func (w *World) Remove(_, path string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("remove"); err != nil {
		return err
	}
	delete(w.files, path)
	return nil
}

// Touch implements actuate.Files: an existing file is left as it is, a
// symlink refused.
func (w *World) Touch(_, path string, _ os.FileMode) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("write"); err != nil {
		return err
	}
	if f, ok := w.files[path]; ok {
		if f.symlink != "" {
			return fmt.Errorf("open %s: refusing to write through a symlink", path)
		}
		return nil
	}
	w.now = w.now.Add(time.Millisecond)
	w.files[path] = file{mtime: w.now}
	return nil
}

// ---- actuate.Units ----

// Reload implements actuate.Units.
func (w *World) Reload(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ManagerDown {
		return errors.New("user manager unreachable")
	}
	return actuate.Permanent(w.fail("reload"))
}

// EnableLinger implements actuate.Units.
func (w *World) EnableLinger(context.Context, string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("linger"); err != nil {
		return actuate.Permanent(err)
	}
	w.Linger = true
	return nil
}

// Start implements actuate.Units: enable, then start the hub in the unit's
// control group. It records a violation when a declared port is held by a
// process outside the unit at that moment.
func (w *World) Start(_ context.Context, name, path string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("start"); err != nil {
		return actuate.Permanent(err)
	}
	if _, ok := w.files[path]; !ok {
		return actuate.Permanent(fmt.Errorf("start %s: unit not found", name))
	}
	u := w.units[name]
	u.Enabled = true
	for _, port := range w.declared() {
		if h := w.holder(port); h != nil && h.Cgroup != u.Cgroup {
			w.Violations = append(w.Violations, fmt.Sprintf("start-unit while :%d is held by pid %d outside the unit", port, h.Pid))
		}
	}
	if u.Active == "active" && u.MainPID > 0 {
		return nil
	}
	u.retryAt = time.Time{}
	w.startHubUnit(u)
	if u.Active == "failed" {
		return actuate.Permanent(fmt.Errorf("start %s: job result failed (the hub could not bind :%d)", name, w.HubPort))
	}
	return nil
}

// Stop implements actuate.Units: stop and disable; the manager kills the
// whole control group.
func (w *World) Stop(_ context.Context, name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("stop"); err != nil {
		return actuate.Permanent(err)
	}
	u, ok := w.units[name]
	if !ok {
		return nil
	}
	for _, p := range w.sortedProcs() {
		if !p.dead && p.Cgroup == u.Cgroup {
			w.kill(p)
		}
	}
	u.Active, u.MainPID, u.Enabled = "", 0, false
	return nil
}

// Unload implements actuate.Units (nothing to forget for systemd).
func (w *World) Unload(context.Context, string) error { return nil }

// Owner implements actuate.Units.
func (w *World) Owner(_ context.Context, name string) (actuate.Ownership, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.units[name]
	if u == nil {
		return actuate.Ownership{}, fmt.Errorf("read unit %q: no such unit", name)
	}
	return actuate.Ownership{ControlGroup: u.Cgroup, MainPID: u.MainPID, Failed: u.Active == "failed", State: u.Active}, nil
}

// ---- actuate.Ports and actuate.Health ----

// Held implements actuate.Ports: every port in one look, as the real
// probe does. A "holders" failure (FailNext) fails the whole look.
func (w *World) Held(ports []int) (map[int]actuate.Holders, error) {
	w.mu.Lock()
	if err := w.fail("holders"); err != nil {
		w.mu.Unlock()
		return nil, err
	}
	w.looks++
	w.mu.Unlock()
	out := map[int]actuate.Holders{}
	for _, p := range ports {
		if pids, unknown, _ := w.Holders(p); len(pids) > 0 || unknown > 0 {
			out[p] = actuate.Holders{Pids: pids, Unknown: unknown}
		}
	}
	return out, nil
}

// PortLooks is how many times Held was called: one per poll of a wait,
// whatever the number of ports.
func (w *World) PortLooks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.looks
}

// Holders returns the pids holding port and how many holders are
// unreadable.
func (w *World) Holders(port int) ([]int, int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.holder(port); h != nil {
		if h.Unreadable {
			return nil, 1, nil
		}
		return []int{h.Pid}, 0, nil
	}
	return nil, 0, nil
}

// Probe implements actuate.Health: a hub process on the port answers 2xx.
func (w *World) Probe(_ context.Context, port int) (bool, int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("probe"); err != nil {
		return false, 0, err
	}
	h := w.holder(port)
	if h == nil {
		return false, 0, errors.New("connection refused")
	}
	return w.isHub(h), h.Pid, nil
}

// Booted implements actuate.Modules: a module is up once a child of a hub
// listens on its port (the fake's modules answer health as soon as they
// bind); a module whose port a stranger holds is still booting, as the
// real supervisor keeps retrying.
func (w *World) Booted(_ context.Context, _, _ string, mods []spec.Module) []actuate.ModuleStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]actuate.ModuleStatus, len(mods))
	for i, m := range mods {
		h := w.holder(m.Port)
		if h == nil {
			continue
		}
		if parent, ok := w.procs[h.PPid]; ok && w.isHub(parent) {
			out[i] = actuate.ModuleStatus{Done: true, State: reconcile.ModuleUp, Evidence: fmt.Sprintf("pid %d listens on :%d", h.Pid, m.Port)}
		}
	}
	return out
}

func (w *World) declared() []int {
	ports := []int{w.HubPort}
	for _, m := range w.Modules {
		ports = append(ports, m.Port)
	}
	return ports
}

// ---- state.Snapshot ----

// Snapshot observes the world the way observe does on a real box.
func (w *World) Snapshot() state.Snapshot {
	var mac launchdView
	if w.Manager == spec.ManagerLaunchd {
		// Before the lock: the fake launchctl looks at the world's processes.
		mac = w.observeLaunchd()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &state.Snapshot{
		Taken: w.now, GOOS: "linux", GOARCH: "amd64", Home: w.Home, User: w.User, Self: w.Self, Parent: 99,
		HubPort: w.HubPort, Modules: w.Modules, Skipped: []spec.SkippedRow{},
	}
	ref := map[int]bool{} // the pids the snapshot shows
	w.snapPorts(s, ref)
	w.snapPidfiles(s, ref)
	w.snapUnit(s, ref)
	w.snapStaleUnits(s)
	if w.Manager == spec.ManagerLaunchd {
		// A Mac: launchd's view replaces the systemd one above.
		w.fillLaunchd(s, mac, ref)
	}
	w.snapHealth(s)
	w.snapProcesses(s, ref)
	return *s
}

// snapPorts records each declared port once, hub first, with its holder.
func (w *World) snapPorts(s *state.Snapshot, ref map[int]bool) {
	seen := map[int]bool{}
	addPort := func(port int, owner, short string) {
		if seen[port] {
			return
		}
		seen[port] = true
		p := state.Port{Port: port, Owner: owner, Short: short, Listeners: []state.Listener{}}
		if h := w.holder(port); h != nil {
			l := state.Listener{Addr: "127.0.0.1:" + strconv.Itoa(port), Inode: uint64(h.Pid)*100 + uint64(port), UID: h.UID}
			if !h.Unreadable {
				l.Pids = []int{h.Pid}
				ref[h.Pid] = true
			}
			p.Listeners = append(p.Listeners, l)
		}
		s.Ports = append(s.Ports, p)
	}
	addPort(w.HubPort, "hub", "hub")
	for _, m := range w.Modules {
		addPort(m.Port, m.Name, m.Short)
	}
}

// snapPidfiles records the pidfiles, checked like observe checks them.
func (w *World) snapPidfiles(s *state.Snapshot, ref map[int]bool) {
	var paths []string
	for path := range w.files {
		if strings.HasSuffix(path, ".pid") {
			paths = append(paths, path)
		}
	}
	sort.Strings(paths)
	for _, path := range paths {
		f := w.files[path]
		service := strings.TrimSuffix(filepath.Base(path), ".pid")
		pf := state.Pidfile{Service: service, Path: path, ModTime: f.mtime}
		for _, m := range w.Modules {
			if m.Short == service {
				pf.Module = m.Name
			}
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(f.data)))
		switch p, ok := w.procs[pid]; {
		case err != nil || pid <= 0:
			pf.State, pf.Reason = state.PidInvalid, "not a pid"
		case !ok || p.dead:
			pf.State, pf.Pid = state.PidDead, pid
		case p.Start > w.ticks(f.mtime):
			pf.State, pf.Pid, pf.Reason = state.PidReused, pid, "started after the file was written"
		case !w.ours(p):
			pf.State, pf.Pid, pf.Reason = state.PidReused, pid, "its command line is not a parachute one"
		default:
			pf.State, pf.Pid = state.PidLive, pid
			ref[pid] = true
			for _, q := range w.procs {
				if !q.dead && (q.Pgid == p.Pid || w.descends(q, pid)) {
					ref[q.Pid] = true
				}
			}
		}
		s.Pidfiles = append(s.Pidfiles, pf)
	}
	if f, ok := w.files[spec.HubPortPath(w.Home)]; ok {
		port, _ := strconv.Atoi(strings.TrimSpace(string(f.data)))
		s.HubPortFile = &state.PortFile{Path: spec.HubPortPath(w.Home), Port: port}
	}
}

// snapUnit records the hub unit as systemd would show it, and linger.
func (w *World) snapUnit(s *state.Snapshot, ref map[int]bool) {
	u := w.units[w.UnitName]
	s.Unit = state.Unit{Manager: spec.ManagerSystemd, Available: !w.ManagerDown, Scope: string(spec.ScopeUser), Name: w.UnitName,
		File: state.UnitFile{Path: w.UnitPath}}
	if w.ManagerDown {
		s.Unit.Problem, s.Unit.Reach = "user manager unreachable: /run/user/1000/bus does not exist", state.NoUserManager
	}
	if f, ok := w.files[w.UnitPath]; ok {
		s.Unit.File.Exists, s.Unit.File.Content, s.Unit.File.Symlink = true, string(f.data), f.symlink
	}
	if !w.ManagerDown {
		if s.Unit.File.Exists {
			s.Unit.LoadState = "loaded"
			s.Unit.UnitFileState = "disabled"
			if u.Enabled {
				s.Unit.UnitFileState = "enabled"
			}
		} else {
			s.Unit.LoadState = "not-found"
		}
		s.Unit.ActiveState = cmp.Or(u.Active, "inactive")
		s.Unit.MainPID, s.Unit.ControlGroup = u.MainPID, u.Cgroup
		if u.MainPID > 0 {
			ref[u.MainPID] = true
		}
	}
	linger := w.Linger
	s.Linger = &linger
}

// snapStaleUnits records every unit but the hub's as a stale module unit.
func (w *World) snapStaleUnits(s *state.Snapshot) {
	var names []string
	for name := range w.units {
		if name != w.UnitName {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		su := w.units[name]
		short := strings.TrimSuffix(strings.TrimPrefix(name, "parachute-"), ".service")
		st := state.StaleUnit{Name: name, Short: short, Scope: string(spec.ScopeUser), LoadState: "loaded", ActiveState: cmp.Or(su.Active, "inactive"),
			UnitFileState: "disabled", MainPID: su.MainPID, ControlGroup: su.Cgroup, Manageable: true}
		if len(su.Argv) > 0 {
			st.ExecStart = [][]string{su.Argv}
		}
		if su.Enabled {
			st.UnitFileState = "enabled"
		}
		s.StaleUnits = append(s.StaleUnits, st)
	}
}

// snapHealth records who answers /health on the hub port.
func (w *World) snapHealth(s *state.Snapshot) {
	s.Health = state.Health{URL: fmt.Sprintf("http://127.0.0.1:%d/health", w.HubPort)}
	if h := w.holder(w.HubPort); h != nil && w.isHub(h) {
		s.Health.Status, s.Health.OK, s.Health.Service, s.Health.AnsweredBy = 200, true, "parachute-hub", h.Pid
	} else if h != nil {
		s.Health.Status, s.Health.AnsweredBy = 404, h.Pid
	} else {
		s.Health.Error = "connection refused"
	}
}

// snapProcesses records every referenced process with its ancestors,
// and always the reconciler and its parent, as observe records them.
func (w *World) snapProcesses(s *state.Snapshot, ref map[int]bool) {
	ref[w.Self], ref[99] = true, true
	for pid := range ref {
		for cur := pid; cur > 1; {
			p, ok := w.procs[cur]
			if !ok {
				break
			}
			ref[cur] = true
			cur = p.PPid
		}
	}
	for _, p := range w.sortedProcs() {
		if !ref[p.Pid] || p.dead {
			continue
		}
		op := state.Process{Pid: p.Pid, PPid: p.PPid, Pgid: p.Pgid, Sid: p.Sid, UID: p.UID, StartTicks: p.Start,
			Started: w.boot.Add(time.Duration(p.Start) * 10 * time.Millisecond), Argv: p.Argv, Cgroup: p.Cgroup, State: "S"}
		if p.Unreadable {
			op.Argv, op.Unreadable = nil, []string{"argv", "exe", "cwd"}
		}
		s.Processes = append(s.Processes, op)
	}
}

func (w *World) descends(p *Proc, root int) bool {
	for cur, hops := p.PPid, 0; cur > 1 && hops < 64; hops++ {
		if cur == root {
			return true
		}
		q, ok := w.procs[cur]
		if !ok {
			return false
		}
		cur = q.PPid
	}
	return false
}

// ours is observe's argv check for pidfile processes: the broad needle.
func (w *World) ours(p *Proc) bool {
	return strings.Contains(strings.ToLower(strings.Join(p.Argv, " ")), "parachute") || w.isHub(p)
}

// Package actuatetest is a working, in-memory Parachute box for tests: a
// process table with groups, sessions, start times, environments and
// signals; listening ports with exclusive binds; files; a service manager
// with units, control groups and job results; a hub that answers /health
// and boots its modules; and a clock that only moves when someone sleeps.
//
// It implements every interface the actuator consumes, and Snapshot
// observes it with the real observer (observe.Observer), so a test can run
// observe → plan → apply → observe, crash the run at any step, and check
// the box. Failures are switched on with FailNext; nothing asserts call
// sequences.
//
// The world judges nothing the observer judges (which pidfile is live,
// who holds a port, who answered /health, which processes matter): it only
// shows itself through the observer's seams. Snapshot writes the process
// table as a fake /proc (internal/fakeproc: stat, status, cmdline, environ,
// cgroup, the fd links of every listening socket and of the server side of
// the health connection, /proc/net/tcp), the files under the box's home
// (pidfiles, hub.port, the hub's log, links) with their modification times,
// and the modules' programs in the user's ~/.bun/bin, all under one
// temporary directory (on tmpfs when it can) that is removed before it
// returns; the hub answers the observer's health connection in memory; the
// world's service manager answers about units as systemd would over D-Bus
// (and launchd through the real observer's launchd code and the fake
// launchctl). The observer sees the home and the user's home at their
// place under the temporary directory, owned by whoever runs the tests, so
// the trust checks pass for root and for a normal user alike, and every
// path in the snapshot is mapped back to the world's: the world keeps its
// fixed paths (/home/op/.parachute), tests keep comparing them, and no
// World needs closing. The cost is writing the tree on every Snapshot
// (about 2 ms on tmpfs). The observer's Linux reader is the one that reads
// a fake /proc, so Snapshot runs on Linux only (a Mac world is observed
// through it too, labelled darwin).
package actuatetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
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
)

// Proc is one fake process.
type Proc struct {
	Pid, PPid, Pgid, Sid int
	Start                uint64
	UID                  int
	Argv                 []string
	// Exe is the program's path (argv[0] when absolute, else /usr/bin/ and
	// its base, when empty); Cwd its working directory ("/" when empty);
	// Env its environment ("NAME=value" each), what /proc/PID/environ
	// shows.
	Exe, Cwd string
	Env      []string
	Cgroup   string
	// Ports the process listens on.
	Ports []int
	// IgnoreTERM makes SIGTERM a no-op; SlowExit delays the exit after
	// SIGTERM by that much fake time.
	IgnoreTERM bool
	SlowExit   time.Duration
	// Unreadable hides the process's details (another user's process seen
	// by a non-root reconciler): its open files, so nobody visibly holds
	// its sockets, its argv, environment, exe and cwd.
	Unreadable bool
	// Unreaped leaves the process a zombie once it exits: its parent never
	// collects it, so its group keeps a member that is not alive.
	Unreaped bool
	// Foreign marks a process that is not the box's (someone else's, or
	// one that took a box process's pid since): any signal that reaches
	// it is a violation.
	Foreign bool
	termAt  time.Time
	dead    bool
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
	// FDLimit, when not 0, is how many descriptors the reconciler may have
	// open: each hold takes one, a hold beyond the limit fails with EMFILE,
	// and so does reading a process's identity (it opens /proc/PID/stat)
	// while the holds take them all.
	FDLimit int
	// OnHold, when set, is called after each hold is taken, with the held
	// pid: a test's way to change the world between a hold and its
	// signal (Reuse the pid, say). Set it before Apply; it is called on
	// the goroutine that holds, outside the world's lock.
	OnHold func(pid int)

	now      time.Time
	boot     time.Time
	nextPid  int
	procs    map[int]*Proc
	files    map[string]file
	units    map[string]*Unit
	failNext map[string]error
	failSkip map[string]int
	// looks counts Held calls; groupLooks, looks at the process groups;
	// holds, processes held for a batch of signals; openHolds, holds not
	// released yet.
	looks, groupLooks, holds, openHolds int

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
		procs: map[int]*Proc{}, files: map[string]file{}, units: map[string]*Unit{}, failNext: map[string]error{}, failSkip: map[string]int{},
	}
	w.procs[1] = &Proc{Pid: 1, Pgid: 1, Sid: 1, Argv: []string{"/sbin/init"}, Start: 1}
	w.procs[99] = &Proc{Pid: 99, PPid: 1, Pgid: 99, Sid: 99, UID: 1000, Argv: []string{"/bin/sh"}, Start: 2}
	w.procs[100] = &Proc{Pid: 100, PPid: 99, Pgid: 100, Sid: 99, UID: 1000, Argv: []string{"parachute", "reconcile"}, Start: 3}
	w.units[w.UnitName] = &Unit{Name: w.UnitName, Cgroup: w.UnitCgroup}
	return w
}

// FailNext makes the next call of op fail with err. Ops: "write", "remove",
// "reload", "start", "stop", "linger", "signal", "hold", "start-detached",
// "probe", "holders".
func (w *World) FailNext(op string, err error) { w.FailAfter(op, 0, err) }

// FailAfter makes the call of op after the next n fail with err.
func (w *World) FailAfter(op string, n int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failNext[op] = err
	w.failSkip[op] = n
}

func (w *World) fail(op string) error {
	if err, ok := w.failNext[op]; ok {
		if w.failSkip[op] > 0 {
			w.failSkip[op]--
			return nil
		}
		delete(w.failNext, op)
		return err
	}
	return nil
}

func (w *World) ticks(t time.Time) uint64 { return uint64(t.Sub(w.boot) / (10 * time.Millisecond)) }

// Exit ends pid as if it had exited on its own (a crash between the plan
// and the apply).
func (w *World) Exit(pid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p, ok := w.procs[pid]; ok {
		w.kill(p)
	}
}

// Spawn adds a live process. pgid 0 makes it lead its own group; sid 0
// puts it in its parent's session. The new pid is returned.
func (w *World) Spawn(p Proc) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spawn(p)
}

// Reuse ends the process at pid, if it still runs, and starts p with the
// same pid, as a kernel hands a freed pid out again: p has a new start
// time, and a hold on the old process still refers to the old one. Like a
// kernel, it never reuses a pid not yet freed: a zombie's (Unreaped), or
// the id of a group or session that still has a member, a zombie member
// included; asked to, it panics.
func (w *World) Reuse(pid int, p Proc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.procs[pid]; ok && !old.dead {
		w.kill(old)
	}
	for _, o := range w.procs {
		member := !o.dead || o.Unreaped
		if o.Pid == pid && o.Unreaped || member && (o.Pgid == pid || o.Sid == pid) {
			panic(fmt.Sprintf("actuatetest: pid %d is not free: pid %d still has it (as its own, its group's or its session's id)", pid, o.Pid))
		}
	}
	w.spawnAt(pid, p)
}

func (w *World) spawn(p Proc) int {
	w.nextPid++
	return w.spawnAt(w.nextPid, p)
}

// spawnAt is spawn with the pid given (w.mu held).
func (w *World) spawnAt(pid int, p Proc) int {
	p.Pid = pid
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
	// The environment the unit the planner writes gives the hub.
	env := []string{"PARACHUTE_HOME=" + w.Home, "PORT=" + strconv.Itoa(w.HubPort)}
	pid := w.spawn(Proc{Argv: append([]string(nil), w.HubArgv...), Cgroup: u.Cgroup, Env: env})
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
	if w.FDLimit > 0 && w.openHolds >= w.FDLimit {
		return actuate.Identity{}, fmt.Errorf("open /proc/%d/stat: %w", pid, syscall.EMFILE)
	}
	p, ok := w.procs[pid]
	if !ok || p.dead {
		return actuate.Identity{}, actuate.ErrGone
	}
	return actuate.Identity{StartTicks: p.Start, PPid: p.PPid, Pgid: p.Pgid}, nil
}

// Cgroup implements actuate.Processes.
func (w *World) Cgroup(pid int) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.procs[pid]
	if !ok || p.dead {
		return "", actuate.ErrGone
	}
	return p.Cgroup, nil
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
	w.deliver(victims, sig)
	return nil
}

// deliver applies sig to victims, as their kernel would (w.mu held).
func (w *World) deliver(victims []*Proc, sig syscall.Signal) {
	for _, p := range victims {
		if p.Pid <= 1 || p.Pid == w.Self || p.Pid == 99 {
			w.Violations = append(w.Violations, fmt.Sprintf("signal %d sent to protected pid %d", sig, p.Pid))
			continue
		}
		if p.Foreign {
			w.Violations = append(w.Violations, fmt.Sprintf("signal %d sent to foreign pid %d (%s)", sig, p.Pid, strings.Join(p.Argv, " ")))
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
}

// Hold implements actuate.Holder as pidfds do: a hold on the process that
// has pid now, if it started at startTicks (0: any), taking a descriptor.
// Holds counts them.
func (w *World) Hold(pid int, startTicks uint64) (actuate.Hold, error) {
	h, err := w.hold(pid, startTicks)
	if err == nil && w.OnHold != nil {
		w.OnHold(pid)
	}
	return h, err
}

func (w *World) hold(pid int, startTicks uint64) (actuate.Hold, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("hold"); err != nil {
		return nil, err
	}
	if w.FDLimit > 0 && w.openHolds >= w.FDLimit {
		return nil, syscall.EMFILE
	}
	p, ok := w.procs[pid]
	if !ok || p.dead || (startTicks != 0 && p.Start != startTicks) {
		return nil, actuate.ErrGone
	}
	w.holds++
	w.openHolds++
	return &worldHold{w: w, p: p}, nil
}

// Holds is how many processes were held for a batch of signals.
func (w *World) Holds() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.holds
}

// OpenHolds is how many holds have not been released.
func (w *World) OpenHolds() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.openHolds
}

type worldHold struct {
	w        *World
	p        *Proc
	released bool
}

// Exited implements actuate.Hold.
func (h *worldHold) Exited() (bool, error) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if h.usedReleased("asked") {
		return false, errHoldReleased
	}
	return h.p.dead, nil
}

// Signal implements actuate.Hold: the held process itself (ESRCH once it
// has exited, whatever now has its pid), or its group.
func (h *worldHold) Signal(pgid int, sig syscall.Signal) error {
	h.w.mu.Lock()
	released := h.usedReleased(fmt.Sprintf("signalled (%d)", sig))
	h.w.mu.Unlock()
	if released {
		return errHoldReleased
	}
	if pgid > 0 {
		return h.w.Signal(0, pgid, sig)
	}
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if err := h.w.fail("signal"); err != nil {
		return err
	}
	if h.p.dead {
		return syscall.ESRCH
	}
	h.w.deliver([]*Proc{h.p}, sig)
	return nil
}

// Release implements actuate.Hold: the descriptor is given back once; a
// second release is a violation (the real one would close whatever the
// descriptor's number names by then, were it not guarded).
func (h *worldHold) Release() {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if h.usedReleased("released again") {
		return
	}
	h.released = true
	h.w.openHolds--
}

// errHoldReleased is what a released hold answers.
var errHoldReleased = errors.New("hold released")

// usedReleased reports whether h was released, recording the use (how) of
// a released hold as a violation (h.w.mu held).
func (h *worldHold) usedReleased(how string) bool {
	if h.released {
		h.w.Violations = append(h.w.Violations, fmt.Sprintf("hold on pid %d %s after its release", h.p.Pid, how))
	}
	return h.released
}

// Groups implements actuate.Processes as the real one does: a look takes
// the table of live groups on its first question and answers every later
// one from it (GroupLooks counts the looks taken).
func (w *World) Groups() actuate.Groups { return &worldGroups{w: w} }

type worldGroups struct {
	w    *World
	live map[int]bool // nil until the first question
}

// Members implements actuate.Groups: a live member, or a zombie (a dead
// process its parent has not reaped).
func (g *worldGroups) Members(pgid int) bool {
	g.w.mu.Lock()
	defer g.w.mu.Unlock()
	for _, p := range g.w.procs {
		if p.Pgid == pgid && (!p.dead || p.Unreaped) {
			return true
		}
	}
	return false
}

// Alive implements actuate.Groups.
func (g *worldGroups) Alive(pgid int) bool {
	if g.live == nil {
		g.live = g.w.liveGroups()
	}
	return g.live[pgid]
}

// liveGroups is the groups with a live member, one look.
func (w *World) liveGroups() map[int]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.groupLooks++
	live := map[int]bool{}
	for _, p := range w.procs {
		if !p.dead {
			live[p.Pgid] = true
		}
	}
	return live
}

// GroupLooks is how many looks at the process groups were taken (one per
// poll of a stop wait that has a group to ask about).
func (w *World) GroupLooks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.groupLooks
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
	pid := w.spawn(Proc{Argv: append([]string(nil), argv...), PPid: 1, Sid: -1, Cwd: dir, Env: append([]string(nil), env...)})
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
		// A module inherits the hub's environment, as the supervisor's
		// spawn does (with the module's own PORT).
		env := append(slices.DeleteFunc(slices.Clone(p.Env), func(kv string) bool { return strings.HasPrefix(kv, "PORT=") }), "PORT="+strconv.Itoa(m.Port))
		w.spawn(Proc{PPid: p.Pid, Argv: []string{"/opt/mods/" + m.Name + "/bin/" + m.Name, "serve"}, Cgroup: p.Cgroup, Ports: []int{m.Port}, Env: env})
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

// EnableLinger implements actuate.Units. A failure injected with
// FailNext("linger") is returned as it is: the actuator retries it unless
// it is an *actuate.NeedsPerson, as it does the real one's.
func (w *World) EnableLinger(context.Context, string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("linger"); err != nil {
		return err
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

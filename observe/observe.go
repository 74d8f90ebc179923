package observe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parachute/reconcile/internal/procfs"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// defaultClockTicks is USER_HZ, the unit of /proc/PID/stat's starttime. It is
// 100 on every Linux architecture the hub runs on (sysconf(_SC_CLK_TCK)).
const defaultClockTicks = 100

// defaultHealthTimeout is the hub's own probe budget (docs/upstream-hub.md §6.2).
const defaultHealthTimeout = 1500 * time.Millisecond

// Env is the world's inputs to an observation (passed in, so tests supply their own). The zero value
// of each field means the real machine: Observe fills it in.
type Env struct {
	// ProcRoot is where /proc is mounted ("/proc"); tests pass a fake tree.
	ProcRoot string
	// GOOS and GOARCH label the snapshot (runtime.GOOS, runtime.GOARCH).
	// The transport itself is the build's: /proc on Linux, not yet
	// implemented on darwin.
	GOOS, GOARCH string
	// Now is the clock (time.Now).
	Now func() time.Time
	// Self and Parent are the reconciler's pid and its parent's
	// (os.Getpid, os.Getppid), recorded so they are never signalled.
	Self, Parent int
	// Dial opens the health check's TCP connection (a net.Dialer). Observe
	// only ever asks for "tcp4" to 127.0.0.1.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// LookupUser maps a uid to a user name (os/user). Failures leave the name
	// empty.
	LookupUser func(uid int) (string, error)
	// ClockTicks is USER_HZ (100).
	ClockTicks int64
	// HealthTimeout bounds GET /health (1.5 s, as the hub's own probe).
	HealthTimeout time.Duration
	// Geteuid is the reconciler's effective uid (os.Geteuid): which
	// sockets it should see the holders of.
	Geteuid func() int
}

// DefaultEnv is the real machine's Env.
func DefaultEnv() Env { return Env{}.withDefaults() }

func (e Env) withDefaults() Env {
	if e.ProcRoot == "" {
		e.ProcRoot = "/proc"
	}
	if e.GOOS == "" {
		e.GOOS = runtime.GOOS
	}
	if e.GOARCH == "" {
		e.GOARCH = runtime.GOARCH
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Self == 0 {
		e.Self = os.Getpid()
	}
	if e.Parent == 0 {
		e.Parent = os.Getppid()
	}
	if e.Dial == nil {
		e.Dial = (&net.Dialer{}).DialContext
	}
	if e.LookupUser == nil {
		e.LookupUser = spec.UserName
	}
	if e.ClockTicks == 0 {
		e.ClockTicks = defaultClockTicks
	}
	if e.HealthTimeout == 0 {
		e.HealthTimeout = defaultHealthTimeout
	}
	if e.Geteuid == nil {
		e.Geteuid = os.Geteuid
	}
	return e
}

// UnitObserver reads the hub unit as a file and as the service manager sees
// it, the other scope's unit file, stale per-module units and linger. It is
// implemented per platform in unit_*.go.
type UnitObserver interface {
	ObserveUnit(ctx context.Context, q UnitQuery) (UnitReport, error)
}

// UnitQuery says which unit to observe and where its files are.
type UnitQuery struct {
	// Manager is systemd, launchd or "" when the platform has none.
	Manager spec.Manager
	// Scope is "user"/"system" (systemd) or the launchd domain ("gui/501").
	Scope string
	// Name is the unit name or launchd label.
	Name string
	// Path is the unit file or plist we manage.
	Path string
	// OtherPath is the hub unit file of the scope we do not manage (read only).
	OtherPath string
	// StaleShorts are the module shorts whose per-module units to look for.
	StaleShorts []string
	// User is the invoking user.
	User spec.User
}

// UnitReport is what a UnitObserver saw.
type UnitReport struct {
	// Unit is the hub unit as a file and as the manager sees it.
	Unit Unit
	// OtherScope is the hub unit file of the other scope, nil when absent.
	OtherScope *UnitFile
	// Stale are the per-module units that exist in any form.
	Stale []StaleUnit
	// Linger is the user's linger (systemd, non-root); nil when unknown.
	Linger *bool
	// Problems are things it could not read; they join Snapshot.Problems.
	Problems []string
}

// Observer reads the world into a Snapshot. It never writes, signals or
// starts anything.
type Observer struct {
	// Env is the world's inputs; zero fields mean the real machine.
	Env Env
	// Units observes the hub unit; nil means no service manager can be
	// asked (Unit.Available is false).
	Units UnitObserver
	// Locate names the hub unit for a desired state (unitfile.Locate adapted);
	// nil leaves the unit unnamed.
	Locate func(spec.Desired) UnitQuery

	// startable remembers the modules ModulesBooted found a start
	// command for (see unstartable).
	startMu   sync.Mutex
	startable map[startKey]bool
}

// New returns an Observer of env with no unit observer.
func New(env Env) *Observer { return &Observer{Env: env} }

// procReader is the platform's read-only view of sockets and processes
// (procfs_linux.go, procfs_darwin.go).
type procReader interface {
	// bootTime is the wall-clock boot time that StartTicks count from.
	bootTime() (time.Time, error)
	// sockets returns the listening TCP sockets, v4 and v6, whose local
	// port is in ports; when client is valid, the server side of client's
	// connection to serverPort (nil when not found); and a problem for each
	// table that could not be read.
	sockets(ports map[uint16]bool, client netip.AddrPort, serverPort uint16) (listeners []tcpSocket, server *tcpSocket, problems []string)
	// walk reads every process's stat and finds the holders of inodes.
	walk(inodes map[uint64]bool) (walkResult, error)
	// details fills uid, argv, exe, cwd and cgroup of proc. With withHome
	// it also returns PARACHUTE_HOME from proc's environment ("", true when
	// unset; false when it cannot be read, or the pid is no longer proc's);
	// without, "", false. On Linux all of it is read through one
	// descriptor bound to the process; darwin asks sysctl twice.
	details(proc *Process, withHome bool) (home string, homeRead bool)
	// started is the wall-clock start of a process whose stat gives
	// ticks: on Linux clock ticks since btime (hz a second), on darwin
	// microseconds since the epoch already. Zero when it cannot be known.
	started(btime time.Time, ticks uint64, hz int64) time.Time
}

// walkResult is one pass over the process table.
type walkResult struct {
	tree processTree
	// owners maps a socket inode to the pids holding it, in walk order.
	owners map[uint64][]int
	// unreadableStat are pids that exist but whose stat could not be read.
	unreadableStat map[int]error
	// unreadableFds are pids whose fd directory could not be read.
	unreadableFds []int
}

func fromStat(st procfs.Stat) Process {
	return Process{Pid: st.Pid, PPid: st.PPid, Pgid: st.Pgid, Sid: st.Sid, StartTicks: st.StartTicks, State: st.State, Kernel: st.KernelThread, Argv: []string{}}
}

// Observe reads pidfiles, the hub unit, the hub's /health answer, every
// listener on a declared port with its owner, and the processes involved,
// all as of one pass. What cannot be read goes to Snapshot.Problems; the
// error is only for a desired state that cannot be observed at all (no home)
// or a cancelled ctx.
//
// The order matters: /health (asked while the pidfiles and links are read)
// with the connection held open, then the socket
// tables and the one walk over /proc, so that the walk finds both the
// listeners' owners and the owner of the server side of our own health
// connection; only then is the connection closed. The service manager is
// asked at the same time, on its own goroutine: its answers are round trips
// to another process, as long as the rest together, and nothing there
// depends on them until the processes are chosen (the unit's MainPID joins
// the set).
func (o *Observer) Observe(ctx context.Context, d spec.Desired) (Snapshot, error) {
	if d.Home == "" {
		return Snapshot{}, errors.New("observe: no PARACHUTE_HOME given")
	}
	if !filepath.IsAbs(d.Home) {
		return Snapshot{}, fmt.Errorf("observe: PARACHUTE_HOME %q is not absolute", d.Home)
	}
	if err := ctx.Err(); err != nil {
		return Snapshot{}, fmt.Errorf("observe: %w", err)
	}
	env := o.Env.withDefaults()
	snap := newSnapshot(env, d)
	hubPort := snap.HubPort

	// The manager's answers take longest: ask first (see above).
	unitc := make(chan unitView, 1)
	go func() { unitc <- o.observeUnit(ctx, d) }()

	// /health is a round trip to the hub: asked while the files are read.
	type healthAnswer struct {
		h  Health
		hc *healthConn
	}
	healthc := make(chan healthAnswer, 1)
	go func() {
		h, hc := checkHealth(ctx, env, hubPort)
		healthc <- healthAnswer{h, hc}
	}()

	cands, portFile, problems := readPidfiles(d.Home, d)
	snap.HubPortFile = portFile
	snap.Problems = append(snap.Problems, problems...)
	snap.Ports = withRecordedPort(snap.Ports, portFile)
	links, problems := plantedLinks(d.Home)
	snap.Links = links
	snap.Problems = append(snap.Problems, problems...)

	// The walk must see the server's end of the health connection, so it
	// comes after the answer (an answer means the hub accepted).
	ha := <-healthc
	snap.Health = ha.h
	hc := ha.hc
	defer hc.close()

	pr := newProcReader(env)
	btime, err := pr.bootTime()
	if err != nil {
		snap.Problems = append(snap.Problems, fmt.Sprintf("start times unknown: %v", err))
	}
	sc := scanDeclared(pr, snap.Ports, hc, uint16(hubPort), env.Geteuid())
	hc.close() // the walk is done: the server side has been seen
	snap.Problems = append(snap.Problems, sc.problems...)
	w, walkErr := sc.w, sc.walkErr
	if walkErr != nil {
		snap.Problems = append(snap.Problems, walkErr.Error())
	}
	// Unreadable fd directories are normal for a non-root user (every other
	// user's process): they matter only through a declared port whose
	// listener then has no visible owner, and fillListeners says so there.

	(<-unitc).fill(&snap)

	holders := fillListeners(&snap, sc.listeners, w, len(sc.problems) > 0)
	snap.Health.AnsweredBy = answeredByOf(snap.Ports, hubPort, w.owners[sc.serverInode], treeParent(w.tree))

	ld := &processLoader{env: env, pr: pr, w: w, walkErr: walkErr, btime: btime, snap: &snap,
		procs: map[int]*Process{}, users: map[int]string{}}
	seeds, holders := ld.judgePidfiles(cands, holders)
	ld.keepRelevant(holders, seeds)
	slices.SortFunc(snap.Pidfiles, func(a, b Pidfile) int { return strings.Compare(a.Path, b.Path) })
	observeModules(d, &snap)
	snap.Problems = sortedUnique(snap.Problems)
	if err := ctx.Err(); err != nil {
		return Snapshot{}, fmt.Errorf("observe: %w", err)
	}
	return snap, nil
}

// newSnapshot is the snapshot before anything is read: the platform, the
// box as the spec declares it, and the declared ports.
func newSnapshot(env Env, d spec.Desired) Snapshot {
	hubPort := d.HubPort
	if hubPort == 0 {
		hubPort = spec.DefaultHubPort
	}
	return Snapshot{
		Taken:    env.Now(),
		GOOS:     env.GOOS,
		GOARCH:   env.GOARCH,
		Home:     d.Home,
		User:     d.User,
		Owner:    d.Owner,
		Self:     env.Self,
		Parent:   env.Parent,
		HubPort:  hubPort,
		Modules:  nonNil(d.Manifest.Modules),
		Skipped:  nonNil(d.Manifest.Skipped),
		Ports:    declaredPorts(hubPort, d.Manifest.Modules),
		Pidfiles: []Pidfile{},
	}
}

// scanDeclared looks for the holders of every declared port, twice when
// the first look finds a listener nobody visibly holds.
func scanDeclared(pr procReader, ports []Port, hc *healthConn, hubPort uint16, euid int) portScan {
	wantPort := map[uint16]bool{}
	for _, p := range ports {
		wantPort[uint16(p.Port)] = true
	}
	sc := scanPorts(pr, wantPort, hc.client, hubPort)
	if sc.ownerless(euid) {
		// A listener nobody visibly holds is usually an instant: a process
		// exiting (its fd table already gone) or a fork before its exec.
		// Look once more before reporting "held, owner unknown", which
		// blocks the plan.
		time.Sleep(20 * time.Millisecond)
		sc = scanPorts(pr, wantPort, hc.client, hubPort)
	}
	return sc
}

// processLoader reads the processes a snapshot refers to, each once, from
// the walk's process table.
type processLoader struct {
	env     Env
	pr      procReader
	w       walkResult
	walkErr error
	btime   time.Time
	snap    *Snapshot
	procs   map[int]*Process
	users   map[int]string // uid → name
	// homeWanted are the pids of the claims that stand as far as time can
	// tell (judgePidfiles): their environments are read with their
	// details, into homes.
	homeWanted map[int]bool
	homes      map[int]envHome
}

// envHome is PARACHUTE_HOME as a process's environment says it: read is
// false when the environment could not be read.
type envHome struct {
	home string
	read bool
}

// load returns pid as the snapshot records it, with its details; nil when
// the walk saw no such process.
func (ld *processLoader) load(pid int) *Process {
	if p, ok := ld.procs[pid]; ok {
		return p
	}
	p := ld.base(pid)
	if _, seen := ld.w.tree[pid]; seen {
		home, read := ld.pr.details(p, ld.homeWanted[pid])
		if ld.homeWanted[pid] {
			ld.homes[pid] = envHome{home, read}
		}
		p.User = lookupUser(ld.env, ld.users, *p)
	} else if err, ok := ld.w.unreadableStat[pid]; ok {
		ld.snap.Problems = append(ld.snap.Problems, fmt.Sprintf("process %d: %v", pid, err))
	}
	ld.procs[pid] = p
	return p
}

// base is pid as the walk saw it, before its details are read: what a
// pidfile's claim is judged by. nil when the walk saw no such process.
func (ld *processLoader) base(pid int) *Process {
	if st, ok := ld.w.tree[pid]; ok {
		proc := fromStat(st)
		proc.Started = ld.pr.started(ld.btime, st.StartTicks, ld.env.ClockTicks)
		return &proc
	}
	if _, ok := ld.w.unreadableStat[pid]; ok || ld.walkErr != nil {
		// Hidden from us, or no process table at all: whether pid lives is
		// unknown, not "dead".
		return &Process{Pid: pid, Argv: []string{}, Unreadable: []string{"stat"}}
	}
	return nil
}

// judgePidfiles judges each pidfile against the process its pid names now
// and records it. It returns the pids whose trees the snapshot keeps
// (live or unknown claims) and holders with every reused pid added.
func (ld *processLoader) judgePidfiles(cands []pidfileCandidate, holders []int) (seeds, _ []int) {
	// A claim is judged by the process's stat alone. The environment of
	// each that stands is read with its details, in the same look at the
	// process; a reused pid's environment is someone else's and is not
	// read.
	ld.homeWanted, ld.homes = map[int]bool{}, map[int]envHome{}
	judged := make([]Pidfile, len(cands))
	for i, c := range cands {
		judged[i] = c.judge(c.pid(ld.base))
		if judged[i].State == PidLive {
			ld.homeWanted[judged[i].Pid] = true
		}
	}
	for i, c := range cands {
		c.pid(ld.load) // its details, and its environment when wanted
		pf := judged[i]
		ld.snap.Pidfiles = append(ld.snap.Pidfiles, pf)
		if pf.State == PidLive || pf.State == PidUnknown {
			if p := ld.procs[pf.Pid]; p != nil && pf.State == PidLive {
				// A claim's corroboration: does it carry this box's home?
				if h := ld.homes[pf.Pid]; h.read {
					p.EnvHome = h.home
				} else {
					p.Unreadable = append(p.Unreadable, "environ")
				}
			}
			seeds = append(seeds, pf.Pid)
		} else if pf.Pid > 0 && ld.procs[pf.Pid] != nil {
			// A reused pid (or a zombie) is shown with its ancestors, as a
			// holder is: who is it now? Its group and children are not ours.
			holders = append(holders, pf.Pid)
		}
	}
	return seeds, holders
}

// keepRelevant records the snapshot's processes: port holders and their
// ancestors, pidfile processes with their group and descendants, the
// unit's main pid, who answered /health, and the reconciler with every
// ancestor (the planner must see them and their groups to keep them out of
// every signal).
func (ld *processLoader) keepRelevant(holders, seeds []int) {
	snap := ld.snap
	var extra []int
	if snap.Unit.MainPID > 0 {
		extra = append(extra, snap.Unit.MainPID)
	}
	if snap.Health.AnsweredBy > 0 {
		extra = append(extra, snap.Health.AnsweredBy)
	}
	snap.Ancestors = ld.w.tree.ancestors(ld.env.Self)
	extra = append(extra, ld.env.Self)
	extra = append(extra, snap.Ancestors...)
	snap.Processes = []Process{}
	for _, pid := range ld.w.tree.relevant(holders, seeds, extra) {
		if p := ld.load(pid); p != nil {
			p.Unreadable = sortedUnique(p.Unreadable)
			snap.Processes = append(snap.Processes, *p)
		}
	}
}

// portScan is one look at the sockets and the one walk over /proc that
// finds their holders.
type portScan struct {
	listeners   []tcpSocket
	serverInode uint64 // the server side of the health connection, 0 when not found
	w           walkResult
	problems    []string // socket tables that could not be read
	walkErr     error    // the process table could not be read (w is empty)
}

// ownerless reports whether a listener was found with no visible holder
// although euid should see it (root, or the socket's own uid): then the
// holder was caught mid-exit or mid-fork. Another user's socket seen by a
// non-root run stays ownerless however often it is looked at.
func (sc portScan) ownerless(euid int) bool {
	if sc.walkErr != nil {
		return false
	}
	for _, s := range sc.listeners {
		if len(sc.w.owners[s.Inode]) == 0 && (euid == 0 || s.UID == euid) {
			return true
		}
	}
	return false
}

// scanPorts reads the listeners on ports and, when client is valid, the
// server side of client's connection to serverPort, then walks /proc once
// for the holders of all of them.
func scanPorts(pr procReader, ports map[uint16]bool, client netip.AddrPort, serverPort uint16) portScan {
	var sc portScan
	var server *tcpSocket
	sc.listeners, server, sc.problems = pr.sockets(ports, client, serverPort)
	inodes := map[uint64]bool{}
	for _, s := range sc.listeners {
		inodes[s.Inode] = true
	}
	if server != nil && server.Inode != 0 {
		sc.serverInode = server.Inode
		inodes[sc.serverInode] = true
	}
	sc.w, sc.walkErr = pr.walk(inodes)
	if sc.walkErr != nil {
		sc.w = walkResult{tree: processTree{}, owners: map[uint64][]int{}, unreadableStat: map[int]error{}}
	}
	return sc
}

// PortHolders returns the pids holding a listening TCP socket (v4 or v6) on
// port, sorted, and how many such sockets have no visible holder (held,
// owner unknown: never free). It is HeldPorts for one port.
func (o *Observer) PortHolders(port int) (pids []int, unknown int, err error) {
	held, err := o.HeldPorts([]int{port})
	if err != nil {
		return nil, 0, err
	}
	return held[port].Pids, held[port].Unknown, nil
}

// Holding is who holds the listening sockets of one port.
type Holding struct {
	// Pids are the holders, sorted.
	Pids []int
	// Unknown counts sockets on the port with no visible holder.
	Unknown int
}

// HeldPorts returns who holds each of ports that a listening TCP socket (v4
// or v6) holds; a free port is absent. It is one socket query for all of
// them, then one walk over /proc only when some port is held (the walk is
// what costs: tens of milliseconds among a few thousand processes), for the
// actuator's port-free waits (actuate.Ports). The error is for sockets or
// processes that could not be read at all.
func (o *Observer) HeldPorts(ports []int) (map[int]Holding, error) {
	pr := newProcReader(o.Env.withDefaults())
	listeners, err := listenersOn(pr, ports)
	if err != nil {
		return nil, fmt.Errorf("holders of %s: %w", portNames(ports), err)
	}
	out := map[int]Holding{}
	if len(listeners) == 0 {
		return out, nil // all free: no need to know anyone's files
	}
	inodes := make(map[uint64]bool, len(listeners))
	for _, s := range listeners {
		inodes[s.Inode] = true
	}
	w, err := pr.walk(inodes)
	if err != nil {
		return nil, fmt.Errorf("holders of %s: %w", portNames(ports), err)
	}
	for _, s := range listeners {
		port := int(s.Local.Port())
		h := out[port]
		owners := w.owners[s.Inode]
		if len(owners) == 0 {
			h.Unknown++
		}
		h.Pids = append(h.Pids, owners...)
		out[port] = h
	}
	for port, h := range out {
		slices.Sort(h.Pids)
		h.Pids = slices.Compact(h.Pids)
		out[port] = h
	}
	return out, nil
}

// listenersOn is one look at the socket tables: the listening TCP sockets,
// either family, on ports (a number out of range is no port); an error
// names the tables that could not be read.
func listenersOn(pr procReader, ports []int) ([]tcpSocket, error) {
	want := make(map[uint16]bool, len(ports))
	for _, p := range ports {
		if p > 0 && p <= 65535 {
			want[uint16(p)] = true
		}
	}
	listeners, _, problems := pr.sockets(want, netip.AddrPort{}, 0)
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return listeners, nil
}

// portNames is ":1939, :1940, …" for an error message.
func portNames(ports []int) string {
	s := make([]string, 0, min(len(ports), 9))
	for i, p := range ports {
		if i == 8 {
			s = append(s, fmt.Sprintf("… %d more", len(ports)-8))
			break
		}
		s = append(s, ":"+strconv.Itoa(p))
	}
	if len(ports) == 1 {
		return "port " + strconv.Itoa(ports[0])
	}
	return "ports " + strings.Join(s, ", ")
}

// ProbeHealth asks GET http://127.0.0.1:<port>/health as Observe does and
// returns whether it answered 2xx and which pid answered, exactly as
// Snapshot.Health.AnsweredBy (0 when unknown: the server side of our
// connection and the listener are each held by several processes, or by
// none visible; always 0 for an answer other than 2xx), for the actuator's
// health waits (actuate.Health). The
// error is for no answer at all (refused, timeout, not HTTP).
func (o *Observer) ProbeHealth(ctx context.Context, port int) (ok bool, answeredBy int, err error) {
	return o.ProbeHealthIn(ctx, port, "") // no group: the walk over every process
}

// answeredByWalk is who answered hc's request to port, from one walk over
// every process; it closes hc once the walk has seen the server side.
func answeredByWalk(env Env, port int, hc *healthConn) int {
	sc := scanPorts(newProcReader(env), map[uint16]bool{uint16(port): true}, hc.client, uint16(port))
	hc.close()
	ports := []Port{{Port: port}}
	for _, s := range sc.listeners {
		ports[0].Listeners = append(ports[0].Listeners, Listener{Pids: sc.w.owners[s.Inode]})
	}
	return answeredByOf(ports, port, sc.w.owners[sc.serverInode], treeParent(sc.w.tree))
}

// unitView is what observeUnit saw, for fill to put into the snapshot.
type unitView struct {
	unit       Unit
	otherScope *UnitFile
	stale      []StaleUnit
	linger     *bool
	problems   []string
}

// fill puts v into snap.
func (v unitView) fill(snap *Snapshot) {
	snap.Unit, snap.OtherScope, snap.StaleUnits, snap.Linger = v.unit, v.otherScope, v.stale, v.linger
	snap.Problems = append(snap.Problems, v.problems...)
}

// observeUnit reads the hub unit through o.Units. It runs beside the rest
// of Observe: it touches nothing but its result.
func (o *Observer) observeUnit(ctx context.Context, d spec.Desired) unitView {
	var q UnitQuery
	if o.Locate != nil {
		q = o.Locate(d)
	}
	if q.User == (spec.User{}) {
		q.User = d.User
	}
	if q.StaleShorts == nil {
		q.StaleShorts = unitfile.StaleShorts()
	}
	v := unitView{stale: []StaleUnit{}}
	located := Unit{Manager: q.Manager, Scope: q.Scope, Name: q.Name, File: UnitFile{Path: q.Path}}
	if o.Units == nil {
		v.unit = located
		v.unit.Problem, v.unit.Reach = "no service manager observer", NoManager
		return v
	}
	rep, err := o.Units.ObserveUnit(ctx, q)
	if err != nil {
		v.unit = located
		v.unit.Problem, v.unit.Reach = err.Error(), ObserverFailed
		v.problems = append(v.problems, fmt.Sprintf("hub unit %s: %v", q.Name, err))
		return v
	}
	v.unit, v.otherScope, v.linger, v.problems = rep.Unit, rep.OtherScope, rep.Linger, rep.Problems
	v.stale = nonNil(rep.Stale)
	slices.SortFunc(v.stale, func(a, b StaleUnit) int {
		if c := strings.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return v
}

// withRecordedPort appends the port hub/run/hub.port records when no row
// declares it: a detached hub there is ours to stop (trust model rule 8).
func withRecordedPort(ports []Port, pf *PortFile) []Port {
	if pf == nil || pf.Port <= 0 || pf.Untrusted != "" {
		return ports
	}
	for _, p := range ports {
		if p.Port == pf.Port {
			return ports
		}
	}
	return append(ports, Port{Port: pf.Port, Owner: "hub", Short: "hub", Recorded: true, Listeners: []Listener{}})
}

// declaredPorts lists the hub's port, then each module's in file order; a
// port declared twice (vault mounts, or a module on the hub's port) appears
// once, under its first declarer.
func declaredPorts(hubPort int, mods []spec.Module) []Port {
	out := []Port{{Port: hubPort, Owner: "hub", Short: "hub", Listeners: []Listener{}}}
	seen := map[int]bool{hubPort: true}
	for _, m := range mods {
		if seen[m.Port] || m.Port <= 0 || m.Port > 65535 {
			continue
		}
		seen[m.Port] = true
		out = append(out, Port{Port: m.Port, Owner: m.Name, Short: m.Short, Listeners: []Listener{}})
	}
	return out
}

// fillListeners attaches each listening socket to its declared port with the
// pids holding it, and returns every holder pid. A listener nobody visibly
// holds stays with empty Pids (held, owner unknown) and is named in Problems.
func fillListeners(snap *Snapshot, socks []tcpSocket, w walkResult, tablesIncomplete bool) []int {
	byPort := map[int]int{}
	for i, p := range snap.Ports {
		byPort[p.Port] = i
	}
	var holders []int
	for _, s := range socks {
		i, ok := byPort[int(s.Local.Port())]
		if !ok {
			continue
		}
		pids := slices.Clone(w.owners[s.Inode])
		slices.Sort(pids)
		pids = slices.Compact(pids)
		if pids == nil {
			pids = []int{}
		}
		l := Listener{Addr: s.Local.String(), Inode: s.Inode, UID: s.UID, Pids: pids}
		snap.Ports[i].Listeners = append(snap.Ports[i].Listeners, l)
		holders = append(holders, pids...)
		if len(pids) == 0 {
			why := "no visible process holds it"
			if len(w.unreadableFds) > 0 {
				why = fmt.Sprintf("the open files of %d processes are unreadable here (%s)", len(w.unreadableFds), pidList(w.unreadableFds))
			}
			snap.Problems = append(snap.Problems, fmt.Sprintf("port %d: listener %s (inode %d, uid %d) held, owner unknown: %s", s.Local.Port(), l.Addr, l.Inode, l.UID, why))
		}
	}
	for i := range snap.Ports {
		slices.SortFunc(snap.Ports[i].Listeners, func(a, b Listener) int {
			if c := strings.Compare(a.Addr, b.Addr); c != 0 {
				return c
			}
			return cmp.Compare(a.Inode, b.Inode)
		})
	}
	if tablesIncomplete {
		for _, p := range snap.Ports {
			if len(p.Listeners) == 0 {
				snap.Problems = append(snap.Problems, fmt.Sprintf("port %d: cannot tell whether it is free", p.Port))
			}
		}
	}
	return holders
}

// answeredByOf is the pid that served our /health request: the holder of the
// server side of our connection when exactly one process holds it; else the
// hub port's listener owner when there is exactly one; else 0 (unknown).
//
// Several holders of one socket are normal for an instant: a hub that
// forks a child (to spawn a module) shares every descriptor with it until
// the child's exec closes them. When one holder is an ancestor of all the
// others (ppid gives the parent; nil for no tree), it is the one: the
// others are its copies.
func answeredByOf(ports []Port, hubPort int, serverSide []int, ppid func(int) int) int {
	if pid := rootOf(serverSide, ppid); pid != 0 {
		return pid
	}
	// The fallback: the listeners that could have accepted a connection to
	// 127.0.0.1. One of them with no visible holder makes it unknown: it may
	// have been the one that answered.
	var owners []int
	for _, p := range ports {
		if p.Port != hubPort {
			continue
		}
		for _, l := range p.Listeners {
			if !acceptsV4Loopback(l.Addr) {
				continue
			}
			if len(l.Pids) == 0 {
				return 0
			}
			owners = append(owners, l.Pids...)
		}
	}
	return rootOf(owners, ppid)
}

// acceptsV4Loopback reports whether a listener bound to addr can accept a
// connection to 127.0.0.1: bound to it, to 0.0.0.0, or to [::] (dual-stack).
// An unparsable address counts, to stay on the side of "unknown".
func acceptsV4Loopback(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return true
	}
	a := ap.Addr().Unmap()
	return a.IsUnspecified() || a == netip.MustParseAddr("127.0.0.1")
}

// rootOf returns the one pid of pids that descends from none of the others,
// or 0 when there is no such single pid (none, or unrelated holders).
func rootOf(pids []int, ppid func(int) int) int {
	pids = slices.Compact(slices.Sorted(slices.Values(pids)))
	if len(pids) == 1 {
		return pids[0]
	}
	if len(pids) == 0 || ppid == nil {
		return 0
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	root := 0
	for _, p := range pids {
		top := true
		for a, hops := ppid(p), 0; a > 1 && hops < 64; a, hops = ppid(a), hops+1 {
			if in[a] {
				top = false
				break
			}
		}
		if top {
			if root != 0 {
				return 0
			}
			root = p
		}
	}
	return root
}

// treeParent is the parent function of a walk's process table.
func treeParent(t processTree) func(int) int {
	return func(pid int) int {
		if st, ok := t[pid]; ok {
			return st.PPid
		}
		return 0
	}
}

// sameClient reports whether remote (the peer of a server-side socket) is our
// health connection's client address. A v4 client may appear v4-mapped in the
// tcp6 table when the hub listens on [::].
func sameClient(remote, client netip.AddrPort) bool {
	if !client.IsValid() {
		return false
	}
	return remote.Port() == client.Port() && remote.Addr().Unmap() == client.Addr().Unmap()
}

func lookupUser(env Env, cache map[int]string, p Process) string {
	if slices.Contains(p.Unreadable, "uid") {
		return ""
	}
	if name, ok := cache[p.UID]; ok {
		return name
	}
	name, err := env.LookupUser(p.UID)
	if err != nil {
		name = ""
	}
	cache[p.UID] = name
	return name
}

func pidList(pids []int) string {
	pids = slices.Sorted(slices.Values(pids))
	s := ""
	for i, p := range pids {
		if i == 8 {
			return s + fmt.Sprintf(", … %d more", len(pids)-i)
		}
		if i > 0 {
			s += ", "
		}
		s += strconv.Itoa(p)
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// request is everything needed to run one module (buildModuleSpawnRequest).
type request struct {
	Short string
	Argv  []string
	Dir   string   // cwd: the row's installDir
	Env   []string // the full child environment
	Port  int      // the row's port: readiness gate and squatter check
}

// state is a module's supervisor state, in the hub's words.
type state string

const (
	stateStarting   state = "starting"
	stateRunning    state = "running"
	stateStopped    state = "stopped"
	stateCrashed    state = "crashed"
	stateRestarting state = "restarting"
)

// status is a module as the supervisor sees it.
type status struct {
	State    state
	Pid      int // the current child, 0 when none runs
	Restarts int // automatic restarts so far
	LastExit int // the last exit code, -1 when killed by a signal
	Error    string
}

// policy holds the supervisor's knobs; defaultPolicy is the hub's (§7.3).
type policy struct {
	RestartDelay time.Duration
	CrashWindow  time.Duration
	CrashBudget  int // the budget-th crash inside the window gives up
	StopGrace    time.Duration
	ReadyBudget  time.Duration
	ReadyPoll    time.Duration
	// PortHeld reports whether something accepts TCP on the port.
	PortHeld func(port int) bool
}

var defaultPolicy = policy{
	RestartDelay: 500 * time.Millisecond,
	CrashWindow:  60 * time.Second,
	CrashBudget:  3,
	StopGrace:    5 * time.Second,
	ReadyBudget:  4 * time.Second,
	ReadyPoll:    25 * time.Millisecond,
	PortHeld:     portListening,
}

// portListening is portListening() of src/port-probe.ts: a TCP connect to
// 127.0.0.1:port.
func portListening(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// errClosed is returned by start once close has begun.
var errClosed = errors.New("supervisor is shutting down")

// supervisor runs modules as children, each in its own process group,
// restarts crashed ones within the crash budget and stops them on close.
// Every goroutine it starts ends by the time close returns.
type supervisor struct {
	pol policy
	out *lines

	mu      sync.Mutex
	closed  bool
	order   []string
	mods    map[string]*module
	readers map[*os.File]bool // read ends of children's output pipes still open
	wg      sync.WaitGroup    // lifecycle and output goroutines
}

// module is one supervised module; fields are guarded by supervisor.mu.
type module struct {
	req      request
	state    state
	proc     *os.Process   // the running child, nil between runs
	exited   chan struct{} // closed when the current child has been reaped
	crashes  []time.Time   // crash times inside the window
	restarts int
	lastExit int
	err      string
	stopping bool
	stopCh   chan struct{} // closed when a stop is requested
	done     chan struct{} // closed when the module's lifecycle goroutine ends
}

// newSupervisor returns a supervisor writing children's prefixed output and
// its own [supervisor] lines to out.
func newSupervisor(pol policy, out *lines) *supervisor {
	return &supervisor{pol: pol, out: out, mods: map[string]*module{}, readers: map[*os.File]bool{}}
}

func (s *supervisor) logf(format string, a ...any) {
	s.out.line("[supervisor] " + fmt.Sprintf(format, a...))
}

// start spawns the module and waits for its port like the hub's readiness
// gate: until it accepts TCP, the child exits, or the budget passes (then it
// notes started_but_unbound and returns; the child keeps running). Starting
// a module that is running, starting or restarting is a no-op.
func (s *supervisor) start(ctx context.Context, req request) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	if m, ok := s.mods[req.Short]; ok {
		switch m.state {
		case stateRunning, stateStarting, stateRestarting:
			s.mu.Unlock()
			return nil
		case stateStopped, stateCrashed:
			// Started again below.
		}
		if !isClosed(m.done) {
			s.mu.Unlock()
			return fmt.Errorf("start module %s: its previous run is still winding down", req.Short)
		}
	} else {
		s.order = append(s.order, req.Short)
	}
	m := &module{req: req, state: stateStarting, stopCh: make(chan struct{}), done: make(chan struct{})}
	s.mods[req.Short] = m
	s.mu.Unlock()

	if s.pol.PortHeld(req.Port) {
		s.giveUpSquatter(m)
		return nil
	}
	s.mu.Lock()
	cmd, err := s.spawnLocked(m)
	if err != nil {
		m.state, m.err = stateCrashed, err.Error()
		close(m.done)
		s.mu.Unlock()
		s.logf("%s: cannot start %q: %v", req.Short, strings.Join(req.Argv, " "), err)
		return nil
	}
	exited := m.exited
	s.wg.Add(1)
	go s.supervise(m, cmd)
	s.mu.Unlock()

	deadline := time.NewTimer(s.pol.ReadyBudget)
	defer deadline.Stop()
	tick := time.NewTicker(s.pol.ReadyPoll)
	defer tick.Stop()
	for !s.pol.PortHeld(req.Port) {
		select {
		case <-exited:
			return nil
		case <-m.stopCh:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			s.mu.Lock()
			m.err = "started_but_unbound"
			s.mu.Unlock()
			s.logf("%s: started but not bound to port %d after %v (started_but_unbound)", req.Short, req.Port, s.pol.ReadyBudget)
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// giveUpSquatter marks m crashed because its port is held by a process the
// supervisor did not start. Nothing is killed and the crash budget is not
// charged.
func (s *supervisor) giveUpSquatter(m *module) {
	s.mu.Lock()
	m.state = stateCrashed
	m.err = fmt.Sprintf("port_squatter: port %d is held outside the supervisor", m.req.Port)
	if !isClosed(m.done) {
		close(m.done)
	}
	s.mu.Unlock()
	s.logf("%s: port %d is held by a process outside the supervisor; not starting it (port_squatter)", m.req.Short, m.req.Port)
}

// spawnLocked starts one run of m in its own process group, its stdout and
// stderr on one pipe whose lines are copied to out prefixed "[short] ".
// s.mu must be held: close cannot then miss a child started concurrently.
func (s *supervisor) spawnLocked(m *module) (*exec.Cmd, error) {
	if m.stopping || s.closed {
		return nil, errClosed
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(m.req.Argv[0], m.req.Argv[1:]...)
	cmd.Dir = m.req.Dir
	cmd.Env = m.req.Env
	cmd.Stdout, cmd.Stderr = w, w // an *os.File: handed over as is, no copying goroutine in exec
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	_ = w.Close()
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	m.proc = cmd.Process
	m.exited = make(chan struct{})
	m.state = stateRunning
	s.readers[r] = true
	s.wg.Add(1)
	go s.pump(m.req.Short, r)
	return cmd, nil
}

// pump copies one child's output to out line by line until every holder of
// the pipe (the child and any descendant) has closed it, or close closes it.
func (s *supervisor) pump(short string, r *os.File) {
	defer s.wg.Done()
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			s.out.line("[" + short + "] " + strings.TrimSuffix(line, "\n"))
		}
		if err != nil {
			break
		}
	}
	s.mu.Lock()
	delete(s.readers, r)
	s.mu.Unlock()
	_ = r.Close()
}

// supervise waits for each run of m and restarts it after the delay until a
// stop is requested or the crash budget is spent.
func (s *supervisor) supervise(m *module, cmd *exec.Cmd) {
	defer s.wg.Done()
	defer close(m.done)
	short := m.req.Short
	for {
		_ = cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		s.mu.Lock()
		close(m.exited)
		m.proc = nil
		m.lastExit = code
		if m.stopping {
			m.state = stateStopped
			s.mu.Unlock()
			return
		}
		now := time.Now()
		kept := m.crashes[:0]
		for _, t := range m.crashes {
			if now.Sub(t) < s.pol.CrashWindow {
				kept = append(kept, t)
			}
		}
		m.crashes = append(kept, now)
		k := len(m.crashes)
		if k >= s.pol.CrashBudget {
			m.state = stateCrashed
			m.err = fmt.Sprintf("crashed %dx within %dms", k, s.pol.CrashWindow.Milliseconds())
			s.mu.Unlock()
			s.logf("%s crashed %dx within %dms — giving up.", short, k, s.pol.CrashWindow.Milliseconds())
			return
		}
		m.state = stateRestarting
		s.mu.Unlock()
		codeText := "?"
		if code >= 0 {
			codeText = strconv.Itoa(code)
		}
		s.logf("%s exited (code=%s); restart %d/%d in window.", short, codeText, k, s.pol.CrashBudget)

		delay := time.NewTimer(s.pol.RestartDelay)
		select {
		case <-delay.C:
		case <-m.stopCh:
			delay.Stop()
			s.mu.Lock()
			m.state = stateStopped
			s.mu.Unlock()
			return
		}
		if s.pol.PortHeld(m.req.Port) {
			s.mu.Lock()
			m.state = stateCrashed
			m.err = fmt.Sprintf("port_squatter: port %d is held outside the supervisor", m.req.Port)
			s.mu.Unlock()
			s.logf("%s: port %d is held by a process outside the supervisor; not restarting it (port_squatter)", short, m.req.Port)
			return
		}
		s.mu.Lock()
		next, err := s.spawnLocked(m)
		if err != nil {
			if m.stopping {
				m.state = stateStopped
			} else {
				m.state, m.err = stateCrashed, err.Error()
			}
			s.mu.Unlock()
			if !errors.Is(err, errClosed) {
				s.logf("%s: cannot restart: %v", short, err)
			}
			return
		}
		m.restarts++
		s.mu.Unlock()
		cmd = next
	}
}

// stop stops one module: SIGTERM to its process group, up to StopGrace for
// the child to exit, then SIGKILL to the group. A module waiting to restart
// simply does not restart. It returns once the module's goroutine has ended.
//
// Like the hub, it waits for the group leader (the direct child) only: a
// descendant that ignores SIGTERM after its wrapper exited is left to the
// service manager's cgroup kill.
func (s *supervisor) stop(short string) {
	s.mu.Lock()
	m, ok := s.mods[short]
	if !ok {
		s.mu.Unlock()
		return
	}
	if !m.stopping {
		m.stopping = true
		close(m.stopCh)
	}
	proc, exited := m.proc, m.exited
	s.mu.Unlock()
	if proc != nil {
		// The pid leads its group (Setpgid). If it is reaped between the
		// unlock above and this kill, the group id could in theory have been
		// reused; the window is microseconds and the hub has the same one.
		killGroup(proc.Pid, syscall.SIGTERM)
		grace := time.NewTimer(s.pol.StopGrace)
		select {
		case <-exited:
			grace.Stop()
		case <-grace.C:
			s.logf("%s didn't exit within %v; sending SIGKILL.", short, s.pol.StopGrace)
			killGroup(proc.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	<-m.done
}

// killGroup is the hub's group-aware kill: kill(-pid), falling back to the
// bare pid on ESRCH.
func killGroup(pid int, sig syscall.Signal) {
	if err := syscall.Kill(-pid, sig); errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(pid, sig)
	}
}

// close stops every module in turn (file order, like the hub's serve arm),
// then ends the output goroutines: pipes still held by descendants that left
// the group are closed after a short drain. No goroutine outlives it.
func (s *supervisor) close() {
	s.mu.Lock()
	s.closed = true
	order := append([]string(nil), s.order...)
	s.mu.Unlock()
	for _, short := range order {
		s.stop(short)
	}
	drained := make(chan struct{})
	go func() { s.wg.Wait(); close(drained) }()
	select {
	case <-drained:
		return
	case <-time.After(200 * time.Millisecond):
	}
	s.mu.Lock()
	for r := range s.readers {
		_ = r.Close() // unblocks the pump's Read
	}
	s.mu.Unlock()
	<-drained
}

// status reports one module; ok is false when it was never started.
func (s *supervisor) status(short string) (status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mods[short]
	if !ok {
		return status{}, false
	}
	st := status{State: m.state, Restarts: m.restarts, LastExit: m.lastExit, Error: m.err}
	if m.proc != nil {
		st.Pid = m.proc.Pid
	}
	return st, true
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// lines serialises whole lines onto one writer.
type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, s+"\n")
}

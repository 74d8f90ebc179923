package actuate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

// ErrGone is returned by Processes.Identity when no such process exists (or
// it is a zombie, which counts as dead).
var ErrGone = errors.New("no such process")

// Identity is what the actuator re-reads about a process before it acts on
// it.
type Identity struct {
	StartTicks uint64
	PPid       int
	Pgid       int
}

// Processes reads, signals and starts processes.
type Processes interface {
	// Identity returns pid's identity, or ErrGone.
	Identity(pid int) (Identity, error)
	// Cgroup returns pid's unified cgroup path (Linux; "" elsewhere), or an
	// error when it cannot be read. Only the unit-membership checks need
	// it, so Identity, asked of every stop target on every poll, does not
	// read it.
	Cgroup(pid int) (string, error)
	// Signal sends sig to the group pgid when pgid > 0, else to pid.
	Signal(pid, pgid int, sig syscall.Signal) error
	// Groups is one look at the process groups, to ask of every group a
	// poll waits on: it reads the process table at most once, on the
	// first question that needs it. Take a new one for each poll.
	Groups() Groups
	// StartDetached starts argv as a new session with stdin from /dev/null
	// and stdout and stderr appended to log, and returns its pid without
	// waiting for it.
	StartDetached(argv, env []string, dir, log string) (int, error)
}

// Holder is implemented by a Processes that can hold on to a process, so
// that a batch of stops checks every process before the first signal and
// then signals them back to back with no window for a pid to come to name
// another process (Linux: a pidfd each). Without it each pid is checked
// again just before its own signal, which puts the checks of the later
// ones among the exits of the earlier ones.
type Holder interface {
	// Hold returns a hold on pid, which must be the process that started
	// at startTicks (0: whichever process has the pid now); ErrGone when
	// it has exited or the pid names another process. Any other error
	// means holding is not possible here, and the caller checks and
	// signals as without a Holder.
	Hold(pid int, startTicks uint64) (Hold, error)
}

// Hold is one process held for a batch of signals.
type Hold interface {
	// Exited reports whether the held process has exited (a zombie has);
	// an error when it cannot tell.
	Exited() (bool, error)
	// Signal sends sig to the held process, or to its group pgid when
	// pgid > 0. Callers ask it only while the process has not exited: a
	// live member keeps the group's id from naming any other group.
	Signal(pgid int, sig syscall.Signal) error
	// Release lets go of the process.
	Release()
}

// Groups answers for one look at the process groups.
type Groups interface {
	// Alive reports whether any process of group pgid is alive (a zombie
	// is not). A look is a moment: an answer of "alive" may be one poll
	// out of date (the group ends meanwhile: the caller waits once more);
	// "not alive" stays true, because a group gains a live member only by
	// a fork of one or a setpgid into it, which nothing of a stopped
	// module does.
	Alive(pgid int) bool
	// Members reports whether group pgid has any member at all, zombies
	// included, without reading the process table.
	Members(pgid int) bool
}

// Files writes and removes the few files the reconciler owns. Every path
// lies under a root (the box's home, or the unit directory's base, as the
// step's Under or Dir says) and is reached from it without following a
// symlink at any component (the trust model's rule 7).
type Files interface {
	// WriteFile writes data to path atomically with perm, creating missing
	// directories below root; it refuses a symlink anywhere below root and
	// leaves an identical file untouched (reporting changed=false).
	WriteFile(root, path string, data []byte, perm os.FileMode) (changed bool, err error)
	// Remove deletes path; a missing file is not an error.
	Remove(root, path string) error
	// Touch makes path exist as a regular file (creating it with perm, and
	// missing directories below root, when it does not), never through a
	// link: the hub's log, before the service manager appends to it.
	Touch(root, path string, perm os.FileMode) error
}

// Units is the service manager, as the actuator needs it. Every method waits
// for the manager's job to finish and returns an error naming the unit and
// the job's result when it did not succeed.
type Units interface {
	// Reload makes the manager re-read unit files (systemd daemon-reload;
	// a no-op for launchd).
	Reload(ctx context.Context) error
	// EnableLinger turns linger on for user (systemd user units).
	EnableLinger(ctx context.Context, user string) error
	// Start enables and starts the hub unit; path is its file.
	Start(ctx context.Context, name, path string) error
	// Stop stops and disables a unit (the hub's or a stale module's).
	Stop(ctx context.Context, name string) error
	// Unload makes the manager forget a unit whose file is about to be
	// deleted (launchd bootout; nothing for systemd, whose Reload follows
	// the delete).
	Unload(ctx context.Context, name string) error
	// Owner returns what a process must be inside to belong to the unit
	// now: its control group (systemd) or its main pid (launchd), and
	// whether the unit is in a failed state.
	Owner(ctx context.Context, name string) (Ownership, error)
}

// Ownership says which processes belong to a unit at one moment.
type Ownership struct {
	ControlGroup string
	MainPID      int
	Failed       bool
	State        string
}

// Ports answers who holds listening sockets on ports right now.
type Ports interface {
	// Held looks once at the kernel for all of ports and returns, for each
	// one that a listening TCP socket (v4 or v6) holds, the pids holding
	// it and how many of its sockets have no owner that can be read. A
	// free port is absent from the map.
	Held(ports []int) (map[int]Holders, error)
}

// Holders are the holders of one port.
type Holders struct {
	Pids []int
	// Unknown counts sockets on the port whose owner cannot be read.
	Unknown int
}

// Health probes the hub.
type Health interface {
	// Probe asks GET /health on 127.0.0.1:port and returns whether it
	// answered 2xx and which pid answered (0 when unknown).
	Probe(ctx context.Context, port int) (ok bool, answeredBy int, err error)
}

// ScopedHealth is a Health that can look for the answering pid among the
// processes of one control group only (cheap while the hub forks hundreds
// of modules); wait-healthy uses it for a systemd unit whose group it knows.
type ScopedHealth interface {
	Health
	// ProbeIn is Probe, answeredBy sought in cgroup first.
	ProbeIn(ctx context.Context, port int, cgroup string) (ok bool, answeredBy int, err error)
}

// Modules tells how the modules a freshly started hub boots are doing.
type Modules interface {
	// Booted returns, for each of mods in order, whether it is done
	// booting — it answered its health path 2xx (up), or it never will
	// (unstartable, or the hub's supervisor gave up on it) — with the
	// evidence. log is the hub's log, reached from dir without following a
	// link. mods is the caller's, reused from poll to poll: Booted must not
	// keep it.
	Booted(ctx context.Context, dir, log string, mods []spec.Module) []ModuleStatus
}

// ModuleStatus is one module's answer to Modules.Booted.
type ModuleStatus struct {
	Done     bool
	State    reconcile.ModuleState
	Evidence string
}

// Clock is the actuator's time.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

// Event is one line of progress while applying.
type Event struct {
	Event   string           `json:"event"` // step-start, step-progress, step-done, step-failed
	N       int              `json:"n"`
	Action  reconcile.Action `json:"action"`
	Target  string           `json:"target"`
	Error   string           `json:"error,omitempty"`
	Elapsed string           `json:"elapsed,omitempty"`
	// Progress is what a long wait has reached so far (step-progress):
	// "2 of 3 modules up; waiting for vault".
	Progress string `json:"progress,omitempty"`
}

// Actuator applies plans. Units may be nil (no service manager: unit steps
// then fail), and Modules (wait-modules then returns at once).
type Actuator struct {
	Procs    Processes
	Files    Files
	Units    Units
	Ports    Ports
	Health   Health
	Modules  Modules
	Clock    Clock
	Timeouts spec.Timeouts
	// Poll is the shortest interval between polls of a wait; waits back
	// off from it to 4× it. Zero means 5ms.
	Poll time.Duration
	// Events, when set, is told when each step starts, ends or fails;
	// step-start is reported before the step changes anything.
	Events func(Event)
}

// StepError is the failure of one step. It describes the box as the failed
// step left it.
type StepError struct {
	Step reconcile.Step
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("step %d %s (%s): %v", e.Step.N, e.Step.Action, e.Step.Target, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// NeedsPerson is a step's error that no retry and no later run can pass:
// this run lacks a permission only a person can grant (logind refusing to
// turn linger on for a user whose run has no active local session). It is
// never retried, and the run ends blocked (exit 3), not failed.
type NeedsPerson struct {
	Err error
	// Fix is what the person does, in the words of a Blocker's Fix.
	Fix string
}

func (e *NeedsPerson) Error() string { return e.Err.Error() }
func (e *NeedsPerson) Unwrap() error { return e.Err }

// Apply carries out plan's steps in order and stops at the first failure. It
// never re-plans: the next run observes afresh and resumes. A blocked plan
// is refused whole. It returns the steps that completed.
//
// The plan is the whole contract: every decision the steps need (whether to
// reload, which file to start, who belongs to the unit) was made by the
// planner and travels in the steps.
func (a *Actuator) Apply(ctx context.Context, plan reconcile.Plan) ([]reconcile.Step, error) {
	if plan.Outcome == reconcile.OutcomeBlocked {
		return nil, errors.New("the plan is blocked; nothing applied")
	}
	r := &run{a: a}
	var done []reconcile.Step
	steps := plan.Steps
	for i := 0; i < len(steps); {
		st := steps[i]
		if st.Action == reconcile.Stop {
			// Every consecutive stop is sent at once and shares one grace
			// period (rule 3).
			j := i
			for j < len(steps) && steps[j].Action == reconcile.Stop {
				j++
			}
			if err := r.stopAll(ctx, steps[i:j]); err != nil {
				return done, err
			}
			done = append(done, steps[i:j]...)
			i = j
			continue
		}
		if st.Action == reconcile.WaitPortFree {
			// Consecutive port waits share one deadline and one look at
			// the kernel per poll for every port still held.
			j := i
			for j < len(steps) && steps[j].Action == reconcile.WaitPortFree {
				j++
			}
			freed, err := r.waitPortsFree(ctx, steps[i:j])
			done = append(done, freed...)
			if err != nil {
				return done, err
			}
			i = j
			continue
		}
		a.emit("step-start", st, nil, 0)
		t0 := a.Clock.Now()
		if err := r.do(ctx, st); err != nil {
			a.emit("step-failed", st, err, a.Clock.Now().Sub(t0))
			return done, &StepError{Step: st, Err: err}
		}
		a.emit("step-done", st, nil, a.Clock.Now().Sub(t0))
		done = append(done, st)
		i++
	}
	return done, nil
}

func (a *Actuator) emit(kind string, st reconcile.Step, err error, d time.Duration) {
	if a.Events == nil {
		return
	}
	ev := Event{Event: kind, N: st.N, Action: st.Action, Target: st.Target}
	if err != nil {
		ev.Error = err.Error()
	}
	if kind != "step-start" {
		ev.Elapsed = d.Round(time.Microsecond).String()
	}
	a.Events(ev)
}

// emitProgress reports how far a long step has got.
func (a *Actuator) emitProgress(st reconcile.Step, progress string) {
	if a.Events != nil {
		a.Events(Event{Event: "step-progress", N: st.N, Action: st.Action, Target: st.Target, Progress: progress})
	}
}

// run is one Apply call's state.
type run struct {
	a *Actuator
	// members describes who belongs to the hub unit: from the wait steps,
	// refreshed from the manager after the unit starts.
	members reconcile.Members
	// asked is set once the manager has answered who belongs to the unit.
	asked bool
	// detachedPid is the hub started by start-detached in this run.
	detachedPid int
	// portDeadline is shared by every wait-port-free of the run: one
	// budget for all ports, not one per port.
	portDeadline time.Time
}

func (r *run) do(ctx context.Context, st reconcile.Step) error {
	a := r.a
	switch st.Action {
	case reconcile.WriteUnit:
		return r.writeUnit(ctx, st)
	case reconcile.RemovePidfile:
		return r.removePidfile(st)
	case reconcile.DisableUnit:
		return r.withUnits(func(u Units) error { return retry(ctx, func() error { return u.Stop(ctx, st.Unit) }) })
	case reconcile.StartUnit:
		return r.withUnits(func(u Units) error {
			if err := retry(ctx, func() error { return u.Start(ctx, st.Unit, st.Path) }); err != nil {
				// The unit file stays on disk: the next run starts it
				// again (the upstream deletes it and strands the box).
				return err
			}
			return nil
		})
	case reconcile.WaitHealthy:
		return r.waitHealthy(ctx, st)
	case reconcile.StopUnit:
		return r.withUnits(func(u Units) error { return retry(ctx, func() error { return u.Stop(ctx, st.Unit) }) })
	case reconcile.RemoveUnit:
		return r.withUnits(func(u Units) error {
			if err := retry(ctx, func() error { return u.Unload(ctx, st.Unit) }); err != nil {
				return err
			}
			if err := a.Files.Remove(st.Under, st.Path); err != nil {
				return err
			}
			return retry(ctx, func() error { return u.Reload(ctx) })
		})
	case reconcile.StartDetached:
		return r.startDetached(st)
	case reconcile.WaitModules:
		return r.waitModules(ctx, st)
	case reconcile.Stop, reconcile.WaitPortFree:
		// Apply runs these in batches (one grace period, one deadline).
		return fmt.Errorf("%s must be applied with its batch", st.Action)
	}
	return fmt.Errorf("unknown step kind %q", st.Action)
}

func (r *run) withUnits(f func(Units) error) error {
	if r.a.Units == nil {
		return errors.New("no service manager to talk to")
	}
	return f(r.a.Units)
}

func (r *run) writeUnit(ctx context.Context, st reconcile.Step) error {
	a := r.a
	// The hub's log: StandardOutput=append: and launchd's StandardOutPath
	// open it as the manager (root, for a system unit), following links;
	// so it is made here first, a regular file reached without any.
	if st.Log != "" {
		if err := a.Files.Touch(st.Dir, st.Log, 0o644); err != nil {
			return err
		}
	}
	if _, err := a.Files.WriteFile(st.Under, st.Path, []byte(st.Content), 0o644); err != nil {
		return err
	}
	return r.withUnits(func(u Units) error {
		if st.Linger {
			if err := retry(ctx, func() error { return u.EnableLinger(ctx, st.User) }); err != nil {
				return err
			}
		}
		// The planner decided whether the manager must re-read the file.
		if st.Reload {
			return retry(ctx, func() error { return u.Reload(ctx) })
		}
		return nil
	})
}

func (r *run) removePidfile(st reconcile.Step) error {
	if st.Pid > 0 {
		// Only for processes that are gone (rule 4): gone, or the pid now
		// names another process. Unreadable is not gone.
		id, err := r.a.Procs.Identity(st.Pid)
		switch {
		case errors.Is(err, ErrGone):
		case err != nil:
			return fmt.Errorf("pid %d named by %s cannot be checked (%v); the pidfile stays", st.Pid, st.Path, err)
		case st.StartTicks == 0 || id.StartTicks == st.StartTicks:
			return fmt.Errorf("pid %d named by %s is still running; the pidfile stays", st.Pid, st.Path)
		}
	}
	return r.a.Files.Remove(st.Under, st.Path)
}

func (r *run) startDetached(st reconcile.Step) error {
	a := r.a
	if err := a.Files.Touch(st.Dir, st.Log, 0o644); err != nil {
		return err
	}
	pid, err := a.Procs.StartDetached(st.Argv, st.Env, st.Dir, st.Log)
	if err != nil {
		return fmt.Errorf("start %s: %w", st.Argv[0], err)
	}
	r.detachedPid = pid
	// hub.port first, hub.pid last: a live hub.pid is what the planner
	// takes for a started detached hub, so it must not stand without its
	// port record. A run that dies between the two leaves a hub with no
	// pidfile, which the next run stops and starts again (recorded).
	if _, err := a.Files.WriteFile(st.Dir, st.PortFile, []byte(fmt.Sprintf("%d\n", st.Port)), 0o644); err != nil {
		return fmt.Errorf("hub started as pid %d but %w", pid, err)
	}
	if _, err := a.Files.WriteFile(st.Dir, st.Pidfile, []byte(fmt.Sprintf("%d\n", pid)), 0o644); err != nil {
		return fmt.Errorf("hub started as pid %d but %w", pid, err)
	}
	return nil
}

// retry runs op with exponential backoff while it fails with a retryable
// error, for at most a few seconds. Neither an error marked Permanent nor
// a NeedsPerson is retried: only a person can change the answer.
func retry(ctx context.Context, op func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = time.Second
	b.MaxElapsedTime = 5 * time.Second
	return backoff.Retry(func() error {
		err := op()
		if _, ok := errors.AsType[*NeedsPerson](err); ok {
			return Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx))
}

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return backoff.Permanent(err) }

// pollSleep returns the next poll interval, growing from the base to 4× it:
// a condition that holds is seen within a few milliseconds, and a long wait
// costs one cheap probe every 20 ms.
func (a *Actuator) pollSleep(n int) time.Duration {
	base := a.Poll
	if base <= 0 {
		base = 5 * time.Millisecond
	}
	return base << min(n, 2)
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

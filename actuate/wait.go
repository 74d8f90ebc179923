package actuate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parachute/reconcile/internal/procfs"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

// stopAll signals every process of a run of stop steps at once, waits one
// grace period for all of them together, then SIGKILLs what is left. A pid
// that now names another process than the plan's (its start time differs)
// is left alone.
//
// Every step is reported started, and every process checked, before the
// first signal; the signals then go out back to back. Checking and
// reporting each one just before its own signal spread a batch of 500 over
// most of a second: the checks and reports of the later ones ran among the
// exits of the earlier ones, which had the CPUs. What makes the early check
// safe is the hold (Holder: a pidfd), which a reuse of the pid cannot
// redirect; without one, each pid is checked just before its signal.
//
// Every step reported started is reported done or failed before stopAll
// returns, whichever way it returns.
func (r *run) stopAll(ctx context.Context, steps []reconcile.Step) error {
	b := &stopBatch{r: r, t0: r.a.Clock.Now()}
	for _, st := range steps {
		r.a.emit("step-start", st, nil, 0)
	}
	b.targets = holdAll(r.a.Procs, steps)
	defer b.release()
	if err := b.signalAll(syscall.SIGTERM); err != nil {
		return err
	}
	deadline := b.t0.Add(r.a.Timeouts.Stop)
	if err := b.waitUntil(ctx, deadline, nil); err != nil || b.left() == 0 {
		return err
	}
	// One grace period for all: whoever is left now gets SIGKILL.
	if err := b.signalAll(syscall.SIGKILL); err != nil {
		return err
	}
	// SIGKILL is not negotiable: what is still there after a few seconds
	// is stuck in the kernel (uninterruptible sleep).
	return b.waitUntil(ctx, r.a.Clock.Now().Add(5*time.Second), func(t *stopTarget) error {
		return fmt.Errorf("pid %d survived SIGKILL (uninterruptible sleep?)", t.st.Pid)
	})
}

// stopBatch is a run of stop steps being applied together.
type stopBatch struct {
	r       *run
	t0      time.Time
	targets []*stopTarget
}

// signalAll sends sig to every target not yet ended. A target that is gone
// before its signal is done. A signal that fails ends the batch: that step
// fails, and so does every other still open, those before it as not waited
// for, those after it as not signalled.
func (b *stopBatch) signalAll(sig syscall.Signal) error {
	groups := b.r.a.Procs.Groups()
	for i, t := range b.targets {
		if t.ended {
			continue
		}
		sent, err := b.r.signalTarget(t, sig, groups)
		if err != nil {
			b.fail(t, err)
			for _, o := range b.targets[:i] {
				b.fail(o, fmt.Errorf("sent %s, not waited for: stopping %s failed", sigName(sig), t.st.Target))
			}
			for _, o := range b.targets[i+1:] {
				b.fail(o, fmt.Errorf("%s not sent: stopping %s failed first", sigName(sig), t.st.Target))
			}
			return &StepError{Step: t.st, Err: err}
		}
		if !sent {
			b.done(t)
		}
	}
	return nil
}

// waitUntil polls until every target is gone or deadline passes. At the
// deadline, with timedOut set, every target left fails with what it
// returns and the first is the error; without, the caller decides.
func (b *stopBatch) waitUntil(ctx context.Context, deadline time.Time, timedOut func(*stopTarget) error) error {
	a := b.r.a
	for n := 0; ; n++ {
		groups := a.Procs.Groups() // one look per poll
		for _, t := range b.targets {
			if !t.ended && !b.r.stillThere(t, groups) {
				b.done(t)
			}
		}
		if b.left() == 0 {
			return nil
		}
		if !a.Clock.Now().Before(deadline) {
			if timedOut == nil {
				return nil
			}
			var first *StepError
			for _, t := range b.targets {
				if !t.ended {
					err := timedOut(t)
					b.fail(t, err)
					if first == nil {
						first = &StepError{Step: t.st, Err: err}
					}
				}
			}
			return first
		}
		if err := a.Clock.Sleep(ctx, a.pollSleep(n)); err != nil {
			for _, t := range b.targets {
				b.fail(t, err)
			}
			return err
		}
	}
}

// left is how many targets have not ended: not yet found gone.
func (b *stopBatch) left() int {
	n := 0
	for _, t := range b.targets {
		if !t.ended {
			n++
		}
	}
	return n
}

// done reports t's stop done, unless it has ended already.
func (b *stopBatch) done(t *stopTarget) { b.end(t, "step-done", nil) }

// fail reports t's stop failed with err, unless it has ended already.
func (b *stopBatch) fail(t *stopTarget, err error) { b.end(t, "step-failed", err) }

func (b *stopBatch) end(t *stopTarget, kind string, err error) {
	if t.ended {
		return
	}
	t.ended = true
	b.r.a.emit(kind, t.st, err, b.r.a.Clock.Now().Sub(b.t0))
}

// release lets go of every held process.
func (b *stopBatch) release() {
	for _, t := range b.targets {
		if t.hold != nil {
			t.hold.Release()
		}
	}
}

// signal sends sig for a stop step after re-checking the pid's identity
// (and, when the pid is gone, its group's in groups). It reports whether
// the process was there to signal.
func (r *run) signal(st reconcile.Step, sig syscall.Signal, groups Groups) (bool, error) {
	p := r.a.Procs
	id, err := p.Identity(st.Pid)
	switch {
	case errors.Is(err, ErrGone):
		if st.Pgid > 0 && groups.Alive(st.Pgid) {
			// The leader is gone but its group lives on (a wrapper's
			// grandchild): the group is still ours to signal. It cannot be
			// another group by now: the kernel never hands out a pid that
			// is still a live group's id, so this pgid names the group the
			// plan saw for as long as any member lives.
			return true, ignoreGone(p.Signal(0, st.Pgid, sig))
		}
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read pid %d: %w", st.Pid, err)
	case st.StartTicks != 0 && id.StartTicks != st.StartTicks:
		// The pid now names another process: never signal it.
		return false, nil
	}
	if err := p.Signal(st.Pid, st.Pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return false, fmt.Errorf("%s pid %d: %w", sigName(sig), st.Pid, err)
	}
	return true, nil
}

// lingerGrace is how long a stopped group whose only sign of life is that
// it has members is taken as alive without reading the process table: the
// members are usually zombies their parent (often init) collects within
// moments, and a look at every process's stat, among the exits of a batch
// of hundreds, cost more than the wait (162 ms at 500 modules among 2,000
// other processes). A group still there after it is looked at in full.
const lingerGrace = 100 * time.Millisecond

// stillThere reports whether a stop target's process, or its group, lives.
// A held process is asked through its hold.
func (r *run) stillThere(t *stopTarget, groups Groups) bool {
	if r.processThere(t) {
		return true
	}
	st := t.st
	if st.Pgid <= 0 || !groups.Members(st.Pgid) {
		return false
	}
	now := r.a.Clock.Now()
	if t.lingering.IsZero() {
		t.lingering = now
	}
	if now.Sub(t.lingering) < lingerGrace {
		return true
	}
	return groups.Alive(st.Pgid)
}

// processThere reports whether t's own process lives: through its hold when
// the hold can answer, else by its pid and start time. A process whose
// identity cannot be read is there: unknown is never gone (the deadline
// bounds the wait).
func (r *run) processThere(t *stopTarget) bool {
	if t.hold != nil {
		if exited, err := t.hold.Exited(); err == nil {
			return !exited
		}
	}
	id, err := r.a.Procs.Identity(t.st.Pid)
	if errors.Is(err, ErrGone) {
		return false
	}
	return err != nil || t.st.StartTicks == 0 || id.StartTicks == t.st.StartTicks
}

// stopTarget is one process of a batch of stops.
type stopTarget struct {
	st reconcile.Step
	// hold is the process held since before the batch's first signal; nil
	// when it was not held: gone already, a pid that names another process
	// now, or no holds here (no Holder, or holding failed: ENOSYS, EMFILE).
	hold Hold
	// ended: reported done or failed; until then the process is waited on.
	ended bool
	// lingering is when the process was first found gone with members of
	// its group left (see lingerGrace).
	lingering time.Time
}

// holdAll makes the targets of a batch of stops, each process held when
// procs can hold one and it is still the plan's. After the first failure
// other than ErrGone none is held: it would be the same for all (ENOSYS,
// EPERM), or the descriptor table is full (EMFILE), and the holds already
// taken would keep it full while the batch reads /proc for every process
// not held. Each is then checked just before its signal, as without a
// Holder.
func holdAll(procs Processes, steps []reconcile.Step) []*stopTarget {
	holder, _ := procs.(Holder)
	targets := make([]*stopTarget, len(steps))
	for i, st := range steps {
		targets[i] = &stopTarget{st: st}
		if holder == nil {
			continue
		}
		h, err := holder.Hold(st.Pid, st.StartTicks)
		switch {
		case err == nil:
			targets[i].hold = h
		case !errors.Is(err, ErrGone):
			holder = nil
			for _, t := range targets[:i] {
				if t.hold != nil {
					t.hold.Release()
					t.hold = nil
				}
			}
		}
	}
	return targets
}

// signalTarget is signal for a target of a batch: a held process that has
// not exited is signalled through its hold, with nothing left to check;
// any other as signal decides (a gone leader's group may live on).
func (r *run) signalTarget(t *stopTarget, sig syscall.Signal, groups Groups) (bool, error) {
	if t.hold != nil {
		if exited, err := t.hold.Exited(); err == nil && !exited {
			if err := t.hold.Signal(t.st.Pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				return false, fmt.Errorf("%s pid %d: %w", sigName(sig), t.st.Pid, err)
			}
			return true, nil
		}
	}
	return r.signal(t.st, sig, groups)
}

func ignoreGone(err error) error {
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func sigName(sig syscall.Signal) string {
	if sig == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGTERM"
}

// inUnit reports whether pid belongs to the hub unit now.
func (r *run) inUnit(pid int) bool {
	if pid <= 0 {
		return false
	}
	m := r.members
	switch m.Manager {
	case spec.ManagerLaunchd:
		return r.descends(pid, m.MainPID)
	case spec.ManagerSystemd:
	case spec.ManagerAuto, "":
		// No manager observed: cgroup membership is all there is to go by.
	default:
		panic(fmt.Sprintf("actuate: unknown service manager %q in a plan", m.Manager))
	}
	if m.ControlGroup == "" {
		return false
	}
	cg, err := r.a.Procs.Cgroup(pid)
	if err != nil {
		return false
	}
	return procfs.InCgroup(cg, m.ControlGroup)
}

// waitPortsFree waits until no process outside the hub unit holds the port
// of any of steps (all wait-port-free), reporting each step done as its
// port frees. Every poll is one Ports.Held call for the ports still held,
// not one per port: with hundreds of modules a look per port, each its own
// walk over /proc, made the wait cost seconds after everything had already
// exited. All such waits of a run share one deadline. It returns the steps
// that completed; on failure every step still waiting fails (each with why
// its port is held, when that is known) and the first is the error.
func (r *run) waitPortsFree(ctx context.Context, steps []reconcile.Step) ([]reconcile.Step, error) {
	a := r.a
	if r.portDeadline.IsZero() {
		r.portDeadline = a.Clock.Now().Add(a.Timeouts.PortFree)
	}
	r.adopt(steps[0].Members)
	t0 := a.Clock.Now()
	for _, st := range steps {
		a.emit("step-start", st, nil, 0)
	}
	var done []reconcile.Step
	pending := slices.Clone(steps)
	// failAll reports every step still waiting failed, with why(st), and
	// returns the first one's error.
	failAll := func(why func(reconcile.Step) error) error {
		for _, st := range pending {
			a.emit("step-failed", st, why(st), a.Clock.Now().Sub(t0))
		}
		return &StepError{Step: pending[0], Err: why(pending[0])}
	}
	for n := 0; ; n++ {
		ports := make([]int, 0, len(pending))
		for _, st := range pending {
			ports = append(ports, st.Port)
		}
		held, err := a.Ports.Held(ports)
		if err != nil {
			err = fmt.Errorf("read the owners of %s: %w", portList(ports), err)
			return done, failAll(func(reconcile.Step) error { return err })
		}
		var still []reconcile.Step
		why := map[int]error{}
		for _, st := range pending {
			if err := r.heldOutside(st.Port, held[st.Port]); err != nil {
				still = append(still, st)
				why[st.Port] = err
				continue
			}
			a.emit("step-done", st, nil, a.Clock.Now().Sub(t0))
			done = append(done, st)
		}
		if pending = still; len(pending) == 0 {
			return done, nil
		}
		if !a.Clock.Now().Before(r.portDeadline) {
			return done, failAll(func(st reconcile.Step) error {
				return fmt.Errorf("%w after %s; nothing was started", why[st.Port], a.Timeouts.PortFree)
			})
		}
		if err := a.Clock.Sleep(ctx, a.pollSleep(n)); err != nil {
			return done, failAll(func(reconcile.Step) error { return err })
		}
	}
}

// heldOutside says why port is not free of processes outside the hub unit,
// or nil when it is.
func (r *run) heldOutside(port int, h Holders) error {
	var outside []int
	for _, pid := range h.Pids {
		if !r.inUnit(pid) {
			outside = append(outside, pid)
		}
	}
	switch {
	case len(outside) > 0:
		return fmt.Errorf(":%d is still held by pid %s", port, joinPids(outside))
	case h.Unknown > 0:
		return fmt.Errorf(":%d is still held by a process whose owner cannot be read", port)
	}
	return nil
}

func portList(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = ":" + strconv.Itoa(p)
	}
	if len(s) > 8 {
		s = append(s[:8], fmt.Sprintf("… %d more", len(ports)-8))
	}
	return strings.Join(s, ", ")
}

// waitHealthy waits for a 2xx /health answered by the right process: one in
// the hub unit (supervised) or the detached hub we started or found.
func (r *run) waitHealthy(ctx context.Context, st reconcile.Step) error {
	a := r.a
	deadline := a.Clock.Now().Add(a.Timeouts.Healthy)
	// A wait-healthy without a unit is for the detached hub.
	detached := st.Unit == ""
	r.adopt(st.Members)
	var last string
	for n := 0; ; n++ {
		var ownerErr error
		if !detached && a.Units != nil {
			own, err := a.Units.Owner(ctx, st.Unit)
			if err != nil {
				ownerErr = err
			} else {
				r.members.ControlGroup, r.members.MainPID = cmp.Or(own.ControlGroup, r.members.ControlGroup), own.MainPID
				r.asked = true
				if own.Failed {
					return Permanent(fmt.Errorf("the hub unit failed while starting: %s", own.State))
				}
			}
		}
		ok, by, err := r.probeHealth(ctx, st.Port, detached)
		switch {
		case err != nil:
			last = err.Error()
		case !ok:
			last = "/health did not answer 2xx"
		case detached && r.descends(by, cmp.Or(r.detachedPid, st.Pid)):
			return nil
		case !detached && r.inUnit(by):
			return nil
		default:
			last = fmt.Sprintf("/health answered from pid %d, which is not the hub we manage", by)
		}
		if ownerErr != nil {
			last += " (and the unit could not be asked: " + ownerErr.Error() + ")"
		}
		if !a.Clock.Now().Before(deadline) {
			return fmt.Errorf("no healthy hub on :%d after %s: %s", st.Port, a.Timeouts.Healthy, last)
		}
		if err := a.Clock.Sleep(ctx, a.pollSleep(n)); err != nil {
			return err
		}
	}
}

// probeHealth is Health.Probe, through ProbeIn when the answer must come
// from a systemd unit whose control group is known.
func (r *run) probeHealth(ctx context.Context, port int, detached bool) (bool, int, error) {
	m := r.members
	if sh, ok := r.a.Health.(ScopedHealth); ok && !detached && m.Manager != spec.ManagerLaunchd && m.ControlGroup != "" {
		return sh.ProbeIn(ctx, port, m.ControlGroup)
	}
	return r.a.Health.Probe(ctx, port)
}

// adopt takes the unit's members as a step saw them, unless the run has
// already asked the manager (its answer is newer than the plan).
func (r *run) adopt(m *reconcile.Members) {
	if m != nil && !r.asked {
		r.members = *m
	}
}

// descends reports whether pid is root or one of its descendants, walking
// the live parent links (at most 64 generations).
func (r *run) descends(pid, root int) bool {
	if root <= 1 {
		return false
	}
	for cur, hops := pid, 0; cur > 1 && hops < 64; hops++ {
		if cur == root {
			return true
		}
		id, err := r.a.Procs.Identity(cur)
		if err != nil {
			return false
		}
		cur = id.PPid
	}
	return false
}

// waitModules waits, bounded by Timeouts.Modules, until every module of the
// step is done booting (up, unstartable or given up). Running out of time
// is not a failure: the hub is converged by ownership, and the verifying
// observation reports each module's state. Progress is reported whenever
// another module is done.
func (r *run) waitModules(ctx context.Context, st reconcile.Step) error {
	a := r.a
	if a.Modules == nil || len(st.Modules) == 0 {
		return nil
	}
	bound := cmp.Or(a.Timeouts.Modules, spec.DefaultTimeouts.Modules)
	deadline := a.Clock.Now().Add(bound)
	// pending is filtered in place from poll to poll (a module is written
	// back only at or before the index it is read from), so a poll of
	// hundreds of modules copies none of them anew.
	pending := slices.Clone(st.Modules)
	up, total := 0, len(st.Modules)
	for n := 0; ; n++ {
		statuses := a.Modules.Booted(ctx, st.Dir, st.Log, pending)
		still := pending[:0]
		for i, m := range pending {
			if i < len(statuses) && statuses[i].Done {
				if statuses[i].State == reconcile.ModuleUp {
					up++
				}
				continue
			}
			still = append(still, m)
		}
		if len(still) != len(pending) || n == 0 {
			a.emitProgress(st, fmt.Sprintf("%d of %d %s up%s", up, total, pluralWord(total, "module", "modules"), waitingFor(still)))
		}
		pending = still
		if len(pending) == 0 || !a.Clock.Now().Before(deadline) {
			return nil
		}
		if err := a.Clock.Sleep(ctx, max(a.pollSleep(n), 50*time.Millisecond)); err != nil {
			return err
		}
	}
}

func waitingFor(mods []spec.Module) string {
	if len(mods) == 0 {
		return ""
	}
	var names []string
	for i, m := range mods {
		if i == 3 {
			names = append(names, fmt.Sprintf("%d more", len(mods)-3))
			break
		}
		names = append(names, m.Short)
	}
	return "; waiting for " + strings.Join(names, ", ")
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

package actuate_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const home = "/home/op/.parachute"

var mods = []spec.Module{
	{Name: "parachute-vault", Short: "vault", Port: 1940},
	{Name: "parachute-scribe", Short: "scribe", Port: 1943},
}

func desired(w *actuatetest.World, m spec.Model) spec.Desired {
	return spec.Desired{
		Model: m, Home: w.Home, HubPort: w.HubPort, HubCommand: w.HubArgv,
		Manager: spec.ManagerAuto, Scope: spec.ScopeAuto, Timeouts: spec.Timeouts{Stop: 10 * time.Second, PortFree: 5 * time.Second, Healthy: 5 * time.Second},
		Manifest: spec.Manifest{Exists: true, Modules: w.Modules}, User: w.User,
	}
}

func newActuator(w *actuatetest.World, d spec.Desired) (*actuate.Actuator, *[]actuate.Event) {
	var events []actuate.Event
	return &actuate.Actuator{Procs: w, Files: w, Units: w, Ports: w, Health: w, Modules: w, Clock: w, Timeouts: d.Timeouts,
		Events: func(e actuate.Event) { events = append(events, e) }}, &events
}

// removeBox applies the plan that removes w's box (desired absent) and
// returns its events and how long it took on w's clock; a failed apply
// ends the test.
func removeBox(t *testing.T, w *actuatetest.World) ([]actuate.Event, time.Duration) {
	t.Helper()
	d := desired(w, spec.Absent)
	p := reconcile.Compute(d, w.Snapshot())
	a, events := newActuator(w, d)
	t0 := w.Now()
	if _, err := a.Apply(context.Background(), p); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return *events, w.Now().Sub(t0)
}

// detachedModule starts a module of ours with its pidfile.
func detachedModule(w *actuatetest.World, m spec.Module, p actuatetest.Proc) int {
	p.Argv = []string{"/home/op/.bun/bin/" + m.Name, "serve"}
	p.Ports = []int{m.Port}
	pid := w.Spawn(p)
	w.WriteFileNow(filepath.Join(home, m.Short, "run", m.Short+".pid"), fmt.Sprintf("%d\n", pid))
	return pid
}

func TestOneGracePeriodForAllStops(t *testing.T) {
	w := actuatetest.New(home, 1939, mods)
	stubborn := detachedModule(w, mods[0], actuatetest.Proc{IgnoreTERM: true})
	slow := detachedModule(w, mods[1], actuatetest.Proc{SlowExit: 3 * time.Second})
	events, took := removeBox(t, w)
	d := desired(w, spec.Absent)
	if _, ok := w.Proc(stubborn); ok {
		t.Fatal("a module ignoring SIGTERM survived")
	}
	if _, ok := w.Proc(slow); ok {
		t.Fatal("the slow module survived")
	}
	// One grace period (10 s) in total, not one per module, and the SIGKILL
	// only after it.
	if took < d.Timeouts.Stop || took > d.Timeouts.Stop+2*time.Second {
		t.Errorf("stops took %s, want about one grace period of %s", took, d.Timeouts.Stop)
	}
	var starts, dones int
	for _, e := range events {
		if e.Action == reconcile.Stop {
			switch e.Event {
			case "step-start":
				starts++
				if dones > 0 {
					t.Error("a stop started after another finished: stops are not sent at once")
				}
			case "step-done":
				dones++
			}
		}
	}
	if starts != 2 || dones != 2 {
		t.Errorf("stop events: %d starts, %d dones", starts, dones)
	}
}

// TestStopsAllStartBeforeTheFirstSignal: a batch of stops reports every
// step started while every target still runs, then signals them; when a
// signal fails, each stop after it is reported failed, not left started.
func TestStopsAllStartBeforeTheFirstSignal(t *testing.T) {
	w := actuatetest.New(home, 1939, mods)
	pids := []int{detachedModule(w, mods[0], actuatetest.Proc{}), detachedModule(w, mods[1], actuatetest.Proc{})}
	d := desired(w, spec.Absent)
	p := reconcile.Compute(d, w.Snapshot())
	a, events := newActuator(w, d)
	starts := 0
	a.Events = func(e actuate.Event) {
		*events = append(*events, e)
		if e.Action != reconcile.Stop || e.Event != "step-start" {
			return
		}
		starts++
		for _, pid := range pids {
			if _, ok := w.Proc(pid); !ok {
				t.Errorf("stop %d (%s) reported started after pid %d was signalled", e.N, e.Target, pid)
			}
		}
	}
	if _, err := a.Apply(context.Background(), p); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if starts < len(pids) {
		t.Fatalf("%d stops started, want at least %d", starts, len(pids))
	}
	// Checked before the first signal means held: a reuse of a pid cannot
	// redirect a signal sent through a hold.
	if w.Holds() < len(pids) {
		t.Errorf("%d processes held for %d stops", w.Holds(), len(pids))
	}

}

// A module's pid that names another process by the time of its signal,
// because the module exited and the kernel handed its pid out again, is
// never signalled: not when the pid is reused before the hold (the hold
// refuses the new process), not when it is reused after it (the hold sees
// its own process gone, and the pid's start time is not the plan's). The
// new process leads its own group under the old pgid, which only a
// reused pid can: a signal to the group would reach it too.
func TestStopNeverReachesAReusedPid(t *testing.T) {
	for _, when := range []string{"before the hold", "after the hold"} {
		t.Run(when, func(t *testing.T) {
			w := actuatetest.New(home, 1939, mods)
			victim := detachedModule(w, mods[0], actuatetest.Proc{})
			other := detachedModule(w, mods[1], actuatetest.Proc{})
			d := desired(w, spec.Absent)
			p := reconcile.Compute(d, w.Snapshot())
			if n := countAction(p, reconcile.Stop); n != 2 {
				t.Fatalf("plan has %d stops, want 2: %v", n, p.Steps)
			}
			stranger := actuatetest.Proc{Argv: []string{"/usr/bin/postgres", "-D", "/srv/db"}, UID: 1001, Foreign: true}
			reuse := func() { w.Reuse(victim, stranger) }
			a, _ := newActuator(w, d)
			if when == "before the hold" {
				reuse()
			} else {
				w.OnHold = func(pid int) {
					if pid == victim {
						w.OnHold = nil
						reuse()
					}
				}
			}
			if _, err := a.Apply(context.Background(), p); err != nil {
				t.Fatalf("apply: %v", err)
			}
			if v := w.Violations; len(v) > 0 {
				t.Fatalf("violations: %v", v)
			}
			if got, ok := w.Proc(victim); !ok || !got.Foreign {
				t.Errorf("pid %d, now someone else's, is gone: %+v", victim, got)
			}
			if _, ok := w.Proc(other); ok {
				t.Errorf("the other module (pid %d) still runs", other)
			}
		})
	}
}

func countAction(p reconcile.Plan, act reconcile.Action) int {
	n := 0
	for _, st := range p.Steps {
		if st.Action == act {
			n++
		}
	}
	return n
}

// Every stop reported started is reported done or failed, whichever way
// the batch ends: a signal refused first, or after another was sent; a
// process gone before its signal; no holds to be had.
func TestEveryStartedStopEnds(t *testing.T) {
	refused := errors.New("operation not permitted")
	for _, tc := range []struct {
		name    string
		prepare func(w *actuatetest.World, pids []int)
		failed  bool
	}{
		{"first signal refused", func(w *actuatetest.World, _ []int) { w.FailNext("signal", refused) }, true},
		{"second signal refused", func(w *actuatetest.World, _ []int) { w.FailAfter("signal", 1, refused) }, true},
		{"gone before its signal", func(w *actuatetest.World, pids []int) { w.Exit(pids[0]) }, false},
		{"no holds", func(w *actuatetest.World, _ []int) { w.FailNext("hold", errors.New("function not implemented")) }, false},
		// The first hold takes the last descriptor: it is let go, or the
		// second process could not even be looked at.
		{"descriptors run out", func(w *actuatetest.World, _ []int) { w.FDLimit = 1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := actuatetest.New(home, 1939, mods)
			pids := []int{detachedModule(w, mods[0], actuatetest.Proc{}), detachedModule(w, mods[1], actuatetest.Proc{})}
			d := desired(w, spec.Absent)
			p := reconcile.Compute(d, w.Snapshot())
			a, events := newActuator(w, d)
			tc.prepare(w, pids)
			_, err := a.Apply(context.Background(), p)
			if (err != nil) != tc.failed {
				t.Fatalf("apply: %v, want failure %v", err, tc.failed)
			}
			open, stops := map[int]string{}, 0
			for _, e := range *events {
				switch e.Event {
				case "step-start":
					open[e.N] = e.Target
					if e.Action == reconcile.Stop {
						stops++
					}
				case "step-done", "step-failed":
					if _, ok := open[e.N]; !ok {
						t.Errorf("step %d ended twice, or before it started: %+v", e.N, e)
					}
					delete(open, e.N)
				}
			}
			if stops != len(pids) || len(open) != 0 {
				t.Errorf("%d stops started; started and never ended: %v\nevents: %+v", stops, open, *events)
			}
			if !tc.failed {
				for _, pid := range pids {
					if _, ok := w.Proc(pid); ok {
						t.Errorf("pid %d survived the stop", pid)
					}
				}
			}
			if n := w.OpenHolds(); n != 0 {
				t.Errorf("%d holds left open", n)
			}
			if len(w.Violations) > 0 {
				t.Errorf("violations: %q", w.Violations)
			}
		})
	}
}

func TestReusedPidBetweenPlanAndApplyIsNotSignalled(t *testing.T) {
	w := actuatetest.New(home, 1939, mods[:1])
	pid := detachedModule(w, mods[0], actuatetest.Proc{})
	d := desired(w, spec.Absent)
	snap := w.Snapshot()
	p := reconcile.Compute(d, snap)
	// Between the plan and the signal the module exits and its pid names
	// another process: the start time differs.
	for i := range p.Steps {
		if p.Steps[i].Action == reconcile.Stop && p.Steps[i].Pid == pid {
			p.Steps[i].StartTicks++
		}
	}
	a, _ := newActuator(w, d)
	_, _ = a.Apply(context.Background(), p)
	if _, ok := w.Proc(pid); !ok {
		t.Fatal("a pid whose start time changed was signalled")
	}
}

func TestFailedStartKeepsUnitFile(t *testing.T) {
	w := actuatetest.New(home, 1939, mods)
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	w.FailNext("start", errors.New("job result failed"))
	a, events := newActuator(w, d)
	done, err := a.Apply(context.Background(), p)
	var se *actuate.StepError
	if !errors.As(err, &se) || se.Step.Action != reconcile.StartUnit {
		t.Fatalf("want a start-unit StepError, got %v", err)
	}
	if _, ok := w.File(w.UnitPath); !ok {
		t.Fatal("a failed start removed the unit file")
	}
	if len(done) == 0 || done[len(done)-1].Action != reconcile.WaitPortFree {
		t.Errorf("completed steps: %+v", done)
	}
	last := (*events)[len(*events)-1]
	if last.Event != "step-failed" || !strings.Contains(last.Error, "job result failed") {
		t.Errorf("last event %+v", last)
	}
	// The next run resumes: it starts the unit and converges.
	p2 := reconcile.Compute(d, w.Snapshot())
	if _, err := a.Apply(context.Background(), p2); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if !reconcile.Compute(d, w.Snapshot()).Converged {
		t.Fatal("not converged after the rerun")
	}
}

func TestPortWaitsShareOneDeadline(t *testing.T) {
	w := actuatetest.New(home, 1939, mods)
	// Two ports held by unreadable owners that never go away (a plan made
	// before they appeared): each wait-port-free would time out.
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	w.Spawn(actuatetest.Proc{Argv: []string{"x"}, Ports: []int{1940}, Unreadable: true})
	w.Spawn(actuatetest.Proc{Argv: []string{"y"}, Ports: []int{1943}, Unreadable: true})
	a, _ := newActuator(w, d)
	t0 := w.Now()
	_, err := a.Apply(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), ":1940") {
		t.Fatalf("want :1940 stuck, got %v", err)
	}
	if took := w.Now().Sub(t0); took > d.Timeouts.PortFree+time.Second {
		t.Errorf("port waits took %s, budget %s", took, d.Timeouts.PortFree)
	}
	if u := w.UnitState(w.UnitName); u.Active == "active" {
		t.Error("the unit was started although a port stayed held")
	}
}

func TestBlockedPlanIsRefused(t *testing.T) {
	w := actuatetest.New(home, 1939, mods)
	w.Spawn(actuatetest.Proc{Argv: []string{"python3", "-m", "http.server"}, Ports: []int{1940}})
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	if p.Outcome != reconcile.OutcomeBlocked {
		t.Fatalf("outcome %s", p.Outcome)
	}
	a, events := newActuator(w, d)
	if _, err := a.Apply(context.Background(), p); err == nil {
		t.Fatal("a blocked plan was applied")
	}
	if len(*events) != 0 {
		t.Errorf("events from a refused plan: %+v", *events)
	}
	if _, ok := w.File(w.UnitPath); ok {
		t.Error("a blocked plan wrote the unit")
	}
}

func TestHealthMustComeFromTheUnit(t *testing.T) {
	w := actuatetest.New(home, 1939, nil)
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	a, _ := newActuator(w, d)
	// Drop the wait-port-free steps and let a stray hub grab the port
	// right before the start: the unit then fails, and /health answered by
	// the stray must not count.
	var steps []reconcile.Step
	for _, st := range p.Steps {
		if st.Action != reconcile.WaitPortFree {
			steps = append(steps, st)
		}
	}
	p.Steps = steps
	w.Spawn(actuatetest.Proc{Argv: append([]string(nil), w.HubArgv...), Ports: []int{1939}})
	_, err := a.Apply(context.Background(), p)
	if err == nil {
		t.Fatal("apply succeeded although the unit's hub never answered")
	}
}

// bootOrder is a hub booting its modules over polls: a module is up from
// the poll its upAt names on.
type bootOrder struct {
	polls int
	upAt  map[string]int
}

func (b *bootOrder) Booted(_ context.Context, _, _ string, mods []spec.Module) []actuate.ModuleStatus {
	b.polls++
	out := make([]actuate.ModuleStatus, len(mods))
	for i, m := range mods {
		if b.polls >= b.upAt[m.Short] {
			out[i] = actuate.ModuleStatus{Done: true, State: reconcile.ModuleUp, Evidence: "up"}
		}
	}
	return out
}

// The wait for the modules narrows its list from poll to poll without
// touching the plan's: the step it reports applied names every module, in
// the plan's order.
func TestWaitModulesLeavesThePlanAlone(t *testing.T) {
	w := actuatetest.New(home, 1939, mods)
	d := desired(w, spec.Supervised)
	a, _ := newActuator(w, d)
	boot := &bootOrder{upAt: map[string]int{mods[0].Short: 1, mods[1].Short: 2}} // the first is up first: the wait moves the second to the front of its list
	a.Modules = boot
	st := reconcile.Step{N: 1, Action: reconcile.WaitModules, Modules: slices.Clone(mods), Dir: home, Log: "hub/logs/hub.log"}
	plan := reconcile.Plan{Desired: spec.Supervised, Outcome: reconcile.OutcomeChanges, Steps: []reconcile.Step{st}}
	applied, err := a.Apply(context.Background(), plan)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if boot.polls != 2 {
		t.Errorf("%d polls, want 2 (one per module coming up)", boot.polls)
	}
	if !reflect.DeepEqual(plan.Steps[0].Modules, mods) {
		t.Errorf("the plan's modules after the wait: %v, want %v", plan.Steps[0].Modules, mods)
	}
	if len(applied) != 1 || !reflect.DeepEqual(applied[0].Modules, mods) {
		t.Errorf("applied %+v, want the step with every module", applied)
	}
}

// Linger refused by logind is a person's to fix: that step is not retried
// and its error says so (NeedsPerson); any other failure to turn linger on
// is retried, and here passes on the second try.
func TestLingerRefusalIsNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		person bool
	}{
		{"refused", &actuate.NeedsPerson{Err: errors.New("enable linger for uid 1000: not permitted"), Fix: "as root: loginctl enable-linger op; then run again"}, true},
		{"a dropped connection", errors.New("connection reset by peer"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := actuatetest.New(home, 1939, mods)
			w.Linger = false
			d := desired(w, spec.Supervised)
			p := reconcile.Compute(d, w.Snapshot())
			if !slices.ContainsFunc(p.Steps, func(st reconcile.Step) bool { return st.Linger }) {
				t.Fatalf("no step turns linger on: %v", p.Steps)
			}
			a, _ := newActuator(w, d)
			w.FailNext("linger", tc.err)
			_, err := a.Apply(context.Background(), p)
			_, person := errors.AsType[*actuate.NeedsPerson](err)
			if person != tc.person || (err != nil) != tc.person {
				t.Errorf("apply: %v; want a NeedsPerson error %t", err, tc.person)
			}
			if w.Linger == tc.person {
				t.Errorf("linger on %t after the apply", w.Linger)
			}
		})
	}
}

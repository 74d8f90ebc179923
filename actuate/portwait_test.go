package actuate_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

// exitingSquatter is the world's clock, with one process that lets go of
// its port (exits) once the clock passes at.
type exitingSquatter struct {
	*actuatetest.World
	pid    int
	at     time.Time
	exited time.Time
}

func (c *exitingSquatter) Sleep(ctx context.Context, d time.Duration) error {
	err := c.World.Sleep(ctx, d)
	if c.exited.IsZero() && !c.World.Now().Before(c.at) {
		_ = c.World.Signal(c.pid, 0, syscall.SIGKILL)
		c.exited = c.World.Now()
	}
	return err
}

func manyModules(n int) []spec.Module {
	var out []spec.Module
	for i := range n {
		out = append(out, spec.Module{Name: fmt.Sprintf("parachute-m%03d", i), Short: fmt.Sprintf("m%03d", i), Port: 2000 + i})
	}
	return out
}

// The port waits of a plan are one wait: every poll is one look at the
// kernel for all ports still held, each step is done when its own port is
// free, and the unit is not started while any one port stays held.
func TestPortWaitsAreOneLookPerPoll(t *testing.T) {
	w := actuatetest.New(home, 1939, manyModules(40))
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	waits := 0
	for _, st := range p.Steps {
		if st.Action == reconcile.WaitPortFree {
			waits++
		}
	}
	if waits != 41 {
		t.Fatalf("%d wait-port-free steps, want 41 (the hub's and 40 modules')", waits)
	}
	// Appears after the plan: one port stays held for 300 ms.
	squatter := w.Spawn(actuatetest.Proc{Argv: []string{"x"}, Ports: []int{2017}, Unreadable: true})
	clock := &exitingSquatter{World: w, pid: squatter, at: w.Now().Add(300 * time.Millisecond)}
	a, _ := newActuator(w, d)
	a.Clock = clock
	var done []int
	var doneAt = map[int]time.Time{}
	var startUnitAt time.Time
	a.Events = func(e actuate.Event) {
		switch {
		case e.Action == reconcile.WaitPortFree && e.Event == "step-done":
			done = append(done, e.N)
			doneAt[e.N] = w.Now()
		case e.Action == reconcile.StartUnit && e.Event == "step-start":
			startUnitAt = w.Now()
		}
	}
	if _, err := a.Apply(context.Background(), p); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if clock.exited.IsZero() {
		t.Fatal("the squatter never exited: the wait did not wait")
	}
	if len(done) != 41 {
		t.Fatalf("%d port waits done, want 41", len(done))
	}
	var held int
	for _, st := range p.Steps {
		if st.Port == 2017 && st.Action == reconcile.WaitPortFree {
			held = st.N
		}
	}
	if at := doneAt[held]; at.Before(clock.exited) {
		t.Errorf(":2017 reported free at %s, before its holder exited at %s", at, clock.exited)
	}
	if done[len(done)-1] != held {
		t.Errorf("the held port's wait finished in position %v, want last", done)
	}
	if startUnitAt.Before(clock.exited) {
		t.Error("the unit was started while a port was held")
	}
	// 300 ms of polls at 5, 10, 20, 20, … ms: about 17 looks, whatever the
	// number of ports (one look per port per poll would be hundreds).
	if n := w.PortLooks(); n < 2 || n > 25 {
		t.Errorf("%d looks at the ports, want one per poll (about 17)", n)
	}
}

// A look that fails fails the first waiting step, names the ports, and
// nothing is started.
func TestPortWaitLookFails(t *testing.T) {
	w := actuatetest.New(home, 1939, mods)
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	w.FailNext("holders", fmt.Errorf("sock_diag: no such file"))
	a, _ := newActuator(w, d)
	_, err := a.Apply(context.Background(), p)
	se, ok := err.(*actuate.StepError)
	if !ok || se.Step.Action != reconcile.WaitPortFree {
		t.Fatalf("apply: %v, want the first wait-port-free to fail", err)
	}
	if u := w.UnitState(w.UnitName); u.Active == "active" {
		t.Error("the unit was started although the ports could not be read")
	}
}

// The stop waits take one look at the process groups per poll, whatever the
// number of groups they wait on: 40 modules whose leaders exit at once
// and whose workers (same group) take 300 ms.
func TestStopWaitsAreOneGroupLookPerPoll(t *testing.T) {
	ms := manyModules(40)
	w := actuatetest.New(home, 1939, ms)
	for _, m := range ms {
		leader := detachedModule(w, m, actuatetest.Proc{})
		w.Spawn(actuatetest.Proc{PPid: leader, Pgid: leader, Argv: []string{"/home/op/.bun/bin/" + m.Name, "worker"}, SlowExit: 300 * time.Millisecond})
	}
	if _, took := removeBox(t, w); took < 300*time.Millisecond {
		t.Fatalf("the stops took %s: the workers' 300 ms were not waited for", took)
	}
	// Polls come every 5, 10, 20, 20, … ms; the groups are looked at in
	// full from lingerGrace (100 ms) after their leaders exited: about 10
	// polls. A look per group per poll would be 40 times that.
	if n := w.GroupLooks(); n < 2 || n > 30 {
		t.Errorf("%d looks at the process groups, want one per poll (about 10)", n)
	}
}

// A stopped group whose members are only zombies (a parent that does not
// reap) is looked at in full once it has lingered lingerGrace, and found
// gone; a group that empties at once is never looked at in full.
func TestZombieGroupsAreLookedAtOnceTheyLinger(t *testing.T) {
	for _, tc := range []struct {
		name     string
		unreaped bool
		minTook  time.Duration
		maxTook  time.Duration
		looks    bool
	}{
		{"reaped", false, 0, 50 * time.Millisecond, false},
		{"zombies", true, 100 * time.Millisecond, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := actuatetest.New(home, 1939, mods[:1])
			leader := detachedModule(w, mods[0], actuatetest.Proc{Unreaped: tc.unreaped})
			w.Spawn(actuatetest.Proc{PPid: leader, Pgid: leader, Argv: []string{"/home/op/.bun/bin/" + mods[0].Name, "worker"}, Unreaped: tc.unreaped})
			events, _ := removeBox(t, w)
			took := time.Duration(-1)
			for _, e := range events {
				if e.Action == reconcile.Stop && e.Event == "step-done" {
					if d, err := time.ParseDuration(e.Elapsed); err == nil {
						took = d
					}
				}
			}
			if took < 0 {
				t.Fatalf("no stop was reported done: %+v", events)
			}
			if took < tc.minTook || took > tc.maxTook {
				t.Errorf("the stop took %s, want %s to %s", took, tc.minTook, tc.maxTook)
			}
			if got := w.GroupLooks() > 0; got != tc.looks {
				t.Errorf("looked at the process table in full: %v, want %v", got, tc.looks)
			}
		})
	}
}

// A port wait that times out fails every step still waiting, each with why
// its own port is held; none is left started with no end.
func TestPortWaitTimeoutFailsEveryWaitingStep(t *testing.T) {
	w := actuatetest.New(home, 1939, manyModules(3))
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	// Appears after the plan and never lets go: two ports stay held.
	w.Spawn(actuatetest.Proc{Argv: []string{"x"}, Ports: []int{2000, 2002}, Unreadable: true})
	a, events := newActuator(w, d)
	if _, err := a.Apply(context.Background(), p); err == nil {
		t.Fatal("apply succeeded with two ports held")
	}
	open := map[int]string{}
	failed := map[string]string{}
	for _, e := range *events {
		switch e.Event {
		case "step-start":
			open[e.N] = e.Target
		case "step-done", "step-failed":
			delete(open, e.N)
			if e.Event == "step-failed" {
				failed[e.Target] = e.Error
			}
		}
	}
	if len(open) != 0 {
		t.Errorf("steps started and never ended: %v", open)
	}
	for _, port := range []string{"2000", "2002"} {
		var why string
		for target, err := range failed {
			if strings.Contains(target, port) {
				why = err
			}
		}
		if !strings.Contains(why, port) {
			t.Errorf("the wait for port %s failed with %q, want its own port named (failures: %v)", port, why, failed)
		}
	}
}

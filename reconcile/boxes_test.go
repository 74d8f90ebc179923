package reconcile_test

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/state"
)

const home = "/home/op/.parachute"

// threeModules is the example box's services.json, as read.
var threeModules = []spec.Module{
	{Name: "parachute-vault", Short: "vault", Port: 1940},
	{Name: "parachute-scribe", Short: "scribe", Port: 1943},
	{Name: "parachute-surface", Short: "surface", Port: 1946},
}

func desired(w *actuatetest.World, m spec.Model) spec.Desired {
	return spec.Desired{
		Model: m, Home: w.Home, HubPort: w.HubPort, HubCommand: w.HubArgv,
		Manager: spec.ManagerAuto, Scope: spec.ScopeAuto, Timeouts: spec.DefaultTimeouts,
		Manifest: spec.Manifest{Path: filepath.Join(w.Home, "services.json"), Exists: true, Modules: w.Modules},
		User:     w.User,
	}
}

// detachedEra lays out a box as the old hub left it: the hub (not a group
// leader, in the CLI's group) with hub.pid and hub.port, each module leading
// its own group with its pidfile; scribe runs through a wrapper whose child
// holds the port.
func detachedEra(w *actuatetest.World) map[string]int {
	pids := map[string]int{}
	hub := w.Spawn(actuatetest.Proc{Argv: []string{"/home/op/.bun/bin/bun", "/opt/hub/src/hub-server.ts", "--port", "1939"}, Pgid: 99, Ports: []int{w.HubPort}})
	w.WriteFileNow(filepath.Join(w.Home, "hub/run/hub.pid"), fmt.Sprintf("%d\n", hub))
	w.WriteFileNow(filepath.Join(w.Home, "hub/run/hub.port"), fmt.Sprintf("%d\n", w.HubPort))
	pids["hub"] = hub
	for _, m := range w.Modules {
		argv := []string{"/home/op/.bun/bin/" + m.Name, "serve"}
		if m.Short == "scribe" {
			wrapper := w.Spawn(actuatetest.Proc{Argv: []string{"pnpm", "exec", "tsx", "/opt/" + m.Name + "/src/main.ts"}})
			child := w.Spawn(actuatetest.Proc{PPid: wrapper, Pgid: wrapper, Argv: []string{"node", "/opt/" + m.Name + "/src/main.ts"}, Ports: []int{m.Port}})
			pids[m.Short] = wrapper
			pids[m.Short+"-child"] = child
		} else {
			pids[m.Short] = w.Spawn(actuatetest.Proc{Argv: argv, Ports: []int{m.Port}})
		}
		w.WriteFileNow(filepath.Join(w.Home, m.Short, "run", m.Short+".pid"), fmt.Sprintf("%d\n", pids[m.Short]))
	}
	return pids
}

// actuator wires an Actuator to the world.
func actuator(w *actuatetest.World) *actuate.Actuator {
	return &actuate.Actuator{Procs: w, Files: w, Units: w, Ports: w, Health: w, Modules: w, Clock: w, Timeouts: spec.DefaultTimeouts}
}

// converge runs observe → plan → apply up to n times and returns the last plan.
func converge(w *actuatetest.World, d spec.Desired, n int) (reconcile.Plan, error) {
	var p reconcile.Plan
	for i := 0; i < n; i++ {
		snap := w.Snapshot()
		p = reconcile.Compute(d, snap)
		if p.Outcome == reconcile.OutcomeConverged || p.Outcome == reconcile.OutcomeBlocked {
			return p, nil
		}
		if _, err := actuator(w).Apply(context.Background(), p); err != nil {
			return p, err
		}
	}
	return reconcile.Compute(d, w.Snapshot()), nil
}

// crash is the panic value that stands for kill -9 of the reconciler.
type crash struct{}

// applyCrashing applies the plan and "kills" the run when the event for
// step n of kind ev is emitted (before the step acts, for step-start).
func applyCrashing(w *actuatetest.World, p reconcile.Plan, snap state.Snapshot, n int, ev string) (crashed bool) {
	a := actuator(w)
	a.Events = func(e actuate.Event) {
		if e.N == n && e.Event == ev {
			panic(crash{})
		}
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	_, _ = a.Apply(context.Background(), p)
	return false
}

var _ = time.Second

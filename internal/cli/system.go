package cli

import (
	"context"
	"fmt"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
	"github.com/parachute/reconcile/unitfile"
)

// system is the real machine as the commands use it: an observer and an
// actuator, wired for this platform.
type system struct {
	observer *observe.Observer
	actuator *actuate.Actuator
	close    []func()
}

// Close releases the connections the system opened.
func (s *system) Close() {
	for _, f := range s.close {
		f()
	}
}

// newSystem wires the observer and the actuator for d on this platform.
func newSystem(d spec.Desired, clock actuate.Clock, plat *platform) *system {
	env := observe.DefaultEnv()
	locate := observe.LocateUnit(goos)
	obs := &observe.Observer{Env: env, Units: plat.unitObserver(), Locate: func(d spec.Desired) observe.UnitQuery {
		q := locate(d)
		// An explicit manager that is not this platform's: name it, so the
		// snapshot says it cannot be asked here and the plan previews it.
		if q.Manager == "" && d.Manager != spec.ManagerAuto && d.Manager != "" {
			other := map[spec.Manager]string{spec.ManagerLaunchd: "darwin", spec.ManagerSystemd: "linux"}[d.Manager]
			if other != "" {
				q = observe.LocateUnit(other)(d)
				q.Path = "" // not this machine's file
			}
		}
		return q
	}}
	s := &system{observer: obs, close: []func(){plat.close}}
	s.actuator = &actuate.Actuator{
		Procs:    newProcesses(),
		Files:    actuate.OSFiles{},
		Clock:    clock,
		Timeouts: d.Timeouts,
		Ports:    portProbe{obs: obs},
		Health:   healthProbe{obs: obs},
		Modules:  moduleProbe{obs: obs},
	}
	if loc, err := unitfile.Locate(goos, d); err == nil && loc.Manager != "" {
		s.actuator.Units = plat.units(loc, d, unitfile.LogPath(d.Home))
	}
	return s
}

// portProbe is actuate.Ports over the observer's one-pass socket scan.
type portProbe struct{ obs *observe.Observer }

func (p portProbe) Held(ports []int) (map[int]actuate.Holders, error) {
	held, err := p.obs.HeldPorts(ports)
	if err != nil {
		return nil, err
	}
	out := make(map[int]actuate.Holders, len(held))
	for port, h := range held {
		out[port] = actuate.Holders{Pids: h.Pids, Unknown: h.Unknown}
	}
	return out, nil
}

// healthProbe is actuate.Health over the observer's /health check.
type healthProbe struct{ obs *observe.Observer }

func (h healthProbe) Probe(ctx context.Context, port int) (bool, int, error) {
	return h.obs.ProbeHealth(ctx, port)
}

func (h healthProbe) ProbeIn(ctx context.Context, port int, cgroup string) (bool, int, error) {
	return h.obs.ProbeHealthIn(ctx, port, cgroup)
}

var _ actuate.ScopedHealth = healthProbe{}

// moduleProbe is actuate.Modules over the observer's module checks.
type moduleProbe struct{ obs *observe.Observer }

func (m moduleProbe) Booted(ctx context.Context, dir, log string, mods []spec.Module) []actuate.ModuleStatus {
	boots := m.obs.ModulesBooted(ctx, dir, log, mods)
	out := make([]actuate.ModuleStatus, len(boots))
	for i, b := range boots {
		switch {
		case b.Up:
			out[i] = actuate.ModuleStatus{Done: true, State: reconcile.ModuleUp, Evidence: fmt.Sprintf("%s answered %d", mods[i].Health, b.Status)}
		case b.Unstartable != "":
			out[i] = actuate.ModuleStatus{Done: true, State: reconcile.ModuleUnstartable, Evidence: b.Unstartable}
		case b.GivenUp != "":
			out[i] = actuate.ModuleStatus{Done: true, State: reconcile.ModuleGivenUp, Evidence: b.GivenUp}
		}
	}
	return out
}

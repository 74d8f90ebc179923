package actuate_test

import (
	"context"
	"testing"

	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

// scopedWorld is the fake world whose health probe can be scoped to a
// control group; it records the groups it was asked about.
type scopedWorld struct {
	*actuatetest.World
	cgroups []string
}

func (s *scopedWorld) ProbeIn(ctx context.Context, port int, cgroup string) (bool, int, error) {
	s.cgroups = append(s.cgroups, cgroup)
	return s.World.Probe(ctx, port)
}

// wait-healthy on a systemd unit looks for the answer among the unit's
// control group when the probe can (observe.ProbeHealthIn), and the run
// still converges.
func TestWaitHealthyScopesTheProbeToTheUnitsGroup(t *testing.T) {
	w := actuatetest.New(home, 1939, mods)
	d := desired(w, spec.Supervised)
	p := reconcile.Compute(d, w.Snapshot())
	a, _ := newActuator(w, d)
	sw := &scopedWorld{World: w}
	a.Health = sw
	if _, err := a.Apply(context.Background(), p); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !reconcile.Compute(d, w.Snapshot()).Converged {
		t.Fatal("not converged")
	}
	if len(sw.cgroups) == 0 {
		t.Fatal("wait-healthy never asked the scoped probe")
	}
	own, err := w.Owner(context.Background(), w.UnitName)
	if err != nil {
		t.Fatal(err)
	}
	for _, cg := range sw.cgroups {
		if cg == "" || cg != own.ControlGroup {
			t.Errorf("scoped probe asked about %q, want the unit's group %q", cg, own.ControlGroup)
		}
	}
}

package actuate_test

// Each test here pins a defect of the actuator that was fixed: its comment
// names the docs/design.md rule the defect broke, and the test fails
// against the code it was found in.

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

// unreadableProcs is the world, except that one pid's identity cannot be
// read (EACCES under hidepid=1, EMFILE, …): unknown, not gone.
type unreadableProcs struct {
	*actuatetest.World
	pid int
}

func (u unreadableProcs) Identity(pid int) (actuate.Identity, error) {
	if pid == u.pid {
		return actuate.Identity{}, fmt.Errorf("read pid %d: %w", pid, syscall.EACCES)
	}
	return u.World.Identity(pid)
}

// TestRemovePidfileKeepsFileWhenProcessUnreadable: removePidfile
// (actuate.go:291-300) deletes the pidfile whenever Identity returns any
// error, not just ErrGone, so a live process whose /proc entry could not be
// read at that instant loses its pidfile. Rule 4: "Pidfiles are removed
// only for processes that are gone"; the package's own rule elsewhere is
// "unknown is never dead" (procs_unix.go, osGroups). Once the pidfile is
// gone, the next run can no longer prove the process is ours (its group and
// descendants lose their evidence). Fix: delete only on errors.Is(err,
// ErrGone) or a different start time; fail the step on any other error.
func TestRemovePidfileKeepsFileWhenProcessUnreadable(t *testing.T) {
	w := actuatetest.New(home, 1939, mods[:1])
	pid := detachedModule(w, mods[0], actuatetest.Proc{})
	path := filepath.Join(home, "vault", "run", "vault.pid")
	proc, _ := w.Proc(pid)
	plan := reconcile.Plan{Desired: spec.Absent, Outcome: reconcile.OutcomeChanges, Steps: []reconcile.Step{{
		N: 1, Action: reconcile.RemovePidfile, Target: "pidfile of vault", Path: path, Pid: pid, StartTicks: proc.Start,
		Reason: "pid is being stopped; its pidfile goes with it",
	}}}
	d := desired(w, spec.Absent)
	a, _ := newActuator(w, d)
	a.Procs = unreadableProcs{World: w, pid: pid}
	_, err := a.Apply(context.Background(), plan)
	if _, ok := w.File(path); !ok {
		t.Errorf("the pidfile of live pid %d was deleted although its identity could not be read (apply error: %v)", pid, err)
	}
}

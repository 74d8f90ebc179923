package actuate_test

// Adversarial review of the actuator. Every TestReview* test here fails
// against the code it was written against: each one pins a defect, names the
// docs/design.md rule it breaks, and passes once the defect is fixed.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate"
	"github.com/parachute/reconcile/actuate/actuatetest"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

const reviewChildEnv = "PARACHUTE_REVIEW_SIGNAL_CHILD"

// TestReviewSignalRefusesOwnProcessGroup: OSProcesses.Signal
// (procs_unix.go:13-18) refuses pid 0/1, itself and its parent only on the
// single-pid path; with pgid > 0 it checks nothing but pgid <= 1 and sends
// kill(-pgid). A stop step whose Pgid is the reconciler's own group (or its
// parent's) is therefore carried out, killing the run between signals and
// leaving the box half stopped; the planner's only guard is known to miss
// (reconcile/review_test.go, orphan group). Rule 2: "pid 1, our own pid
// and our parent are never signalled" needs a last line of defence where
// the signal is sent. Fix: refuse pgid == getpgrp() and pgid ==
// getpgid(getppid()) (and pid == self/parent on the group path too).
//
// The test re-runs itself as a child in a new session, so the only process
// in the child's group is the child: nothing else is ever signalled.
func TestReviewSignalRefusesOwnProcessGroup(t *testing.T) {
	if os.Getenv(reviewChildEnv) == "1" {
		err := actuate.OSProcesses{}.Signal(os.Getpid(), syscall.Getpgrp(), syscall.SIGTERM)
		if err != nil {
			os.Exit(0) // refused: the fix
		}
		time.Sleep(2 * time.Second) // SIGTERM is on its way
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReviewSignalRefusesOwnProcessGroup$", "-test.count=1")
	cmd.Env = append(os.Environ(), reviewChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("OSProcesses.Signal(self, getpgrp(), SIGTERM) killed the caller's own process group (child died of %s)", ws.Signal())
		}
	}
	if err != nil {
		t.Fatalf("child: %v", err)
	}
}

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

// TestReviewRemovePidfileKeepsFileWhenProcessUnreadable: removePidfile
// (actuate.go:291-300) deletes the pidfile whenever Identity returns any
// error, not just ErrGone, so a live process whose /proc entry could not be
// read at that instant loses its pidfile. Rule 4: "Pidfiles are removed
// only for processes that are gone"; the package's own rule elsewhere is
// "unknown is never dead" (procs_linux.go groupHasLive). Once the pidfile is
// gone, the next run can no longer prove the process is ours (its group and
// descendants lose their evidence). Fix: delete only on errors.Is(err,
// ErrGone) or a different start time; fail the step on any other error.
func TestReviewRemovePidfileKeepsFileWhenProcessUnreadable(t *testing.T) {
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
	_, err := a.Apply(context.Background(), plan, w.Snapshot())
	if _, ok := w.File(path); !ok {
		t.Errorf("the pidfile of live pid %d was deleted although its identity could not be read (apply error: %v)", pid, err)
	}
}

package actuate_test

// Each test here pins a defect of the actuator that was fixed: its comment
// names the docs/design.md rule the defect broke, and the test fails
// against the code it was found in.

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate"
)

const signalChildEnv = "PARACHUTE_TEST_SIGNAL_CHILD"

// TestSignalRefusesOwnProcessGroup: OSProcesses.Signal
// (procs_unix.go:13-18) refuses pid 0/1, itself and its parent only on the
// single-pid path; with pgid > 0 it checks nothing but pgid <= 1 and sends
// kill(-pgid). A stop step whose Pgid is the reconciler's own group (or its
// parent's) is therefore carried out, killing the run between signals and
// leaving the box half stopped; the planner's only guard is known to miss
// (reconcile/evidence_test.go, orphan group). Rule 2: "pid 1, our own pid
// and our parent are never signalled" needs a last line of defence where
// the signal is sent. Fix: refuse pgid == getpgrp() and pgid ==
// getpgid(getppid()) (and pid == self/parent on the group path too).
//
// The test re-runs itself as a child in a new session, so the only process
// in the child's group is the child: nothing else is ever signalled.
func TestSignalRefusesOwnProcessGroup(t *testing.T) {
	if os.Getenv(signalChildEnv) == "1" {
		err := actuate.OSProcesses{}.Signal(os.Getpid(), syscall.Getpgrp(), syscall.SIGTERM)
		if err != nil {
			os.Exit(0) // refused: the fix
		}
		time.Sleep(2 * time.Second) // SIGTERM is on its way
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSignalRefusesOwnProcessGroup$", "-test.count=1")
	cmd.Env = append(os.Environ(), signalChildEnv+"=1")
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

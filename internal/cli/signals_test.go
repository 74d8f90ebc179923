package cli

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// Armed, SIGTERM cancels the run's context instead of ending the process;
// stopped, nothing is caught any more and arming does nothing.
func TestSignalsCancelOnceArmed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &signals{cancel: cancel}
	s.arm()
	s.arm() // twice is once
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not cancel the armed run's context")
	}
	s.stop()

	late := &signals{cancel: func() { t.Error("a stopped run's signals cancelled it") }}
	late.stop()
	late.arm()
	if late.c != nil {
		t.Error("arm after stop caught the signals again")
	}
	var none *signals
	none.arm() // a run without signals (in-process tests) arms nothing
}

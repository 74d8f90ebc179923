package boxtest

import (
	"errors"
	"os/exec"
	"testing"
	"time"
)

// Started is a process a test started, reaped by a goroutine of its own:
// Err holds Wait's result once Done is closed.
type Started struct {
	Cmd  *exec.Cmd
	Done chan struct{}
	Err  error
}

// Start starts cmd and reaps it in the background.
func Start(t testing.TB, cmd *exec.Cmd) *Started {
	t.Helper()
	s := &Started{Cmd: cmd, Done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.Err = cmd.Wait(); close(s.Done) }()
	return s
}

// Pid is the process's pid.
func (s *Started) Pid() int { return s.Cmd.Process.Pid }

// Exited reports whether the process has exited and been reaped.
func (s *Started) Exited() bool {
	select {
	case <-s.Done:
		return true
	default:
		return false
	}
}

// ExitCode waits up to within for the exit and returns the exit code (-1
// for a signal); it fails the test if the process is still running then.
func (s *Started) ExitCode(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-s.Done:
	case <-time.After(within):
		t.Fatalf("pid %d (%s) did not exit within %s", s.Pid(), s.Cmd.Path, within)
	}
	var ee *exec.ExitError
	if errors.As(s.Err, &ee) {
		return ee.ExitCode()
	}
	if s.Err != nil {
		t.Fatal(s.Err)
	}
	return 0
}

package actuate_test

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate"
)

// A hold is on the process the plan saw, not on its pid: the wrong start
// time is refused, the held process is signalled through its pidfd, and it
// reads as exited once it is a zombie, before anyone reaps it.
func TestHoldOnRealProcesses(t *testing.T) {
	p := actuate.OSProcesses{}
	cmd := startSleep(t, nil)
	pid := cmd.Process.Pid
	id, err := p.Identity(pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Hold(pid, id.StartTicks+1); !errors.Is(err, actuate.ErrGone) {
		t.Fatalf("Hold with another start time: %v, want ErrGone", err)
	}
	h, err := p.Hold(pid, id.StartTicks)
	if err != nil {
		t.Fatalf("Hold(%d): %v", pid, err)
	}
	defer h.Release()
	if exited, err := h.Exited(); exited || err != nil {
		t.Fatalf("a running sleep: exited %v, %v", exited, err)
	}
	if err := h.Signal(0, syscall.SIGTERM); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for exited, _ := h.Exited(); !exited; exited, _ = h.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("the held sleep did not read as exited after SIGTERM")
		}
		time.Sleep(time.Millisecond)
	}
	// Exited, not reaped: the zombie is still there for its parent.
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("kill(%d, 0): %v (the test expects the zombie unreaped)", pid, err)
	}
	if _, err := cmd.Process.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Hold(pid, id.StartTicks); !errors.Is(err, actuate.ErrGone) {
		t.Fatalf("Hold of a reaped pid: %v, want ErrGone", err)
	}
}

// A held group leader's group is signalled as a whole: a member that is
// not the leader goes too.
func TestHoldSignalsTheGroupItLeads(t *testing.T) {
	p := actuate.OSProcesses{}
	leader := startSleep(t, &syscall.SysProcAttr{Setpgid: true})
	pgid := leader.Process.Pid
	member := startSleep(t, &syscall.SysProcAttr{Setpgid: true, Pgid: pgid})
	h, err := p.Hold(pgid, 0)
	if err != nil {
		t.Fatalf("Hold(%d): %v", pgid, err)
	}
	defer h.Release()
	if err := h.Signal(pgid, syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(group %d): %v", pgid, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range []int{member.Process.Pid, pgid} {
		for {
			if _, err := p.Identity(pid); errors.Is(err, actuate.ErrGone) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pid %d of group %d still runs after the group's SIGTERM", pid, pgid)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// The last line of defence holds through a hold too. Only the pid is tried
// here: a hold that signalled this process would end the test binary,
// loudly, and nothing else (the groups are checked without a signal in
// TestProtectedRefuses).
func TestHoldRefusesToSignalItself(t *testing.T) {
	p := actuate.OSProcesses{}
	h, err := p.Hold(os.Getpid(), 0)
	if err != nil {
		t.Fatalf("Hold(self): %v", err)
	}
	defer h.Release()
	if err := h.Signal(0, syscall.SIGTERM); err == nil {
		t.Fatal("a hold on this process signalled it")
	}
}

// A released hold holds nothing: it answers an error, signals nothing,
// and a second release leaves alone the descriptor its number names now.
func TestReleasedHold(t *testing.T) {
	p := actuate.OSProcesses{}
	cmd := startSleep(t, nil)
	h, err := p.Hold(cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
	// The next descriptor opened takes the lowest free number: the one the
	// hold had.
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h.Release()
	if _, err := f.Stat(); err != nil {
		t.Fatalf("a second release closed another file's descriptor: %v", err)
	}
	if _, err := h.Exited(); err == nil {
		t.Error("Exited on a released hold: no error")
	}
	if err := h.Signal(0, syscall.SIGTERM); err == nil {
		t.Error("Signal through a released hold: no error")
	}
	if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
		t.Errorf("the sleep is gone: %v", err)
	}
}

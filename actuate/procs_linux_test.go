package actuate_test

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/parachute/reconcile/actuate"
)

// A stopped module's group, as the stop waits see it on the real /proc: live
// while a member runs, gone once every member is a zombie, and the zombie
// leader itself is gone.
func TestGroupsOnRealProcessesIgnoreZombies(t *testing.T) {
	p := actuate.OSProcesses{}
	cmd := startSleep(t, &syscall.SysProcAttr{Setpgid: true})
	pid := cmd.Process.Pid
	look := p.Groups() // a look taken while the sleep runs
	if !look.Alive(pid) {
		t.Fatalf("group %d of a running sleep is not alive", pid)
	}
	if id, err := p.Identity(pid); err != nil || id.Pgid != pid || id.StartTicks == 0 {
		t.Fatalf("Identity(%d) = %+v, %v", pid, id, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Not reaped: a zombie, still answering kill(-pgid, 0).
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := p.Identity(pid)
		if errors.Is(err, actuate.ErrGone) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still has an identity after SIGKILL: %v", pid, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(-pid, 0); err != nil {
		t.Fatalf("kill(-%d, 0) of a zombie group: %v (the test needs the zombie)", pid, err)
	}
	// The first look read the table once, while the sleep ran: it still
	// says alive (a poll late, which only waits once more). A new look
	// walks again and sees no live member.
	if !look.Alive(pid) {
		t.Errorf("one look at the groups read the process table twice")
	}
	deadline = time.Now().Add(5 * time.Second)
	for p.Groups().Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("a group of one zombie (%d) reads as alive", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Wait()
	if p.Groups().Alive(pid) {
		t.Fatalf("reaped group %d reads as alive", pid)
	}
	if _, err := p.Identity(pid); !errors.Is(err, actuate.ErrGone) {
		t.Fatalf("Identity of reaped pid %d: %v, want ErrGone", pid, err)
	}
}

// startSleep starts `sleep 60` with attr, killed and reaped when the test
// ends (signalled by its pid only: a process this test started).
func startSleep(t *testing.T, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

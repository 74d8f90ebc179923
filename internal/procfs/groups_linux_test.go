package procfs

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// LiveGroups sees a live member of a group, not a zombie one, and nothing
// of a group that does not exist.
func TestLiveGroupsSeesLiveMembersNotZombies(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if live, err := LiveGroups("/proc"); err != nil || !live[pid] {
		t.Fatalf("group %d of a running sleep: live %v, err %v", pid, live, err)
	}
	// Killed and not yet reaped: a zombie, which is not alive.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		st, err := ParseStat(data)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never became a zombie (state %s)", pid, st.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if live, err := LiveGroups("/proc"); err != nil || live[pid] {
		t.Fatalf("group %d of a zombie: live %v, err %v", pid, live, err)
	}
	if live, err := LiveGroups("/proc"); err != nil || live[1<<30] || !live[syscall.Getpgrp()] {
		t.Fatalf("a group that cannot exist is live, or ours is not: err %v", err)
	}
	if _, err := LiveGroups(t.TempDir() + "/none"); err == nil {
		t.Fatal("a missing process table: no error")
	}
}

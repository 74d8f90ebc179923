package observe

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A /proc file is read to its end up to maxProcFile and refused past it:
// argv and the environment are the process's own to make large.
func TestProcReadIsBounded(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(small, bytes.Repeat([]byte("a"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), maxProcFile+1), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newProcFS(dir)
	if data, err := p.read(small); err != nil || len(data) != 1<<20 {
		t.Errorf("1 MiB file: %d bytes, %v", len(data), err)
	}
	if _, err := p.read(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file over the bound: %v, want refused", err)
	}
}

// details answers only for the process the walk saw: a Process whose start
// time is not that of the live process with its pid (the pid was reused)
// gets no uid, argv, exe, cwd or cgroup, never the newcomer's.
func TestDetailsRefuseAReusedPid(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Start returns once the child's exec has released the parent (vfork),
	// which can be before the kernel has set up the new argv: wait for it.
	var live Process
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		var err error
		if live, err = ReadProcess("/proc", cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		if len(live.Argv) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(live.Argv) != 2 || live.Argv[0] != "sleep" || live.Exe == "" || len(live.Unreadable) != 0 {
		t.Fatalf("the live process: argv %q exe %q unreadable %v", live.Argv, live.Exe, live.Unreadable)
	}
	stale := Process{Pid: live.Pid, StartTicks: live.StartTicks - 1, Argv: []string{}}
	h, ok := newProcFS("/proc").details(&stale, true)
	if len(stale.Argv) != 0 || stale.Exe != "" || stale.Cwd != "" || stale.UID != 0 || len(stale.Unreadable) != 5 {
		t.Errorf("an older process with the same pid was given the live one's details: %+v", stale)
	}
	// Its environment too: PARACHUTE_HOME is evidence of ownership.
	if ok {
		t.Errorf("an older process with the same pid was given the live one's environment (%q)", h)
	}
	again := Process{Pid: live.Pid, StartTicks: live.StartTicks, Argv: []string{}}
	if _, ok := newProcFS("/proc").details(&again, true); !ok || len(again.Argv) != 2 {
		t.Errorf("the live process's environment or argv was not read: %+v", again)
	}
}

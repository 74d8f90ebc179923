package observe

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// readStatAt's one-read shortcut must return the same bytes as reading the
// file to its end, for a real process.
func TestReadStatAtIsTheWholeFile(t *testing.T) {
	p := newProcFS("/proc")
	root, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	pid := strconv.Itoa(os.Getpid())
	got, err := p.readStatAt(root, pid)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// utime, stime and the like move between the two reads; the identity
	// fields must not, and the line must be whole.
	a, errA := ParseStat(got)
	b, errB := ParseStat(want)
	if errA != nil || errB != nil || a != b || !bytes.HasSuffix(got, []byte("\n")) {
		t.Fatalf("readStatAt %q (%v), os.ReadFile %q (%v)", got, errA, want, errB)
	}
	// A buffer too small for the line takes the reading-to-the-end path.
	p.buf = make([]byte, 8)
	got, err = p.readStatAt(root, pid)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := ParseStat(got); err != nil || c != b {
		t.Fatalf("with an 8-byte buffer: %q (%v), want %+v", got, err, b)
	}
	if _, err := p.readStatAt(root, "999999999"); err == nil {
		t.Fatal("readStatAt of a pid that cannot exist: no error")
	}
}

func TestFdNameIsTheDecimalName(t *testing.T) {
	p := newProcFS("/proc")
	for _, name := range []string{"0", "1", "9", "10", "255", "256", "1000", "00", "01", "x", "1x", ""} {
		if got := p.fdName([]byte(name)); got != name {
			t.Errorf("fdName(%q) = %q", name, got)
		}
	}
}

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
		st, err := newProcFS("/proc").stat(pid)
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

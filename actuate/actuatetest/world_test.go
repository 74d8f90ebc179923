package actuatetest

import (
	"syscall"
	"testing"
)

// Reuse gives the pid a new process with a new start time; a hold on the
// old process stays on the old one; and, as a kernel, the world never
// reuses the pid of a group that still has a live member.
func TestReuse(t *testing.T) {
	w := New("/home/op/.parachute", 1939, nil)
	pid := w.Spawn(Proc{Argv: []string{"module"}})
	old, _ := w.Proc(pid)
	h, err := w.Hold(pid, old.Start)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	w.Reuse(pid, Proc{Argv: []string{"stranger"}, Foreign: true})
	now, ok := w.Proc(pid)
	if !ok || now.Start == old.Start || now.Argv[0] != "stranger" {
		t.Fatalf("pid %d after Reuse: %+v (alive %v), old start %d", pid, now, ok, old.Start)
	}
	if exited, err := h.Exited(); err != nil || !exited {
		t.Errorf("the hold on the old process: exited %v, %v", exited, err)
	}
	if err := h.Signal(0, syscall.SIGTERM); err != syscall.ESRCH {
		t.Errorf("a signal through the old hold: %v, want ESRCH", err)
	}
	if len(w.Violations) > 0 {
		t.Errorf("violations: %v", w.Violations)
	}
	if _, err := w.Hold(pid, old.Start); err == nil {
		t.Error("a hold with the old start time took the new process")
	}
	// A signal that reaches a foreign process is a violation.
	if err := w.Signal(pid, 0, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if len(w.Violations) != 1 {
		t.Errorf("violations after signalling the stranger: %v", w.Violations)
	}

	leader := w.Spawn(Proc{Argv: []string{"wrapper"}})
	w.Spawn(Proc{Argv: []string{"child"}, PPid: leader, Pgid: leader})
	w.Exit(leader)
	defer func() {
		if recover() == nil {
			t.Error("Reuse gave out the pid of a group with a live member")
		}
	}()
	w.Reuse(leader, Proc{Argv: []string{"stranger"}})
}

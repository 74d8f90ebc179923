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

	// Pids not yet free: a group's id while a member lives, a zombie's,
	// and a group's id while only a zombie member is left.
	leader := w.Spawn(Proc{Argv: []string{"wrapper"}})
	w.Spawn(Proc{Argv: []string{"child"}, PPid: leader, Pgid: leader})
	w.Exit(leader)
	zombie := w.Spawn(Proc{Argv: []string{"unreaped"}, Unreaped: true})
	w.Exit(zombie)
	lead2 := w.Spawn(Proc{Argv: []string{"wrapper"}})
	kid := w.Spawn(Proc{Argv: []string{"child"}, PPid: lead2, Pgid: lead2, Unreaped: true})
	w.Exit(lead2)
	w.Exit(kid)
	for what, pid := range map[string]int{"a group with a live member": leader, "a zombie": zombie, "a group with a zombie member": lead2} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Reuse gave out the pid of %s", what)
				}
			}()
			w.Reuse(pid, Proc{Argv: []string{"stranger"}})
		}()
	}
}

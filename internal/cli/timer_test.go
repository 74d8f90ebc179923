package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parachute/reconcile/spec"
)

// The timer runs its program every minute as the box's owner: a program in
// a directory others can write is refused, one only the owner and root can
// change is accepted.
func TestTimerProgramMustBeTrusted(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "parachute-reconcile")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	owner := os.Getuid()
	if err := trustedTimerProgram(prog, owner); err != nil {
		t.Fatalf("a program in a private directory: %v", err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := trustedTimerProgram(prog, owner); err == nil {
		t.Error("a program in a directory anyone can write was accepted")
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(prog, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := trustedTimerProgram(prog, owner); err == nil {
		t.Error("a program anyone can write was accepted")
	}
}

// A box whose home belongs to someone else is not this user's to put on a
// timer (every run would be blocked), nor to reconcile.
func TestNotOwnersBox(t *testing.T) {
	d := spec.Desired{Home: "/home/alice/.parachute", User: spec.User{UID: 0}, Owner: spec.Owner{Known: true, UID: 1000}}
	if why := notOwnersBox(d); !strings.Contains(why, "belongs to uid 1000, not to this user (uid 0)") {
		t.Errorf("root on alice's box: %q", why)
	}
	d.User.UID = 1000
	if why := notOwnersBox(d); why != "" {
		t.Errorf("alice on her box: %q", why)
	}
	d.Owner = spec.Owner{}
	if why := notOwnersBox(d); why != "" {
		t.Errorf("a home not known yet: %q", why)
	}
}

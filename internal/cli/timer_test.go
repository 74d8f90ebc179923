package cli

import (
	"os"
	"path/filepath"
	"testing"
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

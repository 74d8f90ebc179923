package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// Installed as "parachute", the reconciler must not discover itself as the
// hub's CLI: discovery passes over this very binary to the next one on PATH.
func TestLookPathPassesOverThisBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ours, hubs := t.TempDir(), t.TempDir()
	if err := os.Symlink(self, filepath.Join(ours, "parachute")); err != nil {
		t.Fatal(err)
	}
	hub := filepath.Join(hubs, "parachute")
	if err := os.WriteFile(hub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", ours+string(os.PathListSeparator)+hubs)
	got, err := lookPathNotSelf("parachute")
	if err != nil || got != hub {
		t.Fatalf("lookPathNotSelf = %q, %v; want %q", got, err, hub)
	}
	// Only this binary on PATH: not found, rather than itself.
	t.Setenv("PATH", ours)
	if got, err := lookPathNotSelf("parachute"); err == nil {
		t.Fatalf("found %q although the only parachute on PATH is this binary", got)
	}
}

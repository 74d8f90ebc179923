package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Under either name the binary finds the hub's parachute and passes over
// itself, whether PATH reaches it as parachute or as parachute-reconcile.
func TestLookPathPassesOverSelfUnderEitherName(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mine, hubs := t.TempDir(), t.TempDir()
	for _, n := range []string{HubName, Name} {
		if err := os.Symlink(self, filepath.Join(mine, n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", mine)
	if p, err := lookPathNotSelf(HubName); err == nil {
		t.Fatalf("found %s: this binary, under the name parachute", p)
	}
	hub := filepath.Join(hubs, HubName)
	if err := os.WriteFile(hub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", mine+string(os.PathListSeparator)+hubs)
	if p, err := lookPathNotSelf(HubName); err != nil || p != hub {
		t.Fatalf("lookPathNotSelf(parachute) = %q, %v; want the hub's %s", p, err, hub)
	}
}

func TestProgName(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/parachute-reconcile": Name,
		"parachute":                    HubName,
		`C:\bin\parachute.exe`:         HubName,
		"./dist/parachute-reconcile":   Name,
	} {
		if got := ProgName(filepath.FromSlash(strings.ReplaceAll(in, `C:\bin\`, "/bin/"))); got != want {
			t.Errorf("ProgName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Under the hub's name the table is the table itself: today's help, byte
// for byte; the bare form is a usage error there.
func TestHubNameKeepsTheGrammar(t *testing.T) {
	if table(HubName) != root {
		t.Fatal("table(parachute) is a copy")
	}
	var out, errb bytes.Buffer
	if code := MainAs(context.Background(), HubName, []string{"--plan"}, &out, &errb); code != ExitUsage {
		t.Fatalf("parachute --plan: exit %d, want 64", code)
	}
	if !strings.Contains(errb.String(), `unknown command "--plan"`) {
		t.Fatalf("stderr %q", errb.String())
	}
}

func TestRenamedUsageLinesStayAligned(t *testing.T) {
	for _, prog := range []string{Name, "pr"} {
		c := table(prog).lookup("reconcile")
		lines := strings.Split(c.UsageLine, "\n")
		col := strings.Index(lines[0], "[")
		for _, l := range lines[1:] {
			if got := len(l) - len(strings.TrimLeft(l, " ")); got != col {
				t.Errorf("%s: continuation indented %d, want %d:\n%s", prog, got, col, c.UsageLine)
			}
		}
	}
}
